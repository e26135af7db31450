package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
)

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
