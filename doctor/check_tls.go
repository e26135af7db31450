package doctor

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
	"time"
)

// TLSData is the Data of the TLS check.
type TLSData struct {
	Version   string    `json:"version,omitempty"`
	Subject   string    `json:"subject,omitempty"`
	Issuer    string    `json:"issuer,omitempty"`
	DNSNames  []string  `json:"dns_names,omitempty"`
	IPs       []string  `json:"ip_addresses,omitempty"`
	NotAfter  time.Time `json:"not_after,omitzero"`
	NotBefore time.Time `json:"not_before,omitzero"`
}

func certData(cert *x509.Certificate) TLSData {
	td := TLSData{Subject: cert.Subject.CommonName, Issuer: cert.Issuer.CommonName, DNSNames: cert.DNSNames,
		NotAfter: cert.NotAfter, NotBefore: cert.NotBefore}
	for _, ip := range cert.IPAddresses {
		td.IPs = append(td.IPs, ip.String())
	}
	return td
}

func (d *diag) checkTLS(ctx context.Context, c *Check) string {
	if d.tlsConf == nil {
		return d.probePlaintext(ctx, c)
	}
	var nd net.Dialer
	raw, err := nd.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		code, msg, fix := classifyDial(d.server, err, d.o.CheckTimeout)
		add(c, code, StatusFail, msg, fix)
		return "no TCP connection"
	}
	defer raw.Close()
	conf := d.tlsConf.Clone()
	if conf.ServerName == "" {
		conf.ServerName = d.server.Host
	}
	tc := tls.Client(raw, conf)
	// Half the remaining time: a plaintext Redis waits for a newline that a
	// ClientHello may never contain, and the plaintext probe needs time too.
	hctx := ctx
	if dl, ok := ctx.Deadline(); ok {
		var hcancel context.CancelFunc
		hctx, hcancel = context.WithDeadline(ctx, time.Now().Add(time.Until(dl)/2))
		defer hcancel()
	}
	err = tc.HandshakeContext(hctx)
	if err == nil {
		st := tc.ConnectionState()
		td := TLSData{Version: tls.VersionName(st.Version)}
		if len(st.PeerCertificates) > 0 {
			v := certData(st.PeerCertificates[0])
			v.Version = td.Version
			td = v
		}
		c.Data = td
		left := td.NotAfter.Sub(d.o.Now())
		msg := fmt.Sprintf("%s handshake with %s ok; certificate %q issued by %q, valid until %s",
			td.Version, d.server.Host, td.Subject, td.Issuer, td.NotAfter.UTC().Format(time.RFC3339))
		if !td.NotAfter.IsZero() && left < d.o.CertExpiryWarning {
			add(c, "tls_expiring", StatusWarn, msg+fmt.Sprintf(" — expires in %s", roundDur(left)),
				"renew the server certificate (or ask your provider) before it expires: clients will refuse it")
			return ""
		}
		add(c, "tls_ok", StatusOK, msg, "")
		return ""
	}
	code, msg, fix := d.classifyTLS(err)
	if code == "tls_timeout" || code == "tls_error" {
		if first, ok := d.plaintextReply(ctx); ok {
			code, msg, fix = "tls_plaintext_server",
				fmt.Sprintf("TLS is on but the server speaks plaintext: the TLS handshake got no answer and a plaintext PING got a RESP reply (%q)", first),
				d.classifyTLSPlainFix()
		}
	}
	add(c, code, StatusFail, msg, fix)
	return "the TLS handshake failed"
}

func (d *diag) classifyTLS(err error) (code, msg, fix string) {
	var (
		rhe   tls.RecordHeaderError
		ua    x509.UnknownAuthorityError
		ci    x509.CertificateInvalidError
		he    x509.HostnameError
		cve   *tls.CertificateVerificationError
		netE  net.Error
		where = "REDIS_URL (redis:// instead of rediss://)"
	)
	if d.t.Source != SourceURL {
		where = "REDIS_TLS=false"
	}
	var leaf *x509.Certificate
	if errors.As(err, &cve) && len(cve.UnverifiedCertificates) > 0 {
		leaf = cve.UnverifiedCertificates[0]
	}
	switch {
	case errors.As(err, &rhe):
		return "tls_plaintext_server", "TLS is on but the server answers in plaintext (first record does not look like a TLS handshake)",
			"this port speaks plain Redis: turn TLS off with " + where + ",\nor use the provider's TLS port / enable tls-port on the server"
	case errors.As(err, &ua):
		issuer := ""
		if ua.Cert != nil {
			issuer = ua.Cert.Issuer.CommonName
		} else if leaf != nil {
			issuer = leaf.Issuer.CommonName
		}
		return "tls_untrusted", fmt.Sprintf("the server certificate is signed by an unknown authority (issuer %q)", issuer),
			"set REDIS_TLS_CA_FILE to the PEM of the CA that signed it (your provider's CA bundle);\ndo not disable verification"
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		now := d.o.Now()
		cert := ci.Cert
		if cert == nil {
			cert = leaf
		}
		if cert != nil && now.Before(cert.NotBefore) {
			return "tls_not_yet_valid", fmt.Sprintf("the server certificate is not valid before %s (now %s)",
					cert.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)),
				"check this machine's clock (NTP), or the certificate's start date"
		}
		when := ""
		if cert != nil {
			when = " on " + cert.NotAfter.UTC().Format(time.RFC3339)
		}
		return "tls_expired", "the server certificate expired" + when,
			"renew the server certificate (or ask your provider to), and check this machine's clock"
	case errors.As(err, &ci):
		return "tls_invalid", "the server certificate is invalid: " + ci.Error(),
			"use a certificate valid for server authentication, signed by a CA in REDIS_TLS_CA_FILE"
	case errors.As(err, &he):
		var names []string
		if he.Certificate != nil {
			names = append(names, he.Certificate.DNSNames...)
			for _, ip := range he.Certificate.IPAddresses {
				names = append(names, ip.String())
			}
		}
		return "tls_hostname", fmt.Sprintf("the server certificate is for %s, not %q", strings.Join(names, ", "), he.Host),
			"connect with a host name the certificate names (the endpoint your provider shows),\nor reissue the certificate with this name"
	case errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET):
		return "tls_plaintext_server", "TLS is on but the server closed the connection during the handshake: it most likely speaks plaintext on this port",
			"turn TLS off with " + where + ", or use the server's TLS port"
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netE) && netE.Timeout()):
		return "tls_timeout", fmt.Sprintf("the TLS handshake timed out after %s", d.o.CheckTimeout),
			"the port may not speak TLS, or the network drops packets: check the port and " + where
	}
	return "tls_error", "the TLS handshake failed: " + err.Error(),
		"check the TLS settings (rediss://, REDIS_TLS, REDIS_TLS_CA_FILE) against what the server expects"
}

// probePlaintext sends a plaintext PING and looks at the first reply byte:
// RESP means all is well; a TLS record (0x15 alert, 0x16 handshake), a reset
// or EOF means the server expects TLS, which a TLS handshake then confirms.
func (d *diag) probePlaintext(ctx context.Context, c *Check) string {
	var nd net.Dialer
	conn, err := nd.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		code, msg, fix := classifyDial(d.server, err, d.o.CheckTimeout)
		add(c, code, StatusFail, msg, fix)
		return "no TCP connection"
	}
	defer conn.Close()
	// Half the remaining time, so that the TLS confirmation still has some.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(time.Now().Add(time.Until(dl) / 2))
	}
	_, werr := io.WriteString(conn, "*1\r\n$4\r\nPING\r\n")
	buf := make([]byte, 1)
	var n int
	var rerr error
	if werr == nil {
		n, rerr = io.ReadFull(conn, buf)
	} else {
		rerr = werr
	}
	fix := "turn TLS on: use rediss:// in REDIS_URL or REDIS_TLS=true (add REDIS_TLS_CA_FILE for a private CA)"
	if n == 1 {
		switch buf[0] {
		case '+', '-', ':', '$', '*':
			add(c, "plaintext", StatusOK, "TLS off: the server answers RESP in plaintext", "")
			return ""
		case 0x15, 0x16:
			add(c, "tls_required", StatusFail, fmt.Sprintf("the server speaks TLS (it answered a plaintext PING with a TLS record, byte 0x%02x) but TLS is off", buf[0]), fix)
			return "the server requires TLS"
		}
		add(c, "not_redis", StatusFail, fmt.Sprintf("the server answered a PING with byte 0x%02x: this is not Redis", buf[0]),
			"check the host and port: another service listens there")
		return "the server does not speak Redis"
	}
	var ne net.Error
	timedOut := errors.As(rerr, &ne) && ne.Timeout()
	if d.speaksTLS(ctx) {
		how := "closed the connection"
		if timedOut {
			how = "did not answer"
		}
		add(c, "tls_required", StatusFail, "the server speaks TLS but TLS is off: it "+how+" on a plaintext PING and accepts a TLS handshake", fix)
		return "the server requires TLS"
	}
	if timedOut {
		add(c, "no_reply", StatusFail, fmt.Sprintf("the server did not answer a PING within %s", d.o.CheckTimeout),
			"check the port: the service there does not speak Redis, or Redis is blocked (a long script, a full disk)")
		return "the server does not answer"
	}
	add(c, "closed", StatusFail, "the server closed the connection on a plaintext PING: "+rerr.Error(),
		"check the port and the server's log (maxclients reached, protected mode, a proxy in between)")
	return "the server closes connections"
}

// plaintextReply sends a plaintext PING to d.addr and reports whether the
// reply is RESP, with the reply's first byte.
func (d *diag) plaintextReply(ctx context.Context) (string, bool) {
	var nd net.Dialer
	conn, err := nd.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return "", false
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := io.WriteString(conn, "*1\r\n$4\r\nPING\r\n"); err != nil {
		return "", false
	}
	buf := make([]byte, 1)
	if _, err := io.ReadFull(conn, buf); err != nil {
		return "", false
	}
	switch buf[0] {
	case '+', '-', ':', '$', '*':
		return string(buf), true
	}
	return "", false
}

func (d *diag) classifyTLSPlainFix() string {
	_, _, fix := d.classifyTLS(tls.RecordHeaderError{})
	return fix
}

// speaksTLS reports whether a TLS handshake (without verification; nothing
// is sent over it) succeeds on d.addr. It is only a detector.
func (d *diag) speaksTLS(ctx context.Context) bool {
	var nd net.Dialer
	conn, err := nd.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return false
	}
	defer conn.Close()
	tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true, ServerName: d.server.Host}) //nolint:gosec // detection only, no data sent
	return tc.HandshakeContext(ctx) == nil
}

func roundDur(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	case d >= time.Hour:
		return d.Round(time.Hour).String()
	case d >= time.Minute:
		return d.Round(time.Minute).String()
	}
	return d.Round(time.Second).String()
}
