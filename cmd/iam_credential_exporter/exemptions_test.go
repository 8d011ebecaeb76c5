package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
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

// A bad exemptions file stops the exporter at start, before it listens,
// with every problem on its line; so does an entry over --exemptions.max-days.
func TestRunRefusesBadExemptionsFile(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "bad file", args: []string{"--exemptions.file=../../internal/accounts/testdata/exemptions-bad.yml"},
			want: []string{
				`exemptions-bad.yml:4: exemptions[0].policy: unknown policy \"rotation\"`,
				`exemptions-bad.yml:6: exemptions[0].end: 2026-12-01 to 2027-03-01 is 91 days, more than the 90 an exemption may span`,
				`exemptions-bad.yml:12: exemptions[1].end: the last day 2026-11-30 is before the first day 2026-12-01`,
				`exemptions-bad.yml:29: exemptions[5]: account 111122223333, user DEPLOY, policy key-unused is already exempted by exemptions[4] (line 23)`,
			}},
		{name: "span over the flag's cap", args: []string{"--exemptions.file=../../internal/accounts/testdata/exemptions-good.yml", "--exemptions.max-days=30"},
			want: []string{`exemptions-good.yml:7: exemptions[0].end: 2026-12-01 to 2027-02-28 is 90 days, more than the 30`}},
		{name: "missing file", args: []string{"--exemptions.file=absent.yml"},
			want: []string{"absent.yml: no such file or directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stderr, code := runChild(t, exe, append([]string{"--report.file=" + sampleReport}, tt.args...)...)
			if code != 1 {
				t.Errorf("exit status %d, want 1\nstderr:\n%s", code, stderr)
			}
			for _, want := range append([]string{"invalid --exemptions.file"}, tt.want...) {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			if strings.Contains(stderr, "Listening on") {
				t.Errorf("the exporter listened before refusing its exemptions file:\n%s", stderr)
			}
		})
	}
}

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
	o.reportFile, o.exemptionsFile = sampleReport, path
	exemptions, err := accounts.LoadExemptions(path, o.exemptionMaxDays)
	if err != nil {
		t.Fatal(err)
	}
	s, err := newSelection(t.Context(), o, func(string, string) {}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s.exemptions = exemptions

	watch := newReadyWatch([]string{sampleAccount})
	ctx, cancel := context.WithTimeout(t.Context(), testenv.Patience)
	scheduler := refresh.NewScheduler(o.refreshInterval, o.timeout, o.concurrency, slog.New(slog.DiscardHandler), watch.publish)
	defer func() { cancel(); scheduler.Wait() }()
	s.sync(ctx, scheduler, collector.NewDiscovery())
	select {
	case <-watch.of(sampleAccount):
	case <-ctx.Done():
		t.Fatal("the sample report was never read")
	}

	url, _ := startExporter(t, scheduler.States())
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for line := range strings.Lines(string(body)) {
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
