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
}

// Store keeps sessions in Redis with an in-memory fallback. Safe for
// concurrent use. It does not own the Redis client.
type Store struct {
	rdb  redis.UniversalClient
	opts Options
	log  *slog.Logger

	mu  sync.Mutex
	mem map[string]memEntry
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
	if o.TTL < time.Second || o.RedisTimeout < 0 || o.MaxMemorySessions < 0 {
		return nil, fmt.Errorf("session: TTL must be ≥ 1s and timeouts/limits ≥ 0")
	}
	return &Store{rdb: rdb, opts: o, log: o.Logger, mem: map[string]memEntry{}}, nil
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
// memory (it may have been created while Redis was down).
func (s *Store) Get(ctx context.Context, id string) (*Session, error) {
	if !validID(id) {
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

// Delete removes the session everywhere.
func (s *Store) Delete(ctx context.Context, id string) error {
	s.mu.Lock()
	delete(s.mem, id)
	s.mu.Unlock()
	if !validID(id) || !s.useRedis() {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, s.opts.RedisTimeout)
	defer cancel()
	if err := s.rdb.Del(rctx, s.opts.KeyPrefix+id).Err(); err != nil {
		s.redisFailed("delete", err)
	}
	return nil
}

// MemoryCount is how many sessions live in memory (for health and tests).
func (s *Store) MemoryCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mem)
}
