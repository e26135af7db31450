// Package interop holds the interoperability suite between the Go queue
// package and the Node npm package bullmq 6.7.0 sharing queues on one Redis.
// Everything is in the tests (interop/*_test.go), which drive the Node peer
// in peer/peer.js and, for crash tests, the Go worker in cmd/goworker. Run it
// with `make interop`; see docs/testing.md, "Interoperability with Node BullMQ 6.7.0".
package interop
