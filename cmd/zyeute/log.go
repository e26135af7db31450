package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/zyeute/zyeute-redis/internal/config"
)

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.Level}
	if c.Format == config.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// redisLogger adapts go-redis's internal logger to slog at debug level.
type redisLogger struct {
	log    *slog.Logger
	secret string
}

func (l *redisLogger) Printf(ctx context.Context, format string, v ...any) {
	if !l.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	msg := fmt.Sprintf(format, v...)
	if l.secret != "" {
		msg = strings.ReplaceAll(msg, l.secret, "xxxxx")
	}
	l.log.Debug("[go-redis] " + msg)
}
