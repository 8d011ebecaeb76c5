package e2e

// The alert rules (alerts/) against promtool and a real Prometheus that
// scrapes the exporter: the rules are valid and unit-tested, and exactly the
// expected alerts fire on a report whose verdicts are known (the fixture
// report, which dashboards_test.go and move_test.go also use).

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/fakeaws"
	"go.yaml.in/yaml/v3"
)

const (
	rootUser    = "<root_account>"
	alertPrefix = "IAMCredential"
	runbookURL  = "https://github.com/iam-credential-exporter/iam_credential_exporter/blob/main/docs/runbook.md#"
)

func TestAlertRulesCheck(t *testing.T) {
	t.Parallel()
	promtool := requireProgram(t, "promtool")
	out, err := exec.Command(promtool, append([]string{"check", "rules"}, ruleFiles(t)...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	if bytes.Contains(out, []byte("WARNING")) {
		t.Errorf("promtool check rules warns:\n%s", out)
	}
}

func TestAlertRulesUnit(t *testing.T) {
	t.Parallel()
	promtool := requireProgram(t, "promtool")
	tests, err := filepath.Glob("../alerts/tests/*.yml")
	if err != nil || len(tests) == 0 {
		t.Fatalf("no rule tests in ../alerts/tests (err %v)", err)
	}
	// One promtool per file, side by side: promtool tests its files one
	// after another.
	for _, file := range tests {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".test.yml"), func(t *testing.T) {
			t.Parallel()
			out, err := exec.Command(promtool, "test", "rules", file).CombinedOutput()
			if err != nil {
				t.Fatalf("promtool test rules %s: %v\n%s", file, err, out)
			}
		})
	}
}

// Every alert has a runbook section, a unit test, and a line in the alert
// README. TestPrometheusAlerts checks the rules as Prometheus loads them.
func TestAlertsDocumentedAndTested(t *testing.T) {
	t.Parallel()
	names := alertNames(t)
	runbook := readText(t, "../docs/runbook.md")
	readme := readText(t, "../alerts/README.md")
	var tests strings.Builder
	files, _ := filepath.Glob("../alerts/tests/*.yml")
	for _, f := range files {
		tests.WriteString(readText(t, f))
	}
	for _, name := range names {
		if !strings.HasPrefix(name, alertPrefix) {
			t.Errorf("alert %s lacks the shared prefix %s", name, alertPrefix)
		}
		if !regexp.MustCompile(`(?m)^## ` + name + `$`).MatchString(runbook) {
			t.Errorf("docs/runbook.md has no section \"## %s\"", name)
		}
		if !strings.Contains(tests.String(), "alertname: "+name+"\n") {
			t.Errorf("no promtool unit test in alerts/tests names alert %s", name)
		}
		if !strings.Contains(readme, name) {
			t.Errorf("alerts/README.md does not list %s", name)
		}
	}
}

func alertNames(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, f := range ruleFiles(t) {
		var file struct {
			Groups []struct {
				Rules []renderedRule `yaml:"rules"`
			} `yaml:"groups"`
		}
		if err := yaml.Unmarshal([]byte(readText(t, f)), &file); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range file.Groups {
			for _, r := range g.Rules {
				if r.Alert != "" {
					names = append(names, r.Alert)
				}
			}
		}
	}
	if len(names) == 0 {
		t.Fatal("no alerts found in the rule files")
	}
	return names
}

// ---- the fixture report ----

// fixtureRow is one user of the fixture report. Ages are durations before
// the test starts; zero means the report's sentinel (N/A, or what real
// reports write in that column).
type fixtureRow struct {
	user                       string
	created                    time.Duration
	password                   string // "true", "false" or "not_supported" (root)
	pwUsed, pwChanged, pwNext  string // an age ("40d", "-60d" = in the future) or a sentinel
	mfa                        bool
	key1, key2                 fixtureKey
	cert1Active, cert2Active   bool
	cert1Rotated, cert2Rotated string
	plusOffset                 bool // write times as 2016-11-25T14:19:48+00:00 (older reports)
}

type fixtureKey struct {
	active                         bool
	rotated, used, region, service string
}

var noKey = fixtureKey{rotated: "N/A", used: "N/A", region: "N/A", service: "N/A"}

// fixtureRows is a report whose verdicts are known; expectedAlerts lists them.
var fixtureRows = []fixtureRow{
	// Root: no MFA, an active access key 400 days old used 2 hours ago.
	{user: rootUser, created: 1000 * day, password: "not_supported", pwUsed: "40d", pwChanged: "not_supported", pwNext: "not_supported",
		key1: fixtureKey{true, "400d", "2h", "us-east-1", "iam"}, key2: noKey, cert1Rotated: "N/A", cert2Rotated: "N/A"},
	// Console user with MFA; key 1 is 120 days old, key 2 is 10 days old and
	// never used (too young to be unused); cert 1 active and 200 days old,
	// cert 2 inactive and 300 days old.
	{user: "alice", created: 500 * day, password: "true", pwUsed: "2d", pwChanged: "30d", pwNext: "-60d", mfa: true,
		key1: fixtureKey{true, "120d", "1d", "us-east-1", "s3"}, key2: fixtureKey{true, "10d", "N/A", "N/A", "N/A"},
		cert1Active: true, cert1Rotated: "200d", cert2Rotated: "300d"},
	// Console user without MFA, last signed in 60 days ago; key 1 inactive
	// and old; key 2 rotated 89 days ago (due, not yet too old).
	{user: "bob", created: 300 * day, password: "true", pwUsed: "60d", pwChanged: "100d", pwNext: "N/A",
		key1: fixtureKey{false, "400d", "200d", "eu-west-1", "ec2"}, key2: fixtureKey{true, "89d", "5h", "eu-west-1", "sts"},
		cert1Rotated: "N/A", cert2Rotated: "N/A", plusOffset: true},
	// API-only user without password or MFA: key 100 days old, never used.
	{user: "carol", created: 150 * day, password: "false", pwUsed: "N/A", pwChanged: "N/A", pwNext: "N/A",
		key1: fixtureKey{true, "100d", "N/A", "N/A", "N/A"}, key2: noKey, cert1Rotated: "N/A", cert2Rotated: "N/A"},
	// A CI user whose name holds + and @: recent key in use, nothing to say.
	{user: "ci+deploy@corp", created: 25 * day, password: "false", pwUsed: "N/A", pwChanged: "N/A", pwNext: "N/A",
		key1: fixtureKey{true, "20d", "1h", "us-west-2", "ecr"}, key2: noKey, cert1Rotated: "N/A", cert2Rotated: "N/A"},
	// Password set 50 days ago and never used; key last used 50 days ago.
	{user: "dave", created: 400 * day, password: "true", pwUsed: "no_information", pwChanged: "50d", pwNext: "N/A", mfa: true,
		key1: fixtureKey{true, "60d", "50d", "us-east-1", "lambda"}, key2: noKey, cert1Rotated: "N/A", cert2Rotated: "N/A"},
	// Password set 10 days ago and never used: not yet unused.
	{user: "erin", created: 100 * day, password: "true", pwUsed: "no_information", pwChanged: "10d", pwNext: "N/A", mfa: true,
		key1: noKey, key2: noKey, cert1Rotated: "N/A", cert2Rotated: "N/A"},
	// Password never used, no change date: counts from creation 50 days ago.
	{user: "frank", created: 50 * day, password: "true", pwUsed: "no_information", pwChanged: "N/A", pwNext: "N/A", mfa: true,
		key1: noKey, key2: noKey, cert1Rotated: "N/A", cert2Rotated: "N/A"},
	// Key created 46 days ago, never used.
	{user: "grace", created: 60 * day, password: "false", pwUsed: "N/A", pwChanged: "N/A", pwNext: "N/A",
		key1: fixtureKey{true, "46d", "N/A", "N/A", "N/A"}, key2: noKey, cert1Rotated: "N/A", cert2Rotated: "N/A"},
	// A name with a comma (quoted in the CSV); key used for S3 (region N/A).
	{user: "svc,reports", created: 30 * day, password: "false", pwUsed: "N/A", pwChanged: "N/A", pwNext: "N/A",
		key1: fixtureKey{true, "20d", "3h", "N/A", "s3"}, key2: noKey, cert1Rotated: "N/A", cert2Rotated: "N/A"},
}

// reportAge is how old the fixture report is (its file's modification
// time): past the 6-hour limit of IAMCredentialReportStale.
const reportAge = 7 * time.Hour

const day = 24 * time.Hour

// expectedAlerts are the verdicts on fixtureRows, as "alertname severity
// user key cert" (empty fields as "-").
var expectedAlerts = []string{
	"IAMCredentialRootAccessKeyActive critical <root_account> 1 -",
	"IAMCredentialRootWithoutMFA critical <root_account> - -",
	"IAMCredentialRootRecentlyUsed warning <root_account> - -",
	"IAMCredentialAccessKeyTooOld warning alice 1 -",
	"IAMCredentialAccessKeyTooOld warning carol 1 -",
	"IAMCredentialAccessKeyOldKeyStillUsed warning alice 1 -",
	"IAMCredentialSigningCertificateTooOld info alice - 1",
	"IAMCredentialConsoleUserWithoutMFA warning bob - -",
	"IAMCredentialPasswordUnused warning bob - -",
	"IAMCredentialPasswordUnused warning dave - -",
	"IAMCredentialPasswordUnused warning frank - -",
	"IAMCredentialAccessKeyRotationDue info bob 2 -",
	"IAMCredentialAccessKeyUnused warning carol 1 -",
	"IAMCredentialAccessKeyUnused warning dave 1 -",
	"IAMCredentialAccessKeyUnused warning grace 1 -",
	"IAMCredentialAccessKeyInactiveNotDeleted info bob 1 -",
	"IAMCredentialReportStale warning - - -",
}

var fixtureAgeRE = regexp.MustCompile(`^-?[0-9]+[dh]$`)

// fixtureAge reads an age of fixtureRows ("40d", "2h", "-60d"); ok is false
// for a sentinel, which the report writes as it is.
func fixtureAge(t *testing.T, v string) (age time.Duration, ok bool) {
	t.Helper()
	if !fixtureAgeRE.MatchString(v) {
		return 0, false
	}
	unit := day
	if strings.HasSuffix(v, "h") {
		unit = time.Hour
	}
	n, err := strconv.Atoi(v[:len(v)-1])
	if err != nil {
		t.Fatalf("fixture age %q: %v", v, err)
	}
	return time.Duration(n) * unit, true
}

// fixtureReportCSV returns the fixture as a credential report CSV, with
// every age taken back from now.
func fixtureReportCSV(t *testing.T, now time.Time) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"user", "arn", "user_creation_time", "password_enabled", "password_last_used",
		"password_last_changed", "password_next_rotation", "mfa_active",
		"access_key_1_active", "access_key_1_last_rotated", "access_key_1_last_used_date",
		"access_key_1_last_used_region", "access_key_1_last_used_service",
		"access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date",
		"access_key_2_last_used_region", "access_key_2_last_used_service",
		"cert_1_active", "cert_1_last_rotated", "cert_2_active", "cert_2_last_rotated"})
	for _, r := range fixtureRows {
		layout := "2006-01-02T15:04:05Z"
		if r.plusOffset {
			layout = "2006-01-02T15:04:05+00:00"
		}
		at := func(v string) string {
			age, ok := fixtureAge(t, v)
			if !ok {
				return v // a sentinel
			}
			return now.Add(-age).UTC().Format(layout)
		}
		arn := "arn:aws:iam::" + promAccount + ":user/" + r.user
		if r.user == rootUser {
			arn = "arn:aws:iam::" + promAccount + ":root"
		}
		w.Write([]string{r.user, arn, now.Add(-r.created).UTC().Format(layout), r.password,
			at(r.pwUsed), at(r.pwChanged), at(r.pwNext), fmt.Sprint(r.mfa),
			fmt.Sprint(r.key1.active), at(r.key1.rotated), at(r.key1.used), r.key1.region, r.key1.service,
			fmt.Sprint(r.key2.active), at(r.key2.rotated), at(r.key2.used), r.key2.region, r.key2.service,
			fmt.Sprint(r.cert1Active), at(r.cert1Rotated), fmt.Sprint(r.cert2Active), at(r.cert2Rotated)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeFixtureReport writes the fixture report to path, dated reportAge
// ago.
func writeFixtureReport(t *testing.T, path string, now time.Time) {
	t.Helper()
	if err := os.WriteFile(path, fixtureReportCSV(t, now), 0o644); err != nil {
		t.Fatal(err)
	}
	generated := now.Add(-reportAge)
	if err := os.Chtimes(path, generated, generated); err != nil {
		t.Fatal(err)
	}
}

// fixtureOwners are the owner and team tags of the fixture's users on the
// fake AWS endpoint: users with a team, one with an owner and no team, and
// users with neither, whom the team variable's All keeps.
var fixtureOwners = map[string]struct{ owner, team string }{
	"alice":          {"alice@example.com", "payments"},
	"bob":            {"bob@example.com", "web"},
	"carol":          {"data-eng@example.com", "data"},
	"ci+deploy@corp": {"", "platform"},
	"dave":           {"dave@example.com", ""},
}

// fixtureTeam is a team of fixtureOwners with an active key in the fixture.
const fixtureTeam = "payments"

// fixtureUsers are the fixture's IAM users as the fake AWS endpoint lists
// them: their owner and team tags; exemption tags, of which two are in
// force on findings that hold (bob's console without MFA, carol's key of
// 100 days, which ends within 14 days), one has ended and one is
// malformed; and every key of the report with an ID, created in the second
// of its slot's last_rotated so that the exporter matches them.
func fixtureUsers(t *testing.T, now time.Time) []fakeaws.User {
	t.Helper()
	date := func(days int) string { return now.AddDate(0, 0, days).UTC().Format(time.DateOnly) }
	exemptions := map[string][]fakeaws.Tag{
		"bob":   {{Key: "iam-credential-exemption:console-mfa", Value: date(-1) + "/" + date(30) + " SEC-101 hardware key on order"}},
		"carol": {{Key: "iam-credential-exemption:key-rotation", Value: date(-60) + "/" + date(10) + " SEC-102 vendor appliance rotates at its upgrade"}},
		"dave":  {{Key: "iam-credential-exemption:password-unused", Value: date(-90) + "/" + date(-3) + " SEC-103 parental leave"}},
		"grace": {{Key: "iam-credential-exemption:key-unused", Value: "next week"}},
	}
	var users []fakeaws.User
	for i, r := range fixtureRows {
		if r.user == rootUser {
			continue // root's keys are never looked up
		}
		u := fakeaws.User{Name: r.user, Tags: exemptions[r.user]}
		if o, ok := fixtureOwners[r.user]; ok {
			for _, tag := range []fakeaws.Tag{{Key: "owner", Value: o.owner}, {Key: "team", Value: o.team}} {
				if tag.Value != "" {
					u.Tags = append(u.Tags, tag)
				}
			}
		}
		for slot, k := range []fixtureKey{r.key1, r.key2} {
			if age, ok := fixtureAge(t, k.rotated); ok {
				u.AccessKeys = append(u.AccessKeys, fakeaws.AccessKey{
					ID: fmt.Sprintf("AKIAFIXTURE%07d%02d", i, slot+1), Created: now.Add(-age), Active: k.active})
			}
		}
		users = append(users, u)
	}
	return users
}

// ---- the end-to-end tests ----

// The exporter serves a report whose verdicts are known; a real Prometheus
// scrapes it with the rules loaded. Exactly the expected alerts are pending
// or firing, and every rule evaluates cleanly. The dashboards are checked
// by TestPrometheusDashboards, on data with owners, key IDs and exemptions,
// which a report file cannot give.
func TestPrometheusAlerts(t *testing.T) {
	t.Parallel()
	requireProgram(t, "prometheus")
	rules := ruleFiles(t)
	reportPath := filepath.Join(t.TempDir(), "credential-report.csv")
	writeFixtureReport(t, reportPath, time.Now())
	exp := startExporter(t, nil, "--report.file="+reportPath)
	target := strings.TrimPrefix(exp.URL, "http://")
	prom := startPrometheus(t, target, rules)

	waitFor(t, patience, func() error {
		n, err := prom.query(fmt.Sprintf(`up{job=%q} == 1 and on (job, instance) aws_iam_credential_report_users{account_id=%q}`, promJob, promAccount))
		if err == nil && n == 0 {
			err = fmt.Errorf("target not up with the report yet")
		}
		return err
	})

	t.Run("rules", func(t *testing.T) { checkRules(t, prom) })
	t.Run("alerts", func(t *testing.T) { checkAlerts(t, prom, target) })
}

// checkRules: every rule has been evaluated without error, and every alert
// carries a severity, a summary, a description and a runbook link to a
// section that exists.
func checkRules(t *testing.T, prom *promServer) {
	var rules []promRule
	waitFor(t, patience, func() error {
		var err error
		rules, err = prom.rules()
		if err != nil {
			return err
		}
		for _, r := range rules {
			if r.LastEvaluation.IsZero() || r.Health == "unknown" {
				return fmt.Errorf("rule %s not evaluated yet", r.Name)
			}
		}
		return nil
	})
	if got, want := countAlerting(rules), len(alertNames(t)); got != want {
		t.Errorf("Prometheus loaded %d alerting rules, the rule files define %d", got, want)
	}
	runbook := readText(t, "../docs/runbook.md")
	for _, r := range rules {
		if r.Health != "ok" || r.LastError != "" {
			t.Errorf("rule %s: health %q, error %q", r.Name, r.Health, r.LastError)
		}
		if r.Type != "alerting" {
			continue
		}
		if s := r.Labels["severity"]; s != "critical" && s != "warning" && s != "info" {
			t.Errorf("alert %s: severity %q, want critical, warning or info", r.Name, s)
		}
		for _, a := range []string{"summary", "description", "runbook_url"} {
			if r.Annotations[a] == "" {
				t.Errorf("alert %s has no %s", r.Name, a)
			}
		}
		if u := r.Annotations["runbook_url"]; u != runbookURL+strings.ToLower(r.Name) {
			t.Errorf("alert %s: runbook_url %q, want %q", r.Name, u, runbookURL+strings.ToLower(r.Name))
		}
		if !strings.Contains(runbook, "\n## "+r.Name+"\n") {
			t.Errorf("alert %s: docs/runbook.md has no section for it", r.Name)
		}
	}
}

func countAlerting(rules []promRule) int {
	n := 0
	for _, r := range rules {
		if r.Type == "alerting" {
			n++
		}
	}
	return n
}

// checkAlerts waits until the pending and firing alerts are exactly the
// expected ones, twice in a row, then checks their labels and annotations.
func checkAlerts(t *testing.T, prom *promServer, target string) {
	want := slices.Clone(expectedAlerts)
	sort.Strings(want)
	var got []promAlert
	var stableSince time.Time
	waitFor(t, patience, func() error {
		var err error
		got, err = prom.alerts()
		if err != nil {
			stableSince = time.Time{}
			return err
		}
		var gotKeys []string
		for _, a := range got {
			gotKeys = append(gotKeys, alertKey(a))
		}
		sort.Strings(gotKeys)
		if !slices.Equal(gotKeys, want) {
			stableSince = time.Time{}
			return fmt.Errorf("alerts are not the expected set\nmissing:\n  %s\nunexpected:\n  %s",
				strings.Join(minus(want, gotKeys), "\n  "), strings.Join(minus(gotKeys, want), "\n  "))
		}
		return heldFor(&stableSince, 3*time.Second)
	})

	for _, a := range got {
		name := a.Labels["alertname"]
		// A credential alert is keyed by what it is about: no label of the
		// scrape path. Exporter-health alerts keep theirs.
		if a.Labels["category"] == "credential" {
			if a.Labels["job"] != "" || a.Labels["instance"] != "" || a.Labels["account_id"] != promAccount {
				t.Errorf("%s: job/instance/account_id = %q/%q/%q, want \"\"/\"\"/%q", alertKey(a),
					a.Labels["job"], a.Labels["instance"], a.Labels["account_id"], promAccount)
			}
		} else if a.Labels["job"] != promJob || a.Labels["instance"] != target || a.Labels["account_id"] != promAccount {
			t.Errorf("%s: job/instance/account_id = %q/%q/%q, want %q/%q/%q", alertKey(a),
				a.Labels["job"], a.Labels["instance"], a.Labels["account_id"], promJob, target, promAccount)
		}
		// A key alert names its next step's AWS CLI command for its user.
		if k := a.Labels["key"]; k != "" && a.Labels["user"] != rootUser {
			if cmd := a.Annotations["command"]; !strings.HasPrefix(cmd, "aws iam ") || !strings.Contains(cmd, a.Labels["user"]) && !strings.Contains(cmd, "--access-key-id") {
				t.Errorf("%s: command %q is not an aws iam command for its key", alertKey(a), cmd)
			}
		}
		// The description names the account, the user, the key (as
		// "slot 1") or certificate, and its age in days.
		desc := a.Annotations["description"]
		const days = `[0-9] days\b`
		wantIn := []string{regexp.QuoteMeta(promAccount)}
		if u := a.Labels["user"]; u != "" && u != rootUser {
			wantIn = append(wantIn, `user `+regexp.QuoteMeta(u)+` `)
		}
		if k := a.Labels["key"]; k != "" {
			wantIn = append(wantIn, `slot `+k+`\b`, days)
		}
		if c := a.Labels["cert"]; c != "" {
			wantIn = append(wantIn, `certificate `+c+`\b`, days)
		}
		for _, w := range wantIn {
			if !regexp.MustCompile(w).MatchString(desc) {
				t.Errorf("%s: description %q does not match %q", alertKey(a), desc, w)
			}
		}
		for k, v := range a.Annotations {
			if strings.Contains(v, "<no value>") || strings.Contains(v, "%!") || strings.Contains(v, "error") {
				t.Errorf("%s: annotation %s badly rendered: %q", name, k, v)
			}
		}
	}
}

// minus returns the elements of a that are not in b.
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// alertKey is how expectedAlerts names an alert.
func alertKey(a promAlert) string {
	f := func(name string) string {
		if v := a.Labels[name]; v != "" {
			return v
		}
		return "-"
	}
	return strings.Join([]string{f("alertname"), f("severity"), f("user"), f("key"), f("cert")}, " ")
}

// heldFor returns nil once the expected alerts have held for d since
// *since, which it sets on the first call after a reset to zero. Rules are
// evaluated every second: held for 3s, a set has survived several
// evaluations.
func heldFor(since *time.Time, d time.Duration) error {
	if since.IsZero() {
		*since = time.Now()
	}
	if held := time.Since(*since); held < d {
		return fmt.Errorf("the expected alerts have held for only %v", held.Round(time.Millisecond))
	}
	return nil
}
