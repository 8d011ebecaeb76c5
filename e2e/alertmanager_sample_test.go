package e2e

// How many notifications the alerts of a 300-account organization cause
// under the example Alertmanager configuration, and under the example as it
// was before (a notification per alert, account and team). A measurement,
// not a check: it runs only with IAM_NOTIFICATION_SAMPLE=1, and
// alerts/README.md records its figures.

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// notificationBaseline is the commit whose alerts/alertmanager.example.yml
// the measurement compares with; IAM_NOTIFICATION_BASELINE overrides it.
const notificationBaseline = "d18644562c97d45dbce10bc55b6d1f06c0fe001a"

const sampleAccounts = 300

// sampleTeams are the teams of the sample's accounts; the example routes
// the first two.
var sampleTeams = []string{"payments", "platform", "data", "identity", "web"}

// notificationSample returns the firing alerts of sampleAccounts accounts,
// with the labels the rules give, the same on every call. Each account has
// six service users whose access key may be too old (15%), due (8%) or
// unused (20%), and four console users who may lack MFA (10%) or leave
// their password unused (15%); one account in ten has a root without MFA,
// and four in ten of those also an active root key. Five accounts in six have a
// team (mostly in lower case, some capitalised, a few in capitals), the
// sixth none. Add a few audit notices and four accounts whose refresh
// fails.
func notificationSample() []map[string]string {
	r := rand.New(rand.NewPCG(20, 300))
	var alerts []map[string]string
	percent := func(p int) bool { return r.IntN(100) < p }
	for i := range sampleAccounts {
		account := fmt.Sprintf("%012d", 100000000000+i)
		team := ""
		if i%6 < len(sampleTeams) {
			team = sampleTeams[i%6]
			switch n := r.IntN(10); {
			case n == 0:
				team = strings.ToUpper(team)
			case n < 4:
				team = strings.ToUpper(team[:1]) + team[1:]
			}
		}
		finding := func(alertname, severity, user, key string) {
			l := map[string]string{
				"alertname": alertname, "severity": severity, "category": "credential",
				"account_id": account, "user": user,
			}
			if key != "" {
				l["key"] = key
				l["access_key_id"] = fmt.Sprintf("AKIA%016d", len(alerts))
			}
			if team != "" {
				l["tag_team"] = team
				l["tag_owner"] = "owner-" + strings.ToLower(team)
			}
			alerts = append(alerts, l)
		}
		for u := range 6 {
			user := fmt.Sprintf("svc-%d", u)
			switch n := r.IntN(100); {
			case n < 15:
				finding("IAMCredentialAccessKeyTooOld", "warning", user, "1")
			case n < 23:
				finding("IAMCredentialAccessKeyRotationDue", "info", user, "1")
			}
			if percent(20) {
				finding("IAMCredentialAccessKeyUnused", "warning", user, "1")
			}
		}
		for u := range 4 {
			user := fmt.Sprintf("person-%d", u)
			if percent(10) {
				finding("IAMCredentialConsoleUserWithoutMFA", "warning", user, "")
			}
			if percent(15) {
				finding("IAMCredentialPasswordUnused", "warning", user, "")
			}
		}
		if percent(10) {
			finding("IAMCredentialRootWithoutMFA", "critical", "<root_account>", "")
			if percent(40) {
				finding("IAMCredentialRootAccessKeyActive", "critical", "<root_account>", "1")
			}
		}
	}
	for i := range 6 {
		alerts = append(alerts, map[string]string{
			"alertname": "IAMCredentialOwnerChanged", "severity": "info", "category": "audit",
			"account_id": fmt.Sprintf("%012d", 100000000000+50*i), "user": "svc-0", "tag_team": sampleTeams[i%5],
		})
	}
	for i := range 3 {
		alerts = append(alerts, map[string]string{
			"alertname": "IAMCredentialExemptionChanged", "severity": "info", "category": "audit",
			"account_id": fmt.Sprintf("%012d", 100000000007+90*i), "user": "svc-1", "policy": "key-rotation", "tag_team": sampleTeams[i],
		})
	}
	for i := range 4 {
		alerts = append(alerts, map[string]string{
			"alertname": "IAMCredentialRefreshFailing", "severity": "warning",
			"account_id": fmt.Sprintf("%012d", 100000000011+70*i), "job": "iam_credential_exporter", "instance": "10.0.0.5:9101",
		})
	}
	return alerts
}

// countNotifications runs Alertmanager on the configuration src, posts the
// alerts at once and returns the notifications each receiver's webhook gets
// at the first flush of each group. group_wait is 5s, long enough for
// Alertmanager to take in every alert before any group flushes; the 1h
// group_interval keeps a second flush out of the count, so an alert that
// came in late would show as undelivered, never as a notification too few.
func countNotifications(t *testing.T, name string, src []byte, alerts []map[string]string) map[string]int {
	t.Helper()
	amAddr, hooks := startWithWebhooks(t, name, src, "5s", "1h")
	postAlerts(t, amAddr, alerts...)
	counts := map[string]int{}
	waitFor(t, patience, func() error {
		var groups []amAlertGroup
		if err := amGet(amAddr, "alerts/groups", &groups); err != nil {
			return err
		}
		wantGroups, wantAlerts := map[string]int{}, map[string]int{}
		for _, g := range groups {
			active := 0
			for _, a := range g.Alerts {
				if a.Status.State == "active" {
					active++
				}
			}
			if active > 0 {
				wantGroups[g.Receiver.Name]++
				wantAlerts[g.Receiver.Name] += active
			}
		}
		for _, r := range slices.Sorted(maps.Keys(hooks)) {
			messages, errs := hooks[r].received()
			if len(errs) > 0 {
				t.Fatalf("%s: webhook %s: %s", name, r, errs)
			}
			delivered := 0
			for _, m := range messages {
				delivered += len(m.Alerts)
			}
			if len(messages) > wantGroups[r] {
				t.Fatalf("%s: %s got %d notifications for %d groups", name, r, len(messages), wantGroups[r])
			}
			if len(messages) < wantGroups[r] || delivered < wantAlerts[r] {
				return fmt.Errorf("%s: %s got %d notifications with %d alerts so far, want %d with %d",
					name, r, len(messages), delivered, wantGroups[r], wantAlerts[r])
			}
			counts[r] = len(messages)
		}
		return nil
	})
	return counts
}

// IAM_NOTIFICATION_SAMPLE=1 go test ./e2e/ -run TestAlertmanagerNotificationSample -v
func TestAlertmanagerNotificationSample(t *testing.T) {
	if os.Getenv("IAM_NOTIFICATION_SAMPLE") != "1" {
		t.Skip("a measurement: set IAM_NOTIFICATION_SAMPLE=1 to count the notifications of a 300-account sample")
	}
	requireAlertmanager(t)
	git := requireProgram(t, "git")
	rev := cmp.Or(os.Getenv("IAM_NOTIFICATION_BASELINE"), notificationBaseline)
	old, err := exec.Command(git, "show", rev+":alerts/alertmanager.example.yml").Output()
	if err != nil {
		t.Fatalf("git show %s:alerts/alertmanager.example.yml: %v", rev, err)
	}
	current, err := os.ReadFile(alertmanagerExample)
	if err != nil {
		t.Fatal(err)
	}

	alerts := notificationSample()
	byName := map[string]int{}
	for _, a := range alerts {
		byName[a["alertname"]]++
	}
	t.Logf("%d alerts from %d accounts:", len(alerts), sampleAccounts)
	for _, n := range slices.Sorted(maps.Keys(byName)) {
		t.Logf("  %-40s %4d", n, byName[n])
	}

	before := countNotifications(t, "the example at "+rev, old, alerts)
	after := countNotifications(t, alertmanagerExample, current, alerts)
	receivers := slices.Sorted(maps.Keys(maps.Collect(func(yield func(string, int) bool) {
		for _, m := range []map[string]int{before, after} {
			for r, n := range m {
				if !yield(r, n) {
					return
				}
			}
		}
	})))
	t.Logf("notifications at the first flush of each group:")
	t.Logf("| receiver | before (%.7s) | after |", rev)
	t.Logf("| --- | ---: | ---: |")
	var sumBefore, sumAfter int
	for _, r := range receivers {
		t.Logf("| %s | %d | %d |", r, before[r], after[r])
		sumBefore += before[r]
		sumAfter += after[r]
	}
	t.Logf("| total | %d | %d |", sumBefore, sumAfter)
}
