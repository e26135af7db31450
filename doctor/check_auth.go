package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// AuthData is the Data of the authentication check.
type AuthData struct {
	User string `json:"user"`
	DB   int    `json:"db"`
}

// ClientName is the connection name doctor sets (CLIENT SETNAME), so that it
// is recognisable in CLIENT LIST and never counted as a worker.
const ClientName = "zyeute-doctor"

func (d *diag) checkAuth(ctx context.Context, c *Check) string {
	rc, err := d.dialServer(ctx)
	if err != nil {
		code, msg, fix := classifyDial(d.server, err, d.o.CheckTimeout)
		add(c, code, StatusFail, msg, fix)
		return "no connection"
	}
	t := d.t
	passVar := "REDIS_PASSWORD"
	userVar := "REDIS_USERNAME"
	creds := "REDIS_USERNAME and REDIS_PASSWORD"
	if t.Source == SourceURL {
		passVar = "the password in REDIS_URL (redis://default:PASSWORD@host:port)"
		userVar = "the user in REDIS_URL"
		creds = "the user and password in REDIS_URL (redis://USER:PASSWORD@host:port)"
	}
	user := t.Username
	if user == "" {
		user = "default"
	}
	fail := func(code, msg, fix string) string {
		_ = rc.Close()
		add(c, code, StatusFail, msg, fix)
		return "not authenticated"
	}
	if t.Password != "" {
		args := []string{"AUTH", t.Password}
		if t.Username != "" {
			args = []string{"AUTH", t.Username, t.Password}
		}
		_, err := rc.do(ctx, args...)
		var re redisError
		switch {
		case err == nil:
		case errors.As(err, &re) && re.code() == "WRONGPASS":
			return fail("wrongpass", fmt.Sprintf("WRONGPASS: the server rejected the password for user %q (or the user is disabled)", user),
				"check "+creds+"; managed services (Redis Cloud, Upstash, ElastiCache, Azure) usually use the user \"default\";\n"+
					"in REDIS_URL percent-encode special characters of the password (@ → %40, / → %2F, : → %3A)")
		case errors.As(err, &re) && strings.Contains(string(re), "without any password configured"),
			errors.As(err, &re) && strings.Contains(string(re), "no password is set"):
			return fail("password_not_required", "a password is configured but the server has none (AUTH is refused)",
				"remove "+passVar+", or set a password on the server (requirepass or ACL SETUSER default on >password)")
		case errors.As(err, &re) && strings.Contains(strings.ToLower(string(re)), "invalid password"):
			return fail("wrongpass", "the server rejected the password (invalid password)", "check "+passVar)
		case errors.As(err, &re) && strings.Contains(string(re), "wrong number of arguments"):
			return fail("acl_unsupported", "the server is older than Redis 6 and has no ACL users: AUTH with a user name is refused",
				"remove "+userVar+" and use the password alone")
		default:
			return d.connFail(c, rc, err)
		}
	}
	_, err = rc.do(ctx, "PING")
	var re redisError
	switch {
	case err == nil:
	case errors.As(err, &re) && re.code() == "NOAUTH":
		return fail("noauth", "NOAUTH: the server requires a password and none is configured",
			"set "+passVar+" (and "+userVar+" when your provider gives you a user other than \"default\")")
	default:
		return d.connFail(c, rc, err)
	}
	if t.DB != 0 {
		if _, err := rc.do(ctx, "SELECT", strconv.Itoa(t.DB)); err != nil {
			return fail("db", fmt.Sprintf("cannot select database %d: %s", t.DB, firstLine(err.Error())),
				"use a database the server has (0–15 by default; managed and cluster servers allow only 0): REDIS_DB or the /db of REDIS_URL")
		}
	}
	if v, err := rc.do(ctx, "ACL", "WHOAMI"); err == nil {
		if s := asString(v); s != "" {
			user = s
		}
	}
	_, _ = rc.do(ctx, "CLIENT", "SETNAME", ClientName)
	d.conn, d.user = rc, user
	c.Data = AuthData{User: user, DB: t.DB}
	if t.Password == "" {
		if isLoopback(d.server.Host) {
			add(c, "no_password", StatusOK, "connected without a password (the server does not require one; loopback only)", "")
		} else {
			add(c, "no_password", StatusWarn, "the server accepts connections without a password: anyone who reaches the port can read and delete the queues",
				"set a password on the server (ACL SETUSER default on >password, or requirepass) and in "+passVar)
		}
		return ""
	}
	add(c, "authenticated", StatusOK, fmt.Sprintf("authenticated as user %q", user), "")
	return ""
}

// connFail reports a non-auth error met while setting up the connection.
func (d *diag) connFail(c *Check, rc *respConn, err error) string {
	_ = rc.Close()
	var re redisError
	if errors.As(err, &re) {
		switch re.code() {
		case "DENIED":
			add(c, "protected_mode", StatusFail, "the server is in protected mode and refuses remote clients without a password",
				"set a password on the server (requirepass) or bind it to the right interface; see the DENIED message in redis.log")
			return "not authenticated"
		case "LOADING":
			add(c, "loading", StatusFail, "the server is loading its dataset into memory", "wait until loading completes and run doctor again")
			return "the server is loading"
		case "NOPERM":
			add(c, "noperm", StatusFail, "the user may not run PING: "+firstLine(string(re)), "give the user at least +ping +@connection")
			return "not authenticated"
		}
		add(c, "redis_error", StatusFail, "the server answered: "+firstLine(string(re)), "see the server's documentation for this error")
		return "not authenticated"
	}
	code, msg, fix := classifyConnErr(d.server, err, d.o.CheckTimeout)
	add(c, code, StatusFail, msg, fix)
	return "no usable connection"
}

// classifyConnErr explains a transport error on an open connection.
func classifyConnErr(e endpoint, err error, timeout time.Duration) (code, msg, fix string) {
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		return "timeout", fmt.Sprintf("%s did not answer within %s", e, timeout),
			"the server is overloaded or blocked (a long script, a full disk), or the network drops packets"
	}
	return "connection_lost", fmt.Sprintf("the connection to %s broke: %v", e, err),
		"check the server's log; a proxy or the server closed the connection"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
