// Package browsertest starts a real headless Chromium for a test and hands
// back a chromedp context driving one tab of it (Chrome DevTools Protocol,
// no chromedriver).
//
// The browser is Debian's chromium (/usr/bin/chromium). When it is missing
// the test fails with the command that installs it: a browser test is never
// skipped. scripts/ensure-test-deps.sh (make deps) installs it when it can.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// InstallCommand installs the browser on Debian and Ubuntu.
const InstallCommand = "sudo apt-get install -y chromium"

// DefaultPath is Debian's chromium binary.
const DefaultPath = "/usr/bin/chromium"

// Options configure Start. A nil *Options means all defaults.
type Options struct {
	// ExecPath is the browser binary. Defaults to $CHROMIUM_PATH, else
	// "chromium" on PATH, else DefaultPath.
	ExecPath string
	// Timeout bounds everything done in the tab. Defaults to 60s.
	Timeout time.Duration
	// Width and Height of the window. Default to 1280×900.
	Width, Height int
}

// Browser is one headless Chromium with one tab.
type Browser struct {
	// Ctx drives the tab: pass it to chromedp.Run. It is cancelled (and
	// the browser killed and reaped) at the end of the test.
	Ctx context.Context

	mu       sync.Mutex
	problems []string
}

// ErrNoBrowser: no Chromium binary was found; the message has the command
// that installs it.
var ErrNoBrowser = errors.New("chromium is not installed; this browser test needs it. Install it with:\n\t" +
	InstallCommand + "\n(or run `make deps` as root)")

// Path finds the browser binary, or fails t with the install command.
func Path(t testing.TB) string {
	t.Helper()
	p, err := find(os.Getenv("CHROMIUM_PATH"), DefaultPath)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// find returns override when set (it must exist), else "chromium" on
// PATH, else fallback when it exists, else ErrNoBrowser.
func find(override, fallback string) (string, error) {
	if override != "" {
		if _, err := os.Stat(override); err != nil {
			return "", fmt.Errorf("CHROMIUM_PATH: %w", err)
		}
		return override, nil
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p, nil
	}
	if _, err := os.Stat(fallback); err == nil {
		return fallback, nil
	}
	return "", ErrNoBrowser
}

// Start launches the browser with a fresh profile in t.TempDir() and
// returns it. Launch flags: headless, --no-sandbox (tests run as root in
// containers), --disable-gpu, --disable-quic, --no-first-run,
// --disable-background-networking, --disable-component-update,
// --disable-sync, plus chromedp's quiet defaults. The browser reaches only
// the URLs the test opens.
func Start(t testing.TB, opts *Options) *Browser {
	t.Helper()
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.ExecPath == "" {
		o.ExecPath = Path(t)
	}
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	if o.Width <= 0 {
		o.Width = 1280
	}
	if o.Height <= 0 {
		o.Height = 900
	}
	profile := t.TempDir() // registered before the cancel below, so removed after the browser exits

	flags := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(o.ExecPath),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.WindowSize(o.Width, o.Height),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), flags...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	ctx, cancelTimeout := context.WithTimeout(ctx, o.Timeout)
	b := &Browser{Ctx: ctx}
	done := make(chan struct{})
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc() // kills the browser and waits for it
		<-done
	})
	// Start the browser now, so a launch failure is reported here and not
	// at the first action.
	if err := chromedp.Do(ctx); err != nil {
		close(done)
		t.Fatalf("starting %s: %v", o.ExecPath, err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return // the context ended
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.add(m.String())
			}
		}
	}()
	return b
}

func (b *Browser) add(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems = append(b.problems, s)
}

// Problems returns what the page reported so far: uncaught exceptions,
// console.error calls and browser log errors (failed loads, Content
// Security Policy violations), each as "type: text".
func (b *Browser) Problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}
