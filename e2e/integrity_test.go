package e2e

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/fakeaws"
)

// Credential alerts resolve when their series disappear, so a report that
// drops users by mistake silently closes alerts. These tests replace a good
// report with a bad one under a running exporter and check that the bad one
// is rejected: the refresh fails, the rejection is counted in
// report_parse_errors_total, and every user of the last good report is
// still served.

var accountLabels = map[string]string{"account_id": account}

// exampleReport returns the bundled sample report (13 rows, root included).
func exampleReport(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("../report/testdata/example.csv")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// replaceFile replaces path with data as a careful writer does: a temporary
// file in the same directory, then a rename, so the exporter never reads a
// half-written file and what it reads is exactly data.
func replaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// userNames returns the user label of every aws_iam_user_info series.
func userNames(mfs map[string]*dto.MetricFamily) []string {
	var names []string
	for _, m := range mfs["aws_iam_user_info"].GetMetric() {
		names = append(names, labelMap(m.GetLabel())["user"])
	}
	slices.Sort(names)
	return names
}

// served is what the exporter serves of the good report before it is replaced.
type served struct {
	users       []string
	parseErrors float64
	failures    float64
}

func observe(t *testing.T, e *exporter) served {
	t.Helper()
	_, mfs := scrape(t, e.URL)
	return served{
		users:       userNames(mfs),
		parseErrors: mustSample(t, mfs, "iam_credential_exporter_report_parse_errors_total", accountLabels),
		failures:    mustSample(t, mfs, "iam_credential_exporter_refresh_failures_total", accountLabels),
	}
}

// waitReady waits until the exporter serves a report, and returns what it serves.
func waitReady(t *testing.T, e *exporter) served {
	t.Helper()
	waitFor(t, patience, func() error { _, err := httpGet(e.URL + "/-/ready"); return err })
	return observe(t, e)
}

// expectRejected waits for a refresh to fail with an error that says each
// of wantErr, then checks that the rejection was counted as a parse error
// and that the last good report is still served with all its users.
func expectRejected(t *testing.T, e *exporter, good served, wantErr ...string) {
	t.Helper()
	waitFor(t, patience, func() error {
		_, mfs := scrape(t, e.URL)
		if v := mustSample(t, mfs, "iam_credential_exporter_refresh_failures_total", accountLabels); v <= good.failures {
			return fmt.Errorf("no failed refresh yet (refresh_failures_total %v)", v)
		}
		for _, want := range wantErr {
			if !strings.Contains(e.Logs(), want) {
				return fmt.Errorf("no logged error says %q yet", want)
			}
		}
		return nil
	})
	_, mfs := scrape(t, e.URL)
	if v := mustSample(t, mfs, "iam_credential_exporter_refresh_success", accountLabels); v != 0 {
		t.Errorf("refresh_success = %v after the bad report, want 0", v)
	}
	if v := mustSample(t, mfs, "iam_credential_exporter_report_parse_errors_total", accountLabels); v <= good.parseErrors {
		t.Errorf("report_parse_errors_total = %v, want more than %v: the rejected report is not counted", v, good.parseErrors)
	}
	if got := userNames(mfs); !slices.Equal(got, good.users) {
		t.Errorf("users served after the bad report:\n %q\nwant the last good report's\n %q", got, good.users)
	}
	if v := mustSample(t, mfs, "aws_iam_credential_report_users", accountLabels); v != float64(len(good.users)) {
		t.Errorf("aws_iam_credential_report_users = %v, want the last good report's %d", v, len(good.users))
	}
	if _, err := httpGet(e.URL + "/-/ready"); err != nil {
		t.Errorf("/-/ready after a rejected report: %v (the last good report is still served)", err)
	}
}

// cliJSON is the output of aws iam get-credential-report for csv, with
// generated written as is (a JSON string or number).
func cliJSON(csv []byte, generated string) []byte {
	return fmt.Appendf(nil, "{\n    \"Content\": %q,\n    \"ReportFormat\": \"text/csv\",\n    \"GeneratedTime\": %s\n}\n",
		base64.StdEncoding.EncodeToString(csv), generated)
}

// withoutLine returns csv without the line that starts with prefix.
func withoutLine(t *testing.T, csv []byte, prefix string) []byte {
	t.Helper()
	lines := strings.SplitAfter(string(csv), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return []byte(strings.Join(slices.Delete(lines, i, i+1), ""))
		}
	}
	t.Fatalf("no line starts with %q", prefix)
	return nil
}

func TestReportFileRejections(t *testing.T) {
	t.Parallel()
	example := exampleReport(t)
	header, _, _ := bytes.Cut(example, []byte("\n"))
	// A writer caught mid-write: the file ends inside dana.okafor's row, a
	// few cells in. Rows after it are missing, and nothing marks the end.
	dana := bytes.Index(example, []byte("\ndana.okafor,")) + 1
	cut := example[:dana+len("dana.okafor,arn:aws:iam::123456789012:user/dana.okafor,2026-11-20T09:00:12Z,tr")]
	other, err := os.ReadFile("../report/testdata/legacy_16col.csv") // account 111122223333
	if err != nil {
		t.Fatal(err)
	}
	longName := strings.Repeat("n", 65)
	longRow := "\n" + longName + ",arn:aws:iam::123456789012:user/" + longName + strings.Repeat(",N/A", 20)
	extraRow := "\nzoe,arn:aws:iam::123456789012:user/zoe" + strings.Repeat(",N/A", 20)

	tests := []struct {
		name    string
		args    []string
		bad     []byte
		wantErr []string
	}{
		{name: "header and no rows", bad: append(header, '\n'), wantErr: []string{"no user rows"}},
		{name: "cut in the middle of a row", bad: cut, wantErr: []string{"truncated", "line 6"}},
		{name: "root row gone", bad: withoutLine(t, example, "<root_account>,"), wantErr: []string{"no root row"}},
		{name: "another account", bad: other, wantErr: []string{"111122223333", "123456789012"}},
		{name: "GeneratedTime 1e300", bad: cliJSON(example, "1e300"), wantErr: []string{"GeneratedTime"}},
		{name: "GeneratedTime -5", bad: cliJSON(example, "-5"), wantErr: []string{"GeneratedTime"}},
		{name: "GeneratedTime next year", bad: cliJSON(example, strconv.Quote(time.Now().AddDate(1, 0, 0).UTC().Format(time.RFC3339))),
			wantErr: []string{"GeneratedTime"}},
		{name: "truncated JSON", bad: cliJSON(example, `"2026-11-27T05:12:40Z"`)[:200], wantErr: []string{"decode JSON"}},
		{name: "bad base64", bad: []byte(base64.StdEncoding.EncodeToString(example)[:101]), wantErr: []string{"base64"}},
		{name: "file too large", args: []string{"--report.max-bytes=" + strconv.Itoa(len(example)+100)},
			bad: append(bytes.Clone(example), bytes.Repeat([]byte("\n"), 200)...), wantErr: []string{"larger than the limit"}},
		{name: "more users than --report.max-users", args: []string{"--report.max-users=13"},
			bad: append(bytes.Clone(example), extraRow...), wantErr: []string{"more than 13 user rows"}},
		{name: "user name longer than IAM allows", bad: append(bytes.Clone(example), longRow...),
			wantErr: []string{"line 15", "longer than 64 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "report")
			replaceFile(t, path, example)
			e := startExporter(t, nil, append([]string{"--report.file=" + path, "--report.refresh-interval=200ms"}, tt.args...)...)
			good := waitReady(t, e)
			if len(good.users) != 13 {
				t.Fatalf("serving %d users of the sample report, want 13", len(good.users))
			}
			replaceFile(t, path, tt.bad)
			expectRejected(t, e, good, tt.wantErr...)
			if strings.Contains(e.Logs(), "dana.okafor") || strings.Contains(e.Logs(), longName) {
				t.Errorf("the logs name a user: report contents must not be logged")
			}
		})
	}
}

// A refresh that reads the file a moment later still finds the report, so
// that rejecting one file does not stick: the next good file is served.
func TestReportFileRecoversAfterRejection(t *testing.T) {
	t.Parallel()
	example := exampleReport(t)
	header, _, _ := bytes.Cut(example, []byte("\n"))
	path := filepath.Join(t.TempDir(), "report.csv")
	replaceFile(t, path, example)
	e := startExporter(t, nil, "--report.file="+path, "--report.refresh-interval=200ms")
	good := waitReady(t, e)
	replaceFile(t, path, append(header, '\n'))
	expectRejected(t, e, good, "no user rows")

	fewer := withoutLine(t, example, "bob.martin,")
	replaceFile(t, path, fewer)
	waitFor(t, patience, func() error {
		_, mfs := scrape(t, e.URL)
		if v := mustSample(t, mfs, "iam_credential_exporter_refresh_success", accountLabels); v != 1 {
			return fmt.Errorf("refresh_success = %v", v)
		}
		if got := userNames(mfs); len(got) != 12 || slices.Contains(got, "bob.martin") {
			return fmt.Errorf("serving %q, want the 12 users of the new report", got)
		}
		return nil
	})
}

// The same rejections through the AWS API: the response is too large, the
// report belongs to another account, or its GeneratedTime is in the future.
func TestAWSReportRejections(t *testing.T) {
	t.Parallel()
	other, err := os.ReadFile("../report/testdata/legacy_16col.csv") // account 111122223333
	if err != nil {
		t.Fatal(err)
	}
	example := exampleReport(t)
	tests := []struct {
		name    string
		args    []string
		breakIt func(t *testing.T, fake *fakeaws.Server)
		wantErr []string
	}{
		{
			name: "response larger than --report.max-bytes", args: []string{"--report.max-bytes=1048576"},
			breakIt: func(_ *testing.T, fake *fakeaws.Server) { fake.DefaultAccount().SetOversizedContent(2 << 20) },
			wantErr: []string{"larger than the configured limit"},
		},
		{
			name: "report of another account",
			breakIt: func(_ *testing.T, fake *fakeaws.Server) {
				fake.DefaultAccount().SetReport(other, time.Now().Add(-time.Hour))
			},
			wantErr: []string{"111122223333", "123456789012"},
		},
		{
			name: "GeneratedTime two days ahead",
			breakIt: func(_ *testing.T, fake *fakeaws.Server) {
				fake.DefaultAccount().SetReport(example, time.Now().Add(48*time.Hour))
			},
			wantErr: []string{"GeneratedTime"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := startFake(t)
			e := startExporter(t, fake.Environ(), append([]string{"--report.refresh-interval=200ms", "--report.timeout=5s"}, tt.args...)...)
			good := waitReady(t, e)
			tt.breakIt(t, fake)
			expectRejected(t, e, good, tt.wantErr...)
		})
	}
}

// --report.max-users must be positive.
func TestMaxUsersFlagValidated(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"0", "-1"} {
		cmd := exec.CommandContext(t.Context(), builtExporter(t), "--report.file=../report/testdata/example.csv",
			"--web.listen-address="+freeAddr(t), "--report.max-users="+v)
		out, err := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(string(out), "--report.max-users must be positive") {
			t.Errorf("--report.max-users=%s: exit %d (%v), want 2 and a message naming the flag:\n%s", v, code, err, out)
		}
	}
}

// A report file that blocks on read (a FIFO nobody writes, a hung network
// filesystem) fails each refresh at --report.timeout instead of hanging it,
// and does not keep the exporter from shutting down (startExporter fails the
// test if SIGINT does not stop it).
func TestReportFileBlockedReadTimesOut(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "report.fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("cannot make a FIFO: %v", err)
	}
	e := startExporter(t, nil, "--report.file="+path, "--report.refresh-interval=200ms", "--report.timeout=300ms")
	waitFor(t, patience, func() error {
		_, mfs := scrape(t, e.URL)
		if v, _ := sample(mfs, "iam_credential_exporter_refresh_failures_total", nil); v < 2 {
			return fmt.Errorf("refresh_failures_total = %v, want at least 2", v)
		}
		return nil
	})
	if !strings.Contains(e.Logs(), "context deadline exceeded") {
		t.Errorf("no refresh failed at the deadline:\n%s", e.Logs())
	}
}
