package main

import (
	"math"
	"slices"
	"sync"
)

// percentiles of a latency sample, in milliseconds.
type percentiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// nearestRank is the p-th percentile (0 < p ≤ 100) of sorted by the
// nearest-rank method; 0 for an empty sample.
func nearestRank(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	r := int(math.Ceil(p / 100 * float64(len(sorted))))
	r = max(1, min(r, len(sorted)))
	return sorted[r-1]
}

func summarize(sample []float64) *percentiles {
	s := slices.Clone(sample)
	slices.Sort(s)
	p := &percentiles{N: len(s)}
	if len(s) == 0 {
		return p
	}
	p.P50, p.P90, p.P99 = nearestRank(s, 50), nearestRank(s, 90), nearestRank(s, 99)
	p.Max = s[len(s)-1]
	return p
}

// median of v (mean of the two middle values for an even count).
func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// recorder collects latency samples from handler goroutines.
type recorder struct {
	mu sync.Mutex
	v  []float64
}

func newRecorder(n int) *recorder { return &recorder{v: make([]float64, 0, n)} }

func (r *recorder) add(ms float64) {
	r.mu.Lock()
	r.v = append(r.v, ms)
	r.mu.Unlock()
}

func (r *recorder) summary() *percentiles {
	r.mu.Lock()
	defer r.mu.Unlock()
	return summarize(r.v)
}
