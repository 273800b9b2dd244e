# llmmon — `make build` to build, `make test` to run every test.
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X github.com/llmmon/llmmon/internal/buildinfo.Version=$(VERSION) \
             -X github.com/llmmon/llmmon/internal/buildinfo.Commit=$(COMMIT)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Integration tests start real Prometheus processes and containers; on
# 2 cores they are kept from starving each other; -count=1 because a
# cached result would mean the real parts were never exercised.
TESTFLAGS ?= -p 2 -count=1 -timeout 30m

# The container image make image builds (tag it for your registry with IMAGE=).
IMAGE     ?= llmmon:$(VERSION)

.PHONY: all build image test test-unit test-images fuzz lint bench fmt clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/llmmon ./cmd/llmmon

# llmmon's image, FROM scratch: the static binary, CA certificates and a
# non-root user; it needs no base image (see Dockerfile).
image:
	bash hack/build-image.sh '$(IMAGE)' '$(VERSION)' '$(COMMIT)' '$(LDFLAGS)'

# Everything: unit and integration (needs dockerd and Debian's prometheus; see .ci/run).
test: test-images
	$(GO) test $(TESTFLAGS) -race ./...
	$(MAKE) fuzz

# Fast tests only: no Docker, no Prometheus process.
test-unit:
	$(GO) test -short ./...

test-images:
	bash hack/build-test-images.sh

# A short fuzz of every Fuzz target, so CI exercises the corpus and beyond.
# Budgets are counts of executions, not durations: with a duration, Go
# 1.26's fuzz coordinator can fail at the deadline with a bare "context
# deadline exceeded" and no crasher on a loaded machine (go.dev/issue/75804,
# fixed in Go 1.27). Minimizing each new input is bounded the same way.
FUZZTIME ?= 40000x
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2000x $$pkg || exit 1; \
	  done; \
	done

lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# Go benchmarks, then each load comparison script (hack/bench-*.sh); every
# script runs, and a script that fails fails the target at the end.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	@failed=""; for s in hack/bench-*.sh; do [ -e "$$s" ] || continue; echo "== $$s"; bash "$$s" || failed="$$failed $$s"; done; \
	if [ -n "$$failed" ]; then echo "failed:$$failed" >&2; exit 1; fi

fmt:
	gofmt -s -w $$(git ls-files '*.go')

clean:
	rm -rf bin
