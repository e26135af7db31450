package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
