package collector

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/teststates"
)

// BenchmarkPublish is the work that the cache moves from every scrape to
// every refresh: each iteration publishes a new State for one account, as a
// refresh does, which encodes that account (text format, gzip) and reuses
// the others' bytes.
func BenchmarkPublish(b *testing.B) {
	for _, sc := range []struct {
		name            string
		accounts, users int
	}{{"users=1000", 1, 1000}, {"users=5000", 1, 5000}, {"accounts=100x500", 100, 500}} {
		b.Run(sc.name, func(b *testing.B) {
			states := teststates.Published(b, sc.accounts, sc.users)
			h := newHandler(b, states, nil, HandlerOpts{})
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				states = slices.Clone(states)
				changed := *states[i%len(states)]
				changed.Refreshes++
				states[i%len(states)] = &changed
				h.Update(states)
				i++
			}
		})
	}
}

// BenchmarkUncachedScrape is a scrape without the cache, for comparison: what
// every scrape would cost with promhttp over the plain collector (text
// format, gzip), in process.
func BenchmarkUncachedScrape(b *testing.B) {
	for _, sc := range []struct {
		name            string
		accounts, users int
	}{{"users=5000", 1, 5000}, {"accounts=100x500", 100, 500}} {
		b.Run(sc.name, func(b *testing.B) {
			states := teststates.Published(b, sc.accounts, sc.users)
			h := reference(&states, nil)
			b.ReportAllocs()
			for b.Loop() {
				scrapeLikePrometheus(b, h)
			}
		})
	}
}

// scrapeLikePrometheus asks h for /metrics as Prometheus does (OpenMetrics
// first, gzip), in process.
func scrapeLikePrometheus(b *testing.B, h http.Handler) {
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0")
	req.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("status %d", rec.Code)
	}
}
