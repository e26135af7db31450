package redisconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// Short codes for connection errors, as printed in
// "[Redis] ❌ Connection error: <code>".
const (
	CodeConnRefused = "ECONNREFUSED"
	CodeConnReset   = "ECONNRESET"
	CodeNotFound    = "ENOTFOUND"
	CodeTimeout     = "ETIMEDOUT"
	CodeUnreachable = "EHOSTUNREACH"
	CodeNoAuth      = "NOAUTH"
	CodeWrongPass   = "WRONGPASS"
	CodeNoPerm      = "NOPERM"
	CodeLoading     = "LOADING"
	CodeTLS         = "TLS"
	CodeClosed      = "CLOSED"
	CodeOther       = "ERROR"
)

// Code returns a short, stable code for a connection error (CodeConnRefused,
// CodeNoAuth, …), "" for nil.
func Code(err error) string {
	c, _ := classify(err, Advice{})
	return c
}

// Explain turns a connection error into a short human message that says
// what to do, ending with its code in parentheses, e.g.
// "authentication required: set Config.Password (NOAUTH)". It never
// includes the password (go-redis and Redis never echo it; Conn also
// scrubs). Explain(nil) is "". A Conn's Status explains with its
// Config.Advice; ExplainWith does the same for any error.
func Explain(err error) string {
	_, msg := classify(err, Advice{})
	return msg
}

// ExplainWith is Explain naming the settings as a advises.
func ExplainWith(err error, a Advice) string {
	_, msg := classify(err, a)
	return msg
}

func classify(err error, a Advice) (code, msg string) {
	if err == nil {
		return "", ""
	}
	a = a.withDefaults()
	s := err.Error()
	var (
		unknownCA   x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalidCert x509.CertificateInvalidError
		recordErr   tls.RecordHeaderError
		dnsErr      *net.DNSError
		verifyErr   *tls.CertificateVerificationError
		netErr      net.Error
		hsErr       *handshakeError
	)
	switch {
	case hasPrefix(err, s, "NOAUTH"):
		return CodeNoAuth, "authentication required: set " + a.Password + " (NOAUTH)"
	case hasPrefix(err, s, "WRONGPASS"):
		return CodeWrongPass, "authentication failed: wrong username or password (WRONGPASS)"
	case strings.Contains(s, "called without any password configured"):
		return CodeWrongPass, "authentication failed: a password was given but the server has none configured (WRONGPASS)"
	case hasPrefix(err, s, "NOPERM"):
		return CodeNoPerm, "permission denied: the ACL user may not run the commands this service needs (NOPERM)"
	case hasPrefix(err, s, "LOADING"):
		return CodeLoading, "Redis is loading its dataset into memory, try again shortly (LOADING)"
	case errors.As(err, &unknownCA):
		return CodeTLS, "TLS: server certificate not trusted (signed by an unknown authority): set " + a.CA + " to the CA that signed it (TLS)"
	case errors.As(err, &hostErr):
		return CodeTLS, "TLS: server certificate is for another host name than the one connected to (TLS)"
	case errors.As(err, &invalidCert) && invalidCert.Reason == x509.Expired:
		return CodeTLS, "TLS: server certificate expired or not yet valid (TLS)"
	case errors.As(err, &invalidCert):
		return CodeTLS, "TLS: server certificate is invalid (TLS)"
	case errors.As(err, &verifyErr):
		return CodeTLS, "TLS: server certificate not trusted (TLS)"
	case errors.As(err, &recordErr) || strings.Contains(s, "first record does not look like a TLS handshake"):
		return CodeTLS, "TLS handshake failed: the server does not speak TLS, use " + a.TLSOff + " (TLS)"
	case errors.As(err, &hsErr) && (errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout()):
		return CodeTLS, "TLS handshake timed out: the server may not speak TLS (use " + a.TLSOff + ") or is not answering (TLS)"
	case strings.Contains(s, "tls:"):
		return CodeTLS, "TLS handshake failed (TLS)"
	case errors.As(err, &dnsErr):
		return CodeNotFound, "host not found: DNS lookup failed, check the host name (ENOTFOUND)"
	case errors.Is(err, syscall.ECONNREFUSED):
		return CodeConnRefused, "connection refused: is Redis running and listening on that address? (ECONNREFUSED)"
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
		return CodeConnReset, "connection reset by the server; if the server is TLS-only, use " + a.TLSOn + " (ECONNRESET)"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return CodeConnReset, "connection closed by the server; if the server is TLS-only, use " + a.TLSOn + " (ECONNRESET)"
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return CodeUnreachable, "host unreachable: check the network path to Redis (EHOSTUNREACH)"
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout():
		return CodeTimeout, "timed out: Redis did not answer in time (ETIMEDOUT)"
	case errors.Is(err, redis.ErrClosed):
		return CodeClosed, "client closed (CLOSED)"
	case errors.Is(err, redis.ErrPoolTimeout):
		return CodeTimeout, "timed out waiting for a free connection in the pool (ETIMEDOUT)"
	}
	// Unknown: keep the first line, cut short.
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return CodeOther, s + " (" + CodeOther + ")"
}

// hasPrefix matches a Redis error reply by its prefix, whether it is
// go-redis's typed error or text wrapped by someone else.
func hasPrefix(err error, s, prefix string) bool {
	return redis.HasErrorPrefix(err, prefix) || strings.HasPrefix(s, prefix+" ") || strings.Contains(s, ": "+prefix+" ")
}

// IsConnError reports errors meaning Redis could not take the command:
// the connection is broken or was never made (refused, reset, closed,
// timed out, DNS, TLS, pool exhausted), or the server cannot serve it now
// (LOADING, READONLY replica, MASTERDOWN, CLUSTERDOWN, TRYAGAIN). The
// command certainly or probably did not run: the caller may fall back or
// retry, and a Conn re-probes. Command errors (WRONGTYPE, script errors),
// redis.Nil and context.Canceled are not connection errors. This is the
// one connection-error test of the module.
func IsConnError(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) {
		return false
	}
	switch Code(err) {
	case CodeConnRefused, CodeConnReset, CodeTimeout, CodeUnreachable, CodeNotFound, CodeClosed, CodeLoading, CodeTLS:
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	s := err.Error()
	for _, p := range []string{"READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN"} {
		if hasPrefix(err, s, p) {
			return true
		}
	}
	return false
}
