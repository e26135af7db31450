package main

import (
	"net"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Issue 10 item 3 through serve: HOST binds the listener, JOBS_API_TOKEN
// guards the job API (JOBS_API_AUTH=token refuses even loopback clients
// without it), unknown routes answer JSON.
func TestServeHostAndJobsToken(t *testing.T) {
	t.Parallel()
	const jobsToken = "jobs-api-token-0123456789"
	s := startServe(t, map[string]string{"HOST": "127.0.0.1", "JOBS_API_AUTH": "token", "JOBS_API_TOKEN": jobsToken, "WORKERS": "false"})
	body := `{"data":{"user_id":"u1","date":"2026-11-26","videos":[{"video_id":"a","created_at":"2025-11-26T08:00:00Z","views":3}]}}`
	if status, resp := s.call(t, "POST", "/api/jobs/memory-mining", body, ""); status != 401 || !strings.Contains(resp, `"status":401`) {
		t.Errorf("no token: %d %s", status, resp)
	}
	if status, resp := s.call(t, "POST", "/api/jobs/memory-mining", body, jobsToken); status != 200 || !strings.Contains(resp, `"mode":"sync"`) {
		t.Errorf("token: %d %s", status, resp)
	}
	if status, resp := s.call(t, "GET", "/api/nope", "", ""); status != 404 || !strings.Contains(resp, `"status":404`) {
		t.Errorf("unknown route: %d %s", status, resp)
	}
	// Bound to 127.0.0.1 only: another address of this machine refuses.
	u, _ := url.Parse(s.base)
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.To4() == nil {
			continue
		}
		c, err := net.DialTimeout("tcp", net.JoinHostPort(ipn.IP.String(), u.Port()), time.Second)
		if err == nil {
			c.Close()
			t.Errorf("HOST=127.0.0.1 but %s:%s accepts connections", ipn.IP, u.Port())
		}
		break
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	logs := s.stderr.String()
	if !strings.Contains(logs, "127.0.0.1:"+u.Port()) || strings.Contains(logs, jobsToken) {
		t.Errorf("logs (addr missing or token leaked):\n%s", logs)
	}
}
