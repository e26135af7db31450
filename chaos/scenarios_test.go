package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/zyeute/zyeute-redis/internal/jobs"
	"github.com/zyeute/zyeute-redis/internal/redistest"
)

// The dispatcher's documented bounds (internal/jobs DispatcherConfig
// defaults): an add gives up after addTimeout and the job runs inline,
// bounded by syncTimeout.
const (
	addTimeout  = 2 * time.Second
	syncTimeout = 30 * time.Second
)

// healthWatch polls GET /api/health every interval until stop, recording
// the Redis statuses seen, failures and the slowest answer.
type healthWatch struct {
	mu       sync.Mutex
	statuses map[string]int
	errors   int
	slowest  time.Duration
	stop     chan struct{}
	done     chan struct{}
}

func watchHealth(base string, interval time.Duration) *healthWatch {
	h := &healthWatch{statuses: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	c := &http.Client{Timeout: 5 * time.Second}
	go func() {
		defer close(h.done)
		for i := 0; i < 100000; i++ {
			select {
			case <-h.stop:
				return
			case <-time.After(interval):
			}
			start := time.Now()
			resp, err := c.Get(base + "/api/health")
			d := time.Since(start)
			var doc struct {
				Redis struct {
					Status string `json:"status"`
				} `json:"redis"`
			}
			if err == nil {
				_ = json.NewDecoder(resp.Body).Decode(&doc)
				resp.Body.Close()
			}
			h.mu.Lock()
			if err != nil || resp.StatusCode != http.StatusOK {
				h.errors++
			} else {
				h.statuses[doc.Redis.Status]++
			}
			h.slowest = max(h.slowest, d)
			h.mu.Unlock()
		}
	}()
	return h
}

func (h *healthWatch) finish() {
	close(h.stop)
	<-h.done
}

// inWindow counts outcomes answered or sent in [from, to].
func sentBetween(outs []*outcome, from, to time.Time) []*outcome {
	var r []*outcome
	for _, o := range outs {
		if o.routed && !o.sent.Before(from) && !o.sent.After(to) {
			r = append(r, o)
		}
	}
	return r
}

// ------------------------------------------------------ 1 and 2: Redis kill

func TestRedisKillWithAOF(t *testing.T) { redisKill(t, true) }

func TestRedisKillWithoutPersistence(t *testing.T) { redisKill(t, false) }

// redisKill: jobs are submitted through the API at a steady rate, the
// workers of serve running, while Redis is SIGKILLed and restarted.
func redisKill(t *testing.T, aof bool) {
	dir := logDir(t)
	var opts *redistest.Options
	fault, tag := "Redis SIGKILL, no persistence", "nopersist"
	if aof {
		opts = &redistest.Options{Args: []string{"--appendonly", "yes", "--appendfsync", "everysec"}}
		fault, tag = "Redis SIGKILL + restart, AOF everysec", "aof"
	}
	srv := redistest.Start(t, opts)
	svc := startServe(t, dir, "serve", srv.URL(), map[string]string{"WORKER_CONCURRENCY": "10"})
	lg := newLedger(svc.proc)
	hw := watchHealth(svc.base, 100*time.Millisecond)

	n, rate := pick(500, 10000), pick(100.0, 200.0)
	outage := pick(time.Second, 2*time.Second)
	killAt := pick(0.25, 0.4) // of the submission time
	// Every 5th job is delayed 1.5 s: Redis always holds some jobs.
	ld := &load{base: svc.base, tag: tag, n: n, rate: rate, delayEvery: 5, delay: 1500 * time.Millisecond}
	var outs []*outcome
	loadDone := make(chan struct{})
	go func() { outs = ld.run(); close(loadDone) }()

	time.Sleep(time.Duration(float64(n) * killAt / rate * float64(time.Second)))
	// One job with a counter id (no opts.job_id), on a queue the load does
	// not use, delayed past the kill.
	autoID := postAuto(t, svc.base, 60000)
	killTime := time.Now()
	srv.Kill()
	time.Sleep(outage)
	srv.Restart()
	restartTime := time.Now()
	// Completions Redis recorded whose reply the workers never got.
	recon := 0
	if aof {
		rdb := srv.Client(t)
		recon = lg.reconcile(rdb, lg.startedNotCompleted(""))
	}
	<-loadDone
	hw.finish()

	// With no persistence, the jobs Redis held at the kill are gone: those
	// queued by a request sent before the kill and not completed before
	// it. Wait only for the others (bounded), then count.
	var expectLost map[string]bool
	if !aof {
		lg.update()
		expectLost = map[string]bool{}
		for _, o := range outs {
			if !o.accepted() || o.mode != "queued" || !o.sent.Before(killTime) {
				continue
			}
			if cs := lg.completions(o.id); len(cs) == 0 || cs[0].at.After(killTime) {
				expectLost[o.id] = true
			}
		}
	}
	var waitOn []*outcome
	for _, o := range outs {
		if !expectLost[o.id] {
			waitOn = append(waitOn, o)
		}
	}
	waitCompleted(waitOn, lg, pick(60*time.Second, 180*time.Second))
	if !aof {
		time.Sleep(2 * time.Second) // anything that could still come back
	}
	tl, lost, dup := count(fault, outs, lg)

	// In flight at the kill: handler runs started and not completed, and
	// POSTs sent and not yet answered.
	inflight := 0
	for _, o := range outs {
		if !o.routed {
			continue
		}
		if o.sent.Before(killTime) && o.answered.After(killTime) {
			inflight++
			continue
		}
		rs := lg.runs(o.id)
		if len(rs) > 0 && rs[0].at.Before(killTime) {
			cs := lg.completions(o.id)
			if len(cs) == 0 || cs[0].at.After(killTime) {
				inflight++
			}
		}
	}
	// Recovery: the first job completed by a worker after the restart.
	var firstAfter time.Time
	lg.mu.Lock()
	for _, cs := range lg.complete {
		for _, c := range cs {
			if c.at.After(restartTime) && (firstAfter.IsZero() || c.at.Before(firstAfter)) {
				firstAfter = c.at
			}
		}
	}
	lg.mu.Unlock()
	if !firstAfter.IsZero() {
		tl.Recovery = ms(firstAfter.Sub(restartTime)) + " after restart"
	} else {
		tl.Recovery = "none"
	}
	hw.mu.Lock()
	down := hw.statuses["disconnected"]
	healthErr := hw.errors
	hw.mu.Unlock()
	tl.Note = fmt.Sprintf("outage %s; in flight at kill %d (%d completed in Redis, reply lost); answered inline while Redis was away %d; health saw Redis disconnected %d× (%d failed)",
		ms(outage), inflight, recon, tl.Sync, down, healthErr)

	if tl.ConnErrors != 0 || tl.Rejected != 0 {
		t.Errorf("the API must keep answering through a Redis kill: %d connection errors, %d other answers", tl.ConnErrors, tl.Rejected)
	}
	if down == 0 {
		t.Errorf("/api/health never reported Redis disconnected during a %s outage", outage)
	}
	if !svc.logContains("Connection error") {
		t.Errorf("serve logged no Redis connection error during the outage")
	}
	if aof {
		if tl.Lost != 0 {
			t.Errorf("with AOF everysec, %d accepted jobs never completed (lost), e.g. %v", tl.Lost, lost[:min(5, len(lost))])
		}
		if tl.Duplicated > inflight {
			t.Errorf("%d jobs ran more than once, more than the %d in flight at the kill (e.g. %v)", tl.Duplicated, inflight, dup[:min(5, len(dup))])
		}
	} else {
		tl.Note += fmt.Sprintf("; held by Redis at the kill (queued, not completed): %d", len(expectLost))
		// What is lost is what Redis held: every job accepted after the
		// kill completed.
		for _, id := range lost {
			if !expectLost[id] {
				t.Errorf("job %s was accepted after the kill and never completed", id)
				break
			}
		}
		// Never a silent success: a lost job is unknown, not completed.
		c := &http.Client{Timeout: 5 * time.Second}
		for _, id := range lost[:min(20, len(lost))] {
			resp, err := c.Get(svc.base + "/api/jobs/" + queueName + "/" + id)
			if err != nil {
				t.Errorf("GET lost job %s: %v", id, err)
				continue
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET lost job %s answered %d, want 404 (the job is gone)", id, resp.StatusCode)
			}
		}
		// The operator was told at startup that this Redis loses jobs on a
		// restart (issue 10 item 14).
		if !warnedNoPersistence(svc.proc) {
			t.Errorf("serve did not warn at startup that Redis has no persistence (issue 10 item 14; expected until that fix is merged)")
			tl.Note += "; no startup warning about persistence"
		} else {
			tl.Note += "; startup warning about persistence logged"
		}
		// Counter ids start again on an empty Redis: a client polling the
		// lost job's id is shown another job (reported, not asserted: the
		// startup warning is the documented answer).
		if autoID != "" {
			again := ""
			for i := 0; i < 5 && again != autoID; i++ {
				again = postAuto(t, svc.base, 0)
			}
			t.Logf("%s counter id before the kill %q, after the restart %q", autoQueue, autoID, again)
			if again == autoID {
				tl.Note += fmt.Sprintf("; counter id %s of a lost %s job was given to a new job after the restart", autoID, autoQueue)
			}
		}
	}
	record(t, tl)
}

// autoQueue takes the jobs with counter ids; the load does not use it.
const autoQueue = "memory-mining"

// postAuto submits one memory-mining job without a custom id (delayed by
// delayMS) and returns the id the queue gave it ("" if not queued).
func postAuto(t *testing.T, base string, delayMS int) string {
	body := fmt.Sprintf(`{"data":{"user_id":"u1","videos":[{"video_id":"v1","created_at":"2025-11-29T00:00:00Z","views":3}]},"opts":{"delay_ms":%d}}`, delayMS)
	req, _ := http.NewRequest(http.MethodPost, base+"/api/jobs/"+autoQueue, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Logf("auto-id job: %v", err)
		return ""
	}
	defer resp.Body.Close()
	var r struct {
		Mode string `json:"mode"`
		ID   string `json:"id"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&r)
	if r.Mode != "queued" {
		t.Logf("auto-id job: answered %d %s", resp.StatusCode, r.Mode)
		return ""
	}
	return r.ID
}

// warnedNoPersistence looks for a WARN line mentioning persistence.
func warnedNoPersistence(p *proc) bool {
	b, _ := os.ReadFile(p.logPath)
	for _, line := range strings.Split(string(b), "\n") {
		l := strings.ToLower(line)
		if strings.Contains(l, `"level":"warn"`) && strings.Contains(l, "persist") {
			return true
		}
	}
	return false
}

// ------------------------------------------------------ 3: worker SIGKILL

// TestWorkerKill: a backlog is worked by two `zyeute worker` processes;
// one is SIGKILLed mid-run. Every job must complete; the jobs the dead one
// held come back after its locks expire and a stalled check runs.
func TestWorkerKill(t *testing.T) {
	vars := map[string]string{}
	if !full {
		// Short run: a short lock and stalled interval keep recovery brief.
		vars["WORKER_LOCK_DURATION"], vars["WORKER_STALLED_INTERVAL"] = "4s", "2s"
	}
	for _, k := range []string{"WORKER_LOCK_DURATION", "WORKER_STALLED_INTERVAL"} {
		if v := os.Getenv(k); v != "" {
			vars[k] = v
		}
	}
	lock, stalled := 30*time.Second, 30*time.Second // the binary's defaults
	if d, err := time.ParseDuration(vars["WORKER_LOCK_DURATION"]); err == nil {
		lock = d
	}
	if d, err := time.ParseDuration(vars["WORKER_STALLED_INTERVAL"]); err == nil {
		stalled = d
	}
	dir := logDir(t)
	srv := redistest.Start(t, nil)
	rdb := srv.Client(t)
	svc := startServe(t, dir, "serve", srv.URL(), map[string]string{"WORKERS": "false"})

	// The backlog first, so that the workers are busy when one dies.
	n := pick(600, 5000)
	outs := (&load{base: svc.base, tag: "wkill", n: n, rate: pick(300.0, 500.0)}).run()
	wA := startWorker(t, dir, "worker-a", srv.URL(), 5, vars)
	wB := startWorker(t, dir, "worker-b", srv.URL(), 5, vars)
	lg := newLedger(wA, wB)
	waitFor(60*time.Second, func() bool {
		lg.update()
		lg.mu.Lock()
		defer lg.mu.Unlock()
		return len(lg.complete) >= n/4
	})
	killTime := time.Now()
	wA.signal(syscall.SIGKILL)
	wA.wait(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	held, err := rdb.LRange(ctx, prefix+":"+queueName+":active", 0, -1).Result()
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	// Jobs whose completion Redis recorded just before the kill, the reply
	// lost with the process.
	recon := lg.reconcile(rdb, lg.startedNotCompleted("worker-a"))
	bound := lock + 2*stalled + pick(20*time.Second, 30*time.Second)
	waitCompleted(outs, lg, bound)
	tl, lost, _ := count("worker SIGKILL mid-run", outs, lg)

	var recovery time.Duration
	stranded := 0
	for _, id := range held {
		cs := lg.completions(id)
		if len(cs) == 0 {
			continue
		}
		if d := cs[len(cs)-1].at.Sub(killTime); d > recovery {
			recovery = d
		}
		if cs[len(cs)-1].at.Sub(killTime) > time.Second {
			stranded++
		}
	}
	tl.Recovery = ms(recovery)
	tl.Note = fmt.Sprintf("active at kill %d (stranded %d; %d more completed in Redis, reply lost); lock %s + stalled interval %s = %s; recovery/(lock+stalled) = %.2f",
		len(held), stranded, recon, lock, stalled, lock+stalled, recovery.Seconds()/(lock+stalled).Seconds())
	if tl.Lost != 0 {
		t.Errorf("%d jobs never completed within %s after a worker SIGKILL, e.g. %v", tl.Lost, bound, lost[:min(5, len(lost))])
	}
	if tl.Duplicated > len(held) {
		t.Errorf("%d jobs ran more than once, more than the %d active at the kill", tl.Duplicated, len(held))
	}
	if tl.ConnErrors != 0 || tl.Rejected != 0 {
		t.Errorf("submissions failed: %d connection errors, %d other answers", tl.ConnErrors, tl.Rejected)
	}
	record(t, tl)
}

// ------------------------------------------------------ 4: SIGTERM under load

// TestSigtermUnderLoad: serve (API and workers) gets SIGTERM under a steady
// load. A load-balancer model polls /readyz every 100 ms and stops routing
// on anything but 200. With a drain window (SHUTDOWN_DRAIN) no routed
// request may meet a connection error, and no job may be left active.
func TestSigtermUnderLoad(t *testing.T) {
	drain := os.Getenv("SHUTDOWN_DRAIN")
	if drain == "" {
		drain = "2s"
	}
	dir := logDir(t)
	srv := redistest.Start(t, nil)
	rdb := srv.Client(t)
	svc := startServe(t, dir, "serve", srv.URL(), map[string]string{"SHUTDOWN_DRAIN": drain, "WORKER_CONCURRENCY": "10"})
	lg := newLedger(svc.proc)

	var routable atomic.Bool
	routable.Store(true)
	var saw503 atomic.Bool
	pollStop := make(chan struct{})
	pollDone := make(chan struct{})
	go func() {
		defer close(pollDone)
		c := &http.Client{Timeout: time.Second}
		for i := 0; i < 100000; i++ {
			select {
			case <-pollStop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			resp, err := c.Get(svc.base + "/readyz")
			if err != nil {
				routable.Store(false)
				continue
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable {
				saw503.Store(true)
			}
			if resp.StatusCode != http.StatusOK {
				routable.Store(false)
			}
		}
	}()

	n, rate := pick(400, 3000), pick(100.0, 200.0)
	ld := &load{base: svc.base, tag: "term", n: n, rate: rate, gate: routable.Load}
	var outs []*outcome
	loadDone := make(chan struct{})
	go func() { outs = ld.run(); close(loadDone) }()
	time.Sleep(time.Duration(float64(n) * 0.5 / rate * float64(time.Second)))
	termTime := time.Now()
	svc.signal(syscall.SIGTERM)
	exited := svc.wait(30 * time.Second)
	exitTime := time.Now()
	<-loadDone
	close(pollStop)
	<-pollDone
	if !exited {
		t.Fatalf("serve did not exit within 30 s of SIGTERM")
	}

	// Jobs left active by the stop (handed back to wait is fine).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	activeLeft := 0
	for _, q := range jobs.Names() {
		c, err := rdb.LLen(ctx, prefix+":"+q+":active").Result()
		if err != nil && err != redis.Nil {
			t.Fatal(err)
		}
		activeLeft += int(c)
	}
	// Then a worker finishes what is left in the queue.
	w := startWorker(t, dir, "worker", srv.URL(), 10, nil)
	lg.add(w)
	waitCompleted(outs, lg, 60*time.Second)
	tl, lost, _ := count("SIGTERM serve under load", outs, lg)
	notRouted := 0
	for _, o := range outs {
		if !o.routed {
			notRouted++
		}
	}
	tl.Recovery = ms(exitTime.Sub(termTime)) + " SIGTERM→exit"
	tl.Note = fmt.Sprintf("SHUTDOWN_DRAIN=%s; exit code %d; readyz 503 seen: %v; conn errors %d; active left %d; not routed after readyz %d",
		drain, svc.exitCode(), saw503.Load(), tl.ConnErrors, activeLeft, notRouted)
	if activeLeft != 0 {
		t.Errorf("%d jobs left active after serve stopped (should be handed back to wait)", activeLeft)
	}
	if tl.ConnErrors != 0 {
		t.Errorf("%d routed requests met a connection error during the drain (readyz 503 seen: %v); needs the drain window of issue 10 item 5",
			tl.ConnErrors, saw503.Load())
	}
	if !saw503.Load() {
		t.Errorf("/readyz never answered 503 before the listener closed (issue 10 item 5)")
	}
	if tl.Lost != 0 {
		t.Errorf("%d accepted jobs never completed, e.g. %v", tl.Lost, lost[:min(5, len(lost))])
	}
	if tl.Rejected != 0 {
		t.Errorf("%d requests answered with a status other than 200/202", tl.Rejected)
	}
	if code := svc.exitCode(); code != 0 {
		t.Errorf("serve exited %d after a SIGTERM with jobs that can finish", code)
	}
	record(t, tl)
}

// ------------------------------------------------------ 5: pause, slow, drop

// TestRedisPauseAndSlowNetwork: serve reaches Redis through a loopback
// proxy; a `worker` process reaches it directly. Redis is paused for
// writes (CLIENT PAUSE WRITE), then the proxy delays every chunk, then it
// drops everything. The API must answer every request within its bounds
// (an add gives up after 2 s and the job runs inline), and nothing
// accepted may be lost.
func TestRedisPauseAndSlowNetwork(t *testing.T) {
	dir := logDir(t)
	srv := redistest.Start(t, nil)
	rdb := srv.Client(t)
	px := startProxy(t, srv.Addr())
	svc := startServe(t, dir, "serve", px.URL(), map[string]string{"WORKERS": "false"})
	w := startWorker(t, dir, "worker", srv.URL(), 10, nil)
	lg := newLedger(svc.proc, w)
	hw := watchHealth(svc.base, 200*time.Millisecond)

	gap := pick(time.Second, 3*time.Second)
	pause := pick(2500*time.Millisecond, 5*time.Second)
	slow := pick(2*time.Second, 5*time.Second)
	delay := pick(300*time.Millisecond, 700*time.Millisecond)
	drop := pick(2500*time.Millisecond, 5*time.Second)
	total := 4*gap + pause + slow + drop
	rate := pick(50.0, 100.0)
	n := int(total.Seconds() * rate)
	ld := &load{base: svc.base, tag: "pause", n: n, rate: rate}
	var outs []*outcome
	loadDone := make(chan struct{})
	go func() { outs = ld.run(); close(loadDone) }()

	type window struct {
		name     string
		from, to time.Time
		fault    string
	}
	var wins []*window
	time.Sleep(gap)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	pw := &window{name: "pause", fault: fmt.Sprintf("CLIENT PAUSE %d WRITE", pause.Milliseconds()), from: time.Now()}
	if err := rdb.Do(ctx, "CLIENT", "PAUSE", strconv.FormatInt(pause.Milliseconds(), 10), "WRITE").Err(); err != nil {
		t.Fatalf("CLIENT PAUSE: %v", err)
	}
	cancel()
	time.Sleep(pause)
	pw.to = time.Now()
	wins = append(wins, pw)
	time.Sleep(gap)
	sw := &window{name: "slow", fault: fmt.Sprintf("proxy delays every chunk %s", delay), from: time.Now()}
	px.setDelay(delay)
	time.Sleep(slow)
	px.heal()
	sw.to = time.Now()
	wins = append(wins, sw)
	time.Sleep(gap)
	dw := &window{name: "drop", fault: "proxy drops all traffic", from: time.Now()}
	px.setDrop()
	time.Sleep(drop)
	px.heal()
	dw.to = time.Now()
	wins = append(wins, dw)
	<-loadDone
	hw.finish()
	waitCompleted(outs, lg, 60*time.Second)

	var lat []time.Duration
	for _, o := range outs {
		if o.routed && o.err == nil {
			lat = append(lat, o.latency())
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	hw.mu.Lock()
	healthErrs, healthSlowest := hw.errors, hw.slowest
	hw.mu.Unlock()

	for _, wd := range wins {
		in := sentBetween(outs, wd.from, wd.to)
		inline, queued := 0, 0
		for _, o := range in {
			if o.syncRun() {
				inline++
			} else if o.accepted() {
				queued++
			}
		}
		// Recovery: the first job queued again after the fault ended.
		var first time.Time
		for _, o := range outs {
			if o.accepted() && o.mode == "queued" && o.sent.After(wd.to) && (first.IsZero() || o.answered.Before(first)) {
				first = o.answered
			}
		}
		rec := "none"
		if !first.IsZero() {
			rec = ms(first.Sub(wd.to))
		}
		var maxLat time.Duration
		for _, o := range in {
			if o.err == nil {
				maxLat = max(maxLat, o.latency())
			}
		}
		sub, _, _ := count(wd.fault, in, lg)
		sub.Recovery = rec + " to queued again"
		sub.Note = fmt.Sprintf("%s: %d inline, %d queued, slowest answer %s", ms(wd.to.Sub(wd.from)), inline, queued, ms(maxLat))
		record(t, sub)
		if wd.name == "pause" && inline == 0 {
			t.Errorf("no job ran inline during a %s write pause longer than the %s add timeout", pause, addTimeout)
		}
	}
	tl, lost, _ := count("pause + slow + drop (whole run)", outs, lg)
	tl.Recovery = "-"
	tl.Note = fmt.Sprintf("answer p50 %s, p99 %s, max %s; /api/health slowest %s, %d failed", ms(pct(0.5)), ms(pct(0.99)), ms(pct(1)), ms(healthSlowest), healthErrs)
	record(t, tl)
	if tl.ConnErrors != 0 || tl.Rejected != 0 {
		t.Errorf("the API must answer every request: %d connection errors, %d other answers", tl.ConnErrors, tl.Rejected)
	}
	if m := pct(1); m > addTimeout+syncTimeout {
		t.Errorf("slowest answer %s exceeds the add timeout + inline run bound (%s)", m, addTimeout+syncTimeout)
	}
	if healthErrs != 0 {
		t.Errorf("/api/health failed %d times during the faults", healthErrs)
	}
	if tl.Lost != 0 {
		t.Errorf("%d accepted jobs never completed, e.g. %v", tl.Lost, lost[:min(5, len(lost))])
	}
}
