// Command bench runs our Go queue, Node BullMQ 6.7.0 and asynq side by side
// on one private redis-server and reports throughput, latency, idle load and
// Redis cost per job. See docs/benchmarking.md.
//
//	cd bench && go run .            # full run (about 10 minutes)
//	cd bench && go run . -smoke     # tiny N, one repetition (~30 s)
//
// The orchestrator starts every run as a fresh child process: this binary
// again (ZYEUTE_BENCH_CHILD=1) for ours and asynq, node for BullMQ.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if os.Getenv(childEnv) == "1" {
		if len(os.Args) != 2 {
			fmt.Fprintln(os.Stderr, "bench child: want one argument, the JSON spec")
			os.Exit(2)
		}
		if err := childMain(ctx, os.Args[1], os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "bench child:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// run parses the flags and runs the suite.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	_, err = runSuite(ctx, cfg, stdout, stderr)
	return err
}
