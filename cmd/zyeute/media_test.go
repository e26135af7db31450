package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/internal/store"
)

// serve hands MEDIA_ROOT and MEDIA_OUTPUT_DIR to the video enhancer: a
// source_path is looked up under MEDIA_ROOT (found, and refused as not a
// video after one attempt) and the work happens under MEDIA_OUTPUT_DIR.
// Degraded mode (no Redis), so the job runs synchronously.
func TestServeVideoEnhancementUsesMediaConfig(t *testing.T) {
	t.Parallel()
	root, out := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "notes.mp4"), []byte("not a video\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, map[string]string{"MEDIA_ROOT": root, "MEDIA_OUTPUT_DIR": out})
	status, body := s.call(t, "POST", "/api/jobs/video-enhancement", `{"data":{"video_id":"v1","source_path":"notes.mp4","preset":"mobile"}}`, "")
	if status != 500 || !strings.Contains(body, "after 1 attempt") || !strings.Contains(body, "not a video") {
		t.Fatalf("POST: %d %s; want a failure after 1 attempt saying the source is not a video", status, body)
	}
	if _, err := os.Stat(filepath.Join(out, "v1")); err != nil {
		t.Errorf("MEDIA_OUTPUT_DIR not used: %v", err)
	}
	status, body = s.call(t, "POST", "/api/jobs/video-enhancement", `{"data":{"video_id":"v2","source_path":"../notes.mp4"}}`, "")
	if status != 500 || !strings.Contains(body, "escapes the media root") {
		t.Fatalf("POST ../: %d %s", status, body)
	}
}

// TestServeVideoEnhancementRecordsRenditions: with no Redis a real clip is
// enhanced inline by ffmpeg and its renditions are recorded on the video's
// row of the embedded database (the store is the RenditionRecorder).
func TestServeVideoEnhancementRecordsRenditions(t *testing.T) {
	t.Parallel()
	root, out, data := t.TempDir(), t.TempDir(), t.TempDir()
	clip := filepath.Join(root, "clip.mp4")
	if b, err := exec.Command("ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=160x120:rate=15:duration=1",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", clip).CombinedOutput(); err != nil {
		t.Fatalf("making the clip (ffmpeg: scripts/ensure-test-deps.sh installs it): %v\n%s", err, b)
	}
	s := startServe(t, map[string]string{"MEDIA_ROOT": root, "MEDIA_OUTPUT_DIR": out, "DATA_DIR": data})
	status, body := s.call(t, "POST", "/api/jobs/video-enhancement", `{"data":{"video_id":"v9","source_path":"clip.mp4","preset":"mobile"}}`, "")
	if status != 200 || !strings.Contains(body, `"mode":"sync"`) || !strings.Contains(body, `"renditions"`) {
		t.Fatalf("POST: %d %s", status, body)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := store.Open(ctx, store.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, err := st.Renditions(ctx, "v9")
	if err != nil || !strings.Contains(r, `"width"`) || !strings.Contains(r, ".mp4") {
		t.Fatalf("renditions on the video row: %q, %v", r, err)
	}
}
