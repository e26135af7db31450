package doctor

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"
)

// Defaults of Options.
const (
	DefaultCheckTimeout      = 3 * time.Second
	DefaultTimeout           = 20 * time.Second
	DefaultPings             = 20
	DefaultCertExpiryWarning = 14 * 24 * time.Hour
	DefaultMaxQueues         = 100
	DefaultMaxScanKeys       = 100_000
	DefaultMaxActiveChecked  = 1000
)

// Resolver looks up host names; *net.Resolver implements it.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Options tune a diagnosis. The zero value is ready to use.
type Options struct {
	// JSON makes Run print the report as JSON. Defaults to false (text).
	JSON bool
	// CheckTimeout bounds each check. Defaults to 3s.
	CheckTimeout time.Duration
	// Timeout bounds the whole diagnosis; checks that have not started when
	// it expires are reported as skipped. Defaults to 20s.
	Timeout time.Duration
	// Now is the clock (certificate validity, job ages). Defaults to
	// time.Now.
	Now func() time.Time
	// Resolver resolves host names. Defaults to net.DefaultResolver.
	Resolver Resolver
	// Pings is how many PINGs the latency check sends. Defaults to 20.
	Pings int
	// CertExpiryWarning warns when the server certificate expires within
	// this duration. Defaults to 14 days.
	CertExpiryWarning time.Duration
	// MaxQueues bounds how many queues are inspected. Defaults to 100.
	MaxQueues int
	// MaxScanKeys bounds how many keys the queue discovery SCAN examines.
	// Defaults to 100000.
	MaxScanKeys int
	// MaxActiveChecked bounds how many active jobs per queue get their lock
	// checked. Defaults to 1000.
	MaxActiveChecked int
}

func (o Options) withDefaults() Options {
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = DefaultCheckTimeout
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.Pings <= 0 {
		o.Pings = DefaultPings
	}
	if o.CertExpiryWarning <= 0 {
		o.CertExpiryWarning = DefaultCertExpiryWarning
	}
	if o.MaxQueues <= 0 {
		o.MaxQueues = DefaultMaxQueues
	}
	if o.MaxScanKeys <= 0 {
		o.MaxScanKeys = DefaultMaxScanKeys
	}
	if o.MaxActiveChecked <= 0 {
		o.MaxActiveChecked = DefaultMaxActiveChecked
	}
	return o
}

// Run diagnoses t, writes the report to w (text, or JSON with opts.JSON) and
// returns the exit code: 0 when every check passes, 1 with warnings, 2 with
// failures. It never calls os.Exit.
func Run(ctx context.Context, t Target, w io.Writer, opts Options) int {
	r := Diagnose(ctx, t, opts)
	var err error
	if opts.JSON {
		err = r.WriteJSON(w)
	} else {
		err = r.WriteText(w)
	}
	if err != nil && r.ExitCode == 0 {
		return 2
	}
	return r.ExitCode
}

// Diagnose runs every check in order against t and returns the findings.
// It finishes within opts.Timeout whatever the network does. No string in
// the report contains t.Password.
func Diagnose(ctx context.Context, t Target, opts Options) Report {
	o := opts.withDefaults()
	t = t.withDefaults()
	d := &diag{t: t, o: o}
	defer d.close()

	start := o.Now()
	rep := Report{Target: t.Redacted(), Source: t.Source, StartedAt: start}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	wall := time.Now()

	steps := []struct {
		id, name string
		run      func(context.Context, *Check) (block string)
		// needsConn: the check needs the authenticated connection.
		needsConn bool
		// independent: runs whatever the earlier checks found.
		independent bool
	}{
		{CheckConfig, "Configuration", d.checkConfig, false, false},
		{CheckDNS, "DNS", d.checkDNS, false, false},
		{CheckTCP, "TCP", d.checkTCP, false, false},
		{CheckTLS, "TLS", d.checkTLS, false, false},
		{CheckAuth, "Authentication", d.checkAuth, false, false},
		{CheckPermissions, "Permissions", d.checkPermissions, true, false},
		{CheckServer, "Server", d.checkServer, true, false},
		{CheckLatency, "Latency", d.checkLatency, true, false},
		{CheckQueues, "Queues", d.checkQueues, true, false},
		{CheckDatabase, "Database", d.checkDatabase, false, true},
	}
	blocked := ""
	for _, s := range steps {
		c := Check{ID: s.id, Name: s.name}
		switch {
		case blocked != "" && !s.independent:
			c.Findings = []Finding{{Code: "skipped", Status: StatusSkip, Message: "skipped: " + blocked}}
		case ctx.Err() != nil:
			c.Findings = []Finding{{Code: "skipped", Status: StatusSkip,
				Message: fmt.Sprintf("skipped: the total deadline of %s was reached", o.Timeout)}}
		case s.needsConn && d.conn == nil:
			c.Findings = []Finding{{Code: "skipped", Status: StatusSkip, Message: "skipped: no connection to Redis"}}
		default:
			cctx, ccancel := context.WithTimeout(ctx, o.CheckTimeout)
			t0 := time.Now()
			if b := s.run(cctx, &c); !s.independent {
				blocked = b
			}
			c.DurationMS = ms(time.Since(t0))
			ccancel()
		}
		c.Status = StatusOK
		if len(c.Findings) > 0 {
			c.Status = c.Findings[0].Status
			for _, f := range c.Findings[1:] {
				if c.Status == StatusSkip {
					c.Status = f.Status
				} else {
					c.Status = worst(c.Status, f.Status)
				}
			}
		}
		rep.Checks = append(rep.Checks, c)
	}
	rep.DurationMS = ms(time.Since(wall))
	rep.finish()
	redactReport(&rep, t.Password)
	if t.Database != nil {
		redactReport(&rep, t.Database.Password)
	}
	return rep
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// diag is the state carried from one check to the next.
type diag struct {
	t Target
	o Options

	endpoints []endpoint          // what DNS and TCP check
	resolved  map[string][]net.IP // host → addresses
	reachable map[endpoint]string // endpoint → the ip:port that answered
	server    endpoint            // the data node: host, sentinel master, first cluster seed
	addr      string              // ip:port of server that answered
	tlsConf   *tls.Config         // nil when TLS is off
	conn      *respConn           // authenticated connection to server
	user      string              // ACL user as the server sees it
	info      map[string]string   // INFO of server
}

func (d *diag) close() {
	if d.conn != nil {
		_ = d.conn.Close()
	}
}

// dialServer opens a connection to d.addr, with TLS when the target uses
// it, and returns it unauthenticated.
func (d *diag) dialServer(ctx context.Context) (*respConn, error) {
	return d.dialAddr(ctx, d.addr, d.server.Host)
}

func (d *diag) dialAddr(ctx context.Context, addr, serverName string) (*respConn, error) {
	c, err := d.dialNet(ctx, addr, serverName)
	if err != nil {
		return nil, err
	}
	return newRespConn(c), nil
}

// dialNet opens a connection to addr, with TLS (verified against
// serverName unless the TLS config names one) when the target uses it.
func (d *diag) dialNet(ctx context.Context, addr, serverName string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if d.tlsConf == nil {
		return c, nil
	}
	conf := d.tlsConf.Clone()
	if conf.ServerName == "" {
		conf.ServerName = serverName
	}
	tc := tls.Client(c, conf)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	return tc, nil
}

// redactReport removes the password from every string of the report, as a
// last line of defence: no check prints it on purpose. Passwords shorter
// than 4 characters are not scrubbed (they would mangle ordinary words).
func redactReport(r *Report, password string) {
	if len(password) < 4 {
		return
	}
	forms := []string{password, url.QueryEscape(password), url.PathEscape(password), url.UserPassword("", password).String()}
	scrub := func(s string) string {
		for _, f := range forms {
			if f != "" && len(f) >= 4 {
				s = strings.ReplaceAll(s, f, redactedPassword)
			}
		}
		return s
	}
	r.Target = scrub(r.Target)
	for i := range r.Checks {
		for j := range r.Checks[i].Findings {
			f := &r.Checks[i].Findings[j]
			f.Message, f.Fix = scrub(f.Message), scrub(f.Fix)
		}
	}
}

func add(c *Check, code string, st Status, msg, fix string) {
	c.Findings = append(c.Findings, Finding{Code: code, Status: st, Message: msg, Fix: fix})
}
