package e2e

// The example Alertmanager configuration (alerts/alertmanager.example.yml)
// against amtool and a real Alertmanager: it is valid; it pages security for
// critical credential findings and still tells the team, sends audit notices
// and exporter health to security only, and credential alerts to the team
// in tag_team whatever its case; a key past 90 days silences the notice that
// its rotation is due. With the exporter on the fake AWS endpoint, a real
// Prometheus running the rules and the example's routing tree, each team's
// webhook receives exactly its users' alerts.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/fakeaws"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/testenv"
)

const (
	alertmanagerExample = "../alerts/alertmanager.example.yml"
	defaultReceiver     = "security"
	pagerReceiver       = "security-pager"
)

// wantReceivers is where the example sends an alert, in the order of its
// routing tree, as amtool lists them: a critical credential alert to the
// pager and on; an audit notice to security; a credential alert of a team
// that has a route (in any case) to that team's receiver; any other alert
// to security.
func wantReceivers(labels map[string]string) []string {
	var rs []string
	switch labels["category"] {
	case "audit":
		return []string{defaultReceiver}
	case "credential":
		if labels["severity"] == "critical" {
			rs = append(rs, pagerReceiver)
		}
		switch team := strings.ToLower(labels["tag_team"]); team {
		case "payments", "platform":
			return append(rs, "team-"+team)
		}
	}
	return append(rs, defaultReceiver)
}

// wantGroupBy is the group_by of the route that sends an alert to receiver.
func wantGroupBy(receiver string, labels map[string]string) []string {
	switch {
	case receiver != defaultReceiver, labels["category"] == "audit":
		return []string{"alertname"}
	case labels["category"] == "credential":
		return []string{"tag_team", "alertname"}
	}
	return []string{"alertname", "job"}
}

// requireAlertmanager returns the Alertmanager server: Debian installs it as
// prometheus-alertmanager, upstream's release as alertmanager.
func requireAlertmanager(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"prometheus-alertmanager", "alertmanager"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	return requireProgram(t, "prometheus-alertmanager")
}

func TestAlertmanagerExampleCheck(t *testing.T) {
	t.Parallel()
	amtool := requireProgram(t, "amtool")
	out, err := exec.Command(amtool, "check-config", alertmanagerExample).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("SUCCESS")) {
		t.Fatalf("amtool check-config %s: %v\n%s", alertmanagerExample, err, out)
	}
}

// amtool resolves label sets through the example's routing tree as
// Alertmanager does.
func TestAlertmanagerExampleRoutes(t *testing.T) {
	t.Parallel()
	amtool := requireProgram(t, "amtool")
	const (
		tooOld  = "alertname=IAMCredentialAccessKeyTooOld"
		warning = "severity=warning"
		cred    = "category=credential"
	)
	for _, c := range []struct {
		name   string
		labels []string
		want   string // amtool's answer: receivers joined by commas
	}{
		{"team payments", []string{tooOld, warning, cred, "tag_owner=alice", "tag_team=payments"}, "team-payments"},
		{"team platform", []string{"alertname=IAMCredentialConsoleUserWithoutMFA", warning, cred, "tag_team=platform"}, "team-platform"},
		{"team capitalised", []string{tooOld, warning, cred, "tag_team=Payments"}, "team-payments"},
		{"team in capitals", []string{tooOld, warning, cred, "tag_team=PLATFORM"}, "team-platform"},
		{"team name inside another", []string{tooOld, warning, cred, "tag_team=payments-eu"}, defaultReceiver},
		{"no team", []string{tooOld, warning, cred, "tag_owner=carol"}, defaultReceiver},
		{"team without a route", []string{tooOld, warning, cred, "tag_team=research"}, defaultReceiver},
		{"info", []string{"alertname=IAMCredentialAccessKeyRotationDue", "severity=info", cred, "tag_team=payments"}, "team-payments"},
		{"exemption invalid", []string{"alertname=IAMCredentialExemptionInvalid", warning, cred, "user=pay-ci", "policy=key-rotation", "tag_team=payments"}, "team-payments"},
		{"root without a team", []string{"alertname=IAMCredentialRootWithoutMFA", "severity=critical", cred, "user=<root_account>"}, pagerReceiver + "," + defaultReceiver},
		{"root key of a team", []string{"alertname=IAMCredentialRootAccessKeyActive", "severity=critical", cred, "user=<root_account>", "key=1", "tag_team=Payments"}, pagerReceiver + ",team-payments"},
		{"root of a team without a route", []string{"alertname=IAMCredentialRootWithoutMFA", "severity=critical", cred, "user=<root_account>", "tag_team=research"}, pagerReceiver + "," + defaultReceiver},
		{"root key inactive", []string{"alertname=IAMCredentialRootAccessKeyInactive", warning, cred, "user=<root_account>", "key=1", "tag_team=platform"}, "team-platform"},
		{"exemption changed", []string{"alertname=IAMCredentialExemptionChanged", "severity=info", "category=audit", "user=pay-ci", "policy=key-rotation", "tag_team=payments"}, defaultReceiver},
		{"owner changed", []string{"alertname=IAMCredentialOwnerChanged", "severity=info", "category=audit", "user=pay-ci", "tag_owner=alice", "tag_team=platform"}, defaultReceiver},
		{"exporter health", []string{"alertname=IAMCredentialExporterDown", warning, "job=iam_credential_exporter", "instance=exporter:9101"}, defaultReceiver},
		{"refresh failing", []string{"alertname=IAMCredentialRefreshFailing", warning, "job=iam_credential_exporter", "account_id=123456789012", "tag_team=payments"}, defaultReceiver},
	} {
		t.Run(c.name, func(t *testing.T) {
			labels := map[string]string{}
			for _, l := range c.labels {
				k, v, _ := strings.Cut(l, "=")
				labels[k] = v
			}
			if got := strings.Join(wantReceivers(labels), ","); got != c.want {
				t.Fatalf("the test's wantReceivers gives %q, the case wants %q", got, c.want)
			}
			cmd := exec.Command(amtool, append([]string{"config", "routes", "test", "--config.file=" + alertmanagerExample}, c.labels...)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("amtool config routes test %v: %v\n%s", c.labels, err, stderr.String())
			}
			if got := strings.TrimSpace(string(out)); got != c.want {
				t.Errorf("%v routes to %q, want %q", c.labels, got, c.want)
			}
		})
	}
}

// ---- webhook receivers ----

// webhookAlert and webhookMessage are the parts of Alertmanager's webhook
// payload the test reads.
type webhookAlert struct {
	Status string            `json:"status"`
	Labels map[string]string `json:"labels"`
}

type webhookMessage struct {
	Receiver    string            `json:"receiver"`
	Status      string            `json:"status"`
	GroupLabels map[string]string `json:"groupLabels"`
	Alerts      []webhookAlert    `json:"alerts"`
}

// webhook is one receiver's endpoint: an HTTP server on 127.0.0.1 that
// keeps every notification it is sent.
type webhook struct {
	receiver string
	srv      *httptest.Server

	mu       sync.Mutex
	messages []webhookMessage
	errs     []string
}

func newWebhook(t testing.TB, receiver string) *webhook {
	t.Helper()
	w := &webhook{receiver: receiver}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var m webhookMessage
		err := json.NewDecoder(r.Body).Decode(&m)
		w.mu.Lock()
		defer w.mu.Unlock()
		if r.Method != http.MethodPost || err != nil {
			w.errs = append(w.errs, fmt.Sprintf("%s %s: %v", r.Method, r.URL, err))
			http.Error(rw, "want a POST of a webhook notification", http.StatusBadRequest)
			return
		}
		w.messages = append(w.messages, m)
	}))
	t.Cleanup(w.srv.Close)
	return w
}

// received returns the notifications so far and the requests that were not
// notifications.
func (w *webhook) received() ([]webhookMessage, []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.messages), slices.Clone(w.errs)
}

// labelKey names a label set, sorted, as Prometheus and Alertmanager both
// identify an alert by it.
func labelKey(labels map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		fmt.Fprintf(&b, "%s=%q,", k, labels[k])
	}
	return "{" + strings.TrimSuffix(b.String(), ",") + "}"
}

// ---- the example, made testable ----

// startExample runs Alertmanager on the example with each receiver's
// webhook URLs pointing at a test webhook and every group_wait and
// group_interval cut to 1s, so that notifications come within seconds. The
// routing tree and inhibit rules are the example's own.
func startExample(t testing.TB) (string, map[string]*webhook) {
	t.Helper()
	src, err := os.ReadFile(alertmanagerExample)
	if err != nil {
		t.Fatal(err)
	}
	addr, hooks := startWithWebhooks(t, alertmanagerExample, src, "1s", "1s")
	for _, r := range []string{pagerReceiver, "team-payments", "team-platform", defaultReceiver} {
		if hooks[r] == nil {
			t.Fatalf("%s has no receiver %s", alertmanagerExample, r)
		}
	}
	return addr, hooks
}

// configForTest returns the configuration src (name says which in
// failures) with each receiver's webhook URLs replaced by url(receiver),
// every group_wait set to wait, group_interval to interval and
// repeat_interval to 1h.
func configForTest(t testing.TB, name string, src []byte, wait, interval string, url func(receiver string) string) []byte {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil || len(doc.Content) != 1 {
		t.Fatalf("%s: not one YAML document: %v", name, err)
	}
	var shorten func(n *yaml.Node)
	shorten = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				switch n.Content[i].Value {
				case "group_wait":
					n.Content[i+1].Value = wait
				case "group_interval":
					n.Content[i+1].Value = interval
				case "repeat_interval":
					n.Content[i+1].Value = "1h"
				}
			}
		}
		for _, c := range n.Content {
			shorten(c)
		}
	}
	shorten(&doc)

	receivers := yamlValue(doc.Content[0], "receivers")
	if receivers == nil || receivers.Kind != yaml.SequenceNode {
		t.Fatalf("%s: no receivers list", name)
	}
	for _, r := range receivers.Content {
		rname := yamlValue(r, "name")
		hooks := yamlValue(r, "webhook_configs")
		if rname == nil || hooks == nil || len(r.Content) != 4 {
			t.Fatalf("%s: receiver at line %d: want a name and webhook_configs alone", name, r.Line)
		}
		for _, h := range hooks.Content {
			u := yamlValue(h, "url")
			if u == nil {
				t.Fatalf("%s: receiver %s: webhook at line %d has no url", name, rname.Value, h.Line)
			}
			u.Value = url(rname.Value)
		}
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// startWithWebhooks runs Alertmanager on configForTest(name, src, wait,
// interval) with one test webhook per receiver, and returns its address and
// the webhooks by receiver.
func startWithWebhooks(t testing.TB, name string, src []byte, wait, interval string) (string, map[string]*webhook) {
	t.Helper()
	hooks := map[string]*webhook{}
	config := configForTest(t, name, src, wait, interval, func(receiver string) string {
		if hooks[receiver] == nil {
			hooks[receiver] = newWebhook(t, receiver)
		}
		return hooks[receiver].srv.URL + "/" + receiver
	})
	return startAlertmanager(t, config), hooks
}

// yamlValue returns the value of key in a mapping node, nil when absent.
func yamlValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// ---- the servers ----

// startAlertmanager runs Alertmanager with config on a free loopback port,
// without clustering, and returns its address.
func startAlertmanager(t testing.TB, config []byte) string {
	t.Helper()
	bin := requireAlertmanager(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfgPath, config, 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd := exec.CommandContext(t.Context(), bin,
		"--config.file="+cfgPath,
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--cluster.listen-address=",
	)
	logs := testenv.StartProcess(t, "alertmanager", cmd, 15*time.Second, false)
	waitFor(t, patience, func() error {
		_, err := httpGet("http://" + addr + "/-/ready")
		if err != nil {
			return fmt.Errorf("%v\n%s", err, logs.String())
		}
		return nil
	})
	return addr
}

// startAlertingPrometheus is startPrometheus with the alerts sent to the
// Alertmanager at amAddr.
func startAlertingPrometheus(t *testing.T, target, amAddr string, rules []string) *promServer {
	t.Helper()
	return runPrometheus(t, "testdata/alertmanager/prometheus.yml", map[string]any{"Target": target, "Alertmanager": amAddr}, rules)
}

// ---- the end-to-end test ----

// amUser is an IAM user of the routing test: its tags, whether its access
// key is older than 90 days, the days until its exemption from key rotation
// ends (negative: ended; 0: none), and whether it has a second key created
// 10 days ago while the first is not used any more (a rotation left
// half-done).
type amUser struct {
	name, owner, team string
	oldKey            bool
	exemptDays        int
	rotating          bool
}

// exempt reports whether the user's key findings are exempt now.
func (u amUser) exempt() bool { return u.exemptDays > 0 }

var amUsers = []amUser{
	{name: "pay-deploy", owner: "alice", team: "payments", oldKey: true},
	{name: "pay-ci", owner: "alice", team: "payments", oldKey: true},
	{name: "pay-reports", owner: "alice", team: "payments"}, // a recent key: no alert
	{name: "plat-terraform", owner: "bob", team: "platform", oldKey: true},
	{name: "svc-audit", owner: "carol", oldKey: true},                                     // an owner but no team
	{name: "legacy-batch", oldKey: true},                                                  // no tags at all
	{name: "pay-vendor", owner: "alice", team: "payments", oldKey: true, exemptDays: 30},  // exempt: no key alert
	{name: "pay-expired", owner: "alice", team: "payments", oldKey: true, exemptDays: -2}, // exemption ended: alerts
	{name: "plat-rotating", owner: "bob", team: "platform", rotating: true},               // rotation left half-done
	{name: "pay-billing", owner: "dave", team: "Payments", oldKey: true},                  // the team in another case
}

const amAccount = "345678901234"

// The exporter reads users with owner and team tags from the fake AWS
// endpoint; a real Prometheus runs the rules on it and sends the alerts to
// a real Alertmanager running the example's routing tree. Every alert that
// fires reaches the receiver the example promises, with its group labels;
// IAMCredentialAccessKeyTooOld reaches each team's webhook for exactly its
// users, labelled with their tag_team and tag_owner, and the security
// team's for the users without a team.
func TestAlertmanagerRoutesByTeam(t *testing.T) {
	t.Parallel()
	requireProgram(t, "prometheus")
	requireAlertmanager(t)

	now := time.Now()
	var users []fakeaws.User
	for i, u := range amUsers {
		age := 10 * day
		if u.oldKey {
			age = time.Duration(95+10*i) * day
		}
		var tags []fakeaws.Tag
		if u.owner != "" {
			tags = append(tags, fakeaws.Tag{Key: "owner", Value: u.owner})
		}
		if u.team != "" {
			tags = append(tags, fakeaws.Tag{Key: "team", Value: u.team})
		}
		if u.exemptDays != 0 {
			// In force since 30 days before its end, or since yesterday.
			first := now.AddDate(0, 0, min(-1, u.exemptDays-30)).UTC().Format(time.DateOnly)
			last := now.AddDate(0, 0, u.exemptDays).UTC().Format(time.DateOnly)
			tags = append(tags, fakeaws.Tag{Key: "iam-credential-exemption:key-rotation", Value: first + "/" + last + " SEC-42 vendor appliance"})
		}
		keys := []fakeaws.AccessKey{{ID: fmt.Sprintf("AKIAEXAMPLE%09d", i), Created: now.Add(-age), Active: true}}
		if u.rotating {
			keys = append(keys, fakeaws.AccessKey{ID: fmt.Sprintf("AKIAEXAMPLE%09d", 100+i), Created: now.Add(-10 * day), Active: true})
			keys[0].Created = now.Add(-60 * day)
		}
		users = append(users, fakeaws.User{Name: u.name, Tags: tags, AccessKeys: keys})
	}
	fake := fakeaws.New(amAccount)
	t.Cleanup(fake.Close)
	fake.DefaultAccount().SetUsers(users)
	fake.DefaultAccount().SetReport(fakeaws.ReportCSV(amAccount, now.Add(-400*day), users), now.Add(-time.Hour))

	amAddr, hooks := startExample(t)

	exp := startExporter(t, fake.Environ(), "--report.refresh-interval=1s",
		"--aws.user-tags=owner,team", "--aws.user-tags.refresh-interval=1s", "--aws.exemptions")
	// Prometheus starts once the tags are served, as it would find them on
	// a long-running exporter.
	waitFor(t, patience, func() error {
		_, mfs := scrape(t, exp.URL)
		for _, u := range amUsers {
			if u.owner == "" {
				continue
			}
			if _, ok := sample(mfs, "aws_iam_user_tags", map[string]string{"user": u.name, "tag_owner": u.owner}); !ok {
				return fmt.Errorf("no aws_iam_user_tags for %s yet", u.name)
			}
		}
		return nil
	})
	prom := startAlertingPrometheus(t, strings.TrimPrefix(exp.URL, "http://"), amAddr, ruleFiles(t))

	// Wait until Prometheus fires IAMCredentialAccessKeyTooOld for every
	// old key not exempt, and the stalled rotation's alert, and every alert
	// it fires has reached some webhook.
	const tooOld = "IAMCredentialAccessKeyTooOld"
	const incomplete = "IAMCredentialAccessKeyRotationIncomplete"
	waitFor(t, patience, func() error {
		alerts, err := prom.alerts()
		if err != nil {
			return err
		}
		firing := map[string]bool{}
		fired := map[string]bool{}
		for _, a := range alerts {
			if a.State == "firing" {
				firing[labelKey(a.Labels)] = true
				switch a.Labels["alertname"] {
				case tooOld:
					fired[a.Labels["user"]] = true
				case incomplete:
					fired[incomplete+" "+a.Labels["user"]] = true
				}
			}
		}
		for _, u := range amUsers {
			if u.oldKey && !u.exempt() && !fired[u.name] {
				return fmt.Errorf("Prometheus does not fire %s for %s yet", tooOld, u.name)
			}
			if u.rotating && !fired[incomplete+" "+u.name] {
				return fmt.Errorf("Prometheus does not fire %s for %s yet", incomplete, u.name)
			}
		}
		delivered := map[string]bool{}
		for _, h := range hooks {
			messages, _ := h.received()
			for _, m := range messages {
				for _, a := range m.Alerts {
					delivered[labelKey(a.Labels)] = true
				}
			}
		}
		var missing []string
		for k := range firing {
			if !delivered[k] {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			slices.Sort(missing)
			return fmt.Errorf("%d firing alerts not delivered yet:\n  %s", len(missing), strings.Join(missing, "\n  "))
		}
		return nil
	})

	// tooOldBy[receiver] lists the users whose key alert it received;
	// incompleteBy likewise for the stalled rotation.
	tooOldBy := map[string][]string{}
	incompleteBy := map[string][]string{}
	checkNotifications(t, hooks)
	for _, r := range slices.Sorted(maps.Keys(hooks)) {
		messages, _ := hooks[r].received()
		for _, m := range messages {
			for _, a := range m.Alerts {
				if a.Labels["alertname"] == tooOld && a.Status == "firing" && !slices.Contains(tooOldBy[r], a.Labels["user"]) {
					tooOldBy[r] = append(tooOldBy[r], a.Labels["user"])
					checkOwnerLabels(t, r, a.Labels)
				}
				if a.Labels["alertname"] == incomplete && !slices.Contains(incompleteBy[r], a.Labels["user"]) {
					incompleteBy[r] = append(incompleteBy[r], a.Labels["user"])
					checkOwnerLabels(t, r, a.Labels)
				}
			}
		}
	}
	want := map[string][]string{}
	wantIncomplete := map[string][]string{}
	for _, u := range amUsers {
		r := wantReceivers(map[string]string{"category": "credential", "tag_team": u.team})[0]
		if u.oldKey && !u.exempt() {
			want[r] = append(want[r], u.name)
		}
		if u.rotating {
			wantIncomplete[r] = append(wantIncomplete[r], u.name)
		}
	}
	for _, r := range slices.Sorted(maps.Keys(hooks)) {
		got := slices.Sorted(slices.Values(tooOldBy[r]))
		if w := slices.Sorted(slices.Values(want[r])); !slices.Equal(got, w) {
			t.Errorf("%s received %s for users %q, want %q", r, tooOld, got, w)
		}
		// The workflow alert fires where the rotation stalled, and nowhere
		// else: the other users have one key each.
		got = slices.Sorted(slices.Values(incompleteBy[r]))
		if w := slices.Sorted(slices.Values(wantIncomplete[r])); !slices.Equal(got, w) {
			t.Errorf("%s received %s for users %q, want %q", r, incomplete, got, w)
		}
	}
}

// checkNotifications checks every notification the webhooks received: it
// is a POST for the webhook's own receiver, each alert in it is one that
// receiver should get, and its group labels are the alert's labels that the
// route groups by.
func checkNotifications(t *testing.T, hooks map[string]*webhook) {
	t.Helper()
	for _, r := range slices.Sorted(maps.Keys(hooks)) {
		messages, errs := hooks[r].received()
		for _, e := range errs {
			t.Errorf("webhook %s: %s", r, e)
		}
		for _, m := range messages {
			if m.Receiver != r {
				t.Errorf("webhook %s got a notification for receiver %q", r, m.Receiver)
			}
			for _, a := range m.Alerts {
				if want := wantReceivers(a.Labels); !slices.Contains(want, r) {
					t.Errorf("%s reached %s, want %q", labelKey(a.Labels), r, want)
				}
				group := map[string]string{}
				for _, k := range wantGroupBy(r, a.Labels) {
					if v, ok := a.Labels[k]; ok {
						group[k] = v
					}
				}
				if !maps.Equal(group, m.GroupLabels) {
					t.Errorf("%s: %s in a notification with group labels %v, want %v", r, labelKey(a.Labels), m.GroupLabels, group)
				}
			}
		}
	}
}

// checkOwnerLabels checks that a key alert received by receiver carries the
// category and the owner and team tags of its user.
func checkOwnerLabels(t *testing.T, receiver string, labels map[string]string) {
	t.Helper()
	i := slices.IndexFunc(amUsers, func(u amUser) bool { return u.name == labels["user"] })
	if i < 0 {
		t.Errorf("%s: an alert for a user the test did not create: %s", receiver, labelKey(labels))
		return
	}
	u := amUsers[i]
	if labels["account_id"] != amAccount || labels["category"] != "credential" ||
		labels["tag_owner"] != u.owner || labels["tag_team"] != u.team {
		t.Errorf("%s: %s: want account_id=%q category=\"credential\" tag_owner=%q tag_team=%q",
			receiver, labelKey(labels), amAccount, u.owner, u.team)
	}
}

// ---- alerts posted to Alertmanager's API ----

// postAlerts sends alerts, as label sets, to Alertmanager's v2 API as
// Prometheus does: firing now, ending in an hour unless sent again.
func postAlerts(t testing.TB, amAddr string, alerts ...map[string]string) {
	t.Helper()
	type postable struct {
		Labels   map[string]string `json:"labels"`
		StartsAt time.Time         `json:"startsAt"`
		EndsAt   time.Time         `json:"endsAt"`
	}
	now := time.Now().UTC()
	var body []postable
	for _, a := range alerts {
		body = append(body, postable{Labels: a, StartsAt: now, EndsAt: now.Add(time.Hour)})
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+amAddr+"/api/v2/alerts", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post %d alerts: %v", len(alerts), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("post %d alerts: %s: %s", len(alerts), resp.Status, msg)
	}
}

// amAlert is the part of an alert in Alertmanager's v2 API the tests read.
type amAlert struct {
	Labels map[string]string `json:"labels"`
	Status struct {
		State       string   `json:"state"` // active, suppressed or unprocessed
		InhibitedBy []string `json:"inhibitedBy"`
	} `json:"status"`
}

// amAlertGroup is the part of an alert group in Alertmanager's v2 API the
// tests read.
type amAlertGroup struct {
	Labels   map[string]string `json:"labels"`
	Receiver struct {
		Name string `json:"name"`
	} `json:"receiver"`
	Alerts []amAlert `json:"alerts"`
}

// amGet decodes the JSON that Alertmanager's v2 API returns at path.
func amGet(amAddr, path string, v any) error {
	body, err := httpGet("http://" + amAddr + "/api/v2/" + path)
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(body), v)
}

// deliveredTo returns the receivers whose webhooks received the alert with
// labels, firing.
func deliveredTo(hooks map[string]*webhook, labels map[string]string) []string {
	key := labelKey(labels)
	var rs []string
	for _, r := range slices.Sorted(maps.Keys(hooks)) {
		messages, _ := hooks[r].received()
		if slices.ContainsFunc(messages, func(m webhookMessage) bool {
			return slices.ContainsFunc(m.Alerts, func(a webhookAlert) bool {
				return a.Status == "firing" && labelKey(a.Labels) == key
			})
		}) {
			rs = append(rs, r)
		}
	}
	return rs
}

// Alerts with the labels the rules give (no job or instance on a credential
// alert), posted to a real Alertmanager running the example: a critical
// root finding reaches the pager and the team, audit notices only security,
// and IAMCredentialAccessKeyTooOld holds back the rotation notice of the
// same key in the same account, and of no other.
func TestAlertmanagerPagesAndInhibits(t *testing.T) {
	t.Parallel()
	amAddr, hooks := startExample(t)

	credential := func(alertname, severity, account, user, key string) map[string]string {
		l := map[string]string{
			"alertname": alertname, "severity": severity, "category": "credential",
			"account_id": account, "user": user, "tag_owner": "alice", "tag_team": "Payments",
		}
		if key != "" {
			l["key"] = key
		}
		return l
	}
	const account, other = "111111111111", "222222222222"
	tooOld := credential("IAMCredentialAccessKeyTooOld", "warning", account, "pay-ci", "1")
	tooOld["access_key_id"] = "AKIAEXAMPLE000000001"
	rootKey := credential("IAMCredentialRootAccessKeyActive", "critical", account, "<root_account>", "1")
	rootMFA := credential("IAMCredentialRootWithoutMFA", "critical", other, "<root_account>", "")
	delete(rootMFA, "tag_team") // an account without a team
	ownerChanged := map[string]string{
		"alertname": "IAMCredentialOwnerChanged", "severity": "info", "category": "audit",
		"account_id": account, "user": "pay-ci", "tag_owner": "alice", "tag_team": "payments",
	}
	exemptionChanged := map[string]string{
		"alertname": "IAMCredentialExemptionChanged", "severity": "info", "category": "audit",
		"account_id": account, "user": "pay-vendor", "policy": "key-rotation", "tag_team": "payments",
	}
	first := []map[string]string{tooOld, rootKey, rootMFA, ownerChanged, exemptionChanged}
	postAlerts(t, amAddr, first...)
	waitFor(t, patience, func() error {
		for _, a := range first {
			if got, want := deliveredTo(hooks, a), wantReceivers(a); len(got) < len(want) {
				return fmt.Errorf("%s reached %q so far, want %q", labelKey(a), got, want)
			}
		}
		return nil
	})

	// The notice for the too-old key: Alertmanager marks it inhibited by
	// the too-old alert, as it will when it flushes the notice's group.
	due := credential("IAMCredentialAccessKeyRotationDue", "info", account, "pay-ci", "1")
	postAlerts(t, amAddr, due)
	waitFor(t, patience, func() error {
		var alerts []amAlert
		if err := amGet(amAddr, "alerts", &alerts); err != nil {
			return err
		}
		for _, a := range alerts {
			if labelKey(a.Labels) == labelKey(due) {
				if a.Status.State != "suppressed" || len(a.Status.InhibitedBy) == 0 {
					return fmt.Errorf("%s is %s, inhibited by %q; want suppressed by %s", labelKey(due), a.Status.State, a.Status.InhibitedBy, tooOld["alertname"])
				}
				return nil
			}
		}
		return fmt.Errorf("Alertmanager does not list %s yet", labelKey(due))
	})
	// The notices for the user's other key and for the same key slot in
	// another account join the same group after it: a notification that
	// carries them would carry the first notice too, were it not inhibited.
	otherKey := credential("IAMCredentialAccessKeyRotationDue", "info", account, "pay-ci", "2")
	otherAccount := credential("IAMCredentialAccessKeyRotationDue", "info", other, "pay-ci", "1")
	postAlerts(t, amAddr, otherKey, otherAccount)
	waitFor(t, patience, func() error {
		for _, a := range []map[string]string{otherKey, otherAccount} {
			if got := deliveredTo(hooks, a); len(got) == 0 {
				return fmt.Errorf("%s not delivered yet", labelKey(a))
			}
		}
		return nil
	})

	for _, a := range append(first, otherKey, otherAccount) {
		if got, want := deliveredTo(hooks, a), wantReceivers(a); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
			t.Errorf("%s reached %q, want %q", labelKey(a), got, want)
		}
	}
	if got := deliveredTo(hooks, due); len(got) > 0 {
		t.Errorf("%s reached %q although %s fires for the same key", labelKey(due), got, tooOld["alertname"])
	}
	checkNotifications(t, hooks)
}
