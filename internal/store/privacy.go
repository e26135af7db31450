package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"time"
)

// personalTables lists every table holding rows about a user and the
// column naming them: the access export reads them all, the deletion
// handles them all. A new table with personal data must be added here
// (TestEraseUserLeavesNothing checks every table of the schema).
var personalTables = []struct{ table, column, order string }{
	{"users", "id", "id"},
	{"videos", "user_id", "id"},
	{"engagement_events", "user_id", "event_id"},
	{"engagement_viewers", "user_id", "video_id, day"},
	{"memories", "user_id", "day, rank"},
	{"privacy_requests", "user_id", "request_id"},
}

// UserData returns every row about the user, per table, each row a map
// of column to value (strings, integers, floats, nil).
func (s *Store) UserData(ctx context.Context, userID string) (map[string][]map[string]any, error) {
	out := map[string][]map[string]any{}
	for _, t := range personalTables {
		rows, err := s.db.QueryContext(ctx, s.q(fmt.Sprintf(`SELECT * FROM %s WHERE %s = ? ORDER BY %s`, t.table, t.column, t.order)), userID)
		if err != nil {
			return nil, fmt.Errorf("store: reading %s: %w", t.table, err)
		}
		cols, err := rows.Columns()
		if err != nil {
			rows.Close()
			return nil, err
		}
		list := []map[string]any{}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return nil, err
			}
			m := make(map[string]any, len(cols))
			for i, c := range cols {
				if b, ok := vals[i].([]byte); ok {
					vals[i] = string(b)
				}
				m[c] = vals[i]
			}
			list = append(list, m)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		out[t.table] = list
	}
	return out, nil
}

// EraseUser deletes or de-identifies every row about the user in one
// transaction and returns the rows changed per table; running it again
// changes nothing. The account, the user's videos and memories are
// deleted; engagement events keep their counts without the user id;
// unique-viewer rows get a random token (counts stay exact, nothing links
// them to the user); privacy requests keep their register entry without
// the user id.
func (s *Store) EraseUser(ctx context.Context, userID string) (map[string]int64, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	token := "erased:" + hex.EncodeToString(b)
	out := map[string]int64{}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, st := range []struct{ table, query string }{
			{"memories", `DELETE FROM memories WHERE user_id = ?`},
			{"engagement_viewers", `UPDATE engagement_viewers SET user_id = ? WHERE user_id = ?`},
			{"engagement_events", `UPDATE engagement_events SET user_id = NULL WHERE user_id = ?`},
			{"videos", `DELETE FROM videos WHERE user_id = ?`},
			{"users", `DELETE FROM users WHERE id = ?`},
			{"privacy_requests", `UPDATE privacy_requests SET user_id = '' WHERE user_id = ?`},
		} {
			args := []any{userID}
			if st.table == "engagement_viewers" {
				args = []any{token, userID}
			}
			r, err := tx.ExecContext(ctx, s.q(st.query), args...)
			if err != nil {
				return fmt.Errorf("store: erasing from %s: %w", st.table, err)
			}
			n, _ := r.RowsAffected()
			out[st.table] = n
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PrivacyRequest is one Loi 25 request in the register.
type PrivacyRequest struct {
	RequestID    string
	UserID       string
	Kind         string
	ReceivedAt   time.Time
	RespondBy    time.Time
	Status       string // "received", "completed"
	CompletedAt  *time.Time
	ExportPath   string
	ExportSHA256 string
}

// RecordPrivacyRequest adds the request to the register; a request id
// already there is left as it is.
func (s *Store) RecordPrivacyRequest(ctx context.Context, r PrivacyRequest) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO privacy_requests (request_id, user_id, kind, received_ms, respond_by_ms, status)
		VALUES (?, ?, ?, ?, ?, 'received') ON CONFLICT (request_id) DO NOTHING`),
		r.RequestID, r.UserID, r.Kind, ms(r.ReceivedAt), ms(r.RespondBy))
	return err
}

// CompletePrivacyRequest marks the request completed (the first
// completion time is kept) with its export's path and checksum, if any.
func (s *Store) CompletePrivacyRequest(ctx context.Context, requestID string, at time.Time, exportPath, exportSHA string) error {
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE privacy_requests SET status = 'completed', completed_ms = COALESCE(completed_ms, ?),
		export_path = ?, export_sha256 = ? WHERE request_id = ?`), ms(at), exportPath, exportSHA, requestID)
	return err
}

// PrivacyRequestByID reads a request from the register, or ErrNotFound.
func (s *Store) PrivacyRequestByID(ctx context.Context, id string) (*PrivacyRequest, error) {
	r := &PrivacyRequest{RequestID: id}
	var rec, by int64
	var done sql.NullInt64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT user_id, kind, received_ms, respond_by_ms, status, completed_ms, export_path, export_sha256
		FROM privacy_requests WHERE request_id = ?`), id).Scan(&r.UserID, &r.Kind, &rec, &by, &r.Status, &done, &r.ExportPath, &r.ExportSHA256)
	if err == sql.ErrNoRows {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	r.ReceivedAt, r.RespondBy = fromMS(rec), fromMS(by)
	if done.Valid {
		t := fromMS(done.Int64)
		r.CompletedAt = &t
	}
	return r, nil
}

// AuditEntry is one audit-log line: what was done, never personal data.
type AuditEntry struct {
	ID      string    `json:"id"` // idempotency key, e.g. "<request_id>:deletion"
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Subject string    `json:"subject"` // a request id, never a user id
	Detail  string    `json:"detail"`  // JSON
}

// Audit appends the entry; an id already logged is left as it is.
func (s *Store) Audit(ctx context.Context, e AuditEntry) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO audit_log (id, at_ms, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`), e.ID, ms(e.At), e.Actor, e.Action, e.Subject, e.Detail)
	return err
}

// AuditLog lists the entries about a subject (all when ""), oldest first.
func (s *Store) AuditLog(ctx context.Context, subject string) ([]AuditEntry, error) {
	q := `SELECT id, at_ms, actor, action, subject, detail FROM audit_log`
	var args []any
	if subject != "" {
		q += ` WHERE subject = ?`
		args = append(args, subject)
	}
	rows, err := s.db.QueryContext(ctx, s.q(q+` ORDER BY at_ms, id`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Subject, &e.Detail); err != nil {
			return nil, err
		}
		e.At = fromMS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// UserExportPaths lists the export files of the user's requests (so a
// deletion can remove them too).
func (s *Store) UserExportPaths(ctx context.Context, userID string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT export_path FROM privacy_requests WHERE user_id = ? AND export_path <> '' ORDER BY request_id`), userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
