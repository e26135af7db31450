// Package jobs is Zyeuté's job layer on top of the BullMQ-compatible queue
// package: the five queues (video-enhancement, analytics, blockchain-sync,
// memory-mining, privacy-audit) with typed, validated payloads and their
// handlers; a Dispatcher that stores jobs in Redis when it is connected and
// runs them synchronously in-process otherwise (degraded mode: nothing
// accepted is lost); a Pool of queue workers; cached, O(number of queues)
// queue statistics; and the HTTP routes for all of it. Admin operations
// (retry, promote, remove, clean…) are the queue package's own.
//
// The real work of each queue belongs to other backend services (video
// transcoder, chain client, warehouse…). Each handler calls a small
// interface (VideoEnhancer, AnalyticsAggregator, ChainSyncer, MemoryMiner,
// PrivacyAuditor) whose default local implementation does honest, bounded,
// deterministic work and says what a production deployment plugs in.
//
// The package is internal on purpose: it is the application's job layer,
// tied to its store and configuration, not a library. The seam for other
// implementations is jobs.RegistryConfig.Handlers, set where the service
// is wired (cmd/zyeute: registryConfig, and the env.registry that tests
// plug in); another module builds its own job layer on the public queue
// package instead.
//
// Delivery is at least once (a job can run twice after a crash or a lost
// connection during an add), so every handler must be idempotent.
package jobs
