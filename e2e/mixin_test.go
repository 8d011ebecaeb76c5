package e2e

// The monitoring mixin (mixin/): alerts/ and dashboards/ are its rendered
// output and must not drift from it, and a non-default _config changes the
// rules and the dashboards as a user would expect.

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// jsonnet runs the jsonnet pinned in go.mod (go tool jsonnet) in the
// repository's root, with mixin/ on the import path, and returns its output.
func jsonnet(t *testing.T, args ...string) string {
	t.Helper()
	return runJsonnet(t, []string{"go", "tool", "jsonnet"}, args...)
}

// runJsonnet runs the jsonnet interpreter that command starts (a program
// and its first arguments) with args, in the same way.
func runJsonnet(t *testing.T, command []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(command[0], slices.Concat(command[1:], []string{"-J", "mixin"}, args)...)
	cmd.Dir = ".."
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	return string(out)
}

// renderMixin renders the rule file and the dashboards as `make mixin` does,
// with the jsonnet that run calls, and returns them by path.
func renderMixin(t *testing.T, run func(args ...string) string) map[string]string {
	t.Helper()
	files := map[string]string{
		"alerts/iam_credential_exporter.rules.yml": run("-S", "mixin/render/rules.jsonnet"),
	}
	dir := t.TempDir()
	run("-S", "-m", dir, "mixin/render/dashboards.jsonnet")
	rendered, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(rendered) == 0 {
		t.Fatalf("no dashboards rendered into %s", dir)
	}
	for _, f := range rendered {
		files["dashboards/"+filepath.Base(f)] = readText(t, f)
	}
	return files
}

// The rule file and the dashboards are what `make mixin` renders today: an
// edit to them alone, or to mixin/ without `make mixin`, fails here.
func TestMixinRenderedFilesUpToDate(t *testing.T) {
	t.Parallel()
	rendered := renderMixin(t, func(args ...string) string { return jsonnet(t, args...) })
	committed, _ := filepath.Glob("../dashboards/*.json")
	var have []string
	for _, f := range committed {
		have = append(have, "dashboards/"+filepath.Base(f))
	}
	var names []string
	for name := range rendered {
		if strings.HasPrefix(name, "dashboards/") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, have) {
		t.Fatalf("mixin/ renders dashboards %v, dashboards/ has %v (run make mixin)", names, have)
	}
	for _, name := range slices.Sorted(maps.Keys(rendered)) {
		if want := readText(t, "../"+name); rendered[name] != want {
			t.Errorf("%s differs from a fresh render of mixin/ (edit mixin/, then run make mixin; - committed, + rendered):\n%s", name, lineDiff(want, rendered[name]))
		}
	}
}

// customMixin is a user's jsonnet: the mixin with a 60-day rotation policy
// and a 10-day warning, info alerts labelled severity="notice", and
// IAMCredentialAccessKeyTooOld critical.
const customMixin = `
local render = import 'render.libsonnet';
local mixin = (import 'mixin.libsonnet') + {
  _config+:: {
    keyRotationDays: 60,
    keyRotationWarningDays: 10,
    severities+: { info: 'notice' },
    alertSeverities: { IAMCredentialAccessKeyTooOld: 'critical' },
  },
};
{
  rules: render.rulesFile(mixin),
  dashboards: render.dashboardFiles(mixin),
}
`

type renderedRule struct {
	Record      string            `yaml:"record"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// A 60-day policy is one value: the rotation alerts compare with 60 and 50
// days and say so, the compliance rules compare with 60 days under the
// names they have with 90 (a policy change keeps their series), promtool
// accepts the rules and they fire on a 61-day-old key, and the dashboards
// count and colour with 60 and 50 days. The severities follow _config too,
// in the alerts and in the overview's severity panels.
func TestMixinCustomConfig(t *testing.T) {
	t.Parallel()
	out := renderCustom(t, "custom", customMixin)

	var file struct {
		Groups []struct {
			Rules []renderedRule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal([]byte(out.Rules), &file); err != nil || len(file.Groups) != 1 {
		t.Fatalf("rendered rules: %v (%d groups, want 1)\n%s", err, len(file.Groups), out.Rules)
	}
	// Alerts and recording rules by name; each credential alert's
	// condition is recorded once per target, labelled with its name.
	rules, conditions := map[string]renderedRule{}, map[string]string{}
	for _, r := range file.Groups[0].Rules {
		rules[r.Alert+r.Record] = r
		if r.Record == "instance_finding:aws_iam_credentials:value" {
			conditions[r.Labels["finding"]] = r.Expr
		}
		// A threshold in a series name (rotated_90d) would start new
		// series, without the old ones' history, when a user changes it.
		if strings.ContainsAny(r.Record, "0123456789") {
			t.Errorf("recording rule %s has a number in its name: keep thresholds in _config and in the expression", r.Record)
		}
	}
	for _, c := range []struct {
		name, expr, summary, description string
	}{
		{"IAMCredentialAccessKeyTooOld", "/ 86400 > 60\n", "older than 60 days.", "rotate access keys every 60 days or less"},
		{"IAMCredentialAccessKeyRotationDue", "/ 86400 > 50 <= 60\n", "passes 60 days within 10 days.", "the 60-day rotation limit within 10 days"},
	} {
		r, ok := rules[c.name]
		if !ok {
			t.Errorf("no alert %s in the custom render", c.name)
			continue
		}
		if !strings.Contains(conditions[c.name], c.expr) {
			t.Errorf("%s condition lacks %q:\n%s", c.name, c.expr, conditions[c.name])
		}
		if !strings.HasSuffix(r.Annotations["summary"], c.summary) {
			t.Errorf("%s summary %q, want it to end %q", c.name, r.Annotations["summary"], c.summary)
		}
		if !strings.Contains(r.Annotations["description"], c.description) {
			t.Errorf("%s description lacks %q: %s", c.name, c.description, r.Annotations["description"])
		}
		for _, text := range []string{conditions[c.name], r.Annotations["summary"], r.Annotations["description"]} {
			if strings.Contains(text, "90") {
				t.Errorf("%s still says 90 days: %q", c.name, text)
			}
		}
	}
	for name, r := range rules {
		if r.Alert != "" && !slices.Contains([]string{"critical", "warning", "notice"}, r.Labels["severity"]) {
			t.Errorf("%s has severity %q in the custom render, want critical, warning or notice", name, r.Labels["severity"])
		}
	}
	if got := rules["IAMCredentialExemptionChanged"].Labels["severity"]; got != "notice" {
		t.Errorf("IAMCredentialExemptionChanged (info) has severity %q in the custom render, want notice", got)
	}
	for _, name := range []string{"account:aws_iam_access_keys_rotated:ratio", "owner:aws_iam_access_keys_rotated:ratio"} {
		if r, ok := rules[name]; !ok || !strings.Contains(r.Expr, "<= bool 60 * 86400") {
			t.Errorf("no compliance rule %s comparing with 60 days (got %q)", name, r.Expr)
		}
	}

	keys := out.Dashboards["iam-credentials-access-keys.json"]
	for _, want := range []string{`"title": "Over 60 days"`, `"title": "Rotation due within 10 days"`, `> 50 * 86400 <= 60 * 86400`, `"value": 50`, `"value": 60`} {
		if !strings.Contains(keys, want) {
			t.Errorf("access keys dashboard of the custom render lacks %s", want)
		}
	}
	overview := out.Dashboards["iam-credentials-overview.json"]
	for _, want := range []string{"<= bool 60 * 86400", "account:aws_iam_access_keys_rotated:ratio", "owner:aws_iam_access_keys_rotated:ratio"} {
		if !strings.Contains(overview, want) {
			t.Errorf("overview dashboard of the custom render lacks %s", want)
		}
	}
	for _, want := range []string{`severity=\"notice\"`, `"legendFormat": "notice"`} {
		if !strings.Contains(overview, want) {
			t.Errorf("overview dashboard of the custom render lacks %s", want)
		}
	}
	for _, unwanted := range []string{"<= bool 90 * 86400", `severity=\"info\"`} {
		if strings.Contains(overview, unwanted) {
			t.Errorf("overview dashboard of the custom render still says %s", unwanted)
		}
	}

	promtool := requireProgram(t, "promtool")
	rulesPath := out.rulesPath
	if b, err := exec.Command(promtool, "check", "rules", rulesPath).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules on the custom render: %v\n%s", err, b)
	}
	// At 10m (time() = 600) a key rotated 600 - 61*86400 s ago is 61 days
	// old: too old under the 60-day policy. One of 55 days is due.
	unit := `rule_files: [custom.rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'aws_iam_access_key_active{job="iam-credential-exporter",instance="e:9860",account_id="111122223333",user="alice",key="1"}'
        values: '1x15'
      - series: 'aws_iam_access_key_last_rotated_timestamp_seconds{job="iam-credential-exporter",instance="e:9860",account_id="111122223333",user="alice",key="1"}'
        values: '-5269800x15'
      - series: 'aws_iam_access_key_active{job="iam-credential-exporter",instance="e:9860",account_id="111122223333",user="bob",key="1"}'
        values: '1x15'
      - series: 'aws_iam_access_key_last_rotated_timestamp_seconds{job="iam-credential-exporter",instance="e:9860",account_id="111122223333",user="bob",key="1"}'
        values: '-4751400x15'
      - series: 'aws_iam_user_info{job="iam-credential-exporter",instance="e:9860",account_id="111122223333",user="alice"}'
        values: '1x15'
      - series: 'aws_iam_user_info{job="iam-credential-exporter",instance="e:9860",account_id="111122223333",user="bob"}'
        values: '1x15'
    alert_rule_test:
      - eval_time: 10m
        alertname: IAMCredentialAccessKeyTooOld
        exp_alerts:
          - exp_labels: {severity: critical, category: credential, account_id: "111122223333", user: alice, key: "1"}
            exp_annotations:
              summary: An active IAM access key is older than 60 days.
              description: "The access key in slot 1 of IAM user alice in account 111122223333 is active and 61.0 days old. Created 1969-11-01; last used unknown. Policy: rotate access keys every 60 days or less. Next step: create its replacement (the command), give it to what uses this key, then deactivate this one; the rotation alerts follow each step. A user holds at most two keys: if it has two, finish or undo that rotation first. To find its ID (<ID> in the command): aws iam list-access-keys --user-name alice lists the user's keys; it is the one created 1969-11-01."
              command: aws iam create-access-key --user-name alice
              runbook_url: https://github.com/iam-credential-exporter/iam_credential_exporter/blob/main/docs/runbook.md#iamcredentialaccesskeytooold
              cis_aws_foundations: v3.0.0 1.14
              security_hub: IAM.3
      - eval_time: 10m
        alertname: IAMCredentialAccessKeyRotationDue
        exp_alerts:
          - exp_labels: {severity: notice, category: credential, account_id: "111122223333", user: bob, key: "1"}
            exp_annotations:
              summary: An active IAM access key passes 60 days within 10 days.
              description: "The access key in slot 1 of IAM user bob in account 111122223333 is active and 55.0 days old: it passes the 60-day rotation limit within 10 days. Created 1969-11-07; last used unknown. Next step: rotate it now, calmly: create its replacement (the command), give it to what uses this key, then deactivate this one. To find its ID (<ID> in the command): aws iam list-access-keys --user-name bob lists the user's keys; it is the one created 1969-11-07."
              command: aws iam create-access-key --user-name bob
              runbook_url: https://github.com/iam-credential-exporter/iam_credential_exporter/blob/main/docs/runbook.md#iamcredentialaccesskeyrotationdue
              cis_aws_foundations: v3.0.0 1.14 (early warning)
              security_hub: IAM.3 (early warning)
`
	unitPath := filepath.Join(filepath.Dir(rulesPath), "custom.test.yml")
	if err := os.WriteFile(unitPath, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(promtool, "test", "rules", unitPath).CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules on the custom render: %v\n%s", err, b)
	}
}

// The mixin rendered for several clusters: showMultiCluster, with a cluster
// label that is not the default one.
const (
	multiClusterLabel = "k8s_cluster"
	multiClusterName  = "e2e" // the cluster of the e2e Prometheus's target
	multiClusterMixin = `
local render = import 'render.libsonnet';
local mixin = (import 'mixin.libsonnet') + {
  _config+:: { clusterLabel: 'k8s_cluster', showMultiCluster: true },
};
{
  rules: render.rulesFile(mixin),
  dashboards: render.dashboardFiles(mixin),
}
`
)

// renderMultiCluster renders multiClusterMixin into a temporary directory
// and returns the rule file's path and the dashboards' directory.
func renderMultiCluster(t *testing.T) (rules, dashboards string) {
	t.Helper()
	out := renderCustom(t, "multi-cluster", multiClusterMixin)
	return out.rulesPath, out.dashboardsDir
}

// customRender is a user's jsonnet rendered by renderCustom: the rule file
// and the dashboards by file name, and where they were written.
type customRender struct {
	Rules                    string            `json:"rules"`
	Dashboards               map[string]string `json:"dashboards"`
	rulesPath, dashboardsDir string
}

// renderCustom renders src, a jsonnet file that gives {rules, dashboards}
// as render.libsonnet writes them, and writes the result into a temporary
// directory as NAME.rules.yml and dashboards/.
func renderCustom(t *testing.T, name, src string) customRender {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, name+".jsonnet")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var out customRender
	if err := json.Unmarshal([]byte(jsonnet(t, path)), &out); err != nil {
		t.Fatalf("%s render: %v", name, err)
	}
	out.rulesPath = filepath.Join(dir, name+".rules.yml")
	out.dashboardsDir = filepath.Join(dir, "dashboards")
	if err := os.Mkdir(out.dashboardsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{out.rulesPath: out.Rules}
	for file, text := range out.Dashboards {
		files[filepath.Join(out.dashboardsDir, file)] = text
	}
	for file, text := range files {
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// groupingRE matches the label lists of `by (...)` and `on (...)`.
var groupingRE = regexp.MustCompile(`\b(?:by|on) \(([^)]*)\)`)

// For several clusters, every aggregation and join of the rules and of the
// dashboards' queries keeps the cluster label, and every selector of the
// dashboards filters by the cluster variable, which is shown; promtool
// accepts the rules, and two clusters whose exporters read one account (with
// the same job and instance) make two alerts, each held while its own
// cluster has no report. TestPrometheusDashboards runs the dashboards' queries
// on this render in a real Prometheus.
func TestMixinMultiCluster(t *testing.T) {
	t.Parallel()
	rulesPath, dashboardsDir := renderMultiCluster(t)

	var file struct {
		Groups []struct {
			Rules []renderedRule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal([]byte(readText(t, rulesPath)), &file); err != nil || len(file.Groups) != 1 {
		t.Fatalf("rendered rules: %v (%d groups, want 1)", err, len(file.Groups))
	}
	for _, r := range file.Groups[0].Rules {
		for _, m := range groupingRE.FindAllStringSubmatch(r.Expr, -1) {
			if !slices.Contains(strings.Split(m[1], ", "), multiClusterLabel) {
				t.Errorf("%s%s: %q without %s", r.Alert, r.Record, m[0], multiClusterLabel)
			}
		}
		if r.Alert != "" && !strings.HasSuffix(r.Annotations["description"], "{{ with $labels."+multiClusterLabel+" }} Cluster: {{ . }}.{{ end }}") {
			t.Errorf("%s: the description does not end with the cluster", r.Alert)
		}
	}

	selectorRE := regexp.MustCompile(`\{[^{}]*\}`)
	clusterMatcher := multiClusterLabel + `=~"$cluster"`
	for _, d := range loadDashboardsFrom(t, dashboardsDir) {
		vars := map[string]dashVar{}
		for _, v := range d.Templating.List {
			vars[v.Name] = v
		}
		if v, ok := vars["cluster"]; !ok || v.Hide != 0 || !strings.Contains(v.Definition, ", "+multiClusterLabel+")") {
			t.Errorf("%s: want a shown cluster variable listing %s, got %+v", d.path, multiClusterLabel, v)
		}
		if !strings.Contains(vars["job"].Definition, clusterMatcher) {
			t.Errorf("%s: the job variable does not follow the cluster variable: %s", d.path, vars["job"].Definition)
		}
		for _, p := range allPanels(d.Panels) {
			for _, q := range p.Targets {
				for _, sel := range selectorRE.FindAllString(q.Expr, -1) {
					if !strings.Contains(sel, clusterMatcher) {
						t.Errorf("%s: panel %q query %s: selector %s does not filter by the cluster variable", d.path, p.Title, q.RefID, sel)
					}
				}
				for _, m := range groupingRE.FindAllStringSubmatch(q.Expr, -1) {
					labels := strings.Split(m[1], ", ")
					if slices.Contains(labels, "job") && !slices.Contains(labels, multiClusterLabel) {
						t.Errorf("%s: panel %q query %s: %q joins or groups by job without %s", d.path, p.Title, q.RefID, m[0], multiClusterLabel)
					}
				}
			}
		}
	}

	promtool := requireProgram(t, "promtool")
	if b, err := exec.Command(promtool, "check", "rules", rulesPath).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules on the multi-cluster render: %v\n%s", err, b)
	}
	// Clusters a and b read account 111122223333 with the same job and
	// instance; alice's key is 100 days old in both. b's exporter goes away
	// at 13m: its finding is held, since b has no report, although a has.
	var series strings.Builder
	for _, c := range []struct{ cluster, values string }{{"a", "x20"}, {"b", "x12 stale"}} {
		target := `k8s_cluster="` + c.cluster + `",job="iam-credential-exporter",instance="e:9860",account_id="111122223333"`
		for _, s := range []struct{ series, value string }{
			{`aws_iam_credential_report_generated_timestamp_seconds{` + target + `}`, "0"},
			{`aws_iam_user_info{` + target + `,user="alice",arn="arn:aws:iam::111122223333:user/alice"}`, "1"},
			{`aws_iam_user_tags{` + target + `,user="alice",tag_owner="alice@example.com",tag_team="payments"}`, "1"},
			{`aws_iam_access_key_active{` + target + `,user="alice",key="1"}`, "1"},
			{`aws_iam_access_key_last_rotated_timestamp_seconds{` + target + `,user="alice",key="1"}`, "-8639400"},
			{`aws_iam_access_key_info{` + target + `,user="alice",key="1",access_key_id="AKIAEXAMPLEALICE0001"}`, "1"},
		} {
			fmt.Fprintf(&series, "      - series: %q\n        values: '%s%s'\n", s.series, s.value, c.values)
		}
	}
	alert := func(cluster string) string {
		return `ALERTS{alertname="IAMCredentialAccessKeyTooOld",alertstate="firing",severity="warning",category="credential",k8s_cluster="` + cluster +
			`",account_id="111122223333",user="alice",key="1",access_key_id="AKIAEXAMPLEALICE0001",tag_owner="alice@example.com",tag_team="payments"}`
	}
	unit := `rule_files: [` + filepath.Base(rulesPath) + `]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
` + series.String() + `    promql_expr_test:
      - expr: ALERTS{alertname="IAMCredentialAccessKeyTooOld"}
        eval_time: 10m
        exp_samples:
          - labels: '` + alert("a") + `'
            value: 1
          - labels: '` + alert("b") + `'
            value: 1
      - expr: ALERTS{alertname="IAMCredentialAccessKeyTooOld"}
        eval_time: 16m
        exp_samples:
          - labels: '` + alert("a") + `'
            value: 1
          - labels: '` + alert("b") + `'
            value: 1
      - expr: account:aws_iam_access_keys_rotated:ratio
        eval_time: 10m
        exp_samples:
          - labels: 'account:aws_iam_access_keys_rotated:ratio{k8s_cluster="a",job="iam-credential-exporter",instance="e:9860",account_id="111122223333"}'
            value: 0
          - labels: 'account:aws_iam_access_keys_rotated:ratio{k8s_cluster="b",job="iam-credential-exporter",instance="e:9860",account_id="111122223333"}'
            value: 0
      - expr: owner:aws_iam_access_keys_rotated:ratio
        eval_time: 10m
        exp_samples:
          - labels: 'owner:aws_iam_access_keys_rotated:ratio{k8s_cluster="a",tag_owner="alice@example.com",tag_team="payments"}'
            value: 0
          - labels: 'owner:aws_iam_access_keys_rotated:ratio{k8s_cluster="b",tag_owner="alice@example.com",tag_team="payments"}'
            value: 0
      - expr: account_severity:aws_iam_credential_findings:count
        eval_time: 10m
        exp_samples:
          - labels: 'account_severity:aws_iam_credential_findings:count{k8s_cluster="a",account_id="111122223333",severity="warning"}'
            value: 1
          - labels: 'account_severity:aws_iam_credential_findings:count{k8s_cluster="b",account_id="111122223333",severity="warning"}'
            value: 1
`
	unitPath := filepath.Join(filepath.Dir(rulesPath), "multi-cluster.test.yml")
	if err := os.WriteFile(unitPath, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(promtool, "test", "rules", unitPath).CombinedOutput(); err != nil {
		t.Errorf("promtool test rules on the multi-cluster render: %v\n%s", err, b)
	}
}

// The mixin as jsonnet-bundler vendors it for a user: the example of
// mixin/README.md ("Using it from your own jsonnet") renders, against a
// copy of mixin/ at the module path of go.mod under vendor/ with the legacy
// name that the README's `jb install --legacy-name` gives, into a rule file
// that promtool accepts and the three dashboards, with the example's
// _config in them. jsonnet-bundler itself is not run: it would clone from
// GitHub.
func TestMixinVendored(t *testing.T) {
	t.Parallel()
	module := regexp.MustCompile(`(?m)^module (\S+)$`).FindStringSubmatch(readText(t, "../go.mod"))
	if module == nil {
		t.Fatal("go.mod has no module line")
	}
	pkg := module[1] + "/mixin"
	readme := readText(t, "../mixin/README.md")
	section := readme[strings.Index(readme, "## Using it from your own jsonnet"):]
	install := regexp.MustCompile(`jb install --legacy-name (\S+) \\\n\s+(\S+)@main`).FindStringSubmatch(section)
	if install == nil || install[2] != pkg {
		t.Fatalf("mixin/README.md: want `jb install --legacy-name <name> %s@main`, got %q", pkg, install)
	}
	example := regexp.MustCompile("(?s)```jsonnet\n(.*?)```").FindStringSubmatch(section)
	if example == nil || !strings.Contains(example[1], "import '"+pkg+"/mixin.libsonnet'") {
		t.Fatalf("mixin/README.md: no jsonnet example that imports %s/mixin.libsonnet", pkg)
	}
	var jf struct {
		Version      int   `json:"version"`
		Dependencies []any `json:"dependencies"`
	}
	if err := json.Unmarshal([]byte(readText(t, "../mixin/jsonnetfile.json")), &jf); err != nil || jf.Version != 1 || len(jf.Dependencies) != 0 {
		t.Errorf("mixin/jsonnetfile.json: want version 1 and no dependencies, got %+v (%v)", jf, err)
	}

	dir := t.TempDir()
	vendored := filepath.Join(dir, "vendor", filepath.FromSlash(pkg))
	if err := os.CopyFS(vendored, os.DirFS("../mixin")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.FromSlash(pkg), filepath.Join(dir, "vendor", install[1])); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "example.jsonnet"), []byte(example[1]), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "tool", "jsonnet", "-J", filepath.Join(dir, "vendor"), "-S", "-m", out, filepath.Join(dir, "example.jsonnet"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, b)
	}
	rules := readText(t, filepath.Join(out, "iam_credential_exporter.rules.yml"))
	for _, want := range []string{`aws_iam_access_key_active{job="aws-iam"`, "<= bool 60 * 86400", `severity: "none"`, "by (k8s_cluster, "} {
		if !strings.Contains(rules, want) {
			t.Errorf("the README example's rule file lacks %s", want)
		}
	}
	for _, name := range []string{"iam-credentials-overview.json", "iam-credentials-access-keys.json", "iam-credentials-user.json"} {
		if d := readText(t, filepath.Join(out, name)); !strings.Contains(d, `k8s_cluster=~\"$cluster\"`) {
			t.Errorf("the README example's %s does not filter by the cluster variable", name)
		}
	}
	// The legacy name imports the same files.
	legacy := `(import '` + install[1] + `/mixin.libsonnet')._config.clusterLabel`
	if got := runJsonnet(t, []string{"go", "tool", "jsonnet"}, "-J", filepath.Join(dir, "vendor"), "-e", legacy); strings.TrimSpace(got) != `"cluster"` {
		t.Errorf("import through the legacy name %s: %s", install[1], got)
	}
	promtool := requireProgram(t, "promtool")
	if b, err := exec.Command(promtool, "check", "rules", filepath.Join(out, "iam_credential_exporter.rules.yml")).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules on the README example's render: %v\n%s", err, b)
	}
}
