package jobs

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// PrivacyResponseDays is the time an organisation has to answer a privacy
// request under Québec's private-sector privacy act as amended by Loi 25
// (30 days from receipt).
const PrivacyResponseDays = 30

// PrivacyAuditJob is the payload of the privacy-audit queue: one Loi 25
// request from a user.
type PrivacyAuditJob struct {
	// RequestID identifies the request in the privacy officer's register
	// (required).
	RequestID string `json:"request_id"`
	// UserID the request is about (required).
	UserID string `json:"user_id"`
	// Kind is "access", "rectification", "deletion", "portability" or
	// "consent_withdrawal" (required).
	Kind string `json:"kind"`
	// Categories limits the audit to some data categories (see
	// DataInventory); empty means all.
	Categories []string `json:"categories,omitempty"`
	// ReceivedAt is when the request was received (RFC 3339, from
	// 2000-01-01 to 24 hours from now). Defaults to the time the job runs.
	ReceivedAt *time.Time `json:"received_at,omitempty"`
}

// DataCategory is one category of personal data Zyeuté holds.
type DataCategory struct {
	Name        string `json:"category"`
	Description string `json:"description"`
	// Retention is the retention rule that applies.
	Retention string `json:"retention"`
	// Sensitive marks data Loi 25 treats as sensitive (higher expectation
	// of privacy), which needs express consent.
	Sensitive bool `json:"sensitive"`
	// OnDeletion is what a deletion request does to it: "delete",
	// "anonymize" or "retain: <legal reason>".
	OnDeletion string `json:"-"`
	// Consented is true for processing that rests on consent the user can
	// withdraw (as opposed to what the service needs to run).
	Consented bool `json:"-"`
}

// DefaultDataInventory is Zyeuté's default inventory of personal data and
// retention rules. It is the policy this service ships with, for the
// privacy officer to confirm or replace (pass a LocalPrivacyAuditor with
// another Inventory); it is not legal advice.
var DefaultDataInventory = []DataCategory{
	{Name: "identity", Description: "name, username, date of birth, profile photo", Retention: "while the account is open, deleted within 30 days of closure", OnDeletion: "delete"},
	{Name: "contact", Description: "email address, phone number", Retention: "while the account is open, deleted within 30 days of closure", OnDeletion: "delete"},
	{Name: "content", Description: "videos, captions, comments posted by the user", Retention: "until the user deletes it or closes the account (removed within 30 days)", OnDeletion: "delete"},
	{Name: "messages", Description: "direct messages", Retention: "while the account is open, deleted within 30 days of closure", Sensitive: true, OnDeletion: "delete"},
	{Name: "location", Description: "approximate location from the IP address, optional geotags", Retention: "12 months", Sensitive: true, Consented: true, OnDeletion: "delete"},
	{Name: "usage_analytics", Description: "views, watch time, likes and shares by the user", Retention: "24 months, then aggregated without identifiers", Consented: true, OnDeletion: "anonymize"},
	{Name: "device", Description: "device identifiers, IP addresses, security logs", Retention: "12 months", OnDeletion: "delete"},
	{Name: "moderation", Description: "reports and moderation decisions about the user's content", Retention: "24 months after the decision (platform safety)", OnDeletion: "retain: platform safety record, deleted at the end of its retention"},
	{Name: "wallet", Description: "KryptoTrac wallet addresses and transaction references", Retention: "6 years after the transaction year (accounting records)", Sensitive: true, OnDeletion: "retain: accounting records, deleted at the end of its retention"},
}

// CategoryReport is one category in the audit report.
type CategoryReport struct {
	DataCategory
	// Action is what answering the request means for this category.
	Action string `json:"action"`
}

// PrivacyAuditReport is the result of a privacy-audit job.
type PrivacyAuditReport struct {
	RequestID  string           `json:"request_id"`
	UserID     string           `json:"user_id"`
	Kind       string           `json:"kind"`
	ReceivedAt time.Time        `json:"received_at"`
	RespondBy  time.Time        `json:"respond_by"` // ReceivedAt + 30 days
	Categories []CategoryReport `json:"categories"`
	// Auditor names the implementation ("local-inventory", "database").
	Auditor string `json:"auditor"`
	// Export is the access/portability export a database-backed auditor
	// wrote; nil otherwise.
	Export *PrivacyExport `json:"export,omitempty"`
	// Erased counts the rows a deletion deleted or de-identified, per
	// table (database-backed auditor); nil otherwise.
	Erased map[string]int64 `json:"erased,omitempty"`
}

// PrivacyExport is a written access export.
type PrivacyExport struct {
	Path   string         `json:"path"`
	SHA256 string         `json:"sha256"`
	Bytes  int64          `json:"bytes"`
	Rows   map[string]int `json:"rows"` // per table
}

// PrivacyAuditor does the work of a privacy-audit job.
type PrivacyAuditor interface {
	Audit(ctx context.Context, job *PrivacyAuditJob) (*PrivacyAuditReport, error)
}

// LocalPrivacyAuditor builds the report from a fixed data inventory: the
// categories the request touches, the retention that applies to each, the
// action the request calls for, and the response deadline. It reads no
// user data. A production deployment plugs in the data-inventory service
// that queries each data store for the user and produces the export or
// carries out the deletion.
type LocalPrivacyAuditor struct {
	// Inventory of personal data. Defaults to DefaultDataInventory.
	Inventory []DataCategory
	// Now is the clock for requests without ReceivedAt. Defaults to time.Now.
	Now func() time.Time
}

func privacyAction(kind string, c DataCategory) string {
	switch kind {
	case "access":
		return "include in the access report"
	case "portability":
		return "export in a structured, commonly used format"
	case "rectification":
		if c.Name == "identity" || c.Name == "contact" || c.Name == "content" {
			return "correct on request"
		}
		return "review: correct if inaccurate"
	case "deletion":
		return c.OnDeletion
	case "consent_withdrawal":
		if c.Consented {
			return "stop processing and delete"
		}
		return "no change: needed to provide the service"
	}
	return ""
}

// Audit implements PrivacyAuditor.
func (a LocalPrivacyAuditor) Audit(ctx context.Context, j *PrivacyAuditJob) (*PrivacyAuditReport, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	inv := a.Inventory
	if inv == nil {
		inv = DefaultDataInventory
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	received := now().UTC().Truncate(time.Second)
	if j.ReceivedAt != nil {
		received = j.ReceivedAt.UTC()
	}
	r := &PrivacyAuditReport{RequestID: j.RequestID, UserID: j.UserID, Kind: j.Kind, ReceivedAt: received,
		RespondBy: received.AddDate(0, 0, PrivacyResponseDays), Auditor: "local-inventory", Categories: []CategoryReport{}}
	for _, c := range inv {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(j.Categories) > 0 && !slices.Contains(j.Categories, c.Name) {
			continue
		}
		r.Categories = append(r.Categories, CategoryReport{DataCategory: c, Action: privacyAction(j.Kind, c)})
	}
	return r, nil
}

func checkPrivacy(j *PrivacyAuditJob, now time.Time) error {
	if err := checkID("request_id", j.RequestID, true); err != nil {
		return err
	}
	if err := checkID("user_id", j.UserID, true); err != nil {
		return err
	}
	if err := oneOf("kind", j.Kind, "access", "rectification", "deletion", "portability", "consent_withdrawal"); err != nil {
		return err
	}
	if len(j.Categories) > len(DefaultDataInventory) {
		return fieldError("categories", "lists more than %d categories", len(DefaultDataInventory))
	}
	known := make([]string, len(DefaultDataInventory))
	for i, c := range DefaultDataInventory {
		known[i] = c.Name
	}
	for i, c := range j.Categories {
		f := fmt.Sprintf("categories[%d]", i)
		if err := oneOf(f, c, known...); err != nil {
			return err
		}
		if slices.Contains(j.Categories[:i], c) {
			return fieldError(f, "lists %q twice", c)
		}
	}
	if j.ReceivedAt != nil {
		if err := checkTime("received_at", *j.ReceivedAt, now); err != nil {
			return err
		}
	}
	return nil
}

func privacySpec(a PrivacyAuditor, now func() time.Time) *Spec {
	check := func(j *PrivacyAuditJob) error { return checkPrivacy(j, now()) }
	return newSpec(PrivacyAudit, "Loi 25: report which personal data a privacy request touches and the retention that applies", check,
		func(ctx context.Context, j *PrivacyAuditJob) (any, error) { return a.Audit(ctx, j) })
}
