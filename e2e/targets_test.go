package e2e

// Per-account targets (issue 14): /sd lists each account that a replica
// reads as a Prometheus target of its own, /metrics?account_id= serves that
// account alone and /metrics?exporter=true the exporter's own metrics. The
// tests run an organization of a few dozen member accounts in moto_server,
// and a real Prometheus configured as docs/multi-account.md says.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"go.yaml.in/yaml/v3"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/testenv"
)

const (
	// targetMembers is how many member accounts the organization has
	// besides its management account: enough that the shards each get a
	// good share and that Prometheus juggles many targets of one host.
	targetMembers = 30
	// docsExporterHost is where the documented Prometheus configuration
	// finds the exporter.
	docsExporterHost = "iam-credential-exporter:9860"
	// sdMetaName is the label of /sd that holds an account's name.
	sdMetaName = "__meta_iam_credential_exporter_account_name"
)

// targetsOrg is an organization whose users and password policies make
// known alerts fire: each console user (a password and no MFA device, as
// moto creates it) fires IAMCredentialConsoleUserWithoutMFA, each account
// without a strong password policy IAMCredentialPasswordPolicyWeak, and
// every account IAMCredentialReportStale, as moto dates its reports in
// 2015. Users are created now, so no alert on a credential's age can fire.
type targetsOrg struct {
	*motoOrg
	console map[string][]string // account ID → its console users
	strong  map[string]bool     // accounts with a strong password policy
}

func newTargetsOrg(ctx context.Context, t *testing.T, endpoint string) *targetsOrg {
	t.Helper()
	o := &targetsOrg{motoOrg: newMotoOrg(ctx, t, endpoint), console: map[string][]string{}, strong: map[string]bool{}}
	o.addUsers(ctx, motoManagementAccount, "org-admin", "org-audit")
	o.addConsoleUser(ctx, motoManagementAccount, "org-admin")
	o.setStrongPolicy(ctx, motoManagementAccount)
	for i := 1; i <= targetMembers; i++ {
		id := o.createMember(ctx, fmt.Sprintf("member-%02d", i))
		o.addUsers(ctx, id, fmt.Sprintf("deploy-%02d", i))
		if i%5 == 0 {
			o.addUsers(ctx, id, fmt.Sprintf("backup-%02d", i))
		}
		if i%3 == 0 {
			admin := fmt.Sprintf("admin-%02d", i)
			o.addUsers(ctx, id, admin)
			o.addConsoleUser(ctx, id, admin)
		}
		if i%4 == 0 {
			o.setStrongPolicy(ctx, id)
		}
	}
	return o
}

// addConsoleUser gives a user of the account a console password.
func (o *targetsOrg) addConsoleUser(ctx context.Context, id, user string) {
	o.t.Helper()
	_, err := o.iam(id).CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String(user), Password: aws.String("Correct-horse-battery-9!")})
	if err != nil {
		o.t.Fatalf("create login profile of %s in account %s: %v", user, id, err)
	}
	o.console[id] = append(o.console[id], user)
}

// setStrongPolicy sets a password policy that IAMCredentialPasswordPolicyWeak
// accepts.
func (o *targetsOrg) setStrongPolicy(ctx context.Context, id string) {
	o.t.Helper()
	_, err := o.iam(id).UpdateAccountPasswordPolicy(ctx, &iam.UpdateAccountPasswordPolicyInput{
		MinimumPasswordLength:   aws.Int32(14),
		PasswordReusePrevention: aws.Int32(24),
	})
	if err != nil {
		o.t.Fatalf("set the password policy of account %s: %v", id, err)
	}
	o.strong[id] = true
}

// wantAlerts returns the alerts that the accounts should fire, as
// "alertname account_id user" ("-" for no user), sorted.
func (o *targetsOrg) wantAlerts(accounts map[string]orgAccount) []string {
	var out []string
	for id := range accounts {
		// moto dates every credential report 2015-02-02.
		out = append(out, "IAMCredentialReportStale "+id+" -")
		if !o.strong[id] {
			out = append(out, "IAMCredentialPasswordPolicyWeak "+id+" -")
		}
		for _, u := range o.console[id] {
			out = append(out, "IAMCredentialConsoleUserWithoutMFA "+id+" "+u)
		}
	}
	slices.Sort(out)
	return out
}

// removeMember removes a member account from the organization, as an
// account that leaves it.
func (o *targetsOrg) removeMember(ctx context.Context, id string) {
	o.t.Helper()
	if _, err := o.org.RemoveAccountFromOrganization(ctx, &organizations.RemoveAccountFromOrganizationInput{AccountId: aws.String(id)}); err != nil {
		o.t.Fatalf("remove account %s from the organization: %v", id, err)
	}
}

// targetsFlags are the exporter's flags of these tests: discovery every
// second, so that a removed account goes within seconds; every account read
// at once, and not again, as nothing changes in the accounts (rereading
// them would only keep moto busy); and the password policy, for
// IAMCredentialPasswordPolicyWeak.
func targetsFlags(extra ...string) []string {
	return append([]string{
		"--aws.organization", "--aws.organization.refresh-interval=1s",
		"--report.refresh-interval=1h", "--aws.concurrency=40", "--aws.password-policy",
	}, extra...)
}

// ---- the exporter's endpoints ----

// sdGroup is one target group of Prometheus HTTP service discovery.
type sdGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// get GETs u with the request headers header (Host included) and returns
// the status code, the response's headers and its body.
func get(u string, header http.Header) (int, http.Header, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, "", err
	}
	maps.Copy(req.Header, header)
	if host := header.Get("Host"); host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body), err
}

// readSD reads /sd, asked for with the Host header host ("" for the
// exporter's own address), as Prometheus does: a 200 of application/json
// holding a list of target groups.
func readSD(e *exporter, host string) ([]sdGroup, error) {
	header := http.Header{}
	if host != "" {
		header.Set("Host", host)
	}
	status, rh, body, err := get(e.URL+"/sd", header)
	if err != nil {
		return nil, err
	}
	ctype := rh.Get("Content-Type")
	if status != http.StatusOK {
		return nil, fmt.Errorf("GET /sd: status %d: %s", status, body)
	}
	if !strings.HasPrefix(ctype, "application/json") {
		return nil, fmt.Errorf("GET /sd: Content-Type %q, Prometheus wants application/json", ctype)
	}
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	var groups []sdGroup
	if err := dec.Decode(&groups); err != nil {
		return nil, fmt.Errorf("GET /sd: %w\n%s", err, body)
	}
	return groups, nil
}

// sdAccounts returns the accounts that /sd lists, in its order.
func sdAccounts(groups []sdGroup) []string {
	var out []string
	for _, g := range groups {
		if id := g.Labels["__param_account_id"]; id != "" {
			out = append(out, id)
		}
	}
	return out
}

// checkSD compares /sd with want: first the exporter's own target, then
// one target per account of want, sorted by ID, each on host and named.
func checkSD(groups []sdGroup, host string, want map[string]orgAccount) error {
	wantGroups := []sdGroup{{
		Targets: []string{host},
		Labels:  map[string]string{"__metrics_path__": "/metrics", "__param_exporter": "true"},
	}}
	for _, id := range slices.Sorted(maps.Keys(want)) {
		wantGroups = append(wantGroups, sdGroup{
			Targets: []string{host},
			Labels: map[string]string{
				"__metrics_path__":   "/metrics",
				"__param_account_id": id,
				"account_id":         id,
				sdMetaName:           want[id].name,
			},
		})
	}
	if len(groups) != len(wantGroups) {
		return fmt.Errorf("/sd lists %d groups (accounts %v), want %d (accounts %v)",
			len(groups), sdAccounts(groups), len(wantGroups), slices.Sorted(maps.Keys(want)))
	}
	for i, g := range groups {
		w := wantGroups[i]
		if !slices.Equal(g.Targets, w.Targets) || !maps.Equal(g.Labels, w.Labels) {
			return fmt.Errorf("/sd group %d is %+v, want %+v", i, g, w)
		}
	}
	return nil
}

// textFormat is curl's Accept header. The exporter answers every Accept
// header in the text format: collector's tests compare each header's answer
// with promhttp's, and TestAccountTargets/prometheus scrapes with
// Prometheus's own (OpenMetrics); these tests ask once.
const textFormat = "text/plain;version=0.0.4"

// readMetrics GETs /metrics with the query q and the Accept header accept,
// checks that the answer is in the text format whatever accept says, and
// decodes it.
func readMetrics(e *exporter, q url.Values, accept string) (map[string]*dto.MetricFamily, error) {
	u := e.URL + "/metrics"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	status, header, body, err := get(u, http.Header{"Accept": {accept}})
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d: %s", u, status, body)
	}
	format := expfmt.ResponseFormat(header)
	if format.FormatType() != expfmt.TypeTextPlain {
		return nil, fmt.Errorf("GET %s with Accept %s: Content-Type %s, want the text format", u, accept, header.Get("Content-Type"))
	}
	dec := expfmt.NewDecoder(strings.NewReader(body), format)
	mfs := map[string]*dto.MetricFamily{}
	for {
		var mf dto.MetricFamily
		err := dec.Decode(&mf)
		if errors.Is(err, io.EOF) {
			return mfs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("GET %s: %s: %w", u, format, err)
		}
		if _, dup := mfs[mf.GetName()]; dup {
			return nil, fmt.Errorf("GET %s: %s: family %s twice", u, format, mf.GetName())
		}
		mfs[mf.GetName()] = &mf
	}
}

// seriesOf returns the series of mfs as "name{labels}", each with its
// account_id label ("" for none).
func seriesOf(mfs map[string]*dto.MetricFamily) map[string]string {
	out := map[string]string{}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := labelMap(m.GetLabel())
			out[fmt.Sprintf("%s%v", name, labels)] = labels["account_id"]
		}
	}
	return out
}

// status returns the status code of GET u.
func status(t *testing.T, u string) int {
	t.Helper()
	code, err := statusOf(u)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// Per-account targets on an organization of a few dozen accounts in
// moto_server, read by one replica and by two shards: what the exporter
// serves, then what a real Prometheus makes of it. The subtests share the
// organization and the replicas, which take most of the time to set up,
// and run in order: the last removes an account.
func TestAccountTargets(t *testing.T) {
	t.Parallel()
	endpoint := testenv.StartMoto(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	o := newTargetsOrg(ctx, t, endpoint)
	env := testenv.AWSEnv(endpoint, t.TempDir())
	// The three replicas start at once: each waits out moto's first
	// credential report.
	e := startExporter(t, env, targetsFlags()...)
	shards := make([]*exporter, 2)
	for i := range shards {
		shards[i] = startExporter(t, env, targetsFlags(fmt.Sprintf("--shard=%d", i), "--total-shards=2")...)
	}
	t.Run("endpoints", func(t *testing.T) { testTargetEndpoints(t, o, e, shards) })
	t.Run("prometheus", func(t *testing.T) { testPrometheusAccountTargets(ctx, t, o, e) })
}

// The exporter's endpoints, on the organization read by one replica e and
// by two shards. /sd lists exactly the accounts that a replica reads (each
// shard exactly its own, together the organization), first the exporter's
// own target, on the Host that /sd was asked for; /metrics?account_id= of
// an account holds that account's series, /metrics?exporter=true the
// exporter's own (that the parts add up to /metrics, each series once, is
// collector's TestScopesAddUpToAll). A shard exports its --shard and
// --total-shards, and answers 404 for another shard's account (malformed
// IDs: collector's TestScopeErrors).
func testTargetEndpoints(t *testing.T, o *targetsOrg, e *exporter, shards []*exporter) {
	all := o.want()
	waitForAccounts(t, e, all)
	host := strings.TrimPrefix(e.URL, "http://")
	waitFor(t, patience, func() error {
		groups, err := readSD(e, "")
		if err != nil {
			return err
		}
		return checkSD(groups, host, all)
	})
	// The targets are on the host that Prometheus asked /sd at, which is
	// how it reaches the exporter, whatever the exporter's own address.
	groups, err := readSD(e, docsExporterHost)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkSD(groups, docsExporterHost, all); err != nil {
		t.Errorf("/sd asked with Host %s: %v", docsExporterHost, err)
	}
	ids := slices.Sorted(maps.Keys(all))

	t.Run("parts", func(t *testing.T) {
		own, err := readMetrics(e, url.Values{"exporter": {"true"}}, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{
			"iam_credential_exporter_build_info", "iam_credential_exporter_account_discovery_success",
			"iam_credential_exporter_shard_ordinal", "iam_credential_exporter_total_shards",
			"iam_credential_exporter_aws_requests_total", "go_goroutines", "process_start_time_seconds",
			"promhttp_metric_handler_requests_total",
		} {
			if _, ok := own[name]; !ok {
				t.Errorf("/metrics?exporter=true has no %s", name)
			}
		}
		id := ids[len(ids)-1]
		mfs, err := readMetrics(e, url.Values{"account_id": {id}}, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := checkAccounts(mfs, map[string]orgAccount{id: all[id]}); err != nil {
			t.Errorf("/metrics?account_id=%s: %v", id, err)
		}
		for _, name := range []string{"iam_credential_exporter_refreshes_total", "aws_iam_credential_report_users"} {
			if _, ok := sample(mfs, name, map[string]string{"account_id": id}); !ok {
				t.Errorf("/metrics?account_id=%s has no %s", id, name)
			}
		}
	})

	t.Run("shards", func(t *testing.T) {
		var lists [2][]string
		waitFor(t, patience, func() error {
			owner := map[string]int{}
			for i, s := range shards {
				mfs, err := readMetrics(s, nil, "")
				if err != nil {
					return err
				}
				mine := map[string]orgAccount{}
				for id := range labelledAccounts(mfs) {
					mine[id] = all[id]
				}
				if err := checkAccounts(mfs, mine); err != nil {
					return fmt.Errorf("shard %d: %w", i, err)
				}
				groups, err := readSD(s, "")
				if err != nil {
					return fmt.Errorf("shard %d: %w", i, err)
				}
				if err := checkSD(groups, strings.TrimPrefix(s.URL, "http://"), mine); err != nil {
					return fmt.Errorf("shard %d: %w", i, err)
				}
				lists[i] = sdAccounts(groups)
				for _, id := range lists[i] {
					if j, ok := owner[id]; ok {
						return fmt.Errorf("account %s is listed by shards %d and %d", id, j, i)
					}
					owner[id] = i
				}
			}
			if len(owner) != len(all) {
				return fmt.Errorf("the shards list %d accounts (%v), want all %d of the organization", len(owner), lists, len(all))
			}
			return nil
		})
		t.Logf("accounts by shard: %d and %d", len(lists[0]), len(lists[1]))
		for i, s := range shards {
			own, err := readMetrics(s, url.Values{"exporter": {"true"}}, "")
			if err != nil {
				t.Fatal(err)
			}
			if v, ok := sample(own, "iam_credential_exporter_shard_ordinal", nil); !ok || v != float64(i) {
				t.Errorf("shard %d: shard_ordinal = %v (present %v)", i, v, ok)
			}
			if v, ok := sample(own, "iam_credential_exporter_total_shards", nil); !ok || v != 2 {
				t.Errorf("shard %d: total_shards = %v (present %v), want 2", i, v, ok)
			}
			if len(lists[i]) == 0 {
				t.Errorf("shard %d lists no account", i)
				continue
			}
			other := lists[1-i][0]
			if got := status(t, s.URL+"/metrics?account_id="+other); got != http.StatusNotFound {
				t.Errorf("shard %d: /metrics?account_id= of shard %d's account %s: status %d, want 404", i, 1-i, other, got)
			}
		}
	})
}

// ---- Prometheus, configured as docs/multi-account.md says ----

// docsSDConfig returns docs/multi-account.md's Prometheus configuration for
// per-account targets: the first ```yaml block that has http_sd_configs.
func docsSDConfig(t testing.TB) string {
	t.Helper()
	return sdConfigIn(t, "../docs/multi-account.md")
}

// sdConfigIn is docsSDConfig of the page at path, such as another
// revision's (whose README held the configuration before it moved to docs/).
func sdConfigIn(t testing.TB, path string) string {
	t.Helper()
	block := regexp.MustCompile("(?ms)^```yaml\n(.*?)^```$")
	for _, m := range block.FindAllStringSubmatch(readText(t, path), -1) {
		if strings.Contains(m[1], "http_sd_configs") {
			return m[1]
		}
	}
	t.Fatalf("%s has no ```yaml block with http_sd_configs", path)
	return ""
}

// setYAML sets key of the mapping node m to v, in place if it is there.
func setYAML(t testing.TB, m *yaml.Node, key string, v any) {
	t.Helper()
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = &n
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, &n)
}

// promConfigFromDocs returns the documented configuration src as a test
// runs it, and the name of its job: the exporter at addr instead of
// iam-credential-exporter:9860, service discovery every second instead of
// every minute, scrapes and rule evaluations every second, and the rule
// files loaded. The rest is the documentation's. With static, the job's
// http_sd_configs give way to the one target addr: the single-target
// setup, which the per-account targets must match.
func promConfigFromDocs(t testing.TB, src, addr string, rules []string, static bool) (cfg []byte, job string) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		t.Fatalf("the documented Prometheus configuration is not one YAML mapping (%v):\n%s", err, src)
	}
	top := doc.Content[0]
	scrapes := yamlValue(top, "scrape_configs")
	if scrapes == nil || scrapes.Kind != yaml.SequenceNode {
		t.Fatalf("the documented Prometheus configuration has no scrape_configs list:\n%s", src)
	}
	for _, sc := range scrapes.Content {
		sds := yamlValue(sc, "http_sd_configs")
		if sds == nil {
			continue
		}
		name := yamlValue(sc, "job_name")
		if name == nil || job != "" {
			t.Fatalf("the documented Prometheus configuration: want one job with http_sd_configs, with a job_name:\n%s", src)
		}
		job = name.Value
		for _, sd := range sds.Content {
			u := yamlValue(sd, "url")
			if u == nil || !strings.Contains(u.Value, docsExporterHost) {
				t.Fatalf("the documented http_sd_configs entry at line %d has no url on %s:\n%s", sd.Line, docsExporterHost, src)
			}
			u.Value = strings.ReplaceAll(u.Value, docsExporterHost, addr)
			setYAML(t, sd, "refresh_interval", "1s")
		}
		if static {
			for i := 0; i+1 < len(sc.Content); i += 2 {
				if sc.Content[i].Value == "http_sd_configs" {
					sc.Content[i].Value = "static_configs"
					if err := sc.Content[i+1].Encode([]map[string][]string{{"targets": {addr}}}); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	if job == "" {
		t.Fatalf("the documented Prometheus configuration has no job with http_sd_configs:\n%s", src)
	}
	setYAML(t, top, "global", map[string]string{"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"})
	setYAML(t, top, "rule_files", absPaths(t, rules))
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	return out, job
}

// promTarget is an active target of Prometheus's /api/v1/targets.
type promTarget struct {
	DiscoveredLabels map[string]string `json:"discoveredLabels"`
	Labels           map[string]string `json:"labels"`
	ScrapeURL        string            `json:"scrapeUrl"`
	Health           string            `json:"health"`
	LastError        string            `json:"lastError"`
}

func (p *promServer) targets() ([]promTarget, error) {
	var data struct {
		ActiveTargets []promTarget `json:"activeTargets"`
	}
	err := p.api("/api/v1/targets", url.Values{"state": {"active"}}, &data)
	return data.ActiveTargets, err
}

// checkPromTargets compares Prometheus's active targets with want: the
// exporter's own target and one per account, each up and scraped at its
// own URL, and labelled with its account.
func checkPromTargets(p *promServer, job, addr string, want map[string]orgAccount) error {
	targets, err := p.targets()
	if err != nil {
		return err
	}
	got := map[string]promTarget{}
	for _, tg := range targets {
		if tg.Labels["job"] != job {
			continue
		}
		id := tg.Labels["account_id"]
		if _, dup := got[id]; dup {
			return fmt.Errorf("two targets of account %q", id)
		}
		got[id] = tg
	}
	if ids, wantIDs := slices.Sorted(maps.Keys(got)), append([]string{""}, slices.Sorted(maps.Keys(want))...); !slices.Equal(ids, wantIDs) {
		return fmt.Errorf("targets of accounts %q, want the exporter's (\"\") and %q", ids, wantIDs[1:])
	}
	for id, tg := range got {
		wantURL := "http://" + addr + "/metrics?account_id=" + id
		if id == "" {
			wantURL = "http://" + addr + "/metrics?exporter=true"
		}
		if tg.ScrapeURL != wantURL || tg.Labels["instance"] != addr {
			return fmt.Errorf("target of account %q scrapes %s as instance %s, want %s as %s", id, tg.ScrapeURL, tg.Labels["instance"], wantURL, addr)
		}
		if tg.Health != "up" {
			return fmt.Errorf("target of account %q: health %q, error %q", id, tg.Health, tg.LastError)
		}
		if name := tg.DiscoveredLabels[sdMetaName]; id != "" && name != want[id].name {
			return fmt.Errorf("target of account %s: discovered %s %q, want %q", id, sdMetaName, name, want[id].name)
		}
	}
	return nil
}

// checkUp checks that up is 1 for the exporter's own target and for each
// account of want, and that there is no other target.
func checkUp(p *promServer, job string, want map[string]orgAccount) error {
	up, err := p.vector(fmt.Sprintf("up{job=%q}", job))
	if err != nil {
		return err
	}
	var ids []string
	for _, s := range up {
		if s.Value[1] != "1" {
			return fmt.Errorf("up%v = %v", s.Metric, s.Value[1])
		}
		ids = append(ids, s.Metric["account_id"])
	}
	slices.Sort(ids)
	if wantIDs := append([]string{""}, slices.Sorted(maps.Keys(want))...); !slices.Equal(ids, wantIDs) {
		return fmt.Errorf("up of accounts %q, want the exporter's (\"\") and %q", ids, wantIDs[1:])
	}
	return nil
}

// checkStoredUsers checks that Prometheus stores exactly the users of want,
// each with its account's account_id and ARN.
func checkStoredUsers(p *promServer, job string, want map[string]orgAccount) error {
	res, err := p.vector(fmt.Sprintf("aws_iam_user_info{job=%q}", job))
	if err != nil {
		return err
	}
	var got, wantUsers []string
	for _, s := range res {
		got = append(got, s.Metric["account_id"]+" "+s.Metric["user"]+" "+s.Metric["arn"])
	}
	for id, a := range want {
		for _, u := range a.users {
			wantUsers = append(wantUsers, id+" "+u+" arn:aws:iam::"+id+":user/"+u)
		}
	}
	slices.Sort(got)
	slices.Sort(wantUsers)
	if !slices.Equal(got, wantUsers) {
		return fmt.Errorf("stored users (account user arn) differ\nmissing:\n  %s\nunexpected:\n  %s",
			strings.Join(minus(wantUsers, got), "\n  "), strings.Join(minus(got, wantUsers), "\n  "))
	}
	return nil
}

// checkScrapedSamples checks that Prometheus, which asks for OpenMetrics and
// reads the text format it gets, scraped from each account's target as many samples as the account has
// series in the text of /metrics?account_id= (an account has no histogram
// or summary, so a series is a sample).
func checkScrapedSamples(p *promServer, job string, e *exporter, want map[string]orgAccount) error {
	res, err := p.vector(fmt.Sprintf("scrape_samples_scraped{job=%q}", job))
	if err != nil {
		return err
	}
	got := map[string]string{}
	for _, s := range res {
		got[s.Metric["account_id"]], _ = s.Value[1].(string)
	}
	for id := range want {
		mfs, err := readMetrics(e, url.Values{"account_id": {id}}, textFormat)
		if err != nil {
			return err
		}
		if n := strconv.Itoa(len(seriesOf(mfs))); got[id] != n {
			return fmt.Errorf("scrape_samples_scraped{account_id=%q} = %q, want the %s series of /metrics?account_id=%s", id, got[id], n, id)
		}
	}
	return nil
}

// alertSet returns the alerts of p as "alertname account_id user", sorted,
// and as label sets with their state and annotations.
func alertSet(p *promServer) (keys, full []string, err error) {
	alerts, err := p.alerts()
	if err != nil {
		return nil, nil, err
	}
	for _, a := range alerts {
		user := a.Labels["user"]
		if user == "" {
			user = "-"
		}
		keys = append(keys, a.Labels["alertname"]+" "+a.Labels["account_id"]+" "+user)
		full = append(full, labelKey(a.Labels)+" "+a.State+" "+labelKey(a.Annotations))
	}
	slices.Sort(keys)
	slices.Sort(full)
	return keys, full, nil
}

// The Prometheus configuration of docs/multi-account.md, run by a real Prometheus against an
// exporter that discovers an organization of a few dozen accounts in
// moto_server: every account becomes a target of its own with up 1, next to
// the exporter's own; every account's users are stored with its account_id;
// every rule evaluates cleanly, and the alerts are exactly those that the
// same rules fire when a second Prometheus scrapes the whole /metrics as
// one target, each with the right account_id. An account removed from the
// organization disappears from /sd, from the targets and from the stored
// series, and IAMCredentialReportMissing starts for it as with one target.
func testPrometheusAccountTargets(ctx context.Context, t *testing.T, o *targetsOrg, e *exporter) {
	requireProgram(t, "prometheus")
	all := o.want()
	addr := strings.TrimPrefix(e.URL, "http://")
	rules := ruleFiles(t)
	readme := docsSDConfig(t)
	cfg, job := promConfigFromDocs(t, readme, addr, rules, false)
	prom := startPrometheusConfig(t, cfg)
	singleCfg, _ := promConfigFromDocs(t, readme, addr, rules, true)
	single := startPrometheusConfig(t, singleCfg)

	waitFor(t, patience, func() error { return checkUp(prom, job, all) })
	if err := checkPromTargets(prom, job, addr, all); err != nil {
		t.Error(err)
	}
	waitFor(t, patience, func() error { return checkStoredUsers(prom, job, all) })
	waitFor(t, patience, func() error { return checkScrapedSamples(prom, job, e, all) })

	t.Run("alerts as in single-target mode", func(t *testing.T) {
		want := o.wantAlerts(all)
		var full, singleFull []string
		var stableSince time.Time
		waitFor(t, patience, func() error {
			keys, f, err := alertSet(prom)
			if err != nil {
				return err
			}
			singleKeys, sf, err := alertSet(single)
			if err != nil {
				return err
			}
			full, singleFull = f, sf
			for server, got := range map[string][]string{"per-account targets": keys, "single target": singleKeys} {
				if !slices.Equal(got, want) {
					stableSince = time.Time{}
					return fmt.Errorf("%s: alerts are not the expected set\nmissing:\n  %s\nunexpected:\n  %s", server,
						strings.Join(minus(want, got), "\n  "), strings.Join(minus(got, want), "\n  "))
				}
			}
			return heldFor(&stableSince, 3*time.Second)
		})
		if !slices.Equal(full, singleFull) {
			t.Errorf("alerts (labels, state, annotations) differ from single-target mode\nonly with per-account targets:\n  %s\nonly with one target:\n  %s",
				strings.Join(minus(full, singleFull), "\n  "), strings.Join(minus(singleFull, full), "\n  "))
		}
		t.Logf("%d alerts, as in single-target mode", len(full))
	})
	t.Run("rules", func(t *testing.T) { checkRules(t, prom) })

	t.Run("account removed", func(t *testing.T) {
		// Its alerts are not checked: keep_firing_for holds them for 10
		// minutes after its series go.
		removed := slices.Sorted(maps.Keys(o.want(motoManagementAccount)))[0]
		o.removeMember(ctx, removed)
		rest := o.want(removed)
		waitFor(t, patience, func() error {
			groups, err := readSD(e, "")
			if err != nil {
				return err
			}
			return checkSD(groups, addr, rest)
		})
		if got := status(t, e.URL+"/metrics?account_id="+removed); got != http.StatusNotFound {
			t.Errorf("/metrics?account_id= of the removed account: status %d, want 404", got)
		}
		waitFor(t, patience, func() error {
			if err := checkPromTargets(prom, job, addr, rest); err != nil {
				return err
			}
			return checkUp(prom, job, rest)
		})
		// The series of a target that is gone are marked stale at once.
		waitFor(t, patience, func() error { return checkStoredUsers(prom, job, rest) })
		// As the runbook says, IAMCredentialReportMissing starts for the
		// account (pending, for 15m) as in single-target mode, and
		// IAMCredentialAccountTargetDown does not: the target is gone, not
		// down.
		waitFor(t, patience, func() error {
			for server, p := range map[string]*promServer{"per-account targets": prom, "single target": single} {
				alerts, err := p.alerts()
				if err != nil {
					return err
				}
				var got []string
				for _, a := range alerts {
					name := a.Labels["alertname"]
					if a.Labels["account_id"] == removed && (name == "IAMCredentialReportMissing" || name == "IAMCredentialAccountTargetDown") {
						got = append(got, name+" "+a.State)
					}
				}
				if want := []string{"IAMCredentialReportMissing pending"}; !slices.Equal(got, want) {
					return fmt.Errorf("%s: alerts on the removed account's report and target: %q, want %q", server, got, want)
				}
			}
			return nil
		})
	})
}
