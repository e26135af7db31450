// Package doctor diagnoses a Redis setup the way an experienced operator
// would, step by step, and says how to fix each problem: configuration,
// DNS, TCP, TLS (both mismatches and certificate problems), authentication,
// ACL permissions for every command the queues, cache and sessions run,
// server settings (version, maxmemory-policy, persistence, topology),
// latency, and the state of the BullMQ queues under the prefix (counts,
// stalled jobs, age of the oldest waiting job, connected workers), then
// the application database (Target.Database: PostgreSQL reachability,
// version and latency, or the embedded SQLite file; the migration state),
// whatever the Redis checks found.
//
// Diagnose returns the findings; Run prints them (text or JSON) and returns
// the exit code: 0 when every check passes, 1 with warnings, 2 with
// failures. Each check has its own timeout and the whole run a deadline, so
// doctor finishes within seconds whatever the network does. Checks that
// depend on a failed one are reported as skipped, with the reason.
//
// Doctor only reads: the permission check uses ACL DRYRUN, or queues the
// commands inside MULTI and discards them, so nothing runs. The password is
// never printed.
package doctor
