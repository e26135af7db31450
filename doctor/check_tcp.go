package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"
)

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
