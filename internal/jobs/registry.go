package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/zyeute/zyeute-redis/internal/httpapi"
	"github.com/zyeute/zyeute-redis/internal/video"
	"github.com/zyeute/zyeute-redis/queue"
)

// The five Zyeuté queues.
const (
	// VideoEnhancement plans (and, with a real VideoEnhancer, runs) the
	// renditions of an uploaded video.
	VideoEnhancement = "video-enhancement"
	// Analytics aggregates engagement events into counters.
	Analytics = "analytics"
	// BlockchainSync syncs a KryptoTrac wallet's on-chain activity.
	BlockchainSync = "blockchain-sync"
	// MemoryMining surfaces a user's "memories" (on this day, top moments).
	MemoryMining = "memory-mining"
	// PrivacyAudit answers a Loi 25 privacy request with a report of the
	// personal data it touches and the retention that applies.
	PrivacyAudit = "privacy-audit"
)

// Names lists the five queues in a stable order.
func Names() []string {
	return []string{VideoEnhancement, Analytics, BlockchainSync, MemoryMining, PrivacyAudit}
}

// MaxPayloadSize bounds a job's data JSON, in bytes. Payloads carry
// references (ids, URLs), never media bytes.
const MaxPayloadSize = 64 << 10

// Errors callers branch on.
var (
	// ErrUnknownQueue: the queue name is not one of Names().
	ErrUnknownQueue = errors.New("jobs: unknown queue")
	// ErrInvalidPayload: the data does not match the queue's payload; the
	// error is a *ValidationError naming the field.
	ErrInvalidPayload = errors.New("jobs: invalid payload")
)

// ValidationError names the invalid field of a payload and why.
type ValidationError struct {
	Queue  string
	Field  string // JSON field path, e.g. "events[3].type"; "" for the whole payload
	Reason string
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: invalid payload: %s", e.Queue, e.Reason)
	}
	return fmt.Sprintf("%s: invalid payload: field %s: %s", e.Queue, e.Field, e.Reason)
}

func (e *ValidationError) Unwrap() error { return ErrInvalidPayload }

// fieldError is returned by payload checks; newSpec adds the queue name.
func fieldError(field, format string, a ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, a...)}
}

// Spec is one queue: how to check its payload and how to run it.
type Spec struct {
	// Name is the queue name.
	Name string
	// Description is one line for humans (docs, CLI).
	Description string

	decode func(data json.RawMessage) (any, error)
	run    func(ctx context.Context, payload any) (any, error)
	budget *budget
}

// Timeout is the time budget of one attempt of the queue's jobs
// (DefaultTimeouts, or RegistryConfig.Timeouts).
func (s *Spec) Timeout() time.Duration { return s.budget.timeout }

// Validate decodes and checks data without running anything. The error is
// a *ValidationError (errors.Is(err, ErrInvalidPayload)).
func (s *Spec) Validate(data json.RawMessage) error {
	_, err := s.decode(data)
	return err
}

// Run decodes, checks and runs one job and returns its result (a
// JSON-encodable value). The handler runs in its own goroutine under the
// queue's time budget (Timeout()): its context ends when the budget runs
// out (*TimeoutError, errors.Is ErrJobTimeout and
// context.DeadlineExceeded); a panic is returned as a *PanicError; a
// handler still running shortly after its context ended is abandoned and
// Run returns anyway. Run itself never panics and never outlives ctx by
// more than RegistryConfig.AbandonAfter.
func (s *Spec) Run(ctx context.Context, data json.RawMessage) (any, error) {
	p, err := s.decode(data)
	if err != nil {
		return nil, err
	}
	return s.budget.run(ctx, func(ctx context.Context) (any, error) { return s.run(ctx, p) })
}

// newSpec builds a Spec for payload type P: strict JSON decoding (unknown
// fields, trailing data and oversize payloads refused), then check.
func newSpec[P any](name, desc string, check func(*P) error, run func(context.Context, *P) (any, error)) *Spec {
	s := &Spec{Name: name, Description: desc}
	s.decode = func(data json.RawMessage) (any, error) {
		p, err := decodeStrict[P](data, check)
		if err != nil {
			var ve *ValidationError
			if errors.As(err, &ve) {
				ve.Queue = name
				return nil, ve
			}
			return nil, &ValidationError{Queue: name, Reason: err.Error()}
		}
		return p, nil
	}
	s.run = func(ctx context.Context, p any) (any, error) { return run(ctx, p.(*P)) }
	return s
}

func decodeStrict[P any](data json.RawMessage, check func(*P) error) (*P, error) {
	if len(data) > MaxPayloadSize {
		return nil, fieldError("", "data is %d bytes, limit %d (send references such as URLs, not media bytes)", len(data), MaxPayloadSize)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return nil, fieldError("", "data is required (a JSON object)")
	}
	if trimmed[0] != '{' {
		return nil, fieldError("", "data must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	p := new(P)
	if err := dec.Decode(p); err != nil {
		return nil, jsonFieldError(err)
	}
	if dec.More() {
		return nil, fieldError("", "data holds more than one JSON value")
	}
	// Duplicate keys, keys differing only by case, miscased field names:
	// encoding/json accepts them, a Node worker would read them otherwise.
	if err := httpapi.CheckKeys(trimmed, p); err != nil {
		return nil, fieldError("", "%v", err)
	}
	if err := check(p); err != nil {
		return nil, err
	}
	return p, nil
}

// jsonFieldError turns a decoding error into a *ValidationError that names
// the field when the decoder says which.
func jsonFieldError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fieldError(te.Field, "must be a JSON %s, not %s", jsonKind(te.Type.Kind().String()), te.Value)
	}
	var pe *time.ParseError
	if errors.As(err, &pe) {
		return fieldError("", "a time is not RFC 3339 (e.g. 2026-11-26T14:00:00Z): %q", pe.Value)
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return fieldError(strings.Trim(f, `"`), "unknown field")
	}
	return fieldError("", "not valid JSON: %s", strings.TrimPrefix(msg, "json: "))
}

func jsonKind(k string) string {
	switch k {
	case "int", "int64", "int32", "uint", "uint64", "uint32", "float64", "float32":
		return "number"
	case "slice":
		return "array"
	case "struct", "map":
		return "object"
	case "bool":
		return "boolean"
	}
	return k
}

// Handlers are the implementations behind the queues. A nil field uses the
// default (FFmpegVideoEnhancer, LocalAnalyticsAggregator, …); a fork of
// this service plugs its own services in here, in cmd/zyeute (the package
// is internal: other modules cannot import it).
type Handlers struct {
	Video     VideoEnhancer
	Analytics AnalyticsAggregator
	Chain     ChainSyncer
	Memory    MemoryMiner
	Privacy   PrivacyAuditor
}

// RegistryConfig configures a Registry. A nil *RegistryConfig means all
// defaults.
type RegistryConfig struct {
	// Handlers behind the queues. Defaults to the local implementations.
	Handlers Handlers
	// Now is the clock used by the local implementations when a payload
	// gives no date, and by validation to bound dates (at most 24 hours
	// ahead). Defaults to time.Now.
	Now func() time.Time
	// Timeouts overrides the time budget of one attempt per queue name
	// (1ms to 24h each; see ParseTimeouts for the deployment setting).
	// Defaults to DefaultTimeouts for the queues not listed.
	Timeouts map[string]time.Duration
	// Media configures the default video enhancer (FFmpegVideoEnhancer):
	// media root, output directory, ffmpeg and ffprobe. Zero fields take
	// internal/video's defaults. Unused when Handlers.Video is set.
	Media video.Config
	// AbandonAfter is how long a handler may keep running once its
	// context ended (budget or caller) before its job fails without it.
	// Defaults to DefaultAbandonAfter (2s).
	AbandonAfter time.Duration
}

// Registry maps each queue name to its Spec and default job options.
type Registry struct {
	specs     map[string]*Spec
	names     []string
	abandoned atomic.Int64
}

// NewRegistry builds the registry of the five queues.
func NewRegistry(cfg *RegistryConfig) (*Registry, error) {
	var c RegistryConfig
	if cfg != nil {
		c = *cfg
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if err := checkTimeouts(c.Timeouts); err != nil {
		return nil, err
	}
	if c.AbandonAfter == 0 {
		c.AbandonAfter = DefaultAbandonAfter
	}
	if c.AbandonAfter < 0 {
		return nil, errors.New("jobs: AbandonAfter must not be negative")
	}
	h := c.Handlers
	if h.Video == nil {
		v, err := NewFFmpegVideoEnhancer(c.Media)
		if err != nil {
			return nil, err
		}
		h.Video = v
	}
	if h.Analytics == nil {
		h.Analytics = LocalAnalyticsAggregator{}
	}
	if h.Chain == nil {
		h.Chain = LocalChainSyncer{}
	}
	if h.Memory == nil {
		h.Memory = LocalMemoryMiner{Now: c.Now}
	}
	if h.Privacy == nil {
		h.Privacy = LocalPrivacyAuditor{Now: c.Now}
	}
	r := &Registry{specs: map[string]*Spec{}, names: Names()}
	for _, s := range []*Spec{videoSpec(h.Video), analyticsSpec(h.Analytics, c.Now), chainSpec(h.Chain),
		memorySpec(h.Memory, c.Now), privacySpec(h.Privacy, c.Now)} {
		timeout := DefaultTimeouts[s.Name]
		if d, ok := c.Timeouts[s.Name]; ok {
			timeout = d
		}
		s.budget = &budget{queue: s.Name, timeout: timeout, abandonAfter: c.AbandonAfter, abandoned: &r.abandoned}
		r.specs[s.Name] = s
	}
	return r, nil
}

// Abandoned counts the handlers that did not return once their context
// ended and were left running (see Spec.Run): each is a bug in that
// handler, and its goroutine still holds whatever it holds.
func (r *Registry) Abandoned() int64 { return r.abandoned.Load() }

// Names lists the registered queues.
func (r *Registry) Names() []string { return append([]string(nil), r.names...) }

// Spec returns the queue's Spec, or an *UnknownQueueError (errors.Is
// ErrUnknownQueue) that lists the known queues.
func (r *Registry) Spec(name string) (*Spec, error) {
	s, ok := r.specs[name]
	if !ok {
		known := r.Names()
		sort.Strings(known)
		return nil, &UnknownQueueError{Name: truncate(name, 64), Known: known}
	}
	return s, nil
}

// Handler is the queue.Handler a worker runs for the queue, under the
// queue's time budget (see Spec.Run). A payload that fails validation, a
// panic and a handler that had to be abandoned fail the job at once (no
// retry: running it again would do the same); anything else, an attempt
// that ran out of time included, is retried per the job's attempts.
func (r *Registry) Handler(name string) (queue.Handler, error) {
	s, err := r.Spec(name)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, j *queue.Job) (any, error) {
		ctx = WithProgress(ctx, func(v any) { _ = j.UpdateProgress(ctx, v) })
		res, err := s.Run(ctx, j.Data)
		if errors.Is(err, queue.ErrWorkerClosing) {
			// Shut down mid-job, even by a handler that ignored its
			// context: the worker hands the job back untouched.
			return res, err
		}
		if errors.Is(err, ErrInvalidPayload) || errors.Is(err, ErrHandlerPanic) || isAbandoned(err) {
			return nil, queue.Unrecoverable(err)
		}
		return res, err
	}, nil
}

// Default job options of every queue: 3 attempts, exponential backoff from
// 1 s, keep the last 1000 completed and 5000 failed jobs (bounded retention).
const (
	DefaultAttempts     = 3
	DefaultBackoffDelay = time.Second
	DefaultKeepComplete = 1000
	DefaultKeepFailed   = 5000
)

// DefaultAddOptions returns a fresh copy of the default job options.
func DefaultAddOptions() *queue.AddOptions {
	return &queue.AddOptions{
		Attempts:         DefaultAttempts,
		Backoff:          &queue.Backoff{Type: "exponential", Delay: DefaultBackoffDelay},
		RemoveOnComplete: queue.KeepLast(DefaultKeepComplete),
		RemoveOnFail:     queue.KeepLast(DefaultKeepFailed),
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
