package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Event names written to a queue's events stream by BullMQ 6.7.0 (Node)
// and by this package, with the fields each carries. Event.Name holds one
// of these (or any other name a writer uses: unknown names are delivered as
// they are).
const (
	StreamAdded            = "added"             // jobId, name
	StreamWaiting          = "waiting"           // jobId, prev (when moved from another state)
	StreamActive           = "active"            // jobId, prev
	StreamProgress         = "progress"          // jobId, data (JSON)
	StreamCompleted        = "completed"         // jobId, returnvalue (JSON), prev
	StreamFailed           = "failed"            // jobId, failedReason, prev
	StreamDelayed          = "delayed"           // jobId, delay (due time, ms since the epoch)
	StreamStalled          = "stalled"           // jobId
	StreamRemoved          = "removed"           // jobId, prev
	StreamDrained          = "drained"           // no fields
	StreamDuplicated       = "duplicated"        // jobId
	StreamDeduplicated     = "deduplicated"      // jobId, deduplicationId, deduplicatedJobId
	StreamRetriesExhausted = "retries-exhausted" // jobId, attemptsMade
	StreamPaused           = "paused"            // no fields
	StreamResumed          = "resumed"           // no fields
	StreamWaitingChildren  = "waiting-children"  // jobId, prev
	StreamCleaned          = "cleaned"           // count
)

// Event is one entry of a queue's events stream, decoded the way Node
// BullMQ's QueueEvents decodes it before emitting: the `data` of a progress
// event and the `returnvalue` of a completed event are JSON, the `delay` of
// a delayed event is a number, every other field is a string.
type Event struct {
	// StreamID is the entry's id in the stream ("1700000000000-0"); pass it
	// as QueueEventsOptions.LastEventID to resume after this event.
	StreamID string
	// Name is the event name (StreamCompleted, …).
	Name string
	// JobID is the `jobId` field ("" for drained, paused, resumed, cleaned).
	JobID string
	// JobName is the `name` field of an added event.
	JobName string
	// Prev is the state the job left (`prev`), when the writer says it.
	Prev string
	// ReturnValue is the JSON `returnvalue` of a completed event (nil when
	// absent or not valid JSON; Fields keeps the text).
	ReturnValue json.RawMessage
	// FailedReason is the `failedReason` of a failed event.
	FailedReason string
	// Data is the JSON `data` of a progress event (nil when absent or not
	// valid JSON; Fields keeps the text).
	Data json.RawMessage
	// Delay is the `delay` of a delayed event: BullMQ writes there the time
	// the job becomes due, in ms since the epoch.
	Delay int64
	// Fields holds every field of the entry as stored, except `event`.
	Fields map[string]string
}

// Args returns the event's fields exactly as Node's QueueEvents hands them
// to a listener (its first argument): every stored field but `event`, with
// progress `data` and completed `returnvalue` decoded from JSON and delayed
// `delay` as a number. A field Node could not parse stays a string here.
func (e Event) Args() map[string]any {
	out := make(map[string]any, len(e.Fields))
	for k, v := range e.Fields {
		out[k] = v
	}
	switch e.Name {
	case StreamProgress:
		if e.Data != nil {
			var v any
			if json.Unmarshal(e.Data, &v) == nil {
				out["data"] = v
			}
		}
	case StreamCompleted:
		if e.ReturnValue != nil {
			var v any
			if json.Unmarshal(e.ReturnValue, &v) == nil {
				out["returnvalue"] = v
			}
		}
	case StreamDelayed:
		if _, ok := e.Fields["delay"]; ok {
			out["delay"] = e.Delay
		}
	}
	return out
}

// decodeEvent builds an Event from one stream entry.
func decodeEvent(m redis.XMessage) Event {
	ev := Event{StreamID: m.ID, Fields: make(map[string]string, len(m.Values))}
	for k, v := range m.Values {
		s, _ := v.(string)
		if k == "event" {
			ev.Name = s
			continue
		}
		ev.Fields[k] = s
	}
	f := ev.Fields
	ev.JobID, ev.Prev = f["jobId"], f["prev"]
	switch ev.Name {
	case StreamAdded:
		ev.JobName = f["name"]
	case StreamCompleted:
		if rv, ok := f["returnvalue"]; ok && json.Valid([]byte(rv)) {
			ev.ReturnValue = json.RawMessage(rv)
		}
	case StreamFailed:
		ev.FailedReason = f["failedReason"]
	case StreamProgress:
		if d, ok := f["data"]; ok && json.Valid([]byte(d)) {
			ev.Data = json.RawMessage(d)
		}
	case StreamDelayed:
		if d, err := strconv.ParseFloat(f["delay"], 64); err == nil {
			ev.Delay = int64(d)
		}
	}
	return ev
}

// QueueEventsOptions configure a QueueEvents. A nil pointer means defaults.
type QueueEventsOptions struct {
	// Prefix of every key, as for Queue. Defaults to "bull".
	Prefix string
	// LastEventID is the stream position to read after: "$" (the default)
	// means events appended after NewQueueEvents returns; "0" means the
	// whole stream; a stream id resumes after that event.
	LastEventID string
	// BlockTimeout is how long one XREAD blocks. Defaults to 10 s (Node's
	// blockingTimeout).
	BlockTimeout time.Duration
	// RetryDelay is the pause after a failed read before the next try, on
	// a fresh connection. Defaults to 1 s.
	RetryDelay time.Duration
	// Count caps the entries one XREAD returns (0: no cap, as Node).
	Count int64
	// Logger receives read errors (once per episode) and the recovery.
	// Defaults to slog.Default().
	Logger *slog.Logger
}

// QueueEvents follows one queue's events stream (`<prefix>:<queue>:events`)
// as Node BullMQ's QueueEvents does, for events written by Node or Go.
//
// It reads with XREAD BLOCK on a connection of its own (named
// "<prefix>:<base64(queue)>:qe" like Node's, for a *redis.Client or
// *redis.ClusterClient; other clients are used as they are), remembering
// the id of the last entry it read: after a connection error it retries
// from that id, so no event is lost or repeated while the stream keeps it.
//
// Reading starts with the first Subscribe; events read are delivered to
// every subscription open at that moment. A subscriber that does not
// receive holds the reader back (nothing is dropped), so receive promptly
// or Close the subscription.
type QueueEvents struct {
	c     redis.UniversalClient
	name  string
	k     keys
	opts  QueueEventsOptions
	log   *slog.Logger
	block *blocker

	mu      sync.Mutex
	lastID  string
	subs    map[*Subscription]struct{}
	started bool
	closed  bool

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// NewQueueEvents returns a follower of queue name's events. With
// LastEventID "$" it reads the stream's current last id now (one round
// trip), so every event appended after NewQueueEvents returns is seen, even
// by a Subscribe made later.
func NewQueueEvents(ctx context.Context, c redis.UniversalClient, name string, opts *QueueEventsOptions) (*QueueEvents, error) {
	if c == nil {
		return nil, errors.New("queue: nil redis client")
	}
	var o QueueEventsOptions
	if opts != nil {
		o = *opts
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if err := validateNames(o.Prefix, name); err != nil {
		return nil, err
	}
	if o.LastEventID == "" {
		o.LastEventID = "$"
	}
	if o.BlockTimeout < 0 || o.RetryDelay < 0 || o.Count < 0 {
		return nil, optErr("QueueEventsOptions", "BlockTimeout, RetryDelay and Count must not be negative")
	}
	if o.BlockTimeout == 0 {
		o.BlockTimeout = 10 * time.Second
	}
	if o.RetryDelay == 0 {
		o.RetryDelay = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	k := newKeys(o.Prefix, name)
	last := o.LastEventID
	if last == "$" {
		xs, err := c.XRevRangeN(ctx, k.events(), "+", "-", 1).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("queue: events of %s: reading the stream's last id: %w", name, err)
		}
		last = "0-0"
		if len(xs) == 1 {
			last = xs[0].ID
		}
	}
	qctx, cancel := context.WithCancel(context.Background())
	return &QueueEvents{
		c: c, name: name, k: k, opts: o, log: o.Logger,
		block:  newBlocker(c, connectionName(o.Prefix, name, "")+":qe"),
		lastID: last, subs: map[*Subscription]struct{}{},
		ctx: qctx, cancel: cancel, done: make(chan struct{}),
	}, nil
}

// Name is the queue's name.
func (qe *QueueEvents) Name() string { return qe.name }

// LastEventID is the id of the last entry read (or the starting position
// when none was read yet).
func (qe *QueueEvents) LastEventID() string {
	qe.mu.Lock()
	defer qe.mu.Unlock()
	return qe.lastID
}

// Subscription receives the events read while it is open, in stream order.
type Subscription struct {
	// C delivers the events; it is closed by Close and by QueueEvents.Close.
	C <-chan Event

	qe     *QueueEvents
	ch     chan Event
	filter func(Event) bool
	stop   chan struct{}
	once   sync.Once

	sendMu   sync.Mutex // held while sending on ch
	chClosed bool
}

// closeCh closes ch once no send is in progress.
func (s *Subscription) closeCh() {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if !s.chClosed {
		s.chClosed = true
		close(s.ch)
	}
}

// send delivers ev unless the subscription or the reader stops first; it
// returns false when the reader is closing.
func (s *Subscription) send(ctx context.Context, ev Event) bool {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if s.chClosed {
		return true
	}
	select {
	case s.ch <- ev:
	case <-s.stop:
	case <-ctx.Done():
		return false
	}
	return true
}

// Subscribe opens a subscription with a channel buffer of buffer events
// (a negative buffer counts as 0) and starts reading on the first call. It
// returns ErrClosed after Close.
func (qe *QueueEvents) Subscribe(buffer int) (*Subscription, error) {
	return qe.subscribe(max(buffer, 0), nil)
}

func (qe *QueueEvents) subscribe(buffer int, filter func(Event) bool) (*Subscription, error) {
	ch := make(chan Event, buffer)
	s := &Subscription{C: ch, qe: qe, ch: ch, filter: filter, stop: make(chan struct{})}
	qe.mu.Lock()
	defer qe.mu.Unlock()
	if qe.closed {
		return nil, ErrClosed
	}
	qe.subs[s] = struct{}{}
	if !qe.started {
		qe.started = true
		go qe.run()
	}
	return s, nil
}

// Close ends the subscription: no more events are sent and C is closed.
// Safe to call more than once and concurrently with delivery.
func (s *Subscription) Close() {
	s.once.Do(func() { close(s.stop) })
	s.qe.mu.Lock()
	delete(s.qe.subs, s)
	s.qe.mu.Unlock()
	s.closeCh()
}

// run is the reader loop: XREAD BLOCK from lastID, deliver, repeat.
func (qe *QueueEvents) run() {
	defer func() {
		qe.mu.Lock()
		subs := qe.subs
		qe.subs = map[*Subscription]struct{}{}
		qe.mu.Unlock()
		for s := range subs {
			s.closeCh()
		}
		qe.block.close()
		close(qe.done)
	}()
	failing := false // log once per episode of failed reads
	for qe.ctx.Err() == nil {
		msgs, err := qe.read()
		if err != nil {
			if qe.ctx.Err() != nil {
				return
			}
			if !failing {
				qe.log.Warn("[Queue] reading events failed; retrying from the last id", "queue", qe.name,
					"last_id", qe.LastEventID(), "err", err)
			}
			failing = true
			select {
			case <-qe.ctx.Done():
				return
			case <-time.After(qe.opts.RetryDelay):
			}
			continue
		}
		if failing {
			failing = false
			qe.log.Info("[Queue] reading events again", "queue", qe.name, "last_id", qe.LastEventID())
		}
		for _, m := range msgs {
			ev := decodeEvent(m)
			if !qe.deliver(ev) {
				return
			}
			qe.mu.Lock()
			qe.lastID = m.ID
			qe.mu.Unlock()
		}
	}
}

// read does one XREAD BLOCK, bounded by a watchdog of BlockTimeout + 1 s.
func (qe *QueueEvents) read() ([]redis.XMessage, error) {
	wctx, cancel := context.WithTimeout(qe.ctx, qe.opts.BlockTimeout+time.Second)
	defer cancel()
	streams, err := qe.block.c.XRead(wctx, &redis.XReadArgs{
		Streams: []string{qe.k.events(), qe.LastEventID()},
		Count:   qe.opts.Count,
		Block:   qe.opts.BlockTimeout,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		if wctx.Err() != nil && qe.ctx.Err() == nil {
			return nil, nil // the watchdog fired: a timeout, not an error
		}
		return nil, err
	}
	var out []redis.XMessage
	for _, s := range streams {
		out = append(out, s.Messages...)
	}
	return out, nil
}

// deliver sends ev to every open subscription; false when closing.
func (qe *QueueEvents) deliver(ev Event) bool {
	qe.mu.Lock()
	subs := make([]*Subscription, 0, len(qe.subs))
	for s := range qe.subs {
		subs = append(subs, s)
	}
	qe.mu.Unlock()
	for _, s := range subs {
		if s.filter != nil && !s.filter(ev) {
			continue
		}
		if !s.send(qe.ctx, ev) {
			return false
		}
	}
	return true
}

// Close stops reading (interrupting a blocked XREAD), closes every
// subscription's channel and the dedicated connection, and waits for the
// reader to exit or ctx to end. The client given to NewQueueEvents is not
// closed. Safe to call more than once.
func (qe *QueueEvents) Close(ctx context.Context) error {
	qe.mu.Lock()
	already := qe.closed
	qe.closed = true
	started := qe.started
	subs := qe.subs
	if !started {
		qe.subs = map[*Subscription]struct{}{}
	}
	qe.mu.Unlock()
	qe.cancel()
	if started && !already {
		// Closing our own connection interrupts a blocked XREAD (a foreign
		// client's read ends with its BlockTimeout).
		qe.block.close()
	}
	if !started {
		if !already {
			for s := range subs {
				s.closeCh()
			}
			qe.block.close()
		}
		return nil
	}
	select {
	case <-qe.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("queue: closing events of %s: %w", qe.name, ctx.Err())
	}
}

// JobFailedError is WaitUntilFinished's error for a job that failed: the
// reason is the job's failedReason. errors.Is(err, ErrJobFailed) is true.
type JobFailedError struct {
	ID     string
	Reason string
}

func (e *JobFailedError) Error() string {
	return fmt.Sprintf("queue: job %s failed: %s", e.ID, e.Reason)
}

func (e *JobFailedError) Unwrap() error { return ErrJobFailed }

// ErrJobFailed is matched by a *JobFailedError.
var ErrJobFailed = errors.New("queue: job failed")

// WaitUntilFinished waits for the job to complete or fail, as Node's
// job.waitUntilFinished(queueEvents) does: it listens on qe (a follower of
// the job's queue) for the job's completed or failed event, and also reads
// the job once after it starts listening, so a job that finished before the
// call is answered at once. It returns the return value (JSON; "null" when
// the handler returned nothing), a *JobFailedError when the job failed,
// ErrJobNotFound when the job does not exist or is removed while waited
// for, or ctx's error.
func (j *Job) WaitUntilFinished(ctx context.Context, qe *QueueEvents) (json.RawMessage, error) {
	if j.q == nil {
		return nil, errors.New("queue: job not bound to a queue")
	}
	if qe == nil || qe.k.base != j.q.k.base {
		return nil, errors.New("queue: WaitUntilFinished needs the QueueEvents of the job's own queue")
	}
	id := j.ID
	sub, err := qe.subscribe(4, func(ev Event) bool {
		return ev.JobID == id && (ev.Name == StreamCompleted || ev.Name == StreamFailed || ev.Name == StreamRemoved)
	})
	if err != nil {
		return nil, err
	}
	defer sub.Close()

	// The job may have finished before we listened.
	k := j.q.k
	var exists *redis.IntCmd
	var inCompleted, inFailed *redis.FloatCmd
	var fields *redis.SliceCmd
	_, err = j.q.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		exists = p.Exists(ctx, k.job(id))
		inCompleted = p.ZScore(ctx, k.completed(), id)
		inFailed = p.ZScore(ctx, k.failed(), id)
		fields = p.HMGet(ctx, k.job(id), "returnvalue", "failedReason")
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("queue: wait for job %s: %w", id, err)
	}
	vals := fields.Val()
	str := func(i int) string {
		if i < len(vals) {
			s, _ := vals[i].(string)
			return s
		}
		return ""
	}
	switch {
	case exists.Val() == 0:
		return nil, fmt.Errorf("queue: wait for job %s: %w", id, ErrJobNotFound)
	case inCompleted.Err() == nil:
		return returnValue(str(0)), nil
	case inFailed.Err() == nil:
		return nil, &JobFailedError{ID: id, Reason: str(1)}
	}
	for {
		select {
		case ev, ok := <-sub.C:
			if !ok {
				return nil, fmt.Errorf("queue: wait for job %s: %w", id, ErrClosed)
			}
			switch ev.Name {
			case StreamCompleted:
				return returnValue(ev.Fields["returnvalue"]), nil
			case StreamFailed:
				return nil, &JobFailedError{ID: id, Reason: ev.FailedReason}
			case StreamRemoved:
				return nil, fmt.Errorf("queue: wait for job %s: removed: %w", id, ErrJobNotFound)
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("queue: wait for job %s: %w", id, ctx.Err())
		}
	}
}

// returnValue is a stored returnvalue as JSON ("null" when absent or not
// JSON, as Node reads it).
func returnValue(s string) json.RawMessage {
	if s == "" || !json.Valid([]byte(s)) {
		return json.RawMessage("null")
	}
	return json.RawMessage(s)
}
