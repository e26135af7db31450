package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Errors returned by queue operations. Script return codes of the protocol
// (-1 … -11) map to these; callers branch with errors.Is.
var (
	ErrJobNotFound        = errors.New("queue: job not found")                   // -1
	ErrLockMissing        = errors.New("queue: job lock missing")                // -2
	ErrNotInState         = errors.New("queue: job not in the expected state")   // -3
	ErrPendingChildren    = errors.New("queue: job has pending children")        // -4
	ErrParentMissing      = errors.New("queue: parent job missing")              // -5
	ErrLockMismatch       = errors.New("queue: job lock held by another worker") // -6
	ErrParentNotReplaced  = errors.New("queue: job already has another parent")  // -7
	ErrSchedulerJob       = errors.New("queue: job belongs to a job scheduler")  // -8
	ErrFailedChildren     = errors.New("queue: job has failed children")         // -9
	ErrSchedulerCollision = errors.New("queue: job scheduler id collision")      // -10
	ErrSchedulerBusy      = errors.New("queue: job scheduler slots busy")        // -11
	ErrClosed             = errors.New("queue: closed")                          // use after Close
	ErrInvalidOption      = errors.New("queue: invalid option")                  // wrapped by OptionError
	ErrDataTooLarge       = errors.New("queue: job data too large")              // over MaxDataSize
	ErrUnrecoverable      = errors.New("queue: unrecoverable error")             // see Unrecoverable
)

var codeErrors = map[int64]error{
	-1: ErrJobNotFound, -2: ErrLockMissing, -3: ErrNotInState, -4: ErrPendingChildren,
	-5: ErrParentMissing, -6: ErrLockMismatch, -7: ErrParentNotReplaced, -8: ErrSchedulerJob,
	-9: ErrFailedChildren, -10: ErrSchedulerCollision, -11: ErrSchedulerBusy,
}

// codeError maps a negative script return code to an error naming the
// operation and the job.
func codeError(op, jobID string, code int64) error {
	base, ok := codeErrors[code]
	if !ok {
		base = fmt.Errorf("queue: unknown script code %d", code)
	}
	if jobID != "" {
		return fmt.Errorf("%s job %s: %w", op, jobID, base)
	}
	return fmt.Errorf("%s: %w", op, base)
}

// OptionError names an invalid option and why it is invalid.
type OptionError struct {
	Option string
	Reason string
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("queue: invalid option %s: %s", e.Option, e.Reason)
}

func (e *OptionError) Unwrap() error { return ErrInvalidOption }

func optErr(option, format string, args ...any) error {
	return &OptionError{Option: option, Reason: fmt.Sprintf(format, args...)}
}

// unrecoverable marks an error so the worker fails the job without retrying.
type unrecoverable struct{ err error }

func (u unrecoverable) Error() string { return u.err.Error() }
func (u unrecoverable) Unwrap() []error {
	return []error{u.err, ErrUnrecoverable}
}

// Unrecoverable wraps err so that a worker fails the job at once, whatever
// its attempts say (BullMQ's UnrecoverableError). errors.Is(e,
// ErrUnrecoverable) reports true for the result.
func Unrecoverable(err error) error {
	if err == nil {
		err = errors.New("unrecoverable")
	}
	return unrecoverable{err: err}
}

// StateError says an operation found a job in another state than the one
// it works on (Job.Promote on a completed job, Job.Retry on a waiting one).
// It wraps ErrNotInState.
type StateError struct {
	Op    string     // "promote", "retry"
	JobID string     // the job
	Want  []JobState // the states the operation takes
	Found JobState   // where the job was found
}

func (e *StateError) Error() string {
	want := make([]string, len(e.Want))
	for i, s := range e.Want {
		want[i] = string(s)
	}
	return fmt.Sprintf("queue: %s job %s: the job is %s, not %s", e.Op, e.JobID, e.Found, strings.Join(want, " or "))
}

func (e *StateError) Unwrap() error { return ErrNotInState }

// ErrInvalidName is wrapped by NameError.
var ErrInvalidName = errors.New("queue: invalid queue name or prefix")

// NameError says why a queue name or key prefix is refused.
type NameError struct {
	Reason string // "queue name \"a:b\" must not contain ':'"
}

func (e *NameError) Error() string { return "queue: " + e.Reason }

func (e *NameError) Unwrap() error { return ErrInvalidName }

// stateError turns a script's ErrNotInState for job id into a *StateError
// naming where the job is now (one more round trip, on failure only); a
// job that is gone gives ErrJobNotFound.
func (q *Queue) stateError(ctx context.Context, op, id string, err error, want ...JobState) error {
	if !errors.Is(err, ErrNotInState) {
		return err
	}
	found, serr := q.GetState(ctx, id)
	switch {
	case serr != nil:
		return err
	case found == StateUnknown:
		return fmt.Errorf("queue: %s job %s: %w", op, id, ErrJobNotFound)
	}
	return &StateError{Op: op, JobID: id, Want: want, Found: found}
}
