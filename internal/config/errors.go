package config

import (
	"errors"
	"fmt"
)

// ErrInvalid is wrapped by every configuration error; test with errors.Is.
var ErrInvalid = errors.New("invalid configuration")

// VarError is one invalid environment variable. Msg never contains a secret
// nor a value that could hold one (URLs with credentials are never echoed).
type VarError struct {
	Var string // the variable's name, e.g. "REDIS_PORT"
	Msg string // what is wrong, e.g. `must be a number between 1 and 65535, got "abc"`
}

func (e *VarError) Error() string { return e.Var + ": " + e.Msg }

// Unwrap lets errors.Is(err, ErrInvalid) match.
func (e *VarError) Unwrap() error { return ErrInvalid }

func varErr(name, format string, a ...any) *VarError {
	return &VarError{Var: name, Msg: fmt.Sprintf(format, a...)}
}

// shortQuote quotes a non-secret value for an error message, cut to a
// readable length.
func shortQuote(v string) string {
	const max = 40
	if len(v) > max {
		v = v[:max] + "…"
	}
	return fmt.Sprintf("%q", v)
}
