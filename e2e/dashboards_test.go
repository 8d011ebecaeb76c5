package e2e

// The Grafana dashboards (dashboards/) against promtool and a real
// Prometheus that scrapes the exporter: they import as they are, and every
// panel and variable query is valid PromQL that returns data.

import (
	"bytes"
	"encoding/json"
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
)

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
	// alice is mid-rotation (two active keys): a host still uses her old
	// key, which the user dashboard's callers table shows.
	var oldKeyID string
	for _, u := range users {
		if u.Name == dashUser {
			oldKeyID = u.AccessKeys[0].ID
			fake.DefaultAccount().AddTrailEvents(fakeaws.TrailEvent{
				AccessKeyID: oldKeyID, Time: now.Add(-26 * time.Hour), SourceIP: dashCallerIP, UserAgent: dashCallerAgent})
		}
	}
	if oldKeyID == "" {
		t.Fatalf("the fixture has no user %s", dashUser)
	}
	exp := startExporter(t, append(fake.Environ(), fake.TrailEnviron()...), "--aws.user-tags=owner,team", "--aws.exemptions",
		"--aws.access-key-ids", "--aws.access-key-ids.rate=100", "--aws.key-callers", "--aws.key-callers.rate=2")

	// Prometheus starts once the lookups are served, as it would find them
	// on a long-running exporter.
	keys := 0
	for _, u := range users {
		keys += len(u.AccessKeys)
	}
	waitFor(t, patience, func() error {
		_, mfs := scrape(t, exp.URL)
		for _, lookup := range []string{"user_tags", "access_key_ids", "key_callers"} {
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
		prom := startPrometheus(t, addr, ruleFiles(t))
		dashboards := loadDashboards(t)
		checkDashboards(t, prom, dashboards)
		checkCallersTable(t, prom, dashboards, oldKeyID)
	})
	t.Run("per-account targets", func(t *testing.T) {
		t.Parallel()
		cfg, job := promConfigFromDocs(t, docsSDConfig(t), addr, ruleFiles(t), false)
		cfg = bytes.Replace(cfg, []byte("job_name: "+job), []byte("job_name: "+promJob), 1)
		checkDashboards(t, startPrometheusConfig(t, cfg), loadDashboards(t))
	})
	// The mixin rendered for several clusters told apart by k8s_cluster,
	// here a target label: its rules, and its dashboards filtered by the
	// cluster variable ($cluster is the target's cluster).
	t.Run("multi-cluster render", func(t *testing.T) {
		t.Parallel()
		rules, dir := renderMultiCluster(t)
		prom := runPrometheus(t, "testdata/prometheus/prometheus.yml",
			map[string]any{"Target": addr, "TargetLabels": map[string]string{multiClusterLabel: multiClusterName}}, []string{rules})
		dashboards := loadDashboardsFrom(t, dir)
		checkDashboards(t, prom, dashboards)
		checkCallersTable(t, prom, dashboards, oldKeyID)
	})
}

// The caller that the fixture's CloudTrail holds for alice's old key.
const (
	dashUser        = "alice"
	dashCallerIP    = "203.0.113.20"
	dashCallerAgent = "aws-cli/2.17 deploy.sh"
)

// checkCallersTable finds the user dashboard's table of key callers and
// checks that its rows are the caller CloudTrail served: alice's old key
// (slot 1, keyID), its host and user agent, seen about 26 hours ago, one
// sampled event, in the fixture's account (whose name the row joins: a row
// without it would be dropped).
func checkCallersTable(t *testing.T, prom *promServer, dashboards []dashboard, keyID string) {
	t.Helper()
	for _, d := range dashboards {
		for _, p := range allPanels(d.Panels) {
			if !strings.HasPrefix(p.Title, "Who uses the keys") {
				continue
			}
			for _, q := range p.Targets {
				expr, err := substituteDashVars(q.Expr)
				if err != nil {
					t.Fatal(err)
				}
				rows, err := prom.vector(expr)
				if err != nil {
					t.Fatal(err)
				}
				if len(rows) != 1 {
					t.Fatalf("%s: query %s: %d rows, want 1 (the one caller served): %v", p.Title, q.RefID, len(rows), rows)
				}
				got := rows[0].Metric
				if got["user_agent"] != dashCallerAgent || got["source_ip"] != dashCallerIP || got["key"] != "1" ||
					got["access_key_id"] != keyID || got["account_id"] != promAccount || got["origin"] != "other" {
					t.Errorf("%s: query %s: row %v, want key 1 (%s) of account %s called by %s with %s",
						p.Title, q.RefID, got, keyID, promAccount, dashCallerIP, dashCallerAgent)
				}
				v, _ := strconv.ParseFloat(rows[0].Value[1].(string), 64)
				switch q.RefID {
				case "A": // seconds since last seen
					if v < 26*3600 || v > 27*3600 {
						t.Errorf("%s: last seen %.0fs ago, want about 26 hours", p.Title, v)
					}
				case "B":
					if v != 1 {
						t.Errorf("%s: %v sampled events, want 1", p.Title, v)
					}
				}
			}
			return
		}
	}
	t.Error("no dashboard has the table of key callers")
}

// checkDashboards runs every query of dashboards on prom, once it has
// scraped the exporter a few times and evaluated the rules on the result.
func checkDashboards(t *testing.T, prom *promServer, dashboards []dashboard) {
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

	checkDashboardQueries(t, prom, dashboards)
	checkTeamFilter(t, prom, dashboards)
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
	Hide       int             `json:"hide"` // 2: not shown
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
	return loadDashboardsFrom(t, "../dashboards")
}

// loadDashboardsFrom reads the dashboards of a directory, such as a render
// of the mixin with another _config.
func loadDashboardsFrom(t *testing.T, dir string) []dashboard {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in %s (err %v)", dir, err)
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
// inputs, the datasource/job/account_id variables and the hidden cluster
// one, built-in panels only, and every query on the ${datasource} variable.
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
		// Shown with showMultiCluster (TestMixinMultiCluster).
		if v, ok := vars["cluster"]; !ok || v.Hide != 2 {
			t.Errorf("%s: want a hidden cluster variable, as node-mixin and kubernetes-mixin have", d.path)
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
	const src = `local common = import 'dashboards/common.libsonnet';
local q = common.promql(common.values((import 'mixin.libsonnet')._config));
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
	"cluster":         multiClusterName,
	"job":             promJob,
	"account_id":      ".+",
	"team":            ".*",
	"user":            dashUser,
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
func checkDashboardQueries(t *testing.T, prom *promServer, dashboards []dashboard) {
	for _, d := range dashboards {
		checkAccountVariable(t, prom, d)
		var exprs []string
		var where []string
		hidden := map[int]bool{}
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			expr, err := variableExpr(v)
			if err != nil {
				t.Errorf("%s: variable %s: %v", d.path, v.Name, err)
				continue
			}
			// A hidden variable, the cluster variable of a render for
			// one cluster, lists nothing when its label is not there.
			hidden[len(exprs)] = v.Hide == 2
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
			case n == 0 && !hidden[i]:
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
func checkTeamFilter(t *testing.T, prom *promServer, dashboards []dashboard) {
	checked := 0
	for _, d := range dashboards {
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
