package main

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/zyeute/zyeute-redis/internal/config"
	"github.com/zyeute/zyeute-redis/internal/jobs/privacy"
	"github.com/zyeute/zyeute-redis/internal/store/storetest"
)

// With Redis, the privacy-audit handler searches the queues under the
// configured QUEUE_PREFIX; without, it does not.
func TestPrivacyAuditSearchesQueues(t *testing.T) {
	st := storetest.OpenSQLite(t)
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	cfg := &config.Config{QueuePrefix: "zy"}
	a, _ := registryConfig(withStore(nil, st, t.TempDir(), rdb), cfg).Handlers.Privacy.(*privacy.Auditor)
	if a == nil || a.Jobs == nil || a.Jobs.Prefix != "zy" || a.Jobs.Client != rdb {
		t.Fatalf("privacy auditor %+v", a)
	}
	a, _ = registryConfig(withStore(nil, st, t.TempDir(), nil), cfg).Handlers.Privacy.(*privacy.Auditor)
	if a == nil || a.Jobs != nil {
		t.Fatalf("privacy auditor without Redis %+v", a)
	}
}
