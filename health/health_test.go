package health_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/health"
	"github.com/zyeute/zyeute-redis/redisconn"
)

type fixedRedis redisconn.Status

func (f fixedRedis) Status() redisconn.Status { return redisconn.Status(f) }

type ai health.AIStatus

func (a ai) AIStatus() health.AIStatus { return health.AIStatus(a) }

func TestReport(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := closed.Addr().String()
	closed.Close()

	up := fixedRedis{State: redisconn.Connected, Latency: 1234 * time.Microsecond, Message: redisconn.MsgHealthy}
	down := fixedRedis{State: redisconn.Disconnected, Message: "connection refused (ECONNREFUSED)"}
	tests := []struct {
		name     string
		opts     health.Options
		status   string
		database string
		redis    string
		latency  float64
		provider string
	}{
		{"all up", health.Options{Redis: up, DatabaseAddr: ln.Addr().String()}, "healthy", "connected", "connected", 1.23, "rules"},
		{"redis down", health.Options{Redis: down}, "degraded", "not_configured", "disconnected", 0, "rules"},
		{"no redis", health.Options{}, "degraded", "not_configured", "not_configured", 0, "rules"},
		{"db down", health.Options{Redis: up, DatabaseAddr: deadAddr}, "degraded", "disconnected", "connected", 1.23, "rules"},
		{"ai degraded", health.Options{Redis: up, AI: ai{Provider: "openai", Status: "degraded", Message: "429"}}, "degraded", "not_configured", "connected", 1.23, "openai"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := health.New(&tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			r := c.Report(context.Background())
			if r.Status != tt.status || r.Database != tt.database || r.Redis.Status != tt.redis || r.AI.Provider != tt.provider {
				t.Errorf("report = %+v", r)
			}
			if tt.latency == 0 && r.Redis.Latency != nil || tt.latency != 0 && (r.Redis.Latency == nil || *r.Redis.Latency != tt.latency) {
				t.Errorf("latency = %v, want %v", r.Redis.Latency, tt.latency)
			}
		})
	}
}

func TestReadyzDraining(t *testing.T) {
	t.Parallel()
	c, _ := health.New(nil)
	get := func(h http.Handler) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		return rec.Code
	}
	if get(c.Readyz()) != 200 || get(c.Livez()) != 200 {
		t.Fatal("not ready at start")
	}
	c.SetDraining()
	if get(c.Readyz()) != 503 || get(c.Livez()) != 200 || get(c.Handler()) != 200 {
		t.Error("draining: readyz should be 503, livez and health 200")
	}
}

func TestDatabaseCheckBounded(t *testing.T) {
	t.Parallel()
	calls := 0
	c, _ := health.New(&health.Options{
		DatabaseAddr:     "db.example:5432",
		DatabaseTimeout:  50 * time.Millisecond,
		DatabaseCacheFor: time.Hour,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			calls++
			<-ctx.Done() // a black-holed database
			return nil, ctx.Err()
		},
	})
	for range 3 {
		if r := c.Report(context.Background()); r.Database != "disconnected" {
			t.Fatalf("database = %q", r.Database)
		}
	}
	if calls != 1 {
		t.Errorf("dialled %d times, want 1 (cached)", calls)
	}
}
