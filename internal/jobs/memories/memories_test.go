package memories

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/internal/jobs"
	"github.com/zyeute/zyeute-redis/internal/store"
	"github.com/zyeute/zyeute-redis/internal/store/storetest"
)

var clock = func() time.Time { return time.Date(2026, 11, 29, 15, 0, 0, 0, time.UTC) }

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestMemoryMiningFromDatabase(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		for _, v := range []store.Video{
			{ID: "two-years", UserID: "u1", CreatedAt: at("2024-11-29T08:00:00Z")},
			{ID: "last-year", UserID: "u1", CreatedAt: at("2025-11-29T20:00:00Z")},
			{ID: "popular", UserID: "u1", CreatedAt: at("2026-03-01T08:00:00Z")},
			{ID: "quiet", UserID: "u1", CreatedAt: at("2026-04-01T08:00:00Z")},
			{ID: "recent", UserID: "u1", CreatedAt: at("2026-11-20T08:00:00Z")}, // under 30 days: not a memory
			{ID: "not-mine", UserID: "u2", CreatedAt: at("2025-11-29T08:00:00Z")},
		} {
			if err := st.UpsertVideo(ctx, v); err != nil {
				t.Fatal(err)
			}
		}
		ev := func(id, typ, video string) store.Event {
			return store.Event{ID: id, Type: typ, VideoID: video, At: at("2026-06-01T00:00:00Z")}
		}
		if _, err := st.ApplyEvents(ctx, []store.Event{ev("1", "share", "popular"), ev("2", "view", "popular"), ev("3", "like", "last-year"),
			ev("4", "view", "quiet"), ev("5", "share", "recent")}); err != nil {
			t.Fatal(err)
		}
		reg, err := jobs.NewRegistry(&jobs.RegistryConfig{Now: clock, Handlers: jobs.Handlers{Memory: &Miner{Store: st, Now: clock}}})
		if err != nil {
			t.Fatal(err)
		}
		spec, _ := reg.Spec(jobs.MemoryMining)
		// "new-one" comes from the payload: registered as u1's video.
		payload := json.RawMessage(`{"user_id":"u1","date":"2026-11-29","videos":[{"video_id":"new-one","created_at":"2023-11-29T10:00:00Z","views":999}]}`)
		for range 2 {
			res, err := spec.Run(ctx, payload)
			if err != nil {
				t.Fatal(err)
			}
			r := res.(*jobs.MemoryMiningResult)
			if r.Miner != "database" || r.Considered != 6 {
				t.Fatalf("result %+v", r)
			}
		}
		got, err := st.Memories(ctx, "u1", "2026-11-29")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range got.Memories {
			ids = append(ids, m.Kind+":"+m.VideoID)
		}
		// On this day by score (last-year has a like: 5; the others 0, then
		// by id), then top moments by score.
		want := "on_this_day:last-year on_this_day:new-one on_this_day:two-years top_moment:popular top_moment:quiet"
		if strings.Join(ids, " ") != want {
			t.Fatalf("memories %v\nwant %s", ids, want)
		}
		if got.Memories[1].YearsAgo != 3 || got.Memories[3].Score != 11 {
			t.Fatalf("memories %+v", got.Memories)
		}

		mux := http.NewServeMux()
		for _, r := range Routes(st, nil) {
			mux.Handle(r.Pattern, r.Handler)
		}
		srv := httptest.NewServer(mux)
		defer srv.Close()
		for path, wantBody := range map[string]string{
			"/api/users/u1/memories":                 `"video_id":"last-year"`,
			"/api/users/u1/memories?date=2026-11-29": `"date":"2026-11-29"`,
			"/api/users/u2/memories":                 `"memories":[]`,
		} {
			resp, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(b), wantBody) {
				t.Errorf("%s: %d %s", path, resp.StatusCode, b)
			}
		}
		resp, _ := http.Get(srv.URL + "/api/users/u1/memories?date=nope")
		if resp.StatusCode != 400 {
			t.Errorf("bad date: %d", resp.StatusCode)
		}
		resp.Body.Close()
	})
}
