package jobs

import (
	"errors"
	"fmt"
	"strings"
)

// ClientError is an error whose message can be shown to a client (HTTP
// body, CLI line) as it is: ClientMessage has no package prefix and no
// secret. Boundaries build their messages from it instead of editing
// Error() strings.
type ClientError interface {
	error
	ClientMessage() string
}

// UnavailableError: the operation needs Redis, which is not configured or
// not connected. errors.Is(err, ErrRedisUnavailable) matches it.
type UnavailableError struct {
	Reason string // e.g. "not configured (degraded mode: …)"
}

func (e *UnavailableError) ClientMessage() string { return "Redis unavailable: " + e.Reason }
func (e *UnavailableError) Error() string         { return "jobs: " + e.ClientMessage() }
func (e *UnavailableError) Is(target error) bool  { return target == ErrRedisUnavailable }

// UnknownQueueError: the queue name is not one of the registry's.
// errors.Is(err, ErrUnknownQueue) matches it.
type UnknownQueueError struct {
	Name  string   // as given, cut to 64 bytes
	Known []string // sorted
}

func (e *UnknownQueueError) ClientMessage() string {
	return fmt.Sprintf("unknown queue %q (known: %s)", e.Name, strings.Join(e.Known, ", "))
}
func (e *UnknownQueueError) Error() string        { return "jobs: " + e.ClientMessage() }
func (e *UnknownQueueError) Is(target error) bool { return target == ErrUnknownQueue }

// inlineBusyError is ErrInlineBusy.
type inlineBusyError struct{}

func (inlineBusyError) ClientMessage() string {
	return "Redis is unavailable and the in-process job runner is busy; retry in a moment"
}
func (e inlineBusyError) Error() string { return "jobs: " + e.ClientMessage() }

// ClientMessage is err's message for a client: ClientMessage of the first
// ClientError in its chain, else "" (the caller decides what to show).
func ClientMessage(err error) string {
	var ce ClientError
	if errors.As(err, &ce) {
		return ce.ClientMessage()
	}
	return ""
}
