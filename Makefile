# Zyeuté Redis layer. `make help` lists the targets.
GO ?= go
PKGS ?= ./...
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: help run build test lint interop bench bench-cost bench-go deps chaos fuzz-short

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

run: ## run the service (works with no Redis configured: degraded mode)
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/zyeute serve

build: ## build bin/zyeute
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/zyeute ./cmd/zyeute

deps: ## install what the tests need (redis-server, PostgreSQL, ffmpeg, valgrind, chromium, node/npm, and the npm packages of interop/ and tools/anvil/)
	./scripts/ensure-test-deps.sh

test: deps ## run every test (real redis-server, Node bullmq, chromium) with -race, then the bench smoke test
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 15m $(PKGS)
	cd bench && $(GO) vet ./... && $(GO) test -race -count=1 -timeout 10m ./...
	$(MAKE) fuzz-short

chaos: deps ## full chaos suite: real binary, Redis/worker kills, SIGTERM, pause, slow network, Cluster and Sentinel failover under load (~5-8 min; see RELIABILITY.md)
	CHAOS_FULL=1 $(GO) test -count=1 -timeout 20m -v ./chaos/
	CLUSTER_FAILOVER_LOAD=10s $(GO) test -race -count=1 -timeout 10m -v -run 'FailoverUnderLoad' ./clustertest/

fuzz-short: ## run each HTTP request-decoder fuzz target for 10 s
	$(GO) test -run '^$$' -fuzz '^FuzzEnqueueRequest$$' -fuzztime 10s ./internal/jobs/
	$(GO) test -run '^$$' -fuzz '^FuzzPayloadValidate$$' -fuzztime 10s ./internal/jobs/
	$(GO) test -run '^$$' -fuzz '^FuzzModerationRequest$$' -fuzztime 10s ./moderation/
	$(GO) test -run '^$$' -fuzz '^FuzzUnmarshalStrict$$' -fuzztime 10s -fuzzminimizetime 200x ./internal/httpapi/

interop: deps ## run only the Node BullMQ interop suite
	$(GO) test -race -count=1 -v ./interop/...

lint: ## go vet and staticcheck
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)
	cd bench && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...

bench: deps ## side-by-side benchmarks: ours vs Node BullMQ 6.7.0 vs asynq (~13 min; see BENCHMARKS.md)
	cd bench && $(GO) run . -profile results/profiles $(BENCH_FLAGS)

bench-cost: deps ## Redis instructions and commands per job under callgrind: ours vs BullMQ vs asynq (~3 min)
	cd bench && $(GO) run . -cost $(BENCH_FLAGS)

bench-go: ## the queue package's own Go benchmarks
	$(GO) test -run '^$$' -bench . -benchmem ./queue/
