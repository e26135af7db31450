package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ConfigData is the Data of the configuration check.
type ConfigData struct {
	Source      string   `json:"source"`
	Ignored     []string `json:"ignored,omitempty"`
	Mode        string   `json:"mode"`
	Target      string   `json:"target"`
	TLS         bool     `json:"tls"`
	CAFile      string   `json:"ca_file,omitempty"`
	Username    string   `json:"username,omitempty"`
	PasswordSet bool     `json:"password_set"`
	DB          int      `json:"db"`
	QueuePrefix string   `json:"queue_prefix"`
}

const howToConfigure = "set REDIS_URL=redis://[user:password@]host:6379[/db] (rediss:// for TLS),\n" +
	"or REDIS_HOST, REDIS_PORT (6379), REDIS_USERNAME, REDIS_PASSWORD, REDIS_TLS=true|false;\n" +
	"for scale-out: REDIS_SENTINEL_ADDRS + REDIS_SENTINEL_MASTER, or REDIS_CLUSTER_ADDRS"

func (d *diag) checkConfig(_ context.Context, c *Check) string {
	t := d.t
	if len(t.Errors) > 0 {
		for _, e := range t.Errors {
			add(c, "invalid", StatusFail, e, howToConfigure)
		}
		return "the configuration is invalid"
	}
	if !t.Configured() {
		add(c, "not_configured", StatusWarn,
			"Redis is not configured (neither REDIS_URL nor REDIS_HOST is set): Zyeuté runs degraded, "+
				"jobs run synchronously in-process, no moderation cache, sessions in memory",
			howToConfigure)
		return "Redis is not configured"
	}
	c.Data = ConfigData{Source: t.Source, Ignored: t.Ignored, Mode: t.mode(), Target: t.Redacted(), TLS: t.TLS,
		CAFile: t.CAFile, Username: t.Username, PasswordSet: t.Password != "", DB: t.DB, QueuePrefix: t.QueuePrefix}

	// Endpoints.
	switch t.mode() {
	case "sentinel":
		if t.SentinelMaster == "" {
			add(c, "invalid", StatusFail, "REDIS_SENTINEL_ADDRS is set but REDIS_SENTINEL_MASTER is empty",
				"set REDIS_SENTINEL_MASTER to the name the sentinels monitor (often \"mymaster\")")
			return "the configuration is invalid"
		}
		for _, a := range t.SentinelAddrs {
			e, err := parseEndpoint(a, 26379)
			if err != nil {
				add(c, "invalid", StatusFail, "REDIS_SENTINEL_ADDRS: "+err.Error(), "use host:port,host:port")
				return "the configuration is invalid"
			}
			d.endpoints = append(d.endpoints, e)
		}
	case "cluster":
		for _, a := range t.ClusterAddrs {
			e, err := parseEndpoint(a, 6379)
			if err != nil {
				add(c, "invalid", StatusFail, "REDIS_CLUSTER_ADDRS: "+err.Error(), "use host:port,host:port")
				return "the configuration is invalid"
			}
			d.endpoints = append(d.endpoints, e)
		}
		d.server = d.endpoints[0]
	default:
		if t.Host == "" {
			add(c, "invalid", StatusFail, t.Source+" has no host", howToConfigure)
			return "the configuration is invalid"
		}
		if t.Port < 1 || t.Port > 65535 {
			add(c, "invalid", StatusFail, fmt.Sprintf("port %d is out of range", t.Port), "use a port between 1 and 65535 (Redis listens on 6379 by default)")
			return "the configuration is invalid"
		}
		d.server = endpoint{Host: t.Host, Port: t.Port}
		d.endpoints = []endpoint{d.server}
	}
	if t.DB < 0 {
		add(c, "invalid", StatusFail, fmt.Sprintf("database %d is negative", t.DB), "set REDIS_DB (or the /db of REDIS_URL) to 0–15")
		return "the configuration is invalid"
	}

	// TLS material.
	if t.TLS {
		if t.TLSConfig != nil {
			d.tlsConf = t.TLSConfig.Clone()
		} else {
			d.tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
			if t.CAFile != "" {
				pem, err := os.ReadFile(t.CAFile)
				if err != nil {
					add(c, "ca_file", StatusFail, "REDIS_TLS_CA_FILE cannot be read: "+errors.Unwrap(err).Error(),
						"point REDIS_TLS_CA_FILE at a readable PEM file with your provider's CA certificate(s)")
					return "the CA file cannot be read"
				}
				pool := x509.NewCertPool()
				if !pool.AppendCertsFromPEM(pem) {
					add(c, "ca_file", StatusFail, "REDIS_TLS_CA_FILE contains no PEM certificate",
						"point REDIS_TLS_CA_FILE at the PEM CA bundle (-----BEGIN CERTIFICATE-----)")
					return "the CA file is unusable"
				}
				d.tlsConf.RootCAs = pool
			}
		}
		if d.tlsConf.Time == nil {
			d.tlsConf.Time = d.o.Now
		}
	}

	var parts []string
	parts = append(parts, "uses "+t.Source)
	if len(t.Ignored) > 0 {
		parts = append(parts, "REDIS_URL wins over "+strings.Join(t.Ignored, ", ")+" (ignored)")
	}
	parts = append(parts, "target "+t.Redacted())
	if t.TLS {
		tlsMsg := "TLS on"
		if t.CAFile != "" {
			tlsMsg += " (CA " + t.CAFile + ")"
		}
		parts = append(parts, tlsMsg)
	} else {
		parts = append(parts, "TLS off")
	}
	parts = append(parts, "queue prefix "+strconv.Quote(t.QueuePrefix))
	add(c, "configured", StatusOK, strings.Join(parts, "; "), "")
	for _, n := range t.Notices {
		add(c, "notice", StatusWarn, n, "")
	}
	if !t.TLS && t.CAFile != "" && !slices.ContainsFunc(t.Notices, func(n string) bool { return strings.Contains(n, "REDIS_TLS_CA_FILE") }) {
		add(c, "ca_without_tls", StatusWarn, "REDIS_TLS_CA_FILE is set but TLS is off",
			"use rediss:// in REDIS_URL or REDIS_TLS=true, or unset REDIS_TLS_CA_FILE")
	}
	return ""
}

// DNSData is the Data of the DNS check: host → addresses.
type DNSData struct {
	Addresses map[string][]string `json:"addresses"`
}

func (d *diag) checkDNS(ctx context.Context, c *Check) string {
	d.resolved = make(map[string][]net.IP)
	data := DNSData{Addresses: map[string][]string{}}
	c.Data = data
	failed := 0
	hosts := make([]string, 0, len(d.endpoints))
	for _, e := range d.endpoints {
		if !slices.Contains(hosts, e.Host) {
			hosts = append(hosts, e.Host)
		}
	}
	for _, h := range hosts {
		ips, err := d.lookup(ctx, h)
		if err != nil {
			failed++
			add(c, dnsCode(err), StatusFail, err.Error(), dnsFix(d.t, h, err))
			continue
		}
		for _, ip := range ips {
			data.Addresses[h] = append(data.Addresses[h], ip.String())
		}
		if net.ParseIP(h) != nil {
			add(c, "ip_literal", StatusOK, h+" is an IP address (no lookup needed)", "")
		} else {
			add(c, "resolved", StatusOK, h+" resolves to "+strings.Join(data.Addresses[h], ", "), "")
		}
	}
	if failed == len(hosts) {
		return "the host does not resolve"
	}
	if failed > 0 {
		// Some seeds resolve: downgrade to a warning, the client can use the others.
		for i := range c.Findings {
			if c.Findings[i].Status == StatusFail {
				c.Findings[i].Status = StatusWarn
			}
		}
	}
	return ""
}

// lookup resolves h (an IP literal resolves to itself) and records it.
func (d *diag) lookup(ctx context.Context, h string) ([]net.IP, error) {
	if ips, ok := d.resolved[h]; ok {
		return ips, nil
	}
	if ip := net.ParseIP(h); ip != nil {
		d.resolved[h] = []net.IP{ip}
		return d.resolved[h], nil
	}
	addrs, err := d.o.Resolver.LookupIPAddr(ctx, h)
	if err == nil && len(addrs) == 0 {
		err = &net.DNSError{Err: "no addresses", Name: h, IsNotFound: true}
	}
	if err != nil {
		var de *net.DNSError
		switch {
		case errors.As(err, &de) && de.IsNotFound:
			return nil, fmt.Errorf("%s does not resolve: no such host", h)
		case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &de) && de.IsTimeout):
			return nil, fmt.Errorf("looking up %s timed out after %s: the DNS server does not answer", h, d.o.CheckTimeout)
		}
		return nil, fmt.Errorf("looking up %s failed: %v", h, err)
	}
	ips := make([]net.IP, 0, len(addrs))
	for _, a := range addrs {
		ips = append(ips, a.IP)
	}
	d.resolved[h] = ips
	return ips, nil
}

func dnsCode(err error) string {
	switch {
	case strings.Contains(err.Error(), "timed out"):
		return "dns_timeout"
	case strings.Contains(err.Error(), "does not resolve"):
		return "dns_not_found"
	}
	return "dns_error"
}

func dnsFix(t Target, host string, err error) string {
	if strings.Contains(err.Error(), "timed out") {
		return "check the DNS servers of this machine (/etc/resolv.conf) and that it has network access"
	}
	where := "REDIS_HOST"
	switch t.Source {
	case SourceURL:
		where = "the host in REDIS_URL"
	case SourceSentinel:
		where = "REDIS_SENTINEL_ADDRS"
	case SourceCluster:
		where = "REDIS_CLUSTER_ADDRS"
	}
	fix := fmt.Sprintf("check the spelling of %s (%q); use the exact endpoint your provider shows.\n", where, host)
	fix += "A private name (docker-compose service, *.internal, VPC endpoint) resolves only inside that network.\n"
	fix += "The Node backend logs this same failure as \"MetadataLookupWarning … getaddrinfo ENOTFOUND\"."
	return fix
}

// TCPData is the Data of the TCP check.
type TCPData struct {
	// Reachable maps each configured endpoint to the address that accepted
	// the connection ("" when none did).
	Reachable map[string]string `json:"reachable"`
	// ConnectMS is the time to connect to the data node.
	ConnectMS float64 `json:"connect_ms"`
	// Master is the master address a sentinel reported.
	Master string `json:"master,omitempty"`
}

func (d *diag) checkTCP(ctx context.Context, c *Check) string {
	d.reachable = make(map[endpoint]string)
	data := TCPData{Reachable: map[string]string{}}
	ok := 0
	var connectDur time.Duration
	for _, e := range d.endpoints {
		addr, dur, err := d.connect(ctx, e)
		data.Reachable[e.String()] = addr
		if err != nil {
			code, msg, fix := classifyDial(e, err, d.o.CheckTimeout)
			add(c, code, StatusFail, msg, fix)
			continue
		}
		ok++
		d.reachable[e] = addr
		if e == d.server {
			d.addr, connectDur = addr, dur
		}
		where := ""
		if addr != e.String() {
			where = " at " + addr
		}
		add(c, "reachable", StatusOK, fmt.Sprintf("%s is reachable%s (connected in %.1f ms)", e, where, ms(dur)), "")
	}
	data.ConnectMS = ms(connectDur)
	c.Data = &data
	if ok == 0 {
		return "no TCP connection"
	}
	if ok < len(d.endpoints) {
		for i := range c.Findings {
			if c.Findings[i].Status == StatusFail {
				c.Findings[i].Status = StatusWarn
			}
		}
	}
	switch d.t.mode() {
	case "sentinel":
		return d.resolveMaster(ctx, c, &data)
	case "cluster":
		if d.addr == "" {
			for _, e := range d.endpoints {
				if a := d.reachable[e]; a != "" {
					d.server, d.addr = e, a
					break
				}
			}
		}
	}
	return ""
}

// connect dials every address of e until one accepts.
func (d *diag) connect(ctx context.Context, e endpoint) (string, time.Duration, error) {
	ips, err := d.lookup(ctx, e.Host)
	if err != nil {
		return "", 0, err
	}
	var lastErr error
	for _, ip := range ips {
		addr := net.JoinHostPort(ip.String(), strconv.Itoa(e.Port))
		var nd net.Dialer
		t0 := time.Now()
		conn, err := nd.DialContext(ctx, "tcp", addr)
		if err == nil {
			dur := time.Since(t0)
			_ = conn.Close()
			return addr, dur, nil
		}
		lastErr = err
	}
	return "", 0, lastErr
}

func classifyDial(e endpoint, err error, timeout time.Duration) (code, msg, fix string) {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused", fmt.Sprintf("connection to %s refused: nothing listens on port %d", e, e.Port),
			"check that Redis is running and the port is right (REDIS_PORT or the :port of REDIS_URL; 6379 by default, managed services often use another);\n" +
				"a Redis bound to 127.0.0.1 (bind setting) is not reachable from other machines or containers"
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return "timeout", fmt.Sprintf("connecting to %s timed out after %s: packets are dropped", e, timeout),
			"a firewall, security group or IP allow-list blocks this machine, or the address is private to another network;\n" +
				"allow this machine's outbound IP in the provider's network settings"
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return "unreachable", fmt.Sprintf("%s is unreachable: no route to the host", e),
			"check the address and this machine's network (VPN, VPC peering, container network)"
	}
	return "connect_error", fmt.Sprintf("connecting to %s failed: %v", e, err), "check the address and the network"
}

// resolveMaster asks the sentinels where the master is and checks TCP to it.
func (d *diag) resolveMaster(ctx context.Context, c *Check, data *TCPData) string {
	var lastErr error
	for _, e := range d.endpoints {
		addr := d.reachable[e]
		if addr == "" {
			continue
		}
		host, port, err := d.askSentinel(ctx, addr, e.Host)
		if err != nil {
			lastErr = err
			continue
		}
		p, _ := strconv.Atoi(port)
		d.server = endpoint{Host: host, Port: p}
		data.Master = d.server.String()
		a, dur, err := d.connect(ctx, d.server)
		if err != nil {
			code, msg, fix := classifyDial(d.server, err, d.o.CheckTimeout)
			add(c, "master_"+code, StatusFail, fmt.Sprintf("sentinel %s reports master %q at %s, but: %s", e, d.t.SentinelMaster, d.server, msg), fix)
			return "the master is not reachable"
		}
		d.addr = a
		data.ConnectMS = ms(dur)
		add(c, "master", StatusOK, fmt.Sprintf("sentinel %s reports master %q at %s, reachable (%.1f ms)", e, d.t.SentinelMaster, d.server, ms(dur)), "")
		return ""
	}
	msg := fmt.Sprintf("no sentinel knows a master named %q", d.t.SentinelMaster)
	if lastErr != nil {
		msg += ": " + lastErr.Error()
	}
	add(c, "master_unknown", StatusFail, msg, "check REDIS_SENTINEL_MASTER against `SENTINEL MASTERS` on a sentinel")
	return "the sentinel master is not resolvable"
}

func (d *diag) askSentinel(ctx context.Context, addr, serverName string) (host, port string, err error) {
	rc, err := d.dialAddr(ctx, addr, serverName)
	if err != nil {
		return "", "", err
	}
	defer rc.Close()
	v, err := rc.do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", d.t.SentinelMaster)
	var re redisError
	if errors.As(err, &re) && re.code() == "NOAUTH" && d.t.Password != "" {
		args := []string{"AUTH", d.t.Password}
		if d.t.Username != "" {
			args = []string{"AUTH", d.t.Username, d.t.Password}
		}
		if _, err := rc.do(ctx, args...); err != nil {
			return "", "", fmt.Errorf("sentinel rejected the credentials (%s)", firstWord(err))
		}
		v, err = rc.do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", d.t.SentinelMaster)
	}
	if err != nil {
		return "", "", fmt.Errorf("%s", firstLine(err.Error()))
	}
	arr, _ := v.([]any)
	if len(arr) != 2 {
		return "", "", fmt.Errorf("sentinel %s does not monitor it", addr)
	}
	return asString(arr[0]), asString(arr[1]), nil
}

func firstWord(err error) string {
	var re redisError
	if errors.As(err, &re) {
		return re.code()
	}
	return err.Error()
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

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
