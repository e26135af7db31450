package video

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// needFFmpeg fails (never skips) when ffmpeg is missing.
func needFFmpeg(t testing.TB) {
	t.Helper()
	for _, p := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s is missing: run scripts/ensure-test-deps.sh (as root) or `sudo apt-get install -y ffmpeg`", p)
		}
	}
}

// makeClip writes a small H.264/AAC test clip (testsrc2 + a quiet sine).
func makeClip(t testing.TB, path string, w, h int, seconds, volume float64) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	d := strconv.FormatFloat(seconds, 'f', 2, 64)
	out, err := exec.Command("ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=25:duration=%s", w, h, d),
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration="+d,
		"-af", fmt.Sprintf("volume=%g", volume), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-shortest", path).CombinedOutput()
	if err != nil {
		t.Fatalf("making the test clip: %v\n%s", err, out)
	}
}

type streamInfo struct {
	Width, Height         int
	VideoCodec, AudioCode string
	Duration              float64
}

func ffprobeFile(t *testing.T, path string) streamInfo {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var doc ffprobeDoc
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	var s streamInfo
	for _, st := range doc.Streams {
		switch st.CodecType {
		case "video":
			s.Width, s.Height, s.VideoCodec = st.Width, st.Height, st.CodecName
		case "audio":
			s.AudioCode = st.CodecName
		}
	}
	s.Duration, _ = strconv.ParseFloat(doc.Format.Duration, 64)
	return s
}

// measureLUFS is the integrated loudness of the file's audio as ffmpeg's
// loudnorm analysis measures it.
func measureLUFS(t *testing.T, path string) float64 {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-i", path, "-vn",
		"-af", "loudnorm=print_format=json", "-f", "null", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("measuring loudness: %v\n%s", err, out)
	}
	m, err := parseLoudnorm(string(out))
	if err != nil {
		t.Fatal(err)
	}
	return m.I
}

type recorder struct {
	mu    sync.Mutex
	calls map[string]*Result
}

func (r *recorder) RecordRenditions(_ context.Context, id string, res *Result) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls == nil {
		r.calls = map[string]*Result{}
	}
	r.calls[id] = res
	return nil
}

func newTestEnhancer(t *testing.T, mut func(*Config)) (*Enhancer, string, string) {
	t.Helper()
	root, out := t.TempDir(), t.TempDir()
	cfg := Config{MediaRoot: root, OutputDir: out}
	if mut != nil {
		mut(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e, root, out
}

func TestEnhanceClip(t *testing.T) {
	needFFmpeg(t)
	rec := &recorder{}
	e, root, out := newTestEnhancer(t, func(c *Config) { c.Recorder = rec })
	const clipSeconds = 2.5
	makeClip(t, filepath.Join(root, "clips", "a.mp4"), 320, 240, clipSeconds, 0.05)
	srcLUFS := measureLUFS(t, filepath.Join(root, "clips", "a.mp4"))

	var progress []int
	start := time.Now()
	res, err := e.Enhance(context.Background(), Request{VideoID: "v1", Path: "clips/a.mp4", Preset: "mobile",
		Progress: func(p int) { progress = append(progress, p) }})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("processing: %.2fs wall, %.2fs CPU for a %.1fs 320x240 clip = %.2f s wall, %.2f s CPU per clip second (mobile preset, one 240p rendition)",
		took.Seconds(), res.CPUSeconds, clipSeconds, took.Seconds()/clipSeconds, res.CPUSeconds/clipSeconds)
	if !(res.CPUSeconds > 0) {
		t.Errorf("cpu_seconds = %v", res.CPUSeconds)
	}

	// 240p only: 360p and 480p would be upscales.
	if len(res.Renditions) != 1 || res.Renditions[0].Name != "240p" {
		t.Fatalf("renditions = %+v", res.Renditions)
	}
	if strings.Join(res.Skipped, ",") != "360p,480p" {
		t.Errorf("skipped = %v", res.Skipped)
	}
	r := res.Renditions[0]
	got := ffprobeFile(t, filepath.Join(out, r.Path))
	if got.Width != 320 || got.Height != 240 || r.Width != 320 || r.Height != 240 {
		t.Errorf("size = %dx%d (result %dx%d), want 320x240", got.Width, got.Height, r.Width, r.Height)
	}
	if got.VideoCodec != "h264" || got.AudioCode != "aac" || r.VideoCodec != "h264" || r.AudioCodec != "aac" {
		t.Errorf("codecs = %s/%s (result %s/%s)", got.VideoCodec, got.AudioCode, r.VideoCodec, r.AudioCodec)
	}
	if math.Abs(got.Duration-clipSeconds) > 0.3 {
		t.Errorf("duration = %.3fs, want %.1f ± 0.3", got.Duration, clipSeconds)
	}
	lufs := measureLUFS(t, filepath.Join(out, r.Path))
	t.Logf("loudness: source %.1f LUFS, rendition %.1f LUFS (target %.0f)", srcLUFS, lufs, TargetLUFS)
	if math.Abs(lufs-TargetLUFS) > 1.5 {
		t.Errorf("rendition loudness = %.1f LUFS, want %.0f ± 1.5", lufs, TargetLUFS)
	}
	if srcLUFS > TargetLUFS-10 {
		t.Errorf("the test source is already at %.1f LUFS: the test proves nothing", srcLUFS)
	}
	if res.Source.LoudnessLUFS == nil || math.Abs(*res.Source.LoudnessLUFS-srcLUFS) > 0.5 {
		t.Errorf("result source loudness = %v, measured %.1f", res.Source.LoudnessLUFS, srcLUFS)
	}
	if res.Source.Width != 320 || res.Source.Height != 240 || !res.Source.HasAudio {
		t.Errorf("source = %+v", res.Source)
	}

	jpg, err := os.ReadFile(filepath.Join(out, res.Poster))
	if err != nil || !bytes.HasPrefix(jpg, []byte{0xFF, 0xD8, 0xFF}) {
		t.Fatalf("poster %s: %v (%d bytes)", res.Poster, err, len(jpg))
	}
	if p := ffprobeFile(t, filepath.Join(out, res.Poster)); p.Width != 320 || p.Height != 240 {
		t.Errorf("poster size = %dx%d", p.Width, p.Height)
	}

	if len(progress) < 3 || progress[len(progress)-1] != 100 {
		t.Errorf("progress = %v, want several steps ending at 100", progress)
	}
	for i := 1; i < len(progress); i++ {
		if progress[i] <= progress[i-1] {
			t.Errorf("progress went back: %v", progress)
		}
	}
	if rec.calls["v1"] != res {
		t.Errorf("recorder got %v", rec.calls)
	}
	// Nothing but the outputs is left in the video's directory.
	names := dirNames(t, filepath.Join(out, "v1"))
	if strings.Join(names, ",") != "240p.mp4,poster.jpg" {
		t.Errorf("output directory holds %v", names)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// procsMentioning lists live processes whose command line contains s.
func procsMentioning(t *testing.T, s string) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cl, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cl, []byte(s)) {
			continue
		}
		st, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if f := strings.Fields(string(st[bytes.LastIndexByte(st, ')')+1:])); len(f) > 0 && f[0] == "Z" {
			continue // dead, waiting to be reaped
		}
		found = append(found, e.Name()+": "+strings.ReplaceAll(string(cl), "\x00", " "))
	}
	return found
}

func TestEnhanceCancelKillsFFmpegGroup(t *testing.T) {
	needFFmpeg(t)
	real, _ := exec.LookPath("ffmpeg")
	bin := t.TempDir()
	marker := filepath.Join(bin, "child-marker")
	// The wrapper reads the input at its native rate (-re: a 2.5 s clip
	// takes 2.5 s) and leaves a child in the process group, as a shell
	// pipeline would: cancelling must kill both.
	wrapper := filepath.Join(bin, "ffmpeg")
	script := fmt.Sprintf("#!/bin/sh\nsh -c 'sleep 300; : %s' &\nexec %s -re \"$@\"\n", marker, real)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	e, root, out := newTestEnhancer(t, func(c *Config) { c.FFmpeg = wrapper })
	makeClip(t, filepath.Join(root, "a.mp4"), 320, 240, 2.5, 0.05)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var running []string
	done := make(chan error, 1)
	go func() {
		_, err := e.Enhance(ctx, Request{VideoID: "v1", Path: "a.mp4", Preset: "mobile", Progress: func(p int) {
			if p > 10 && p < 90 && running == nil {
				running = procsMentioning(t, out) // the transcoding ffmpeg writes under out
				running = append(running, procsMentioning(t, marker)...)
				cancel()
			}
		}})
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("Enhance still running 2 minutes on (cancelled: %v): ffmpeg's group was not killed; running %v", ctx.Err() != nil, procsMentioning(t, marker))
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if len(running) < 2 {
		t.Fatalf("cancelled before ffmpeg and its child were seen running: %v", running)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := append(procsMentioning(t, out), procsMentioning(t, marker)...)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes left after cancellation: %v", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if names := dirNames(t, filepath.Join(out, "v1")); len(names) != 0 {
		t.Errorf("partial outputs left: %v", names)
	}
}

func TestEnhanceNotVideo(t *testing.T) {
	needFFmpeg(t)
	e, root, out := newTestEnhancer(t, nil)
	if err := os.WriteFile(filepath.Join(root, "notes.mp4"), []byte("these are not the frames you are looking for\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := e.Enhance(context.Background(), Request{VideoID: "v1", Path: "notes.mp4", Preset: "mobile"})
	if !errors.Is(err, ErrNotVideo) || !Permanent(err) || !strings.Contains(err.Error(), "ffprobe cannot read the source: Invalid data") {
		t.Fatalf("err = %v, want a permanent ErrNotVideo saying ffprobe found invalid data", err)
	}
	if strings.Contains(err.Error(), "/dev/fd") {
		t.Errorf("error names the descriptor: %v", err)
	}
	// An audio-only file is not a video either.
	audio := filepath.Join(root, "song.m4a")
	if b, err := exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", audio).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	_, err = e.Enhance(context.Background(), Request{VideoID: "v2", Path: "song.m4a", Preset: "mobile"})
	if !errors.Is(err, ErrNotVideo) || !strings.Contains(err.Error(), "no video stream") {
		t.Fatalf("audio only: err = %v", err)
	}
	// A missing file is unreadable, also for good.
	_, err = e.Enhance(context.Background(), Request{VideoID: "v3", Path: "gone.mp4", Preset: "mobile"})
	if !errors.Is(err, ErrUnreadable) || !Permanent(err) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing: err = %v", err)
	}
	for _, id := range []string{"v1", "v2", "v3"} {
		if names := dirNames(t, filepath.Join(out, id)); len(names) != 0 {
			t.Errorf("%s: left %v", id, names)
		}
	}
}

func TestEnhanceFFmpegMissing(t *testing.T) {
	e, root, _ := newTestEnhancer(t, func(c *Config) { c.FFmpeg = "/nonexistent/ffmpeg" })
	if err := os.WriteFile(filepath.Join(root, "a.mp4"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := e.Enhance(context.Background(), Request{VideoID: "v1", Path: "a.mp4", Preset: "mobile"})
	if !errors.Is(err, ErrFFmpegMissing) || !Permanent(err) || !strings.Contains(err.Error(), "apt-get install -y ffmpeg") ||
		!strings.Contains(err.Error(), "FFMPEG_PATH") {
		t.Fatalf("err = %v", err)
	}
}

func TestEnhanceRefusesPathsOutsideMediaRoot(t *testing.T) {
	e, root, out := newTestEnhancer(t, nil)
	outside := filepath.Join(t.TempDir(), "secret.mp4")
	if err := os.WriteFile(outside, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "link.mp4")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Dir(outside), filepath.Join(root, "dir")); err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(root, outside)
	for _, src := range []string{"../x.mp4", rel, outside, "/etc/passwd", "link.mp4", "dir/secret.mp4", "a/../../x.mp4"} {
		_, err := e.Enhance(context.Background(), Request{VideoID: "v1", Path: src, Preset: "mobile"})
		if !errors.Is(err, ErrBadRequest) || !Permanent(err) || !strings.Contains(err.Error(), "escapes the media root") {
			t.Errorf("%s: err = %v, want a refusal", src, err)
		}
	}
	for _, id := range []string{"..", ".", "a/b", ""} {
		_, err := e.Enhance(context.Background(), Request{VideoID: id, Path: "a.mp4", Preset: "mobile"})
		if !errors.Is(err, ErrBadRequest) {
			t.Errorf("video id %q: err = %v", id, err)
		}
	}
	_, err := e.Enhance(context.Background(), Request{VideoID: "v1", URL: "s3://bucket/a.mp4", Preset: "mobile"})
	if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), `"s3" is not supported`) {
		t.Errorf("s3: err = %v", err)
	}
	if names := dirNames(t, out); len(names) > 1 || (len(names) == 1 && len(dirNames(t, filepath.Join(out, names[0]))) > 0) {
		t.Errorf("output directory holds %v", names)
	}
}

func TestEnhanceURLSource(t *testing.T) {
	needFFmpeg(t)
	clip := filepath.Join(t.TempDir(), "a.mp4")
	makeClip(t, clip, 320, 240, 2, 0.05)
	body, err := os.ReadFile(clip)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/a.mp4":
			_, _ = w.Write(body)
		case "/busy":
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	e, _, out := newTestEnhancer(t, func(c *Config) { c.HTTPClient = srv.Client(); c.MaxSourceBytes = int64(len(body)) })
	res, err := e.Enhance(context.Background(), Request{VideoID: "u1", URL: srv.URL + "/a.mp4?sig=s3cr3t", Preset: "mobile"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ffprobeFile(t, filepath.Join(out, res.Renditions[0].Path)); got.Height != 240 || got.VideoCodec != "h264" {
		t.Errorf("rendition = %+v", got)
	}

	_, err = e.Enhance(context.Background(), Request{VideoID: "u2", URL: srv.URL + "/missing.mp4?sig=s3cr3t", Preset: "mobile"})
	if !errors.Is(err, ErrUnreadable) || !Permanent(err) || !strings.Contains(err.Error(), "HTTP 404") || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("404: err = %v", err)
	}
	_, err = e.Enhance(context.Background(), Request{VideoID: "u3", URL: srv.URL + "/busy", Preset: "mobile"})
	if !errors.Is(err, ErrTransient) || Permanent(err) {
		t.Errorf("503: err = %v, want a transient failure", err)
	}
	small, _, _ := newTestEnhancer(t, func(c *Config) { c.HTTPClient = srv.Client(); c.MaxSourceBytes = int64(len(body)) - 1 })
	_, err = small.Enhance(context.Background(), Request{VideoID: "u4", URL: srv.URL + "/a.mp4", Preset: "mobile"})
	if !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), "limit") {
		t.Errorf("too large: err = %v", err)
	}
	_, err = e.Enhance(context.Background(), Request{VideoID: "u5", URL: strings.Replace(srv.URL, "https", "http", 1) + "/a.mp4", Preset: "mobile"})
	if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), "https://") {
		t.Errorf("http: err = %v", err)
	}
}

// A portrait phone video stored landscape with a 90° rotation: the
// rendition is portrait, its short side (the width) is the rung's.
func TestEnhanceRotatedPortrait(t *testing.T) {
	needFFmpeg(t)
	e, root, out := newTestEnhancer(t, nil)
	land := filepath.Join(t.TempDir(), "land.mp4")
	makeClip(t, land, 320, 240, 2, 0.05)
	if b, err := exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-i", land, "-c", "copy",
		"-metadata:s:v:0", "rotate=90", filepath.Join(root, "portrait.mp4")).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	res, err := e.Enhance(context.Background(), Request{VideoID: "p1", Path: "portrait.mp4", Preset: "mobile"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Source.Width != 240 || res.Source.Height != 320 {
		t.Errorf("source = %dx%d, want the displayed 240x320", res.Source.Width, res.Source.Height)
	}
	if len(res.Renditions) != 1 || res.Renditions[0].Name != "240p" {
		t.Fatalf("renditions = %+v", res.Renditions)
	}
	if got := ffprobeFile(t, filepath.Join(out, res.Renditions[0].Path)); got.Width != 240 || got.Height != 320 {
		t.Errorf("rendition = %dx%d, want 240x320", got.Width, got.Height)
	}
}
