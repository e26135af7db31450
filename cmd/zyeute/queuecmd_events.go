package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

// streamIDRe matches a Redis stream id ("1700000000000-0" or "1700000000000").
var streamIDRe = regexp.MustCompile(`^[0-9]{1,20}(-[0-9]{1,20})?$`)

// eventLine is one event of `queue events --json` (one JSON object a line).
type eventLine struct {
	ID    string         `json:"id"`
	Time  time.Time      `json:"time"`
	Event string         `json:"event"`
	Args  map[string]any `json:"args"`
}

// events follows the queue's events stream with queue.QueueEvents until
// ctx ends (Ctrl-C or SIGTERM: main cancels it), one line per event.
func (q *queueEnv) events(ctx context.Context, f *queueFlags, pos []string) error {
	name := pos[0]
	if f.from != "$" && !streamIDRe.MatchString(f.from) {
		return usageErr("events: --from takes $, 0 or an event id such as 1700000000000-0, not %q", truncateArg(f.from))
	}
	qq, closeFn, err := q.open(ctx, "events", name)
	if err != nil {
		return err
	}
	defer closeFn()
	if ok, err := qq.Exists(ctx); err == nil && !ok {
		fmt.Fprintf(q.e.stderr, "note: no queue %s under the prefix %s yet; waiting for its events\n", termSafe(name), termSafe(q.prefix))
	}
	qe, err := queue.NewQueueEvents(ctx, q.c, name, &queue.QueueEventsOptions{Prefix: q.prefix, LastEventID: f.from,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return q.fail("events", name, "", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = qe.Close(cctx)
	}()
	sub, err := qe.Subscribe(64)
	if err != nil {
		return q.fail("events", name, "", err)
	}
	defer sub.Close()
	if !f.json {
		fmt.Fprintf(q.e.stderr, "following the events of %s (Ctrl-C to stop)\n", termSafe(name))
	}
	for { // until ctx ends or the subscription is closed
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-sub.C:
			if !ok {
				return q.failf("events", "the events stream of %s closed", termSafe(name))
			}
			if err := q.printEvent(ev, f.json); err != nil {
				return err
			}
		}
	}
}

// streamTime is the time of a stream id (its milliseconds part).
func streamTime(id string) time.Time {
	ms, _, _ := strings.Cut(id, "-")
	n, _ := strconv.ParseInt(ms, 10, 64)
	return time.UnixMilli(n).UTC()
}

func (q *queueEnv) printEvent(ev queue.Event, jsonOut bool) error {
	if jsonOut {
		b, err := json.Marshal(eventLine{ID: ev.StreamID, Time: streamTime(ev.StreamID), Event: ev.Name, Args: ev.Args()})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(q.e.stdout, string(b))
		return err
	}
	keys := make([]string, 0, len(ev.Fields))
	for k := range ev.Fields {
		if k != "jobId" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %-17s", streamTime(ev.StreamID).Format("2006-01-02T15:04:05.000Z"), termSafe(ev.Name))
	if ev.JobID != "" {
		b.WriteString(" job=" + termSafe(ev.JobID))
	}
	for _, k := range keys {
		b.WriteString(" " + termSafe(k) + "=" + termSafe(truncateRunes(strings.ReplaceAll(ev.Fields[k], "\n", " "), 200)))
	}
	_, err := fmt.Fprintln(q.e.stdout, b.String())
	return err
}
