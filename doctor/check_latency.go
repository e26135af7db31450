package doctor

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// LatencyData is the Data of the latency check, in milliseconds.
type LatencyData struct {
	Count    int     `json:"count"`
	MinMS    float64 `json:"min_ms"`
	MedianMS float64 `json:"median_ms"`
	MaxMS    float64 `json:"max_ms"`
}

// SlowMedian is the median PING round trip above which the latency check
// warns: a job costs several round trips (fetch, lock renewals, finish).
const SlowMedian = 50 * time.Millisecond

func (d *diag) checkLatency(ctx context.Context, c *Check) string {
	samples := make([]time.Duration, 0, d.o.Pings)
	for i := 0; i < d.o.Pings; i++ {
		t0 := time.Now()
		if _, err := d.conn.do(ctx, "PING"); err != nil {
			if len(samples) > 0 {
				break
			}
			code, msg, fix := classifyConnErr(d.server, err, d.o.CheckTimeout)
			add(c, code, StatusFail, msg, fix)
			return ""
		}
		samples = append(samples, time.Since(t0))
	}
	slices.Sort(samples)
	median := samples[len(samples)/2]
	if len(samples)%2 == 0 {
		median = (samples[len(samples)/2-1] + samples[len(samples)/2]) / 2
	}
	data := LatencyData{Count: len(samples), MinMS: ms(samples[0]), MedianMS: ms(median), MaxMS: ms(samples[len(samples)-1])}
	c.Data = data
	msg := fmt.Sprintf("%d PINGs: min %.2f ms, median %.2f ms, max %.2f ms", data.Count, data.MinMS, data.MedianMS, data.MaxMS)
	if len(samples) < d.o.Pings {
		msg += fmt.Sprintf(" (%d of %d answered before the check timeout)", len(samples), d.o.Pings)
	}
	if median > SlowMedian {
		add(c, "latency_high", StatusWarn, msg+": every job costs several round trips",
			"run the service in the same region/network as Redis; a cross-region link adds tens of ms per command")
		return ""
	}
	add(c, "latency", StatusOK, msg, "")
	return ""
}
