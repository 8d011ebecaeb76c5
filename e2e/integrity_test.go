package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	dto "github.com/prometheus/client_model/go"
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

// Each rejection has its package test (report's TestParseRejects and
// TestFileSourceErrors, refresh's TestRefresherRejectsReportsThatCannotFollow);
// these go through the binary: one rejected content, and the two flags that
// bound a report.
func TestReportFileRejections(t *testing.T) {
	t.Parallel()
	example := exampleReport(t)
	// A writer caught mid-write: the file ends inside dana.okafor's row, a
	// few cells in. Rows after it are missing, and nothing marks the end.
	dana := bytes.Index(example, []byte("\ndana.okafor,")) + 1
	cut := example[:dana+len("dana.okafor,arn:aws:iam::123456789012:user/dana.okafor,2026-11-20T09:00:12Z,tr")]
	extraRow := "\nzoe,arn:aws:iam::123456789012:user/zoe" + strings.Repeat(",N/A", 20)

	tests := []struct {
		name    string
		args    []string
		bad     []byte
		wantErr []string
	}{
		{name: "cut in the middle of a row", bad: cut, wantErr: []string{"truncated", "line 6"}},
		{name: "file too large", args: []string{"--report.max-bytes=" + strconv.Itoa(len(example)+100)},
			bad: append(bytes.Clone(example), bytes.Repeat([]byte("\n"), 200)...), wantErr: []string{"larger than the limit"}},
		{name: "more users than --report.max-users", args: []string{"--report.max-users=13"},
			bad: append(bytes.Clone(example), extraRow...), wantErr: []string{"more than 13 user rows"}},
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
			if strings.Contains(e.Logs(), "dana.okafor") {
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

// An AWS response larger than --report.max-bytes is rejected as a file is
// (another account's report, or a GeneratedTime ahead: refresh's
// TestRefresherRejectsReportsThatCannotFollow and awsapi's
// TestReportSourceChecksReport).
func TestAWSReportRejections(t *testing.T) {
	t.Parallel()
	fake := startFake(t)
	e := startExporter(t, fake.Environ(), "--report.refresh-interval=200ms", "--report.timeout=5s", "--report.max-bytes=1048576")
	good := waitReady(t, e)
	fake.DefaultAccount().SetOversizedContent(2 << 20)
	expectRejected(t, e, good, "larger than the configured limit")
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
