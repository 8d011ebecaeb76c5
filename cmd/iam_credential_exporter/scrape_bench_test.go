// Benchmarks of /metrics as main wires it, scraped over loopback HTTP the
// way Prometheus scrapes it: what a user feels as scrape cost and memory at
// large report sizes.

package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"

	"github.com/iam-credential-exporter/iam_credential_exporter/collector"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/refresh"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/teststates"
)

// prometheusAccept is the Accept header of Prometheus 2.x scrapes; 3.x asks
// for the same OpenMetrics first. The exporter answers in the text format.
const prometheusAccept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

type scenario struct {
	name            string
	accounts, users int
}

var scenarios = []scenario{
	{"users=1000", 1, 1000},
	{"users=5000", 1, 5000},
	{"accounts=100x500", 100, 500},
}

// startExporter serves states as main does after their first refresh, and
// returns the URL of /metrics and the metrics handler.
func startExporter(tb testing.TB, states []*refresh.State) (string, *collector.Handler) {
	tb.Helper()
	metrics, err := collector.NewHandler(collector.HandlerOpts{
		ExporterMetrics: true,
		Live: []prometheus.Collector{
			collector.NewAWSRequests(), collector.NewDiscovery(), collector.NewShard(0, 1), versioncollector.NewCollector(name),
		},
		MaxRequestsInFlight: 40,
		ErrorLog:            slog.NewLogLogger(slog.DiscardHandler, slog.LevelError),
	})
	if err != nil {
		tb.Fatal(err)
	}
	metrics.Update(states)
	h, err := newHandler(options{telemetryPath: "/metrics"}, metrics)
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv.URL + "/metrics", metrics
}

// newClient reads bodies as they come: decompressing is the scraper's cost.
func newClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableCompression: true}}
}

// scrape reads a whole response as Prometheus asks for it and fails on
// anything but a complete 200.
func scrape(client *http.Client, url, acceptEncoding string, body io.Writer) (http.Header, error) {
	return scrapeAccepting(client, url, prometheusAccept, acceptEncoding, body)
}

// scrapeAccepting is scrape with the Accept header accept, none if "".
func scrapeAccepting(client *http.Client, url, accept, acceptEncoding string, body io.Writer) (http.Header, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(body, resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s", resp.Status)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return nil, fmt.Errorf("read %d of %d bytes", n, resp.ContentLength)
	}
	return resp.Header, nil
}

// checkBody makes sure that a benchmark measures a full, valid response.
func checkBody(tb testing.TB, header http.Header, body []byte, states []*refresh.State) {
	tb.Helper()
	body = gunzip(tb, header, body)
	users := 0
	for _, s := range states {
		users += len(s.Report.Users)
	}
	if got := bytes.Count(body, []byte("\naws_iam_user_info{")); got != users {
		tb.Fatalf("%d aws_iam_user_info samples, want %d", got, users)
	}
	if !strings.HasPrefix(header.Get("Content-Type"), "text/plain; version=0.0.4") || !bytes.Contains(body, []byte("\nprocess_cpu_seconds_total ")) {
		tb.Fatalf("not a whole text response with the live families: %s\n%.300s", header.Get("Content-Type"), body)
	}
}

// gunzip returns the body decompressed when it is gzipped.
func gunzip(tb testing.TB, header http.Header, body []byte) []byte {
	tb.Helper()
	if header.Get("Content-Encoding") != "gzip" {
		return body
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatal(err)
	}
	return plain
}

// BenchmarkScrape is one scrape as Prometheus makes it, with and without
// gzip, of states that have not changed since the last one.
func BenchmarkScrape(b *testing.B) {
	for _, sc := range scenarios {
		var states []*refresh.State // made for the first sub-benchmark that runs
		for _, enc := range []struct{ name, header string }{{"gzip", "gzip"}, {"uncompressed", ""}} {
			b.Run(sc.name+"/"+enc.name, func(b *testing.B) {
				if states == nil {
					states = teststates.Published(b, sc.accounts, sc.users)
				}
				url, _ := startExporter(b, states)
				client := newClient()
				var first bytes.Buffer
				header, err := scrape(client, url, enc.header, &first)
				if err != nil {
					b.Fatal(err)
				}
				checkBody(b, header, first.Bytes(), states)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := scrape(client, url, enc.header, io.Discard); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(first.Len()), "response-bytes")
			})
		}
	}
}

// BenchmarkFirstScrapeAfterRefresh is the first Prometheus scrape after a
// 5,000-user account's report is replaced, against the scrape after it, in
// alternation so that both see the same load on the machine. The refresh
// (publishing the new State, which encodes it) is not timed: it runs in the
// refresh goroutine, not in a scrape. first/warm is the ratio of the two.
func BenchmarkFirstScrapeAfterRefresh(b *testing.B) {
	states := teststates.Published(b, 1, 5000)
	url, metrics := startExporter(b, states)
	client := newClient()
	var first, warm time.Duration
	timed := func(d *time.Duration) {
		start := time.Now()
		if _, err := scrape(client, url, "gzip", io.Discard); err != nil {
			b.Fatal(err)
		}
		*d += time.Since(start)
	}
	timed(&warm)
	first, warm = 0, 0
	for b.Loop() {
		b.StopTimer()
		next := *states[0]
		next.Refreshes++
		states = []*refresh.State{&next}
		metrics.Update(states)
		b.StartTimer()
		timed(&first)
		timed(&warm)
	}
	b.ReportMetric(float64(first.Nanoseconds())/float64(b.N), "first-ns/scrape")
	b.ReportMetric(float64(warm.Nanoseconds())/float64(b.N), "warm-ns/scrape")
	b.ReportMetric(float64(first)/float64(warm), "first/warm")
}

// heapAlloc is the live heap after the garbage, sync.Pool caches included,
// has been collected.
func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkHeap is the heap an exporter holds per user once Prometheus has
// scraped it (gzip) and a person has read /metrics (uncompressed): the
// parsed reports (snapshot), the cached responses (cache), the server. The
// loop scrapes as Prometheus does.
func BenchmarkHeap(b *testing.B) {
	for _, sc := range scenarios[1:] {
		b.Run(sc.name, func(b *testing.B) {
			users := float64(sc.accounts * sc.users)
			base := heapAlloc()
			states := teststates.Published(b, sc.accounts, sc.users)
			snapshot := heapAlloc()
			url, _ := startExporter(b, states)
			client := newClient()
			for _, enc := range []string{"gzip", ""} {
				if _, err := scrape(client, url, enc, io.Discard); err != nil {
					b.Fatal(err)
				}
			}
			steady := heapAlloc()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := scrape(client, url, "gzip", io.Discard); err != nil {
					b.Fatal(err)
				}
			}
			runtime.KeepAlive(states)
			// After the loop, which clears what was reported before it.
			perUser := func(to, from uint64) float64 { return (float64(to) - float64(from)) / users }
			b.ReportMetric(perUser(steady, base), "heap-B/user")
			b.ReportMetric(perUser(snapshot, base), "snapshot-B/user")
			b.ReportMetric(perUser(steady, snapshot), "cache-B/user")
		})
	}
}
