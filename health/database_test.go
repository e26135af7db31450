package health_test

import (
	"context"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/health"
	"github.com/zyeute/zyeute-redis/internal/store/storetest"
	"github.com/zyeute/zyeute-redis/redisconn"
)

// "database" comes from a real ping of the application store: embedded
// for SQLite, connected for PostgreSQL, disconnected once it stops
// answering.
func TestDatabaseFromStorePing(t *testing.T) {
	up := fixedRedis{State: redisconn.Connected, Message: redisconn.MsgHealthy}
	sqlite := storetest.OpenSQLite(t)
	pg := storetest.OpenPostgres(t)
	for _, tt := range []struct {
		name string
		db   health.Database
		want string
	}{{"sqlite", sqlite, health.DepEmbedded}, {"postgres", pg, health.DepConnected}} {
		c, err := health.New(&health.Options{Redis: up, Database: tt.db, DatabaseCacheFor: time.Nanosecond})
		if err != nil {
			t.Fatal(err)
		}
		r := c.Report(context.Background())
		if r.Database != tt.want || r.Status != health.StatusHealthy {
			t.Fatalf("%s: database %q status %q, want %q healthy", tt.name, r.Database, r.Status, tt.want)
		}
	}
	_ = pg.Close()
	c, _ := health.New(&health.Options{Redis: up, Database: pg})
	if r := c.Report(context.Background()); r.Database != health.DepDisconnected || r.Status != health.StatusDegraded {
		t.Fatalf("closed store: database %q status %q", r.Database, r.Status)
	}
}
