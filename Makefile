# The README's commands. `make test` is what CI runs.
GO       ?= go
FUZZTIME ?= 5s

.PHONY: all build run test test-race lint fuzz bench image prometheus3 test-prometheus3

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
# The package tests run under the race detector. The end-to-end tests do
# not, except under test-race: their own code is the harness around the
# exporter binary that they start, which is built without -race too (it
# made them half again as slow), and -race cost them a sixth of their CPU
# time. They take longest, mostly waiting for Prometheus and moto_server,
# so they run beside the package tests and the fuzz run from the start.
# The timeout is for a busy machine: the tests wait for events, not for a
# clock.
TEST_TIMEOUT ?= 30m
E2E_RACE     ?=

test: lint
	$(GO) test $(E2E_RACE) -count=1 -timeout=$(TEST_TIMEOUT) ./e2e & e2e=$$!; \
	$(GO) test -race -count=1 -timeout=$(TEST_TIMEOUT) $$($(GO) list ./... | grep -v '/e2e$$') && \
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./report; \
	status=$$?; wait $$e2e && exit $$status

# test, with the end-to-end tests and the exporter binary they start built
# with -race too.
test-race:
	IAM_E2E_RACE=1 $(MAKE) test E2E_RACE=-race

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
	  ./report ./internal/refresh ./internal/awsapi ./internal/selection ./collector ./cmd/iam_credential_exporter

# What Prometheus pays for the exporter's series (docs/benchmarks.md): a real
# Prometheus scrapes an organization of ACCOUNTS x USERS through per-account
# targets and evaluates the rules, for this tree and, with BASELINE=<git
# revision>, for that revision first, in the same run. -v prints the series
# by name. 1,000 x 100 takes 9 to 12 minutes a variant and about 13 GB of
# memory for Prometheus; the defaults, about a minute.
ACCOUNTS ?= 20
USERS    ?= 100
BASELINE ?=

.PHONY: bench-prometheus

bench-prometheus:
	IAM_BENCH_ACCOUNTS=$(ACCOUNTS) IAM_BENCH_USERS=$(USERS) IAM_BENCH_BASELINE=$(BASELINE) \
	  $(GO) test -run='^$$' -bench='^BenchmarkPrometheusSeries$$' -count=1 -timeout=120m -v ./e2e

# The container image for this machine's platform, stamped like `make build`.
# IMAGE_TOOL may be docker, podman or buildah. For several platforms at once:
#   make image IMAGE_TOOL="docker buildx" IMAGE_PLATFORMS=linux/amd64,linux/arm64 IMAGE_FLAGS=--push
IMAGE_TOOL      ?= docker
IMAGE_NAME      ?= iam_credential_exporter
IMAGE_PLATFORMS ?=
IMAGE_FLAGS     ?=

image:
	$(IMAGE_TOOL) build $(if $(IMAGE_PLATFORMS),--platform=$(IMAGE_PLATFORMS)) \
	  --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) \
	  --label org.opencontainers.image.created=$$(date -u +%Y-%m-%dT%H:%M:%SZ) \
	  -t $(IMAGE_NAME):$(VERSION) -t $(IMAGE_NAME):latest $(IMAGE_FLAGS) .

# Prometheus 3 next to Debian's 2.x: the end-to-end tests that run promtool
# (the rule checks and unit tests: TestAlertRules*), prometheus or
# Alertmanager, with prometheus and promtool 3 (built once into a cache by
# .ci/prometheus3) first on PATH. Without -race, as `make test` runs them,
# whose compiled packages it reuses.
PROMETHEUS3_TESTS := ^(TestAlertRules|TestAlertsDocumentedAndTested|TestPrometheus|TestAccountTargets|TestDashboard|TestAlertmanager|TestSampleReportFile)

prometheus3:
	.ci/prometheus3

test-prometheus3:
	@bin=$$(.ci/prometheus3) && export PATH="$$bin:$$PATH" && set -x && \
	  prometheus --version | head -n 1 && \
	  promtool --version | head -n 1 && \
	  $(GO) test $(E2E_RACE) -count=1 -run '$(PROMETHEUS3_TESTS)' ./e2e/

# The monitoring mixin: mixin/ (jsonnet) rendered, with the jsonnet pinned in
# go.mod as a tool, into the rule file and the dashboards, which are its
# output: edit mixin/ (thresholds in mixin/config.libsonnet), then run
# `make mixin`, which also refreshes the Helm chart's copies of the rules and
# the dashboards (chart-sync).
# mixin-check fails when they differ from a fresh render;
# go test ./e2e (TestMixinRenderedFilesUpToDate) checks the same.
MIXIN_RENDER = mkdir -p "$(1)/alerts" "$(1)/dashboards" && \
  $(GO) tool jsonnet -S mixin/render/rules.jsonnet > "$(1)/alerts/iam_credential_exporter.rules.yml" && \
  $(GO) tool jsonnet -S -m "$(1)/dashboards" mixin/render/dashboards.jsonnet > /dev/null

.PHONY: mixin mixin-check

mixin:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  $(call MIXIN_RENDER,$$tmp) && \
	  cp "$$tmp/alerts/iam_credential_exporter.rules.yml" alerts/ && \
	  rm -f dashboards/*.json && cp "$$tmp"/dashboards/*.json dashboards/ && \
	  $(CHART_SYNC)

mixin-check:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  $(call MIXIN_RENDER,$$tmp) && rc=0 && \
	  { diff -u alerts/iam_credential_exporter.rules.yml "$$tmp/alerts/iam_credential_exporter.rules.yml" || rc=1; } && \
	  { diff -ru -x README.md dashboards "$$tmp/dashboards" || rc=1; } && \
	  if [ $$rc -ne 0 ]; then echo "alerts/ or dashboards/ differ from a fresh render of mixin/ (+): edit mixin/ and run make mixin" >&2; exit 1; fi

# The Helm chart: helm lint with each values file under ci/, then the Go test
# module that renders the chart, decodes every object strictly into its
# Kubernetes and prometheus-operator types, and runs the exporter with each
# rendered pod's arguments. helm is built once from its Go module into a
# cache. chart-sync (also run by `make mixin`) copies the rule file and the
# dashboards into the chart, which cannot read files outside its directory;
# the chart test fails when the copies differ.
CHART        := charts/iam-credential-exporter
HELM_VERSION ?= v3.22.0
HELM_BIN     ?= $(HOME)/.cache/iam-credential-exporter/bin
HELM         ?= $(HELM_BIN)/helm
# The oldest Kubernetes the chart supports (kubeVersion in Chart.yaml); a
# helm built with `go install` would otherwise assume 1.20.
CHART_KUBE_VERSION ?= 1.28.0

.PHONY: chart-lint chart-test chart-sync chart-package

$(HELM_BIN)/helm:
	GOBIN=$(HELM_BIN) $(GO) install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

chart-lint: $(HELM)
	@for f in $(CHART)/ci/*-values.yaml; do \
	  echo "helm lint $(CHART) -f $$f" && \
	  $(HELM) lint --strict --quiet --kube-version $(CHART_KUBE_VERSION) $(CHART) -f $$f || exit 1; \
	done

chart-test: chart-lint
	cd $(CHART)/test && HELM=$(HELM) $(GO) test -count=1 ./...

# The chart as an archive, <name>-<version>.tgz with the version of
# Chart.yaml, in CHART_DIST, after the lint; .helmignore leaves its Go tests
# out. Install it with `helm install <release> $(CHART_DIST)/<archive>`, or
# push it to an OCI registry with `helm push`.
CHART_DIST ?= .build/chart

chart-package: chart-lint
	@mkdir -p $(CHART_DIST)
	$(HELM) package $(CHART) --destination $(CHART_DIST)

CHART_SYNC = cp alerts/iam_credential_exporter.rules.yml $(CHART)/files/iam_credential_exporter.rules.yml && \
  mkdir -p $(CHART)/files/dashboards && rm -f $(CHART)/files/dashboards/*.json && \
  cp dashboards/*.json $(CHART)/files/dashboards/

chart-sync:
	$(CHART_SYNC)
