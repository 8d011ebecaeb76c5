package e2e

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// volatile are the series whose values change from run to run: the
// exporter's own runtime, timings, and the file's modification time.
var volatile = []string{
	"go_", "process_", "promhttp_", "iam_credential_exporter_build_info",
	"iam_credential_exporter_refresh_duration_seconds",
	"iam_credential_exporter_last_refresh_success_timestamp_seconds",
	"aws_iam_credential_report_generated_timestamp_seconds",
}

// stable drops volatile series from exposition text, keeping the rest in
// order so that a diff against the golden file is readable.
func stable(text string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		name := line
		if strings.HasPrefix(line, "# HELP ") || strings.HasPrefix(line, "# TYPE ") {
			name = strings.Fields(line)[2]
		}
		keep := line != ""
		for _, p := range volatile {
			if strings.HasPrefix(name, p) {
				keep = false
			}
		}
		if keep {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n") + "\n"
}

// goldenMu serialises the golden files' rewrites and reads: tests that run
// in parallel share example.prom.
var goldenMu sync.Mutex

// compareGolden compares got with testdata/name, or rewrites it with -update.
func compareGolden(t *testing.T, name, got string) {
	t.Helper()
	goldenMu.Lock()
	defer goldenMu.Unlock()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (create it with -update): %v", err)
	}
	if got != string(want) {
		t.Errorf("/metrics differs from %s (run `go test ./e2e -run %s -update` to accept):\n%s", path, t.Name(), lineDiff(string(want), got))
	}
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	count := map[string]int{}
	for _, l := range strings.Split(want, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(got, "\n") {
		count[l]--
	}
	var out []string
	for l, n := range count {
		switch {
		case n > 0:
			out = append(out, "- "+l)
		case n < 0:
			out = append(out, "+ "+l)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// scrape fetches /metrics as text and parses it.
func scrape(t testing.TB, baseURL string) (string, map[string]*dto.MetricFamily) {
	t.Helper()
	body, err := httpGet(baseURL + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return body, mfs
}

// sample returns the value of the series of name whose labels include want.
func sample(mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	mf, ok := mfs[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		labels := labelMap(m.GetLabel())
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

func mustSample(t testing.TB, mfs map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	v, ok := sample(mfs, name, labels)
	if !ok {
		t.Fatalf("no series %s%v", name, labels)
	}
	return v
}

// promtoolCheckMetrics runs `promtool check metrics` on exposition text.
func promtoolCheckMetrics(t *testing.T, text string) {
	t.Helper()
	promtool := requireProgram(t, "promtool")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out.String())
	}
}

const account = "123456789012"

// The README's first command: the exporter on the bundled sample report.
func TestSampleReportFile(t *testing.T) {
	t.Parallel()
	e := startExporter(t, nil, "--report.file=../report/testdata/example.csv")
	waitFor(t, patience, func() error {
		_, err := httpGet(e.URL + "/-/ready")
		return err
	})
	text, mfs := scrape(t, e.URL)
	compareGolden(t, "example.prom", stable(text))
	if got := mustSample(t, mfs, "iam_credential_exporter_refresh_success", map[string]string{"account_id": account}); got != 1 {
		t.Errorf("refresh_success = %v, want 1", got)
	}
	t.Run("promtool", func(t *testing.T) { promtoolCheckMetrics(t, text) })

	page, err := httpGet(e.URL + "/")
	if err != nil {
		t.Fatalf("landing page: %v", err)
	}
	for _, want := range []string{account, "ok", "/metrics"} {
		if !strings.Contains(page, want) {
			t.Errorf("landing page lacks %q", want)
		}
	}
}

func labelMap(pairs []*dto.LabelPair) map[string]string {
	m := make(map[string]string, len(pairs))
	for _, l := range pairs {
		m[l.GetName()] = l.GetValue()
	}
	return m
}

// Every metric the exporter serves is in the metrics reference, docs/metrics.md.
func TestEveryMetricIsDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	e := startExporter(t, nil, "--report.file=../report/testdata/example.csv", "--web.disable-exporter-metrics")
	waitFor(t, patience, func() error { _, err := httpGet(e.URL + "/-/ready"); return err })
	_, mfs := scrape(t, e.URL)
	for name := range mfs {
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("metric %s is not in docs/metrics.md", name)
		}
	}
}

// Every flag in --help is in the flags reference, docs/configuration.md.
func TestEveryFlagIsDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(builtExporter(t), "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("--help: %v\n%s", err, out)
	}
	flags := regexp.MustCompile(`(?m)^\s+(?:-\w, )?--(?:\[no-\])?([a-z][a-z0-9.-]*[a-z0-9])`).FindAllStringSubmatch(string(out), -1)
	if len(flags) < 10 {
		t.Fatalf("found only %d flags in --help:\n%s", len(flags), out)
	}
	for _, f := range flags {
		if name := f[1]; !strings.HasPrefix(name, "help") && !strings.Contains(string(doc), "`--"+name+"`") {
			t.Errorf("flag --%s is not in docs/configuration.md", name)
		}
	}
}
