// Package queue is a Go implementation of BullMQ 6.7.0's Redis protocol: a
// producer, a worker, an events follower and admin operations that share
// queues with Node BullMQ in both directions, key for key.
//
// # Compatibility promise
//
// Everything this package writes is what Node BullMQ 6.7.0 writes for the
// same operation: the same keys ("<prefix>:<queue>:<suffix>", prefix
// "bull" by default, a Cluster hash tag kept as given), the same job hash
// fields, scores, markers, locks, counters and events stream entries. A job
// added by Go is run by a Node worker and the other way round; Node's
// Queue, QueueEvents, getters and admin tools (Bull Board) read what Go
// wrote. Each operation is checked against the real Node library by the
// interop tests of this repository. The Lua scripts in lua/ are our own.
//
// # Producer
//
// A Queue adds jobs (Add, AddBulk, with AddOptions: custom id, delay,
// priority, LIFO, attempts and backoff, retention, deduplication),
// administers the queue (Pause, Resume, SetGlobalConcurrency,
// SetGlobalRateLimit), reads it (GetJob, GetState, GetJobs, GetJobCounts,
// GetJobLogs, GetWorkers, GetMetrics) and moves or removes jobs (RetryJobs,
// PromoteJobs, Remove, RemoveJobEvents, Drain, Clean, Obliterate, RateLimit).
// A Job read from the queue can be changed (UpdateData, ChangePriority,
// ChangeDelay, Promote, Retry, Remove with or without its flow children)
// and a flow parent read (GetChildrenValues, GetIgnoredChildrenFailures,
// GetDependencies).
//
// # Worker
//
// A Worker runs a Handler for each job, Concurrency at a time, renewing
// locks and recovering stalled jobs (Node's or Go's). It honours the
// queue's pause, global concurrency and rate limits, retries with backoff,
// and fails jobs for good with Unrecoverable; a handler can rate-limit the
// queue (Worker.RateLimit, then return RateLimitError). Close waits for
// running jobs until its context ends. A Worker built without a Handler
// processes by hand: GetNextJob, Job.ExtendLock, Job.MoveToCompleted,
// Job.MoveToFailed. Finishes that queue up while one is in flight go to
// Redis together in one script call (group commit), each job's effects
// and events as if alone. With WorkerOptions.Metrics it records the
// per-minute completed/failed counts Node's `metrics` option records
// (docs/metrics-recording.md).
//
// # Events
//
// QueueEvents follows a queue's events stream (XREAD BLOCK on a connection
// of its own, resuming after the last entry read when the connection
// breaks) and delivers typed Events to Subscriptions, decoded as Node's
// QueueEvents decodes them. Job.WaitUntilFinished uses it to wait for a
// job's result.
//
// # Flows and job schedulers
//
// A FlowProducer adds flows (Add, AddBulk): trees of jobs across queues,
// a parent waiting in waiting-children until its children finish, with
// the failure policies failParentOnFailure, ignoreDependencyOnFailure,
// continueParentOnFailure, removeDependencyOnFailure; the whole tree is
// stored in one atomic script call. GetFlow reads a tree back. Go workers
// run flows whoever made them.
//
// Queue.UpsertJobScheduler creates or replaces a job scheduler (every or
// cron pattern, time zone, limit, start and end dates, a job template);
// GetJobScheduler, GetJobSchedulers, GetJobSchedulersCount read them and
// RemoveJobScheduler removes one. Workers, Node or Go, keep every
// scheduler running, each iteration scheduling the next.
//
// # Not supported
//
// Moving jobs by hand to delayed or waiting-children (Node's moveToDelayed,
// moveToWaitingChildren, DelayedError, WaitingChildrenError), a blocking
// GetNextJob, getDependenciesCount, Node's per-queue options of a flow
// (queuesOptions), cron patterns with L, W, # or H, sandboxed processors,
// custom backoff strategies and a worker-local pause. The "Not implemented
// yet" list of docs/queues.md is the current account; docs/bullmq-protocol.md
// describes the Redis layout this package writes.
package queue
