package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultMaxDataSize bounds the JSON size of a job's data.
const DefaultMaxDataSize = 4 << 20

// QueueOptions configure a Queue. A nil *QueueOptions means all defaults.
type QueueOptions struct {
	// Prefix of every key, with any Cluster hash tag ("{bull}"), exactly as
	// the Node side uses it. Defaults to "bull".
	Prefix string
	// MaxDataSize is the largest accepted data JSON, in bytes. Defaults to
	// DefaultMaxDataSize (4 MiB).
	MaxDataSize int
	// Logger receives the queue's log lines. Defaults to slog.Default().
	Logger *slog.Logger
	// Now is the clock for timestamps and delayed scores. Defaults to
	// time.Now.
	Now func() time.Time
	// WaitReplicas, when positive, makes Add wait until that many replicas
	// of the master that stored the job have acknowledged it (WAIT on the
	// same connection), for at most WaitReplicasTimeout. See addReplicated.
	// Defaults to 0 (no wait: an add acknowledged just before its master
	// dies can be lost with Redis's asynchronous replication).
	WaitReplicas int
	// WaitReplicasTimeout bounds that wait. Defaults to 1s.
	WaitReplicasTimeout time.Duration
}

func (o *QueueOptions) withDefaults() QueueOptions {
	var out QueueOptions
	if o != nil {
		out = *o
	}
	if out.Prefix == "" {
		out.Prefix = DefaultPrefix
	}
	if out.MaxDataSize == 0 {
		out.MaxDataSize = DefaultMaxDataSize
	}
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	if out.Now == nil {
		out.Now = time.Now
	}
	if out.WaitReplicas > 0 && out.WaitReplicasTimeout == 0 {
		out.WaitReplicasTimeout = time.Second
	}
	return out
}

// Queue is the producer and admin side of one BullMQ queue. It does not own
// the client it is given. Safe for concurrent use.
type Queue struct {
	c      redis.UniversalClient
	name   string
	k      keys
	opts   QueueOptions
	log    *slog.Logger
	loaded atomic.Bool // scripts loaded for pipelines
}

// NewQueue returns the queue name on the client c.
func NewQueue(c redis.UniversalClient, name string, opts *QueueOptions) (*Queue, error) {
	if c == nil {
		return nil, errors.New("queue: nil redis client")
	}
	o := opts.withDefaults()
	if err := validateNames(o.Prefix, name); err != nil {
		return nil, err
	}
	if err := checkClusterKeys(c, o.Prefix, name); err != nil {
		return nil, err
	}
	if o.MaxDataSize < 0 {
		return nil, optErr("MaxDataSize", "must not be negative")
	}
	if o.WaitReplicas < 0 || o.WaitReplicasTimeout < 0 {
		return nil, optErr("WaitReplicas", "WaitReplicas and WaitReplicasTimeout must not be negative")
	}
	return &Queue{c: c, name: name, k: newKeys(o.Prefix, name), opts: o, log: o.Logger}, nil
}

// Name is the queue's name.
func (q *Queue) Name() string { return q.name }

// Prefix is the queue's key prefix.
func (q *Queue) Prefix() string { return q.opts.Prefix }

// Close releases nothing today (the client belongs to the caller); it exists
// so a Queue can be used where a closer is expected.
func (q *Queue) Close() error { return nil }

var (
	scriptAddJob   = newScript("addJob")
	scriptAddJobs  = newScript("addJobs")
	scriptGetState = newScript("getState")
	scriptPause    = newScript("pause")
	scriptResume   = newScript("resume")
)

// encodeData turns data into JSON text: json.RawMessage and []byte are taken
// as JSON and checked, nil becomes {}, anything else is encoded.
func encodeData(data any, limit int) (string, error) {
	var b []byte
	switch v := data.(type) {
	case nil:
		b = []byte("{}")
	case json.RawMessage:
		if !json.Valid(v) {
			return "", fmt.Errorf("queue: data is not valid JSON")
		}
		b = v
	case []byte:
		if !json.Valid(v) {
			return "", fmt.Errorf("queue: data is not valid JSON")
		}
		b = v
	default:
		var err error
		if b, err = marshalJSON(v); err != nil {
			return "", fmt.Errorf("queue: data cannot be encoded as JSON: %w", err)
		}
	}
	if limit > 0 && len(b) > limit {
		return "", fmt.Errorf("%w: %d bytes, limit %d", ErrDataTooLarge, len(b), limit)
	}
	return string(b), nil
}

// prepared is one add, validated and encoded, ready for the script.
type prepared struct {
	job  *Job
	keys []string
	args []any
}

func (q *Queue) prepare(name string, data any, opts *AddOptions) (*prepared, error) {
	if len(name) > 1024 {
		return nil, optErr("name", "longer than 1024 bytes")
	}
	jo, ts, err := opts.toJobOptions(q.opts.Now())
	if err != nil {
		return nil, err
	}
	dataJSON, err := encodeData(data, q.opts.MaxDataSize)
	if err != nil {
		return nil, err
	}
	optsJSON, err := jo.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("queue: encoding options: %w", err)
	}
	lifo := "0"
	if jo.LIFO {
		lifo = "1"
	}
	tsMs := ts.UnixMilli()
	j := &Job{ID: jo.JobID, Name: name, Data: json.RawMessage(dataJSON), Opts: jo, RawOpts: optsJSON,
		Timestamp: tsMs, Delay: jo.Delay, Priority: jo.Priority, q: q}
	// Without deduplication ARGV stops at lifo: every argument costs Redis
	// about a thousand instructions per call.
	var deArgs []any
	if d := jo.Deduplication; d != nil {
		j.DeduplicationID = d.ID
		deArgs = []any{d.ID, int64(d.TTL), boolArg(d.Extend), boolArg(d.Replace), boolArg(d.Reschedule),
			boolArg(d.KeepLastIfActive)}
	}
	k := q.k
	return &prepared{
		job:  j,
		keys: []string{k.meta()}, // addJob builds the other keys from the prefix
		args: append([]any{k.base, jo.JobID, name, tsMs, dataJSON, string(optsJSON), jo.Delay, jo.Priority, lifo},
			deArgs...),
	}, nil
}

// AddOutcome says what an add did.
type AddOutcome int

const (
	// Added: a new job was stored.
	Added AddOutcome = 0
	// AddedExisting: the custom id existed; nothing was stored or changed
	// and the id is the existing job's (BullMQ emits `duplicated`).
	AddedExisting AddOutcome = 1
	// Deduplicated: another job holds the deduplication id; the id is that
	// owner's (BullMQ emits `deduplicated`).
	Deduplicated AddOutcome = 2
)

// addResult decodes addJob's reply: the final id and what happened.
func addResult(res any) (id string, outcome AddOutcome, err error) {
	arr, ok := res.([]any)
	if !ok || len(arr) != 2 {
		return "", Added, fmt.Errorf("queue: addJob: unexpected reply %T", res)
	}
	id, _ = arr[0].(string)
	n, _ := arr[1].(int64)
	return id, AddOutcome(n), nil
}

// Add stores one job in one round trip and returns it with its final id.
// Re-adding an existing custom id changes nothing and returns the existing
// id (BullMQ emits `duplicated`). An add deduplicated onto an existing job
// (AddOptions.Deduplication) returns that owner's id, as BullMQ does; the
// returned Job then describes the add, not the stored owner.
func (q *Queue) Add(ctx context.Context, name string, data any, opts *AddOptions) (*Job, error) {
	j, _, err := q.AddWithOutcome(ctx, name, data, opts)
	return j, err
}

// AddWithOutcome is Add that also says whether a new job was stored, or
// the add was answered with an existing job's id (custom id taken,
// deduplicated).
func (q *Queue) AddWithOutcome(ctx context.Context, name string, data any, opts *AddOptions) (*Job, AddOutcome, error) {
	p, err := q.prepare(name, data, opts)
	if err != nil {
		return nil, Added, err
	}
	if q.opts.WaitReplicas > 0 {
		return q.addReplicated(ctx, p)
	}
	res, err := scriptAddJob.run(ctx, q.c, p.job.ID, p.keys, p.args...)
	if err != nil {
		return nil, Added, err
	}
	id, outcome, err := addResult(res)
	if err != nil {
		return nil, Added, err
	}
	p.job.ID = id
	return p.job, outcome, nil
}

// BulkJob is one entry of AddBulk.
type BulkJob struct {
	Name string
	Data any
	Opts *AddOptions
}

// AddBulk validates every job first (nothing is written if one is invalid),
// then adds them in one pipelined round trip: up to addBulkChunk jobs per
// addJobs script call, each job added exactly as Add adds it, in order.
// Like BullMQ's addBulk the adds are not one transaction (each chunk is).
func (q *Queue) AddBulk(ctx context.Context, jobs []BulkJob) ([]*Job, error) {
	ps := make([]*prepared, len(jobs))
	for i, bj := range jobs {
		p, err := q.prepare(bj.Name, bj.Data, bj.Opts)
		if err != nil {
			return nil, fmt.Errorf("queue: AddBulk job %d: %w", i, err)
		}
		ps[i] = p
	}
	if len(ps) == 0 {
		return nil, nil
	}
	if err := q.ensureLoaded(ctx, false); err != nil {
		return nil, err
	}
	todo := bulkChunks(ps)
	for attempt := 0; ; attempt++ {
		cmds, err := q.c.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for _, c := range todo {
				scriptAddJobs.s.EvalSha(ctx, pipe, c[0].keys, bulkArgs(c)...)
			}
			return nil
		})
		var retry [][]*prepared
		for i, cmd := range cmds {
			cerr := cmd.Err()
			if cerr != nil && strings.HasPrefix(cerr.Error(), "NOSCRIPT") && attempt == 0 {
				retry = append(retry, todo[i])
				continue
			}
			if cerr != nil {
				return nil, fmt.Errorf("queue: AddBulk: %w", cerr)
			}
			replies, _ := cmd.(*redis.Cmd).Val().([]any)
			if len(replies) != len(todo[i]) {
				return nil, fmt.Errorf("queue: AddBulk: %d replies for %d jobs", len(replies), len(todo[i]))
			}
			for j, r := range replies {
				id, _, rerr := addResult(r)
				if rerr != nil {
					return nil, rerr
				}
				todo[i][j].job.ID = id
			}
		}
		if len(retry) == 0 {
			if err != nil && !strings.HasPrefix(err.Error(), "NOSCRIPT") {
				return nil, fmt.Errorf("queue: AddBulk: %w", err)
			}
			break
		}
		// The server lost its script cache (restart, SCRIPT FLUSH): load and
		// send only the chunks that did not run.
		if err := q.ensureLoaded(ctx, true); err != nil {
			return nil, err
		}
		todo = retry
	}
	out := make([]*Job, len(ps))
	for i, p := range ps {
		out[i] = p.job
	}
	return out, nil
}

// addBulkChunk and addBulkChunkBytes bound one addJobs call (jobs, and
// bytes of data and options) so that no call holds Redis for long.
const (
	addBulkChunk      = 100
	addBulkChunkBytes = 1 << 20
)

// bulkChunks splits ps into addJobs calls.
func bulkChunks(ps []*prepared) [][]*prepared {
	var out [][]*prepared
	start, size := 0, 0
	for i, p := range ps {
		n := len(p.args[4].(string)) + len(p.args[5].(string))
		if i > start && (i-start == addBulkChunk || size+n > addBulkChunkBytes) {
			out = append(out, ps[start:i])
			start, size = i, 0
		}
		size += n
	}
	return append(out, ps[start:])
}

// bulkArgs is the ARGV of addJobs for one chunk: the prefix, then per job
// the count of its addJob arguments after the prefix and those arguments.
func bulkArgs(c []*prepared) []any {
	n := 1
	for _, p := range c {
		n += len(p.args)
	}
	args := make([]any, 0, n)
	args = append(args, c[0].args[0])
	for _, p := range c {
		args = append(args, len(p.args)-1)
		args = append(args, p.args[1:]...)
	}
	return args
}

func (q *Queue) ensureLoaded(ctx context.Context, force bool) error {
	if q.loaded.Load() && !force {
		return nil
	}
	for _, sc := range []*script{scriptAddJob, scriptAddJobs} {
		if err := sc.load(ctx, q.c); err != nil {
			return err
		}
	}
	q.loaded.Store(true)
	return nil
}

// GetJob reads a job. It returns ErrJobNotFound when the hash does not
// exist, and the job together with a *MalformedJobError when its hash is
// garbled.
//
// An id that cannot name a job hash (a queue key such as "meta" or
// "events", a key hanging off a job such as "5:lock", a scheduler's
// "repeat:<id>") is not read: the answer is ErrJobNotFound. So is a key that
// is not a hash, or a hash without the timestamp every stored job has.
func (q *Queue) GetJob(ctx context.Context, id string) (*Job, error) {
	if !mayBeJobID(id) {
		return nil, fmt.Errorf("queue: get job %.64q: %w", id, ErrJobNotFound)
	}
	h, err := q.c.HGetAll(ctx, q.k.job(id)).Result()
	if err != nil && redis.HasErrorPrefix(err, "WRONGTYPE") {
		return nil, fmt.Errorf("queue: get job %.64q: %w (the key is not a job hash)", id, ErrJobNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("queue: get job %s: %w", id, err)
	}
	if _, ok := h["timestamp"]; !ok {
		return nil, fmt.Errorf("queue: get job %.64q: %w", id, ErrJobNotFound)
	}
	j, err := jobFromHash(id, h)
	j.q = q
	return j, err
}

// GetState answers where job id is, with Node's getJobState names. An id
// that cannot name a job (see GetJob) is "unknown" without a round trip.
func (q *Queue) GetState(ctx context.Context, id string) (JobState, error) {
	if !mayBeJobID(id) {
		return StateUnknown, nil
	}
	k := q.k
	res, err := scriptGetState.run(ctx, q.c, id, []string{k.completed(), k.failed(), k.delayed(), k.prioritized(),
		k.active(), k.wait(), k.paused(), k.waitingChildren()}, id)
	if err != nil {
		return StateUnknown, err
	}
	s, _ := res.(string)
	return JobState(s), nil
}

// Counts are the number of jobs in each state.
type Counts struct {
	Waiting         int64 `json:"waiting"`
	Active          int64 `json:"active"`
	Delayed         int64 `json:"delayed"`
	Prioritized     int64 `json:"prioritized"`
	Completed       int64 `json:"completed"`
	Failed          int64 `json:"failed"`
	WaitingChildren int64 `json:"waiting-children"`
	Paused          int64 `json:"paused"` // legacy v5 list only
}

// Counts reads every state's size in one round trip (O(1) per state).
func (q *Queue) Counts(ctx context.Context) (Counts, error) {
	k := q.k
	var c Counts
	cmds, err := q.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.LLen(ctx, k.wait())
		p.LLen(ctx, k.active())
		p.ZCard(ctx, k.delayed())
		p.ZCard(ctx, k.prioritized())
		p.ZCard(ctx, k.completed())
		p.ZCard(ctx, k.failed())
		p.ZCard(ctx, k.waitingChildren())
		p.LLen(ctx, k.paused())
		return nil
	})
	if err != nil {
		return c, fmt.Errorf("queue: counts: %w", err)
	}
	dst := []*int64{&c.Waiting, &c.Active, &c.Delayed, &c.Prioritized, &c.Completed, &c.Failed, &c.WaitingChildren, &c.Paused}
	for i, cmd := range cmds {
		*dst[i] = cmd.(*redis.IntCmd).Val()
	}
	return c, nil
}

// Pause stops workers (Node and Go) from fetching new jobs; adds go on.
func (q *Queue) Pause(ctx context.Context) error {
	_, err := scriptPause.run(ctx, q.c, "", []string{q.k.meta(), q.k.marker(), q.k.events()})
	return err
}

// Resume undoes Pause and wakes idle workers.
func (q *Queue) Resume(ctx context.Context) error {
	k := q.k
	for i := 0; i < 10000; i++ { // a legacy paused list moves 7000 per call
		res, err := scriptResume.run(ctx, q.c, "", []string{k.meta(), k.marker(), k.events(), k.wait(), k.paused(),
			k.prioritized(), k.delayed()}, boolArg(i == 0))
		if err != nil {
			return err
		}
		if n, _ := res.(int64); n == 0 {
			return nil
		}
	}
	return errors.New("queue: resume: legacy paused list did not drain")
}

// IsPaused reports whether the queue is paused.
func (q *Queue) IsPaused(ctx context.Context) (bool, error) {
	n, err := q.c.HExists(ctx, q.k.meta(), "paused").Result()
	if err != nil {
		return false, fmt.Errorf("queue: is paused: %w", err)
	}
	return n, nil
}

// SetGlobalConcurrency caps the jobs active at once across every worker,
// Node or Go (meta `concurrency`). n ≤ 0 removes the cap.
func (q *Queue) SetGlobalConcurrency(ctx context.Context, n int) error {
	var err error
	if n <= 0 {
		err = q.c.HDel(ctx, q.k.meta(), "concurrency").Err()
	} else {
		err = q.c.HSet(ctx, q.k.meta(), "concurrency", n).Err()
	}
	if err != nil {
		return fmt.Errorf("queue: set global concurrency: %w", err)
	}
	return nil
}

// SetGlobalRateLimit lets at most max jobs start per duration across every
// worker (meta `max`, `duration`). max ≤ 0 removes the limit.
func (q *Queue) SetGlobalRateLimit(ctx context.Context, max int, duration time.Duration) error {
	var err error
	if max <= 0 {
		err = q.c.HDel(ctx, q.k.meta(), "max", "duration").Err()
	} else {
		err = q.c.HSet(ctx, q.k.meta(), "max", max, "duration", duration.Milliseconds()).Err()
	}
	if err != nil {
		return fmt.Errorf("queue: set global rate limit: %w", err)
	}
	return nil
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
