package privacy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/internal/jobs"
	"github.com/zyeute/zyeute-redis/internal/store"
	"github.com/zyeute/zyeute-redis/internal/store/storetest"
)

var clock = func() time.Time { return time.Date(2026, 11, 29, 15, 0, 0, 0, time.UTC) }

// Every table of the schema, to prove nothing names the user after a
// deletion (a new table must be added here and to the store's list).
var allTables = []string{"users", "videos", "engagement_events", "engagement_daily", "engagement_viewers", "memories", "privacy_requests", "audit_log", "wallet_transfers", "sync_cursors"}

const (
	userID = "user-alice-7f3"
	email  = "alice@example.test"
)

func seed(t *testing.T, st *store.Store) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.UpsertUser(ctx, store.User{ID: userID, Username: "alice_qc", Email: email, CreatedAt: clock().AddDate(-2, 0, 0)}))
	must(st.UpsertUser(ctx, store.User{ID: "user-bob", Username: "bob", Email: "bob@example.test", CreatedAt: clock()}))
	must(st.UpsertVideo(ctx, store.Video{ID: "vid-a1", UserID: userID, Title: "Alice à Québec", CreatedAt: clock().AddDate(-1, 0, 0)}))
	must(st.UpsertVideo(ctx, store.Video{ID: "vid-b1", UserID: "user-bob", Title: "bob", CreatedAt: clock()}))
	_, err := st.ApplyEvents(ctx, []store.Event{
		{ID: "e1", Type: "view", VideoID: "vid-b1", UserID: userID, WatchMS: 900, At: clock()},
		{ID: "e2", Type: "like", VideoID: "vid-b1", UserID: userID, At: clock()},
		{ID: "e3", Type: "view", VideoID: "vid-b1", UserID: "user-bob", At: clock()},
		{ID: "e4", Type: "view", VideoID: "vid-a1", UserID: "user-bob", At: clock()},
	})
	must(err)
	must(st.ReplaceMemories(ctx, userID, "2026-11-29", []store.MemoryRow{{VideoID: "vid-a1", Kind: "on_this_day", YearsAgo: 1, Rank: 1, VideoCreatedAt: clock().AddDate(-1, 0, 0)}}))
}

func TestPrivacyAccessThenDeletion(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		seed(t, st)
		dir := filepath.Join(t.TempDir(), "exports")
		reg, err := jobs.NewRegistry(&jobs.RegistryConfig{Now: clock, Handlers: jobs.Handlers{Privacy: &Auditor{Store: st, ExportDir: dir, Now: clock}}})
		if err != nil {
			t.Fatal(err)
		}
		spec, _ := reg.Spec(jobs.PrivacyAudit)
		run := func(body string) *jobs.PrivacyAuditReport {
			t.Helper()
			res, err := spec.Run(ctx, json.RawMessage(body))
			if err != nil {
				t.Fatal(err)
			}
			return res.(*jobs.PrivacyAuditReport)
		}

		// Access: the export holds every row about the user, checksum recorded.
		rep := run(`{"request_id":"req-1","user_id":"` + userID + `","kind":"access","received_at":"2026-11-20T09:00:00Z"}`)
		if rep.Export == nil || rep.Auditor != "database" {
			t.Fatalf("report %+v", rep)
		}
		raw, err := os.ReadFile(rep.Export.Path)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(raw)
		if hex.EncodeToString(h[:]) != rep.Export.SHA256 {
			t.Fatal("checksum does not match the file")
		}
		var exp Export
		if err := json.Unmarshal(raw, &exp); err != nil {
			t.Fatal(err)
		}
		wantRows := map[string]int{"users": 1, "videos": 1, "engagement_events": 2, "engagement_viewers": 1, "memories": 1, "privacy_requests": 1}
		for table, n := range wantRows {
			if len(exp.Tables[table]) != n || rep.Export.Rows[table] != n {
				t.Errorf("export %s: %d rows (report %d), want %d", table, len(exp.Tables[table]), rep.Export.Rows[table], n)
			}
		}
		if !strings.Contains(string(raw), email) || !strings.Contains(string(raw), "Alice à Québec") || strings.Contains(string(raw), "bob@example") {
			t.Fatalf("export content wrong:\n%s", raw)
		}
		pr, err := st.PrivacyRequestByID(ctx, "req-1")
		if err != nil || pr.Status != "completed" || pr.ExportSHA256 != rep.Export.SHA256 || !pr.RespondBy.Equal(time.Date(2026, 12, 20, 9, 0, 0, 0, time.UTC)) {
			t.Fatalf("register: %+v %v", pr, err)
		}

		// Deletion, twice (at-least-once): nothing names the user afterwards.
		del := `{"request_id":"req-2","user_id":"` + userID + `","kind":"deletion"}`
		first := run(del)
		if first.Erased["users"] != 1 || first.Erased["engagement_events"] != 2 || first.Erased["privacy_requests"] != 2 {
			t.Fatalf("erased %v", first.Erased)
		}
		if _, err := os.Stat(rep.Export.Path); !os.IsNotExist(err) {
			t.Errorf("the access export survived the deletion: %v", err)
		}
		second := run(del)
		for table, n := range second.Erased {
			if n != 0 {
				t.Errorf("second deletion changed %d rows of %s", n, table)
			}
		}
		for _, table := range allTables {
			rows, err := st.DB().QueryContext(ctx, "SELECT * FROM "+table)
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := rows.Columns()
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				line := fmt.Sprintf("%s", vals)
				if strings.Contains(line, userID) || strings.Contains(line, email) || strings.Contains(line, "alice") {
					t.Errorf("%s still names the user: %s", table, line)
				}
			}
			rows.Close()
		}
		// Counts survive de-identification: bob's video still has 2 views, 1 like, 2 unique viewers.
		vs, err := st.VideoStats(ctx, "vid-b1", "2026-11-29", "2026-11-29")
		if err != nil || vs.Totals.Views != 2 || vs.Totals.Likes != 1 || vs.Totals.UniqueViewers != 2 {
			t.Fatalf("stats after deletion: %+v %v", vs, err)
		}
		log, err := st.AuditLog(ctx, "")
		if err != nil || len(log) != 2 || log[0].Action != "privacy.access" || log[1].Action != "privacy.deletion" {
			t.Fatalf("audit log %+v %v", log, err)
		}
	})
}
