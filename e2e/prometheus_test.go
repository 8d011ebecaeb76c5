package e2e

// The alert rules (alerts/) and the Grafana dashboards (dashboards/) against
// promtool and a real Prometheus that scrapes the exporter: the rules are
// valid and unit-tested, exactly the expected alerts fire on a report whose
// verdicts are known, and every dashboard query is valid PromQL that returns
// data.

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/fakeaws"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/reportgen"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/testenv"
)

const (
	promJob     = "iam_credential_exporter"
	promAccount = "210987654321"
	rootUser    = "<root_account>"
	alertPrefix = "IAMCredential"
	runbookURL  = "https://github.com/iam-credential-exporter/iam_credential_exporter/blob/main/docs/runbook.md#"
)

// ruleFiles are the rule files that users load; test files live in
// alerts/tests, and alerts/alertmanager.example.yml is no rule file.
func ruleFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("../alerts/*.rules.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files in ../alerts (err %v)", err)
	}
	return files
}

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
	out, err := exec.Command(promtool, append([]string{"test", "rules"}, tests...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// Every alert has a runbook section, a unit test, and a line in the alert
// README. The names are read from the rule files as text so that this test
// needs no YAML library; TestPrometheusAlerts checks the parsed
// rules through the Prometheus API.
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
	re := regexp.MustCompile(`(?m)^\s*- alert:\s*(\S+)\s*$`)
	for _, f := range ruleFiles(t) {
		for _, m := range re.FindAllStringSubmatch(readText(t, f), -1) {
			names = append(names, m[1])
		}
	}
	if len(names) == 0 {
		t.Fatal("no alerts found in the rule files")
	}
	return names
}

func readText(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
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

// ---- a Prometheus server ----

type promServer struct {
	URL    string
	Config string // the configuration file, which SIGHUP reads again
	logs   *testenv.Buffer
}

// Logs returns what prometheus wrote so far.
func (p *promServer) Logs() string { return p.logs.String() }

// startPrometheus runs prometheus on a free loopback port, scraping target
// as job promJob and loading the rule files, and stops it when the test ends.
func startPrometheus(t *testing.T, target string, rules []string) *promServer {
	t.Helper()
	return runPrometheus(t, "testdata/prometheus/prometheus.yml", map[string]any{"Target": target}, rules)
}

// runPrometheus runs prometheus with the configuration template configTemplate, executed
// with data plus the rule files' absolute paths (RuleFiles) and the job name
// (Job).
func runPrometheus(t *testing.T, configTemplate string, data map[string]any, rules []string) *promServer {
	t.Helper()
	requireProgram(t, "prometheus")
	data["RuleFiles"], data["Job"] = absPaths(t, rules), promJob
	tmpl := template.Must(template.ParseFiles(configTemplate))
	var cfg bytes.Buffer
	if err := tmpl.Execute(&cfg, data); err != nil {
		t.Fatal(err)
	}
	return startPrometheusConfig(t, cfg.Bytes())
}

// startPrometheusConfig runs prometheus with the configuration cfg on a
// free loopback port, and stops it when the test ends.
func startPrometheusConfig(t *testing.T, cfg []byte) *promServer {
	t.Helper()
	p, _ := startPrometheusProcess(t, cfg)
	return p
}

// startPrometheusProcess is startPrometheusConfig that also returns the
// process, for tests that read its memory.
func startPrometheusProcess(t testing.TB, cfg []byte) (*promServer, *testenv.Process) {
	t.Helper()
	bin := requireProgram(t, "prometheus")
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	p := &promServer{URL: "http://" + addr, Config: cfgPath}
	cmd := exec.CommandContext(t.Context(), bin,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
	)
	proc := testenv.Start(t, "prometheus", cmd, 15*time.Second, false)
	p.logs = proc.Logs
	waitFor(t, patience, func() error {
		_, err := httpGet(p.URL + "/-/ready")
		return err
	})
	return p, proc
}

// absPaths returns the absolute paths of files, as Prometheus, which runs
// in no particular directory, needs them.
func absPaths(t testing.TB, files []string) []string {
	t.Helper()
	var abs []string
	for _, f := range files {
		a, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		abs = append(abs, a)
	}
	return abs
}

// api calls a Prometheus HTTP API endpoint and decodes its data field.
func (p *promServer) api(path string, params url.Values, data any) error {
	u := p.URL + path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	body, err := httpGet(u)
	var resp struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if jerr := json.Unmarshal([]byte(body), &resp); jerr != nil {
		if err != nil {
			return err
		}
		return fmt.Errorf("GET %s: %v", u, jerr)
	}
	if resp.Status != "success" {
		return fmt.Errorf("GET %s: %s", u, resp.Error)
	}
	return json.Unmarshal(resp.Data, data)
}

// query runs an instant query and returns how many series or values it gave.
func (p *promServer) query(expr string) (int, error) {
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := p.api("/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		return 0, err
	}
	switch data.ResultType {
	case "vector", "matrix":
		var r []json.RawMessage
		if err := json.Unmarshal(data.Result, &r); err != nil {
			return 0, err
		}
		return len(r), nil
	default: // scalar, string
		return 1, nil
	}
}

type promAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
}

func (p *promServer) alerts() ([]promAlert, error) {
	var data struct {
		Alerts []promAlert `json:"alerts"`
	}
	err := p.api("/api/v1/alerts", nil, &data)
	return data.Alerts, err
}

type promRule struct {
	Name           string            `json:"name"`
	Type           string            `json:"type"`
	Health         string            `json:"health"`
	LastError      string            `json:"lastError"`
	Labels         map[string]string `json:"labels"`
	Annotations    map[string]string `json:"annotations"`
	LastEvaluation time.Time         `json:"lastEvaluation"`
	EvaluationTime float64           `json:"evaluationTime"` // seconds
}

func (p *promServer) rules() ([]promRule, error) {
	var data struct {
		Groups []struct {
			Rules []promRule `json:"rules"`
		} `json:"groups"`
	}
	err := p.api("/api/v1/rules", nil, &data)
	var out []promRule
	for _, g := range data.Groups {
		out = append(out, g.Rules...)
	}
	return out, err
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

// The dashboards against a real Prometheus that scrapes the exporter
// reading the fixture report through the fake AWS endpoint, with the
// lookups the panels show: owners and teams (--aws.user-tags), key IDs
// (--aws.access-key-ids) and exemptions (--aws.exemptions), and the rules
// loaded. Every panel and variable query is valid PromQL and returns data,
// and the team variable filters the access keys while its All keeps the
// users without a team.
func TestPrometheusDashboards(t *testing.T) {
	t.Parallel()
	requireProgram(t, "prometheus")
	now := time.Now()
	users := fixtureUsers(t, now)
	fake := fakeaws.New(promAccount)
	t.Cleanup(fake.Close)
	fake.DefaultAccount().SetUsers(users)
	fake.DefaultAccount().SetReport(fixtureReportCSV(t, now), now.Add(-time.Hour))
	exp := startExporter(t, fake.Environ(), "--aws.user-tags=owner,team", "--aws.exemptions",
		"--aws.access-key-ids", "--aws.access-key-ids.rate=100")

	// Prometheus starts once the lookups are served, as it would find them
	// on a long-running exporter.
	keys := 0
	for _, u := range users {
		keys += len(u.AccessKeys)
	}
	waitFor(t, patience, func() error {
		_, mfs := scrape(t, exp.URL)
		for _, lookup := range []string{"user_tags", "access_key_ids"} {
			if v, ok := sample(mfs, "iam_credential_exporter_lookup_success", map[string]string{"lookup": lookup}); !ok || v != 1 {
				return fmt.Errorf("lookup %s has not succeeded yet", lookup)
			}
		}
		if n := len(mfs["aws_iam_access_key_info"].GetMetric()); n != keys {
			return fmt.Errorf("%d key IDs served, want %d", n, keys)
		}
		return nil
	})
	// The dashboards work with the exporter as one target and as
	// per-account targets, configured as docs/multi-account.md says (under the job
	// name the queries below use).
	addr := strings.TrimPrefix(exp.URL, "http://")
	t.Run("one target", func(t *testing.T) {
		t.Parallel()
		checkDashboards(t, startPrometheus(t, addr, ruleFiles(t)))
	})
	t.Run("per-account targets", func(t *testing.T) {
		t.Parallel()
		cfg, job := promConfigFromDocs(t, docsSDConfig(t), addr, ruleFiles(t), false)
		cfg = bytes.Replace(cfg, []byte("job_name: "+job), []byte("job_name: "+promJob), 1)
		checkDashboards(t, startPrometheusConfig(t, cfg))
	})
}

// checkDashboards runs every dashboard query on prom, once it has scraped
// the exporter a few times and evaluated the rules on the result.
func checkDashboards(t *testing.T, prom *promServer) {
	// A few scrapes, for the increase() over $__range, then a few rule
	// evaluations on them: the recording rules over ALERTS need the alerts
	// of an earlier evaluation.
	waitFor(t, patience, func() error {
		n, err := prom.query(fmt.Sprintf(`count_over_time(up{job=%q}[1m]) >= 3`, promJob))
		if err == nil && n == 0 {
			err = fmt.Errorf("fewer than 3 scrapes so far")
		}
		return err
	})
	scraped := time.Now()
	waitFor(t, patience, func() error {
		rules, err := prom.rules()
		if err != nil {
			return err
		}
		for _, r := range rules {
			if r.LastEvaluation.Before(scraped.Add(2 * time.Second)) {
				return fmt.Errorf("rule %s not evaluated on the data yet", r.Name)
			}
		}
		return nil
	})
	if rules, err := prom.rules(); err == nil {
		for _, r := range rules {
			if r.Health != "ok" {
				t.Logf("rule %s: health %q, error %q (its panels may stay empty)", r.Name, r.Health, r.LastError)
			}
		}
	}

	checkDashboardQueries(t, prom)
	checkTeamFilter(t, prom)
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

// ---- dashboards ----

type dashPanel struct {
	ID              int         `json:"id"`
	Type            string      `json:"type"`
	Title           string      `json:"title"`
	Targets         []dashQuery `json:"targets"`
	Panels          []dashPanel `json:"panels"`
	Data            *dashRef    `json:"datasource"`
	Transformations []struct {
		ID      string `json:"id"`
		Options struct {
			IndexByName map[string]int `json:"indexByName"`
		} `json:"options"`
	} `json:"transformations"`
	Grid *struct {
		H, W, X, Y int
	} `json:"gridPos"`
}

type dashQuery struct {
	RefID  string   `json:"refId"`
	Expr   string   `json:"expr"`
	Legend string   `json:"legendFormat"`
	Data   *dashRef `json:"datasource"`
}

type dashRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type dashVar struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Definition string          `json:"definition"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
	AllValue   string          `json:"allValue"`
	Regex      string          `json:"regex"`
}

type dashboard struct {
	path          string
	UID           string      `json:"uid"`
	Title         string      `json:"title"`
	ID            *int        `json:"id"`
	SchemaVersion int         `json:"schemaVersion"`
	Panels        []dashPanel `json:"panels"`
	Inputs        []any       `json:"__inputs"`
	Templating    struct {
		List []dashVar `json:"list"`
	} `json:"templating"`
}

func loadDashboards(t *testing.T) []dashboard {
	t.Helper()
	files, err := filepath.Glob("../dashboards/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in ../dashboards (err %v)", err)
	}
	var out []dashboard
	for _, f := range files {
		var d dashboard
		if err := json.Unmarshal([]byte(readText(t, f)), &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		d.path = filepath.Base(f)
		out = append(out, d)
	}
	return out
}

// organizeColumns returns the column order that a panel's organize
// transformation sets, by field name.
func organizeColumns(p dashPanel) map[string]int {
	var columns map[string]int
	for _, tr := range p.Transformations {
		if tr.ID == "organize" {
			columns = tr.Options.IndexByName
		}
	}
	return columns
}

// allPanels flattens rows.
func allPanels(ps []dashPanel) []dashPanel {
	var out []dashPanel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// builtinPanels are the panel types that ship with Grafana and that these
// dashboards may use.
var builtinPanels = []string{"row", "stat", "table", "timeseries", "bargauge", "gauge", "text", "state-timeline", "histogram", "piechart", "barchart"}

// Importable as-is: stable unique uids, a current schema, no import-time
// inputs, the datasource/job/account_id variables, built-in panels only,
// and every query on the ${datasource} variable.
func TestDashboardsStatic(t *testing.T) {
	t.Parallel()
	uids := map[string]string{}
	for _, d := range loadDashboards(t) {
		if d.UID == "" || len(d.UID) > 40 {
			t.Errorf("%s: uid %q must be set and at most 40 characters", d.path, d.UID)
		}
		if other, dup := uids[d.UID]; dup {
			t.Errorf("%s and %s share uid %q", d.path, other, d.UID)
		}
		uids[d.UID] = d.path
		if d.ID != nil {
			t.Errorf("%s: id must be null so that imports create the dashboard", d.path)
		}
		if d.SchemaVersion < 39 {
			t.Errorf("%s: schemaVersion %d is not current", d.path, d.SchemaVersion)
		}
		if len(d.Inputs) > 0 {
			t.Errorf("%s: __inputs make the dashboard not importable as-is; use the datasource variable", d.path)
		}
		vars := map[string]dashVar{}
		for _, v := range d.Templating.List {
			vars[v.Name] = v
		}
		if v, ok := vars["datasource"]; !ok || v.Type != "datasource" {
			t.Errorf("%s: no datasource variable", d.path)
		}
		if _, ok := vars["job"]; !ok {
			t.Errorf("%s: no job variable", d.path)
		}
		if v, ok := vars["account_id"]; !ok || !v.Multi || !v.IncludeAll {
			t.Errorf("%s: account_id variable missing, or not multi-select with All", d.path)
		}
		ids := map[int]bool{}
		for _, p := range allPanels(d.Panels) {
			if !slices.Contains(builtinPanels, p.Type) {
				t.Errorf("%s: panel %q has type %q, not a built-in panel", d.path, p.Title, p.Type)
			}
			if ids[p.ID] {
				t.Errorf("%s: panel id %d used twice", d.path, p.ID)
			}
			ids[p.ID] = true
			if p.Grid == nil {
				t.Errorf("%s: panel %q has no gridPos", d.path, p.Title)
			}
			if p.Type == "row" {
				continue
			}
			if p.Data == nil || p.Data.UID != "${datasource}" || p.Data.Type != "prometheus" {
				t.Errorf("%s: panel %q does not use the ${datasource} variable", d.path, p.Title)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", d.path, p.Title)
			}
			for _, q := range p.Targets {
				if q.Expr == "" || q.RefID == "" || q.Data == nil || q.Data.UID != "${datasource}" {
					t.Errorf("%s: panel %q query %q: needs expr, refId and the ${datasource} variable", d.path, p.Title, q.RefID)
				}
			}
		}
	}
}

// accountNameJoinRE matches how panels label an account's rows with its name:
// every row keeps its account_id, and gains a name label where the account
// has one (group_left copies no label whose value is empty).
var accountNameJoinRE = regexp.MustCompile(`\* on \(account_id\) group_left \(name(, alias)?\) topk by \(account_id\) \(1, aws_iam_account_info\{`)

// Accounts are shown by name as well as ID: the account_id variable offers
// "name (ID)", and every table with an account column, and every per-account
// series, carries the name from aws_iam_account_info.
func TestDashboardsShowAccountNames(t *testing.T) {
	t.Parallel()
	for _, d := range loadDashboards(t) {
		for _, v := range d.Templating.List {
			if v.Name != "account_id" {
				continue
			}
			if !queryResultRE.MatchString(v.Definition) || !strings.Contains(v.Definition, "aws_iam_account_info") {
				t.Errorf("%s: variable account_id: want query_result over aws_iam_account_info, got %q", d.path, v.Definition)
			}
			if !strings.Contains(v.Regex, "(?<value>") || !strings.Contains(v.Regex, "(?<text>") {
				t.Errorf("%s: variable account_id: regex %q lacks the text and value groups", d.path, v.Regex)
			}
		}
		for _, p := range allPanels(d.Panels) {
			columns := organizeColumns(p)
			if _, ok := columns["account_id"]; ok && p.Type == "table" {
				if columns["name"] != columns["account_id"]+1 {
					t.Errorf("%s: table %q: the name column must follow the account column", d.path, p.Title)
				}
				for _, q := range p.Targets {
					if !accountNameJoinRE.MatchString(q.Expr) {
						t.Errorf("%s: table %q query %s does not join the account name:\n  %s", d.path, p.Title, q.RefID, q.Expr)
					}
				}
			}
			for _, q := range p.Targets {
				if strings.Contains(q.Legend, "{{account_id}}") &&
					(!strings.Contains(q.Legend, "{{name}}") || !accountNameJoinRE.MatchString(q.Expr)) {
					t.Errorf("%s: panel %q query %s: a per-account legend needs {{name}} and the name join", d.path, p.Title, q.RefID)
				}
			}
		}
	}
}

// The dashboards that list many users have a team variable from the
// users' and accounts' tags (TestDashboardOwners runs it), whose All keeps
// the users without a team; their per-user tables show each user's team and
// owner, and follow the variable. The user drill-down, about one user, has
// none.
func TestDashboardsFilterByTeam(t *testing.T) {
	t.Parallel()
	for _, d := range loadDashboards(t) {
		vars := map[string]dashVar{}
		for _, v := range d.Templating.List {
			vars[v.Name] = v
		}
		if _, oneUser := vars["user"]; oneUser {
			continue
		}
		team, ok := vars["team"]
		if !ok {
			t.Errorf("%s: no team variable", d.path)
			continue
		}
		if !queryResultRE.MatchString(team.Definition) || !strings.Contains(team.Definition, "aws_iam_user_tags{") || !strings.Contains(team.Definition, "aws_iam_account_tags{") {
			t.Errorf("%s: variable team: query %q, want query_result over aws_iam_user_tags and aws_iam_account_tags", d.path, team.Definition)
		}
		if !team.Multi || !team.IncludeAll || team.AllValue != ".*" {
			t.Errorf("%s: variable team: want multi-select with All, and All = .* so that it keeps the users without a team (allValue %q)", d.path, team.AllValue)
		}
		for _, p := range allPanels(d.Panels) {
			columns := organizeColumns(p)
			if _, ok := columns["user"]; !ok || p.Type != "table" {
				continue
			}
			for _, c := range []string{"tag_team", "tag_owner"} {
				if _, ok := columns[c]; !ok {
					t.Errorf("%s: table %q lists users without their %s", d.path, p.Title, c)
				}
			}
			for _, q := range p.Targets {
				if !strings.Contains(q.Expr, `tag_team=~"$team"`) {
					t.Errorf("%s: table %q query %s does not follow the team variable:\n  %s", d.path, p.Title, q.RefID, q.Expr)
				}
			}
		}
	}
}

// The account_id variable's query, run by promtool on accounts with and
// without a name, gives one option per account: "name (ID)", or the ID
// alone, valued by the ID; two exporters of one account give one option.
func TestDashboardAccountVariable(t *testing.T) {
	t.Parallel()
	promtool := requireProgram(t, "promtool")
	type option struct{ labels, text string }
	const (
		named   = "111111111111"
		paren   = "222222222222"
		unnamed = "333333333333"
	)
	series := []string{
		`aws_iam_account_info{job="iam",instance="a:9860",account_id="` + named + `",name="production",alias="prod-main"}`,
		`aws_iam_account_info{job="iam",instance="b:9860",account_id="` + named + `",name="production",alias="prod-main"}`,
		`aws_iam_account_info{job="iam",instance="a:9860",account_id="` + paren + `",name="sandbox (eu)"}`,
		`aws_iam_account_info{job="iam",instance="a:9860",account_id="` + unnamed + `",alias="legacy"}`,
		`aws_iam_account_info{job="other",instance="c:9860",account_id="444444444444",name="not this job"}`,
	}
	want := []option{
		{`{account_id="` + named + `",display="production (` + named + `)",name="production"}`, "production (" + named + ")"},
		{`{account_id="` + paren + `",display="sandbox (eu) (` + paren + `)",name="sandbox (eu)"}`, "sandbox (eu) (" + paren + ")"},
		{`{account_id="` + unnamed + `",display="` + unnamed + `"}`, unnamed},
	}
	checked := map[string]bool{}
	for _, d := range loadDashboards(t) {
		for _, v := range d.Templating.List {
			if v.Name != "account_id" || !queryResultRE.MatchString(v.Definition) {
				continue
			}
			raw, _ := variableExpr(v)
			expr := strings.ReplaceAll(raw, "$job", "iam")
			if dashVarRE.MatchString(expr) {
				t.Fatalf("%s: variable account_id: unexpected variable in %q", d.path, raw)
			}
			if !checked[expr] {
				checked[expr] = true
				var b strings.Builder
				b.WriteString("rule_files: []\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n")
				for _, s := range series {
					fmt.Fprintf(&b, "      - series: %q\n        values: '1x10'\n", s)
				}
				fmt.Fprintf(&b, "    promql_expr_test:\n      - expr: %q\n        eval_time: 5m\n        exp_samples:\n", expr)
				for _, o := range want {
					fmt.Fprintf(&b, "          - labels: %q\n            value: 1\n", o.labels)
				}
				file := filepath.Join(t.TempDir(), "account-variable.test.yml")
				if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				if out, err := exec.Command(promtool, "test", "rules", file).CombinedOutput(); err != nil {
					t.Errorf("%s: variable account_id on accounts with and without names: %v\n%s", d.path, err, out)
				}
			}
			for _, o := range want {
				var metric map[string]string
				if err := json.Unmarshal([]byte(regexp.MustCompile(`(\w+)=`).ReplaceAllString(o.labels, `"$1":`)), &metric); err != nil {
					t.Fatal(err)
				}
				text, value, ok, err := variableOption(v.Regex, queryResultLine(metric, "1", 300))
				if err != nil || !ok || text != o.text || value != metric["account_id"] {
					t.Errorf("%s: variable account_id: option from %s is %q=%q (kept %v, err %v), want %q=%q",
						d.path, o.labels, text, value, ok, err, o.text, metric["account_id"])
				}
			}
		}
	}
	if len(checked) == 0 {
		t.Fatal("no dashboard has an account_id variable built with query_result")
	}
}

// The owners that the per-user panels join and filter by team
// (promql.owners in mixin/dashboards/common.libsonnet), and the team
// variable's options, run by promtool: a user with its own tags, one that
// takes its account's, one whose own tags lack a team (it does not take its
// account's), and users with neither. Each user appears once with its
// owner; one team keeps its users alone, All (.*) also those without a
// team; the variable offers the teams, not the users without one.
func TestDashboardOwners(t *testing.T) {
	t.Parallel()
	promtool := requireProgram(t, "promtool")
	var owners struct{ All, Team, User string }
	const src = `local q = (import 'dashboards/common.libsonnet').promql;
{ all: q.owners(q.sel, team=false), team: q.owners(q.sel), user: q.owners(q.sel, user='user="$user"', team=false) }`
	if err := json.Unmarshal([]byte(jsonnet(t, "-e", src)), &owners); err != nil {
		t.Fatalf("promql.owners: %v", err)
	}
	const (
		tagged   = "111111111111"
		untagged = "222222222222"
	)
	target := `job="` + promJob + `",instance="a:9860",`
	series := []string{
		`aws_iam_account_tags{` + target + `account_id="` + tagged + `",tag_owner="cloud@example.com",tag_team="platform"}`,
		`aws_iam_user_tags{` + target + `account_id="` + tagged + `",user="alice",tag_owner="alice@example.com",tag_team="payments"}`,
		`aws_iam_user_tags{` + target + `account_id="` + tagged + `",user="carol",tag_owner="carol@example.com"}`,
		`aws_iam_user_tags{` + target + `account_id="` + untagged + `",user="dave",tag_team="payments"}`,
	}
	for _, u := range []struct{ account, user string }{{tagged, "alice"}, {tagged, "bob"}, {tagged, "carol"}, {untagged, "dave"}, {untagged, "erin"}} {
		series = append(series, `aws_iam_user_info{`+target+`account_id="`+u.account+`",user="`+u.user+`",arn="arn:aws:iam::`+u.account+`:user/`+u.user+`"}`)
	}
	user := func(account, name, owner string) string {
		return `{` + target + `account_id="` + account + `",user="` + name + `"` + owner + `}`
	}
	alice := user(tagged, "alice", `,tag_owner="alice@example.com",tag_team="payments"`)
	bob := user(tagged, "bob", `,tag_owner="cloud@example.com",tag_team="platform"`)
	carol := user(tagged, "carol", `,tag_owner="carol@example.com"`)
	dave := user(untagged, "dave", `,tag_team="payments"`)
	erin := user(untagged, "erin", "")
	everyone := []string{alice, bob, carol, dave, erin}

	type check struct {
		expr string
		vars map[string]string
		want []string
	}
	checks := []check{
		{owners.All, nil, everyone},
		{owners.Team, map[string]string{"team": ".*"}, everyone},
		{owners.Team, map[string]string{"team": "payments"}, []string{alice, dave}},
		{owners.Team, map[string]string{"team": "platform|web"}, []string{bob}},
		{owners.User, map[string]string{"user": "carol"}, []string{carol}},
	}
	// The team variable of each dashboard that has one.
	teamVars := 0
	for _, d := range loadDashboards(t) {
		for _, v := range d.Templating.List {
			if v.Name != "team" {
				continue
			}
			teamVars++
			expr, err := variableExpr(v)
			if err != nil || !queryResultRE.MatchString(v.Definition) {
				t.Fatalf("%s: variable team: want a query_result(...) query, got %q (%v)", d.path, v.Definition, err)
			}
			checks = append(checks, check{expr, nil, []string{`{tag_team="payments"}`, `{tag_team="platform"}`, `{}`}})
			var got []string
			for _, line := range []string{`{tag_team="payments"} 1 300000`, `{tag_team="platform"} 1 300000`, `{} 1 300000`} {
				if text, value, ok, err := variableOption(v.Regex, line); err != nil {
					t.Fatalf("%s: variable team: %v", d.path, err)
				} else if ok {
					got = append(got, text+"="+value)
				}
			}
			if want := []string{"payments=payments", "platform=platform"}; !slices.Equal(got, want) {
				t.Errorf("%s: variable team offers %q (text=value), want %q", d.path, got, want)
			}
		}
	}
	if teamVars == 0 {
		t.Fatal("no dashboard has a team variable")
	}

	var b strings.Builder
	b.WriteString("rule_files: []\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n")
	for _, s := range series {
		fmt.Fprintf(&b, "      - series: %q\n        values: '1x10'\n", s)
	}
	b.WriteString("    promql_expr_test:\n")
	for _, c := range checks {
		expr, err := substituteDashVarsWith(c.expr, c.vars)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "      - expr: %q\n        eval_time: 5m\n        exp_samples:\n", expr)
		for _, w := range c.want {
			fmt.Fprintf(&b, "          - labels: %q\n            value: 1\n", w)
		}
	}
	file := filepath.Join(t.TempDir(), "owners.test.yml")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "test", "rules", file).CombinedOutput(); err != nil {
		t.Errorf("owners and team filter on users with and without tags: %v\n%s", err, out)
	}
}

// dashVarValues substitutes Grafana variables in dashboard queries: All for
// multi-value variables, a fixture user for the drill-down, and fixed
// windows for the interval variables.
var dashVarValues = map[string]string{
	"job":             promJob,
	"account_id":      ".+",
	"team":            ".*",
	"user":            "alice",
	"__range":         "1h",
	"__range_s":       "3600",
	"__rate_interval": "1m",
	"__interval":      "15s",
	"__interval_ms":   "15000",
}

// dashVarRE matches Grafana variables. $1 and ${2} are not variables but
// label_replace references, which Grafana leaves alone as it has no
// variable of that name.
var dashVarRE = regexp.MustCompile(`\$(?:\{([A-Za-z_]\w*)(?::[\w-]+)?\}|([A-Za-z_]\w*))`)

func substituteDashVars(expr string) (string, error) {
	return substituteDashVarsWith(expr, nil)
}

// substituteDashVarsWith substitutes the variables in values, and the
// others as substituteDashVars does.
func substituteDashVarsWith(expr string, values map[string]string) (string, error) {
	var unknown []string
	out := dashVarRE.ReplaceAllStringFunc(expr, func(m string) string {
		sub := dashVarRE.FindStringSubmatch(m)
		name := sub[1] + sub[2]
		if v, ok := values[name]; ok {
			return v
		}
		if v, ok := dashVarValues[name]; ok {
			return v
		}
		unknown = append(unknown, name)
		return m
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("unknown variables %v", unknown)
	}
	return out, nil
}

// The variable queries these dashboards use: label_values(selector, label),
// and query_result(expr) whose lines the variable's regex turns into options.
var (
	labelValuesRE = regexp.MustCompile(`^label_values\((.+),\s*\w+\)$`)
	queryResultRE = regexp.MustCompile(`^query_result\((.+)\)$`)
)

// variableExpr returns the PromQL of a query variable.
func variableExpr(v dashVar) (string, error) {
	if m := labelValuesRE.FindStringSubmatch(v.Definition); m != nil {
		return m[1], nil
	}
	if m := queryResultRE.FindStringSubmatch(v.Definition); m != nil {
		return m[1], nil
	}
	return "", fmt.Errorf("query %q is neither label_values(selector, label) nor query_result(expr)", v.Definition)
}

// promSample is one element of an instant vector.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// vector runs an instant query that returns a vector.
func (p *promServer) vector(expr string) ([]promSample, error) {
	var data struct {
		ResultType string       `json:"resultType"`
		Result     []promSample `json:"result"`
	}
	if err := p.api("/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		return nil, err
	}
	if data.ResultType != "vector" {
		return nil, fmt.Errorf("%s: result type %s, want vector", expr, data.ResultType)
	}
	return data.Result, nil
}

// queryResultLine is how Grafana's Prometheus data source writes one
// element of a query_result() variable query before the variable's regex
// applies: name{label="value",...} value timestamp-in-ms, labels sorted as
// Prometheus returns them.
func queryResultLine(metric map[string]string, value string, ts float64) string {
	var labels []string
	for k, v := range metric {
		if k != "__name__" {
			labels = append(labels, k+"=\""+v+"\"")
		}
	}
	sort.Strings(labels)
	return fmt.Sprintf("%s{%s} %s %d", metric["__name__"], strings.Join(labels, ","), value, int64(ts*1000))
}

// variableOption applies a variable's regex (JavaScript syntax, /.../flags)
// to one option as Grafana does: with named groups text and value, each
// falls back to the other; otherwise the first group, or the whole match,
// is both. ok is false when the regex drops the option.
func variableOption(regex, line string) (text, value string, ok bool, err error) {
	if regex == "" {
		return line, line, true, nil
	}
	body, ok := strings.CutPrefix(regex, "/")
	if i := strings.LastIndex(body, "/"); ok && i >= 0 {
		body = body[:i]
	}
	re, err := regexp.Compile(body)
	if err != nil {
		return "", "", false, fmt.Errorf("regex %s: %w", regex, err)
	}
	m := re.FindStringSubmatch(line)
	if m == nil {
		return "", "", false, nil
	}
	ti, vi := re.SubexpIndex("text"), re.SubexpIndex("value")
	switch {
	case ti >= 0 || vi >= 0:
		if ti >= 0 {
			text = m[ti]
		}
		if vi >= 0 {
			value = m[vi]
		}
		if ti < 0 {
			text = value
		}
		if vi < 0 {
			value = text
		}
	case len(m) > 1:
		text, value = m[1], m[1]
	default:
		text, value = m[0], m[0]
	}
	return text, value, true, nil
}

// checkAccountVariable runs the account_id variable query of a dashboard
// and checks the options Grafana would offer: one per account, valued by
// its ID, shown as its ID when it has no name, as the fixture has none.
func checkAccountVariable(t *testing.T, prom *promServer, d dashboard) {
	for _, v := range d.Templating.List {
		if v.Name != "account_id" || !queryResultRE.MatchString(v.Definition) {
			continue
		}
		raw, _ := variableExpr(v)
		expr, err := substituteDashVars(raw)
		if err != nil {
			t.Errorf("%s: variable %s: %v", d.path, v.Name, err)
			return
		}
		res, err := prom.vector(expr)
		if err != nil {
			t.Errorf("%s: variable %s: %v", d.path, v.Name, err)
			return
		}
		var got []string
		for _, s := range res {
			ts, _ := s.Value[0].(float64)
			val, _ := s.Value[1].(string)
			text, value, ok, err := variableOption(v.Regex, queryResultLine(s.Metric, val, ts))
			if err != nil || !ok {
				t.Errorf("%s: variable %s: regex %s drops %v (err %v)", d.path, v.Name, v.Regex, s.Metric, err)
				continue
			}
			got = append(got, text+"="+value)
		}
		if want := []string{promAccount + "=" + promAccount}; !slices.Equal(got, want) {
			t.Errorf("%s: variable %s offers %q (text=value), want %q", d.path, v.Name, got, want)
		}
	}
}

// fallbackRE matches the `or on (labels)` with which a query adds back the
// rows that its joins cannot match.
var fallbackRE = regexp.MustCompile(`^ or on \([a-z_, ]+\) `)

// withoutFallback returns expr up to its first `or on (labels)` outside
// parentheses and quoted strings: the joined rows alone.
func withoutFallback(expr string) (string, bool) {
	depth, quoted := 0, false
	for i := 0; i < len(expr); i++ {
		switch c := expr[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case depth == 0 && fallbackRE.MatchString(expr[i:]):
			return expr[:i], true
		}
	}
	return "", false
}

// checkDashboardQueries runs every panel query and variable query of every
// dashboard and expects data. A query that ends in `or vector(0)` (a count
// that shows 0 instead of "No data") must also return data without the
// fallback, so that the fallback cannot hide a query that matches nothing;
// likewise the joins of a query that adds back, with `or on (labels)`, the
// rows they cannot match: accounts without a name, keys without an ID.
func checkDashboardQueries(t *testing.T, prom *promServer) {
	for _, d := range loadDashboards(t) {
		checkAccountVariable(t, prom, d)
		var exprs []string
		var where []string
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			expr, err := variableExpr(v)
			if err != nil {
				t.Errorf("%s: variable %s: %v", d.path, v.Name, err)
				continue
			}
			exprs = append(exprs, expr)
			where = append(where, "variable "+v.Name)
		}
		for _, p := range allPanels(d.Panels) {
			for _, q := range p.Targets {
				exprs = append(exprs, q.Expr)
				where = append(where, fmt.Sprintf("panel %q query %s", p.Title, q.RefID))
				if base, ok := strings.CutSuffix(strings.TrimSpace(q.Expr), " or vector(0)"); ok {
					exprs = append(exprs, base)
					where = append(where, fmt.Sprintf("panel %q query %s without its vector(0) fallback", p.Title, q.RefID))
				}
				if joined, ok := withoutFallback(q.Expr); ok {
					exprs = append(exprs, joined)
					where = append(where, fmt.Sprintf("panel %q query %s without the rows its joins miss", p.Title, q.RefID))
				}
			}
		}
		for i, raw := range exprs {
			expr, err := substituteDashVars(raw)
			if err != nil {
				t.Errorf("%s: %s: %v", d.path, where[i], err)
				continue
			}
			n, err := prom.query(expr)
			switch {
			case err != nil:
				t.Errorf("%s: %s: %v\n  %s", d.path, where[i], err, expr)
			case n == 0:
				t.Errorf("%s: %s returns no data\n  %s", d.path, where[i], expr)
			}
		}
	}
}

// checkTeamFilter runs the query of each access-key table that joins the
// key IDs, in the dashboards with a team variable, with the variable on
// one team and on All. One team gives rows of that team alone; All also
// the keys of users without a team. The key ID join names the keys it
// knows, and keeps root's key, which has no ID.
func checkTeamFilter(t *testing.T, prom *promServer) {
	checked := 0
	for _, d := range loadDashboards(t) {
		var team *dashVar
		for i, v := range d.Templating.List {
			if v.Name == "team" {
				team = &d.Templating.List[i]
			}
		}
		if team == nil {
			continue
		}
		for _, p := range allPanels(d.Panels) {
			if _, ok := organizeColumns(p)["access_key_id"]; !ok || p.Type != "table" {
				continue
			}
			for _, q := range p.Targets {
				if !strings.Contains(q.Expr, "aws_iam_access_key_info") {
					continue
				}
				checked++
				for _, value := range []string{team.AllValue, fixtureTeam} {
					expr, err := substituteDashVarsWith(q.Expr, map[string]string{"team": value})
					if err != nil {
						t.Errorf("%s: panel %q query %s: %v", d.path, p.Title, q.RefID, err)
						continue
					}
					res, err := prom.vector(expr)
					if err != nil {
						t.Errorf("%s: panel %q query %s: %v", d.path, p.Title, q.RefID, err)
						continue
					}
					teams := map[string]int{}
					withID, withoutID := 0, 0
					for _, s := range res {
						teams[s.Metric["tag_team"]]++
						if s.Metric["access_key_id"] != "" {
							withID++
						} else {
							withoutID++
						}
					}
					where := fmt.Sprintf("%s: panel %q query %s with team %q", d.path, p.Title, q.RefID, value)
					if value == fixtureTeam {
						if len(teams) != 1 || teams[fixtureTeam] == 0 || withID == 0 {
							t.Errorf("%s: keys by team %v, %d with an ID; want keys of %s alone, with IDs", where, teams, withID, fixtureTeam)
						}
						continue
					}
					if teams[""] == 0 || teams[fixtureTeam] == 0 {
						t.Errorf("%s: keys by team %v; want keys of users with and without a team", where, teams)
					}
					if withID == 0 || withoutID == 0 {
						t.Errorf("%s: %d keys with an ID and %d without; want both (root's key has none)", where, withID, withoutID)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Error("no dashboard with a team variable has an access-key table that joins the key IDs")
	}
}

// A real Prometheus scrapes an account of 5,000 users, IAM's quota, the way
// it scrapes any target (gzip, Prometheus's default scrape timeout of 10s)
// and stores every aws_iam_* series the exporter serves. The scrape
// duration it measured is logged for docs/benchmarks.md, not asserted: the
// 1s timeout of the other tests measured the machine's load, not the
// exporter, and failed on a busy one.
func TestPrometheusScrapesLargestAccount(t *testing.T) {
	t.Parallel()
	requireProgram(t, "prometheus")
	const users = 5000
	reportPath := filepath.Join(t.TempDir(), "credential-report.csv")
	report := reportgen.Generate(reportgen.Options{AccountID: promAccount, Users: users, Seed: 1})
	if err := os.WriteFile(reportPath, report, 0o644); err != nil {
		t.Fatal(err)
	}
	exp := startExporter(t, nil, "--report.file="+reportPath)
	waitFor(t, patience, func() error { _, err := httpGet(exp.URL + "/-/ready"); return err })
	_, mfs := scrape(t, exp.URL)
	want := 0
	for name, mf := range mfs {
		if strings.HasPrefix(name, "aws_iam_") {
			want += len(mf.GetMetric())
		}
	}
	// About 8 a user (docs/scaling.md): a much smaller page would not be
	// the largest account.
	if want < 7*users {
		t.Fatalf("exporter serves %d aws_iam_* series for %d users, want at least %d", want, users, 7*users)
	}

	prom := runPrometheus(t, "testdata/prometheus/prometheus.yml",
		map[string]any{"Target": strings.TrimPrefix(exp.URL, "http://"), "ScrapeInterval": "10s"}, nil)
	count := fmt.Sprintf(`count({job=%q, __name__=~"aws_iam_.+"})`, promJob)
	waitFor(t, patience, func() error {
		got, err := prom.vector(count)
		if err != nil {
			return err
		}
		if len(got) != 1 || got[0].Value[1] != strconv.Itoa(want) {
			return fmt.Errorf("%s = %v, want %d", count, got, want)
		}
		return nil
	})
	// A few more scrapes, so that up and the logged duration are not the
	// first scrape's alone.
	sel := fmt.Sprintf(`{job=%q}`, promJob)
	waitFor(t, patience, func() error {
		n, err := prom.query("count_over_time(up" + sel + "[1m]) >= 3")
		if err == nil && n == 0 {
			err = fmt.Errorf("fewer than 3 scrapes so far")
		}
		return err
	})
	up, err := prom.vector("up" + sel)
	if err != nil || len(up) != 1 || up[0].Value[1] != "1" {
		t.Fatalf("up = %v, %v; want 1", up, err)
	}
	for _, expr := range []string{
		"scrape_duration_seconds" + sel,
		"avg_over_time(scrape_duration_seconds" + sel + "[1m])",
		"count_over_time(scrape_duration_seconds" + sel + "[1m])",
		"scrape_samples_scraped" + sel,
	} {
		if v, err := prom.vector(expr); err == nil && len(v) == 1 {
			t.Logf("%s: %v", expr, v[0].Value[1])
		}
	}
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
