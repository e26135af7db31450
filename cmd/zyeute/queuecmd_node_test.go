package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// nodeAdd adds jobs to queue name with Node BullMQ 6.7.0 (the interop
// peer's "add" scenario), under the fixture's prefix.
func (fx *queueFixture) nodeAdd(name string, n int) {
	fx.t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		fx.t.Fatal("node not found in PATH: install Node.js 20, then run ./scripts/ensure-test-deps.sh")
	}
	peer, err := filepath.Abs(filepath.Join("..", "..", "interop", "peer", "peer.js"))
	if err != nil {
		fx.t.Fatal(err)
	}
	jobs := make([]map[string]any, n)
	for i := range jobs {
		jobs[i] = map[string]any{"name": "from-node", "data": map[string]int{"i": i}}
	}
	args, _ := json.Marshal(map[string]any{"host": "127.0.0.1", "port": fx.r.Port(), "prefix": fx.prefix, "queue": name, "jobs": jobs})
	out, err := exec.CommandContext(fx.ctx, node, peer, "add", string(args)).CombinedOutput()
	if err != nil || strings.Count(string(out), `"type":"added"`) != n {
		fx.t.Fatalf("node peer add: %v\n%s\n(run ./scripts/ensure-test-deps.sh if bullmq is missing)", err, out)
	}
}

// TestQueueStatsShowsNodeQueues: a queue only Node BullMQ ever wrote to is
// listed by `queue stats` with no argument, next to a Go one, with its
// counts; `queue jobs` and `queue job` read its jobs.
func TestQueueStatsShowsNodeQueues(t *testing.T) {
	t.Parallel()
	fx := newQueueFixture(t)
	fx.nodeAdd("node-made", 2)
	if _, err := fx.queue("go-made").Add(fx.ctx, "x", nil, nil); err != nil {
		t.Fatal(err)
	}
	out, _ := fx.cli(0, "stats")
	rows := map[string][]string{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 11 {
			rows[f[0]] = f
		}
	}
	if r := rows["node-made"]; r == nil || r[1] != "2" || r[7] != "false" || r[8] != "0" {
		t.Fatalf("stats lacks the Node queue (or its counts):\n%s", out)
	}
	if r := rows["go-made"]; r == nil || r[1] != "1" {
		t.Fatalf("stats lacks the Go queue:\n%s", out)
	}
	out, _ = fx.cli(0, "jobs", "node-made", "waiting", "--json")
	var page jobPage
	if err := json.Unmarshal([]byte(out), &page); err != nil || page.Total != 2 || len(page.Jobs) != 2 || page.Jobs[0].Name != "from-node" {
		t.Fatalf("jobs of the Node queue: %s (%v)", out, err)
	}
	out, _ = fx.cli(0, "job", "node-made", page.Jobs[1].ID)
	if !strings.Contains(out, `data:        {"i":1}`) || !strings.Contains(out, "state:       waiting") {
		t.Fatalf("job of the Node queue:\n%s", out)
	}
}
