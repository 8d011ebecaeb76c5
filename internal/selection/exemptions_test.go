package selection

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iam-credential-exporter/iam_credential_exporter/collector"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/accounts"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/refresh"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/testenv"
)

// sampleAccount is the account of report/testdata/example.csv.
const sampleAccount = "123456789012"

const sampleReport = "../../report/testdata/example.csv"

// With --report.file, the exemptions file's entries for the report's
// account are exported with source="file"; those of other accounts, and of
// users the report does not list, are not.
func TestReportFileWithExemptionsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "exemptions.yml")
	if err := os.WriteFile(path, []byte(`exemptions:
  - account_id: "`+sampleAccount+`"
    user: CI-Deploy            # IAM user names are unique regardless of case
    policy: key-rotation
    start: 2026-12-01
    end: 2027-02-28
    reason: SEC-1234 vendor appliance
  - account_id: "`+sampleAccount+`"
    user: nobody-by-that-name
    policy: key-unused
    start: 2026-12-01
    end: 2026-12-31
    reason: SEC-1
  - account_id: "111122223333"
    user: ci-deploy
    policy: key-unused
    start: 2026-12-01
    end: 2026-12-31
    reason: another account
`), 0o600); err != nil {
		t.Fatal(err)
	}
	o := defaultOptions()
	o.ReportFile = sampleReport
	exemptions, err := accounts.LoadExemptions(path, o.ExemptionMaxDays)
	if err != nil {
		t.Fatal(err)
	}
	o.FileExemptions = exemptions
	s, err := New(t.Context(), o, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}

	watch := newReadyWatch([]string{sampleAccount})
	ctx, cancel := context.WithTimeout(t.Context(), testenv.Patience)
	scheduler := refresh.NewScheduler(o.RefreshInterval, o.Timeout, concurrency, slog.New(slog.DiscardHandler), watch.publish)
	defer func() { cancel(); scheduler.Wait() }()
	s.sync(ctx, scheduler)
	select {
	case <-watch.of(sampleAccount):
	case <-ctx.Done():
		t.Fatal("the sample report was never read")
	}

	metrics, err := collector.NewHandler(collector.HandlerOpts{})
	if err != nil {
		t.Fatal(err)
	}
	metrics.Update(scheduler.States())
	rec := httptest.NewRecorder()
	metrics.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: status %d, want 200:\n%s", rec.Code, rec.Body)
	}
	var got []string
	for line := range strings.Lines(rec.Body.String()) {
		if strings.HasPrefix(line, "aws_iam_user_exemption_") {
			got = append(got, strings.TrimSpace(line))
		}
	}
	want := []string{
		`aws_iam_user_exemption_end_timestamp_seconds{account_id="123456789012",policy="key-rotation",reason="SEC-1234 vendor appliance",source="file",user="ci-deploy"} 1.8038592e+09`,
		`aws_iam_user_exemption_start_timestamp_seconds{account_id="123456789012",policy="key-rotation",reason="SEC-1234 vendor appliance",source="file",user="ci-deploy"} 1.7960832e+09`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("exemption series:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
