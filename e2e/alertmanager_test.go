package e2e

// The example Alertmanager configuration (alerts/alertmanager.example.yml)
// against amtool and a real Alertmanager: it is valid, routes credential
// alerts by tag_team and everything else to the security team, and, with
// the exporter on the fake AWS endpoint, a real Prometheus running the rules
// and the example's routing tree, each team's webhook receives exactly its
// users' alerts.

import (
	"bytes"
	"encoding/json"
	"fmt"
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
)

// wantReceiver is where the example sends an alert: a credential alert of a
// team that has a route to that team's receiver, any other alert to the
// security team.
func wantReceiver(labels map[string]string) string {
	if labels["category"] == "credential" {
		switch team := labels["tag_team"]; team {
		case "payments", "platform":
			return "team-" + team
		}
	}
	return defaultReceiver
}

// requireAlertmanager returns the Alertmanager server: Debian installs it as
// prometheus-alertmanager, upstream's release as alertmanager.
func requireAlertmanager(t *testing.T) string {
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
	for _, c := range []struct {
		name   string
		labels []string
		want   string
	}{
		{"team payments", []string{"alertname=IAMCredentialAccessKeyTooOld", "severity=warning", "category=credential", "tag_owner=alice", "tag_team=payments"}, "team-payments"},
		{"team platform", []string{"alertname=IAMCredentialConsoleUserWithoutMFA", "severity=warning", "category=credential", "tag_team=platform"}, "team-platform"},
		{"no team", []string{"alertname=IAMCredentialAccessKeyTooOld", "severity=warning", "category=credential", "tag_owner=carol"}, defaultReceiver},
		{"team without a route", []string{"alertname=IAMCredentialAccessKeyTooOld", "severity=warning", "category=credential", "tag_team=research"}, defaultReceiver},
		{"root", []string{"alertname=IAMCredentialRootWithoutMFA", "severity=critical", "category=credential", "user=<root_account>"}, defaultReceiver},
		{"exporter health", []string{"alertname=IAMCredentialExporterDown", "severity=warning", "job=iam_credential_exporter"}, defaultReceiver},
		{"refresh failing", []string{"alertname=IAMCredentialRefreshFailing", "severity=warning", "account_id=123456789012"}, defaultReceiver},
	} {
		t.Run(c.name, func(t *testing.T) {
			labels := map[string]string{}
			for _, l := range c.labels {
				k, v, _ := strings.Cut(l, "=")
				labels[k] = v
			}
			if got := wantReceiver(labels); got != c.want {
				t.Fatalf("the test's wantReceiver gives %s, the case wants %s", got, c.want)
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

func newWebhook(t *testing.T, receiver string) *webhook {
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

// exampleForTest returns the example configuration with each receiver's
// webhook URLs replaced by url(receiver) and every group_wait and
// group_interval cut to 1s, so that notifications come within seconds. The
// routing tree is the example's own.
func exampleForTest(t *testing.T, url func(receiver string) string) []byte {
	t.Helper()
	src, err := os.ReadFile(alertmanagerExample)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil || len(doc.Content) != 1 {
		t.Fatalf("%s: not one YAML document: %v", alertmanagerExample, err)
	}
	var shorten func(n *yaml.Node)
	shorten = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				switch n.Content[i].Value {
				case "group_wait", "group_interval":
					n.Content[i+1].Value = "1s"
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
		t.Fatalf("%s: no receivers list", alertmanagerExample)
	}
	for _, r := range receivers.Content {
		name := yamlValue(r, "name")
		hooks := yamlValue(r, "webhook_configs")
		if name == nil || hooks == nil || len(r.Content) != 4 {
			t.Fatalf("%s: receiver at line %d: want a name and webhook_configs alone", alertmanagerExample, r.Line)
		}
		for _, h := range hooks.Content {
			u := yamlValue(h, "url")
			if u == nil {
				t.Fatalf("%s: receiver %s: webhook at line %d has no url", alertmanagerExample, name.Value, h.Line)
			}
			u.Value = url(name.Value)
		}
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
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
func startAlertmanager(t *testing.T, config []byte) string {
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
	waitFor(t, 30*time.Second, func() error {
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

	hooks := map[string]*webhook{}
	config := exampleForTest(t, func(receiver string) string {
		if hooks[receiver] == nil {
			hooks[receiver] = newWebhook(t, receiver)
		}
		return hooks[receiver].srv.URL + "/" + receiver
	})
	for _, r := range []string{"team-payments", "team-platform", defaultReceiver} {
		if hooks[r] == nil {
			t.Fatalf("%s has no receiver %s", alertmanagerExample, r)
		}
	}
	amAddr := startAlertmanager(t, config)

	exp := startExporter(t, fake.Environ(), "--report.refresh-interval=1s",
		"--aws.user-tags=owner,team", "--aws.user-tags.refresh-interval=1s", "--aws.exemptions")
	// Prometheus starts once the tags are served, as it would find them on
	// a long-running exporter.
	waitFor(t, 30*time.Second, func() error {
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
	waitFor(t, 120*time.Second, func() error {
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
	for _, r := range slices.Sorted(maps.Keys(hooks)) {
		h := hooks[r]
		messages, errs := h.received()
		for _, e := range errs {
			t.Errorf("webhook %s: %s", r, e)
		}
		for _, m := range messages {
			if m.Receiver != r {
				t.Errorf("webhook %s got a notification for receiver %q", r, m.Receiver)
			}
			for k := range m.GroupLabels {
				if k != "alertname" && k != "account_id" && k != "tag_team" {
					t.Errorf("%s: a notification grouped by %s: group labels %v, want alertname, account_id and tag_team", r, k, m.GroupLabels)
				}
			}
			for _, a := range m.Alerts {
				if want := wantReceiver(a.Labels); want != r {
					t.Errorf("%s reached %s, want %s", labelKey(a.Labels), r, want)
				}
				for _, k := range []string{"alertname", "account_id", "tag_team"} {
					if a.Labels[k] != m.GroupLabels[k] {
						t.Errorf("%s: %s in a notification whose group has %s=%q", r, labelKey(a.Labels), k, m.GroupLabels[k])
					}
				}
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
		r := wantReceiver(map[string]string{"category": "credential", "tag_team": u.team})
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
