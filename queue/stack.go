package queue

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
)

// A failed job's stack trace is stored in the form Node stores err.stack,
// which dashboards render as a trace:
//
//	Error: <message>
//	    at <function> (<file>:<line>)
//	    at …
//
// ("UnrecoverableError: <message>" for an Unrecoverable error, the name of
// Node's class).
// The frames are Go's: for a panic, from the panicking call down; for a
// returned error, the handler's own function first (where the error came
// from), then the worker frames that called it.

// maxStackFrames bounds the frames of one stored trace.
const maxStackFrames = 64

// errorName is the first word of err's stack, as Node names its classes.
func errorName(err error) string {
	if errors.Is(err, ErrUnrecoverable) {
		return "UnrecoverableError"
	}
	return "Error"
}

// formatStack renders "<name>: <msg>" and frames in Node's err.stack form.
func formatStack(name, msg string, frames []runtime.Frame) string {
	var b strings.Builder
	b.WriteString(name)
	b.WriteString(": ")
	b.WriteString(msg)
	for _, f := range frames {
		writeFrame(&b, f.Function, f.File, f.Line)
	}
	return b.String()
}

func writeFrame(b *strings.Builder, fn, file string, line int) {
	fmt.Fprintf(b, "\n    at %s (%s:%d)", fn, file, line)
}

// callerFrames returns the frames of the calling goroutine, starting skip
// frames above the caller of callerFrames, without runtime.goexit.
func callerFrames(skip int) []runtime.Frame {
	pcs := make([]uintptr, maxStackFrames)
	it := runtime.CallersFrames(pcs[:runtime.Callers(skip+2, pcs)])
	var out []runtime.Frame
	for {
		f, more := it.Next()
		if f.Function != "" && f.Function != "runtime.goexit" {
			out = append(out, f)
		}
		if !more {
			return out
		}
	}
}

// errorStack is the stack of err, returned by handler h: h's own function
// first (when h is not nil), then the frames of the caller of errorStack.
func errorStack(err error, h Handler) string {
	frames := callerFrames(1)
	if h != nil {
		if f := runtime.FuncForPC(reflect.ValueOf(h).Pointer()); f != nil {
			file, line := f.FileLine(f.Entry())
			frames = append([]runtime.Frame{{Function: f.Name(), File: file, Line: line}}, frames...)
		}
	}
	return formatStack(errorName(err), err.Error(), frames)
}

// panicStack is the stack of a panic, called from the deferred function
// that recovered it: the frames from the panicking call down, without the
// runtime's panic machinery.
func panicStack(msg string) string {
	frames := callerFrames(1)
	for i, f := range frames {
		if f.Function == "runtime.gopanic" {
			rest := frames[i+1:]
			for len(rest) > 1 && strings.HasPrefix(rest[0].Function, "runtime.") {
				rest = rest[1:] // runtime.goPanicIndex and friends
			}
			return formatStack("Error", msg, rest)
		}
	}
	return formatStack("Error", msg, frames)
}
