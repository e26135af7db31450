// Package clustertest runs the service's Redis users (queues, moderation
// cache, sessions, stats, doctor) against a real Redis Cluster started by
// internal/redistest, and kills masters under load (Cluster and Sentinel).
// It has tests only.
package clustertest
