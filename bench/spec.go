package main

import (
	"encoding/json"
	"fmt"
	"time"
)

// Implementations under test. The order is the interleaving order of a
// repetition: ours, then BullMQ, then asynq, for every scenario.
const (
	implOurs   = "ours"
	implBullMQ = "bullmq"
	implAsynq  = "asynq"
)

// Scenario kinds. A child process runs exactly one scenario.
const (
	kindAddSerial = "add-serial" // one add at a time, awaited
	kindAddBulk   = "add-bulk"   // batches (or 50 goroutines for asynq)
	kindProcess   = "process"    // drain N pre-filled jobs with a no-op handler
	kindLatency   = "latency"    // open-loop adds at a fixed rate, latency per job
	kindIdle      = "idle"       // a worker waiting on an empty queue
)

// spec is what the orchestrator hands a child: one run of one scenario by
// one implementation. The Node child reads the same JSON.
type spec struct {
	Impl        string  `json:"impl"`
	Kind        string  `json:"kind"`
	Addr        string  `json:"addr"`  // redis host:port, loopback
	Queue       string  `json:"queue"` // queue name
	N           int     `json:"n"`     // jobs
	Concurrency int     `json:"concurrency,omitempty"`
	Remove      bool    `json:"remove,omitempty"`     // remove completed jobs
	Chunk       int     `json:"chunk,omitempty"`      // bulk chunk size
	Producers   int     `json:"producers,omitempty"`  // asynq bulk goroutines
	Rate        float64 `json:"rate,omitempty"`       // jobs/s for latency
	SettleMs    int     `json:"settle_ms,omitempty"`  // idle: wait after start before ready
	TimeoutMs   int     `json:"timeout_ms"`           // the whole child run
	SlowRedis   bool    `json:"slow_redis,omitempty"` // cost mode: the server runs under valgrind
	CPUProfile  string  `json:"cpuprofile,omitempty"`
	MemProfile  string  `json:"memprofile,omitempty"`
}

func (s spec) timeout() time.Duration { return time.Duration(s.TimeoutMs) * time.Millisecond }

func (s spec) validate() error {
	switch {
	case s.Addr == "" || s.Queue == "":
		return fmt.Errorf("spec: addr and queue are required")
	case s.N < 0 || s.TimeoutMs <= 0:
		return fmt.Errorf("spec: n must be ≥ 0 and timeout_ms > 0")
	}
	switch s.Kind {
	case kindAddSerial, kindIdle:
	case kindAddBulk:
		if s.Chunk <= 0 || s.Producers <= 0 {
			return fmt.Errorf("spec: add-bulk needs chunk and producers")
		}
	case kindProcess, kindLatency:
		if s.Concurrency <= 0 {
			return fmt.Errorf("spec: %s needs concurrency", s.Kind)
		}
		if s.Kind == kindLatency && s.Rate <= 0 {
			return fmt.Errorf("spec: latency needs rate")
		}
	default:
		return fmt.Errorf("spec: unknown kind %q", s.Kind)
	}
	return nil
}

// Child protocol, one JSON object per stdout line:
//
//	child → {"phase":"ready"}             setup done (pre-fill, worker built)
//	parent → "go"                         start the measured part
//	child → {"phase":"done", ...}         measured part over, result attached
//	parent → "verify"                     (after its INFO snapshot)
//	child → {"phase":"verified", ...}     correctness check
//	parent → "exit"                       close and exit 0
//
// For idle runs the parent sends "verify" right after its measuring window
// and never sends "go".
type message struct {
	Phase string `json:"phase"`

	// done
	ElapsedS  float64      `json:"elapsed_s,omitempty"`
	Processed int          `json:"processed,omitempty"`   // jobs completed (process, latency)
	Added     int          `json:"added,omitempty"`       // jobs added (add kinds, latency)
	Pickup    *percentiles `json:"pickup_ms,omitempty"`   // add → handler start
	Complete  *percentiles `json:"complete_ms,omitempty"` // add → completion acknowledged

	// verified
	OK     bool   `json:"ok,omitempty"`
	Detail string `json:"detail,omitempty"`

	Error string `json:"error,omitempty"`
}

func (m message) line() []byte {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // plain struct: cannot happen
	}
	return append(b, '\n')
}
