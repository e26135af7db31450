package jobs

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime/metrics"
	"testing"
	"time"
)

// childEnv names the test a child process of this test binary runs.
const childEnv = "ZYEUTE_JOBS_TEST_CHILD"

// childHeapLimit is the live heap a child test may reach before the guard
// kills it: the tests run here need a few MiB.
const childHeapLimit = 256 << 20

// inChild runs the calling top-level test again in a child process of
// this test binary and fails if the child fails. It returns true in the
// child, where the caller does the work under a heap guard: a runaway
// allocation (an endless loop appending, as the poison job did) kills the
// child within milliseconds instead of eating the machine's memory, and
// the test fails fast.
func inChild(t *testing.T) bool {
	t.Helper()
	if os.Getenv(childEnv) == t.Name() {
		stop := heapGuard(childHeapLimit)
		t.Cleanup(stop)
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.count=1",
		"-test.v", "-test.timeout=100s")
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child run of %s failed (%v):\n%s", t.Name(), err, tailString(string(out), 6000))
	}
	t.Logf("child run of %s passed", t.Name())
	return false
}

// heapGuard exits the process with status 3 as soon as the live heap
// passes limit bytes. stop ends the guard.
func heapGuard(limit uint64) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tk := time.NewTicker(5 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-tk.C:
			}
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > limit {
				fmt.Fprintf(os.Stderr, "heap guard: %d MiB of live heap objects, over the %d MiB limit: runaway allocation\n", v>>20, limit>>20)
				os.Exit(3)
			}
		}
	}()
	return func() { close(done); <-finished }
}

func tailString(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
