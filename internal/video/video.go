// Package video is the real work of the video-enhancement queue: it runs
// ffmpeg on an uploaded video (a file under a configured media root, or an
// http(s) URL) and writes, per preset, H.264/AAC MP4 renditions (never
// upscaled) with light denoise and sharpening and EBU R128 loudness
// normalisation, plus a JPEG poster, atomically under an output directory.
//
// The package does not know about queues: internal/jobs adapts it to the
// video-enhancement queue (payload, progress, unrecoverable failures).
package video

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Defaults of Config.
const (
	DefaultMaxSourceBytes  = 2 << 30 // 2 GiB
	DefaultDownloadTimeout = 10 * time.Minute
	DefaultMediaRoot       = "data/media"
	DefaultOutputDir       = "data/renditions"
	// TargetLUFS is the EBU R128 integrated loudness every rendition is
	// normalised to, with TargetTruePeak and TargetLRA.
	TargetLUFS     = -23.0
	TargetTruePeak = -1.0
	TargetLRA      = 11.0
)

// Config configures an Enhancer. The zero value of a field means its
// default.
type Config struct {
	// MediaRoot is the directory local sources must resolve under
	// (symlinks resolved). Default DefaultMediaRoot.
	MediaRoot string
	// OutputDir receives <video_id>/<rendition>.mp4 and
	// <video_id>/poster.jpg. Default DefaultOutputDir.
	OutputDir string
	// FFmpeg and FFprobe are the programs (a path, or a name looked up in
	// PATH). Default "ffmpeg" and "ffprobe".
	FFmpeg, FFprobe string
	// MaxSourceBytes bounds a source downloaded from a URL.
	MaxSourceBytes int64
	// DownloadTimeout bounds the download of a URL source.
	DownloadTimeout time.Duration
	// HTTPClient downloads URL sources. Default: a client with
	// DownloadTimeout.
	HTTPClient *http.Client
	// AllowHTTP accepts plain http:// sources (tests); https:// always.
	AllowHTTP bool
	// Recorder records the outputs on the video's row once written; nil
	// records nothing.
	Recorder RenditionRecorder
}

// RenditionRecorder records a finished enhancement (the video row of the
// application's database). Called after every output is in place; an error
// fails the job (retried: the outputs are rewritten identically).
type RenditionRecorder interface {
	RecordRenditions(ctx context.Context, videoID string, r *Result) error
}

// Rung is one step of a preset's ladder.
type Rung struct {
	Height    int // short side, pixels
	VideoKbps int // maximum video bitrate
	AudioKbps int
}

// Presets are the ladders, lowest first.
var Presets = map[string][]Rung{
	"mobile":   {{240, 300, 64}, {360, 600, 96}, {480, 1000, 96}},
	"standard": {{360, 600, 96}, {480, 1000, 128}, {720, 2500, 128}},
	"hd":       {{480, 1000, 128}, {720, 2500, 128}, {1080, 5000, 192}},
}

// Request is one enhancement.
type Request struct {
	// VideoID names the output directory ([A-Za-z0-9_.:-], 1–128, not
	// "." or "..").
	VideoID string
	// Path is the source as a path relative to MediaRoot (or absolute
	// under it); URL is the source as an https:// (or, with AllowHTTP,
	// http://) URL. Exactly one of them.
	Path, URL string
	// Preset is a key of Presets.
	Preset string
	// Progress, when set, receives the percentage done (0–100) each time
	// it changes.
	Progress func(percent int)
}

// Rendition is one MP4 written.
type Rendition struct {
	Name       string `json:"name"` // "240p"
	Path       string `json:"path"` // relative to OutputDir
	Width      int    `json:"width"`
	Height     int    `json:"height"`
	VideoKbps  int    `json:"video_kbps"`
	AudioKbps  int    `json:"audio_kbps,omitempty"`
	VideoCodec string `json:"video_codec"`           // "h264"
	AudioCodec string `json:"audio_codec,omitempty"` // "aac"; "" when the source has no audio
	Bytes      int64  `json:"bytes"`
}

// Source describes the input as ffprobe saw it.
type Source struct {
	Width           int     `json:"width"`
	Height          int     `json:"height"`
	DurationSeconds float64 `json:"duration_seconds"`
	VideoCodec      string  `json:"video_codec"`
	HasAudio        bool    `json:"has_audio"`
	// LoudnessLUFS is the integrated loudness measured before
	// normalisation (absent without audio).
	LoudnessLUFS *float64 `json:"loudness_lufs,omitempty"`
}

// Result is what an enhancement wrote.
type Result struct {
	VideoID    string      `json:"video_id"`
	Preset     string      `json:"preset"`
	Source     Source      `json:"source"`
	Renditions []Rendition `json:"renditions"`
	// Skipped lists rungs left out to avoid upscaling.
	Skipped []string `json:"skipped,omitempty"`
	// Poster is the JPEG thumbnail, relative to OutputDir.
	Poster string `json:"poster"`
	// TargetLUFS is the loudness the audio was normalised to.
	TargetLUFS float64 `json:"target_lufs"`
	// ProcessingSeconds is the wall time of the whole enhancement;
	// CPUSeconds the CPU time (user + system) of ffmpeg and ffprobe.
	ProcessingSeconds float64 `json:"processing_seconds"`
	CPUSeconds        float64 `json:"cpu_seconds"`
}

// Kinds of failure (Error.Kind).
var (
	// ErrFFmpegMissing: ffmpeg or ffprobe cannot be found or run.
	ErrFFmpegMissing = errors.New("ffmpeg missing")
	// ErrBadRequest: the request itself is invalid (id, preset, source
	// form, a path escaping the media root).
	ErrBadRequest = errors.New("invalid video request")
	// ErrUnreadable: the source does not exist, cannot be read, or its
	// download failed with a client error or was too large.
	ErrUnreadable = errors.New("video source unreadable")
	// ErrNotVideo: the source holds no decodable video stream.
	ErrNotVideo = errors.New("not a video")
	// ErrTranscode: ffmpeg failed on a readable video (may be transient:
	// disk full, killed).
	ErrTranscode = errors.New("transcoding failed")
	// ErrTransient: a failure worth retrying (network error, 5xx).
	ErrTransient = errors.New("transient failure")
)

// Error is a failed enhancement: Kind is one of the Err* values above.
type Error struct {
	Kind   error
	Reason string
}

func (e *Error) Error() string { return "video-enhancement: " + e.Kind.Error() + ": " + e.Reason }
func (e *Error) Unwrap() error { return e.Kind }

// Permanent reports whether retrying cannot help (missing ffmpeg, bad
// request, unreadable or non-video source).
func Permanent(err error) bool {
	return errors.Is(err, ErrFFmpegMissing) || errors.Is(err, ErrBadRequest) ||
		errors.Is(err, ErrUnreadable) || errors.Is(err, ErrNotVideo)
}

func fail(kind error, format string, a ...any) error {
	return &Error{Kind: kind, Reason: fmt.Sprintf(format, a...)}
}

// Enhancer runs enhancements. It is safe for concurrent use.
type Enhancer struct {
	cfg Config
}

// New checks cfg and returns an Enhancer. Relative directories are
// resolved against the working directory now; they are not created
// here: OutputDir is created on first use; MediaRoot must exist when a
// local source is read.
func New(cfg Config) (*Enhancer, error) {
	if cfg.OutputDir == "" {
		cfg.OutputDir = DefaultOutputDir
	}
	if cfg.MediaRoot == "" {
		cfg.MediaRoot = DefaultMediaRoot
	}
	if cfg.FFmpeg == "" {
		cfg.FFmpeg = "ffmpeg"
	}
	if cfg.FFprobe == "" {
		cfg.FFprobe = "ffprobe"
	}
	if cfg.MaxSourceBytes <= 0 {
		cfg.MaxSourceBytes = DefaultMaxSourceBytes
	}
	if cfg.DownloadTimeout <= 0 {
		cfg.DownloadTimeout = DefaultDownloadTimeout
	}
	if cfg.HTTPClient == nil {
		allowHTTP := cfg.AllowHTTP
		cfg.HTTPClient = &http.Client{Timeout: cfg.DownloadTimeout,
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) >= 5 {
					return errors.New("more than 5 redirects")
				}
				if req.URL.Scheme != "https" && !allowHTTP {
					return errors.New("redirected away from https")
				}
				return nil
			}}
	}
	var err error
	if cfg.OutputDir, err = filepath.Abs(cfg.OutputDir); err != nil {
		return nil, fmt.Errorf("video: OutputDir: %w", err)
	}
	if cfg.MediaRoot != "" {
		if cfg.MediaRoot, err = filepath.Abs(cfg.MediaRoot); err != nil {
			return nil, fmt.Errorf("video: MediaRoot: %w", err)
		}
	}
	return &Enhancer{cfg: cfg}, nil
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)

func checkRequest(r *Request) ([]Rung, error) {
	if !idRE.MatchString(r.VideoID) || strings.Trim(r.VideoID, ".") == "" {
		return nil, fail(ErrBadRequest, "video_id %q is not 1–128 of [A-Za-z0-9_.:-] (and not only dots)", trunc(r.VideoID, 40))
	}
	ladder, ok := Presets[r.Preset]
	if !ok {
		return nil, fail(ErrBadRequest, "unknown preset %q (mobile, standard, hd)", trunc(r.Preset, 40))
	}
	if (r.Path == "") == (r.URL == "") {
		return nil, fail(ErrBadRequest, "give exactly one source: a path under the media root or a URL")
	}
	return ladder, nil
}

// Enhance runs one enhancement. Cancelling ctx kills ffmpeg (its whole
// process group) and removes the partial outputs.
func (e *Enhancer) Enhance(ctx context.Context, req Request) (*Result, error) {
	res, err := e.enhance(ctx, req)
	if err != nil && ctx.Err() != nil {
		if c := context.Cause(ctx); !errors.Is(err, c) {
			err = fmt.Errorf("video-enhancement: stopped (%v): %w", err, c)
		}
	}
	return res, err
}

func (e *Enhancer) enhance(ctx context.Context, req Request) (*Result, error) {
	start := time.Now()
	use := &usage{}
	ctx = context.WithValue(ctx, usageKey{}, use)
	ladder, err := checkRequest(&req)
	if err != nil {
		return nil, err
	}
	ffmpeg, err := lookTool(e.cfg.FFmpeg, "FFMPEG_PATH")
	if err != nil {
		return nil, err
	}
	ffprobe, err := lookTool(e.cfg.FFprobe, "FFPROBE_PATH")
	if err != nil {
		return nil, err
	}
	progress := newProgress(req.Progress)

	dir := filepath.Join(e.cfg.OutputDir, req.VideoID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fail(ErrTranscode, "creating the output directory: %v", err)
	}
	staging, err := os.MkdirTemp(dir, ".staging-")
	if err != nil {
		return nil, fail(ErrTranscode, "creating a staging directory: %v", err)
	}
	defer os.RemoveAll(staging)

	src, err := e.openSource(ctx, req, staging)
	if err != nil {
		return nil, err
	}
	defer src.Close()

	info, err := probe(ctx, ffprobe, src)
	if err != nil {
		return nil, err
	}
	res := &Result{VideoID: req.VideoID, Preset: req.Preset, Source: info.Source, TargetLUFS: TargetLUFS, Renditions: []Rendition{}}
	progress.set(2)

	var loud *loudness
	if info.HasAudio {
		if loud, err = measureLoudness(ctx, ffmpeg, src); err != nil {
			return nil, err
		}
		if loud != nil {
			v := loud.I
			res.Source.LoudnessLUFS = &v
		}
	}
	progress.set(10)

	short := min(info.Width, info.Height)
	var rungs []Rung
	for _, r := range ladder {
		if r.Height > short {
			res.Skipped = append(res.Skipped, fmt.Sprintf("%dp", r.Height))
			continue
		}
		rungs = append(rungs, r)
	}
	if len(rungs) == 0 {
		// Smaller than the whole ladder: one rendition at the source size.
		rungs = []Rung{{Height: short &^ 1, VideoKbps: ladder[0].VideoKbps, AudioKbps: ladder[0].AudioKbps}}
	}
	outs, err := transcode(ctx, ffmpeg, src, staging, info, loud, rungs, func(frac float64) { progress.set(10 + int(frac*85)) })
	if err != nil {
		return nil, err
	}
	if err := poster(ctx, ffmpeg, filepath.Join(staging, outs[len(outs)-1].Name+".mp4"), filepath.Join(staging, "poster.jpg"), info.DurationSeconds); err != nil {
		return nil, err
	}
	// Check what was written, then move it in place (rename: atomic).
	for i := range outs {
		o := &outs[i]
		tmp := filepath.Join(staging, o.Name+".mp4")
		got, err := probeFile(ctx, ffprobe, tmp)
		if err != nil {
			return nil, fail(ErrTranscode, "rendition %s unreadable after encoding: %v", o.Name, err)
		}
		o.Width, o.Height, o.VideoCodec = got.Width, got.Height, got.VideoCodec
		if got.HasAudio {
			o.AudioCodec = "aac"
		} else {
			o.AudioKbps = 0
		}
		st, err := os.Stat(tmp)
		if err != nil {
			return nil, fail(ErrTranscode, "%v", err)
		}
		o.Bytes = st.Size()
	}
	for _, o := range outs {
		if err := os.Rename(filepath.Join(staging, o.Name+".mp4"), filepath.Join(dir, o.Name+".mp4")); err != nil {
			return nil, fail(ErrTranscode, "moving rendition %s in place: %v", o.Name, err)
		}
		o.Path = filepath.Join(req.VideoID, o.Name+".mp4")
		res.Renditions = append(res.Renditions, o)
	}
	if err := os.Rename(filepath.Join(staging, "poster.jpg"), filepath.Join(dir, "poster.jpg")); err != nil {
		return nil, fail(ErrTranscode, "moving the poster in place: %v", err)
	}
	res.Poster = filepath.Join(req.VideoID, "poster.jpg")
	res.ProcessingSeconds = time.Since(start).Seconds()
	res.CPUSeconds = use.total().Seconds()
	if e.cfg.Recorder != nil {
		if err := e.cfg.Recorder.RecordRenditions(ctx, req.VideoID, res); err != nil {
			return nil, fmt.Errorf("video-enhancement: recording the renditions of %s: %w", req.VideoID, err)
		}
	}
	progress.set(100)
	return res, nil
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// progress reports a percentage when it grows.
type progressReporter struct {
	fn   func(int)
	last int
}

func newProgress(fn func(int)) *progressReporter { return &progressReporter{fn: fn, last: -1} }

func (p *progressReporter) set(pct int) {
	pct = max(0, min(pct, 100))
	if p.fn == nil || pct <= p.last {
		return
	}
	p.last = pct
	p.fn(pct)
}
