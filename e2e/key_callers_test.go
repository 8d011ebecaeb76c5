package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/fakeaws"
)

// The key callers end to end, through a real Prometheus: ci is mid-rotation
// and its old key is still used by one host; quiet has one key, used too.
// The host shows in IAMCredentialAccessKeyOldKeyStillUsed's text, quiet's
// key costs no LookupEvents call, and calls stay within the rate.
func TestKeyCallersAlert(t *testing.T) {
	t.Parallel()
	const (
		ciOld, ciNew = "AKIAE2ECIOLD00000001", "AKIAE2ECINEW00000002"
		quietKey     = "AKIAE2EQUIET00000003"
		host, agent  = "203.0.113.10", "aws-sdk-java/1.12 Jenkins/2.440"
	)
	now := time.Now().UTC().Truncate(time.Second)
	users := []fakeaws.User{
		{Name: "ci", AccessKeys: []fakeaws.AccessKey{
			{ID: ciOld, Created: now.Add(-100 * 24 * time.Hour), Active: true},
			{ID: ciNew, Created: now.Add(-3 * 24 * time.Hour), Active: true},
		}},
		{Name: "quiet", AccessKeys: []fakeaws.AccessKey{{ID: quietKey, Created: now.Add(-10 * 24 * time.Hour), Active: true}}},
	}
	fake := fakeaws.New(account)
	t.Cleanup(fake.Close)
	a := fake.DefaultAccount()
	a.SetUsers(users)
	report := fakeaws.ReportCSV(account, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), users)
	report = fakeaws.WithKeyLastUsed(report, "ci", 0, now.Add(-2*time.Hour), "us-east-1", "sts")
	report = fakeaws.WithKeyLastUsed(report, "quiet", 0, now.Add(-time.Hour), "us-east-1", "sts")
	a.SetReport(report, now.Add(-time.Hour))
	a.AddTrailEvents(
		fakeaws.TrailEvent{AccessKeyID: ciOld, Time: now.Add(-2 * time.Hour), SourceIP: host, UserAgent: agent},
		fakeaws.TrailEvent{AccessKeyID: ciOld, Time: now.Add(-26 * time.Hour), SourceIP: host, UserAgent: agent},
		fakeaws.TrailEvent{AccessKeyID: quietKey, Time: now.Add(-time.Hour), SourceIP: "192.0.2.50", UserAgent: "quiet"},
	)

	e := startExporter(t, append(fake.Environ(), fake.TrailEnviron()...),
		"--report.refresh-interval=1h", "--aws.key-callers", "--aws.key-callers.window=48h")
	waitFor(t, patience, func() error { _, err := httpGet(e.URL + "/-/ready"); return err })
	prom := startPrometheus(t, strings.TrimPrefix(e.URL, "http://"), ruleFiles(t))

	var description string
	waitFor(t, patience, func() error {
		alerts, err := prom.alerts()
		if err != nil {
			return err
		}
		for _, al := range alerts {
			if al.Labels["alertname"] == "IAMCredentialAccessKeyOldKeyStillUsed" && al.Labels["user"] == "ci" && al.State == "firing" {
				description = al.Annotations["description"]
				return nil
			}
		}
		return fmt.Errorf("IAMCredentialAccessKeyOldKeyStillUsed for ci is not firing; alerts: %v", alerts)
	})
	if want := "CloudTrail (sampled) saw it used by " + host + " with " + agent + " (sts.amazonaws.com), last "; !strings.Contains(description, want) {
		t.Errorf("alert text lacks %q:\n%s", want, description)
	}
	if !strings.Contains(description, "access key "+ciOld+" (slot 1)") {
		t.Errorf("alert text does not name the old key %s:\n%s", ciOld, description)
	}

	calls := fake.TrailCalls()
	byKey := map[string]int{}
	last := map[string]time.Time{}
	for _, c := range calls {
		byKey[c.AccessKeyID]++
		// The default rate is 1 a second per region; CloudTrail allows 2.
		if p, ok := last[c.Region]; ok && c.At.Sub(p) < 500*time.Millisecond {
			t.Errorf("two LookupEvents calls in %s %s apart: faster than 2 a second", c.Region, c.At.Sub(p))
		}
		last[c.Region] = c.At
	}
	if byKey[quietKey] != 0 {
		t.Errorf("the key not in a rotation cost %d LookupEvents calls, want 0", byKey[quietKey])
	}
	// Two days of a window, one page each, in us-east-1 only (the home
	// region, where the report says the keys were used).
	for _, k := range []string{ciOld, ciNew} {
		if byKey[k] != 2 {
			t.Errorf("key %s: %d LookupEvents calls, want 2", k, byKey[k])
		}
	}

	_, mfs := scrape(t, e.URL)
	got := series(mfs, "aws_iam_access_key_caller_sampled_events")
	want := []string{fmt.Sprintf("access_key_id=%s,account_id=%s,event_source=sts.amazonaws.com,key=1,origin=other,source_ip=%s,user=ci,user_agent=%s,2", ciOld, account, host, agent)}
	if !slices.Equal(got, want) {
		t.Errorf("aws_iam_access_key_caller_sampled_events:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if strings.Contains(e.Logs(), "level=WARN") || strings.Contains(e.Logs(), `"level":"WARN"`) {
		t.Errorf("the exporter warned:\n%s", e.Logs())
	}
}
