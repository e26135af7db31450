// Package privacy is the database-backed privacy-audit queue (Loi 25): an
// "access" or "portability" request exports every row the application
// store holds about the user into a JSON file (checksum recorded); a
// "deletion" request deletes or de-identifies those rows. Every request
// is entered in the register (privacy_requests, with its 30-day deadline)
// and logged in the audit log without personal data. Both are idempotent.
//
// With Sessions set, the user's Redis sessions are exported (values only)
// and revoked too. With Jobs set, the jobs of the five queues whose data
// or return value carry the user id are exported, and on deletion removed
// (waiting, delayed, prioritized, completed, failed; active ones are left
// and counted), their events stream entries with them.
package privacy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/zyeute/zyeute-redis/internal/jobs"
	"github.com/zyeute/zyeute-redis/internal/store"
)

// Auditor implements jobs.PrivacyAuditor on the store.
type Auditor struct {
	Store *store.Store
	// ExportDir receives the access exports (<request_id>.json, mode
	// 0600). Required for access and portability requests.
	ExportDir string
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// Sessions, when set, adds the user's Redis sessions to access
	// exports and revokes them on deletion (a Redis error fails the job,
	// which is retried: the request is not completed with sessions left).
	Sessions *RedisSessions
	// Jobs, when set, adds the queued and retained jobs naming the user
	// to access exports and removes them on deletion.
	Jobs *RedisJobs
}

var _ jobs.PrivacyAuditor = (*Auditor)(nil)

// Export is the document an access request produces.
type Export struct {
	RequestID   string                      `json:"request_id"`
	UserID      string                      `json:"user_id"`
	GeneratedAt time.Time                   `json:"generated_at"`
	Tables      map[string][]map[string]any `json:"tables"`
	// Sessions are the user's Redis sessions (values only); absent when
	// the auditor has no session store.
	Sessions []SessionData `json:"redis_sessions,omitempty"`
	// Jobs are the queued and retained jobs naming the user; absent when
	// the auditor does not search the queues.
	Jobs []JobData `json:"jobs,omitempty"`
}

// Audit implements jobs.PrivacyAuditor.
func (a *Auditor) Audit(ctx context.Context, j *jobs.PrivacyAuditJob) (*jobs.PrivacyAuditReport, error) {
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	rep, err := jobs.LocalPrivacyAuditor{Now: now}.Audit(ctx, j)
	if err != nil {
		return nil, err
	}
	rep.Auditor = "database"
	if err := a.Store.RecordPrivacyRequest(ctx, store.PrivacyRequest{RequestID: j.RequestID, UserID: j.UserID, Kind: j.Kind,
		ReceivedAt: rep.ReceivedAt, RespondBy: rep.RespondBy}); err != nil {
		return nil, fmt.Errorf("privacy-audit: recording the request: %w", err)
	}
	detail := map[string]any{"kind": j.Kind, "respond_by": rep.RespondBy}
	var path, sum string
	switch j.Kind {
	case "access", "portability":
		exp, err := a.export(ctx, j, now().UTC())
		if err != nil {
			return nil, err
		}
		rep.Export = exp
		path, sum = exp.Path, exp.SHA256
		detail["rows"], detail["sha256"], detail["file"] = exp.Rows, exp.SHA256, filepath.Base(exp.Path)
	case "deletion":
		// Earlier access exports name the user too: remove them first
		// (their register entries keep the checksum, not the data).
		paths, err := a.Store.UserExportPaths(ctx, j.UserID)
		if err != nil {
			return nil, fmt.Errorf("privacy-audit: %w", err)
		}
		for _, p := range paths {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("privacy-audit: removing an earlier export: %w", err)
			}
		}
		detail["exports_removed"] = len(paths)
		var revoked int64
		if a.Sessions != nil {
			if revoked, err = a.Sessions.Revoke(ctx, j.UserID); err != nil {
				return nil, err
			}
		}
		var jobsRemoved, jobEvents, jobsLeft int64
		if a.Jobs != nil {
			if jobsRemoved, jobEvents, jobsLeft, err = a.Jobs.Erase(ctx, j.UserID, j.RequestID); err != nil {
				return nil, err
			}
		}
		erased, err := a.Store.EraseUser(ctx, j.UserID)
		if err != nil {
			return nil, fmt.Errorf("privacy-audit: %w", err)
		}
		if a.Sessions != nil {
			erased["redis_sessions"] = revoked
		}
		if a.Jobs != nil {
			erased["jobs"], erased["job_events"] = jobsRemoved, jobEvents
			// Running jobs are held by a worker: left, counted, to be
			// erased by running the request again once they finish.
			erased["jobs_active_left"] = jobsLeft
		}
		rep.Erased = erased
		detail["changed_rows"] = erased
	default:
		// rectification, consent_withdrawal: the report (inventory and
		// actions) is the answer; the privacy officer carries them out.
		detail["action"] = "report only"
	}
	if err := a.Store.CompletePrivacyRequest(ctx, j.RequestID, now(), path, sum); err != nil {
		return nil, fmt.Errorf("privacy-audit: completing the request: %w", err)
	}
	raw, _ := json.Marshal(detail)
	if err := a.Store.Audit(ctx, store.AuditEntry{ID: j.RequestID + ":" + j.Kind, At: now(), Actor: "privacy-audit",
		Action: "privacy." + j.Kind, Subject: j.RequestID, Detail: string(raw)}); err != nil {
		return nil, fmt.Errorf("privacy-audit: audit log: %w", err)
	}
	return rep, nil
}

func (a *Auditor) export(ctx context.Context, j *jobs.PrivacyAuditJob, at time.Time) (*jobs.PrivacyExport, error) {
	if a.ExportDir == "" {
		return nil, errors.New("privacy-audit: no export directory configured (PRIVACY_EXPORT_DIR)")
	}
	tables, err := a.Store.UserData(ctx, j.UserID)
	if err != nil {
		return nil, fmt.Errorf("privacy-audit: %w", err)
	}
	e := Export{RequestID: j.RequestID, UserID: j.UserID, GeneratedAt: at, Tables: tables}
	if a.Sessions != nil {
		if e.Sessions, err = a.Sessions.Find(ctx, j.UserID); err != nil {
			return nil, err
		}
	}
	if a.Jobs != nil {
		if e.Jobs, err = a.Jobs.Find(ctx, j.UserID, j.RequestID); err != nil {
			return nil, err
		}
	}
	doc, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(a.ExportDir, 0o700); err != nil {
		return nil, fmt.Errorf("privacy-audit: export directory: %w", err)
	}
	final := filepath.Join(a.ExportDir, j.RequestID+".json")
	tmp, err := os.CreateTemp(a.ExportDir, ".export-*")
	if err != nil {
		return nil, fmt.Errorf("privacy-audit: export: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if _, err := tmp.Write(append(doc, '\n')); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("privacy-audit: writing the export: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return nil, fmt.Errorf("privacy-audit: export: %w", err)
	}
	h := sha256.Sum256(append(doc, '\n'))
	rows := map[string]int{}
	for t, list := range tables {
		rows[t] = len(list)
	}
	if a.Sessions != nil {
		rows["redis_sessions"] = len(e.Sessions)
	}
	if a.Jobs != nil {
		rows["jobs"] = len(e.Jobs)
	}
	return &jobs.PrivacyExport{Path: final, SHA256: hex.EncodeToString(h[:]), Bytes: int64(len(doc) + 1), Rows: rows}, nil
}
