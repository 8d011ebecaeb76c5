package main

import (
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/collector"
	"github.com/iam-credential-exporter/iam_credential_exporter/refresh"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// The landing page shows, per account, how old its report is and when its
// last refresh succeeded, so that a stale account stands out although
// readiness stays 200.
func TestAccountsHTMLShowsStaleness(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	rep := &report.Report{GeneratedAt: now.Add(-26 * time.Hour), Users: make([]report.User, 3)}
	states := []*refresh.State{
		{AccountID: "111111111111", AccountName: "fresh", Report: &report.Report{GeneratedAt: now.Add(-2 * time.Hour), Users: make([]report.User, 2)},
			LastAttempt: now.Add(-5 * time.Minute), LastSuccess: now.Add(-5 * time.Minute)},
		{AccountID: "222222222222", AccountName: "stale", Report: rep,
			LastAttempt: now.Add(-time.Minute), LastErr: errors.New("AccessDenied"), LastSuccess: now.Add(-25 * time.Hour)},
		{AccountID: "333333333333", AccountName: "new"},
	}
	page := accountsHTML(states, now)
	rows := regexp.MustCompile(`<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>`).FindAllStringSubmatch(page, -1)
	if len(rows) != len(states) {
		t.Fatalf("%d account rows, want %d:\n%s", len(rows), len(states), page)
	}
	want := [][]string{
		{"111111111111 (fresh)", "2", "2026-11-27T10:00:00Z (2h0m0s ago)", "2026-11-27T11:55:00Z (5m0s ago)", "2026-11-27T11:55:00Z (5m0s ago)", "ok"},
		{"222222222222 (stale)", "3", "2026-11-26T10:00:00Z (26h0m0s ago)", "2026-11-26T11:00:00Z (25h0m0s ago)", "2026-11-27T11:59:00Z (1m0s ago)", "failed: AccessDenied"},
		{"333333333333 (new)", "-", "none yet", "never", "not yet", "pending"},
	}
	for i, row := range rows {
		if got := row[1:]; strings.Join(got, "|") != strings.Join(want[i], "|") {
			t.Errorf("row %d:\n got %q\nwant %q", i, got, want[i])
		}
	}
	for _, header := range []string{"Report generated", "Last successful refresh"} {
		if !strings.Contains(page, "<th>"+header+"</th>") {
			t.Errorf("no column %q:\n%s", header, page)
		}
	}
}

// Readiness stays 200 for a report that is old and whose refreshes fail:
// it gates traffic, and the last good report is still the best data.
func TestReadyWhileStale(t *testing.T) {
	stale := &refresh.State{AccountID: "222222222222", Report: &report.Report{GeneratedAt: time.Now().Add(-30 * 24 * time.Hour)},
		LastErr: errors.New("AccessDenied"), LastSuccess: time.Now().Add(-29 * 24 * time.Hour)}
	for _, tt := range []struct {
		name   string
		states []*refresh.State
		want   int
	}{
		{"no account yet", nil, http.StatusServiceUnavailable},
		{"no report yet", []*refresh.State{{AccountID: "111111111111"}}, http.StatusServiceUnavailable},
		{"a stale report", []*refresh.State{stale}, http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHealthHandler(func() []*refresh.State { return tt.states })
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, readyPath, nil))
			if rec.Code != tt.want {
				t.Errorf("%s: %d, want %d", readyPath, rec.Code, tt.want)
			}
		})
	}
}

// The health listener serves the two health endpoints and nothing else.
func TestHealthHandlerServesOnlyHealth(t *testing.T) {
	h := newHealthHandler(func() []*refresh.State { return nil })
	for path, want := range map[string]int{healthyPath: http.StatusOK, "/metrics": http.StatusNotFound, "/": http.StatusNotFound} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			t.Errorf("%s: %d, want %d", path, rec.Code, want)
		}
	}
}

// Every telemetry path that validation accepts is served as given, by the
// metrics handler: not redirected, and not taken by another route.
func TestAcceptedTelemetryPathsAreServed(t *testing.T) {
	metrics, err := collector.NewHandler(collector.HandlerOpts{ErrorLog: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/metrics", "/iam/metrics", "/m.txt", "/~x", "//", "/metrics/", "/a//metrics", "/a/./metrics",
		"/a/../metrics", "/.", "/..", "/sd", "/sd/", "/-/ready", "/-/healthy/", "/", "metrics", ""} {
		if checkTelemetryPath(p) != nil {
			continue
		}
		h, err := newHandler(options{telemetryPath: p}, metrics)
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		if ct := rec.Header().Get("Content-Type"); rec.Code != http.StatusOK || !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("accepted telemetry path %q: GET answers %d %q, want the metrics (200 text/plain)", p, rec.Code, ct)
		}
	}
}
