package e2e

// An exporter that moves (issue 20 §1): the same report served by one
// exporter, then, after an outage, by another on a different address,
// through a real Prometheus running the rules and a real Alertmanager
// running the example. The credential alerts stay the same alerts, active
// since the same time, and no receiver hears of them again.

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/fakeaws"
)

// firingAlert is an alert of Prometheus's /api/v1/alerts with the time it
// became active, which promAlert leaves out.
type firingAlert struct {
	Labels   map[string]string `json:"labels"`
	State    string            `json:"state"`
	ActiveAt time.Time         `json:"activeAt"`
}

// firingCredentialAlerts returns Prometheus's firing credential alerts
// (category="credential") by label set (labelKey).
func firingCredentialAlerts(p *promServer) (map[string]firingAlert, error) {
	var data struct {
		Alerts []firingAlert `json:"alerts"`
	}
	if err := p.api("/api/v1/alerts", nil, &data); err != nil {
		return nil, err
	}
	firing := map[string]firingAlert{}
	for _, a := range data.Alerts {
		if a.State == "firing" && a.Labels["category"] == "credential" {
			firing[labelKey(a.Labels)] = a
		}
	}
	return firing, nil
}

// changedAlerts lists the alerts that are in one of before and after only,
// or in both but active since another time; none when they are the same.
func changedAlerts(before, after map[string]firingAlert) []string {
	var changes []string
	for _, key := range slices.Sorted(maps.Keys(before)) {
		a, ok := after[key]
		switch {
		case !ok:
			changes = append(changes, "gone: "+key)
		case !a.ActiveAt.Equal(before[key].ActiveAt):
			changes = append(changes, fmt.Sprintf("active since %s, before since %s: %s", a.ActiveAt, before[key].ActiveAt, key))
		}
	}
	for _, key := range slices.Sorted(maps.Keys(after)) {
		if _, ok := before[key]; !ok {
			changes = append(changes, "new: "+key)
		}
	}
	return changes
}

// moveTarget points the file_sd file at path to the exporter at addr. The
// file is replaced whole, so that Prometheus never reads half of it.
func moveTarget(t *testing.T, path, addr string) {
	t.Helper()
	b, err := json.Marshal([]map[string][]string{{"targets": {addr}}})
	if err != nil {
		t.Fatal(err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// waitLoaded waits until the exporter has loaded its report (/-/ready).
func waitLoaded(t *testing.T, e *exporter) {
	t.Helper()
	waitFor(t, patience, func() error {
		_, err := httpGet(e.URL + "/-/ready")
		return err
	})
}

// waitEvaluations waits until Prometheus has evaluated its rules n more
// times. It counts evaluations, not seconds, so that a busy machine, on
// which Prometheus skips a beat now and then, only makes it wait longer.
func waitEvaluations(t *testing.T, p *promServer, n int) {
	t.Helper()
	last := func() (time.Time, error) {
		rules, err := p.rules()
		if err != nil {
			return time.Time{}, err
		}
		var latest time.Time
		for _, r := range rules {
			if r.LastEvaluation.After(latest) {
				latest = r.LastEvaluation
			}
		}
		return latest, nil
	}
	var prev time.Time
	waitFor(t, patience, func() (err error) {
		prev, err = last()
		return err
	})
	seen := 0
	waitFor(t, patience, func() error {
		now, err := last()
		if err != nil {
			return err
		}
		if now.After(prev) {
			seen++
			prev = now
		}
		if seen < n {
			return fmt.Errorf("%d of %d rule evaluations so far", seen, n)
		}
		return nil
	})
}

// moveCase is what the exporters of TestAlertsSurviveExporterMove read,
// and what fires on it.
type moveCase struct {
	// env and args are both exporters' environment and flags, but
	// --web.listen-address.
	env, args []string
	// served says whether exporter A serves all that the alerts read, as a
	// long-running exporter does, before Prometheus starts; nil when
	// /-/ready says so. B becomes the target once ready, as a new pod does.
	served func(t *testing.T, e *exporter) error
	// fired says whether Prometheus fires all that the case expects.
	fired func(alerts []promAlert) error
}

// Exporter A serves an account whose credential alerts fire and reach the
// example's receivers. A stops; while no exporter serves the account the
// alerts are held. Exporter B starts on another address reading the same
// account, and Prometheus's file_sd moves the target to it. Afterwards the
// same credential alerts fire, active since the same time, none carries
// job, instance or pod, and no webhook received anything about a credential
// alert after the first notifications: no resolution, no new alert. Health
// alerts (no category) follow the exporters and are left out.
func TestAlertsSurviveExporterMove(t *testing.T) {
	t.Parallel()
	requireProgram(t, "prometheus")
	requireAlertmanager(t)

	// The fixture report, from a file: the verdicts of prometheus_test.go.
	t.Run("report file", func(t *testing.T) {
		t.Parallel()
		report := filepath.Join(t.TempDir(), "report.csv")
		writeFixtureReport(t, report, time.Now())
		testMove(t, moveCase{
			args: []string{"--report.file=" + report},
			fired: func(alerts []promAlert) error {
				fired := map[string]bool{}
				for _, a := range alerts {
					if a.State == "firing" {
						fired[alertKey(a)] = true
					}
				}
				for _, w := range expectedAlerts {
					if !fired[w] {
						return fmt.Errorf("Prometheus does not fire %q yet", w)
					}
				}
				return nil
			},
		})
	})

	// Users with owner and team tags and old keys, read from the fake AWS
	// endpoint with their key IDs: the alerts carry tag_owner, tag_team and
	// access_key_id, and reach the teams' receivers.
	t.Run("user tags and key IDs", func(t *testing.T) {
		t.Parallel()
		now := time.Now()
		users := []fakeaws.User{
			{Name: "pay-deploy", Tags: []fakeaws.Tag{{Key: "owner", Value: "alice"}, {Key: "team", Value: "payments"}}},
			{Name: "plat-terraform", Tags: []fakeaws.Tag{{Key: "owner", Value: "bob"}, {Key: "team", Value: "platform"}}},
			{Name: "legacy-batch"},
		}
		for i := range users {
			users[i].AccessKeys = []fakeaws.AccessKey{{ID: fmt.Sprintf("AKIAMOVEEXAMPLE%05d", i), Created: now.Add(-time.Duration(100+i) * day), Active: true}}
		}
		fake := fakeaws.New(amAccount)
		t.Cleanup(fake.Close)
		fake.DefaultAccount().SetUsers(users)
		// Generated 7 hours ago: IAMCredentialReportStale fires for each
		// exporter, which the test waits for.
		fake.DefaultAccount().SetReport(fakeaws.ReportCSV(amAccount, now.Add(-400*day), users), now.Add(-reportAge))
		testMove(t, moveCase{
			env:  fake.Environ(),
			args: []string{"--aws.user-tags=owner,team", "--aws.access-key-ids"},
			served: func(t *testing.T, e *exporter) error {
				_, mfs := scrape(t, e.URL)
				for _, u := range users {
					if _, ok := sample(mfs, "aws_iam_access_key_info", map[string]string{"user": u.Name, "access_key_id": u.AccessKeys[0].ID}); !ok {
						return fmt.Errorf("no key ID of %s served yet", u.Name)
					}
					for _, tag := range u.Tags {
						if _, ok := sample(mfs, "aws_iam_user_tags", map[string]string{"user": u.Name, "tag_" + tag.Key: tag.Value}); !ok {
							return fmt.Errorf("no tag %s of %s served yet", tag.Key, u.Name)
						}
					}
				}
				return nil
			},
			fired: func(alerts []promAlert) error {
				for _, u := range users {
					want := map[string]string{"alertname": "IAMCredentialAccessKeyTooOld", "user": u.Name, "access_key_id": u.AccessKeys[0].ID}
					for _, tag := range u.Tags {
						want["tag_"+tag.Key] = tag.Value
					}
					if !slices.ContainsFunc(alerts, func(a promAlert) bool {
						return a.State == "firing" && hasLabels(a.Labels, want)
					}) {
						return fmt.Errorf("Prometheus does not fire %s yet", labelKey(want))
					}
				}
				return nil
			},
		})
	})
}

// hasLabels reports whether labels include every label of want.
func hasLabels(labels, want map[string]string) bool {
	for k, v := range want {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// testMove is TestAlertsSurviveExporterMove on what c says.
func testMove(t *testing.T, c moveCase) {
	targets := filepath.Join(t.TempDir(), "targets.json")

	amAddr, hooks := startExample(t)
	addrA := freeAddr(t)
	expA, procA := launch(t, addrA, c.env, c.args...)
	waitLoaded(t, expA)
	if c.served != nil {
		waitFor(t, patience, func() error { return c.served(t, expA) })
	}
	moveTarget(t, targets, addrA)
	prom := runPrometheus(t, "testdata/move/prometheus.yml",
		map[string]any{"Alertmanager": amAddr, "TargetsFile": targets}, ruleFiles(t))

	// What the case expects fires, and every firing credential alert has
	// reached each receiver the example sends it to.
	var before map[string]firingAlert
	waitFor(t, patience, func() error {
		alerts, err := prom.alerts()
		if err != nil {
			return err
		}
		if err := c.fired(alerts); err != nil {
			return err
		}
		before, err = firingCredentialAlerts(prom)
		if err != nil {
			return err
		}
		for key, a := range before {
			if got, want := deliveredTo(hooks, a.Labels), wantReceivers(a.Labels); len(got) < len(want) {
				return fmt.Errorf("%s reached %q so far, want %q", key, got, want)
			}
		}
		return nil
	})
	if len(before) == 0 {
		t.Fatal("no credential alert fires on the fixture report")
	}
	sent := map[string]int{}
	for r, h := range hooks {
		messages, _ := h.received()
		sent[r] = len(messages)
	}
	t.Logf("%d credential alerts fire and were delivered: %v", len(before), sent)

	// The outage: A stops while it is still the target. Its series go
	// stale at the next failed scrape, so the account has no report
	// anywhere and the alerts are held.
	addrB := freeAddr(t) // while A still holds its port: another address
	procA.Signal(t, os.Interrupt)
	if code := procA.Wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exporter A exited with status %d on SIGINT", code)
	}
	waitFor(t, patience, func() error {
		if n, err := prom.query(fmt.Sprintf(`up{instance=%q} == 0`, addrA)); err != nil || n != 1 {
			return fmt.Errorf("Prometheus does not see A down yet (%d series, %v)", n, err)
		}
		if n, err := prom.query("account:aws_iam_credential_report:present"); err != nil || n != 0 {
			return fmt.Errorf("the account still has a report (%d series, %v)", n, err)
		}
		return nil
	})
	waitEvaluations(t, prom, 3)
	during, err := firingCredentialAlerts(prom)
	if err != nil {
		t.Fatal(err)
	}
	if changes := changedAlerts(before, during); len(changes) > 0 {
		t.Errorf("while no exporter serves the account, the credential alerts changed:\n  %s", strings.Join(changes, "\n  "))
	}

	// B starts with the same report on another address and becomes the
	// target, as a new pod does once it is ready.
	expB, _ := launch(t, addrB, c.env, c.args...)
	waitLoaded(t, expB)
	moveTarget(t, targets, addrB)
	waitFor(t, patience, func() error {
		if n, err := prom.query(fmt.Sprintf(`up{instance=%q} == 1`, addrB)); err != nil || n != 1 {
			return fmt.Errorf("Prometheus does not scrape B yet (%d series, %v)", n, err)
		}
		if n, err := prom.query(fmt.Sprintf(`instance_finding:aws_iam_credentials:value{instance=%q}`, addrB)); err != nil || n == 0 {
			return fmt.Errorf("no finding recorded from B yet (%d series, %v)", n, err)
		}
		if n, err := prom.query("account:aws_iam_credential_report:present"); err != nil || n != 1 {
			return fmt.Errorf("the account has %d reports, want 1 (%v)", n, err)
		}
		return nil
	})
	// The evaluations that first saw B's report handed Prometheus's
	// notifier whatever changed. Once its queue is empty, Alertmanager has
	// it; a barrier alert posted then, in a group of its own, is delivered
	// after group_wait, by when a group that changed before it has been
	// flushed after its group_interval, which is no longer.
	waitEvaluations(t, prom, 3)
	waitFor(t, patience, func() error {
		metrics, err := httpGet(prom.URL + "/metrics")
		if err != nil {
			return err
		}
		if !regexp.MustCompile(`(?m)^prometheus_notifications_queue_length 0$`).MatchString(metrics) {
			return errors.New("alerts still queued for Alertmanager")
		}
		return nil
	})
	barrier := map[string]string{"alertname": "MoveTestBarrier", "severity": "info"}
	postAlerts(t, amAddr, barrier)
	waitFor(t, patience, func() error {
		if len(deliveredTo(hooks, barrier)) == 0 {
			return fmt.Errorf("%s not delivered yet", labelKey(barrier))
		}
		return nil
	})
	waitEvaluations(t, prom, 2)

	after, err := firingCredentialAlerts(prom)
	if err != nil {
		t.Fatal(err)
	}
	if changes := changedAlerts(before, after); len(changes) > 0 {
		t.Errorf("after the move to B, the credential alerts changed:\n  %s", strings.Join(changes, "\n  "))
	}
	for _, alerts := range []map[string]firingAlert{before, after} {
		for key, a := range alerts {
			for _, l := range []string{"job", "instance", "pod"} {
				if _, ok := a.Labels[l]; ok {
					t.Errorf("credential alert %s carries %s", key, l)
				}
			}
		}
	}
	for _, r := range slices.Sorted(maps.Keys(hooks)) {
		messages, _ := hooks[r].received()
		for i, m := range messages {
			for _, a := range m.Alerts {
				if a.Labels["category"] != "credential" {
					continue
				}
				switch {
				case a.Status != "firing":
					t.Errorf("%s was told %s is %s", r, labelKey(a.Labels), a.Status)
				case i >= sent[r]:
					t.Errorf("%s was told again of %s after the move (notification %d)", r, labelKey(a.Labels), i+1)
				}
			}
		}
	}
	checkNotifications(t, hooks)
}
