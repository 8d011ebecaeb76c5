package e2e

// A real Prometheus for the tests that need one: promServer runs it on a
// free loopback port, scraping the exporter and loading the rule files, and
// queries its HTTP API. The tests that use it are by subject: the alerts in
// alerts_test.go, the dashboards in dashboards_test.go, per-account targets
// in targets_test.go, and so on (see main_test.go).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"text/template"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/testenv"
)

const (
	promJob     = "iam_credential_exporter"
	promAccount = "210987654321"
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

func readText(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
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
