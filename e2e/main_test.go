// Package e2e runs the built exporter binary as users do: against report
// files, a fake IAM endpoint, moto_server and a real Prometheus.
//
// The tests are filed by subject:
//
//   - main_test.go: TestMain, which builds the binary, and starting an
//     exporter.
//   - exporter_test.go: the exporter on report files, the golden metrics and
//     scrape helpers, and the metrics and flags references.
//   - integrity_test.go: reports that are rejected, and recovery from them.
//   - fake_test.go: the exporter through the fake AWS endpoint, its outages
//     and missing permissions.
//   - prometheus_test.go: the Prometheus harness (promServer and its API
//     helpers), ruleFiles and readText.
//   - alerts_test.go: the alert rules (promtool check and unit tests, runbook
//     and README), the alerts that fire in a real Prometheus, and the fixture
//     report whose verdicts are known.
//   - dashboards_test.go: the Grafana dashboards, static and against a real
//     Prometheus, and the variable queries through promtool.
//   - mixin_test.go: the mixin's rendered alerts and dashboards, the same
//     render by Debian's jsonnet 0.18, a custom _config, and a render for
//     several clusters.
//   - alertmanager_test.go: the example Alertmanager configuration's routing
//     and inhibitions; alertmanager_sample_test.go: the notification
//     measurement (IAM_NOTIFICATION_SAMPLE=1).
//   - move_test.go: alerts that survive an exporter moving.
//   - clients_test.go: HTTP clients and limits: memory under many requests,
//     slow and idle clients, bounded headers, and a Prometheus scraping the
//     largest account.
//   - targets_test.go: per-account targets, /sd and /metrics?account_id=.
//   - organization_test.go: Organizations discovery and per-account failure
//     isolation.
//   - owners_test.go: owners, key IDs, password policy and account tags
//     against moto_server; exemptions_test.go: exemptions from the file and
//     from tags.
//   - lifecycle_test.go: launching the binary, SIGHUP, SIGTERM, a busy
//     address and JSON logs; probes_test.go: the documented StatefulSet's
//     probes with TLS and basic auth.
//   - moto_test.go: the exporter against moto_server.
//   - image_test.go: the Dockerfile, make image and .dockerignore, and the
//     image built with buildah, inspected and run.
//   - release_test.go: VERSION and what must agree with it; make build.
//   - series_bench_test.go: BenchmarkPrometheusSeries.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/testenv"
)

// The exporter binary, which TestMain builds while the first tests run.
var (
	exporterBin   string
	exporterBuilt = make(chan struct{})
	exporterErr   error // of the build, once exporterBuilt is closed
)

// builtExporter waits for the exporter binary and returns its path.
func builtExporter(t testing.TB) string {
	t.Helper()
	<-exporterBuilt
	if exporterErr != nil {
		t.Fatal(exporterErr)
	}
	return exporterBin
}

// waitingTests is how many tests run at once unless -parallel says
// otherwise: these tests mostly wait for other processes (a Prometheus that
// scrapes and evaluates every second, moto_server, an exporter's refresh).
const waitingTests = 8

func TestMain(m *testing.M) {
	testenv.WaitingTests(waitingTests)
	dir, err := os.MkdirTemp("", "iam_credential_exporter-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		os.Exit(1)
	}
	exporterBin = filepath.Join(dir, "iam_credential_exporter")
	// The race detector slows the exporter several times over, and the
	// package tests already run its code under -race; make test-race
	// (IAM_E2E_RACE=1) builds the binary with it. The tests that need no
	// exporter (promtool, jsonnet, the dashboards' and the image's files)
	// run while it builds.
	args := []string{"build", "-o", exporterBin}
	if os.Getenv("IAM_E2E_RACE") == "1" {
		args = append(args, "-race")
	}
	// A run of tests that need no exporter stops the build when it ends.
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(exporterBuilt)
		out, err := exec.CommandContext(ctx, "go", append(args, "../cmd/iam_credential_exporter")...).CombinedOutput()
		if err != nil {
			exporterErr = fmt.Errorf("build the exporter: %v\n%s", err, out)
		}
	}()
	code := m.Run()
	cancel()
	<-exporterBuilt
	os.RemoveAll(dir)
	os.Exit(code)
}

// The helpers shared with other packages' tests, under short names.
var (
	requireProgram = testenv.RequireProgram
	freeAddr       = testenv.FreeAddr
	waitFor        = testenv.WaitFor
	httpGet        = testenv.HTTPGet
)

// patience bounds every wait for readiness or an event; see testenv.Patience.
const patience = testenv.Patience

// exporter is one running exporter process.
type exporter struct {
	URL  string // http://127.0.0.1:port
	logs *testenv.Buffer
}

// Logs returns what the process wrote so far.
func (e *exporter) Logs() string { return e.logs.String() }

// startExporter runs the exporter on a free loopback port with the given
// extra environment and flags, waits until /-/healthy answers, and stops it
// when the test ends. The AWS environment is isolated from the developer's.
func startExporter(t testing.TB, env []string, args ...string) *exporter {
	t.Helper()
	e, _ := launch(t, freeAddr(t), env, args...)
	waitFor(t, patience, func() error {
		_, err := httpGet(e.URL + "/-/healthy")
		return err
	})
	return e
}
