package interop

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// resumeSlack bounds how long after the `resumed` event an idle worker may
// take to start a waiting job (checklist: 1 s; the extra half second absorbs
// -race on shared cores, as in TestInterop25_IdlePickup).
const resumeSlack = 1500 * time.Millisecond

// nodeAdmin runs queue admin ops (pause, resume, …) through a Node Queue.
func (e *env) nodeAdmin(name string, ops ...string) {
	e.t.Helper()
	var list []map[string]any
	for _, o := range ops {
		list = append(list, map[string]any{"op": o})
	}
	p := startPeer(e.ctx, e.t, "admin", e.args(name, map[string]any{"ops": list}))
	if got := p.collect(30*time.Second, "op"); len(got) != len(ops) {
		e.t.Fatalf("node admin %v: %d op lines", ops, len(got))
	}
}

// exists reports whether the key of queue name's suffix exists.
func (e *env) exists(name, suffix string) bool {
	e.t.Helper()
	n, err := e.c.Exists(e.ctx, e.key(name, suffix)).Result()
	if err != nil {
		e.t.Fatal(err)
	}
	return n == 1
}

// lastEvent is the last entry of queue name's events stream.
func (e *env) lastEvent(name string) redis.XMessage {
	e.t.Helper()
	xs, err := e.c.XRevRangeN(e.ctx, e.key(name, "events"), "+", "-", 1).Result()
	if err != nil {
		e.t.Fatal(err)
	}
	if len(xs) == 0 {
		e.t.Fatalf("queue %s: empty events stream", name)
	}
	return xs[0]
}

// streamMs is the millisecond part of a stream id (Redis server time).
func streamMs(t testing.TB, id string) int64 {
	t.Helper()
	ms, err := strconv.ParseInt(strings.SplitN(id, "-", 2)[0], 10, 64)
	if err != nil {
		t.Fatalf("stream id %q: %v", id, err)
	}
	return ms
}

// eventOnly checks that x is exactly {event: want} (pause/resume events
// carry no other field).
func eventOnly(t testing.TB, x redis.XMessage, want string) {
	t.Helper()
	if len(x.Values) != 1 || x.Values["event"] != want {
		t.Fatalf("last event %v, want exactly {event: %s}", x.Values, want)
	}
}

// Checklist 8: Node queue.pause(); a Go add lands in `wait` (never the legacy
// `paused` list) without a marker; neither a Node nor a Go worker starts it
// until Node queue.resume(), after which it starts promptly.
func TestInterop08_NodePauseGoAdd(t *testing.T) {
	t.Parallel()
	for _, side := range []string{"node", "go"} {
		t.Run(side+"Worker", func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			name := e.queueName("p8" + side)
			q := e.goQueue(name)
			// An idle worker blocked on the marker before the pause.
			var np *peer
			var gr *goRec
			if side == "node" {
				np = startPeer(e.ctx, t, "work", e.args(name, map[string]any{"drainDelay": 1}))
			} else {
				_, gr = e.goWorker(name, nil, nil)
			}
			e.nodeAdmin(name, "pause")
			if v, err := e.c.HGet(e.ctx, e.key(name, "meta"), "paused").Result(); err != nil || v != "1" {
				t.Fatalf("meta paused = %q (%v), want 1", v, err)
			}
			if e.exists(name, "marker") {
				t.Fatal("marker still exists after Node pause")
			}
			eventOnly(t, e.lastEvent(name), "paused")

			j, err := q.Add(e.ctx, "during-pause", map[string]any{"return": "ok"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			wait, err := e.c.LRange(e.ctx, e.key(name, "wait"), 0, -1).Result()
			if err != nil {
				t.Fatal(err)
			}
			if len(wait) != 1 || wait[0] != j.ID {
				t.Fatalf("wait = %v, want [%s]", wait, j.ID)
			}
			// Two worker drain delays: long enough for a missed pause to show.
			holdsFor(t, 2500*time.Millisecond, "paused: not started, wait intact, no marker, no paused list", func() bool {
				if e.exists(name, "marker") || e.exists(name, "paused") || e.exists(name, "active") {
					return false
				}
				n, err := e.c.LLen(e.ctx, e.key(name, "wait")).Result()
				return err == nil && n == 1
			})
			if gr != nil {
				if st, _, _ := gr.snapshot(); len(st) != 0 {
					t.Fatalf("Go worker started %v while paused", st)
				}
			}
			e.nodeAdmin(name, "resume")
			resumed := e.lastEvent(name)
			if resumed.Values["event"] != "resumed" {
				// The worker may already have started it: find the event.
				for _, x := range e.streamEntries(name) {
					if x.Values["event"] == "resumed" {
						resumed = x
					}
				}
			}
			eventOnly(t, resumed, "resumed")
			resumedMs := streamMs(t, resumed.ID)
			if e.exists(name, "paused") {
				t.Fatal("legacy paused list created")
			}
			if _, err := e.c.HGet(e.ctx, e.key(name, "meta"), "paused").Result(); err != redis.Nil {
				t.Fatalf("meta paused still set after resume (%v)", err)
			}

			var startMs int64
			if np != nil {
				m := np.waitFor("Node start of "+j.ID, 10*time.Second, func(m msg) bool { return m.Type == "started" })
				if m.ID != j.ID {
					t.Fatalf("Node started %s, want %s", m.ID, j.ID)
				}
				startMs = m.TS
				// Nothing started before the resume: the first start line is this one.
				np.mu.Lock()
				all := append([]msg(nil), np.all...)
				np.mu.Unlock()
				for _, x := range all {
					if x.Type == "started" && x.ID != j.ID {
						t.Fatalf("Node started unexpected job %s", x.ID)
					}
				}
			} else {
				startMs = gr.waitStarted(t, j.ID, 10*time.Second).TS.UnixMilli()
			}
			if d := time.Duration(startMs-resumedMs) * time.Millisecond; d < 0 || d > resumeSlack {
				t.Fatalf("%s worker started %s %v after the resumed event, want within [0, %v]", side, j.ID, d, resumeSlack)
			}
		})
	}
}

// pauseState is the Redis state pause/resume touch.
type pauseState struct {
	meta   map[string]string
	marker []redis.Z
	wait   []string
	paused bool // legacy list exists
	last   string
}

func (e *env) pauseState(name string) pauseState {
	e.t.Helper()
	meta, err := e.c.HGetAll(e.ctx, e.key(name, "meta")).Result()
	if err != nil {
		e.t.Fatal(err)
	}
	marker, err := e.c.ZRangeWithScores(e.ctx, e.key(name, "marker"), 0, -1).Result()
	if err != nil {
		e.t.Fatal(err)
	}
	wait, err := e.c.LRange(e.ctx, e.key(name, "wait"), 0, -1).Result()
	if err != nil {
		e.t.Fatal(err)
	}
	x := e.lastEvent(name)
	if len(x.Values) != 1 {
		e.t.Fatalf("last event %v carries fields", x.Values)
	}
	s, _ := x.Values["event"].(string)
	return pauseState{meta: meta, marker: marker, wait: wait, paused: e.exists(name, "paused"), last: s}
}

func samePauseState(t testing.TB, stage string, goSt, nodeSt pauseState) {
	t.Helper()
	if mustJSON(t, goSt.meta) != mustJSON(t, nodeSt.meta) || mustJSON(t, goSt.marker) != mustJSON(t, nodeSt.marker) ||
		len(goSt.wait) != len(nodeSt.wait) || goSt.paused || nodeSt.paused || goSt.last != nodeSt.last {
		t.Fatalf("%s: Go state %+v differs from Node state %+v", stage, goSt, nodeSt)
	}
}

// Checklist 9: Go Pause/Resume leave the same state and events as Node's
// queue.pause()/resume(); Node isPaused/getMeta agree; a Node worker stops
// fetching while Go has the queue paused and starts after Go resumes it.
func TestInterop09_GoPauseResume(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	goName, nodeName := e.queueName("p9go"), e.queueName("p9node")
	goQ, nodeQ := e.goQueue(goName), e.goQueue(nodeName)
	for _, q := range []string{goName, nodeName} {
		if _, err := e.goQueue(q).Add(e.ctx, "x", map[string]any{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	nodeView := func(name string) nodeQueue {
		_, nq := e.nodeInspect(name, nil, nil)
		return nq
	}

	if err := goQ.Pause(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.nodeAdmin(nodeName, "pause")
	gs, ns := e.pauseState(goName), e.pauseState(nodeName)
	samePauseState(t, "after pause", gs, ns)
	if gs.meta["paused"] != "1" || len(gs.marker) != 0 || gs.last != "paused" || len(gs.wait) != 1 {
		t.Fatalf("after Go pause: %+v, want meta paused 1, no marker, last event paused, job still in wait", gs)
	}
	if nq := nodeView(goName); !nq.Paused || nq.Meta["paused"] != true {
		t.Fatalf("after Go pause, Node isPaused %v, getMeta().paused %v; want true, true", nq.Paused, nq.Meta["paused"])
	}
	if p, err := nodeQ.IsPaused(e.ctx); err != nil || !p {
		t.Fatalf("Go IsPaused after Node pause = %v (%v)", p, err)
	}

	if err := goQ.Resume(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.nodeAdmin(nodeName, "resume")
	gs, ns = e.pauseState(goName), e.pauseState(nodeName)
	samePauseState(t, "after resume", gs, ns)
	if _, ok := gs.meta["paused"]; ok || len(gs.marker) != 1 || gs.marker[0].Member != "0" || gs.marker[0].Score != 0 || gs.last != "resumed" {
		t.Fatalf("after Go resume: %+v, want no meta paused, marker {0: 0}, last event resumed", gs)
	}
	if nq := nodeView(goName); nq.Paused || nq.Meta["paused"] != false {
		t.Fatalf("after Go resume, Node isPaused %v, getMeta().paused %v; want false, false", nq.Paused, nq.Meta["paused"])
	}
	if p, err := nodeQ.IsPaused(e.ctx); err != nil || p {
		t.Fatalf("Go IsPaused after Node resume = %v (%v)", p, err)
	}

	// Resume with nothing waiting: marker `1` (MARK1), as Node writes it.
	emptyGo, emptyNode := e.queueName("p9ego"), e.queueName("p9enode")
	eq := e.goQueue(emptyGo)
	if err := eq.Pause(e.ctx); err != nil {
		t.Fatal(err)
	}
	if err := eq.Resume(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.nodeAdmin(emptyNode, "pause", "resume")
	gs, ns = e.pauseState(emptyGo), e.pauseState(emptyNode)
	samePauseState(t, "empty queue after resume", gs, ns)
	if _, ok := gs.meta["paused"]; ok || gs.last != "resumed" {
		t.Fatalf("empty queue after Go resume: %+v", gs)
	}

	// A Node worker stops fetching while Go has the queue paused and restarts
	// after Go resumes it.
	wName := e.queueName("p9w")
	wq := e.goQueue(wName)
	np := startPeer(e.ctx, t, "work", e.args(wName, map[string]any{"drainDelay": 1}))
	first, err := wq.Add(e.ctx, "before", map[string]any{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := np.waitFor("start of the job added before the pause", 10*time.Second, func(m msg) bool { return m.Type == "started" }); m.ID != first.ID {
		t.Fatalf("Node started %s, want %s", m.ID, first.ID)
	}
	np.waitFor("completion before the pause", 10*time.Second, func(m msg) bool { return m.Type == "completed" && m.ID == first.ID })
	if err := wq.Pause(e.ctx); err != nil {
		t.Fatal(err)
	}
	j, err := wq.Add(e.ctx, "during", map[string]any{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	holdsFor(t, 2500*time.Millisecond, "Go-paused queue: job stays in wait", func() bool {
		n, err := e.c.LLen(e.ctx, e.key(wName, "wait")).Result()
		return err == nil && n == 1 && !e.exists(wName, "marker")
	})
	if err := wq.Resume(e.ctx); err != nil {
		t.Fatal(err)
	}
	var resumedMs int64
	for _, x := range e.streamEntries(wName) {
		if x.Values["event"] == "resumed" {
			resumedMs = streamMs(t, x.ID)
		}
	}
	if resumedMs == 0 {
		t.Fatal("no resumed event after Go Resume")
	}
	m := np.waitFor("Node start after the Go resume", 10*time.Second, func(m msg) bool { return m.Type == "started" })
	if m.ID != j.ID {
		t.Fatalf("Node started %s, want %s", m.ID, j.ID)
	}
	if d := time.Duration(m.TS-resumedMs) * time.Millisecond; d < 0 || d > resumeSlack {
		t.Fatalf("Node started %s %v after the Go resumed event, want within [0, %v]", j.ID, d, resumeSlack)
	}
}
