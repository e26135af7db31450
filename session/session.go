// Package session stores HTTP sessions in Redis under "zyeute:session:<id>"
// with a sliding TTL, and falls back to an in-process memory store when
// Redis is not configured or unreachable, so logging in never depends on
// Redis being up. Session ids are secrets: they are never logged.
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotFound is returned by Get for an unknown or expired session.
var ErrNotFound = errors.New("session: not found")

// ErrDeletePending is returned (wrapped) by Delete and Renew when a session
// could not be deleted in Redis (Redis down, slow or reported unavailable).
// The deletion is not lost: the store remembers it (a tombstone), refuses
// the session from then on, and deletes the Redis key as soon as Redis
// answers again. But until then another process reading the same Redis
// could still accept the session, and a restart of this process forgets
// the tombstone, so the caller should tell the user that logging out could
// not be confirmed everywhere.
var ErrDeletePending = errors.New("session: deletion not yet written to Redis")

// DefaultKeyPrefix is the Redis key prefix of sessions.
const DefaultKeyPrefix = "zyeute:session:"

// MaxValuesBytes bounds the encoded size of one session's values.
const MaxValuesBytes = 64 << 10

// Session is one user session. Values are small strings (user id, CSRF
// token, locale …); keep big data elsewhere.
type Session struct {
	ID      string            `json:"-"`
	Values  map[string]string `json:"v"`
	Created time.Time         `json:"c"`
	// Backend says where the session lives: "redis" or "memory".
	Backend string `json:"-"`
}

// Options configure a Store. A nil *Options means all defaults.
type Options struct {
	// TTL of an idle session; every Save extends it. Defaults to 7 days.
	TTL time.Duration
	// KeyPrefix of the Redis keys. Defaults to DefaultKeyPrefix.
	KeyPrefix string
	// RedisTimeout bounds each Redis call so a dead Redis never stalls a
	// request. Defaults to 250ms.
	RedisTimeout time.Duration
	// Available, when set, is asked before each Redis call; false means go
	// straight to memory (wire it to the shared connection state). Defaults
	// to always true (errors still fall back).
	Available func() bool
	// MaxMemorySessions bounds the memory store; the oldest are evicted.
	// Defaults to 100000.
	MaxMemorySessions int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// RetryInterval is how often pending deletions (see ErrDeletePending)
	// are retried in the background while Redis is down. Defaults to 1s;
	// negative means no background retry (only on Get of the id).
	RetryInterval time.Duration
}

// Store keeps sessions in Redis with an in-memory fallback. Safe for
// concurrent use. It does not own the Redis client.
type Store struct {
	rdb  redis.UniversalClient
	opts Options
	log  *slog.Logger

	mu  sync.Mutex
	mem map[string]memEntry
	// tombs are sessions deleted while Redis could not be told: id → when
	// the tombstone can go (by then the Redis key has expired on its own).
	tombs    map[string]time.Time
	retrying bool          // the background retry loop runs
	closed   chan struct{} // closed by Close
	// degraded is true while the last Redis call failed (logged once per
	// episode, not per request).
	degraded bool
}

type memEntry struct {
	data    []byte
	expires time.Time
}

// NewStore returns a store on rdb; rdb may be nil (memory only).
func NewStore(rdb redis.UniversalClient, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.TTL == 0 {
		o.TTL = 7 * 24 * time.Hour
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = DefaultKeyPrefix
	}
	if o.RedisTimeout == 0 {
		o.RedisTimeout = 250 * time.Millisecond
	}
	if o.MaxMemorySessions == 0 {
		o.MaxMemorySessions = 100000
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RetryInterval == 0 {
		o.RetryInterval = time.Second
	}
	if o.TTL < time.Second || o.RedisTimeout < 0 || o.MaxMemorySessions < 0 {
		return nil, fmt.Errorf("session: TTL must be ≥ 1s and timeouts/limits ≥ 0")
	}
	return &Store{rdb: rdb, opts: o, log: o.Logger, mem: map[string]memEntry{}, tombs: map[string]time.Time{},
		closed: make(chan struct{})}, nil
}

// New creates an empty session with a fresh random id (256 bits).
func (s *Store) New() (*Session, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("session: random id: %w", err)
	}
	return &Session{ID: base64.RawURLEncoding.EncodeToString(b[:]), Values: map[string]string{}, Created: s.opts.Now()}, nil
}

// validID accepts only ids this package could have made.
func validID(id string) bool {
	if len(id) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(id)
	return err == nil
}

// redactID is a short, non-reversible tag of a session id for logs.
func redactID(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:4])
}

func (s *Store) useRedis() bool {
	return s.rdb != nil && (s.opts.Available == nil || s.opts.Available())
}

func (s *Store) redisFailed(op string, err error) {
	s.mu.Lock()
	first := !s.degraded
	s.degraded = true
	s.mu.Unlock()
	if first {
		s.log.Warn("[Session] Redis unavailable, using the in-memory store", "op", op, "error", err.Error())
	}
}

func (s *Store) redisOK() {
	s.mu.Lock()
	was := s.degraded
	s.degraded = false
	s.mu.Unlock()
	if was {
		s.log.Info("[Session] Redis back, sessions stored in Redis again")
	}
}

// Get loads a session. A session is looked up in Redis first, then in
// memory (it may have been created while Redis was down). A session deleted
// while Redis was down is not found, even when Redis still has it.
func (s *Store) Get(ctx context.Context, id string) (*Session, error) {
	if !validID(id) {
		return nil, ErrNotFound
	}
	if s.tombstoned(id) {
		s.flushTombstones(ctx)
		return nil, ErrNotFound
	}
	if s.useRedis() {
		rctx, cancel := context.WithTimeout(ctx, s.opts.RedisTimeout)
		b, err := s.rdb.Get(rctx, s.opts.KeyPrefix+id).Bytes()
		cancel()
		switch {
		case err == nil:
			s.redisOK()
			return decode(id, b, "redis")
		case errors.Is(err, redis.Nil):
			s.redisOK()
		default:
			s.redisFailed("get", err)
		}
	}
	s.mu.Lock()
	e, ok := s.mem[id]
	if ok && !s.opts.Now().Before(e.expires) {
		delete(s.mem, id)
		ok = false
	}
	s.mu.Unlock()
	if !ok {
		return nil, ErrNotFound
	}
	return decode(id, e.data, "memory")
}

func decode(id string, b []byte, backend string) (*Session, error) {
	var sess Session
	if err := json.Unmarshal(b, &sess); err != nil {
		return nil, fmt.Errorf("session %s: stored value is not valid: %w", redactID(id), err)
	}
	if sess.Values == nil {
		sess.Values = map[string]string{}
	}
	sess.ID, sess.Backend = id, backend
	return &sess, nil
}

// Save stores the session and extends its TTL. It writes to Redis when it
// can and to memory otherwise; it fails only for invalid input.
func (s *Store) Save(ctx context.Context, sess *Session) error {
	if sess == nil || !validID(sess.ID) {
		return errors.New("session: save: invalid session id")
	}
	b, err := json.Marshal(sess)
	if err != nil {
		return fmt.Errorf("session: save: %w", err)
	}
	if len(b) > MaxValuesBytes {
		return fmt.Errorf("session: save: values are %d bytes, limit %d", len(b), MaxValuesBytes)
	}
	if s.tombstoned(sess.ID) {
		// A request that still holds a deleted session must not bring it
		// back (logout wins).
		return errors.New("session: save: the session was deleted")
	}
	if s.useRedis() {
		rctx, cancel := context.WithTimeout(ctx, s.opts.RedisTimeout)
		err := s.rdb.Set(rctx, s.opts.KeyPrefix+sess.ID, b, s.opts.TTL).Err()
		cancel()
		if err == nil {
			s.redisOK()
			sess.Backend = "redis"
			s.mu.Lock()
			delete(s.mem, sess.ID) // Redis is the truth again
			s.mu.Unlock()
			return nil
		}
		s.redisFailed("save", err)
	}
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, exists := s.mem[sess.ID]; !exists && len(s.mem) >= s.opts.MaxMemorySessions {
		s.evictLocked(now)
	}
	s.mem[sess.ID] = memEntry{data: b, expires: now.Add(s.opts.TTL)}
	sess.Backend = "memory"
	return nil
}

// evictLocked drops expired entries, then the one closest to expiry.
func (s *Store) evictLocked(now time.Time) {
	var oldestID string
	var oldest time.Time
	for id, e := range s.mem {
		if !now.Before(e.expires) {
			delete(s.mem, id)
			continue
		}
		if oldestID == "" || e.expires.Before(oldest) {
			oldestID, oldest = id, e.expires
		}
	}
	if len(s.mem) >= s.opts.MaxMemorySessions && oldestID != "" {
		delete(s.mem, oldestID)
	}
}

// Delete removes the session everywhere. When Redis cannot be told (not
// available, failing or too slow), the deletion is remembered: the session
// is refused from then on by this store (Get returns ErrNotFound, Save fails),
// the Redis key is deleted as soon as Redis answers (retried in the
// background every RetryInterval, and on every Get of that id), and Delete
// returns an error wrapping ErrDeletePending. With no Redis configured the
// session lives in memory only and Delete always succeeds.
func (s *Store) Delete(ctx context.Context, id string) error {
	s.mu.Lock()
	delete(s.mem, id)
	s.mu.Unlock()
	if !validID(id) || s.rdb == nil {
		return nil
	}
	var err error
	if s.useRedis() {
		rctx, cancel := context.WithTimeout(ctx, s.opts.RedisTimeout)
		err = s.rdb.Del(rctx, s.opts.KeyPrefix+id).Err()
		cancel()
		if err == nil {
			s.redisOK()
			s.mu.Lock()
			delete(s.tombs, id)
			s.mu.Unlock()
			return nil
		}
		s.redisFailed("delete", err)
	} else {
		err = errors.New("Redis reported unavailable")
	}
	s.addTombstone(id)
	s.log.Warn("[Session] deletion not written to Redis; refused here and retried until Redis answers",
		"session", redactID(id), "error", err.Error())
	return fmt.Errorf("%w: %v", ErrDeletePending, err)
}

// Renew gives sess a new id and keeps its data: the session is saved under
// the new id and the old id is deleted. Call it at login (and at any change
// of privilege) so that an id known before login (session fixation) is
// worthless after it. On success sess.ID is the new id. When the new
// session is saved but the old id could not be deleted in Redis, sess.ID is
// the new id and the error wraps ErrDeletePending (the old id is refused by
// this store and deleted when Redis answers); on any other error sess is
// unchanged.
func (s *Store) Renew(ctx context.Context, sess *Session) error {
	if sess == nil || !validID(sess.ID) {
		return errors.New("session: renew: invalid session id")
	}
	fresh, err := s.New()
	if err != nil {
		return err
	}
	old := sess.ID
	sess.ID = fresh.ID
	if err := s.Save(ctx, sess); err != nil {
		sess.ID = old
		return fmt.Errorf("session: renew: %w", err)
	}
	if err := s.Delete(ctx, old); err != nil {
		return fmt.Errorf("session: renew: new id saved, old id: %w", err)
	}
	return nil
}

// PendingDeletes is how many deletions wait for Redis (for health and tests).
func (s *Store) PendingDeletes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tombs)
}

// Close stops the background retry of pending deletions. The store stays
// usable; pending deletions are then retried only on Get.
func (s *Store) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
}

func (s *Store) tombstoned(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := s.tombs[id]
	if ok && !s.opts.Now().Before(until) {
		delete(s.tombs, id)
		ok = false
	}
	return ok
}

// addTombstone records a deletion Redis has not seen and starts the retry
// loop. Tombstones are bounded like the memory store (the ones closest to
// expiry go first); one lives as long as the TTL, after which the Redis key
// has expired anyway.
func (s *Store) addTombstone(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	if _, ok := s.tombs[id]; !ok && s.opts.MaxMemorySessions > 0 && len(s.tombs) >= s.opts.MaxMemorySessions {
		var oldestID string
		var oldest time.Time
		for tid, until := range s.tombs {
			if oldestID == "" || until.Before(oldest) {
				oldestID, oldest = tid, until
			}
		}
		delete(s.tombs, oldestID)
	}
	s.tombs[id] = now.Add(s.opts.TTL)
	select {
	case <-s.closed:
		return
	default:
	}
	if !s.retrying && s.opts.RetryInterval > 0 {
		s.retrying = true
		go s.retryLoop()
	}
}

// retryLoop writes pending deletions to Redis every RetryInterval until
// there are none left or the store is closed.
func (s *Store) retryLoop() {
	t := time.NewTicker(s.opts.RetryInterval)
	defer t.Stop()
	for {
		select {
		case <-s.closed:
		case <-t.C:
			s.flushTombstones(context.Background())
		}
		s.mu.Lock()
		stop := len(s.tombs) == 0
		select {
		case <-s.closed:
			stop = true
		default:
		}
		if stop {
			s.retrying = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
}

// flushTombstones deletes the pending ids in Redis (at most 1000 per call) and forgets those that Redis acknowledged.
func (s *Store) flushTombstones(ctx context.Context) {
	if !s.useRedis() {
		return
	}
	s.mu.Lock()
	now := s.opts.Now()
	ids := make([]string, 0, min(len(s.tombs), 1000))
	for id, until := range s.tombs {
		if !now.Before(until) {
			delete(s.tombs, id)
			continue
		}
		if len(ids) < cap(ids) {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.opts.KeyPrefix + id
	}
	// One DEL per key, pipelined: a cluster client splits the pipeline by
	// slot, where one multi-key DEL would fail with CROSSSLOT.
	rctx, cancel := context.WithTimeout(ctx, s.opts.RedisTimeout)
	_, err := s.rdb.Pipelined(rctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Del(rctx, k)
		}
		return nil
	})
	cancel()
	if err != nil {
		s.redisFailed("delete", err)
		return
	}
	s.redisOK()
	s.mu.Lock()
	for _, id := range ids {
		delete(s.tombs, id)
	}
	n := len(s.tombs)
	s.mu.Unlock()
	s.log.Info("[Session] pending deletions written to Redis", "count", len(ids), "left", n)
}

// MemoryCount is how many sessions live in memory (for health and tests).
func (s *Store) MemoryCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mem)
}
