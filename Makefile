# The README's commands. `make test` is what CI runs.
GO       ?= go
FUZZTIME ?= 5s

.PHONY: all build run test test-race lint fuzz bench image image-rootfs crossbuild tarballs release check-changelog prometheus3 test-prometheus3

all: build

# The release's version, from VERSION: promu stamps it into --version and
# iam_credential_exporter_build_info, and it tags the image. The chart's
# appVersion and CHANGELOG.md's newest release name the same version
# (e2e TestVersionAgrees).
VERSION  := $(shell cat VERSION)
REVISION := $(shell git rev-parse HEAD 2>/dev/null)

# promu (.promu.yml) builds, archives and checksums the release; it is pinned
# in a tools module of its own (internal/tools/go.mod) to keep its
# dependencies out of go.mod. SOURCE_DATE_EPOCH, the commit's time, makes a
# build reproducible. promu names the archives after the repository of the
# branch's git remote, which in a clone of a local folder or a fork is not
# this project's name, so git is told this repository's address for it.
# promu is built for this machine, since GOOS and GOARCH choose the
# platform it builds for.
PROMU_BIN   := .build/tools/promu
PROMU_REPO  := https://github.com/iam-credential-exporter/iam_credential_exporter
GIT_BRANCH  := $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null)
GIT_TIME    := $(shell git log -1 --format=%ct 2>/dev/null)
PROMU       := SOURCE_DATE_EPOCH=$(GIT_TIME) GIT_CONFIG_COUNT=2 \
  GIT_CONFIG_KEY_0=branch.$(GIT_BRANCH).remote GIT_CONFIG_VALUE_0=release \
  GIT_CONFIG_KEY_1=remote.release.url GIT_CONFIG_VALUE_1=$(PROMU_REPO) \
  $(PROMU_BIN)

$(PROMU_BIN): internal/tools/go.mod internal/tools/go.sum
	cd internal/tools && GOOS= GOARCH= $(GO) build -o $(abspath $@) github.com/prometheus/promu

# ./iam_credential_exporter for this machine, as the release builds it.
# BUILD_PREFIX=DIR puts it in DIR instead.
BUILD_PREFIX ?= .

build: $(PROMU_BIN)
	$(PROMU) build --prefix $(BUILD_PREFIX)

# The release: a static binary per platform under .build/OS-ARCH/, an archive
# of each (with LICENSE, README.md and CHANGELOG.md) under .tarballs/, and
# their SHA-256 sums in .tarballs/sha256sums.txt. Windows builds too, but is
# left out: nothing here runs or tests it, and SIGHUP reloads do not exist
# there; PLATFORMS="... windows/amd64" adds it (a .zip beside the tar.gz).
PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64

release: check-changelog tarballs
	@cd .tarballs && ls -l *.tar.gz *.zip 2>/dev/null; cat sha256sums.txt

# CHANGELOG.md has a section for the version of VERSION, its entries in
# promu's order (CHANGE, FEATURE, ENHANCEMENT, BUGFIX). (promu v0.18.0's
# --version flag fails: it reads VERSION itself.)
check-changelog: $(PROMU_BIN)
	$(PROMU) check changelog

crossbuild: $(foreach p,$(PLATFORMS),build-$(subst /,-,$(p)))

build-%: $(PROMU_BIN)
	GOOS=$(word 1,$(subst -, ,$*)) GOARCH=$(word 2,$(subst -, ,$*)) \
	  $(PROMU) build --prefix .build/$*

tarballs: crossbuild $(PROMU_BIN)
	rm -rf .tarballs
	@for p in $(PLATFORMS); do \
	  os=$${p%/*} arch=$${p#*/}; \
	  GOOS=$$os GOARCH=$$arch $(PROMU) tarball --prefix .tarballs .build/$$os-$$arch || exit 1; \
	done
	$(PROMU) checksum .tarballs

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

# The container image (Dockerfile): the release build's Linux binary for each
# of IMAGE_PLATFORMS (this machine's architecture by default), the files of
# image-rootfs, the sample report; tagged with VERSION and latest.
# IMAGE_TOOL may be docker, podman or buildah. For several platforms at once:
#   make image IMAGE_TOOL="docker buildx" IMAGE_PLATFORMS=linux/amd64,linux/arm64 IMAGE_FLAGS=--push
IMAGE_TOOL      ?= docker
IMAGE_NAME      ?= iam_credential_exporter
IMAGE_PLATFORMS ?= linux/$(shell $(GO) env GOARCH)
IMAGE_FLAGS     ?=
comma := ,

image: image-rootfs $(foreach p,$(subst $(comma), ,$(IMAGE_PLATFORMS)),build-$(subst /,-,$(p)))
	$(IMAGE_TOOL) build --platform=$(IMAGE_PLATFORMS) \
	  --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) \
	  --build-arg CA_CERTIFICATES="$(CA_BUNDLE_ORIGIN), sha256:$$(sha256sum < $(IMAGE_CA_BUNDLE) | cut -c1-64)" \
	  --label org.opencontainers.image.created=$$(date -u +%Y-%m-%dT%H:%M:%SZ) \
	  -t $(IMAGE_NAME):$(VERSION) -t $(IMAGE_NAME):latest $(IMAGE_FLAGS) .

# What the image holds beside the binary, which a base image such as
# distroless/static would bring (none can be pulled on some build machines):
# the CA bundle that TLS to AWS needs, and /etc/passwd and /etc/group naming
# the user 65532 (nonroot) as distroless does. The bundle is made from the
# certificates of Debian's ca-certificates package on this machine, not
# copied from /etc/ssl/certs, which also holds any CA added locally; its
# origin and digest go into a label. Elsewhere, set CA_BUNDLE to a PEM
# bundle and CA_BUNDLE_ORIGIN to where it comes from.
IMAGE_ROOTFS     := .build/image-rootfs
IMAGE_CA_BUNDLE  := $(IMAGE_ROOTFS)/etc/ssl/certs/ca-certificates.crt
CA_BUNDLE        ?=
CA_BUNDLE_ORIGIN ?= $(if $(CA_BUNDLE),,$(shell dpkg-query -W -f='Debian ca-certificates $${Version}' ca-certificates 2>/dev/null))

image-rootfs:
	@test -n "$(CA_BUNDLE_ORIGIN)" || { echo "no Debian ca-certificates package: set CA_BUNDLE to a PEM bundle and CA_BUNDLE_ORIGIN to where it comes from" >&2; exit 1; }
	rm -rf $(IMAGE_ROOTFS)
	mkdir -p -m 755 $(IMAGE_ROOTFS) $(IMAGE_ROOTFS)/etc $(IMAGE_ROOTFS)/etc/ssl $(IMAGE_ROOTFS)/etc/ssl/certs
	$(if $(CA_BUNDLE),cp $(CA_BUNDLE) $(IMAGE_CA_BUNDLE),\
	  dpkg-query -L ca-certificates | grep '^/usr/share/ca-certificates/mozilla/.*\.crt$$' | LC_ALL=C sort | xargs awk 1 > $(IMAGE_CA_BUNDLE))
	@n=$$(grep -c 'BEGIN CERTIFICATE' $(IMAGE_CA_BUNDLE)); test "$$n" -ge 50 || { echo "$(IMAGE_CA_BUNDLE) holds $$n certificates" >&2; exit 1; }
	printf '%s\n' root:x:0:0:root:/root:/sbin/nologin nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin \
	  nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin > $(IMAGE_ROOTFS)/etc/passwd
	printf '%s\n' root:x:0: nobody:x:65534: nonroot:x:65532: > $(IMAGE_ROOTFS)/etc/group
	chmod 644 $(IMAGE_ROOTFS)/etc/passwd $(IMAGE_ROOTFS)/etc/group $(IMAGE_CA_BUNDLE)

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
# go test ./e2e (TestMixinRenderedFilesUpToDate) checks the same with go-jsonnet.
# JSONNET=/usr/bin/jsonnet renders with Debian's jsonnet (0.18, C++; slower:
# about a CPU-minute) instead: the output is the same, which .ci/run checks
# with `make mixin-check JSONNET=/usr/bin/jsonnet`.
JSONNET ?= $(GO) tool jsonnet
MIXIN_RENDER = mkdir -p "$(1)/alerts" "$(1)/dashboards" && \
  $(JSONNET) -S mixin/render/rules.jsonnet > "$(1)/alerts/iam_credential_exporter.rules.yml" && \
  $(JSONNET) -S -m "$(1)/dashboards" mixin/render/dashboards.jsonnet > /dev/null

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
