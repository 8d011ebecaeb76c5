package collector

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/reportgen"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

func benchStates(tb testing.TB, accounts, users int) []*report.State {
	tb.Helper()
	states := make([]*report.State, accounts)
	for i := range states {
		id := strconv.Itoa(100000000000 + i)
		rep, err := report.Parse(bytes.NewReader(reportgen.Generate(reportgen.Options{AccountID: id, Users: users, Seed: int64(i)})))
		if err != nil {
			tb.Fatal(err)
		}
		rep.GeneratedAt = reportgen.DefaultNow
		states[i] = &report.State{AccountID: id, Report: rep, LastSuccess: reportgen.DefaultNow, LastDuration: time.Second, Refreshes: 1}
	}
	return states
}

// BenchmarkRefresh is the work that the cache moves from every scrape to
// every refresh: each iteration publishes a new State for one account, as a
// refresh does, then scrapes as Prometheus does (OpenMetrics, gzip), which
// encodes that account again and reuses the others.
func BenchmarkRefresh(b *testing.B) {
	for _, sc := range []struct {
		name            string
		accounts, users int
	}{{"users=1000", 1, 1000}, {"users=5000", 1, 5000}, {"accounts=100x500", 100, 500}} {
		b.Run(sc.name, func(b *testing.B) {
			states := &switchable{states: benchStates(b, sc.accounts, sc.users)}
			h := NewHandler(states.get, prometheus.NewRegistry(), HandlerOpts{})
			scrape := func() {
				req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
				req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0")
				req.Header.Set("Accept-Encoding", "gzip")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
			scrape()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				next := states.get()
				changed := *next[i%len(next)]
				changed.Refreshes++
				next[i%len(next)] = &changed
				states.set(next)
				scrape()
				i++
			}
			b.ReportMetric(float64(sc.users+1), "users-encoded/op")
		})
	}
}

// BenchmarkUncachedScrape is a scrape without the cache, for comparison: what
// every scrape cost before, promhttp over the plain collector (OpenMetrics,
// gzip), in process.
func BenchmarkUncachedScrape(b *testing.B) {
	for _, sc := range []struct {
		name            string
		accounts, users int
	}{{"users=5000", 1, 5000}, {"accounts=100x500", 100, 500}} {
		b.Run(sc.name, func(b *testing.B) {
			states := benchStates(b, sc.accounts, sc.users)
			h := reference(func() []*report.State { return states }, prometheus.NewRegistry())
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
				req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0")
				req.Header.Set("Accept-Encoding", "gzip")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
