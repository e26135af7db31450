package interop

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/internal/jobs"
	"github.com/zyeute/zyeute-redis/internal/video"
	"github.com/zyeute/zyeute-redis/queue"
)

// Node adds two video-enhancement jobs, a non-video then a real clip; a Go
// worker runs the ffmpeg enhancer: the first fails at once (unrecoverable,
// one attempt of three) and the worker goes on to transcode the second,
// whose progress Node's QueueEvents sees as `progress` events up to 100.
func TestInteropVideoEnhancementProgressAndFailure(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s is missing: run scripts/ensure-test-deps.sh (as root) or `sudo apt-get install -y ffmpeg`", p)
		}
	}
	e := newEnv(t)
	root, outDir := t.TempDir(), t.TempDir()
	if out, err := exec.Command("ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2.5",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2.5",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
		filepath.Join(root, "clip.mp4")).CombinedOutput(); err != nil {
		t.Fatalf("making the clip: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(root, "notes.mp4"), []byte("not a video\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	name := e.queueName("video")
	ids := e.nodeAdd(name, []nodeJobSpec{
		{Name: "enhance", Data: map[string]any{"video_id": "bad", "source_path": "notes.mp4", "preset": "mobile"},
			Opts: map[string]any{"attempts": 3, "backoff": map[string]any{"type": "fixed", "delay": 100}}},
		{Name: "enhance", Data: map[string]any{"video_id": "good", "source_path": "clip.mp4", "preset": "mobile"},
			Opts: map[string]any{"attempts": 3}},
	})

	reg, err := jobs.NewRegistry(&jobs.RegistryConfig{Media: video.Config{MediaRoot: root, OutputDir: outDir}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := reg.Handler(jobs.VideoEnhancement)
	if err != nil {
		t.Fatal(err)
	}
	w, err := queue.NewWorker(e.c, name, h, &queue.WorkerOptions{Prefix: e.prefix, Concurrency: 1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(e.ctx); err != nil {
		t.Fatal(err)
	}
	q := e.goQueue(name)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		s0, _ := q.GetState(e.ctx, ids[0])
		s1, _ := q.GetState(e.ctx, ids[1])
		if s0 == queue.StateFailed && (s1 == queue.StateCompleted || s1 == queue.StateFailed) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs not finished: %s %s", s0, s1)
		}
		time.Sleep(200 * time.Millisecond)
	}
	closeWorker(t, w)

	nj, _ := e.nodeInspect(name, ids, nil)
	bad, good := nj[ids[0]].Job, nj[ids[1]].Job
	if bad == nil || good == nil {
		t.Fatalf("Node inspect: %v", nj)
	}
	if bad.AttemptsMade != 1 || !strings.Contains(bad.FailedReason, "not a video") || !strings.Contains(bad.FailedReason, "Invalid data") {
		t.Errorf("non-video job: attemptsMade %d, failedReason %q; want 1 attempt and a clear reason", bad.AttemptsMade, bad.FailedReason)
	}
	if nj[ids[1]].State != "completed" {
		t.Fatalf("clip job is %s: %s", nj[ids[1]].State, good.FailedReason)
	}
	var res jobs.VideoEnhancementResult
	if err := json.Unmarshal(good.ReturnValue, &res); err != nil {
		t.Fatal(err)
	}
	if res.Enhancer != "ffmpeg" || len(res.Renditions) != 1 || res.Renditions[0].Height != 240 || res.Renditions[0].Codec != "h264/aac" {
		t.Errorf("result = %+v", res)
	}
	for _, rel := range []string{res.Outputs["240p"], res.Poster} {
		if st, err := os.Stat(filepath.Join(outDir, rel)); err != nil || st.Size() == 0 {
			t.Errorf("output %q: %v", rel, err)
		}
	}
	if string(good.Progress) != "100" {
		t.Errorf("Node sees progress %s, want 100", good.Progress)
	}

	var progress []float64
	for _, m := range e.readAllEvents(name) {
		if m.Event == "progress" && m.Args["jobId"] == ids[1] {
			v, ok := m.Args["data"].(float64)
			if !ok {
				t.Fatalf("progress data %T %v, want a number", m.Args["data"], m.Args["data"])
			}
			progress = append(progress, v)
		}
		if m.Event == "progress" && m.Args["jobId"] == ids[0] {
			t.Errorf("progress reported for the non-video job: %v", m.Args)
		}
	}
	if len(progress) < 3 || progress[len(progress)-1] != 100 {
		t.Errorf("Node QueueEvents progress = %v, want several steps ending at 100", progress)
	}
	for i := 1; i < len(progress); i++ {
		if progress[i] <= progress[i-1] {
			t.Errorf("progress went back: %v", fmt.Sprint(progress))
			break
		}
	}
}
