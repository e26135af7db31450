package queue

import (
	"fmt"
	"strings"
)

// DefaultPrefix is BullMQ's default key prefix.
const DefaultPrefix = "bull"

// keys names every Redis key of one queue, exactly as BullMQ 6.7.0 does:
// "<prefix>:<queue>:<suffix>" for queue keys and "<prefix>:<queue>:<id>" for
// a job's hash. Pure functions only; no I/O.
type keys struct {
	prefix string // "bull"
	name   string // queue name
	base   string // "bull:name:"
}

func newKeys(prefix, name string) keys {
	return keys{prefix: prefix, name: name, base: prefix + ":" + name + ":"}
}

// validateNames checks a prefix and a queue name the way Node BullMQ does
// (the name must not contain ':'); braces are kept as given, never added.
func validateNames(prefix, name string) error {
	if prefix == "" {
		return &NameError{Reason: "prefix must not be empty"}
	}
	if name == "" {
		return &NameError{Reason: "queue name must not be empty"}
	}
	if strings.Contains(name, ":") {
		return &NameError{Reason: fmt.Sprintf("queue name %q must not contain ':'", name)}
	}
	if len(name) > 512 || len(prefix) > 512 {
		return &NameError{Reason: "prefix and queue name must be at most 512 bytes"}
	}
	return nil
}

func (k keys) key(suffix string) string { return k.base + suffix }

func (k keys) wait() string            { return k.base + "wait" }
func (k keys) paused() string          { return k.base + "paused" } // legacy, never written
func (k keys) active() string          { return k.base + "active" }
func (k keys) prioritized() string     { return k.base + "prioritized" }
func (k keys) pc() string              { return k.base + "pc" }
func (k keys) delayed() string         { return k.base + "delayed" }
func (k keys) waitingChildren() string { return k.base + "waiting-children" }
func (k keys) completed() string       { return k.base + "completed" }
func (k keys) failed() string          { return k.base + "failed" }
func (k keys) stalled() string         { return k.base + "stalled" }
func (k keys) stalledCheck() string    { return k.base + "stalled-check" }
func (k keys) limiter() string         { return k.base + "limiter" }
func (k keys) meta() string            { return k.base + "meta" }
func (k keys) id() string              { return k.base + "id" }
func (k keys) events() string          { return k.base + "events" }
func (k keys) marker() string          { return k.base + "marker" }
func (k keys) repeat() string          { return k.base + "repeat" }

// job is the hash of job id; lock, logs and the flow keys hang off it.
func (k keys) job(id string) string  { return k.base + id }
func (k keys) lock(id string) string { return k.base + id + ":lock" }
func (k keys) logs(id string) string { return k.base + id + ":logs" }

// ParseJobKey splits a job's key "<prefix>:<queue>:<id>" — as flows store a
// parent (Job.ParentKey) and its children (GetChildrenValues,
// GetDependencies) — into the queue name and the job id. ok is false when
// key is not under prefix or has no queue or id.
func ParseJobKey(prefix, key string) (queueName, id string, ok bool) {
	rest, found := strings.CutPrefix(key, prefix+":")
	if !found {
		return "", "", false
	}
	queueName, id, found = strings.Cut(rest, ":")
	if !found || queueName == "" || id == "" {
		return "", "", false
	}
	return queueName, id, true
}
