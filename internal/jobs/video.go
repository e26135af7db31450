package jobs

import (
	"context"
	"fmt"
	"strings"

	"github.com/zyeute/zyeute-redis/internal/video"
)

// VideoEnhancementJob is the payload of the video-enhancement queue: a
// reference to an uploaded video (never its bytes) and a preset.
type VideoEnhancementJob struct {
	// VideoID identifies the video (required, 1–128 of [A-Za-z0-9_.:-]).
	VideoID string `json:"video_id"`
	// SourceURL is where the transcoder reads the upload: https://, s3://
	// or gs:// (≤ 2048 bytes, no credentials). The ffmpeg enhancer reads
	// https:// only. Exactly one of SourceURL and SourcePath.
	SourceURL string `json:"source_url,omitempty"`
	// SourcePath is the upload as a file path relative to the media root
	// (MEDIA_ROOT), ≤ 1024 bytes; a path that leaves the root, by ".." or
	// a symbolic link, fails the job.
	SourcePath string `json:"source_path,omitempty"`
	// Preset is "mobile", "standard" or "hd". Defaults to "standard".
	Preset string `json:"preset,omitempty"`
	// DurationSeconds of the video, 0 (unknown) to 3600; sizes the plan
	// (the ffmpeg enhancer measures the video itself).
	DurationSeconds float64 `json:"duration_seconds"`
	// Width and Height of the source in pixels (optional, both or neither,
	// 1–8192). When known, renditions taller than the source's short side
	// are skipped: no upscaling.
	Width  int `json:"width,omitempty"`
	Height int `json:"height,omitempty"`
}

// Rendition is one output of the plan.
type Rendition struct {
	Name           string `json:"name"`   // "720p"
	Height         int    `json:"height"` // short side, pixels
	VideoKbps      int    `json:"video_kbps"`
	AudioKbps      int    `json:"audio_kbps"`
	Codec          string `json:"codec"`
	EstimatedBytes int64  `json:"estimated_bytes,omitempty"` // the plan's estimate
	// Width, Bytes and Path (relative to the output directory) of a
	// rendition written (real enhancers only).
	Width int    `json:"width,omitempty"`
	Bytes int64  `json:"bytes,omitempty"`
	Path  string `json:"path,omitempty"`
}

// VideoEnhancementResult is the rendition plan (and, from a real
// enhancer, where each rendition was written).
type VideoEnhancementResult struct {
	VideoID    string      `json:"video_id"`
	Preset     string      `json:"preset"`
	Renditions []Rendition `json:"renditions"`
	// Skipped lists renditions left out to avoid upscaling.
	Skipped []string `json:"skipped,omitempty"`
	// Enhancer names the implementation ("ffmpeg", "local-plan").
	Enhancer string `json:"enhancer"`
	// Outputs maps rendition name (and "poster") to the file written,
	// relative to the output directory (real enhancers only).
	Outputs map[string]string `json:"outputs,omitempty"`
	// Poster is the JPEG thumbnail written (ffmpeg enhancer).
	Poster string `json:"poster,omitempty"`
	// Source is the input as ffprobe saw it (ffmpeg enhancer).
	Source *video.Source `json:"source,omitempty"`
	// TargetLUFS is the EBU R128 loudness the audio was normalised to.
	TargetLUFS float64 `json:"target_lufs,omitempty"`
	// ProcessingSeconds is the wall time of the enhancement, CPUSeconds
	// the CPU time of ffmpeg and ffprobe.
	ProcessingSeconds float64 `json:"processing_seconds,omitempty"`
	CPUSeconds        float64 `json:"cpu_seconds,omitempty"`
}

// VideoEnhancer does the work of a video-enhancement job.
type VideoEnhancer interface {
	Enhance(ctx context.Context, job *VideoEnhancementJob) (*VideoEnhancementResult, error)
}

// LocalVideoEnhancer returns the rendition plan for the preset (heights,
// bitrates, codec, estimated sizes from the duration) without touching the
// video. It is no longer the default (FFmpegVideoEnhancer is); plug it in
// (Handlers.Video) where no video should be processed.
type LocalVideoEnhancer struct{}

type presetRendition struct {
	height, videoKbps, audioKbps int
}

// videoPresets are the ladders, lowest first (short side in pixels).
var videoPresets = map[string][]presetRendition{
	"mobile":   {{240, 300, 64}, {360, 600, 96}, {480, 1000, 96}},
	"standard": {{360, 600, 96}, {480, 1000, 128}, {720, 2500, 128}},
	"hd":       {{480, 1000, 128}, {720, 2500, 128}, {1080, 5000, 192}},
}

// Enhance implements VideoEnhancer.
func (LocalVideoEnhancer) Enhance(ctx context.Context, j *VideoEnhancementJob) (*VideoEnhancementResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := &VideoEnhancementResult{VideoID: j.VideoID, Preset: j.Preset, Enhancer: "local-plan", Renditions: []Rendition{}}
	short := 0
	if j.Width > 0 && j.Height > 0 {
		short = min(j.Width, j.Height)
	}
	mk := func(h, v, a int) Rendition {
		return Rendition{Name: fmt.Sprintf("%dp", h), Height: h, VideoKbps: v, AudioKbps: a, Codec: "h264/aac",
			EstimatedBytes: int64(float64(v+a) * 1000 / 8 * j.DurationSeconds)}
	}
	ladder := videoPresets[j.Preset]
	if len(ladder) == 0 {
		return nil, fmt.Errorf("video-enhancement: unknown preset %q", truncate(j.Preset, 40))
	}
	for _, p := range ladder {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if short > 0 && p.height > short {
			res.Skipped = append(res.Skipped, fmt.Sprintf("%dp", p.height))
			continue
		}
		res.Renditions = append(res.Renditions, mk(p.height, p.videoKbps, p.audioKbps))
	}
	if len(res.Renditions) == 0 {
		// Smaller than the whole ladder: one rendition at the source size.
		res.Renditions = append(res.Renditions, mk(short, ladder[0].videoKbps, ladder[0].audioKbps))
	}
	return res, nil
}

func checkVideo(j *VideoEnhancementJob) error {
	if err := checkID("video_id", j.VideoID, true); err != nil {
		return err
	}
	switch {
	case j.SourceURL != "" && j.SourcePath != "":
		return fieldError("source_path", "give source_url or source_path, not both")
	case j.SourcePath != "":
		if len(j.SourcePath) > 1024 || strings.ContainsRune(j.SourcePath, 0) {
			return fieldError("source_path", "must be at most 1024 bytes, without NUL")
		}
	default:
		if err := checkMediaURL("source_url", j.SourceURL); err != nil {
			return err
		}
	}
	if j.Preset == "" {
		j.Preset = "standard"
	}
	if err := oneOf("preset", j.Preset, "mobile", "standard", "hd"); err != nil {
		return err
	}
	if !(j.DurationSeconds >= 0 && j.DurationSeconds <= 3600) {
		return fieldError("duration_seconds", "must be between 0 (unknown) and 3600")
	}
	if (j.Width == 0) != (j.Height == 0) {
		return fieldError("width", "width and height go together (both or neither)")
	}
	if j.Width < 0 || j.Width > 8192 {
		return fieldError("width", "must be between 1 and 8192")
	}
	if j.Height < 0 || j.Height > 8192 {
		return fieldError("height", "must be between 1 and 8192")
	}
	return nil
}

func videoSpec(e VideoEnhancer) *Spec {
	return newSpec(VideoEnhancement, "H.264/AAC renditions and a poster of an uploaded video (ffmpeg)", checkVideo,
		func(ctx context.Context, j *VideoEnhancementJob) (any, error) { return e.Enhance(ctx, j) })
}
