package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/internal/store"
	"github.com/zyeute/zyeute-redis/internal/store/storetest"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t.Add(12 * time.Hour)
}

func TestOpenMigratesAndReopens(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		for _, table := range []string{"users", "videos", "engagement_events", "engagement_daily", "engagement_viewers", "memories", "privacy_requests", "audit_log", "wallet_transfers", "sync_cursors"} {
			var n int
			if err := s.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
				t.Errorf("table %s: %v", table, err)
			}
		}
		if err := s.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		// Applying the migrations again (a second process starting) is a no-op.
		if err := store.Migrate(ctx, s); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
	})
}

func TestOpenSQLiteDefaultPathAndReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data")
	s, err := store.Open(context.Background(), store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Embedded() || s.Where() != filepath.Join(dir, store.DefaultFile) {
		t.Fatalf("embedded=%v where=%q", s.Embedded(), s.Where())
	}
	if err := s.UpsertUser(context.Background(), store.User{ID: "u1", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	s, err = store.Open(context.Background(), store.Config{DataDir: dir})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	var n int
	if err := s.DB().QueryRow("SELECT COUNT(*) FROM users").Scan(&n); err != nil || n != 1 {
		t.Fatalf("after reopen: %d users, %v", n, err)
	}
}

func TestOpenPostgresUnreachableSaysWhereWithoutPassword(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, err := store.Open(ctx, store.Config{URL: "postgres://app:s3cret-pw@127.0.0.1:1/zyeute?sslmode=disable&connect_timeout=2"})
	if err == nil {
		t.Fatal("opened a database on port 1")
	}
	if strings.Contains(err.Error(), "s3cret-pw") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("error = %v", err)
	}
}

func TestApplyEventsIdempotentRollups(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		batch := []store.Event{
			{ID: "e1", Type: "view", VideoID: "v1", UserID: "alice", WatchMS: 1000, At: day("2026-11-01")},
			{ID: "e2", Type: "view", VideoID: "v1", UserID: "alice", WatchMS: 500, At: day("2026-11-01")},
			{ID: "e3", Type: "view", VideoID: "v1", UserID: "bob", WatchMS: 250, At: day("2026-11-01")},
			{ID: "e4", Type: "view", VideoID: "v1", At: day("2026-11-01")}, // anonymous
			{ID: "e5", Type: "like", VideoID: "v1", UserID: "bob", At: day("2026-11-01")},
			{ID: "e6", Type: "share", VideoID: "v1", UserID: "carol", At: day("2026-11-03")},
			{ID: "e7", Type: "comment", VideoID: "v1", UserID: "carol", At: day("2026-11-03")},
			{ID: "e8", Type: "view", VideoID: "v1", UserID: "carol", WatchMS: 100, At: day("2026-11-03")},
			{ID: "e9", Type: "view", VideoID: "v2", UserID: "alice", WatchMS: 9, At: day("2026-11-01")},
		}
		res, err := s.ApplyEvents(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		if res != (store.ApplyResult{Applied: 9}) {
			t.Fatalf("first apply: %+v", res)
		}
		// At-least-once delivery: the same batch again, and an overlapping one.
		if res, err = s.ApplyEvents(ctx, batch); err != nil || res != (store.ApplyResult{Duplicates: 9}) {
			t.Fatalf("second apply: %+v, %v", res, err)
		}
		more := []store.Event{batch[0], {ID: "e10", Type: "view", VideoID: "v1", UserID: "alice", WatchMS: 1, At: day("2026-11-03")}}
		if res, err = s.ApplyEvents(ctx, more); err != nil || res != (store.ApplyResult{Applied: 1, Duplicates: 1}) {
			t.Fatalf("overlapping apply: %+v, %v", res, err)
		}

		st, err := s.VideoStats(ctx, "v1", "2026-10-31", "2026-11-03")
		if err != nil {
			t.Fatal(err)
		}
		want := []store.DayCounts{
			{Day: "2026-10-31"},
			{Day: "2026-11-01", Counts: store.Counts{Views: 4, Likes: 1, WatchMS: 1750, UniqueViewers: 2}},
			{Day: "2026-11-02"},
			{Day: "2026-11-03", Counts: store.Counts{Views: 2, Shares: 1, Comments: 1, WatchMS: 101, UniqueViewers: 2}},
		}
		if fmt.Sprint(st.Days) != fmt.Sprint(want) {
			t.Fatalf("days = %+v\nwant   %+v", st.Days, want)
		}
		// alice viewed on both days: counted once over the range.
		if wantT := (store.Counts{Views: 6, Likes: 1, Shares: 1, Comments: 1, WatchMS: 1851, UniqueViewers: 3}); st.Totals != wantT {
			t.Fatalf("totals = %+v, want %+v", st.Totals, wantT)
		}
		if st.UniqueViewers != "exact" {
			t.Fatalf("method %q", st.UniqueViewers)
		}
		if _, err := s.VideoStats(ctx, "v1", "2026-11-03", "2026-11-01"); err == nil {
			t.Fatal("reversed range accepted")
		}
		if _, err := s.VideoStats(ctx, "v1", "2020-01-01", "2026-01-01"); err == nil {
			t.Fatal("six-year range accepted")
		}
	})
}

// Concurrent workers applying overlapping batches (the same job delivered
// twice at once) still count each event once.
func TestApplyEventsConcurrentDuplicates(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		var batch []store.Event
		for i := range 200 {
			batch = append(batch, store.Event{ID: fmt.Sprintf("c%d", i), Type: "view", VideoID: fmt.Sprintf("v%d", i%7), UserID: fmt.Sprintf("u%d", i%13), WatchMS: 10, At: day("2026-11-05")})
		}
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() {
				if _, err := s.ApplyEvents(ctx, batch); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		var views, watch int64
		if err := s.DB().QueryRow("SELECT SUM(views), SUM(watch_ms) FROM engagement_daily").Scan(&views, &watch); err != nil {
			t.Fatal(err)
		}
		if views != 200 || watch != 2000 {
			t.Fatalf("views=%d watch=%d after 4 concurrent applies of 200 events", views, watch)
		}
	})
}

func TestMemoriesReplacePerUserDay(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		m1 := []store.MemoryRow{{VideoID: "a", Kind: "on_this_day", YearsAgo: 1, Score: 10, Rank: 1, VideoCreatedAt: day("2025-11-29")},
			{VideoID: "b", Kind: "top_moment", Score: 5.5, Rank: 2, VideoCreatedAt: day("2026-01-02")}}
		for range 2 {
			if err := s.ReplaceMemories(ctx, "u1", "2026-11-29", m1); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.ReplaceMemories(ctx, "u1", "2026-11-28", m1[1:]); err != nil {
			t.Fatal(err)
		}
		got, err := s.Memories(ctx, "u1", "2026-11-29")
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Memories) != 2 || got.Memories[0].VideoID != "a" || got.Memories[1].Score != 5.5 || got.ComputedAt == nil {
			t.Fatalf("memories = %+v", got)
		}
		latest, err := s.Memories(ctx, "u1", "")
		if err != nil || latest.Day != "2026-11-29" {
			t.Fatalf("latest = %+v, %v", latest, err)
		}
		none, err := s.Memories(ctx, "nobody", "")
		if err != nil || none.Memories == nil || len(none.Memories) != 0 {
			t.Fatalf("none = %+v, %v", none, err)
		}
	})
}

func TestUserVideosEngagement(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if err := s.UpsertVideo(ctx, store.Video{ID: "v1", UserID: "u1", Title: "t", CreatedAt: day("2024-11-29")}); err != nil {
			t.Fatal(err)
		}
		if err := s.RegisterVideo(ctx, "v2", "u1", day("2026-01-01")); err != nil {
			t.Fatal(err)
		}
		if err := s.RegisterVideo(ctx, "other", "u2", day("2026-01-01")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ApplyEvents(ctx, []store.Event{{ID: "x", Type: "like", VideoID: "v1", At: day("2026-02-01")},
			{ID: "y", Type: "view", VideoID: "v1", At: day("2026-03-01")}}); err != nil {
			t.Fatal(err)
		}
		vs, err := s.UserVideos(ctx, "u1", "", "")
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 2 || vs[0].VideoID != "v2" || vs[1].Likes != 1 || vs[1].Views != 1 || !vs[1].CreatedAt.Equal(day("2024-11-29")) {
			t.Fatalf("videos = %+v", vs)
		}
		vs, _ = s.UserVideos(ctx, "u1", "2026-02-15", "2026-12-31")
		if vs[1].Likes != 0 || vs[1].Views != 1 {
			t.Fatalf("period = %+v", vs)
		}
	})
}

// More events than one INSERT holds, and an id repeated inside a batch.
func TestApplyEventsChunksAndRepeatedIDs(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		var batch []store.Event
		for i := range 1200 {
			batch = append(batch, store.Event{ID: fmt.Sprintf("k%d", i), Type: "like", VideoID: "v", At: day("2026-11-06")})
		}
		batch = append(batch, batch[3], batch[1100])
		res, err := s.ApplyEvents(ctx, batch)
		if err != nil || res != (store.ApplyResult{Applied: 1200, Duplicates: 2}) {
			t.Fatalf("%+v, %v", res, err)
		}
		st, err := s.VideoStats(ctx, "v", "2026-11-06", "2026-11-06")
		if err != nil || st.Totals.Likes != 1200 {
			t.Fatalf("%+v, %v", st, err)
		}
	})
}

func TestTransfersIdempotentWithCursor(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		const w = "0xabc0000000000000000000000000000000000001"
		if _, ok, err := s.SyncCursor(ctx, "ethereum", w); ok || err != nil {
			t.Fatalf("fresh cursor: %v %v", ok, err)
		}
		batch := []store.Transfer{
			{Chain: "ethereum", TxHash: "0x01", LogIndex: -1, Wallet: w, BlockNumber: 10, From: w, To: "0xdef", Amount: "1000000000000000000"},
			{Chain: "ethereum", TxHash: "0x02", LogIndex: 3, Wallet: w, BlockNumber: 12, From: "0xdef", To: w, Token: "0xtoken", Amount: "115792089237316195423570985008687907853269984665640564039457584007913129639935"},
		}
		for i, want := range []int{2, 0} {
			n, err := s.SaveTransfers(ctx, "ethereum", w, batch, 20)
			if err != nil || n != want {
				t.Fatalf("save %d: %d, %v", i, n, err)
			}
		}
		// A stale retry does not move the cursor back.
		if _, err := s.SaveTransfers(ctx, "ethereum", w, nil, 15); err != nil {
			t.Fatal(err)
		}
		if next, ok, err := s.SyncCursor(ctx, "ethereum", w); !ok || err != nil || next != 20 {
			t.Fatalf("cursor %d %v %v", next, ok, err)
		}
		got, err := s.Transfers(ctx, "ethereum", w)
		if err != nil || len(got) != 2 || got[1].Amount != batch[1].Amount || got[0].LogIndex != -1 {
			t.Fatalf("transfers %+v %v", got, err)
		}
	})
}

// Overlapping batches in opposite orders, applied concurrently, neither
// deadlock nor double count.
func TestApplyEventsOppositeOrders(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		var fwd, rev []store.Event
		for i := range 1000 {
			fwd = append(fwd, store.Event{ID: fmt.Sprintf("o%04d", i), Type: "share", VideoID: fmt.Sprintf("v%d", i%5), At: day("2026-11-07")})
		}
		for i := len(fwd) - 1; i >= 0; i-- {
			rev = append(rev, fwd[i])
		}
		for round := range 20 {
			var wg sync.WaitGroup
			errs := make(chan error, 2)
			for _, b := range [][]store.Event{fwd, rev} {
				wg.Go(func() {
					if _, err := s.ApplyEvents(ctx, b); err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		var shares int64
		if err := s.DB().QueryRow("SELECT SUM(shares) FROM engagement_daily").Scan(&shares); err != nil || shares != 1000 {
			t.Fatalf("shares %d, %v", shares, err)
		}
	})
}
