package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
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
