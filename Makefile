# The README's commands. `make test` is what CI runs.
GO       ?= go
FUZZTIME ?= 5s

.PHONY: all build run test lint fuzz bench

all: build

VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS  := -X github.com/prometheus/common/version.Version=$(VERSION) \
            -X github.com/prometheus/common/version.Revision=$(REVISION)

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o iam_credential_exporter ./cmd/iam_credential_exporter

# Serve the bundled sample report on :9860.
run:
	$(GO) run ./cmd/iam_credential_exporter --report.file=report/testdata/example.csv

# The whole suite: vet, unit, end-to-end (moto_server, promtool and
# prometheus when installed; required when CI=true) and a short fuzz run.
test: lint
	$(GO) test -race -count=1 ./...
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./report

# gofmt, go vet and staticcheck (pinned in go.mod as a tool).
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=5m ./report

# The benchmarks of docs/benchmarks.md on synthetic reports (1k and 5k users,
# 100 accounts of 500), as go test prints them. To compare two trees, save
# each run's output and use benchstat (golang.org/x/perf/cmd/benchstat).
bench:
	$(GO) test -run='^$$' -bench=. -benchmem -count=1 -timeout=30m \
	  ./report ./refresh ./awsapi ./collector ./cmd/iam_credential_exporter
