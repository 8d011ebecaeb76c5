// Package e2e runs the built exporter binary as users do: against report
// files, a fake IAM endpoint, moto_server and a real Prometheus.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/testenv"
)

// exporterBin is the exporter binary, built once by TestMain.
var exporterBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "iam_credential_exporter-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		os.Exit(1)
	}
	exporterBin = filepath.Join(dir, "iam_credential_exporter")
	// The race detector slows the exporter several times over, and the
	// package tests already run its code under -race; make test-race
	// (IAM_E2E_RACE=1) builds the binary with it.
	args := []string{"build", "-o", exporterBin}
	if os.Getenv("IAM_E2E_RACE") == "1" {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "../cmd/iam_credential_exporter")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build exporter:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
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
