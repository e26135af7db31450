// Command zyeute is the Zyeuté Redis layer service: one binary with the
// subcommands serve, ping, version and help (see usage). main only wires
// signals, calls run and maps its error to an exit code.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "zyeute: %s received, shutting down (send it again to exit at once)\n", s)
		cancel()
		s = <-sigs
		fmt.Fprintf(os.Stderr, "zyeute: %s received again, exiting now\n", s)
		os.Exit(exitInterrupted)
	}()

	// go-redis's logger is process-global: only main sets it, routing its
	// lines to our logger at debug level, with the password scrubbed.
	e := &env{getenv: os.Getenv, stdout: os.Stdout, stderr: os.Stderr,
		redisLog: func(l *slog.Logger, password string) { redis.SetLogger(&redisLogger{log: l, secret: password}) }}
	err := runEnv(ctx, e, os.Args[1:])
	cancel()
	if msg := errorMessage(err); msg != "" {
		fmt.Fprintln(os.Stderr, "zyeute: "+escapeControls(msg))
	}
	os.Exit(exitCode(err))
}
