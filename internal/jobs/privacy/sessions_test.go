package privacy

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zyeute/zyeute-redis/internal/jobs"
	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/internal/store/storetest"
	"github.com/zyeute/zyeute-redis/session"
)

// The user's Redis sessions are in the access export (values, never the
// session id) and revoked by the deletion; other users' sessions stay.
func TestPrivacyRedisSessions(t *testing.T) {
	ctx := context.Background()
	r := redistest.Start(t, nil)
	c := r.Client(t)
	prefix := redistest.KeyPrefix(t) + "session:"
	ss, err := session.NewStore(c, &session.Options{KeyPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, u := range []string{userID, userID, "user-bob"} {
		s, err := ss.New()
		if err != nil {
			t.Fatal(err)
		}
		s.Values["user_id"], s.Values["locale"] = u, "fr-CA"
		if err := ss.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	st := storetest.OpenSQLite(t)
	seed(t, st)
	a := &Auditor{Store: st, ExportDir: filepath.Join(t.TempDir(), "x"), Now: clock, Sessions: &RedisSessions{Client: c, KeyPrefix: prefix}}
	reg, _ := jobs.NewRegistry(&jobs.RegistryConfig{Now: clock, Handlers: jobs.Handlers{Privacy: a}})
	spec, _ := reg.Spec(jobs.PrivacyAudit)

	res, err := spec.Run(ctx, json.RawMessage(`{"request_id":"s-1","user_id":"`+userID+`","kind":"access"}`))
	if err != nil {
		t.Fatal(err)
	}
	rep := res.(*jobs.PrivacyAuditReport)
	raw, _ := os.ReadFile(rep.Export.Path)
	var exp Export
	_ = json.Unmarshal(raw, &exp)
	if len(exp.Sessions) != 2 || rep.Export.Rows["redis_sessions"] != 2 || exp.Sessions[0].Values["locale"] != "fr-CA" {
		t.Fatalf("sessions in export: %+v (rows %v)", exp.Sessions, rep.Export.Rows)
	}
	for _, id := range ids {
		if strings.Contains(string(raw), id) {
			t.Fatal("a session id (bearer credential) is in the export")
		}
	}

	res, err = spec.Run(ctx, json.RawMessage(`{"request_id":"s-2","user_id":"`+userID+`","kind":"deletion"}`))
	if err != nil {
		t.Fatal(err)
	}
	if n := res.(*jobs.PrivacyAuditReport).Erased["redis_sessions"]; n != 2 {
		t.Fatalf("revoked %d sessions", n)
	}
	for i, id := range ids {
		got, err := ss.Get(ctx, id)
		if (i < 2) != (got == nil) {
			t.Errorf("session %d after deletion: %+v, %v", i, got, err)
		}
	}
}
