// Package chaos is the chaos suite: its tests build the real zyeute
// binary, run `serve` and `worker` processes against real redis-servers on
// loopback ports, inject faults (Redis SIGKILL with and without AOF, worker
// SIGKILL, SIGTERM under load, CLIENT PAUSE WRITE, a slow or dropping TCP
// proxy) and count every job end to end: submitted, accepted, completed,
// lost and run more than once.
//
// `go test ./chaos/` runs the short version (a few hundred jobs per fault);
// CHAOS_FULL=1 runs the full one (10 000 jobs for the Redis kill). `make
// chaos` runs the full suite and prints the table; RELIABILITY.md records
// it.
//
// Executions are counted outside Redis, from the workers' own log: with
// LOG_LEVEL=debug the job pool writes "[Jobs] job started" just before each
// handler run and "[Jobs] job completed" once Redis has recorded the
// completion. A synchronous (inline) run is known from the HTTP answer
// (mode "sync"). Every job carries a custom id (opts.job_id), so a job that
// runs both inline and from the queue is seen as one job run twice.
package chaos
