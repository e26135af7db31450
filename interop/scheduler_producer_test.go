package interop

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

// schedStep is one producer call on a job scheduler, in Node's terms and
// in Go's.
type schedStep struct {
	op       string // upsert or remove
	id       string
	repeat   map[string]any
	goRepeat queue.RepeatOptions
	tmpl     map[string]any
	goTmpl   *queue.JobTemplate
}

// runSched runs steps on queue name, step i by Node when by[i] is 'n',
// by Go when 'g'.
func (e *env) runSched(name, by string, steps []schedStep) {
	e.t.Helper()
	for i, s := range steps {
		if s.op == "pause" {
			if err := e.goQueue(name).Pause(e.ctx); err != nil {
				e.t.Fatal(err)
			}
			continue
		}
		if by[i] == 'n' {
			op := map[string]any{"op": s.op, "id": s.id}
			if s.op == "upsert" {
				op["repeat"], op["template"] = s.repeat, s.tmpl
			}
			e.schedOps(name, op)
			continue
		}
		q := e.goQueue(name)
		var err error
		if s.op == "upsert" {
			_, err = q.UpsertJobScheduler(e.ctx, s.id, s.goRepeat, s.goTmpl)
		} else {
			_, err = q.RemoveJobScheduler(e.ctx, s.id)
		}
		if err != nil {
			e.t.Fatalf("Go %s %s: %v", s.op, s.id, err)
		}
	}
}

// schedFix hides what depends on the moment of the call: the iteration's
// relative delay and its opts timestamp.
func schedFix(h map[string]any) {
	if d, ok := h["delay"]; ok && d != "0" {
		h["delay"] = "D"
	}
	if o, ok := h["opts"].(map[string]any); ok {
		if _, ok := o["timestamp"]; ok {
			o["timestamp"] = "T"
		}
		if d, ok := o["delay"].(float64); ok && d != 0 {
			o["delay"] = "D"
		}
	}
}

// schedScenarios: fixed future start dates make the iteration times
// deterministic, so Node's and Go's writes compare exactly.
func schedScenarios() map[string][]schedStep {
	hour := time.Now().Add(2 * time.Hour).Truncate(time.Hour)
	start, end := hour.UnixMilli(), hour.Add(48*time.Hour).UnixMilli()
	every := schedStep{op: "upsert", id: "ev",
		repeat:   map[string]any{"every": 60000, "startDate": start, "endDate": end, "limit": 5},
		goRepeat: queue.RepeatOptions{Every: time.Minute, StartDate: hour, EndDate: hour.Add(48 * time.Hour), Limit: 5},
		tmpl: map[string]any{"name": "tick", "data": map[string]any{"n": 1, "s": "a/b"},
			"opts": map[string]any{"priority": 2, "attempts": 3, "removeOnComplete": true}},
		goTmpl: &queue.JobTemplate{Name: "tick", Data: map[string]any{"n": 1, "s": "a/b"},
			Opts: &queue.AddOptions{Priority: 2, Attempts: 3, RemoveOnComplete: queue.RemoveAll()}}}
	cron := schedStep{op: "upsert", id: "cr",
		repeat:   map[string]any{"pattern": "0 30 9 * * 1-5", "tz": "America/New_York", "startDate": start},
		goRepeat: queue.RepeatOptions{Pattern: "0 30 9 * * 1-5", TZ: "America/New_York", StartDate: hour}}
	offset := schedStep{op: "upsert", id: "off",
		repeat:   map[string]any{"every": 10000, "offset": 2500, "startDate": start},
		goRepeat: queue.RepeatOptions{Every: 10 * time.Second, Offset: 2500 * time.Millisecond, StartDate: hour},
		tmpl:     map[string]any{"data": map[string]any{}}, goTmpl: &queue.JobTemplate{Data: map[string]any{}}}
	// a replacement: another interval, start, name and data
	every2 := every
	every2.repeat = map[string]any{"every": 120000, "startDate": start + 3600000}
	every2.goRepeat = queue.RepeatOptions{Every: 2 * time.Minute, StartDate: hour.Add(time.Hour)}
	every2.tmpl = map[string]any{"name": "tock", "data": []any{2}}
	every2.goTmpl = &queue.JobTemplate{Name: "tock", Data: []any{2}}
	cron2 := cron
	cron2.repeat = map[string]any{"pattern": "0 0 12 * * *", "tz": "UTC", "startDate": start}
	cron2.goRepeat = queue.RepeatOptions{Pattern: "0 0 12 * * *", TZ: "UTC", StartDate: hour}
	return map[string][]schedStep{
		"every":   {every},
		"cron":    {cron},
		"offset":  {offset},
		"replace": {every, cron, every2, cron2},
		"remove":  {every, cron, {op: "remove", id: "ev"}, {op: "remove", id: "cr"}, {op: "remove", id: "none"}},
	}
}

// UpsertJobScheduler and RemoveJobScheduler write what Node's do, key by
// key, whoever made the scheduler: every (start, end, limit, template opts
// and data), cron (tz, start), every with an offset, replacements and
// removals — Go alone, and Go and Node taking turns on one scheduler,
// compared with Node alone.
func TestInteropJobScheduler_SameStateAsNode(t *testing.T) {
	t.Parallel()
	for name, steps := range schedScenarios() {
		name, steps := name, steps
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			all := func(c byte) string { return strings.Repeat(string(c), len(steps)) }
			alt := func(first byte) string {
				b := []byte(all(first))
				for i := 1; i < len(b); i += 2 {
					b[i] = 'g' + 'n' - first
				}
				return string(b)
			}
			nodeName := e.queueName("n")
			e.runSched(nodeName, all('n'), steps)
			want := queueStates(t, e, map[string]string{"Q": nodeName}, schedFix)
			if len(want) < 3 {
				t.Fatalf("Node wrote only %v", want)
			}
			for _, by := range []string{all('g'), alt('g'), alt('n')} {
				if by == all('n') {
					continue
				}
				goName := e.queueName(by)
				e.runSched(goName, by, steps)
				t.Logf("steps by %s", by)
				sameState(t, want, queueStates(t, e, map[string]string{"Q": goName}, schedFix))
			}
		})
	}
}

// Node workers run schedulers made by Go (every and cron): each start
// creates the next iteration, ic grows, and Node's getJobScheduler agrees
// with Go's.
func TestInteropJobScheduler_GoMadeNodeWorkers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("s")
	q := e.goQueue(name)
	first, err := q.UpsertJobScheduler(e.ctx, "ev", queue.RepeatOptions{Every: 700 * time.Millisecond},
		&queue.JobTemplate{Name: "tick", Data: map[string]any{"return": "ok"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first.ID, "repeat:ev:") || first.Delay != 0 {
		t.Fatalf("first iteration %s delay %d, want repeat:ev:<now> due now", first.ID, first.Delay)
	}
	if _, err := q.UpsertJobScheduler(e.ctx, "cr", queue.RepeatOptions{Pattern: "*/2 * * * * *", TZ: "UTC"},
		&queue.JobTemplate{Name: "cron"}); err != nil {
		t.Fatal(err)
	}
	p := startPeer(e.ctx, t, "work", e.args(name, map[string]any{"exitAfter": 5}))
	started := p.collect(60*time.Second, "started")
	if strings.Contains(p.stderr.String(), "error") {
		t.Fatalf("Node worker errors: %s", p.stderr.String())
	}
	seen := map[string]int{}
	for _, s := range started {
		switch {
		case strings.HasPrefix(s.ID, "repeat:ev:") && s.Name == "tick":
			seen["ev"]++
		case strings.HasPrefix(s.ID, "repeat:cr:") && s.Name == "cron" && iterMillis(t, s.ID)%2000 == 0:
			seen["cr"]++
		default:
			t.Fatalf("Node started %s (%s)", s.ID, s.Name)
		}
	}
	if seen["ev"] < 2 || seen["cr"] < 1 {
		t.Fatalf("Node ran %v of the Go-made schedulers", seen)
	}
	for _, sid := range []string{"ev", "cr"} {
		it := e.iteration(name, sid)
		if it.repeat["count"] != float64(seen[sid]+1) || e.schedIC(name, sid) != int64(seen[sid]+1) {
			t.Fatalf("%s: next iteration %+v, ic %d after %d runs", sid, it, e.schedIC(name, sid), seen[sid])
		}
		gs, err := q.GetJobScheduler(e.ctx, sid)
		if err != nil {
			t.Fatal(err)
		}
		var ns struct {
			Key            string `json:"key"`
			Name           string `json:"name"`
			Next           int64  `json:"next"`
			IterationCount int64  `json:"iterationCount"`
			Every          int64  `json:"every"`
			Pattern        string `json:"pattern"`
			TZ             string `json:"tz"`
		}
		if err := json.Unmarshal(e.schedOps(name, map[string]any{"op": "get", "id": sid})[0], &ns); err != nil {
			t.Fatal(err)
		}
		if ns.Key != gs.ID || ns.Name != gs.Name || ns.Next != gs.Next || ns.Next != it.millis || ns.IterationCount != gs.IterationCount ||
			ns.Every != gs.Every || ns.Pattern != gs.Pattern || ns.TZ != gs.TZ {
			t.Fatalf("Node getJobScheduler %+v, Go %+v", ns, gs)
		}
	}
	list, err := q.GetJobSchedulers(e.ctx, 0, -1, true)
	if n, _ := q.GetJobSchedulersCount(e.ctx); err != nil || len(list) != 2 || n != 2 || list[0].Next > list[1].Next {
		t.Fatalf("GetJobSchedulers %+v (%v), count %d", list, err, n)
	}
}

var iterIDRe = regexp.MustCompile(`repeat:([A-Za-z0-9]+):\d{13}`)

// Schedulers due now (every without a start date, a cron pattern with
// immediately) write what Node writes once the call time is hidden: the
// iteration's millis, the stored offset (now mod every).
func TestInteropJobScheduler_DueNowSameAsNode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	steps := []schedStep{
		{op: "upsert", id: "now", repeat: map[string]any{"every": 5000}, goRepeat: queue.RepeatOptions{Every: 5 * time.Second},
			tmpl: map[string]any{"opts": map[string]any{"lifo": true}}, goTmpl: &queue.JobTemplate{Opts: &queue.AddOptions{LIFO: true}}},
		{op: "upsert", id: "imm", repeat: map[string]any{"pattern": "0 0 1 1 *", "immediately": true},
			goRepeat: queue.RepeatOptions{Pattern: "0 0 1 1 *", Immediately: true},
			tmpl:     map[string]any{"opts": map[string]any{"priority": 4}}, goTmpl: &queue.JobTemplate{Opts: &queue.AddOptions{Priority: 4}}},
	}
	dueNowCompare(t, e, steps)
}

// A waiting iteration is not replaced while the queue is paused (Node
// looks for it in the legacy paused list): Go keeps that quirk.
func TestInteropJobScheduler_PausedUpsertSameAsNode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	up := schedStep{op: "upsert", id: "p", repeat: map[string]any{"every": 5000}, goRepeat: queue.RepeatOptions{Every: 5 * time.Second}}
	want := dueNowCompare(t, e, []schedStep{up, {op: "pause"}, up})
	if !strings.Contains(want["Q:wait"], "repeat:p:N") || !strings.Contains(want["Q:delayed"], "repeat:p:N") {
		t.Fatalf("Node kept one iteration only: wait %s, delayed %s", want["Q:wait"], want["Q:delayed"])
	}
}

// dueNowCompare runs steps by Node and by Go on fresh queues and compares
// the Redis states with the call times hidden.
func dueNowCompare(t *testing.T, e *env, steps []schedStep) map[string]string {
	t.Helper()
	fix := func(h map[string]any) {
		schedFix(h)
		if _, ok := h["offset"]; ok {
			h["offset"] = "O"
		}
		if o, ok := h["opts"].(map[string]any); ok && o["prevMillis"] != nil {
			o["prevMillis"] = "T"
		}
	}
	state := func(name, by string) map[string]string {
		e.runSched(name, by, steps)
		out, vs := map[string]string{}, map[string][]string{}
		for k, v := range queueStates(t, e, map[string]string{"Q": name}, fix) {
			v = strings.ReplaceAll(v, `@`, ` @`) // keep zset scores apart from ids
			k, v = iterIDRe.ReplaceAllString(k, "repeat:$1:N"), iterIDRe.ReplaceAllString(v, "repeat:$1:N")
			// Two iterations of one scheduler (the paused quirk) share a
			// normalized key: keep both hashes, in a stable order.
			vs[k] = append(vs[k], v)
		}
		for k, list := range vs {
			sort.Strings(list)
			out[k] = strings.Join(list, "\n          ")
		}
		return out
	}
	want := state(e.queueName("n"), strings.Repeat("n", len(steps)))
	got := state(e.queueName("g"), strings.Repeat("g", len(steps)))
	if !strings.Contains(want["Q:wait"], "repeat:") && !strings.Contains(want["Q:prioritized"], "repeat:") {
		t.Fatalf("Node's iterations are not due now: %v", want)
	}
	sameState(t, want, got)
	return want
}
