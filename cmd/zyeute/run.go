package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"

	"github.com/zyeute/zyeute-redis/internal/config"
	"github.com/zyeute/zyeute-redis/internal/jobs"
)

// Exit codes.
const (
	exitOK            = 0
	exitFailure       = 1 // runtime failure: Redis unreachable in ping, cannot listen…
	exitUsage         = 2 // bad command line or invalid configuration
	exitNotConfigured = 3 // ping: Redis is not configured
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
}

// command is one subcommand. New subcommands (doctor, worker, queue)
// register themselves from their own file with register in an init func.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("zyeute: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

func init() {
	register(command{name: "version", summary: "print the version", run: func(_ context.Context, e *env, args []string) error {
		fmt.Fprintln(e.stdout, "zyeute "+versionString())
		return nil
	}})
	register(command{name: "help", summary: "show this help", run: func(_ context.Context, e *env, args []string) error {
		usage(e.stdout)
		return nil
	}})
}

// onLogger, when set (by main), is told about each logger a command builds
// and the Redis password to scrub; main uses it to route go-redis's global
// logger. Tests leave it nil.
var onLogger func(l *slog.Logger, secret string)

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
	c, ok := commands[name]
	if !ok {
		usage(stderr)
		return &exitError{code: exitUsage, err: fmt.Errorf("unknown command %q", args[0])}
	}
	return c.run(ctx, e, args[1:])
}

func usage(w io.Writer) {
	var b strings.Builder
	b.WriteString("Usage: zyeute <command> [flags]\n\nCommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "  %-9s %s\n", n, commands[n].summary)
	}
	b.WriteString("\nConfiguration comes from the environment (REDIS_URL or REDIS_HOST…, PORT, ADMIN_TOKEN…);\n")
	b.WriteString("with no Redis configured, serve runs in degraded mode.\n")
	b.WriteString("Exit codes: 0 ok, 1 failure, 2 usage or configuration error, 3 Redis not configured (ping).\n")
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
