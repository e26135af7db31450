package privacy

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/zyeute/zyeute-redis/session"
)

// RedisSessions finds and revokes a user's sessions stored by the session
// package in Redis: a session belongs to the user when its UserKey value
// equals the user id.
type RedisSessions struct {
	Client redis.UniversalClient
	// KeyPrefix of the session keys. Defaults to session.DefaultKeyPrefix.
	KeyPrefix string
	// UserKey is the session value holding the user id. Defaults to
	// "user_id".
	UserKey string
}

// SessionData is one session in an access export. The session id (a
// bearer credential) is never exported.
type SessionData struct {
	Values  map[string]string `json:"values"`
	Created string            `json:"created"`
}

func (r *RedisSessions) defaults() (prefix, userKey string) {
	prefix, userKey = r.KeyPrefix, r.UserKey
	if prefix == "" {
		prefix = session.DefaultKeyPrefix
	}
	if userKey == "" {
		userKey = "user_id"
	}
	return prefix, userKey
}

// scan calls fn for every session key of the user, on every master of a
// cluster.
func (r *RedisSessions) scan(ctx context.Context, userID string, fn func(c redis.Cmdable, key string, s *SessionData) error) error {
	prefix, userKey := r.defaults()
	one := func(ctx context.Context, c redis.Cmdable) error {
		iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			key := iter.Val()
			raw, err := c.Get(ctx, key).Bytes()
			if err == redis.Nil {
				continue // expired meanwhile
			}
			if err != nil {
				return err
			}
			var doc struct {
				V map[string]string `json:"v"`
				C string            `json:"c"`
			}
			if json.Unmarshal(raw, &doc) != nil || doc.V[userKey] != userID {
				continue
			}
			if err := fn(c, key, &SessionData{Values: doc.V, Created: doc.C}); err != nil {
				return err
			}
		}
		return iter.Err()
	}
	if cc, ok := r.Client.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return one(ctx, c) })
	}
	return one(ctx, r.Client)
}

// Find returns the user's sessions (values and creation time only).
func (r *RedisSessions) Find(ctx context.Context, userID string) ([]SessionData, error) {
	out := []SessionData{}
	err := r.scan(ctx, userID, func(_ redis.Cmdable, _ string, s *SessionData) error {
		out = append(out, *s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("privacy-audit: reading sessions from Redis: %w", err)
	}
	return out, nil
}

// Revoke deletes the user's sessions and returns how many.
func (r *RedisSessions) Revoke(ctx context.Context, userID string) (int64, error) {
	var n int64
	err := r.scan(ctx, userID, func(c redis.Cmdable, key string, _ *SessionData) error {
		d, err := c.Del(ctx, key).Result()
		n += d
		return err
	})
	if err != nil {
		return n, fmt.Errorf("privacy-audit: revoking sessions in Redis: %w", err)
	}
	return n, nil
}
