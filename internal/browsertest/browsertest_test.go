package browsertest

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestFindMissing: with no chromium anywhere the error names the exact
// install command (the browser test fails with it, never skips).
func TestFindMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := find("", filepath.Join(t.TempDir(), "chromium"))
	if !errors.Is(err, ErrNoBrowser) || !strings.Contains(err.Error(), "sudo apt-get install -y chromium") {
		t.Fatalf("err = %v", err)
	}
	if _, err := find("/nonexistent/chromium", DefaultPath); err == nil || !strings.Contains(err.Error(), "CHROMIUM_PATH") {
		t.Fatalf("bad override: %v", err)
	}
}

func TestFindFallback(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	self := "browsertest_test.go" // any existing file stands for the binary
	if p, err := find("", self); err != nil || p != self {
		t.Fatalf("find = %q, %v", p, err)
	}
}
