package queue

import (
	"context"
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Values computed with cron-parser 5.10.3 (interop/node_modules, the one
// BullMQ 6.7.0 uses): CronExpressionParser.parse(p, {tz, currentDate:
// new Date(from)}).next() twice.
func TestCronMatchesCronParser(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pattern, tz string
		from        int64
		want        [2]int64
	}{
		{"*/2 * * * * *", "UTC", 1735689601500, [2]int64{1735689602000, 1735689604000}},
		{"*/2 * * * * *", "UTC", 1735689602000, [2]int64{1735689604000, 1735689606000}},
		{"0 */5 * * * *", "UTC", 1735689601234, [2]int64{1735689900000, 1735690200000}},
		{"*/15 * * * *", "UTC", 1735689600000, [2]int64{1735690500000, 1735691400000}},
		{"0 0 9 * * 1-5", "America/New_York", 1735689600000, [2]int64{1735740000000, 1735826400000}},
		{"30 8,20 * * *", "Europe/Paris", 1735689600000, [2]int64{1735716600000, 1735759800000}},
		{"0 0 0 1 JAN,JUL *", "UTC", 1735689600000, [2]int64{1751328000000, 1767225600000}},
		{"0 12 * * SUN", "Asia/Tokyo", 1735689600000, [2]int64{1736046000000, 1736650800000}},
		{"0 0 13 * 5", "UTC", 1735689600000, [2]int64{1735862400000, 1736467200000}},
		{"10-20/5 * * * * *", "UTC", 1735689621000, [2]int64{1735689670000, 1735689675000}},
		{"0 0 0 29 2 *", "UTC", 1735689600000, [2]int64{1835395200000, 1961625600000}},
		{"@hourly", "UTC", 1735689600001, [2]int64{1735693200000, 1735696800000}},
		{"0 30 2 * * *", "America/New_York", 1741500000000, [2]int64{1741505400000, 1741588200000}}, // DST gap
		{"5/20 * * * * *", "UTC", 1735689600000, [2]int64{1735689605000, 1735689625000}},
		{"0 0 12 * * 7", "UTC", 1735689600000, [2]int64{1736078400000, 1736683200000}},
	} {
		a, ok, err := cronNextMs(tc.pattern, tc.tz, tc.from, 1<<62)
		if err != nil || !ok {
			t.Fatalf("%q: %v %v", tc.pattern, ok, err)
		}
		b, _, _ := cronNextMs(tc.pattern, tc.tz, a, 1<<62)
		if got := [2]int64{a, b}; got != tc.want {
			t.Errorf("%q tz %s from %d: got %v, want %v", tc.pattern, tc.tz, tc.from, got, tc.want)
		}
	}
	for _, bad := range []string{"0 0 L * *", "0 0 * * 5#3", "1 2 3 4 5 6 7", "0 0 H * *", "61 * * * * *", "* * * * FOO"} {
		if _, _, err := cronNextMs(bad, "UTC", 0, 1<<62); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, ok, _ := cronNextMs("0 0 0 * * *", "UTC", 1735689600000, 1735700000000); ok {
		t.Error("a next time after endDate was returned")
	}
}

func TestHasLegacyRepeatKeyShape(t *testing.T) {
	t.Parallel()
	for k, want := range map[string]bool{
		"name:id::UTC:*/5 * * * *": true, "n:i:123::1000": true, "n:i:abc::1000": false,
		"s": false, "a:b:c:d:": false, "a:b:c:d:x": false, "my:sched": false,
	} {
		if got := hasLegacyRepeatKeyShape(k); got != want {
			t.Errorf("%q: %v, want %v", k, got, want)
		}
	}
}

// seedScheduler writes what Node's upsertJobScheduler leaves for scheduler
// sid (every ms) with its current iteration due at cur (delayed), and
// returns that iteration as a worker would read it.
func seedScheduler(t *testing.T, b *bundle, sid string, every, cur int64, repeat map[string]any) *Job {
	t.Helper()
	ctx := b.ctx
	k := b.q.k
	if repeat == nil {
		repeat = map[string]any{}
	}
	repeat["every"] = every
	if _, ok := repeat["count"]; !ok {
		repeat["count"] = 1
	}
	id := "repeat:" + sid + ":" + strconv.FormatInt(cur, 10)
	opts := map[string]any{"repeat": repeat, "jobId": id, "delay": 0, "timestamp": cur - every,
		"repeatJobKey": sid, "attempts": 2, "removeOnComplete": 5}
	ob, _ := json.Marshal(opts)
	if err := b.client.HSet(ctx, k.key("repeat:"+sid), "name", "tick", "every", every, "ic", 1,
		"data", `{"x":1}`, "opts", `{"attempts":2}`).Err(); err != nil {
		t.Fatal(err)
	}
	b.client.ZAdd(ctx, k.repeat(), redis.Z{Score: float64(cur), Member: sid})
	b.client.HSet(ctx, k.job(id), "name", "tick", "data", `{"x":1}`, "opts", string(ob),
		"timestamp", cur-every, "delay", 0, "priority", 0, "rjk", sid)
	b.client.LPush(ctx, k.wait(), id)
	h := b.client.HGetAll(ctx, k.job(id)).Val()
	j, err := jobFromHash(id, h)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func fixedClock(ms int64) func() time.Time { return func() time.Time { return time.UnixMilli(ms) } }

func TestAdvanceScheduler(t *testing.T) {
	t.Parallel()
	const cur = int64(1_800_000_000_000) // current iteration's millis
	type want struct {
		code int64
		next int64 // 0: no new iteration
	}
	for _, tc := range []struct {
		name   string
		now    int64
		repeat map[string]any
		prep   func(b *bundle)
		want   want
	}{
		{"on time", cur + 10, nil, nil, want{advCreated, cur + 1000}},
		{"behind: aligned catch-up", cur + 3500, nil, nil, want{advCreated, cur + 4000}},
		{"behind with offset", cur + 3500, map[string]any{"offset": 300}, func(b *bundle) {
			b.client.HSet(b.ctx, b.q.k.key("repeat:s"), "offset", 300)
		}, want{advCreated, cur + 3300 + 1000}},
		{"due now goes to wait", cur + 1000, nil, nil, want{advCreated, cur + 1000}},
		{"limit reached", cur, map[string]any{"limit": 3, "count": 3}, nil, want{advSkipped, 0}},
		{"limit not yet", cur, map[string]any{"limit": 3, "count": 2}, nil, want{advCreated, cur + 1000}},
		{"endDate past", cur + 10, map[string]any{"endDate": cur}, nil, want{advSkipped, 0}},
		{"collision", cur + 10, nil, func(b *bundle) {
			b.client.HSet(b.ctx, b.q.k.job("repeat:s:"+strconv.FormatInt(cur+1000, 10)), "name", "x")
		}, want{advDuplicated, 0}},
		{"scheduler removed", cur + 10, nil, func(b *bundle) {
			b.client.ZRem(b.ctx, b.q.k.repeat(), "s")
		}, want{advGone, 0}},
		{"not the current iteration", cur + 10, nil, func(b *bundle) {
			b.client.ZAdd(b.ctx, b.q.k.repeat(), redis.Z{Score: float64(cur + 1000), Member: "s"})
		}, want{advNotCurrent, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			job := seedScheduler(t, b, "s", 1000, cur, tc.repeat)
			if tc.prep != nil {
				tc.prep(b)
			}
			w := newWorker(t, b, func(context.Context, *Job) (any, error) { return nil, nil },
				&WorkerOptions{Now: fixedClock(tc.now)})
			idBefore, _ := b.client.Get(b.ctx, b.q.k.id()).Int64()
			icBefore, _ := b.client.HGet(b.ctx, b.q.k.key("repeat:s"), "ic").Int64()
			evBefore := b.client.XLen(b.ctx, b.q.k.events()).Val()
			r, err := w.runAdvance(job)
			if err != nil {
				t.Fatal(err)
			}
			if r.code != tc.want.code {
				t.Fatalf("code %d (%+v), want %d", r.code, r, tc.want.code)
			}
			ic, _ := b.client.HGet(b.ctx, b.q.k.key("repeat:s"), "ic").Int64()
			idNow, _ := b.client.Get(b.ctx, b.q.k.id()).Int64()
			evs := b.client.XRange(b.ctx, b.q.k.events(), "-", "+").Val()[evBefore:]
			if tc.want.code == advDuplicated {
				nextID := "repeat:s:" + strconv.FormatInt(cur+1000, 10)
				if r.nextID != nextID || len(evs) != 1 || evs[0].Values["event"] != "duplicated" || evs[0].Values["jobId"] != nextID {
					t.Fatalf("duplicated: %+v events %v", r, evs)
				}
			}
			if tc.want.next == 0 {
				if ic != icBefore || idNow != idBefore {
					t.Fatalf("ic %d→%d id %d→%d without a new iteration", icBefore, ic, idBefore, idNow)
				}
				if tc.want.code != advDuplicated && len(evs) != 0 {
					t.Fatalf("events without a new iteration: %v", evs)
				}
				return
			}
			nextID := "repeat:s:" + strconv.FormatInt(tc.want.next, 10)
			if r.nextID != nextID {
				t.Fatalf("next %q, want %q", r.nextID, nextID)
			}
			if ic != icBefore+1 || idNow != idBefore+1 {
				t.Fatalf("ic %d→%d id %d→%d", icBefore, ic, idBefore, idNow)
			}
			if s := b.client.ZScore(b.ctx, b.q.k.repeat(), "s").Val(); int64(s) != tc.want.next {
				t.Fatalf("repeat score %v", s)
			}
			h := b.client.HGetAll(b.ctx, b.q.k.job(nextID)).Val()
			delay := max(tc.want.next-tc.now, 0)
			for f, v := range map[string]string{"name": "tick", "data": `{"x":1}`, "rjk": "s",
				"timestamp": strconv.FormatInt(tc.now, 10), "delay": strconv.FormatInt(delay, 10), "priority": "0"} {
				if h[f] != v {
					t.Errorf("field %s = %q, want %q", f, h[f], v)
				}
			}
			var o map[string]any
			if err := json.Unmarshal([]byte(h["opts"]), &o); err != nil {
				t.Fatalf("opts %q: %v", h["opts"], err)
			}
			rep, _ := o["repeat"].(map[string]any)
			wantCount := float64(2)
			if c, ok := tc.repeat["count"]; ok {
				wantCount = float64(c.(int) + 1)
			}
			if o["jobId"] != nextID || o["delay"] != float64(delay) || o["timestamp"] != float64(tc.now) ||
				o["repeatJobKey"] != "s" || o["attempts"] != float64(2) || o["removeOnComplete"] != float64(5) ||
				rep["every"] != float64(1000) || rep["count"] != wantCount {
				t.Fatalf("opts %s", h["opts"])
			}
			if _, ok := o["prevMillis"]; ok {
				t.Fatalf("every iteration carries prevMillis: %s", h["opts"])
			}
			var names []string
			for _, e := range evs {
				names = append(names, e.Values["event"].(string))
			}
			if delay > 0 {
				sc := b.client.ZScore(b.ctx, b.q.k.delayed(), nextID).Val()
				if int64(sc)/4096 != tc.want.next || !reflect.DeepEqual(names, []string{"added", "delayed"}) ||
					evs[1].Values["delay"] != strconv.FormatInt(tc.want.next, 10) {
					t.Fatalf("delayed score %v events %v", sc, evs)
				}
				if m := b.client.ZScore(b.ctx, b.q.k.marker(), "1").Val(); int64(m) != tc.want.next {
					t.Fatalf("marker 1 = %v", m)
				}
			} else {
				if pos := b.client.LPos(b.ctx, b.q.k.wait(), nextID, redis.LPosArgs{}).Val(); pos != 0 {
					t.Fatalf("not at the head of wait: %d", pos)
				}
				if !reflect.DeepEqual(names, []string{"added", "waiting"}) {
					t.Fatalf("events %v", names)
				}
			}
		})
	}
}

// A cron iteration gets prevMillis and the cron-parser next time.
func TestAdvanceSchedulerCron(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const cur = int64(1735689602000)
	job := seedScheduler(t, b, "c", 0, cur, map[string]any{"pattern": "*/2 * * * * *", "tz": "UTC", "count": 4})
	b.client.HDel(b.ctx, b.q.k.key("repeat:c"), "every")
	b.client.HSet(b.ctx, b.q.k.key("repeat:c"), "pattern", "*/2 * * * * *", "tz", "UTC")
	// strip every from the job's repeat as Node stores cron iterations
	var o map[string]any
	_ = json.Unmarshal(job.RawOpts, &o)
	rep := o["repeat"].(map[string]any)
	delete(rep, "every")
	o["prevMillis"] = cur
	ob, _ := json.Marshal(o)
	b.client.HSet(b.ctx, b.q.k.job(job.ID), "opts", string(ob))
	job, _ = jobFromHash(job.ID, b.client.HGetAll(b.ctx, b.q.k.job(job.ID)).Val())

	w := newWorker(t, b, func(context.Context, *Job) (any, error) { return nil, nil },
		&WorkerOptions{Now: fixedClock(cur - 500)})
	r, err := w.runAdvance(job)
	if err != nil || r.code != advCreated || r.nextID != "repeat:c:1735689604000" {
		t.Fatalf("%+v %v", r, err)
	}
	var got map[string]any
	_ = json.Unmarshal([]byte(b.client.HGet(b.ctx, b.q.k.job(r.nextID), "opts").Val()), &got)
	gr := got["repeat"].(map[string]any)
	if got["prevMillis"] != float64(1735689604000) || gr["pattern"] != "*/2 * * * * *" || gr["count"] != float64(5) || gr["tz"] != "UTC" {
		t.Fatalf("opts %v", got)
	}
}

// End to end: a Go worker alone keeps an every scheduler running, and the
// iterations also run when they fail on defa.
func TestWorkerAdvancesScheduler(t *testing.T) {
	t.Parallel()
	b := setup(t)
	now := time.Now().UnixMilli()
	cur := now - now%200
	seedScheduler(t, b, "s", 200, cur, nil)
	rec := &recorder{}
	startWorker(t, b, func(context.Context, *Job) (any, error) { return nil, nil },
		&WorkerOptions{OnEvent: rec.on, DrainDelay: 50 * time.Millisecond})
	waitFor(t, 10*time.Second, "4 iterations", func() bool { return rec.count(EventCompleted) >= 4 })
	ic, _ := b.client.HGet(b.ctx, b.q.k.key("repeat:s"), "ic").Int64()
	if ic < 5 {
		t.Fatalf("ic = %d after %d completions", ic, rec.count(EventCompleted))
	}
}
