package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/zyeute/zyeute-redis/internal/config"
)

// Logging convention of this module (docs/logging.md):
//
//   - Every Logger option takes a *slog.Logger; nil means slog.Default(),
//     in every package (queue, session, redisconn, moderation, jobs,
//     httpapi). Pass slog.New(slog.DiscardHandler) for silence.
//   - Messages are constant; what varies goes in attributes:
//     logger.Info("[Jobs] job ran", slog.String("queue", q), …). A
//     "[Component]" prefix (Redis, Jobs, go-redis) groups the lines of one
//     subsystem.
//   - The exception: the Redis connection events keep the wording users
//     grep for ("[Redis] ✅ Connection established", "[Redis] ❌ Connection
//     error: <CODE>", "[Redis] Retry attempt N, waiting D", "[Redis]
//     Initializing connection to <target>", "[Redis] Not configured (…) -
//     Running in degraded mode", and the persistence verdict "[Redis]
//     <doctor's finding>").
//   - Levels: debug for per-request and per-job lines ("http request",
//     "[Jobs] job ran"), info for lifecycle, warn for degraded service,
//     error for failures someone must look at. ACCESS_LOG=true raises
//     "http request" to info.
//   - Never log a secret (secret.String redacts itself), a payload, a
//     header or a query string.
//
// newLogger builds the command's logger from LOG_FORMAT and LOG_LEVEL.
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
	l.log.Debug("[go-redis]", slog.String("line", msg))
}
