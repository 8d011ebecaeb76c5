//go:build unix

// Benchmarks of /metrics as main wires it, scraped over loopback HTTP the
// way Prometheus scrapes it. Each target of docs/benchmarks.md is reported
// as a ratio measured in one run on the same data: the exporter against a
// floor, so that the figures hold on a busy, shared machine.

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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"

	"github.com/iam-credential-exporter/iam_credential_exporter/collector"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/teststates"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// prometheusAccept is the Accept header of Prometheus 2.x scrapes; 3.x asks
// for the same OpenMetrics first.
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

// startExporter serves newHandler over the registry that main builds.
func startExporter(tb testing.TB, states []*report.State, disableExporterMetrics bool) string {
	tb.Helper()
	registry := prometheus.NewRegistry()
	registry.MustRegister(collector.NewAWSRequests(), collector.NewDiscovery(), collector.NewShard(0, 1), versioncollector.NewCollector(name))
	o := options{telemetryPath: "/metrics", maxRequests: 40, disableExporterMetrics: disableExporterMetrics}
	h, err := newHandler(o, registry,
		func() []*report.State { return states }, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv.URL + "/metrics"
}

// newClient reads bodies as they come: decompressing is the scraper's cost,
// the same for the exporter and the floor.
func newClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64}}
}

func request(url, acceptEncoding string) *http.Request {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		panic(err)
	}
	req.Header.Set("Accept", prometheusAccept)
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	return req
}

// scrape reads a whole response and fails on anything but a complete 200.
func scrape(client *http.Client, url, acceptEncoding string, body io.Writer) (http.Header, int64, error) {
	resp, err := client.Do(request(url, acceptEncoding))
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(body, resp.Body)
	if err != nil {
		return nil, n, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, n, fmt.Errorf("status %s", resp.Status)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return nil, n, fmt.Errorf("read %d of %d bytes", n, resp.ContentLength)
	}
	return resp.Header, n, nil
}

// cpuTime is the CPU time of the whole process: client, server and runtime.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type cost struct{ wall, cpu time.Duration }

func (c *cost) measure(f func()) {
	start, startCPU := time.Now(), cpuTime()
	f()
	c.wall += time.Since(start)
	c.cpu += cpuTime() - startCPU
}

// floor serves fixed bytes with the exporter's headers: what a scrape would
// cost if the exporter did nothing but hand over a response it already had.
func floor(tb testing.TB, header http.Header, body []byte) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for _, k := range []string{"Content-Type", "Content-Encoding", "Vary"} {
			w.Header()[k] = header[k]
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}))
	tb.Cleanup(srv.Close)
	return srv.URL
}

// checkBody makes sure that the benchmark measures a full, valid response.
func checkBody(tb testing.TB, header http.Header, body []byte, states []*report.State, exporterMetrics bool) {
	tb.Helper()
	if header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			tb.Fatal(err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			tb.Fatal(err)
		}
	}
	users := 0
	for _, s := range states {
		users += len(s.Report.Users)
	}
	if got := bytes.Count(body, []byte("\naws_iam_user_info{")); got != users {
		tb.Fatalf("%d aws_iam_user_info samples, want %d", got, users)
	}
	if !bytes.HasSuffix(body, []byte("# EOF\n")) || !bytes.Contains(body, []byte("\niam_credential_exporter_build_info{")) {
		tb.Fatalf("not a whole OpenMetrics response with the live families:\n%.300s", body)
	}
	if got := bytes.Contains(body, []byte("\nprocess_cpu_seconds_total ")); got != exporterMetrics {
		tb.Fatalf("process_cpu_seconds_total served: %v, want %v", got, exporterMetrics)
	}
}

// BenchmarkScrape: target 1. Each iteration scrapes the exporter and the
// floor once, in alternating order, so that both see the same load on the
// machine; ns/op is the pair. The ratios are exporter over floor. The
// no-exporter-metrics runs serve --web.disable-exporter-metrics, without the
// go_* and process_* families, whose collection costs a fixed time per
// scrape whatever the number of users.
func BenchmarkScrape(b *testing.B) {
	for _, sc := range scenarios {
		var states []*report.State // made for the first sub-benchmark that runs
		for _, enc := range []struct{ name, header string }{{"prometheus-gzip", "gzip"}, {"uncompressed", ""}} {
			for _, exporterMetrics := range []bool{true, false} {
				name := sc.name + "/" + enc.name
				if !exporterMetrics {
					name += "/no-exporter-metrics"
				}
				b.Run(name, func(b *testing.B) {
					if states == nil {
						states = teststates.Published(b, sc.accounts, sc.users)
					}
					benchmarkScrape(b, states, enc.header, exporterMetrics)
				})
			}
		}
	}
}

func benchmarkScrape(b *testing.B, states []*report.State, acceptEncoding string, exporterMetrics bool) {
	exporter := startExporter(b, states, !exporterMetrics)
	client := newClient()
	var first bytes.Buffer
	header, _, err := scrape(client, exporter, acceptEncoding, &first)
	if err != nil {
		b.Fatal(err)
	}
	checkBody(b, header, first.Bytes(), states, exporterMetrics)
	fl := floor(b, header, first.Bytes())

	var exp, flo cost
	var scrapes int
	run := func(c *cost, url string) {
		c.measure(func() {
			if _, _, err := scrape(client, url, acceptEncoding, io.Discard); err != nil {
				b.Fatal(err)
			}
		})
	}
	b.ReportAllocs()
	for b.Loop() {
		if scrapes%2 == 0 {
			run(&exp, exporter)
			run(&flo, fl)
		} else {
			run(&flo, fl)
			run(&exp, exporter)
		}
		scrapes++
	}
	n := float64(scrapes)
	b.ReportMetric(float64(exp.wall)/float64(flo.wall), "latency-ratio")
	b.ReportMetric(float64(exp.cpu)/float64(flo.cpu), "cpu-ratio")
	b.ReportMetric(float64(exp.wall.Nanoseconds())/n, "exporter-ns/scrape")
	b.ReportMetric(float64(flo.wall.Nanoseconds())/n, "floor-ns/scrape")
	b.ReportMetric(float64(exp.cpu.Nanoseconds())/n, "exporter-cpu-ns/scrape")
	b.ReportMetric(float64(flo.cpu.Nanoseconds())/n, "floor-cpu-ns/scrape")
	b.ReportMetric(float64(first.Len()), "response-bytes")
}

// BenchmarkConcurrentScrapes: target 4. Each iteration makes the same number
// of Prometheus-like scrapes of a 5000-user account, once one after another
// and once from 20 clients at a time; throughput-ratio is concurrent over
// serial, and errors counts responses that were not a full 200.
func BenchmarkConcurrentScrapes(b *testing.B) {
	const clients, perClient = 20, 5
	exporter := startExporter(b, teststates.Published(b, 1, 5000), false)
	client := newClient()
	if _, _, err := scrape(client, exporter, "gzip", io.Discard); err != nil {
		b.Fatal(err)
	}
	var serial, concurrent time.Duration
	var errors, scrapes int
	var mu sync.Mutex
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errors++
		if errors == 1 {
			b.Log(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		for range clients * perClient {
			if _, _, err := scrape(client, exporter, "gzip", io.Discard); err != nil {
				fail(err)
			}
		}
		serial += time.Since(start)

		start = time.Now()
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				for range perClient {
					if _, _, err := scrape(client, exporter, "gzip", io.Discard); err != nil {
						fail(err)
					}
				}
			})
		}
		wg.Wait()
		concurrent += time.Since(start)
		scrapes += 2 * clients * perClient
	}
	b.ReportMetric(float64(serial)/float64(concurrent), "throughput-ratio")
	b.ReportMetric(float64(errors), "errors")
	b.ReportMetric(float64(scrapes), "scrapes")
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

// BenchmarkHeap: target 3. The heap an exporter holds per user once
// Prometheus has scraped it (gzip) and a person has read /metrics
// (uncompressed): the parsed reports, the cached responses, the server.
// all-formats adds text and protobuf in both encodings, which no single
// Prometheus asks for. The loop scrapes as Prometheus does.
func BenchmarkHeap(b *testing.B) {
	for _, sc := range scenarios[1:] {
		b.Run(sc.name, func(b *testing.B) {
			users := float64(sc.accounts * sc.users)
			base := heapAlloc()
			states := teststates.Published(b, sc.accounts, sc.users)
			snapshot := heapAlloc()
			exporter := startExporter(b, states, false)
			client := newClient()
			for _, enc := range []string{"gzip", ""} {
				if _, _, err := scrape(client, exporter, enc, io.Discard); err != nil {
					b.Fatal(err)
				}
			}
			steady := heapAlloc()

			for _, accept := range []string{"text/plain;version=0.0.4", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"} {
				for _, enc := range []string{"gzip", ""} {
					req := request(exporter, enc)
					req.Header.Set("Accept", accept)
					resp, err := client.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if !strings.HasPrefix(resp.Header.Get("Content-Type"), strings.SplitN(accept, ";", 2)[0]) {
						b.Fatalf("asked for %s, got %s", accept, resp.Header.Get("Content-Type"))
					}
				}
			}
			all := heapAlloc()

			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := scrape(client, exporter, "gzip", io.Discard); err != nil {
					b.Fatal(err)
				}
			}
			runtime.KeepAlive(states)
			// After the loop, which clears what was reported before it.
			perUser := func(to, from uint64) float64 { return (float64(to) - float64(from)) / users }
			b.ReportMetric(perUser(steady, base), "heap-B/user")
			b.ReportMetric(perUser(snapshot, base), "snapshot-B/user")
			b.ReportMetric(perUser(steady, snapshot), "cache-B/user")
			b.ReportMetric(perUser(all, base), "all-formats-heap-B/user")
		})
	}
}
