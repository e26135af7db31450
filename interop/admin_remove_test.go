package interop

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/zyeute/zyeute-redis/queue"
)

// seedRemovable writes the same jobs into queue name: one per state, a
// waiting job owning its deduplication keys (`de:d1`, `dn:d1`), a job that
// does not own `de:d2`, a job with logs, an older iteration of scheduler
// `s` and its current one. No meta: the remove must write its own bound.
func seedRemovable(t *testing.T, e *env, name string) {
	t.Helper()
	k := func(s string) string { return e.key(name, s) }
	job := func(id string, extra ...any) {
		f := append([]any{"name", "n-" + id, "data", `{"x":1}`, "opts", `{"attempts":1}`, "timestamp", 1700000000000,
			"delay", 0, "priority", 0}, extra...)
		if err := e.c.HSet(e.ctx, k(id), f...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	job("w1", "deid", "d1")
	e.c.LPush(e.ctx, k("wait"), "w1", "w2")
	e.c.Set(e.ctx, k("de:d1"), "w1", 0)
	e.c.HSet(e.ctx, k("dn:d1"), "name", "next", "data", `{"x":2}`, "opts", `{}`, "jid", "w9")
	job("w2", "deid", "d2")
	e.c.Set(e.ctx, k("de:d2"), "other", 0)
	e.c.HSet(e.ctx, k("dn:d2"), "name", "next", "data", `{}`, "opts", `{}`, "jid", "w8")
	job("dl")
	e.c.ZAdd(e.ctx, k("delayed"), redisZf(1700000005000*4096, "dl"))
	job("pr", "priority", 3)
	e.c.ZAdd(e.ctx, k("prioritized"), redisZf(3<<32+1, "pr"))
	job("fa", "failedReason", "boom", "finishedOn", 1700000001000)
	e.c.ZAdd(e.ctx, k("failed"), redisZf(1700000001000, "fa"))
	job("co", "returnvalue", "1", "finishedOn", 1700000002000)
	e.c.ZAdd(e.ctx, k("completed"), redisZf(1700000002000, "co"))
	e.c.RPush(e.ctx, k("logs:x"), "unrelated") // a key that must survive
	e.c.RPush(e.ctx, k("co:logs"), "line 1", "line 2")
	job("pa")
	e.c.RPush(e.ctx, k("paused"), "pa")
	// Scheduler s: iteration 1000 completed, 2000 is the next one.
	job("repeat:s:1000", "rjk", "s", "finishedOn", 1700000003000)
	e.c.ZAdd(e.ctx, k("completed"), redisZf(1700000003000, "repeat:s:1000"))
	job("repeat:s:2000", "rjk", "s", "delay", 1000)
	e.c.ZAdd(e.ctx, k("delayed"), redisZf(2000*4096, "repeat:s:2000"))
	e.c.ZAdd(e.ctx, k("repeat"), redisZf(2000, "s"))
	e.c.HSet(e.ctx, k("repeat:s"), "name", "tick", "every", 1000, "ic", 2)
	// An id in a state with no hash left.
	e.c.ZAdd(e.ctx, k("completed"), redisZf(1, "ghost"))
}

// dumpQueue renders every key of queue name (suffix → type and content)
// and its events (event fields in order, stream ids dropped).
func dumpQueue(t *testing.T, e *env, name string) (map[string]string, []string) {
	t.Helper()
	keys, err := e.c.Keys(e.ctx, e.prefix+":"+name+":*").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var events []string
	for _, key := range keys {
		suffix := strings.TrimPrefix(key, e.prefix+":"+name+":")
		typ, _ := e.c.Type(e.ctx, key).Result()
		var v any
		switch typ {
		case "string":
			v, err = e.c.Get(e.ctx, key).Result()
		case "list":
			v, err = e.c.LRange(e.ctx, key, 0, -1).Result()
		case "hash":
			v, err = e.c.HGetAll(e.ctx, key).Result()
		case "zset":
			v, err = e.c.ZRangeWithScores(e.ctx, key, 0, -1).Result()
		case "stream":
			for _, x := range e.streamEntries(name) {
				fs := make([]string, 0, len(x.Values))
				for f, val := range x.Values {
					fs = append(fs, fmt.Sprintf("%s=%v", f, val))
				}
				sort.Strings(fs)
				events = append(events, strings.Join(fs, " "))
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out[suffix] = typ + " " + mustJSON(t, v)
	}
	return out, events
}

// TestInteropAdminRemoveLikeNode: `zyeute queue remove` (queue.Queue.Remove)
// and Node's queue.remove(id) on twin seeded queues leave the same keys
// and write the same `removed` events: prev is the state name (`wait`,
// `delayed`, `prioritized`, `failed`, `completed`, `paused`), the owned
// `de:`/`dn:` keys go (the ones owned by another job stay), meta gets
// opts.maxLenEvents, an older scheduler iteration is removed; the next
// iteration is refused by both (Node: "belongs to a job scheduler").
func TestInteropAdminRemoveLikeNode(t *testing.T) {
	e := newEnv(t)
	goName, nodeName := e.queueName("rm-go"), e.queueName("rm-node")
	seedRemovable(t, e, goName)
	seedRemovable(t, e, nodeName)
	before, _ := dumpQueue(t, e, goName)

	ids := []string{"w1", "w2", "dl", "pr", "fa", "co", "pa", "repeat:s:1000", "ghost"}
	var ops []map[string]any
	for _, id := range ids {
		ops = append(ops, map[string]any{"op": "remove", "args": []any{id}})
	}
	p := startPeer(e.ctx, e.t, "admin", e.args(nodeName, map[string]any{"ops": ops}))
	for i, m := range p.collect(30*time.Second, "op") {
		if string(m.Result) != "1" {
			t.Errorf("node remove %s = %s", ids[i], m.Result)
		}
	}
	gq := e.goQueue(goName)
	for _, id := range ids {
		if err := gq.Remove(e.ctx, id); err != nil {
			t.Errorf("go remove %s: %v", id, err)
		}
	}
	goKeys, goEvents := dumpQueue(t, e, goName)
	nodeKeys, nodeEvents := dumpQueue(t, e, nodeName)
	if mustJSON(t, goKeys) != mustJSON(t, nodeKeys) {
		t.Errorf("keys after remove differ:\n go:   %v\n node: %v", goKeys, nodeKeys)
	}
	if mustJSON(t, goEvents) != mustJSON(t, nodeEvents) {
		t.Errorf("events differ:\n go:   %q\n node: %q", goEvents, nodeEvents)
	}
	// What Node wrote, spelled out (so the comparison cannot pass on two
	// identical mistakes).
	want := []string{"event=removed jobId=w1 prev=wait", "event=removed jobId=w2 prev=wait", "event=removed jobId=dl prev=delayed",
		"event=removed jobId=pr prev=prioritized", "event=removed jobId=fa prev=failed", "event=removed jobId=co prev=completed",
		"event=removed jobId=pa prev=paused", "event=removed jobId=repeat:s:1000 prev=completed"}
	if mustJSON(t, nodeEvents) != mustJSON(t, want) {
		t.Errorf("node events = %q", nodeEvents)
	}
	for _, gone := range []string{"w1", "de:d1", "dn:d1", "co", "co:logs", "repeat:s:1000"} {
		if _, ok := goKeys[gone]; ok {
			t.Errorf("go: %s still there", gone)
		}
	}
	for _, kept := range []string{"de:d2", "dn:d2", "repeat:s:2000", "repeat", "repeat:s", "logs:x"} {
		if _, ok := goKeys[kept]; !ok {
			t.Errorf("go: %s removed", kept)
		}
	}
	if goKeys["meta"] != `hash {"opts.maxLenEvents":"10000"}` || before["meta"] != "" {
		t.Errorf("meta = %q (before %q)", goKeys["meta"], before["meta"])
	}

	// The scheduler's next iteration: Node refuses, and so does Go.
	p = startPeerNoWait(e.ctx, e.t, "admin", e.args(nodeName, map[string]any{"ops": []map[string]any{{"op": "remove", "args": []any{"repeat:s:2000"}}}}))
	var nodeErr string
	for m := range p.lines {
		if m.Type == "error" {
			nodeErr = m.Message
		}
	}
	if !strings.Contains(nodeErr, "belongs to a job scheduler") {
		t.Errorf("node remove of the next iteration: error %q", nodeErr)
	}
	err := gq.Remove(e.ctx, "repeat:s:2000")
	if !errors.Is(err, queue.ErrSchedulerJob) {
		t.Errorf("go remove of the next iteration: %v", err)
	}
	goKeys2, _ := dumpQueue(t, e, goName)
	nodeKeys2, _ := dumpQueue(t, e, nodeName)
	if mustJSON(t, goKeys2) != mustJSON(t, goKeys) || mustJSON(t, nodeKeys2) != mustJSON(t, nodeKeys) {
		t.Error("a refused remove changed keys")
	}
}

func redisZf(score float64, member string) redis.Z { return redis.Z{Score: score, Member: member} }
