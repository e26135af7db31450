package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/zyeute/zyeute-redis/internal/config"
	"github.com/zyeute/zyeute-redis/internal/jobs"
)

// Exit codes.
const (
	exitOK            = 0
	exitFailure       = 1 // runtime failure: Redis unreachable in ping, cannot listen…
	exitUsage         = 2 // bad command line or invalid configuration
	exitNotConfigured = 3 // ping, worker, queue: Redis is not configured
	exitInterrupted   = 130
)

// exitError carries an exit code; an empty message prints nothing.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// exitWith returns nil for code 0, else an error that exits with code and
// prints nothing more (for commands that printed their own report, such as
// doctor.Run's exit code).
func exitWith(code int) error {
	if code == exitOK {
		return nil
	}
	return &exitError{code: code}
}

func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitFailure
}

func errorMessage(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// env is what a command sees of the process.
type env struct {
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
	// registry configures the job handlers of serve and worker; nil (as
	// run sets it) means the local defaults. Tests plug in their own.
	registry *jobs.RegistryConfig
	// redisLog, when set (only main sets it), routes go-redis's
	// process-global logger to the logger a command built, scrubbing the
	// Redis password. Tests leave it nil.
	redisLog func(l *slog.Logger, password string)
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// commands is the one table of subcommands, in the order help lists them.
func commands() []command {
	return []command{
		{name: "doctor", summary: "diagnose the Redis setup and the application database and print how to fix each problem (--json)", run: runDoctor},
		{name: "help", summary: "show this help", run: func(_ context.Context, e *env, _ []string) error {
			usage(e.stdout)
			return nil
		}},
		{name: "ping", summary: "connect to Redis with the current configuration and print state, latency, version", run: ping},
		{name: "queue", summary: "queue admin: stats, jobs, job, logs, events, add, retry, promote, remove, clean, drain, obliterate, pause, resume", run: runQueueCmd},
		{name: "serve", summary: "run the HTTP API on PORT (and the workers, unless WORKERS=false)", run: serve},
		{name: "version", summary: "print the version", run: func(_ context.Context, e *env, _ []string) error {
			fmt.Fprintln(e.stdout, "zyeute "+versionString())
			return nil
		}},
		{name: "worker", summary: "run the queue workers only (--queues a,b --concurrency N), for scaling out", run: runWorker},
	}
}

func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// run is the whole program minus process concerns: it parses args, runs
// the subcommand and returns an error whose exitCode is the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return runEnv(ctx, &env{getenv: getenv, stdout: stdout, stderr: stderr}, args)
}

// runEnv is run with a prepared env.
func runEnv(ctx context.Context, e *env, args []string) error {
	stderr := e.stderr
	if len(args) == 0 {
		usage(stderr)
		return &exitError{code: exitUsage}
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		name = "help"
	case "-v", "-version", "--version":
		name = "version"
	}
	c, ok := lookup(name)
	if !ok {
		usage(stderr)
		return &exitError{code: exitUsage, err: fmt.Errorf("unknown command %q", args[0])}
	}
	return c.run(ctx, e, args[1:])
}

func usage(w io.Writer) {
	var b strings.Builder
	b.WriteString("Usage: zyeute <command> [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-9s %s\n", c.name, c.summary)
	}
	b.WriteString("\nConfiguration comes from the environment (REDIS_URL or REDIS_HOST…, PORT, ADMIN_TOKEN…);\n")
	b.WriteString("with no Redis configured, serve runs in degraded mode.\n")
	b.WriteString("Exit codes: 0 ok, 1 failure, 2 usage or configuration error, 3 Redis not configured\n")
	b.WriteString("(ping, worker and queue, which need Redis), 130 interrupted twice.\n")
	_, _ = io.WriteString(w, b.String())
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(e *env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: zyeute %s\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; -h is a success, other errors exit 2.
func parseFlags(fs *flag.FlagSet, args []string) (done bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		return true, &exitError{code: exitUsage, err: err}
	}
	if fs.NArg() > 0 {
		return true, &exitError{code: exitUsage, err: fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return false, nil
}

// loadConfig reads the environment; errors exit 2 and list every
// invalid variable.
func loadConfig(e *env) (*config.Config, error) {
	cfg, err := config.Load(e.getenv)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("invalid configuration:\n  %s", strings.ReplaceAll(err.Error(), "\n", "\n  "))}
	}
	return cfg, nil
}
