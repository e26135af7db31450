package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Status is the outcome of a check or finding.
type Status string

// Statuses, from best to worst; skip means the check could not run because
// an earlier one failed.
const (
	StatusOK   Status = "ok"
	StatusSkip Status = "skip"
	StatusWarn Status = "warn"
	StatusFail Status = "fail"
)

func (s Status) rank() int {
	switch s {
	case StatusWarn:
		return 2
	case StatusFail:
		return 3
	case StatusSkip:
		return 1
	}
	return 0
}

func worst(a, b Status) Status {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

func (s Status) symbol() string {
	switch s {
	case StatusOK:
		return "✔"
	case StatusWarn:
		return "⚠"
	case StatusFail:
		return "✖"
	}
	return "-"
}

// Check IDs, in the order they run.
const (
	CheckConfig      = "config"
	CheckDNS         = "dns"
	CheckTCP         = "tcp"
	CheckTLS         = "tls"
	CheckAuth        = "auth"
	CheckPermissions = "permissions"
	CheckServer      = "server"
	CheckLatency     = "latency"
	CheckQueues      = "queues"
)

// Finding is one observation inside a check.
type Finding struct {
	// Code is a stable identifier for the condition (for example
	// "wrongpass", "tls_expired", "eviction_policy"); tests and scripts
	// branch on it.
	Code    string `json:"code"`
	Status  Status `json:"status"`
	Message string `json:"message"`
	// Fix says what to do, when something is wrong.
	Fix string `json:"fix,omitempty"`
}

// Check is the result of one step of the diagnosis.
type Check struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Findings are the observations, at least one; the check's status is
	// the worst of theirs.
	Findings []Finding `json:"findings"`
	// Data holds the measured values of the check (addresses, latency,
	// server facts, queue counts): one of the *Data types of this package,
	// or nil.
	Data       any     `json:"data,omitempty"`
	DurationMS float64 `json:"duration_ms"`
}

// Finding returns the first finding with the given code, if any.
func (c Check) Finding(code string) (Finding, bool) {
	for _, f := range c.Findings {
		if f.Code == code {
			return f, true
		}
	}
	return Finding{}, false
}

// Report is the whole diagnosis.
type Report struct {
	// Target is the configuration as diagnosed, password redacted.
	Target string `json:"target"`
	// Source is the variable the address came from ("" when not
	// configured).
	Source string  `json:"source"`
	Checks []Check `json:"checks"`
	// Status is the worst status of all checks (skips count as nothing).
	Status Status `json:"status"`
	// ExitCode is 0 when all checks pass, 1 with warnings, 2 with failures.
	ExitCode   int       `json:"exit_code"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS float64   `json:"duration_ms"`
}

// Check returns the check with the given ID.
func (r Report) Check(id string) (Check, bool) {
	for _, c := range r.Checks {
		if c.ID == id {
			return c, true
		}
	}
	return Check{}, false
}

func (r *Report) finish() {
	r.Status = StatusOK
	fails, warns := 0, 0
	for _, c := range r.Checks {
		switch c.Status {
		case StatusFail:
			fails++
		case StatusWarn:
			warns++
		}
	}
	switch {
	case fails > 0:
		r.Status, r.ExitCode = StatusFail, 2
	case warns > 0:
		r.Status, r.ExitCode = StatusWarn, 1
	default:
		r.Status, r.ExitCode = StatusOK, 0
	}
}

// WriteJSON writes the report as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// WriteText writes the report for a terminal: one line per check with ✔, ⚠,
// ✖ or - (skipped), the findings under it, and each fix.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "zyeute doctor: %s\n\n", r.Target)
	nameWidth := 0
	for _, c := range r.Checks {
		nameWidth = max(nameWidth, len(c.Name))
	}
	indent := strings.Repeat(" ", nameWidth+5)
	for _, c := range r.Checks {
		if len(c.Findings) == 0 {
			fmt.Fprintf(&b, "%s %-*s\n", c.Status.symbol(), nameWidth, c.Name)
			continue
		}
		first := c.Findings[0]
		if len(c.Findings) == 1 {
			fmt.Fprintf(&b, "%s %-*s   %s\n", c.Status.symbol(), nameWidth, c.Name, first.Message)
			if first.Fix != "" {
				writeFix(&b, indent, first.Fix)
			}
			continue
		}
		fmt.Fprintf(&b, "%s %s\n", c.Status.symbol(), c.Name)
		for _, f := range c.Findings {
			fmt.Fprintf(&b, "    %s %s\n", f.Status.symbol(), f.Message)
			if f.Fix != "" {
				writeFix(&b, "      ", f.Fix)
			}
		}
	}
	fails, warns, skips := 0, 0, 0
	for _, c := range r.Checks {
		switch c.Status {
		case StatusFail:
			fails++
		case StatusWarn:
			warns++
		case StatusSkip:
			skips++
		}
	}
	fmt.Fprintf(&b, "\n%s: %d failed, %d warning(s), %d skipped (exit %d, %.0f ms)\n",
		map[int]string{0: "All good", 1: "Warnings", 2: "Problems found"}[r.ExitCode], fails, warns, skips, r.ExitCode, r.DurationMS)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeFix(b *strings.Builder, indent, fix string) {
	for i, l := range strings.Split(fix, "\n") {
		if i == 0 {
			fmt.Fprintf(b, "%s→ fix: %s\n", indent, l)
		} else {
			fmt.Fprintf(b, "%s       %s\n", indent, l)
		}
	}
}
