package main

import (
	"github.com/zyeute/zyeute-redis/internal/config"
	"github.com/zyeute/zyeute-redis/internal/jobs"
	"github.com/zyeute/zyeute-redis/internal/jobs/privacy"
	"github.com/zyeute/zyeute-redis/internal/video"
)

// registryConfig is rc (nil: the defaults; tests plug their handlers in)
// with the video enhancer's media settings taken from cfg (MEDIA_ROOT,
// MEDIA_OUTPUT_DIR, FFMPEG_PATH, …) unless rc sets them (a Recorder alone
// does not count as setting them).
func registryConfig(rc *jobs.RegistryConfig, cfg *config.Config) *jobs.RegistryConfig {
	var c jobs.RegistryConfig
	if rc != nil {
		c = *rc
	}
	if rec := c.Media.Recorder; c.Media == (video.Config{Recorder: rec}) {
		m := cfg.Media
		c.Media = video.Config{MediaRoot: m.Root, OutputDir: m.OutputDir, FFmpeg: m.FFmpeg, FFprobe: m.FFprobe,
			MaxSourceBytes: m.MaxSourceBytes, DownloadTimeout: m.DownloadTimeout, Recorder: rec}
	}
	// privacy-audit with Redis also searches the queues (under the
	// configured prefix) for jobs naming the user.
	if a, ok := c.Handlers.Privacy.(*privacy.Auditor); ok && a.Sessions != nil && a.Jobs == nil {
		withJobs := *a
		withJobs.Jobs = &privacy.RedisJobs{Client: a.Sessions.Client, Prefix: cfg.QueuePrefix}
		c.Handlers.Privacy = &withJobs
	}
	return &c
}
