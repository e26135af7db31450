package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/queue"
)

// queueCLI runs `zyeute queue …` with vars and returns exit code, stdout
// and stderr plus the error message.
func queueCLI(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"queue"}, args...), func(k string) string { return vars[k] }, &out, &errOut)
	return exitCode(err), out.String(), errOut.String() + errorMessage(err)
}

func TestQueueCommand(t *testing.T) {
	t.Parallel()
	const pw = "queue-cli-Secret-3x"
	r := redistest.Start(t, &redistest.Options{Password: pw})
	prefix := redistest.KeyPrefix(t)
	vars := map[string]string{"REDIS_URL": "redis://:" + pw + "@" + r.Addr(), "QUEUE_PREFIX": prefix}
	var all []string
	cli := func(wantCode int, args ...string) string {
		t.Helper()
		code, out, errOut := queueCLI(t, vars, args...)
		all = append(all, out, errOut)
		if code != wantCode {
			t.Fatalf("queue %v: exit %d, want %d\nstdout: %s\nstderr: %s", args, code, wantCode, out, errOut)
		}
		return out + errOut
	}
	batch := `{"events":[{"type":"share","video_id":"v9"}]}`

	if out := cli(0, "add", "analytics", "batch", batch); !strings.Contains(out, "added analytics/1 (name batch)") {
		t.Errorf("add: %s", out)
	}
	if out := cli(0, "add", "--json", "analytics", "later", batch, "--delay", "1h", "--job-id", "later-1"); !strings.Contains(out, `"id": "later-1"`) {
		t.Errorf("add --json: %s", out)
	}
	if out := cli(exitUsage, "add", "analytics", "batch", `{"events":[{"type":"share"}]}`); !strings.Contains(out, "field events[0].video_id: is required") {
		t.Errorf("add invalid: %s", out)
	}
	if out := cli(exitUsage, "add", "transcode", "x", `{}`); !strings.Contains(out, `unknown queue "transcode"`) {
		t.Errorf("add unknown queue: %s", out)
	}
	if out := cli(exitUsage, "add", "analytics", "x", batch, "--attempts", "99"); !strings.Contains(out, "opts.attempts") {
		t.Errorf("add bad attempts: %s", out)
	}

	out := cli(0, "stats")
	var row string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "analytics ") {
			row = l
		}
	}
	// QUEUE WAITING ACTIVE DELAYED PRIORITIZED COMPLETED FAILED PAUSED WORKERS OLDEST NOLOCK
	if f := strings.Fields(row); len(f) != 11 || f[1] != "1" || f[3] != "1" || f[7] != "false" || f[8] != "0" {
		t.Errorf("stats row %q in\n%s", row, out)
	}

	out = cli(0, "list", "analytics", "waiting")
	if !strings.Contains(out, "ID") || !strings.Contains(out, "1 ") || !strings.Contains(out, "batch") {
		t.Errorf("list: %s", out)
	}
	out = cli(0, "list", "--json", "analytics", "delayed", "--limit", "5")
	var page struct {
		Total int              `json:"total"`
		Jobs  []map[string]any `json:"jobs"`
	}
	if err := json.Unmarshal([]byte(out), &page); err != nil || page.Total != 1 || len(page.Jobs) != 1 || page.Jobs[0]["id"] != "later-1" ||
		page.Jobs[0]["delay_ms"] != 3600000.0 {
		t.Errorf("list delayed: %s (%v)", out, err)
	}
	cli(0, "list", "analytics", "failed")
	cli(exitUsage, "list", "analytics", "done")
	cli(exitUsage, "list", "analytics", "waiting", "--limit", "0")

	if out := cli(0, "promote", "analytics", "later-1"); !strings.Contains(out, "analytics/later-1 promoted") {
		t.Errorf("promote: %s", out)
	}
	cli(exitFailure, "promote", "analytics", "later-1")

	if out := cli(0, "pause", "analytics"); !strings.Contains(out, "analytics paused") {
		t.Errorf("pause: %s", out)
	}
	out = cli(0, "stats", "--json", "analytics")
	var snap struct {
		Queues []struct {
			Paused bool             `json:"paused"`
			Counts map[string]int64 `json:"counts"`
		} `json:"queues"`
	}
	if err := json.Unmarshal([]byte(out), &snap); err != nil || len(snap.Queues) != 1 || !snap.Queues[0].Paused || snap.Queues[0].Counts["waiting"] != 2 {
		t.Errorf("stats --json after pause: %s", out)
	}
	if out := cli(0, "resume", "analytics"); !strings.Contains(out, "analytics resumed") {
		t.Errorf("resume: %s", out)
	}

	// A failed job (seeded as a worker leaves it) is retried; remove works.
	c := r.Client(t)
	ctx := context.Background()
	key := prefix + ":analytics:"
	c.HSet(ctx, key+"f1", "name", "batch", "data", batch, "opts", `{"attempts":3}`, "timestamp", time.Now().UnixMilli(),
		"atm", 3, "failedReason", "warehouse busy", "finishedOn", time.Now().UnixMilli())
	c.ZAdd(ctx, key+"failed", redisZ(time.Now().UnixMilli(), "f1"))
	out = cli(0, "list", "analytics", "failed")
	if !strings.Contains(out, "f1") || !strings.Contains(out, "warehouse busy") {
		t.Errorf("list failed: %s", out)
	}
	if out := cli(0, "retry", "analytics", "f1", "--reset-attempts"); !strings.Contains(out, "analytics/f1 moved back to wait") {
		t.Errorf("retry: %s", out)
	}
	q, _ := queue.NewQueue(c, "analytics", &queue.QueueOptions{Prefix: prefix})
	if st, _ := q.GetState(ctx, "f1"); st != queue.StateWaiting {
		t.Errorf("retried job is %s", st)
	}
	// Messages name the job and the state found, with one prefix.
	if out := cli(exitFailure, "retry", "analytics", "f1"); !strings.HasSuffix(out, "queue retry: job analytics/f1 is waiting, not failed or completed") {
		t.Errorf("retry waiting job: %s", out)
	}
	if out := cli(exitFailure, "retry", "analytics", "nope"); !strings.HasSuffix(out, "queue retry: job analytics/nope not found") {
		t.Errorf("retry missing job: %s", out)
	}
	if out := cli(0, "remove", "analytics", "f1"); !strings.Contains(out, "analytics/f1 removed") {
		t.Errorf("remove: %s", out)
	}
	if st, _ := q.GetState(ctx, "f1"); st != queue.StateUnknown {
		t.Errorf("removed job is %s", st)
	}
	cli(exitFailure, "remove", "analytics", "f1")

	// Usage errors.
	cli(exitUsage)
	cli(exitUsage, "frobnicate")
	cli(exitUsage, "list", "analytics")
	cli(exitUsage, "pause")
	cli(exitUsage, "pause", "bad:name")
	cli(exitUsage, "stats", "--nope")
	if out := cli(0, "help"); !strings.Contains(out, "Usage: zyeute queue") {
		t.Errorf("help: %s", out)
	}

	for _, o := range all {
		if strings.Contains(o, pw) {
			t.Errorf("the password is in the output: %q", o)
		}
	}
}

func TestQueueCommandRedisMissing(t *testing.T) {
	t.Parallel()
	code, _, msg := queueCLI(t, nil, "stats")
	if code != exitNotConfigured || !strings.Contains(msg, "not configured") {
		t.Errorf("not configured: %d %s", code, msg)
	}
	// Port 1: nothing listens there (a port found free and released could be
	// taken by a parallel test's server before the CLI dials it).
	const pw = "dead-Secret-77"
	code, _, msg = queueCLI(t, map[string]string{"REDIS_URL": "redis://:" + pw + "@127.0.0.1:1"}, "pause", "analytics")
	if code != exitFailure || !strings.Contains(msg, "ECONNREFUSED") || strings.Contains(msg, pw) {
		t.Errorf("unreachable: %d %s", code, msg)
	}
}

func redisZ(score int64, member string) redis.Z {
	return redis.Z{Score: float64(score), Member: member}
}

// TestQueueListEscapesControlCharacters: job ids, names and failure
// reasons come from Redis, written by any producer; `queue list` and the
// other terminal outputs print control characters (NUL, BEL, ESC…) and
// bidi overrides escaped, never raw.
func TestQueueListEscapesControlCharacters(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t, nil)
	prefix := redistest.KeyPrefix(t)
	vars := map[string]string{"REDIS_URL": r.URL(), "QUEUE_PREFIX": prefix}
	ctx := context.Background()
	q, err := queue.NewQueue(r.Client(t), "analytics", &queue.QueueOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	evilName := "clear\x1b[2J\x07bell\x00nul\u202eevil\u2066iso\u2069\tTab"
	evilID := "id\x1b]0;pwned\x07\u202dx"
	if _, err := q.Add(ctx, evilName, map[string]any{"events": []any{}}, &queue.AddOptions{JobID: evilID}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Add(ctx, "café ✓ 名前", map[string]any{"events": []any{}}, &queue.AddOptions{JobID: "plain-é"}); err != nil {
		t.Fatal(err)
	}
	bad := func(s string) bool {
		for _, r := range s {
			if (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
				return true
			}
		}
		return false
	}
	code, out, errOut := queueCLI(t, vars, "list", "analytics", "waiting")
	if code != 0 || bad(out) || bad(errOut) {
		t.Fatalf("list: exit %d, raw control characters in %q %q", code, out, errOut)
	}
	for _, want := range []string{`"clear\x1b[2J\abell\x00nul\u202eevil\u2066iso\u2069\tTab"`, `"id\x1b]0;pwned\a\u202dx"`, "café ✓ 名前", "plain-é"} {
		if !strings.Contains(out, want) {
			t.Errorf("list output lacks %s:\n%s", want, out)
		}
	}
	// Other outputs that echo an id: promote (refused: not delayed) and remove.
	code, out, errOut = queueCLI(t, vars, "promote", "analytics", evilID)
	if code == 0 || bad(out) || bad(errOut) || !strings.Contains(out+errOut, `\x1b]0;pwned`) {
		t.Errorf("promote: exit %d, %q %q", code, out, errOut)
	}
	code, out, errOut = queueCLI(t, vars, "remove", "analytics", evilID)
	if code != 0 || bad(out) || bad(errOut) || !strings.Contains(out, `"id\x1b]0;pwned\a\u202dx" removed`) {
		t.Errorf("remove: exit %d, %q %q", code, out, errOut)
	}
	code, out, errOut = queueCLI(t, vars, "add", "analytics", "n\x1bame", `{"events":[{"type":"view","video_id":"v1"}]}`, "--job-id", "a-b")
	if code != 0 || bad(out) || bad(errOut) || !strings.Contains(out, `added analytics/a-b (name "n\x1bame")`) {
		t.Errorf("add: exit %d, %q %q", code, out, errOut)
	}
}

func TestTermSafe(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain-1":           "plain-1",
		"café 名前 ✓":         "café 名前 ✓",
		"a\x00b":            `"a\x00b"`,
		"\x1b[31mred":       `"\x1b[31mred"`,
		"rtl\u202eoverride": `"rtl\u202eoverride"`,
		"\u200bzero-width":  `"\u200bzero-width"`,
		"bad\xffutf8":       `"bad\xffutf8"`,
		"line\nbreak":       `"line\nbreak"`,
	} {
		if got := termSafe(in); got != want {
			t.Errorf("termSafe(%q) = %s, want %s", in, got, want)
		}
	}
	if got := escapeControls("line one\nid \x1b[2J \"q\"\nok"); got != "line one\nid \\x1b[2J \"q\"\nok" {
		t.Errorf("escapeControls = %q", got)
	}
}
