package jobs

import (
	"context"

	"github.com/zyeute/zyeute-redis/internal/video"
	"github.com/zyeute/zyeute-redis/queue"
)

// FFmpegVideoEnhancer is the default VideoEnhancer: it runs ffmpeg
// (internal/video) on the upload, a source_path under the media root or an
// https:// source_url, and writes the renditions and a poster under the
// output directory. The job's progress follows ffmpeg's (0–100). A missing
// ffmpeg, a bad or unreadable source and a source that is not a video fail
// the job at once (queue.Unrecoverable); other failures are retried.
type FFmpegVideoEnhancer struct {
	e *video.Enhancer
}

// NewFFmpegVideoEnhancer builds the enhancer; zero fields of cfg take the
// defaults of internal/video (data/media, data/renditions, ffmpeg and
// ffprobe from PATH).
func NewFFmpegVideoEnhancer(cfg video.Config) (*FFmpegVideoEnhancer, error) {
	e, err := video.New(cfg)
	if err != nil {
		return nil, err
	}
	return &FFmpegVideoEnhancer{e: e}, nil
}

// Enhance implements VideoEnhancer.
func (f *FFmpegVideoEnhancer) Enhance(ctx context.Context, j *VideoEnhancementJob) (*VideoEnhancementResult, error) {
	req := video.Request{VideoID: j.VideoID, Path: j.SourcePath, URL: j.SourceURL, Preset: j.Preset}
	if report := progressFrom(ctx); report != nil {
		req.Progress = func(pct int) { report(pct) }
	}
	r, err := f.e.Enhance(ctx, req)
	if err != nil {
		if video.Permanent(err) {
			return nil, queue.Unrecoverable(err)
		}
		return nil, err
	}
	src := r.Source
	res := &VideoEnhancementResult{VideoID: r.VideoID, Preset: r.Preset, Enhancer: "ffmpeg", Renditions: []Rendition{},
		Skipped: r.Skipped, Outputs: map[string]string{"poster": r.Poster}, Poster: r.Poster, Source: &src,
		TargetLUFS: r.TargetLUFS, ProcessingSeconds: r.ProcessingSeconds, CPUSeconds: r.CPUSeconds}
	for _, o := range r.Renditions {
		codec := o.VideoCodec
		if o.AudioCodec != "" {
			codec += "/" + o.AudioCodec
		}
		res.Renditions = append(res.Renditions, Rendition{Name: o.Name, Height: o.Height, Width: o.Width,
			VideoKbps: o.VideoKbps, AudioKbps: o.AudioKbps, Codec: codec, Bytes: o.Bytes, Path: o.Path})
		res.Outputs[o.Name] = o.Path
	}
	return res, nil
}

type progressKey struct{}

// WithProgress returns ctx carrying report, through which a handler
// reports its progress (the worker stores it on the job and emits a
// `progress` event). Registry.Handler sets it for every job.
func WithProgress(ctx context.Context, report func(v any)) context.Context {
	return context.WithValue(ctx, progressKey{}, report)
}

func progressFrom(ctx context.Context) func(v any) {
	f, _ := ctx.Value(progressKey{}).(func(v any))
	return f
}
