package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestMediaConfig(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Media{Root: "data/media", OutputDir: "data/renditions", FFmpeg: "ffmpeg", FFprobe: "ffprobe",
		MaxSourceBytes: 2 << 30, DownloadTimeout: 10 * time.Minute}
	if c.Media != want {
		t.Errorf("defaults = %+v", c.Media)
	}
	c, err = Load(env(map[string]string{"MEDIA_ROOT": "/srv/uploads", "MEDIA_OUTPUT_DIR": "/srv/out",
		"FFMPEG_PATH": "/opt/ff/bin/ffmpeg", "MEDIA_MAX_SOURCE_BYTES": "1048576", "MEDIA_DOWNLOAD_TIMEOUT": "2m"}))
	if err != nil {
		t.Fatal(err)
	}
	want = Media{Root: "/srv/uploads", OutputDir: "/srv/out", FFmpeg: "/opt/ff/bin/ffmpeg", FFprobe: "/opt/ff/bin/ffprobe",
		MaxSourceBytes: 1 << 20, DownloadTimeout: 2 * time.Minute}
	if c.Media != want {
		t.Errorf("set = %+v", c.Media)
	}
	for _, tc := range []struct{ vars map[string]string }{
		{map[string]string{"MEDIA_ROOT": "/srv/media", "MEDIA_OUTPUT_DIR": "/srv/media/out"}},
		{map[string]string{"MEDIA_ROOT": "/srv/media", "MEDIA_OUTPUT_DIR": "/srv/media/"}},
		{map[string]string{"MEDIA_MAX_SOURCE_BYTES": "10"}},
		{map[string]string{"MEDIA_DOWNLOAD_TIMEOUT": "forever"}},
		{map[string]string{"FFMPEG_PATH": "/bin/ff\nmpeg"}},
	} {
		_, err := Load(env(tc.vars))
		var name string
		for k := range tc.vars {
			name = k
		}
		if len(tc.vars) == 2 {
			name = "MEDIA_OUTPUT_DIR"
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), name) {
			t.Errorf("%v: err = %v, want an error naming %s", tc.vars, err, name)
		}
	}
}
