package doctor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Key prefixes of the other subsystems, as their packages define them.
const (
	moderationKeyPrefix = "zyeute:moderation:v1:"
	sessionKeyPrefix    = "zyeute:session:"
)

// permCmd is one command the application runs, with sample arguments whose
// keys sit where the application's keys do.
type permCmd struct {
	name string // as shown: "SCRIPT LOAD"
	acl  string // ACL rule name: "script|load"
	used string // who needs it
	args []string
	// keyPattern is the ACL key pattern that covers the sample key.
	keyPattern string
}

func requiredCommands(prefix string) []permCmd {
	q := prefix + ":doctor-probe"
	q2 := prefix + ":doctor-probe:2"
	qp := prefix + ":*"
	m := moderationKeyPrefix + "doctor-probe"
	s := sessionKeyPrefix + "doctor-probe"
	const scriptSHA = "e0e1f9fabfc9d4800c877a703b823ac0578ff8db" // sha1("return 1")
	queue := func(name, acl string, args ...string) permCmd {
		return permCmd{name: name, acl: acl, used: "queues", args: args, keyPattern: qp}
	}
	cmds := []permCmd{
		queue("EVAL", "eval", "EVAL", "return 1", "1", q),
		queue("EVALSHA", "evalsha", "EVALSHA", scriptSHA, "1", q),
		queue("SCRIPT LOAD", "script|load", "SCRIPT", "LOAD", "return 1"),
		queue("BZPOPMIN", "bzpopmin", "BZPOPMIN", q, "1"),
		queue("XADD", "xadd", "XADD", q, "*", "f", "v"),
		queue("XREAD", "xread", "XREAD", "COUNT", "1", "STREAMS", q, "0"),
		queue("XTRIM", "xtrim", "XTRIM", q, "MAXLEN", "~", "10"),
		queue("ZADD", "zadd", "ZADD", q, "1", "m"),
		queue("ZPOPMIN", "zpopmin", "ZPOPMIN", q),
		queue("ZRANGEBYSCORE", "zrangebyscore", "ZRANGEBYSCORE", q, "0", "1"),
		queue("ZREM", "zrem", "ZREM", q, "m"),
		queue("ZCARD", "zcard", "ZCARD", q),
		queue("LPUSH", "lpush", "LPUSH", q, "v"),
		queue("RPOPLPUSH", "rpoplpush", "RPOPLPUSH", q, q2),
		queue("LREM", "lrem", "LREM", q, "0", "v"),
		queue("LPOS", "lpos", "LPOS", q, "v"),
		queue("LLEN", "llen", "LLEN", q),
		queue("LRANGE", "lrange", "LRANGE", q, "0", "1"),
		queue("HSET", "hset", "HSET", q, "f", "v"),
		queue("HGETALL", "hgetall", "HGETALL", q),
		queue("HINCRBY", "hincrby", "HINCRBY", q, "f", "1"),
		queue("SADD", "sadd", "SADD", q, "m"),
		queue("SREM", "srem", "SREM", q, "m"),
		queue("INCR", "incr", "INCR", q),
		queue("PEXPIRE", "pexpire", "PEXPIRE", q, "1000"),
		queue("CLIENT SETNAME", "client|setname", "CLIENT", "SETNAME", "doctor"),
		queue("INFO", "info", "INFO"),
		queue("PING", "ping", "PING"),
		{name: "SET PX", acl: "set", used: "moderation cache", args: []string{"SET", m, "v", "PX", "1000"}, keyPattern: moderationKeyPrefix + "*"},
		{name: "GET", acl: "get", used: "moderation cache", args: []string{"GET", m}, keyPattern: moderationKeyPrefix + "*"},
		{name: "SET PX", acl: "set", used: "sessions", args: []string{"SET", s, "v", "PX", "1000"}, keyPattern: sessionKeyPrefix + "*"},
		{name: "GET", acl: "get", used: "sessions", args: []string{"GET", s}, keyPattern: sessionKeyPrefix + "*"},
		{name: "PEXPIRE", acl: "pexpire", used: "sessions", args: []string{"PEXPIRE", s, "1000"}, keyPattern: sessionKeyPrefix + "*"},
		{name: "DEL", acl: "del", used: "sessions", args: []string{"DEL", s}, keyPattern: sessionKeyPrefix + "*"},
		queue("DEL", "del", "DEL", q),
	}
	return cmds
}

// PermissionsData is the Data of the permissions check.
type PermissionsData struct {
	User string `json:"user"`
	// Method is "acl dryrun" (Redis ≥ 7) or "multi probe" (commands queued
	// inside MULTI and discarded: nothing runs).
	Method  string   `json:"method"`
	Checked int      `json:"checked"`
	Denied  []Denial `json:"denied,omitempty"`
	Unknown []string `json:"unknown,omitempty"`
}

// Denial is one command the user may not run.
type Denial struct {
	Command string `json:"command"`
	UsedBy  string `json:"used_by"`
	Reason  string `json:"reason"`
	// Key is true when the command is allowed but the key is not.
	Key bool `json:"key"`
}

type permResult int

const (
	permAllowed permResult = iota
	permDenied
	permUnknownCmd
	permUnverified
)

func (d *diag) checkPermissions(ctx context.Context, c *Check) string {
	cmds := requiredCommands(d.t.QueuePrefix)
	data := PermissionsData{User: d.user, Checked: len(cmds)}
	results, reasons, method, err := d.dryRun(ctx, cmds)
	if err != nil {
		results, reasons, method, err = d.multiProbe(ctx, cmds)
	}
	if err != nil {
		var re redisError
		if errors.As(err, &re) {
			add(c, "unverified", StatusWarn, "could not verify the user's permissions: neither ACL DRYRUN nor MULTI is allowed ("+firstLine(string(re))+")",
				"as an admin run ACL GETUSER "+d.user+" and check the commands listed in docs/operations.md (zyeute doctor, 6. Permissions)")
			return ""
		}
		code, msg, fix := classifyConnErr(d.server, err, d.o.CheckTimeout)
		add(c, code, StatusFail, msg, fix)
		return ""
	}
	data.Method = method
	c.Data = &data

	var deniedCmds, deniedNames, unknown []string
	var keyPatterns []string
	var unverified int
	usedBy := map[string]bool{}
	for i, r := range results {
		cm := cmds[i]
		switch r {
		case permDenied:
			isKey := strings.Contains(reasons[i], "access the") || strings.Contains(reasons[i], "key")
			data.Denied = append(data.Denied, Denial{Command: cm.name, UsedBy: cm.used, Reason: reasons[i], Key: isKey})
			usedBy[cm.used] = true
			if isKey {
				if !slices.Contains(keyPatterns, cm.keyPattern) {
					keyPatterns = append(keyPatterns, cm.keyPattern)
				}
			} else if !slices.Contains(deniedCmds, cm.acl) {
				deniedCmds = append(deniedCmds, cm.acl)
				deniedNames = append(deniedNames, cm.name)
			}
		case permUnknownCmd:
			if !slices.Contains(unknown, cm.name) {
				unknown = append(unknown, cm.name)
			}
		case permUnverified:
			unverified++
		}
	}
	data.Unknown = unknown
	how := "ACL DRYRUN"
	if method == "multi probe" {
		how = "queued in MULTI and discarded, nothing ran"
	}
	if len(data.Denied) == 0 && len(unknown) == 0 {
		msg := fmt.Sprintf("user %q may run all %d commands the queues, cache and sessions need (%s)", d.user, len(cmds), how)
		if unverified > 0 {
			msg += fmt.Sprintf("; %d could not be verified", unverified)
		}
		add(c, "allowed", StatusOK, msg, "")
		return ""
	}
	if len(deniedCmds) > 0 {
		var users []string
		for u := range usedBy {
			users = append(users, u)
		}
		slices.Sort(users)
		var plus []string
		for _, a := range deniedCmds {
			plus = append(plus, "+"+a)
		}
		add(c, "commands_denied", StatusFail,
			fmt.Sprintf("user %q may not run %s (%s): %s will fail with NOPERM", d.user, strings.Join(deniedNames, ", "), how, strings.Join(users, " and ")),
			fmt.Sprintf("ACL SETUSER %s %s\n(then ACL SAVE when the server uses an aclfile; on a managed service, edit the user's ACL in its console)",
				d.user, strings.Join(plus, " ")))
	}
	if len(keyPatterns) > 0 {
		var tilde []string
		for _, p := range keyPatterns {
			tilde = append(tilde, "~"+p)
		}
		add(c, "keys_denied", StatusFail,
			fmt.Sprintf("user %q may not access the keys %s", d.user, strings.Join(keyPatterns, ", ")),
			fmt.Sprintf("ACL SETUSER %s %s", d.user, strings.Join(tilde, " ")))
	}
	if len(unknown) > 0 {
		add(c, "commands_unknown", StatusFail,
			fmt.Sprintf("the server does not know %s: renamed or disabled (rename-command), or the server is too old", strings.Join(unknown, ", ")),
			"use a Redis ≥ 6.2 where these commands are enabled")
	}
	return ""
}

// dryRun asks ACL DRYRUN (Redis ≥ 7) about every command. An error means
// DRYRUN is not available to this user or server.
func (d *diag) dryRun(ctx context.Context, cmds []permCmd) ([]permResult, []string, string, error) {
	if _, err := d.conn.do(ctx, "ACL", "DRYRUN", d.user, "PING"); err != nil {
		return nil, nil, "", err
	}
	batch := make([][]string, len(cmds))
	for i, cm := range cmds {
		batch[i] = append([]string{"ACL", "DRYRUN", d.user}, cm.args...)
	}
	vals, errs, err := d.conn.pipeline(ctx, batch)
	if err != nil {
		return nil, nil, "", err
	}
	res, reasons := classifyReplies(len(cmds), vals, errs, "OK", func(v any) (permResult, string) {
		return permDenied, asString(v)
	})
	return res, reasons, "acl dryrun", nil
}

// multiProbe queues every command inside MULTI and discards the
// transaction: Redis checks ACLs (and whether the command exists) when it
// queues, and DISCARD guarantees nothing runs. Works on every Redis ≥ 6
// for any user allowed MULTI; on Redis 5 it finds disabled commands.
func (d *diag) multiProbe(ctx context.Context, cmds []permCmd) ([]permResult, []string, string, error) {
	// MULTI alone first: if it were refused, the commands would run for real.
	v, err := d.conn.do(ctx, "MULTI")
	if err != nil {
		return nil, nil, "", err
	}
	if asString(v) != "OK" {
		return nil, nil, "", fmt.Errorf("unexpected MULTI reply")
	}
	batch := make([][]string, 0, len(cmds)+1)
	for _, cm := range cmds {
		batch = append(batch, cm.args)
	}
	batch = append(batch, []string{"DISCARD"})
	vals, errs, err := d.conn.pipeline(ctx, batch)
	if err != nil {
		// The connection is in an unknown state; drop it.
		_ = d.conn.Close()
		d.conn = nil
		return nil, nil, "", err
	}
	res, reasons := classifyReplies(len(cmds), vals, errs, "QUEUED", func(any) (permResult, string) {
		return permUnverified, ""
	})
	return res, reasons, "multi probe", nil
}

func classifyProbeErr(err error) (permResult, string) {
	var re redisError
	if !errors.As(err, &re) {
		return permUnverified, err.Error()
	}
	s := string(re)
	low := strings.ToLower(s)
	switch {
	case re.code() == "NOPERM":
		return permDenied, strings.TrimPrefix(s, "NOPERM ")
	case strings.Contains(low, "unknown command"), strings.Contains(low, "command '") && strings.Contains(low, "not found"),
		strings.Contains(low, "unknown subcommand"):
		return permUnknownCmd, s
	}
	// Syntax, arity, MOVED, CROSSSLOT…: not a permission problem.
	return permUnverified, s
}

// classifyReplies maps the first n probe replies: an error is classified by
// classifyProbeErr, the reply ok means allowed, anything else goes to other.
func classifyReplies(n int, vals []any, errs []error, ok string, other func(v any) (permResult, string)) ([]permResult, []string) {
	res := make([]permResult, n)
	reasons := make([]string, n)
	for i := 0; i < n; i++ {
		switch {
		case errs[i] != nil:
			res[i], reasons[i] = classifyProbeErr(errs[i])
		case asString(vals[i]) == ok:
			res[i] = permAllowed
		default:
			res[i], reasons[i] = other(vals[i])
		}
	}
	return res, reasons
}
