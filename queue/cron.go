package queue

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A small cron evaluator with cron-parser 5's semantics (the library
// BullMQ 6.7.0 uses for `pattern` schedulers) for the common syntax: 5
// fields (seconds = 0) or 6 fields (seconds first); `*` and `?`; numbers;
// month and weekday names; ranges `a-b`; steps `*/n`, `a-b/n`, `a/n` (a to
// the field's maximum); lists; weekday 7 = Sunday; the @yearly … @weekends
// aliases. Day of month and day of week combine as in cron-parser: when
// both are restricted either may match. Not supported (errBadCron): `L`,
// `W`, `#`, `H`. Around DST transitions the result may differ from
// cron-parser's.

var errBadCron = errors.New("unsupported cron pattern")

type cronSpec struct {
	sec, min, hour, dom, month, dow [64]bool
	domWild, dowWild                bool
}

var cronAliases = map[string]string{
	"@yearly": "0 0 0 1 1 *", "@annually": "0 0 0 1 1 *", "@monthly": "0 0 0 1 * *",
	"@weekly": "0 0 0 * * 0", "@daily": "0 0 0 * * *", "@hourly": "0 0 * * * *",
	"@minutely": "0 * * * * *", "@secondly": "* * * * * *", "@weekdays": "0 0 0 * * 1-5",
	"@weekends": "0 0 0 * * 0,6",
}

var cronNames = map[string]int{
	"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10,
	"nov": 11, "dec": 12, "sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6,
}

func parseCron(expr string) (*cronSpec, error) {
	if a, ok := cronAliases[expr]; ok {
		expr = a
	}
	if expr == "" {
		expr = "0 * * * * *"
	}
	f := strings.Fields(expr)
	if len(f) > 6 || len(f) == 0 {
		return nil, fmt.Errorf("%w: %q has %d fields", errBadCron, expr, len(f))
	}
	f = append([]string{"0", "*", "*", "*", "*", "*"}[:6-len(f)], f...)
	c := &cronSpec{domWild: f[3] == "*" || f[3] == "?", dowWild: f[5] == "*" || f[5] == "?"}
	specs := []struct {
		dst      *[64]bool
		min, max int
		names    bool
	}{
		{&c.sec, 0, 59, false}, {&c.min, 0, 59, false}, {&c.hour, 0, 23, false},
		{&c.dom, 1, 31, false}, {&c.month, 1, 12, true}, {&c.dow, 0, 7, true},
	}
	for i, s := range specs {
		if err := parseCronField(f[i], s.min, s.max, s.names, s.dst); err != nil {
			return nil, fmt.Errorf("%w: %q: %v", errBadCron, expr, err)
		}
	}
	if c.dow[7] {
		c.dow[0] = true
	}
	return c, nil
}

func parseCronField(field string, lo, hi int, names bool, dst *[64]bool) error {
	num := func(s string) (int, error) {
		if names {
			if n, ok := cronNames[strings.ToLower(s)]; ok {
				return n, nil
			}
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, fmt.Errorf("bad value %q", s)
		}
		return n, nil
	}
	for _, part := range strings.Split(field, ",") {
		rng, stepS, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepS)
			if err != nil || n < 1 {
				return fmt.Errorf("bad step %q", part)
			}
			step = n
		}
		var a, b int
		switch {
		case rng == "*" || rng == "?":
			a, b = lo, hi
		case strings.Contains(rng, "-"):
			x, y, _ := strings.Cut(rng, "-")
			var err error
			if a, err = num(x); err != nil {
				return err
			}
			if b, err = num(y); err != nil {
				return err
			}
		default:
			n, err := num(rng)
			if err != nil {
				return err
			}
			a, b = n, n
			if hasStep {
				b = hi
			}
		}
		if a < lo || b > hi || a > b {
			return fmt.Errorf("range %q outside %d-%d", part, lo, hi)
		}
		for v := a; v <= b; v += step {
			dst[v] = true
		}
	}
	return nil
}

func (c *cronSpec) dayMatches(t time.Time) bool {
	dom := c.dom[t.Day()]
	dow := c.dow[int(t.Weekday())]
	switch {
	case !c.domWild && !c.dowWild:
		return dom || dow
	case !c.domWild:
		return dom
	case !c.dowWild:
		return dow
	}
	return true
}

// next returns the first matching time strictly after from (sub-second
// parts round up to the next second), within 10000 steps as cron-parser.
func (c *cronSpec) next(from time.Time, loc *time.Location) (time.Time, bool) {
	t := from.In(loc)
	if t.Nanosecond() > 0 {
		t = t.Truncate(time.Second).Add(time.Second)
	}
	start := from
	for i := 0; i < 10000; i++ {
		y, mo, d := t.Date()
		h, mi, s := t.Clock()
		var nt time.Time
		var unit time.Duration
		switch {
		case !c.month[int(mo)]:
			nt, unit = time.Date(y, mo+1, 1, 0, 0, 0, 0, loc), 24*time.Hour
		case !c.dayMatches(t):
			nt, unit = time.Date(y, mo, d+1, 0, 0, 0, 0, loc), time.Hour
		case !c.hour[h] && !c.dstLanding(t):
			nt, unit = time.Date(y, mo, d, h+1, 0, 0, 0, loc), time.Hour
		case !c.min[mi]:
			nt, unit = time.Date(y, mo, d, h, mi+1, 0, 0, loc), time.Minute
		case !c.sec[s] || t.Equal(start):
			nt, unit = t.Add(time.Second), time.Second
		default:
			return t, true
		}
		if !nt.After(t) { // a DST fold sent the wall clock back: step instead
			nt = t.Add(unit)
		}
		t = nt.In(loc)
	}
	return time.Time{}, false
}

// dstLanding: t is in the first hour after a spring-forward gap and one
// of the skipped wall-clock hours is scheduled; cron-parser runs such a
// job in the landing hour instead of skipping the day.
func (c *cronSpec) dstLanding(t time.Time) bool {
	before := t.Add(-time.Hour).In(t.Location())
	_, o1 := t.Zone()
	_, o0 := before.Zone()
	if o1 <= o0 {
		return false // no gap just behind t
	}
	h, prev := t.Hour(), before.Hour()
	for sk, n := (prev+1)%24, 0; sk != h && n < 24; sk, n = (sk+1)%24, n+1 {
		if c.hour[sk] {
			return true
		}
	}
	return false
}

var (
	cronCacheMu sync.Mutex
	cronCache   = map[string]*cronSpec{}
)

// cronNextMs is the next run of pattern in tz ("" = the local zone) after
// fromMs, or ok = false when none comes before endMs.
func cronNextMs(pattern, tz string, fromMs, endMs int64) (int64, bool, error) {
	cronCacheMu.Lock()
	c, ok := cronCache[pattern]
	cronCacheMu.Unlock()
	if !ok {
		var err error
		if c, err = parseCron(pattern); err != nil {
			return 0, false, err
		}
		cronCacheMu.Lock()
		if len(cronCache) > 1000 {
			clear(cronCache)
		}
		cronCache[pattern] = c
		cronCacheMu.Unlock()
	}
	loc := time.Local
	if tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil {
			return 0, false, fmt.Errorf("%w: time zone %q: %v", errBadCron, tz, err)
		}
		loc = l
	}
	from := time.UnixMilli(min(fromMs, endMs))
	n, ok := c.next(from, loc)
	if !ok || n.UnixMilli() > endMs {
		return 0, false, nil
	}
	return n.UnixMilli(), true, nil
}
