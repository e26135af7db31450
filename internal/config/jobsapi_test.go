package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestHostAndJobsAPI(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Host != "" || c.HTTP.Addr() != ":5000" || c.JobsAPI.Auth != JobsAuthLoopback || c.JobsAPI.Token.IsSet() {
		t.Errorf("defaults: host %q addr %q jobs %+v", c.HTTP.Host, c.HTTP.Addr(), c.JobsAPI)
	}
	for host, addr := range map[string]string{
		"127.0.0.1": "127.0.0.1:5000", "::1": "[::1]:5000", "[::1]": "[::1]:5000", "localhost": "localhost:5000",
		"0.0.0.0": "0.0.0.0:5000", "api.internal": "api.internal:5000",
	} {
		c, err := Load(env(map[string]string{"HOST": host}))
		if err != nil || c.HTTP.Addr() != addr {
			t.Errorf("HOST=%s: %v %v", host, c, err)
		}
	}
	for _, host := range []string{"127.0.0.1:80", "a b", "x/y", "[::1]:5000", "h;rm"} {
		_, err := Load(env(map[string]string{"HOST": host}))
		var ve *VarError
		if !errors.As(err, &ve) || ve.Var != "HOST" {
			t.Errorf("HOST=%q: %v", host, err)
		}
	}

	const token = "jobs-token-0123456789abcdef"
	c, err = Load(env(map[string]string{"JOBS_API_TOKEN": token, "JOBS_API_AUTH": "Token"}))
	if err != nil || c.JobsAPI.Token.Reveal() != token || c.JobsAPI.Auth != JobsAuthToken || len(c.Notices) != 0 {
		t.Fatalf("token config: %+v %v", c, err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("cfg", "config", c)
	b, _ := json.Marshal(c)
	assertNoSecret(t, token, fmt.Sprintf("%v %+v %#v", c, *c, *c), buf.String(), string(b))

	for _, tt := range []struct {
		vars map[string]string
		bad  string
	}{
		{map[string]string{"JOBS_API_AUTH": "token"}, "JOBS_API_AUTH"},
		{map[string]string{"JOBS_API_AUTH": "open"}, "JOBS_API_AUTH"},
	} {
		_, err := Load(env(tt.vars))
		var ve *VarError
		if !errors.As(err, &ve) || ve.Var != tt.bad {
			t.Errorf("%v: %v", tt.vars, err)
		}
	}
	// token mode with only ADMIN_TOKEN is fine; none and a short token warn.
	if _, err := Load(env(map[string]string{"JOBS_API_AUTH": "token", "ADMIN_TOKEN": "admin-token-0123456789"})); err != nil {
		t.Error(err)
	}
	c, err = Load(env(map[string]string{"JOBS_API_AUTH": "none", "JOBS_API_TOKEN": "short1"}))
	if err != nil || len(c.Notices) != 2 || !strings.Contains(strings.Join(c.Notices, "\n"), "JOBS_API_AUTH=none") {
		t.Errorf("notices %q %v", c.Notices, err)
	}
	assertNoSecret(t, "short1", c.Notices...)
}
