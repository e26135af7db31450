package queue

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// MaxPriority is the largest priority BullMQ accepts (2^21 − 1).
const MaxPriority = 1<<21 - 1

// AddOptions are the per-job options of Queue.Add. A nil *AddOptions means
// all defaults. Field names follow BullMQ's option names.
type AddOptions struct {
	// JobID is a custom job id. Accepted and rejected exactly as Node BullMQ
	// does (see ValidateJobID). Defaults to the queue's counter.
	JobID string
	// Delay before the job becomes ready. Must not be negative. Defaults to 0.
	Delay time.Duration
	// Priority from 1 (highest) to MaxPriority; 0 means no priority.
	// Defaults to 0.
	Priority int
	// Attempts is how many times the job may run in all. Defaults to 0,
	// which runs it once, as in BullMQ.
	Attempts int
	// Backoff between attempts. Defaults to none (retry at once).
	Backoff *Backoff
	// LIFO puts the job at the "next" end of the wait list. Defaults to false.
	LIFO bool
	// RemoveOnComplete and RemoveOnFail say which finished jobs to keep; the
	// job's option wins over the worker's. Defaults to nil (the worker's
	// option, else keep all).
	RemoveOnComplete *KeepJobs
	RemoveOnFail     *KeepJobs
	// Timestamp of creation. Defaults to now.
	Timestamp time.Time
	// KeepLogs keeps only the last KeepLogs log lines. Defaults to 0 (all).
	KeepLogs int
	// StackTraceLimit bounds the stored stack traces. Defaults to 0 (unset).
	StackTraceLimit int
	// Deduplication drops (or, with its flags, throttles, replaces,
	// reschedules or stashes) adds while another job holds the same
	// deduplication ID, as BullMQ's `deduplication` option (protocol §9.5).
	// ID is required; TTL is in whole milliseconds (0 = until the owner
	// finishes). Stored as `de` in opts and `deid` on the hash. Defaults to
	// nil (no deduplication).
	Deduplication *Deduplication
}

// Backoff is BullMQ's backoff option: "fixed" or "exponential", a delay and
// an optional jitter in [0, 1].
type Backoff struct {
	Type   string
	Delay  time.Duration
	Jitter float64
}

// KeepJobs is BullMQ's removeOnComplete / removeOnFail value: `true`,
// `false`, a count, or {count, age, limit}. Build one with RemoveAll,
// KeepAll, KeepLast or KeepFor.
type KeepJobs struct {
	// Count of finished jobs to keep: 0 removes at once, -1 keeps all.
	Count int
	// Age removes finished jobs older than this (stored in seconds, with
	// a fraction for sub-second ages, as Node's {age: 0.5}); 0 = no limit.
	Age time.Duration
	// Limit of age-based removals per finish; 0 means BullMQ's 1000.
	Limit int

	form keepForm
}

type keepForm uint8

const (
	keepBool keepForm = iota
	keepNumber
	keepObject
)

// RemoveAll removes a job as soon as it finishes (`true`).
func RemoveAll() *KeepJobs { return &KeepJobs{Count: 0, form: keepBool} }

// KeepAll keeps every finished job (`false`).
func KeepAll() *KeepJobs { return &KeepJobs{Count: -1, form: keepBool} }

// KeepLast keeps the newest n finished jobs (a number).
func KeepLast(n int) *KeepJobs { return &KeepJobs{Count: n, form: keepNumber} }

// KeepFor keeps finished jobs for age and, when count ≥ 0, at most count of
// them ({age, count}).
func KeepFor(age time.Duration, count int) *KeepJobs {
	return &KeepJobs{Count: count, Age: age, form: keepObject}
}

// MarshalJSON writes the same JSON value Node BullMQ stores.
func (k KeepJobs) MarshalJSON() ([]byte, error) {
	switch k.form {
	case keepBool:
		if k.Count == 0 {
			return []byte("true"), nil
		}
		if k.Count < 0 {
			return []byte("false"), nil
		}
		return []byte(strconv.Itoa(k.Count)), nil
	case keepNumber:
		return []byte(strconv.Itoa(k.Count)), nil
	}
	var b bytes.Buffer
	b.WriteByte('{')
	sep := ""
	if k.Age > 0 {
		// seconds, fractional as Node allows ({age: 0.5})
		fmt.Fprintf(&b, `"age":%s`, strconv.FormatFloat(k.Age.Seconds(), 'f', -1, 64))
		sep = ","
	}
	if k.Count >= 0 {
		fmt.Fprintf(&b, `%s"count":%d`, sep, k.Count)
		sep = ","
	}
	if k.Limit > 0 {
		fmt.Fprintf(&b, `%s"limit":%d`, sep, k.Limit)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads every form Node BullMQ accepts.
func (k *KeepJobs) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	switch s {
	case "true":
		*k = *RemoveAll()
		return nil
	case "false", "null":
		*k = *KeepAll()
		return nil
	}
	if len(s) > 0 && s[0] == '{' {
		var o struct {
			Count *float64 `json:"count"`
			Age   *float64 `json:"age"`
			Limit *float64 `json:"limit"`
		}
		if err := json.Unmarshal(b, &o); err != nil {
			return fmt.Errorf("keepJobs: %w", err)
		}
		*k = KeepJobs{Count: -1, form: keepObject}
		if o.Count != nil {
			k.Count = int(*o.Count)
		}
		if o.Age != nil {
			k.Age = time.Duration(*o.Age * float64(time.Second))
		}
		if o.Limit != nil {
			k.Limit = int(*o.Limit)
		}
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("keepJobs: want true, false, a number or an object, got %.40q", s)
	}
	*k = KeepJobs{Count: int(f), form: keepNumber}
	return nil
}

// Deduplication is BullMQ's `de` option: decoded from Node jobs and set by
// AddOptions.Deduplication. TTL is in milliseconds.
type Deduplication struct {
	ID               string  `json:"id"`
	TTL              float64 `json:"ttl,omitempty"`
	Extend           bool    `json:"extend,omitempty"`
	Replace          bool    `json:"replace,omitempty"`
	Reschedule       bool    `json:"reschedule,omitempty"`
	KeepLastIfActive bool    `json:"keepLastIfActive,omitempty"`
}

// ParentRef is the `parent` option of a flow child: {id, queue}.
type ParentRef struct {
	ID    string `json:"id"`
	Queue string `json:"queue"`
}

// JobOptions are a job's stored options (the `opts` field of its hash),
// with BullMQ's short keys decoded. Keys this type does not know are kept in
// Extra and written back unchanged.
type JobOptions struct {
	JobID            string
	Delay            int64 // ms
	Priority         int
	Attempts         int
	Backoff          *Backoff
	LIFO             bool
	RemoveOnComplete *KeepJobs
	RemoveOnFail     *KeepJobs
	Timestamp        int64 // ms
	KeepLogs         int
	StackTraceLimit  int
	SizeLimit        int
	Deduplication    *Deduplication
	// Flow child failure policy: fpof, cpof, idof, rdof.
	FailParentOnFailure       bool
	ContinueParentOnFailure   bool
	IgnoreDependencyOnFailure bool
	RemoveDependencyOnFailure bool
	Parent                    *ParentRef
	// Telemetry: tm (metadata) and omc (omit context).
	TelemetryMetadata string
	OmitContext       bool
	// Scheduler iterations.
	Repeat       json.RawMessage
	RepeatJobKey string
	PrevMillis   int64

	Extra map[string]json.RawMessage
}

type backoffJSON struct {
	Type   string   `json:"type"`
	Delay  *float64 `json:"delay,omitempty"`
	Jitter *float64 `json:"jitter,omitempty"`
}

// MarshalJSON encodes the options as Node stores them: short keys, backoff
// as an object, `attempts` always present, unset values absent.
func (o JobOptions) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, 8)
	for k, v := range o.Extra {
		m[k] = v
	}
	m["attempts"] = o.Attempts
	if o.JobID != "" {
		m["jobId"] = o.JobID
	}
	if o.Delay != 0 {
		m["delay"] = o.Delay
	}
	if o.Priority != 0 {
		m["priority"] = o.Priority
	}
	if o.Backoff != nil {
		d := float64(o.Backoff.Delay / time.Millisecond)
		bj := backoffJSON{Type: o.Backoff.Type, Delay: &d}
		if o.Backoff.Jitter != 0 {
			j := o.Backoff.Jitter
			bj.Jitter = &j
		}
		m["backoff"] = bj
	}
	if o.LIFO {
		m["lifo"] = true
	}
	if o.RemoveOnComplete != nil {
		m["removeOnComplete"] = o.RemoveOnComplete
	}
	if o.RemoveOnFail != nil {
		m["removeOnFail"] = o.RemoveOnFail
	}
	if o.Timestamp != 0 {
		m["timestamp"] = o.Timestamp
	}
	if o.KeepLogs != 0 {
		m["kl"] = o.KeepLogs
	}
	if o.StackTraceLimit != 0 {
		m["stackTraceLimit"] = o.StackTraceLimit
	}
	if o.SizeLimit != 0 {
		m["sizeLimit"] = o.SizeLimit
	}
	if o.Deduplication != nil {
		m["de"] = o.Deduplication
	}
	setTrue := func(k string, v bool) {
		if v {
			m[k] = true
		}
	}
	setTrue("fpof", o.FailParentOnFailure)
	setTrue("cpof", o.ContinueParentOnFailure)
	setTrue("idof", o.IgnoreDependencyOnFailure)
	setTrue("rdof", o.RemoveDependencyOnFailure)
	setTrue("omc", o.OmitContext)
	if o.Parent != nil {
		m["parent"] = o.Parent
	}
	if o.TelemetryMetadata != "" {
		m["tm"] = o.TelemetryMetadata
	}
	if len(o.Repeat) > 0 {
		m["repeat"] = o.Repeat
	}
	if o.RepeatJobKey != "" {
		m["repeatJobKey"] = o.RepeatJobKey
	}
	if o.PrevMillis != 0 {
		m["prevMillis"] = o.PrevMillis
	}
	return marshalJSON(m)
}

// UnmarshalJSON decodes stored options, long or short keys alike.
func (o *JobOptions) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("opts is not a JSON object: %w", err)
	}
	*o = JobOptions{}
	var firstErr error
	num := func(key string, v json.RawMessage) float64 {
		var f float64
		if err := json.Unmarshal(v, &f); err != nil {
			if string(v) == "null" {
				return 0
			}
			if firstErr == nil {
				firstErr = fmt.Errorf("opts.%s: want a number, got %.40s", key, v)
			}
		}
		return f
	}
	boolean := func(v json.RawMessage) bool { return string(v) == "true" }
	str := func(key string, v json.RawMessage) string {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			// Node may store numbers where we expect strings (jobId: 5).
			return strings.Trim(string(v), `"`)
		}
		return s
	}
	for k, v := range raw {
		switch k {
		case "jobId":
			o.JobID = str(k, v)
		case "delay":
			o.Delay = int64(num(k, v))
		case "priority":
			o.Priority = int(num(k, v))
		case "attempts":
			o.Attempts = int(num(k, v))
		case "backoff":
			bo, err := decodeBackoff(v)
			if err != nil && firstErr == nil {
				firstErr = err
			}
			o.Backoff = bo
		case "lifo":
			o.LIFO = boolean(v)
		case "removeOnComplete", "removeOnFail":
			kj := new(KeepJobs)
			if err := kj.UnmarshalJSON(v); err != nil && firstErr == nil {
				firstErr = fmt.Errorf("opts.%s: %w", k, err)
			}
			if k == "removeOnComplete" {
				o.RemoveOnComplete = kj
			} else {
				o.RemoveOnFail = kj
			}
		case "timestamp":
			o.Timestamp = int64(num(k, v))
		case "kl", "keepLogs":
			o.KeepLogs = int(num(k, v))
		case "stackTraceLimit":
			o.StackTraceLimit = int(num(k, v))
		case "sizeLimit":
			o.SizeLimit = int(num(k, v))
		case "de", "deduplication":
			d := new(Deduplication)
			if err := json.Unmarshal(v, d); err != nil && firstErr == nil {
				firstErr = fmt.Errorf("opts.de: %w", err)
			}
			o.Deduplication = d
		case "fpof", "failParentOnFailure":
			o.FailParentOnFailure = boolean(v)
		case "cpof", "continueParentOnFailure":
			o.ContinueParentOnFailure = boolean(v)
		case "idof", "ignoreDependencyOnFailure":
			o.IgnoreDependencyOnFailure = boolean(v)
		case "rdof", "removeDependencyOnFailure":
			o.RemoveDependencyOnFailure = boolean(v)
		case "omc":
			o.OmitContext = boolean(v)
		case "tm":
			o.TelemetryMetadata = str(k, v)
		case "parent":
			p := new(ParentRef)
			if err := json.Unmarshal(v, p); err != nil && firstErr == nil {
				firstErr = fmt.Errorf("opts.parent: %w", err)
			}
			o.Parent = p
		case "repeat":
			o.Repeat = append(json.RawMessage(nil), v...)
		case "repeatJobKey":
			o.RepeatJobKey = str(k, v)
		case "prevMillis":
			o.PrevMillis = int64(num(k, v))
		default:
			if o.Extra == nil {
				o.Extra = map[string]json.RawMessage{}
			}
			o.Extra[k] = append(json.RawMessage(nil), v...)
		}
	}
	return firstErr
}

func decodeBackoff(v json.RawMessage) (*Backoff, error) {
	s := strings.TrimSpace(string(v))
	if s == "null" {
		return nil, nil
	}
	if len(s) > 0 && s[0] != '{' {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("opts.backoff: want a number or an object, got %.40s", s)
		}
		return &Backoff{Type: "fixed", Delay: time.Duration(f) * time.Millisecond}, nil
	}
	var bj backoffJSON
	if err := json.Unmarshal(v, &bj); err != nil {
		return nil, fmt.Errorf("opts.backoff: %w", err)
	}
	b := &Backoff{Type: bj.Type}
	if bj.Delay != nil {
		b.Delay = time.Duration(*bj.Delay) * time.Millisecond
	}
	if bj.Jitter != nil {
		b.Jitter = *bj.Jitter
	}
	return b, nil
}

// marshalJSON encodes like JavaScript's JSON.stringify for our values: no
// HTML escaping, sorted map keys, no trailing newline.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// queueKeyNames are the suffixes of the queue-level keys (protocol §2.1,
// legacy keys included): a job hash is "<prefix>:<queue>:<id>", so a job
// whose id is one of them would be stored over, or read from, the queue's
// own key.
var queueKeyNames = map[string]bool{
	"wait": true, "paused": true, "active": true, "prioritized": true, "pc": true, "delayed": true,
	"waiting-children": true, "completed": true, "failed": true, "stalled": true, "stalled-check": true,
	"limiter": true, "meta": true, "id": true, "events": true, "marker": true, "repeat": true,
	"priority": true, "delay": true,
	// Roots of the key families below, reserved with them.
	"de": true, "dn": true, "metrics": true,
}

// queueKeyFamilies are the prefixes of the queue-level key families:
// "de:<dedup id>", "dn:<dedup id>", "repeat:<scheduler id>" and
// "metrics:completed[:data]", "metrics:failed[:data]".
var queueKeyFamilies = []string{"de:", "dn:", "repeat:", "metrics:"}

// jobKeySuffixes are the keys hanging off a job hash (protocol §2.2).
var jobKeySuffixes = []string{":lock", ":logs", ":dependencies", ":processed", ":failed", ":unsuccessful"}

// IsQueueKeyName reports whether id names one of the queue's own keys or
// key families ("active", "meta", "events", "de:…", "repeat:…", …). Such
// an id is refused as a custom job id: stored as a job it would overwrite
// that key and jam the queue. Node BullMQ accepts some of them; this
// package refuses them on purpose.
func IsQueueKeyName(id string) bool {
	if queueKeyNames[id] {
		return true
	}
	for _, p := range queueKeyFamilies {
		if strings.HasPrefix(id, p) {
			return true
		}
	}
	return false
}

// mayBeJobID reports whether "<prefix>:<queue>:<id>" can be a job hash:
// not a queue-level key, not a key hanging off a job ("5:lock"), and for
// "repeat:" ids only a scheduler iteration ("repeat:<scheduler id>:<ms>"),
// never the scheduler's own hash ("repeat:<scheduler id>"). GetJob and
// GetState answer "not found" for anything else without reading Redis.
func mayBeJobID(id string) bool {
	if id == "" {
		return false
	}
	if rest, ok := strings.CutPrefix(id, "repeat:"); ok {
		return isIterationRest(rest)
	}
	if IsQueueKeyName(id) {
		return false
	}
	for _, s := range jobKeySuffixes {
		if owner, ok := strings.CutSuffix(id, s); ok {
			// "5:lock" hangs off job 5; "a:b:lock" is a job of its own
			// (three parts), since no job id has two.
			if !strings.Contains(owner, ":") || strings.HasPrefix(owner, "repeat:") {
				return false
			}
		}
	}
	return true
}

// isIterationRest reports whether rest is "<scheduler id>:<millis>".
func isIterationRest(rest string) bool {
	i := strings.LastIndexByte(rest, ':')
	if i <= 0 || i == len(rest)-1 {
		return false
	}
	for _, r := range rest[i+1:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// ValidateJobID applies Node BullMQ's producer rules for custom ids: a
// canonical integer ("123", "-1", "0") is refused, as are "0:…" ids and ids
// whose ':'-separated parts are not exactly three. It also refuses, unlike
// Node, ids that name one of the queue's own keys (see IsQueueKeyName).
func ValidateJobID(id string) error {
	if id == "" {
		return nil
	}
	if len(id) > 1024 {
		return optErr("JobID", "longer than 1024 bytes")
	}
	if IsQueueKeyName(id) {
		return optErr("JobID", "%q names one of the queue's own keys (reserved: wait, active, meta, events, id, …, and ids starting with de:, dn:, repeat:, metrics:)", id)
	}
	if jsParseIntRoundTrips(id) {
		return optErr("JobID", "custom ids cannot be integers (%q)", id)
	}
	if strings.Contains(id, ":") {
		if strings.HasPrefix(id, "0:") {
			return optErr("JobID", "custom ids cannot start with '0:' (%q)", id)
		}
		if strings.Count(id, ":") != 2 {
			return optErr("JobID", "custom ids containing ':' must have exactly three parts (%q)", id)
		}
	}
	return nil
}

// jsParseIntRoundTrips reports whether String(parseInt(id, 10)) === id in
// JavaScript.
func jsParseIntRoundTrips(id string) bool {
	s := id
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return false // leading zeros never round-trip
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f >= 1e21 {
		return false // JS prints exponent notation there
	}
	if neg && f == 0 {
		return false // String(-0) is "0"
	}
	return strconv.FormatFloat(f, 'f', -1, 64) == s
}

// validate checks the options and returns the stored form.
func (o *AddOptions) toJobOptions(now time.Time) (JobOptions, time.Time, error) {
	var jo JobOptions
	if o == nil {
		return jo, now, nil
	}
	if err := ValidateJobID(o.JobID); err != nil {
		return jo, now, err
	}
	if o.Delay < 0 {
		return jo, now, optErr("Delay", "must not be negative (got %s)", o.Delay)
	}
	if o.Priority < 0 || o.Priority > MaxPriority {
		return jo, now, optErr("Priority", "must be between 0 and %d (got %d)", MaxPriority, o.Priority)
	}
	if o.Attempts < 0 {
		return jo, now, optErr("Attempts", "must not be negative (got %d)", o.Attempts)
	}
	if o.KeepLogs < 0 {
		return jo, now, optErr("KeepLogs", "must not be negative (got %d)", o.KeepLogs)
	}
	if o.StackTraceLimit < 0 {
		return jo, now, optErr("StackTraceLimit", "must not be negative (got %d)", o.StackTraceLimit)
	}
	if b := o.Backoff; b != nil {
		if b.Type != "fixed" && b.Type != "exponential" {
			return jo, now, optErr("Backoff.Type", "must be \"fixed\" or \"exponential\" (got %q)", b.Type)
		}
		if b.Delay < 0 {
			return jo, now, optErr("Backoff.Delay", "must not be negative (got %s)", b.Delay)
		}
		if b.Jitter < 0 || b.Jitter > 1 || math.IsNaN(b.Jitter) {
			return jo, now, optErr("Backoff.Jitter", "must be between 0 and 1 (got %v)", b.Jitter)
		}
		jo.Backoff = &Backoff{Type: b.Type, Delay: b.Delay.Truncate(time.Millisecond), Jitter: b.Jitter}
	}
	for name, k := range map[string]*KeepJobs{"RemoveOnComplete": o.RemoveOnComplete, "RemoveOnFail": o.RemoveOnFail} {
		if k != nil && (k.Count < -1 || k.Age < 0 || k.Limit < 0) {
			return jo, now, optErr(name, "count must be ≥ -1, age and limit ≥ 0")
		}
	}
	if d := o.Deduplication; d != nil {
		if d.ID == "" {
			return jo, now, optErr("Deduplication.ID", "must be set")
		}
		if d.TTL < 0 || d.TTL != math.Trunc(d.TTL) || d.TTL > 1<<53 {
			return jo, now, optErr("Deduplication.TTL", "must be a whole number of milliseconds ≥ 0 (got %v)", d.TTL)
		}
		dc := *d
		jo.Deduplication = &dc
	}
	ts := now
	if !o.Timestamp.IsZero() {
		ts = o.Timestamp
		jo.Timestamp = ts.UnixMilli()
	}
	jo.JobID = o.JobID
	jo.Delay = o.Delay.Milliseconds()
	jo.Priority = o.Priority
	jo.Attempts = o.Attempts
	jo.LIFO = o.LIFO
	jo.RemoveOnComplete = o.RemoveOnComplete
	jo.RemoveOnFail = o.RemoveOnFail
	jo.KeepLogs = o.KeepLogs
	jo.StackTraceLimit = o.StackTraceLimit
	return jo, ts, nil
}

// sortedKeys is used by tests and debugging output.
func sortedKeys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
