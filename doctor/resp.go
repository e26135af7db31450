package doctor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Doctor talks RESP2 over one raw connection instead of going through the
// shared pooled client: it needs to see every reply and error exactly as the
// server sent it (NOAUTH vs WRONGPASS, QUEUED vs NOPERM inside MULTI), with
// no retries, reconnects or handshakes of its own, and with a deadline on
// every command.
// The queues check is the exception: it reads the BullMQ layout through
// package queue (the one place that knows it), on a go-redis client of its
// own dialed the same way (diag.queueClient).

// Limits on what the reader accepts, so a hostile or broken peer cannot make
// doctor allocate without bound.
const (
	maxBulkLen  = 8 << 20
	maxArrayLen = 1 << 20
	maxDepth    = 8
)

// redisError is an error reply ("-ERR …") from the server.
type redisError string

func (e redisError) Error() string { return string(e) }

// code is the first word of the error ("ERR", "NOAUTH", "WRONGPASS", …).
func (e redisError) code() string {
	s := string(e)
	if i := strings.IndexByte(s, ' '); i > 0 {
		return s[:i]
	}
	return s
}

// respConn is one connection to a Redis server.
type respConn struct {
	c  net.Conn
	br *bufio.Reader
}

func newRespConn(c net.Conn) *respConn {
	return &respConn{c: c, br: bufio.NewReaderSize(c, 32<<10)}
}

func (rc *respConn) Close() error { return rc.c.Close() }

// do sends one command and reads its reply. The deadline is the context's,
// or fallback from now when the context has none.
func (rc *respConn) do(ctx context.Context, args ...string) (any, error) {
	if err := rc.send(ctx, args...); err != nil {
		return nil, err
	}
	return rc.receive(ctx)
}

func (rc *respConn) setDeadline(ctx context.Context) {
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(DefaultCheckTimeout)
	}
	_ = rc.c.SetDeadline(dl)
}

func (rc *respConn) send(ctx context.Context, args ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	rc.setDeadline(ctx)
	var b strings.Builder
	b.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	_, err := io.WriteString(rc.c, b.String())
	return err
}

func (rc *respConn) receive(ctx context.Context) (any, error) {
	rc.setDeadline(ctx)
	v, err := rc.read(0)
	if err != nil {
		return nil, err
	}
	if e, ok := v.(redisError); ok {
		return nil, e
	}
	return v, nil
}

func (rc *respConn) line() (string, error) {
	s, err := rc.br.ReadString('\n')
	if err != nil {
		return "", err
	}
	if len(s) < 2 || s[len(s)-2] != '\r' {
		return "", errors.New("protocol error: line without CRLF")
	}
	return s[:len(s)-2], nil
}

// read returns string, int64, nil, []any or redisError (errors nested in
// arrays stay values).
func (rc *respConn) read(depth int) (any, error) {
	if depth > maxDepth {
		return nil, errors.New("protocol error: reply nested too deeply")
	}
	l, err := rc.line()
	if err != nil {
		return nil, err
	}
	if l == "" {
		return nil, errors.New("protocol error: empty line")
	}
	switch l[0] {
	case '+':
		return l[1:], nil
	case '-':
		return redisError(l[1:]), nil
	case ':':
		n, err := strconv.ParseInt(l[1:], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("protocol error: bad integer")
		}
		return n, nil
	case '$':
		n, err := strconv.Atoi(l[1:])
		if err != nil || n > maxBulkLen {
			return nil, fmt.Errorf("protocol error: bad bulk length")
		}
		if n < 0 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rc.br, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(l[1:])
		if err != nil || n > maxArrayLen {
			return nil, fmt.Errorf("protocol error: bad array length")
		}
		if n < 0 {
			return nil, nil
		}
		out := make([]any, 0, min(n, 1024))
		for i := 0; i < n; i++ {
			v, err := rc.read(depth + 1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("protocol error: unexpected reply type byte 0x%02x", l[0])
}

// pipeline sends every command, then reads every reply; a reply that is an
// error is returned in errs at its index.
func (rc *respConn) pipeline(ctx context.Context, cmds [][]string) (vals []any, errs []error, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	rc.setDeadline(ctx)
	var b strings.Builder
	for _, args := range cmds {
		b.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
		for _, a := range args {
			b.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
		}
	}
	if _, err := io.WriteString(rc.c, b.String()); err != nil {
		return nil, nil, err
	}
	vals = make([]any, len(cmds))
	errs = make([]error, len(cmds))
	for i := range cmds {
		v, err := rc.read(0)
		if err != nil {
			return nil, nil, err
		}
		if e, ok := v.(redisError); ok {
			errs[i] = e
			continue
		}
		vals[i] = v
	}
	return vals, errs, nil
}

func asString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return ""
}

func asInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}

// parseInfo turns an INFO reply into field → value.
func parseInfo(s string) map[string]string {
	m := make(map[string]string)
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimRight(l, "\r")
		if l == "" || l[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[k] = v
		}
	}
	return m
}
