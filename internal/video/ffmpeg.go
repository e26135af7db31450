package video

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// inputFD is how ffmpeg and ffprobe see the source: the open file passed
// as their descriptor 3.
const inputFD = "/dev/fd/3"

func lookTool(name, env string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fail(ErrFFmpegMissing, "%s not found (%s=%q): install Debian's ffmpeg package (apt-get install -y ffmpeg) or set %s",
			filepath.Base(name), env, name, env)
	}
	return p, nil
}

// tail keeps the last n bytes written.
type tail struct {
	mu  sync.Mutex
	n   int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.n {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.n:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// lastLine is the last non-empty line of s, for error messages.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return trunc(strings.TrimSpace(lines[len(lines)-1]), 300)
}

// run runs prog in its own process group, src as its descriptor 3 (when
// not nil), each stdout line to onLine (when not nil). Cancelling ctx kills
// the whole group. It returns the tail of stderr.
func run(ctx context.Context, prog string, args []string, src *os.File, onLine func(string)) (string, error) {
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = 5 * time.Second
	if src != nil {
		cmd.ExtraFiles = []*os.File{src}
	}
	// Our own pipes, not exec's copying goroutines: Wait returns when the
	// program exits, even if something it started still holds them, and
	// the group is killed before the pipes are drained.
	outR, outW, err := os.Pipe()
	if err != nil {
		return "", err
	}
	defer outR.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		outW.Close()
		return "", err
	}
	defer errR.Close()
	cmd.Stdout, cmd.Stderr = outW, errW
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		return "", fail(ErrFFmpegMissing, "%s cannot be started: %v", filepath.Base(prog), errors.Unwrap(err))
	}
	stderr := &tail{n: 16 << 10}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(stderr, errR)
	}()
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			if onLine != nil {
				onLine(sc.Text())
			}
		}
		_, _ = io.Copy(io.Discard, outR)
	}()
	err = cmd.Wait()
	_ = killGroup(cmd) // anything the program left behind
	wg.Wait()
	if u, ok := ctx.Value(usageKey{}).(*usage); ok && cmd.ProcessState != nil {
		u.add(cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime())
	}
	if ctx.Err() != nil {
		return stderr.String(), fmt.Errorf("video-enhancement: %s stopped: %w", filepath.Base(prog), context.Cause(ctx))
	}
	return stderr.String(), err
}

// usage sums the CPU time of the programs run for one enhancement.
type usage struct {
	mu  sync.Mutex
	cpu time.Duration
}

type usageKey struct{}

func (u *usage) add(d time.Duration) {
	u.mu.Lock()
	u.cpu += d
	u.mu.Unlock()
}

func (u *usage) total() time.Duration {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.cpu
}

func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

type probed struct {
	Source
}

type ffprobeDoc struct {
	Streams []struct {
		CodecType   string         `json:"codec_type"`
		CodecName   string         `json:"codec_name"`
		Width       int            `json:"width"`
		Height      int            `json:"height"`
		Duration    string         `json:"duration"`
		Disposition map[string]int `json:"disposition"`
		SideData    []struct {
			Rotation float64 `json:"rotation"`
		} `json:"side_data_list"`
		Tags map[string]string `json:"tags"`
	} `json:"streams"`
	Format struct {
		Duration   string `json:"duration"`
		FormatName string `json:"format_name"`
	} `json:"format"`
}

// probe describes the source (first video stream, audio present,
// duration); a source ffprobe cannot parse or without video is ErrNotVideo.
func probe(ctx context.Context, ffprobe string, src *os.File) (*probed, error) {
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return nil, fail(ErrUnreadable, "%v", err)
	}
	var out bytes.Buffer
	stderr, err := run(ctx, ffprobe, []string{"-v", "error", "-print_format", "json", "-show_streams", "-show_format", inputFD}, src,
		func(l string) { out.WriteString(l); out.WriteByte('\n') })
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, ErrFFmpegMissing) {
			return nil, err
		}
		return nil, fail(ErrNotVideo, "ffprobe cannot read the source: %s", lastLine(strings.ReplaceAll(stderr, inputFD+": ", "")))
	}
	return parseProbe(out.Bytes())
}

func parseProbe(b []byte) (*probed, error) {
	var doc ffprobeDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fail(ErrNotVideo, "ffprobe's description is not JSON: %v", err)
	}
	p := &probed{}
	found := false
	for _, s := range doc.Streams {
		switch s.CodecType {
		case "video":
			if found || s.Disposition["attached_pic"] == 1 {
				continue
			}
			found = true
			p.Width, p.Height, p.VideoCodec = s.Width, s.Height, s.CodecName
			// A phone's portrait video is often stored landscape with a
			// rotation; ffmpeg applies it when decoding, so the size
			// that counts is the displayed one.
			rot, _ := strconv.ParseFloat(s.Tags["rotate"], 64)
			for _, sd := range s.SideData {
				if sd.Rotation != 0 {
					rot = sd.Rotation
				}
			}
			if r := math.Mod(math.Abs(rot), 180); r > 45 && r < 135 {
				p.Width, p.Height = p.Height, p.Width
			}
			if d, err := strconv.ParseFloat(s.Duration, 64); err == nil {
				p.DurationSeconds = d
			}
		case "audio":
			p.HasAudio = true
		}
	}
	if !found {
		return nil, fail(ErrNotVideo, "the source (%s) has no video stream", trunc(doc.Format.FormatName, 40))
	}
	if d, err := strconv.ParseFloat(doc.Format.Duration, 64); err == nil && d > 0 {
		p.DurationSeconds = d
	}
	if p.Width < 2 || p.Height < 2 {
		return nil, fail(ErrNotVideo, "the video stream has no usable size (%dx%d)", p.Width, p.Height)
	}
	if !(p.DurationSeconds > 0) || strings.Contains(doc.Format.FormatName, "image2") || strings.HasSuffix(doc.Format.FormatName, "_pipe") {
		return nil, fail(ErrNotVideo, "the source (%s) is a still image or has no duration", trunc(doc.Format.FormatName, 40))
	}
	return p, nil
}

func probeFile(ctx context.Context, ffprobe, path string) (*probed, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return probe(ctx, ffprobe, f)
}

// loudness is loudnorm's first-pass measurement.
type loudness struct {
	I, TP, LRA, Thresh, Offset float64
}

// measureLoudness runs loudnorm's analysis pass over the audio. A silent
// track (no measurable loudness) returns nil: nothing to normalise.
func measureLoudness(ctx context.Context, ffmpeg string, src *os.File) (*loudness, error) {
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return nil, fail(ErrUnreadable, "%v", err)
	}
	af := fmt.Sprintf("loudnorm=I=%g:TP=%g:LRA=%g:print_format=json", TargetLUFS, TargetTruePeak, TargetLRA)
	stderr, err := run(ctx, ffmpeg, []string{"-nostdin", "-hide_banner", "-nostats", "-i", inputFD, "-map", "0:a:0", "-vn", "-sn", "-dn",
		"-af", af, "-f", "null", "-"}, src, nil)
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, ErrFFmpegMissing) {
			return nil, err
		}
		return nil, fail(ErrNotVideo, "the audio cannot be decoded: %s", lastLine(stderr))
	}
	m, err := parseLoudnorm(stderr)
	if err != nil {
		return nil, fail(ErrTranscode, "loudness measurement: %v", err)
	}
	if m.I < -70 { // -inf: silence
		return nil, nil
	}
	return m, nil
}

// parseLoudnorm reads the JSON block loudnorm prints (print_format=json)
// at the end of ffmpeg's log: the input_* measures and target_offset.
func parseLoudnorm(log string) (*loudness, error) {
	i := strings.LastIndex(log, "{")
	j := strings.LastIndex(log, "}")
	if i < 0 || j < i {
		return nil, errors.New("no loudnorm JSON in ffmpeg's output")
	}
	var raw map[string]string
	if err := json.Unmarshal([]byte(log[i:j+1]), &raw); err != nil {
		return nil, fmt.Errorf("loudnorm JSON: %w", err)
	}
	num := func(k string) float64 {
		v, err := strconv.ParseFloat(strings.TrimSpace(raw[k]), 64)
		if err != nil {
			return -99 // "-inf"
		}
		return v
	}
	return &loudness{I: num("input_i"), TP: num("input_tp"), LRA: num("input_lra"), Thresh: num("input_thresh"), Offset: num("target_offset")}, nil
}

// Filters applied before scaling: light temporal/spatial denoise, then a
// mild luma sharpen.
const (
	denoiseFilter = "hqdn3d=1.5:1.5:6:6"
	sharpenFilter = "unsharp=5:5:0.6:5:5:0.0"
)

// transcode writes one MP4 per rung into staging in a single ffmpeg run
// (one decode, one denoise), reporting the fraction done.
func transcode(ctx context.Context, ffmpeg string, src *os.File, staging string, info *probed, loud *loudness, rungs []Rung, frac func(float64)) ([]Rendition, error) {
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return nil, fail(ErrUnreadable, "%v", err)
	}
	n := len(rungs)
	var g strings.Builder
	fmt.Fprintf(&g, "[0:v:0]%s,%s,split=%d", denoiseFilter, sharpenFilter, n)
	for i := range rungs {
		fmt.Fprintf(&g, "[s%d]", i)
	}
	landscape := info.Width >= info.Height
	for i, r := range rungs {
		scale := fmt.Sprintf("scale=-2:%d", r.Height)
		if !landscape {
			scale = fmt.Sprintf("scale=%d:-2", r.Height)
		}
		fmt.Fprintf(&g, ";[s%d]%s,format=yuv420p[v%d]", i, scale, i)
	}
	if info.HasAudio {
		g.WriteString(";[0:a:0]")
		if loud != nil {
			fmt.Fprintf(&g, "loudnorm=I=%g:TP=%g:LRA=%g:measured_I=%.2f:measured_TP=%.2f:measured_LRA=%.2f:measured_thresh=%.2f:offset=%.2f:linear=true,",
				TargetLUFS, TargetTruePeak, TargetLRA, loud.I, loud.TP, loud.LRA, loud.Thresh, loud.Offset)
		}
		fmt.Fprintf(&g, "aresample=48000,asplit=%d", n)
		for i := range rungs {
			fmt.Fprintf(&g, "[a%d]", i)
		}
	}
	args := []string{"-nostdin", "-hide_banner", "-loglevel", "error", "-nostats", "-progress", "pipe:1", "-y",
		"-i", inputFD, "-filter_complex", g.String()}
	outs := make([]Rendition, n)
	for i, r := range rungs {
		name := fmt.Sprintf("%dp", r.Height)
		outs[i] = Rendition{Name: name, VideoKbps: r.VideoKbps, AudioKbps: r.AudioKbps}
		args = append(args, "-map", fmt.Sprintf("[v%d]", i))
		if info.HasAudio {
			args = append(args, "-map", fmt.Sprintf("[a%d]", i), "-c:a", "aac", "-b:a", fmt.Sprintf("%dk", r.AudioKbps), "-ac", "2")
		}
		args = append(args, "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
			"-maxrate", fmt.Sprintf("%dk", r.VideoKbps), "-bufsize", fmt.Sprintf("%dk", 2*r.VideoKbps),
			"-movflags", "+faststart", "-map_metadata", "-1", "-f", "mp4", filepath.Join(staging, name+".mp4"))
	}
	total := info.DurationSeconds * 1e6
	stderr, err := run(ctx, ffmpeg, args, src, func(line string) {
		k, v, ok := strings.Cut(line, "=")
		if !ok || (k != "out_time_us" && k != "out_time_ms") {
			return
		}
		us, err := strconv.ParseFloat(v, 64)
		if err != nil || total <= 0 {
			return
		}
		frac(max(0, min(us/total, 1)))
	})
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, ErrFFmpegMissing) {
			return nil, err
		}
		return nil, fail(ErrTranscode, "ffmpeg: %s (%v)", lastLine(stderr), err)
	}
	frac(1)
	return outs, nil
}

// poster writes a JPEG frame of the rendition, a third of the way in (at
// most 2 s), as the thumbnail.
func poster(ctx context.Context, ffmpeg, in, out string, duration float64) error {
	at := min(duration/3, 2)
	stderr, err := run(ctx, ffmpeg, []string{"-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-ss", strconv.FormatFloat(at, 'f', 3, 64),
		"-i", in, "-frames:v", "1", "-q:v", "3", "-f", "image2", "-c:v", "mjpeg", out}, nil, nil)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return fail(ErrTranscode, "poster: %s (%v)", lastLine(stderr), err)
	}
	return nil
}
