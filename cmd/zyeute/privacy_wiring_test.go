package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/zyeute/zyeute-redis/internal/config"
	"github.com/zyeute/zyeute-redis/internal/jobs/privacy"
	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/internal/store/storetest"
)

// With Redis, the privacy-audit handler searches the queues under the
// configured QUEUE_PREFIX; without, it does not.
func TestPrivacyAuditSearchesQueues(t *testing.T) {
	st := storetest.OpenSQLite(t)
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	cfg := &config.Config{QueuePrefix: "zy"}
	a, _ := registryConfig(withStore(nil, st, t.TempDir(), nil, rdb), cfg).Handlers.Privacy.(*privacy.Auditor)
	if a == nil || a.Jobs == nil || a.Jobs.Prefix != "zy" || a.Jobs.Client != rdb {
		t.Fatalf("privacy auditor %+v", a)
	}
	a, _ = registryConfig(withStore(nil, st, t.TempDir(), nil, nil), cfg).Handlers.Privacy.(*privacy.Auditor)
	if a == nil || a.Jobs != nil {
		t.Fatalf("privacy auditor without Redis %+v", a)
	}
}

// End to end through serve with Redis: a deletion request removes the
// user's retained analytics job and earlier privacy-audit job; the
// request's own job (running, then retained) is kept.
func TestServePrivacyDeletionRemovesJobs(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t, nil)
	s := startServe(t, map[string]string{"REDIS_URL": r.URL(), "QUEUE_PREFIX": redistest.KeyPrefix(t), "DATA_DIR": filepath.Join(t.TempDir(), "data")})
	s.waitRedis(t, "connected", 10*time.Second)
	an := enqueue(t, s, "analytics", storeBatch, 202)["id"].(string)
	s.waitJob(t, "analytics", an, "completed")
	acc := enqueue(t, s, "privacy-audit", `{"data":{"request_id":"req-a","user_id":"alice","kind":"access"}}`, 202)["id"].(string)
	doc := s.waitJob(t, "privacy-audit", acc, "completed")
	if !strings.Contains(fmt.Sprint(doc["result"]), "jobs:1") {
		t.Fatalf("access result does not count the analytics job: %v", doc["result"])
	}
	del := enqueue(t, s, "privacy-audit", `{"data":{"request_id":"req-d","user_id":"alice","kind":"deletion"}}`, 202)["id"].(string)
	doc = s.waitJob(t, "privacy-audit", del, "completed")
	if !strings.Contains(fmt.Sprint(doc["result"]), "jobs:2") {
		t.Fatalf("deletion result: %v", doc["result"])
	}
	for _, j := range [][2]string{{"analytics", an}, {"privacy-audit", acc}} {
		if status, body := s.call(t, "GET", "/api/jobs/"+j[0]+"/"+j[1], "", ""); status != 404 {
			t.Errorf("job %s/%s after the deletion: %d %s", j[0], j[1], status, body)
		}
	}
}
