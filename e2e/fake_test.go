package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/fakeaws"
)

// startFake serves the sample report from the in-process fake AWS endpoint.
func startFake(t *testing.T) *fakeaws.Server {
	t.Helper()
	csv, err := os.ReadFile("../report/testdata/example.csv")
	if err != nil {
		t.Fatal(err)
	}
	fake := fakeaws.New(account)
	t.Cleanup(fake.Close)
	fake.DefaultAccount().SetReport(csv, time.Now().Add(-time.Hour))
	return fake
}

// withoutAWSCounters drops the request counters, whose values depend on how
// many refreshes ran.
func withoutAWSCounters(text string) string {
	var out []string
	for _, l := range strings.SplitAfter(text, "\n") {
		if !strings.Contains(l, "iam_credential_exporter_aws_request") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

// Read through the AWS API, the sample report yields exactly the metrics it
// yields read from a file; steady-state refreshes cost two IAM calls each,
// and scrapes cost none.
func TestFakeAWS(t *testing.T) {
	t.Parallel()
	fake := startFake(t)
	e := startExporter(t, fake.Environ(), "--report.refresh-interval=1h")
	waitFor(t, patience, func() error { _, err := httpGet(e.URL + "/-/ready"); return err })

	text, mfs := scrape(t, e.URL)
	compareGolden(t, "example.prom", withoutAWSCounters(stable(text)))
	for _, op := range []string{fakeaws.GenerateCredentialReport, fakeaws.GetCredentialReport} {
		if got := mustSample(t, mfs, "iam_credential_exporter_aws_requests_total", map[string]string{"operation": op}); got != 1 {
			t.Errorf("aws_requests_total{operation=%q} = %v after one steady-state refresh, want 1", op, got)
		}
	}

	before := fake.TotalRequests()
	for range 20 {
		scrape(t, e.URL)
	}
	if after := fake.TotalRequests(); after != before {
		t.Errorf("20 scrapes made %d AWS requests, want 0", after-before)
	}
}

// Missing permissions produce one log line per refresh that names the IAM
// action to allow, and no secret.
func TestFakeAWSAccessDenied(t *testing.T) {
	t.Parallel()
	fake := startFake(t)
	fake.DefaultAccount().Fail(fakeaws.GenerateCredentialReport, "AccessDenied", 1000)
	e := startExporter(t, fake.Environ(), "--report.refresh-interval=1h")
	waitFor(t, patience, func() error {
		_, mfs := scrape(t, e.URL)
		if v, _ := sample(mfs, "iam_credential_exporter_refresh_failures_total", map[string]string{"account_id": account}); v != 1 {
			return fmt.Errorf("refresh_failures_total = %v, want 1", v)
		}
		return nil
	})
	logs := e.Logs()
	var failures []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "refresh failed") {
			failures = append(failures, l)
		}
	}
	if len(failures) != 1 || !strings.Contains(failures[0], "iam:GenerateCredentialReport") || !strings.Contains(failures[0], account) {
		t.Errorf("want one failure line naming iam:GenerateCredentialReport and the account, got:\n%s", strings.Join(failures, "\n"))
	}
	for _, env := range fake.Environ() {
		if k, v, _ := strings.Cut(env, "="); strings.Contains(k, "SECRET") && strings.Contains(logs, v) {
			t.Errorf("logs contain the secret access key")
		}
	}
	if _, err := httpGet(e.URL + "/-/ready"); err == nil {
		t.Errorf("/-/ready answered 200 without any report")
	}
}
