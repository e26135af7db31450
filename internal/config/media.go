package config

import (
	"path/filepath"
	"strings"
	"time"
)

// Media defaults.
const (
	DefaultMediaRoot       = "data/media"
	DefaultMediaOutputDir  = "data/renditions"
	DefaultMaxSourceBytes  = 2 << 30
	DefaultDownloadTimeout = 10 * time.Minute
)

// Media configures the video-enhancement handler (ffmpeg).
type Media struct {
	// Root is the directory a job's source_path must resolve under,
	// symbolic links included (MEDIA_ROOT). Defaults to data/media.
	Root string
	// OutputDir receives <video_id>/<rendition>.mp4 and poster.jpg
	// (MEDIA_OUTPUT_DIR). Defaults to data/renditions. Not the media root.
	OutputDir string
	// FFmpeg and FFprobe are the programs (FFMPEG_PATH, FFPROBE_PATH): a
	// path, or a name looked up in PATH. Default ffmpeg, and ffprobe next
	// to FFMPEG_PATH when that is a path.
	FFmpeg, FFprobe string
	// MaxSourceBytes bounds a source_url download
	// (MEDIA_MAX_SOURCE_BYTES, 1 KiB–64 GiB). Defaults to 2 GiB.
	MaxSourceBytes int64
	// DownloadTimeout bounds a source_url download
	// (MEDIA_DOWNLOAD_TIMEOUT, 1s–6h). Defaults to 10m.
	DownloadTimeout time.Duration
}

func (l *loader) media() Media {
	m := Media{
		Root:      l.path("MEDIA_ROOT", DefaultMediaRoot),
		OutputDir: l.path("MEDIA_OUTPUT_DIR", DefaultMediaOutputDir),
		FFmpeg:    l.path("FFMPEG_PATH", "ffmpeg"),
	}
	probe := "ffprobe"
	if strings.ContainsRune(m.FFmpeg, filepath.Separator) {
		probe = filepath.Join(filepath.Dir(m.FFmpeg), "ffprobe")
	}
	m.FFprobe = l.path("FFPROBE_PATH", probe)
	m.MaxSourceBytes = int64(l.integer("MEDIA_MAX_SOURCE_BYTES", DefaultMaxSourceBytes, 1<<10, 64<<30))
	m.DownloadTimeout = l.durationIn("MEDIA_DOWNLOAD_TIMEOUT", DefaultDownloadTimeout, time.Second, 6*time.Hour)
	root, err1 := filepath.Abs(m.Root)
	out, err2 := filepath.Abs(m.OutputDir)
	if err1 == nil && err2 == nil {
		if rel, err := filepath.Rel(root, out); err == nil && (rel == "." || !strings.HasPrefix(rel, "..")) {
			l.fail("MEDIA_OUTPUT_DIR", "must not be the media root or inside it (MEDIA_ROOT %s): outputs would become sources", shortQuote(m.Root))
		}
	}
	return m
}

// path reads a file path: no NUL or line breaks.
func (l *loader) path(name, def string) string {
	v := l.str(name, def)
	if strings.ContainsAny(v, "\x00\r\n") {
		l.fail(name, "must be a file path without NUL or line breaks")
		return def
	}
	return v
}
