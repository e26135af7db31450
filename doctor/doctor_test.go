package doctor

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/queue"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// outcome is one diagnosis with both renderings.
type outcome struct {
	rep  Report
	text string
	js   string
}

// diagnose runs Diagnose, renders text and JSON, logs the text, and asserts
// that neither rendering (nor the Target's own formatting) contains the
// password.
func diagnose(t *testing.T, tg Target, o Options) outcome {
	t.Helper()
	rep := Diagnose(context.Background(), tg, o)
	var tb, jb bytes.Buffer
	if err := rep.WriteText(&tb); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJSON(&jb); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", tb.String())
	if tg.Password != "" {
		formatted := fmt.Sprintf("%v %+v %#v %s", tg, tg, tg, tg)
		for name, out := range map[string]string{"text": tb.String(), "json": jb.String(), "formatted Target": formatted} {
			if strings.Contains(out, tg.Password) {
				t.Fatalf("%s output contains the password", name)
			}
		}
	}
	return outcome{rep: rep, text: tb.String(), js: jb.String()}
}

// expect asserts that check id has the given status and a finding with code.
func expect(t *testing.T, o outcome, id string, st Status, code string) Finding {
	t.Helper()
	c, ok := o.rep.Check(id)
	if !ok {
		t.Fatalf("no check %q", id)
	}
	if c.Status != st {
		t.Fatalf("check %s: status %s, want %s; findings %+v", id, c.Status, st, c.Findings)
	}
	f, ok := c.Finding(code)
	if !ok {
		t.Fatalf("check %s: no finding %q in %+v", id, code, c.Findings)
	}
	return f
}

func expectExit(t *testing.T, o outcome, want int) {
	t.Helper()
	if o.rep.ExitCode != want {
		t.Fatalf("exit code %d, want %d", o.rep.ExitCode, want)
	}
}

func expectSkipped(t *testing.T, o outcome, ids ...string) {
	t.Helper()
	for _, id := range ids {
		c, _ := o.rep.Check(id)
		if c.Status != StatusSkip {
			t.Fatalf("check %s: status %s, want skip", id, c.Status)
		}
	}
}

func hostTarget(t *testing.T, s *redistest.Server) Target {
	return Target{Source: SourceURL, Host: "127.0.0.1", Port: s.Port(), QueuePrefix: redistest.KeyPrefix(t)}
}

// durable are the server arguments of a well-configured queue Redis.
var durable = []string{"--appendonly", "yes"}

func TestHealthyWithPassword(t *testing.T) {
	t.Parallel()
	const pw = "healthy-s3cret-Pa55"
	s := redistest.Start(t, &redistest.Options{Password: pw, Args: durable})
	tg := hostTarget(t, s)
	tg.Password = pw
	o := diagnose(t, tg, Options{})
	expectExit(t, o, 0)
	expect(t, o, CheckAuth, StatusOK, "authenticated")
	expect(t, o, CheckPermissions, StatusOK, "allowed")
	expect(t, o, CheckServer, StatusOK, "eviction_ok")
	expect(t, o, CheckServer, StatusOK, "persistence_ok")
	expect(t, o, CheckQueues, StatusOK, "no_queues")
	lat, _ := o.rep.Check(CheckLatency)
	ld := lat.Data.(LatencyData)
	if ld.Count != DefaultPings || ld.MinMS > ld.MedianMS || ld.MedianMS > ld.MaxMS {
		t.Fatalf("latency data %+v", ld)
	}
}

func TestRunJSONAndExitCode(t *testing.T) {
	t.Parallel()
	const pw = "json-s3cret-Pa55"
	s := redistest.Start(t, &redistest.Options{Password: "other-" + pw})
	tg := hostTarget(t, s)
	tg.Password = pw
	var buf bytes.Buffer
	code := Run(context.Background(), tg, &buf, Options{JSON: true})
	if code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if strings.Contains(buf.String(), pw) {
		t.Fatal("JSON contains the password")
	}
	var doc struct {
		Target   string `json:"target"`
		Status   string `json:"status"`
		ExitCode int    `json:"exit_code"`
		Checks   []struct {
			ID       string `json:"id"`
			Status   string `json:"status"`
			Findings []struct {
				Code, Status, Message, Fix string
			} `json:"findings"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("JSON: %v\n%s", err, buf.String())
	}
	if doc.ExitCode != 2 || doc.Status != "fail" || len(doc.Checks) != 10 || !strings.Contains(doc.Target, "****") {
		t.Fatalf("JSON doc %+v", doc)
	}
	ids := []string{CheckConfig, CheckDNS, CheckTCP, CheckTLS, CheckAuth, CheckPermissions, CheckServer, CheckLatency, CheckQueues, CheckDatabase}
	for i, c := range doc.Checks {
		if c.ID != ids[i] {
			t.Fatalf("check %d is %s, want %s", i, c.ID, ids[i])
		}
	}
	if a := doc.Checks[4]; a.Status != "fail" || a.Findings[0].Code != "wrongpass" || a.Findings[0].Fix == "" {
		t.Fatalf("auth in JSON: %+v", a)
	}
}

func TestWrongPassword(t *testing.T) {
	t.Parallel()
	const pw = "not-the-right-0ne"
	s := redistest.Start(t, &redistest.Options{Password: "the-right-one-xyz"})
	tg := hostTarget(t, s)
	tg.Password = pw
	o := diagnose(t, tg, Options{})
	f := expect(t, o, CheckAuth, StatusFail, "wrongpass")
	if !strings.Contains(f.Fix, "user and password in REDIS_URL") || !strings.Contains(f.Fix, `"default"`) {
		t.Fatalf("fix %q", f.Fix)
	}
	expectSkipped(t, o, CheckPermissions, CheckServer, CheckLatency, CheckQueues)
	expectExit(t, o, 2)
}

func TestWrongPasswordACLUser(t *testing.T) {
	t.Parallel()
	const pw = "wrong-app-passw0rd"
	s := redistest.Start(t, &redistest.Options{ACL: []string{"app on >right-app-pw ~* &* +@all"}})
	tg := hostTarget(t, s)
	tg.Source = SourceHost
	tg.Username, tg.Password = "app", pw
	o := diagnose(t, tg, Options{})
	f := expect(t, o, CheckAuth, StatusFail, "wrongpass")
	if !strings.Contains(f.Message, `"app"`) || !strings.Contains(f.Fix, "REDIS_USERNAME") || !strings.Contains(f.Fix, "REDIS_PASSWORD") {
		t.Fatalf("finding %+v", f)
	}
	expectExit(t, o, 2)
}

func TestNoPassword(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, &redistest.Options{Password: "required-pw-123"})
	tg := hostTarget(t, s)
	tg.Source = SourceHost
	o := diagnose(t, tg, Options{})
	f := expect(t, o, CheckAuth, StatusFail, "noauth")
	if !strings.Contains(f.Fix, "REDIS_PASSWORD") {
		t.Fatalf("fix %q", f.Fix)
	}
	expectSkipped(t, o, CheckPermissions, CheckQueues)
	expectExit(t, o, 2)
}

func TestPasswordButServerHasNone(t *testing.T) {
	t.Parallel()
	const pw = "useless-password-1"
	s := redistest.Start(t, nil)
	tg := hostTarget(t, s)
	tg.Password = pw
	o := diagnose(t, tg, Options{})
	expect(t, o, CheckAuth, StatusFail, "password_not_required")
	expectExit(t, o, 2)
}

func TestTLSServerReachedWithPlaintext(t *testing.T) {
	t.Parallel()
	const pw = "tls-only-pw-4567"
	s := redistest.Start(t, &redistest.Options{TLS: true, Password: pw})
	tg := hostTarget(t, s) // redis://, TLS off
	tg.Password = pw
	o := diagnose(t, tg, Options{})
	expect(t, o, CheckTCP, StatusOK, "reachable")
	f := expect(t, o, CheckTLS, StatusFail, "tls_required")
	if !strings.Contains(f.Fix, "rediss://") {
		t.Fatalf("fix %q", f.Fix)
	}
	expectSkipped(t, o, CheckAuth, CheckPermissions, CheckServer, CheckLatency, CheckQueues)
	expectExit(t, o, 2)
}

func TestPlaintextServerReachedWithTLS(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, nil)
	tg := hostTarget(t, s)
	tg.TLS = true
	o := diagnose(t, tg, Options{})
	f := expect(t, o, CheckTLS, StatusFail, "tls_plaintext_server")
	if !strings.Contains(f.Fix, "redis://") {
		t.Fatalf("fix %q", f.Fix)
	}
	expectSkipped(t, o, CheckAuth)
	expectExit(t, o, 2)
}

func TestTLSHealthy(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, &redistest.Options{TLS: true, Args: durable})
	tg := hostTarget(t, s)
	tg.TLS, tg.CAFile = true, s.CAFile
	// The test certificate lives a day: below the default expiry warning.
	o := diagnose(t, tg, Options{CertExpiryWarning: time.Hour})
	expect(t, o, CheckTLS, StatusOK, "tls_ok")
	expectExit(t, o, 0)

	o = diagnose(t, tg, Options{})
	expect(t, o, CheckTLS, StatusWarn, "tls_expiring")
	expectExit(t, o, 1)
}

func TestTLSUntrustedCA(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, &redistest.Options{TLS: true})
	tg := hostTarget(t, s)
	tg.TLS, tg.CAFile = true, s.OtherCAFile
	o := diagnose(t, tg, Options{})
	f := expect(t, o, CheckTLS, StatusFail, "tls_untrusted")
	if !strings.Contains(f.Message, "zyeute-test-ca") || !strings.Contains(f.Fix, "REDIS_TLS_CA_FILE") {
		t.Fatalf("finding %+v", f)
	}
	expectExit(t, o, 2)
}

// tlsServerWithCert starts a TLS server whose certificate is issued by the
// returned CA file for hosts, valid from nb to na.
func tlsServerWithCert(t *testing.T, hosts []string, nb, na time.Time) (*redistest.Server, string) {
	t.Helper()
	ca, err := redistest.NewCA("doctor-test-ca")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Issue(hosts, nb, na)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caFile, certFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for p, b := range map[string][]byte{caFile: ca.PEM, certFile: certPEM, keyFile: keyPEM} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := redistest.Start(t, &redistest.Options{TLS: true, Args: []string{"--tls-cert-file", certFile, "--tls-key-file", keyFile}})
	return s, caFile
}

func TestTLSExpiredCertificate(t *testing.T) {
	t.Parallel()
	s, caFile := tlsServerWithCert(t, redistest.TLSCertHosts, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	tg := hostTarget(t, s)
	tg.TLS, tg.CAFile = true, caFile
	o := diagnose(t, tg, Options{})
	f := expect(t, o, CheckTLS, StatusFail, "tls_expired")
	if !strings.Contains(f.Message, "expired on") {
		t.Fatalf("finding %+v", f)
	}
	expectExit(t, o, 2)
}

func TestTLSCertificateForAnotherHost(t *testing.T) {
	t.Parallel()
	s, caFile := tlsServerWithCert(t, []string{"redis.example.com"}, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	tg := hostTarget(t, s)
	tg.TLS, tg.CAFile = true, caFile
	o := diagnose(t, tg, Options{})
	f := expect(t, o, CheckTLS, StatusFail, "tls_hostname")
	if !strings.Contains(f.Message, "redis.example.com") || !strings.Contains(f.Message, "127.0.0.1") {
		t.Fatalf("finding %+v", f)
	}
	expectExit(t, o, 2)
}

func TestClosedPort(t *testing.T) {
	t.Parallel()
	const port = 1 // nothing listens on port 1 (a released free port could be reused by a parallel test)
	tg := Target{Source: SourceHost, Host: "127.0.0.1", Port: port}
	o := diagnose(t, tg, Options{})
	expect(t, o, CheckDNS, StatusOK, "ip_literal")
	expect(t, o, CheckTCP, StatusFail, "refused")
	expectSkipped(t, o, CheckTLS, CheckAuth, CheckPermissions, CheckServer, CheckLatency, CheckQueues)
	expectExit(t, o, 2)
}

func TestHostDoesNotResolve(t *testing.T) {
	t.Parallel()
	const pw = "dns-test-passw0rd"
	tg := Target{Source: SourceURL, Host: "redis.zyeute.invalid", Port: 6379, Password: pw}
	o := diagnose(t, tg, Options{})
	f := expect(t, o, CheckDNS, StatusFail, "dns_not_found")
	if !strings.Contains(f.Message, "redis.zyeute.invalid") || !strings.Contains(f.Fix, "MetadataLookupWarning") {
		t.Fatalf("finding %+v", f)
	}
	expectSkipped(t, o, CheckTCP, CheckTLS, CheckAuth)
	expectExit(t, o, 2)
}

func TestNotConfigured(t *testing.T) {
	t.Parallel()
	o := diagnose(t, Target{}, Options{})
	f := expect(t, o, CheckConfig, StatusWarn, "not_configured")
	if !strings.Contains(f.Fix, "REDIS_URL") || !strings.Contains(f.Fix, "REDIS_HOST") {
		t.Fatalf("fix %q", f.Fix)
	}
	expectSkipped(t, o, CheckDNS, CheckTCP, CheckTLS, CheckAuth, CheckPermissions, CheckServer, CheckLatency, CheckQueues)
	expectExit(t, o, 1)
}

func TestConfigReportsRedisURLWins(t *testing.T) {
	t.Parallel()
	const pw = "config-pw-98765"
	s := redistest.Start(t, &redistest.Options{Password: pw, Args: durable})
	tg := hostTarget(t, s)
	tg.Password, tg.Username = pw, "default"
	tg.Ignored = []string{"REDIS_HOST", "REDIS_PASSWORD"}
	o := diagnose(t, tg, Options{})
	f := expect(t, o, CheckConfig, StatusOK, "configured")
	for _, want := range []string{"REDIS_URL wins over REDIS_HOST, REDIS_PASSWORD", "redis://default:****@127.0.0.1:", "TLS off"} {
		if !strings.Contains(f.Message, want) {
			t.Fatalf("config message %q lacks %q", f.Message, want)
		}
	}
	expectExit(t, o, 0)
}

func TestEvictionPolicy(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, &redistest.Options{Args: []string{"--maxmemory-policy", "allkeys-lru", "--appendonly", "yes"}})
	o := diagnose(t, hostTarget(t, s), Options{})
	f := expect(t, o, CheckServer, StatusWarn, "eviction_policy")
	if !strings.Contains(f.Message, "allkeys-lru") || !strings.Contains(f.Fix, "noeviction") || !strings.Contains(f.Fix, "separate Redis") {
		t.Fatalf("finding %+v", f)
	}
	expectExit(t, o, 1)
}

func TestPersistence(t *testing.T) {
	t.Parallel()
	off := redistest.Start(t, nil) // redistest: --save "" --appendonly no
	o := diagnose(t, hostTarget(t, off), Options{})
	f := expect(t, o, CheckServer, StatusWarn, "persistence_off")
	if !strings.Contains(f.Message, "lost") || !strings.Contains(f.Fix, "appendonly yes") {
		t.Fatalf("finding %+v", f)
	}
	expectExit(t, o, 1)

	aof := redistest.Start(t, &redistest.Options{Args: durable})
	o = diagnose(t, hostTarget(t, aof), Options{})
	expect(t, o, CheckServer, StatusOK, "persistence_ok")
	expectExit(t, o, 0)

	rdb := redistest.Start(t, &redistest.Options{Args: []string{"--save", "60 1"}})
	o = diagnose(t, hostTarget(t, rdb), Options{})
	f = expect(t, o, CheckServer, StatusOK, "persistence_ok")
	if !strings.Contains(f.Message, "RDB") {
		t.Fatalf("finding %+v", f)
	}
	expectExit(t, o, 0)
}

func TestACLUserWithoutScripts(t *testing.T) {
	t.Parallel()
	const pw = "limited-pw-24680"
	s := redistest.Start(t, &redistest.Options{ACL: []string{"limited on >" + pw + " ~* &* +@all -eval -evalsha -script"}, Args: durable})
	tg := hostTarget(t, s)
	tg.Username, tg.Password = "limited", pw
	o := diagnose(t, tg, Options{})
	f := expect(t, o, CheckPermissions, StatusFail, "commands_denied")
	for _, want := range []string{"EVAL, EVALSHA, SCRIPT LOAD", "ACL DRYRUN"} {
		if !strings.Contains(f.Message, want) {
			t.Fatalf("message %q lacks %q", f.Message, want)
		}
	}
	if !strings.Contains(f.Fix, "ACL SETUSER limited +eval +evalsha +script|load") {
		t.Fatalf("fix %q", f.Fix)
	}
	// The other checks still run.
	expect(t, o, CheckServer, StatusOK, "version")
	expect(t, o, CheckLatency, StatusOK, "latency")
	expectExit(t, o, 2)
}

func TestACLUserWithoutAdminFallsBackToMulti(t *testing.T) {
	t.Parallel()
	const pw = "noadmin-pw-13579"
	s := redistest.Start(t, &redistest.Options{ACL: []string{"app on >" + pw + " ~* &* +@all -@admin -eval"}, Args: durable})
	tg := hostTarget(t, s)
	tg.Username, tg.Password = "app", pw
	o := diagnose(t, tg, Options{})
	f := expect(t, o, CheckPermissions, StatusFail, "commands_denied")
	if !strings.Contains(f.Message, "EVAL") || strings.Contains(f.Message, "EVALSHA") || !strings.Contains(f.Message, "MULTI") {
		t.Fatalf("finding %+v", f)
	}
	c, _ := o.rep.Check(CheckPermissions)
	if m := c.Data.(*PermissionsData).Method; m != "multi probe" {
		t.Fatalf("method %q", m)
	}
	// Nothing ran: the probe keys do not exist.
	n, err := s.Client(t).Exists(context.Background(), tg.QueuePrefix+":doctor-probe", tg.QueuePrefix+":doctor-probe:2").Result()
	if err != nil || n != 0 {
		t.Fatalf("probe keys exist: %d %v", n, err)
	}
}

func TestACLUserWithoutQueueKeys(t *testing.T) {
	t.Parallel()
	const pw = "keys-pw-11223"
	s := redistest.Start(t, &redistest.Options{ACL: []string{"cacheonly on >" + pw + " ~zyeute:* &* +@all"}, Args: durable})
	tg := hostTarget(t, s)
	tg.Username, tg.Password = "cacheonly", pw
	o := diagnose(t, tg, Options{})
	f := expect(t, o, CheckPermissions, StatusFail, "keys_denied")
	if !strings.Contains(f.Fix, "ACL SETUSER cacheonly ~"+tg.QueuePrefix+":*") {
		t.Fatalf("fix %q", f.Fix)
	}
}

func TestQueuesStalledJob(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, &redistest.Options{Args: durable})
	tg := hostTarget(t, s)
	p := tg.QueuePrefix
	ctx := context.Background()
	c := s.Client(t)
	now := time.Now().Truncate(time.Millisecond)
	q := p + ":video-enhancement:"
	a := p + ":analytics:"
	pipe := c.TxPipeline()
	pipe.HSet(ctx, q+"meta", "opts.maxLenEvents", "10000")
	pipe.Set(ctx, q+"id", "3", 0)
	pipe.LPush(ctx, q+"active", "1", "2")
	pipe.HSet(ctx, q+"1", "name", "enhance", "timestamp", now.Add(-time.Minute).UnixMilli())
	pipe.HSet(ctx, q+"2", "name", "enhance", "timestamp", now.Add(-time.Minute).UnixMilli())
	pipe.Set(ctx, q+"2:lock", "token", time.Minute) // job 2 is held; job 1 is not
	pipe.LPush(ctx, q+"wait", "3")
	pipe.HSet(ctx, q+"3", "name", "enhance", "timestamp", now.Add(-2*time.Minute).UnixMilli())
	pipe.ZAdd(ctx, q+"failed", redis.Z{Score: 1, Member: "4"})
	pipe.HSet(ctx, a+"meta", "opts.maxLenEvents", "10000") // as Node's first add writes it
	pipe.Set(ctx, a+"id", "1", 0)
	pipe.LPush(ctx, a+"wait", "1")
	pipe.HSet(ctx, a+"1", "name", "count", "timestamp", now.UnixMilli())
	pipe.Set(ctx, p+"::relay:outbox:meta", "x", 0) // not a queue
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	// A worker of video-enhancement, named as BullMQ names its blocking connection.
	worker := redis.NewClient(&redis.Options{Addr: s.Addr(), ClientName: p + ":" + base64.StdEncoding.EncodeToString([]byte("video-enhancement")) + ":w:w1"})
	defer worker.Close()
	if err := worker.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	o := diagnose(t, tg, Options{Now: func() time.Time { return now }})
	f := expect(t, o, CheckQueues, StatusWarn, "stalled")
	if !strings.Contains(f.Message, "video-enhancement") || !strings.Contains(f.Fix, "zyeute worker") {
		t.Fatalf("finding %+v", f)
	}
	expect(t, o, CheckQueues, StatusWarn, "no_workers")
	ch, _ := o.rep.Check(CheckQueues)
	data := ch.Data.(*QueuesData)
	if len(data.Queues) != 2 || !data.WorkersKnown {
		t.Fatalf("queues %+v", data)
	}
	an, ve := data.Queues[0], data.Queues[1]
	if an.Name != "analytics" || an.Wait != 1 || an.Workers != 0 || an.Stalled != 0 {
		t.Fatalf("analytics %+v", an)
	}
	want := QueueStats{Name: "video-enhancement", Wait: 1, Active: 2, Failed: 1, Stalled: 1, StalledIDs: []string{"1"},
		ActiveChecked: 2, OldestWaitingMS: 120000, Workers: 1}
	if fmt.Sprint(ve) != fmt.Sprint(want) {
		t.Fatalf("video-enhancement\n got %+v\nwant %+v", ve, want)
	}
	expectExit(t, o, 1)
}

func TestCluster(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, &redistest.Options{Args: []string{"--cluster-enabled", "yes", "--appendonly", "yes"}})
	tg := Target{ClusterAddrs: []string{s.Addr()}, QueuePrefix: "{" + redistest.KeyPrefix(t) + "}"}
	o := diagnose(t, tg, Options{})
	expect(t, o, CheckServer, StatusFail, "cluster_state")
	expectExit(t, o, 2)

	ctx := context.Background()
	c := s.Client(t)
	if err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", "0", "16383").Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := c.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster never became ok: %v %s", err, info)
		}
		time.Sleep(20 * time.Millisecond)
	}
	o = diagnose(t, tg, Options{})
	expect(t, o, CheckServer, StatusOK, "cluster_state")
	expectExit(t, o, 0)

	tg.QueuePrefix = "bull"
	o = diagnose(t, tg, Options{})
	expect(t, o, CheckServer, StatusWarn, "cluster_hash_tag")
}

// A port that accepts connections and never answers: every check must still
// end within its timeout.
func TestSilentServer(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan struct{})
	defer close(done)
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for i := 0; i < 100; i++ {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
		<-done
	}()
	tg := Target{Source: SourceHost, Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port}
	o := diagnose(t, tg, Options{CheckTimeout: 300 * time.Millisecond})
	expect(t, o, CheckTCP, StatusOK, "reachable")
	expect(t, o, CheckTLS, StatusFail, "no_reply")
	expectExit(t, o, 2)
}

func TestTargetRedaction(t *testing.T) {
	t.Parallel()
	tg := Target{Source: SourceURL, Host: "redis.example.com", Port: 6380, Username: "app", Password: "p@ss/w0rd", TLS: true, DB: 2}
	want := "rediss://app:****@redis.example.com:6380/2"
	for _, got := range []string{tg.String(), fmt.Sprintf("%v", tg), fmt.Sprintf("%+v", tg), tg.LogValue().String()} {
		if got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	if s := fmt.Sprintf("%#v", tg); strings.Contains(s, "w0rd") {
		t.Fatalf("GoString leaks: %s", s)
	}
}

func TestConfigErrorsAndNotices(t *testing.T) {
	t.Parallel()
	o := diagnose(t, Target{Errors: []string{"REDIS_URL is not a valid URL (percent-encode special characters in the password)"}}, Options{})
	f := expect(t, o, CheckConfig, StatusFail, "invalid")
	if !strings.Contains(f.Message, "REDIS_URL") {
		t.Fatalf("finding %+v", f)
	}
	expectSkipped(t, o, CheckDNS, CheckQueues)
	expectExit(t, o, 2)

	s := redistest.Start(t, &redistest.Options{Args: durable})
	tg := hostTarget(t, s)
	tg.Notices = []string{"REDIS_TLS_CA_FILE is set but TLS is off: use rediss:// or REDIS_TLS=true"}
	o = diagnose(t, tg, Options{})
	c, _ := o.rep.Check(CheckConfig)
	if c.Status != StatusWarn || len(c.Findings) != 2 || c.Findings[1].Code != "notice" {
		t.Fatalf("config check %+v", c)
	}
	expectExit(t, o, 1)
}

// TestQueuesOverTLSWithPassword: the queues check reads through package
// queue on its own connection, dialed with the target's TLS settings and
// credentials: a queue on a TLS server with a password is listed with its
// counts, and the password appears nowhere.
func TestQueuesOverTLSWithPassword(t *testing.T) {
	t.Parallel()
	const pw = "tls-queues-Pa55-x9"
	s := redistest.Start(t, &redistest.Options{TLS: true, Password: pw, Args: durable})
	tg := hostTarget(t, s)
	tg.TLS, tg.CAFile, tg.Password = true, s.CAFile, pw
	q, err := queue.NewQueue(s.Client(t), "reports", &queue.QueueOptions{Prefix: tg.QueuePrefix})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if _, err := q.Add(ctx, "r", nil, &queue.AddOptions{Delay: time.Duration(i) * time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	o := diagnose(t, tg, Options{CertExpiryWarning: time.Hour})
	ch, _ := o.rep.Check(CheckQueues)
	data, ok := ch.Data.(*QueuesData)
	if !ok || len(data.Queues) != 1 || !data.WorkersKnown {
		t.Fatalf("queues check %+v", ch)
	}
	if got := data.Queues[0]; got.Name != "reports" || got.Wait != 1 || got.Delayed != 1 || got.OldestWaitingMS < 0 {
		t.Fatalf("reports %+v", got)
	}
	expect(t, o, CheckQueues, StatusWarn, "no_workers")
	if b, _ := json.Marshal(o.rep); strings.Contains(string(b), pw) {
		t.Fatal("the password is in the report")
	}
}
