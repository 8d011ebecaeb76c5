package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/collector"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/refresh"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/testenv"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/teststates"
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
	var served []string
	for _, p := range []string{"/metrics", "/iam/metrics", "/m.txt", "/~x", "//", "/metrics/", "/a//metrics", "/a/./metrics",
		"/a/../metrics", "/.", "/..", "/sd", "/sd/", "/-/ready", "/-/healthy/", "/", "metrics", ""} {
		if checkTelemetryPath(p) != nil {
			continue
		}
		served = append(served, p)
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
	// The clean paths among them are accepted, and so were checked above.
	if want := []string{"/metrics", "/iam/metrics", "/m.txt", "/~x"}; !slices.Equal(served, want) {
		t.Errorf("accepted telemetry paths %q, want %q", served, want)
	}
}

// serveLoopback serves metrics on the telemetry path through the
// exporter's own server (newServer) on a free 127.0.0.1 port until the test
// ends, and returns its address.
func serveLoopback(t *testing.T, metrics *collector.Handler, writeStall, writeTimeout time.Duration) string {
	t.Helper()
	o := options{telemetryPath: "/metrics", readTimeout: 10 * time.Second, writeStall: writeStall, writeTimeout: writeTimeout, idleTimeout: time.Minute}
	h, err := newHandler(o, metrics)
	if err != nil {
		t.Fatal(err)
	}
	// A 64 KiB send buffer, fixed before listening so that every accepted
	// connection has it: a full page (megabytes) then blocks the handler
	// whatever the machine's TCP autotuning allows (4 MiB by default, as
	// large as a page of 5,000 users).
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 64<<10)
		}); cerr != nil {
			return cerr
		}
		return err
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(o, h, slog.New(slog.DiscardHandler))
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// idleClientStatus asks addr for the full page over a testenv.IdleClient
// and returns the answer's status: the status line arrives once the
// handler writes (200) or refuses (503); the rest is never read.
func idleClientStatus(t *testing.T, addr string) int {
	t.Helper()
	conn := testenv.IdleClient(t, addr, "/metrics")
	conn.SetReadDeadline(time.Now().Add(testenv.Patience))
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 64), nil)
	if err != nil {
		t.Fatalf("idle client: %v", err)
	}
	return resp.StatusCode
}

// getURL returns the status and body of a GET of url.
func getURL(client *http.Client, url string) (int, string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// Forty clients that ask for the full page and never read cannot keep
// Prometheus's per-account and exporter targets out: full pages take at
// most half of --web.max-requests, and the refusals are counted.
func TestIdleFullPagesLeaveScopedRequestsServed(t *testing.T) {
	t.Parallel()
	const maxRequests = 40
	// A full page of 1,000 users, about 850 KB, is six times what
	// serveLoopback's socket buffers hold (Linux doubles its 64 KiB send
	// buffer, and the idle client's 4 KiB receive buffer). 5,000 users
	// served the same purpose at five times the cost under -race.
	states := teststates.Published(t, 1, 1000)
	metrics, err := collector.NewHandler(collector.HandlerOpts{
		ExporterMetrics:     true,
		MaxRequestsInFlight: maxRequests,
		ErrorLog:            log.New(io.Discard, "", 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	metrics.Update(states)
	// The idle clients hold their slots until the test ends: nothing here
	// depends on catching them within a write stall.
	addr := serveLoopback(t, metrics, testenv.Patience, testenv.Patience)
	base := "http://" + addr

	// Each idle client is answered before the next asks, so that exactly
	// the first half of them take the full pages' slots and nothing else
	// competes for those.
	for i := range maxRequests {
		want := http.StatusOK
		if i >= maxRequests/2 {
			want = http.StatusServiceUnavailable
		}
		if code := idleClientStatus(t, addr); code != want {
			t.Fatalf("idle client %d: %d, want %d", i+1, code, want)
		}
	}
	client := &http.Client{Timeout: time.Minute}
	if code, _, err := getURL(client, base+"/metrics?name[]=aws_iam_user_info"); err != nil || code != http.StatusServiceUnavailable { // a filter is still a full page
		t.Fatalf("a full page beside %d idle ones: %d, %v; want 503", maxRequests, code, err)
	}
	for _, path := range []string{"/metrics?account_id=" + states[0].AccountID, "/metrics?exporter=true", "/sd"} {
		code, body, err := getURL(client, base+path)
		if err != nil || code != http.StatusOK {
			t.Errorf("%s beside %d idle full pages: %d, %v; want 200: %.200s", path, maxRequests, code, err, body)
		}
	}
	_, body, err := getURL(client, base+"/metrics?exporter=true")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`\niam_credential_exporter_http_requests_refused_total\{kind="full"\} (\d+)\n`).FindStringSubmatch(body)
	if m == nil || m[1] == "0" {
		t.Errorf("full pages refused: %v, want a count of at least 1", m)
	}
}

// A client that asks for a full page and stops reading is cut off the
// write stall after the socket buffers fill, long before
// --web.write-timeout, and its slot serves the next full page. The stall is
// 15 s here, so that a busy machine sees the slot held before it is freed;
// the other parallel tests (the child processes of TestRunRefuses*, the
// idle full pages) run meanwhile.
func TestStalledClientsFreeTheirSlots(t *testing.T) {
	t.Parallel()
	states := teststates.Published(t, 1, 1000) // as TestIdleFullPagesLeaveScopedRequestsServed's
	metrics, err := collector.NewHandler(collector.HandlerOpts{MaxRequestsInFlight: 2, ErrorLog: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	metrics.Update(states)
	const writeStall, writeTimeout = 15 * time.Second, 10 * time.Minute
	addr := serveLoopback(t, metrics, writeStall, writeTimeout)
	client := &http.Client{Timeout: time.Minute}

	start := time.Now()
	if code := idleClientStatus(t, addr); code != http.StatusOK { // takes the one slot of full pages
		t.Fatalf("idle client: %d, want 200", code)
	}
	for held := false; ; held = true {
		code, _, err := getURL(client, "http://"+addr+"/metrics")
		switch {
		case err != nil:
			t.Fatal(err)
		case code == http.StatusOK && !held:
			t.Fatalf("a full page was served beside the idle client, %s after it was answered (writeStall %s)", time.Since(start).Round(100*time.Millisecond), writeStall)
		case code == http.StatusOK:
			t.Logf("the stalled client's slot was freed after %s (writeStall %s)", time.Since(start).Round(100*time.Millisecond), writeStall)
			return
		case code != http.StatusServiceUnavailable:
			t.Fatalf("full page: %d", code)
		}
		// Half the write timeout is slack for a loaded machine, and still
		// tells a stall timeout from the write timeout.
		if time.Since(start) > writeTimeout/2 {
			t.Fatalf("the stalled client held its slot for %s", time.Since(start))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
