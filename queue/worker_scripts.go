package queue

import (
	"fmt"
	"strconv"
)

// Worker-side scripts. Each takes the same KEYS layout (workerKeys), so the
// key slice is built once per worker and shared by every call.
var (
	scriptMoveToActive   = newScript("moveToActive")
	scriptMoveToFinished = newScript("moveToFinished")
	scriptMoveToWait     = newScript("moveToWait")
	scriptExtendLocks    = newScript("extendLocks")
	scriptStalledCheck   = newScript("stalledCheck")
	scriptUpdateProgress = newScript("updateProgress")
	scriptAddLog         = newScript("addLog")
	scriptAdvanceSched   = newScript("advanceScheduler")
)

// workerKeys is the KEYS of every worker script (lua/includes/worker.lua):
// the meta key only, for Cluster routing; the scripts build the queue's
// other keys from the prefix (ARGV[1], k.base), which costs Redis fewer
// instructions than receiving them. Every key is one of the queue's own,
// so a hash tag in the prefix or the name keeps all of them in one slot.
func (k keys) workerKeys() []string {
	return []string{k.meta()}
}

// fetchReply is a decoded moveToActive reply (also returned by
// moveToFinished with fetch-next).
type fetchReply struct {
	fields      []any  // HGETALL of the fetched job as a flat array
	id          string // "" when no job
	rateTTL     int64  // ms, > 0 when rate limited
	nextDelayed int64  // ms epoch of the earliest delayed job, 0 = none
}

// parseFetchReply reads {fields, id, ttl, nextDelayed} or the integer 0.
func parseFetchReply(res any) (fetchReply, error) {
	var r fetchReply
	if n, ok := res.(int64); ok && n == 0 {
		return r, nil
	}
	arr, ok := res.([]any)
	if !ok || len(arr) < 4 {
		return r, fmt.Errorf("queue: unexpected fetch reply %T", res)
	}
	if f, ok := arr[0].([]any); ok {
		r.fields = f
	}
	switch v := arr[1].(type) {
	case string:
		r.id = v
	case int64:
		if v != 0 {
			r.id = strconv.FormatInt(v, 10)
		}
	}
	r.rateTTL, _ = arr[2].(int64)
	r.nextDelayed, _ = arr[3].(int64)
	return r, nil
}

// fieldsToMap turns a flat HGETALL array into a map.
func fieldsToMap(fields []any) map[string]string {
	m := make(map[string]string, len(fields)/2)
	for i := 0; i+1 < len(fields); i += 2 {
		k, _ := fields[i].(string)
		v, _ := fields[i+1].(string)
		m[k] = v
	}
	return m
}

// trimArgs drops the trailing arguments after the first keep that are
// zero or empty (the script reads an absent one as 0 / ""): every argument
// of a script call costs Redis about a thousand instructions.
func trimArgs(keep int, args ...any) []any {
	n := len(args)
	for n > keep {
		switch v := args[n-1].(type) {
		case string:
			if v != "" {
				return args[:n]
			}
		case int64:
			if v != 0 {
				return args[:n]
			}
		default:
			return args[:n]
		}
		n--
	}
	return args[:n]
}
