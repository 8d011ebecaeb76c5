package e2e

// BenchmarkPrometheusSeries: what a real Prometheus pays for the exporter's
// series, the recording rules' and the alerts', and its memory, for an
// organization read through per-account targets, for this tree and for
// another revision in the same run. `make bench-prometheus`;
// docs/benchmarks.md says what each figure is.

import (
	"archive/tar"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/fakeaws"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/reportgen"
)

const (
	// seriesBenchInterval is the scrape and rule evaluation interval:
	// Prometheus's usual 15 s, so that a rule group that takes seconds to
	// evaluate runs as often as it would for a user.
	seriesBenchInterval = 15 * time.Second
	// seriesBenchBound bounds each wait for a hang. At 1,000 x 100 on 2
	// busy CPUs, one evaluation of the rules took up to 6 minutes, and the
	// wait for two up to 12.
	seriesBenchBound = 30 * time.Minute
	// seriesBenchCaller is the account of the fake's default credentials;
	// it is not read.
	seriesBenchCaller = "299999999999"
)

// seriesVariant is one version of the exporter as a user deploys it: its
// binary, its rule files, and the page with its per-account Prometheus job.
type seriesVariant struct {
	name  string
	bin   string
	rules []string
	sdDoc string
}

// benchOrg is an organization in internal/fakeaws and the --config.file
// that lists its accounts by role.
type benchOrg struct {
	fake   *fakeaws.Server
	config string
	ids    []string
	users  int // IAM users per account, without the root row
}

// BenchmarkPrometheusSeries runs, for each variant in turn, the exporter
// over an organization of IAM_BENCH_ACCOUNTS accounts of IAM_BENCH_USERS
// users (default 20 x 100), each with its own reportgen report, and a
// Prometheus that scrapes one target per account as the variant's
// documentation says, every 15 s. Once every account's users are stored, Prometheus's
// memory is sampled over one more round of scrapes; then it loads the
// variant's rules (evaluated every 15 s), its memory is sampled until every
// rule group has been evaluated twice, and the series that have a sample
// since the rules were loaded are counted by name. Per user means per IAM
// user, root rows not counted.
//
// The variants are this tree ("current") and, when IAM_BENCH_BASELINE
// names a git revision, that revision's exporter, rules and documentation
// ("baseline"), run first. One Prometheus runs at a time.
func BenchmarkPrometheusSeries(b *testing.B) {
	requireProgram(b, "prometheus")
	accounts := benchEnvInt(b, "IAM_BENCH_ACCOUNTS", 20)
	users := benchEnvInt(b, "IAM_BENCH_USERS", 100)

	var variants []seriesVariant
	if rev := os.Getenv("IAM_BENCH_BASELINE"); rev != "" {
		dir := checkoutRevision(b, rev)
		variants = append(variants, treeVariant(b, "baseline", dir))
	}
	variants = append(variants, treeVariant(b, "current", ".."))
	org := newBenchOrg(b, accounts, users)

	for _, v := range variants {
		b.Run(fmt.Sprintf("accounts=%d/users=%d/variant=%s", accounts, users, v.name), func(b *testing.B) {
			// One measurement takes far more than -benchtime, so the
			// framework asks for no second one (b.N is 1); ns/op means
			// nothing here.
			measureSeries(b, v, org).report(b, float64(accounts*users))
		})
	}
}

// benchEnvInt reads a positive integer from the environment.
func benchEnvInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// treeVariant builds the exporter of the source tree at dir (CGO_ENABLED=0,
// without -race, as `make build`) and finds its rule files and the page with its per-account job:
// docs/multi-account.md, or README.md in revisions before that page.
func treeVariant(b *testing.B, name, dir string) seriesVariant {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "iam_credential_exporter")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/iam_credential_exporter")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("%s: build the exporter in %s: %v\n%s", name, dir, err, out)
	}
	rules, err := filepath.Glob(filepath.Join(dir, "alerts", "*.rules.yml"))
	if err != nil || len(rules) == 0 {
		b.Fatalf("%s: no rule files in %s/alerts (err %v)", name, dir, err)
	}
	sdDoc := filepath.Join(dir, "docs", "multi-account.md")
	if _, err := os.Stat(sdDoc); err != nil {
		sdDoc = filepath.Join(dir, "README.md")
	}
	return seriesVariant{name: name, bin: bin, rules: rules, sdDoc: sdDoc}
}

// checkoutRevision writes the tree of the git revision rev into a temporary
// directory, with git archive: it reads the repository and changes nothing
// in it (no worktree is registered).
func checkoutRevision(b *testing.B, rev string) string {
	b.Helper()
	git := requireProgram(b, "git")
	out, err := exec.Command(git, "-C", "..", "rev-parse", "--verify", "--end-of-options", rev+"^{commit}").Output()
	if err != nil {
		b.Fatalf("IAM_BENCH_BASELINE=%s: not a commit of this repository: %v", rev, err)
	}
	commit := strings.TrimSpace(string(out))
	dir := b.TempDir()
	archive := exec.Command(git, "-C", "..", "archive", "--format=tar", commit)
	stdout, err := archive.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	var stderr strings.Builder
	archive.Stderr = &stderr
	if err := archive.Start(); err != nil {
		b.Fatalf("git archive %s: %v", commit, err)
	}
	extractErr := extractTar(stdout, dir)
	// Read what is left, so that git does not block on a full pipe when
	// the extraction stopped early.
	_, _ = io.Copy(io.Discard, stdout)
	if err := archive.Wait(); err != nil || extractErr != nil {
		b.Fatalf("git archive %s into %s: %v %v\n%s", commit, dir, err, extractErr, stderr.String())
	}
	b.Logf("baseline: %s (%s)", rev, commit)
	return dir
}

// extractTar writes the files, directories and symbolic links of a tar
// stream under dir.
func extractTar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if !filepath.IsLocal(h.Name) {
			return fmt.Errorf("archive entry %q is outside the tree", h.Name)
		}
		path := filepath.Join(dir, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(path, 0o755)
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, path)
		case tar.TypeReg:
			err = writeFileFrom(path, tr, os.FileMode(h.Mode).Perm())
		default:
			// git archive's global pax header, which holds the commit ID.
		}
		if err != nil {
			return err
		}
	}
}

func writeFileFrom(path string, r io.Reader, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	return errors.Join(err, f.Close())
}

// newBenchOrg serves accounts accounts of users users each from the fake,
// with a report made now (different seeds, so different users), and writes
// the --config.file that names them by role ARN, as an organization listed
// by hand.
func newBenchOrg(b *testing.B, accounts, users int) *benchOrg {
	b.Helper()
	fake := fakeaws.New(seriesBenchCaller)
	b.Cleanup(fake.Close)
	// Credentials' ages are relative to now, so the alerts on them are the
	// same whenever the benchmark runs.
	now := time.Now()
	o := &benchOrg{fake: fake, users: users}
	var cfg strings.Builder
	cfg.WriteString("accounts:\n")
	for i := range accounts {
		id := fmt.Sprintf("%012d", 300000000001+i)
		o.ids = append(o.ids, id)
		fake.Account(id).SetReport(reportgen.Generate(reportgen.Options{AccountID: id, Users: users, Seed: int64(i + 1), Now: now}), now)
		fmt.Fprintf(&cfg, "  - role_arn: arn:aws:iam::%s:role/iam-reader\n    name: bench-%04d\n", id, i+1)
	}
	o.config = filepath.Join(b.TempDir(), "accounts.yml")
	if err := os.WriteFile(o.config, []byte(cfg.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return o
}

// waitLoaded waits until the exporter serves every account's report on the
// account's own target.
func (o *benchOrg) waitLoaded(b *testing.B, e *exporter) {
	b.Helper()
	pending := o.ids
	waitFor(b, seriesBenchBound, func() error {
		for len(pending) > 0 {
			body, err := httpGet(e.URL + "/metrics?account_id=" + pending[0])
			if err != nil {
				return err
			}
			if !strings.Contains(body, "\naws_iam_credential_report_users{") {
				return fmt.Errorf("account %s has no report yet; %d accounts to go", pending[0], len(pending))
			}
			pending = pending[1:]
		}
		return nil
	})
}

// seriesMeasure is what one variant cost Prometheus.
type seriesMeasure struct {
	byName                   map[string]int // series per metric name
	exporter, rules, alerts  int            // series with a sample since the rules were loaded: scraped (up and scrape_* included), recording rules' (names with a colon), ALERTS and ALERTS_FOR_STATE
	headSeries               float64        // prometheus_tsdb_head_series at the end
	memory                   promMemory     // while the rules are evaluated
	scrapesOnly              promMemory     // over a round of scrapes before the rules were loaded
	peakRSS                  float64        // VmHWM, bytes
	evalSeconds              float64        // the longest evaluation of a rule group in the window
	missedEvals, failedEvals float64        // rule group iterations missed and rule evaluations failed, in all
}

// promMemory is the largest of several samples of Prometheus's own
// metrics, in bytes.
type promMemory struct {
	rss  float64 // process_resident_memory_bytes
	heap float64 // go_memstats_heap_inuse_bytes
}

func (pm *promMemory) add(mfs map[string]*dto.MetricFamily) {
	rss, _ := sample(mfs, "process_resident_memory_bytes", nil)
	heap, _ := sample(mfs, "go_memstats_heap_inuse_bytes", nil)
	pm.rss, pm.heap = max(pm.rss, rss), max(pm.heap, heap)
}

func (m seriesMeasure) report(b *testing.B, users float64) {
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(m.exporter)/users, "exporter-series/user")
	b.ReportMetric(float64(m.rules)/users, "rule-series/user")
	b.ReportMetric(float64(m.alerts)/users, "alert-series/user")
	b.ReportMetric(float64(m.exporter+m.rules+m.alerts)/users, "total-series/user")
	b.ReportMetric(m.headSeries/users, "head-series/user")
	b.ReportMetric(m.memory.rss/users, "prom-rss-B/user")
	b.ReportMetric(m.memory.heap/users, "prom-heap-B/user")
	b.ReportMetric(m.peakRSS/users, "prom-peak-rss-B/user")
	b.ReportMetric(m.scrapesOnly.rss/users, "norules-rss-B/user")
	b.ReportMetric(m.scrapesOnly.heap/users, "norules-heap-B/user")
	b.ReportMetric(m.evalSeconds, "rule-eval-s")
	b.ReportMetric(m.failedEvals, "rule-failures")
}

// measureSeries runs the variant's exporter over the organization and a
// Prometheus that scrapes it, and measures what Prometheus holds. Both
// processes stop when the sub-benchmark ends.
func measureSeries(b *testing.B, v seriesVariant, org *benchOrg) seriesMeasure {
	start := time.Now()
	e, exporterProc := launchBinary(b, v.bin, freeAddr(b), org.fake.Environ(),
		"--config.file="+org.config, "--aws.concurrency=20")
	org.waitLoaded(b, e)
	b.Logf("%s: the exporter serves every account's report after %s", v.name, since(start))

	// Prometheus ingests the organization first and loads the rules after,
	// as on SIGHUP: rules evaluated during the first scrapes would compete
	// with them for the CPU, and see part of the data.
	addr := strings.TrimPrefix(e.URL, "http://")
	sdConfig := sdConfigIn(b, v.sdDoc)
	bare, job := promConfigFromDocs(b, sdConfig, addr, nil, false)
	full, _ := promConfigFromDocs(b, sdConfig, addr, v.rules, false)
	promStart := time.Now()
	prom, promProc := startPrometheusProcess(b, benchIntervals(b, bare))
	accounts, users := len(org.ids), len(org.ids)*(org.users+1)
	waitFor(b, seriesBenchBound, throttle(time.Second, func() error {
		up, err := promValue(prom, fmt.Sprintf("count(up{job=%q} == 1)", job))
		if err != nil || up != float64(accounts+1) {
			return fmt.Errorf("%v of %d targets up (%v)", up, accounts+1, err)
		}
		n, err := promValue(prom, fmt.Sprintf("count(aws_iam_user_info{job=%q})", job))
		if err != nil || n != float64(users) {
			return fmt.Errorf("%v of %d users stored, root rows included (%v)", n, users, err)
		}
		return nil
	}))
	b.Logf("%s: every target up and every user stored %s after Prometheus started", v.name, since(promStart))
	// What the scraped series cost without the rules: memory over one more
	// scrape of every target.
	var scrapesOnly promMemory
	stored := time.Now()
	waitFor(b, seriesBenchBound, throttle(time.Second, func() error {
		mfs, err := promSelf(prom)
		if err != nil {
			return err
		}
		scrapesOnly.add(mfs)
		again, err := promValue(prom, fmt.Sprintf("count(timestamp(up{job=%q}) > %f)", job, float64(stored.UnixNano())/1e9))
		if err != nil || again != float64(accounts+1) {
			return fmt.Errorf("%v of %d targets scraped again (%v)", again, accounts+1, err)
		}
		return nil
	}))

	loaded := time.Now()
	if err := os.WriteFile(prom.Config, benchIntervals(b, full), 0o644); err != nil {
		b.Fatal(err)
	}
	promProc.Signal(b, syscall.SIGHUP)
	// Rules read recording rules' output of the same evaluation, and
	// ALERTS of the one before: after two, every rule has seen everything.
	m := watchEvaluations(b, prom, loaded, 2)
	m.scrapesOnly = scrapesOnly
	b.Logf("%s: every rule group evaluated twice %s after the rules were loaded", v.name, since(loaded))
	m.peakRSS = float64(peakRSS(b, promProc.Pid()))
	if m.failedEvals > 0 {
		b.Logf("%s: %v rule evaluations failed: the series of those rules are missing\n%s", v.name, m.failedEvals, ruleFailures(prom.Logs()))
	}
	if m.missedEvals > 0 {
		b.Logf("%s: %v rule group iterations missed: an evaluation outlasted the %s interval", v.name, m.missedEvals, seriesBenchInterval)
	}
	// The rules that cost the most in their last evaluation: an alert's
	// time includes expanding its annotations' templates (and their
	// queries) for every firing alert.
	if rules, err := prom.rules(); err == nil {
		slices.SortFunc(rules, func(a, b promRule) int { return cmp.Compare(b.EvaluationTime, a.EvaluationTime) })
		for _, r := range rules[:min(8, len(rules))] {
			b.Logf("%s: rule %s took %.2fs", v.name, r.Name, r.EvaluationTime)
		}
	}

	// Counting reads every series: it comes after the memory samples.
	m.byName = countSeries(b, prom, loaded)
	for _, name := range slices.Sorted(maps.Keys(m.byName)) {
		n := m.byName[name]
		switch {
		case strings.Contains(name, ":"):
			m.rules += n
		case name == "ALERTS" || name == "ALERTS_FOR_STATE":
			m.alerts += n
		default:
			m.exporter += n
		}
		b.Logf("%s: %8d series %6.3f/user %s", v.name, n, float64(n)/float64(accounts*org.users), name)
	}
	b.Logf("%s: Prometheus RSS %.2f GB (peak %.2f GB; %.2f GB before the rules), heap in use %.2f GB (%.2f GB before the rules), head series %.0f; exporter peak RSS %.0f MB; %s in all",
		v.name, m.memory.rss/1e9, m.peakRSS/1e9, m.scrapesOnly.rss/1e9, m.memory.heap/1e9, m.scrapesOnly.heap/1e9,
		m.headSeries, float64(peakRSS(b, exporterProc.Pid()))/1e6, since(start))
	return m
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Second) }

// benchIntervals sets the documented configuration, as promConfigFromDocs
// made it for tests, to Prometheus's usual pace: scrapes and rule
// evaluations every 15 s, and service discovery at its default of a minute.
func benchIntervals(b *testing.B, cfg []byte) []byte {
	b.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(cfg, &doc); err != nil {
		b.Fatal(err)
	}
	top := doc.Content[0]
	every := model.Duration(seriesBenchInterval).String()
	setYAML(b, top, "global", map[string]string{"scrape_interval": every, "evaluation_interval": every})
	for _, sc := range yamlValue(top, "scrape_configs").Content {
		if sds := yamlValue(sc, "http_sd_configs"); sds != nil {
			for _, sd := range sds.Content {
				setYAML(b, sd, "refresh_interval", "1m")
			}
		}
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// throttle runs cond at most once per d and returns its last error in
// between, so that a poll that costs Prometheus work does not run 20 times
// a second.
func throttle(d time.Duration, cond func() error) func() error {
	var last time.Time
	err := errors.New("not checked yet")
	return func() error {
		if time.Since(last) >= d {
			last, err = time.Now(), cond()
		}
		return err
	}
}

// promValue returns the value of an instant query that gives at most one
// sample, 0 when it gives none.
func promValue(p *promServer, expr string) (float64, error) {
	res, err := p.vector(expr)
	if err != nil || len(res) == 0 {
		return 0, err
	}
	if len(res) > 1 {
		return 0, fmt.Errorf("%s: %d samples, want one", expr, len(res))
	}
	s, _ := res[0].Value[1].(string)
	return strconv.ParseFloat(s, 64)
}

// watchEvaluations polls Prometheus's own metrics, once a second, until
// every rule group has finished n evaluations that started after after, and
// returns the largest memory and evaluation time sampled meanwhile, with
// the last sample's counters. A configuration that Prometheus refused
// fails the benchmark.
func watchEvaluations(b *testing.B, p *promServer, after time.Time, n int) seriesMeasure {
	b.Helper()
	var m seriesMeasure
	evals := map[string]map[float64]bool{} // rule group → the start times of its evaluations since after
	from := float64(after.UnixNano()) / 1e9
	waitFor(b, seriesBenchBound, throttle(time.Second, func() error {
		mfs, err := promSelf(p)
		if err != nil {
			return err
		}
		if ok, _ := sample(mfs, "prometheus_config_last_reload_successful", nil); ok != 1 {
			b.Fatalf("Prometheus refused its configuration\n%s", p.Logs())
		}
		m.memory.add(mfs)
		m.headSeries, _ = sample(mfs, "prometheus_tsdb_head_series", nil)
		m.missedEvals, m.failedEvals = sum(mfs, "prometheus_rule_group_iterations_missed_total"), sum(mfs, "prometheus_rule_evaluation_failures_total")
		for _, s := range mfs["prometheus_rule_group_last_duration_seconds"].GetMetric() {
			m.evalSeconds = max(m.evalSeconds, s.GetGauge().GetValue())
		}
		groups := mfs["prometheus_rule_group_last_evaluation_timestamp_seconds"].GetMetric()
		if len(groups) == 0 {
			return errors.New("no rule group loaded")
		}
		done := 0
		for _, g := range groups {
			group := labelMap(g.GetLabel())["rule_group"]
			if evals[group] == nil {
				evals[group] = map[float64]bool{}
			}
			if t := g.GetGauge().GetValue(); t > from {
				evals[group][t] = true
			}
			if len(evals[group]) >= n {
				done++
			}
		}
		if done < len(groups) {
			return fmt.Errorf("%d of %d rule groups evaluated %d times since %s", done, len(groups), n, after.Format(time.TimeOnly))
		}
		return nil
	}))
	return m
}

// ruleFailures returns the lines of Prometheus's log that say a rule
// failed, at most ten.
func ruleFailures(logs string) string {
	var out []string
	for line := range strings.Lines(logs) {
		if strings.Contains(line, "Evaluating rule failed") && len(out) < 10 {
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}

// promSelf reads Prometheus's own /metrics.
func promSelf(p *promServer) (map[string]*dto.MetricFamily, error) {
	body, err := httpGet(p.URL + "/metrics")
	if err != nil {
		return nil, err
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(strings.NewReader(body))
}

// sum adds the values of every series of a counter or gauge.
func sum(mfs map[string]*dto.MetricFamily, name string) float64 {
	var total float64
	for _, s := range mfs[name].GetMetric() {
		total += s.GetCounter().GetValue() + s.GetGauge().GetValue()
	}
	return total
}

// countSeries counts, by metric name, the series that have a sample since
// from. An instant query would not do: it misses the series of a recording
// rule whose last sample is older than its 5-minute lookback, as happens
// between two evaluations when one takes minutes. The series API reads the
// index, not the samples, one name at a time.
func countSeries(b *testing.B, p *promServer, from time.Time) map[string]int {
	b.Helper()
	var names []string
	waitFor(b, seriesBenchBound, func() error { return p.api("/api/v1/label/__name__/values", nil, &names) })
	start := strconv.FormatFloat(float64(from.UnixNano())/1e9, 'f', 3, 64)
	out := map[string]int{}
	for _, name := range names {
		waitFor(b, seriesBenchBound, func() error {
			var series []json.RawMessage
			q := url.Values{"match[]": {fmt.Sprintf("{__name__=%q}", name)}, "start": {start}}
			if err := p.api("/api/v1/series", q, &series); err != nil {
				return err
			}
			if len(series) > 0 {
				out[name] = len(series)
			}
			return nil
		})
	}
	return out
}
