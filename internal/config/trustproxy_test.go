package config

import (
	"strings"
	"testing"
)

// TestTrustProxy: TRUST_PROXY is off by default, takes true/false, and
// names itself when it is neither.
func TestTrustProxy(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil || c.HTTP.TrustProxy {
		t.Fatalf("default: %v %v", c.HTTP.TrustProxy, err)
	}
	c, err = Load(env(map[string]string{"TRUST_PROXY": "true"}))
	if err != nil || !c.HTTP.TrustProxy {
		t.Fatalf("true: %v %v", c.HTTP.TrustProxy, err)
	}
	if _, err := Load(env(map[string]string{"TRUST_PROXY": "sometimes"})); err == nil || !strings.Contains(err.Error(), "TRUST_PROXY") {
		t.Fatalf("bad value: %v", err)
	}
}
