package redisconn_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/zyeute/zyeute-redis/redisconn"
)

func TestExplain(t *testing.T) {
	t.Parallel()
	verify := func(err error) error {
		return fmt.Errorf("dial: %w", &tls.CertificateVerificationError{Err: err})
	}
	tests := []struct {
		err  error
		code string
		in   string
	}{
		{nil, "", ""},
		{&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}}, "ENOTFOUND", "host not found"},
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, "ECONNREFUSED", "connection refused"},
		{&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, "ECONNRESET", "reset"},
		{io.EOF, "ECONNRESET", "closed by the server"},
		{context.DeadlineExceeded, "ETIMEDOUT", "timed out"},
		{verify(x509.UnknownAuthorityError{}), "TLS", "certificate not trusted"},
		{verify(x509.CertificateInvalidError{Reason: x509.Expired}), "TLS", "expired"},
		{verify(x509.HostnameError{Host: "other"}), "TLS", "another host"},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, "TLS", "does not speak TLS"},
		{errors.New("NOAUTH Authentication required."), "NOAUTH", "set Config.Password"},
		{errors.New("WRONGPASS invalid username-password pair or user is disabled."), "WRONGPASS", "wrong username or password"},
		{errors.New("NOPERM this user has no permissions to run the 'ping' command"), "NOPERM", "permission denied"},
		{errors.New("LOADING Redis is loading the dataset in memory"), "LOADING", "loading"},
		{errors.New("something odd\nsecond line"), "ERROR", "something odd (ERROR)"},
	}
	for _, tt := range tests {
		code, msg := redisconn.Code(tt.err), redisconn.Explain(tt.err)
		if code != tt.code || !strings.Contains(msg, tt.in) {
			t.Errorf("%v: code %q msg %q, want %q containing %q", tt.err, code, msg, tt.code, tt.in)
		}
		if tt.err != nil && !strings.HasSuffix(msg, "("+code+")") {
			t.Errorf("%v: message %q does not end with its code", tt.err, msg)
		}
		if strings.Contains(msg, "REDIS_") {
			t.Errorf("%v: the library's message %q names an environment variable", tt.err, msg)
		}
	}
}

// TestExplainWithAdvice: the application's words replace the defaults in
// the advice, and only there.
func TestExplainWithAdvice(t *testing.T) {
	t.Parallel()
	a := redisconn.Advice{Password: "PW_VAR", CA: "CA_VAR", TLSOn: "TLS_ON_VAR", TLSOff: "TLS_OFF_VAR"}
	for err, want := range map[error]string{
		errors.New("NOAUTH Authentication required."):                                                "authentication required: set PW_VAR (NOAUTH)",
		fmt.Errorf("dial: %w", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}): "set CA_VAR to the CA",
		tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}:                "use TLS_OFF_VAR (TLS)",
		io.EOF: "use TLS_ON_VAR (ECONNRESET)",
	} {
		if got := redisconn.ExplainWith(err, a); !strings.Contains(got, want) {
			t.Errorf("ExplainWith(%v) = %q, want it to contain %q", err, got, want)
		}
	}
	if got := redisconn.ExplainWith(errors.New("NOAUTH x"), redisconn.Advice{}); got != redisconn.Explain(errors.New("NOAUTH x")) {
		t.Errorf("zero Advice = %q, want Explain's defaults", got)
	}
}

func TestIsConnError(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{redis.Nil, false},
		{context.Canceled, false},
		{context.DeadlineExceeded, true},
		{redis.ErrClosed, true},
		{errors.New("queue: addJob: READONLY You can't write against a read only replica."), true},
		{errors.New("queue: addJob: WRONGTYPE Operation against a key holding the wrong kind of value"), false},
		{errors.New("ERR Error running script"), false},
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{io.EOF, true},
		{errors.New("LOADING Redis is loading the dataset in memory"), true},
		{errors.New("CLUSTERDOWN The cluster is down"), true},
		{errors.New("NOAUTH Authentication required."), false},
	} {
		if got := redisconn.IsConnError(tt.err); got != tt.want {
			t.Errorf("IsConnError(%v) = %v", tt.err, got)
		}
	}
}
