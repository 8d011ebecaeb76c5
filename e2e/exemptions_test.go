package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/fakeaws"
)

// The two sources of exemptions together, through the fake AWS endpoint:
// the exemptions file's entries (source="file") and the users' tags
// (--aws.exemptions, source="tag"), each with its first and last day; a
// malformed tag is one aws_iam_user_exemption_invalid series with its
// problem, and is logged without its reason.
func TestExemptionsFromFileAndTags(t *testing.T) {
	t.Parallel()
	const acct = "456789012345"
	now := time.Now().UTC()
	date := func(days int) string { return now.AddDate(0, 0, days).Format(time.DateOnly) }
	midnight := func(days int) float64 {
		d := now.AddDate(0, 0, days)
		return float64(time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC).Unix())
	}
	users := []fakeaws.User{
		{Name: "vendor-appliance", Tags: []fakeaws.Tag{{Key: "iam-credential-exemption:key-rotation", Value: date(-10) + "/" + date(20) + " SEC-7 appliance"}}},
		{Name: "self-exempt", Tags: []fakeaws.Tag{{Key: "iam-credential-exemption:Key-Rotation", Value: date(0) + "/" + date(365) + " trust me"}}},
		{Name: "old-form", Tags: []fakeaws.Tag{{Key: "iam-credential-exemption:console-mfa", Value: date(30) + " secret reason"}}},
		{Name: "build-bot"},
	}
	fake := fakeaws.New(acct)
	t.Cleanup(fake.Close)
	fake.DefaultAccount().SetUsers(users)
	fake.DefaultAccount().SetReport(fakeaws.ReportCSV(acct, now.AddDate(-1, 0, 0), users), now.Add(-time.Hour))

	file := filepath.Join(t.TempDir(), "exemptions.yml")
	if err := os.WriteFile(file, fmt.Appendf(nil, `exemptions:
  - account_id: "%s"
    user: build-bot
    policy: key-unused
    start: %s
    end: %s
    reason: SEC-9 yearly export
`, acct, date(5), date(60)), 0o600); err != nil {
		t.Fatal(err)
	}
	exp := startExporter(t, fake.Environ(), "--aws.exemptions", "--exemptions.file="+file)
	var got []string
	waitFor(t, patience, func() error {
		_, mfs := scrape(t, exp.URL)
		got = nil
		for _, name := range []string{"aws_iam_user_exemption_start_timestamp_seconds", "aws_iam_user_exemption_end_timestamp_seconds", "aws_iam_user_exemption_invalid"} {
			for _, m := range mfs[name].GetMetric() {
				var labels []string
				for _, l := range m.GetLabel() {
					if l.GetName() != "account_id" || l.GetValue() != acct {
						labels = append(labels, l.GetName()+"="+l.GetValue())
					}
				}
				got = append(got, fmt.Sprintf("%s{%s} %.0f", name, strings.Join(labels, ","), m.GetGauge().GetValue()))
			}
		}
		if len(got) < 6 {
			return fmt.Errorf("%d exemption series so far", len(got))
		}
		return nil
	})
	want := []string{
		fmt.Sprintf("aws_iam_user_exemption_start_timestamp_seconds{policy=key-rotation,reason=SEC-7 appliance,source=tag,user=vendor-appliance} %.0f", midnight(-10)),
		fmt.Sprintf("aws_iam_user_exemption_start_timestamp_seconds{policy=key-unused,reason=SEC-9 yearly export,source=file,user=build-bot} %.0f", midnight(5)),
		fmt.Sprintf("aws_iam_user_exemption_end_timestamp_seconds{policy=key-rotation,reason=SEC-7 appliance,source=tag,user=vendor-appliance} %.0f", midnight(21)),
		fmt.Sprintf("aws_iam_user_exemption_end_timestamp_seconds{policy=key-unused,reason=SEC-9 yearly export,source=file,user=build-bot} %.0f", midnight(61)),
		"aws_iam_user_exemption_invalid{policy=console-mfa,problem=bad_dates,user=old-form} 1",
		"aws_iam_user_exemption_invalid{policy=key-rotation,problem=span_too_long,user=self-exempt} 1",
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("exemption series:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	logs := exp.Logs()
	for _, want := range []string{"user=old-form tag=iam-credential-exemption:console-mfa", "the old form", "user=self-exempt", "more than the 90"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "secret reason") || strings.Contains(logs, "trust me") {
		t.Errorf("a tag's reason reached the log:\n%s", logs)
	}
}
