package collector

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/reportgen"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// Accept headers of real scrapers and of people. Those of protobuf text
// formats are not served from the cache.
var acceptHeaders = []struct {
	name, accept string
	cached       bool
}{
	{"none", "", true},
	{"prometheus-2", "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", true},
	{"prometheus-3", "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1", true},
	{"prometheus-protobuf", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,text/plain;version=0.0.4;q=0.2,*/*;q=0.1", true},
	{"protobuf", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", true},
	{"protobuf-underscores", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;escaping=underscores", true},
	{"openmetrics-0.0.1", "application/openmetrics-text;version=0.0.1", true},
	{"text-utf8", "text/plain;version=0.0.4;escaping=allow-utf-8", true},
	{"text-dots", "text/plain;version=0.0.4;escaping=dots", true},
	{"any", "*/*", true},
	{"protobuf-text", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text", false},
	{"protobuf-compact", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=compact-text", false},
}

// acceptEncodings are tried with every Accept header; TestAcceptsGzip covers
// the negotiation, and moreEncodings go through the handler once.
var (
	acceptEncodings = []string{"", "gzip"}
	moreEncodings   = []string{"gzip, deflate, br", "identity", "gzip;q=0", "*", "identity;q=0.5, gzip"}
)

// cacheStates adds generated accounts, with names and aliases, to the
// hand-made sample, and lists them out of order.
func cacheStates(t testing.TB) []*report.State {
	states := sampleStates()
	for i, id := range []string{"999999999999", "000000000001", "555555555555"} {
		csv := reportgen.Generate(reportgen.Options{AccountID: id, Users: 15, Seed: int64(i)})
		rep, err := report.Parse(bytes.NewReader(csv))
		if err != nil {
			t.Fatal(err)
		}
		rep.GeneratedAt = reportgen.DefaultNow
		rep.AccountAlias = "alias-" + id
		states = append(states, &report.State{
			AccountID: id, AccountName: "name " + id, Report: rep,
			LastAttempt: reportgen.DefaultNow, LastSuccess: reportgen.DefaultNow,
			LastDuration: time.Second, Refreshes: uint64(i + 1),
		})
	}
	return states
}

// liveRegistry holds live families whose names sort before, between and
// after the cached ones, with fixed values so that responses compare byte
// for byte.
func liveRegistry() (*prometheus.Registry, *AWSRequests) {
	reg := prometheus.NewRegistry()
	requests := NewAWSRequests()
	requests.Observe("GetCredentialReport", "")
	requests.Observe("GenerateCredentialReport", "Throttling")
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "go_fake_goroutines", Help: "Sorts between aws_iam_ and iam_credential_exporter_, with a \"quoted\" help."}, []string{"x"})
	g.WithLabelValues("a\"b\\c\nd").Set(1.5)
	reg.MustRegister(requests, NewShard(1, 3), g,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "a_first", Help: "Sorts first."}, func() float64 { return 7 }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "zz_last_total", Help: "Sorts last."}, func() float64 { return 3 }),
	)
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "process_fake_seconds", Help: "A histogram.", Buckets: []float64{1, 2}})
	h.Observe(1.5)
	reg.MustRegister(h)
	return reg, requests
}

// reference is what the exporter served before the cache: promhttp over a
// registry that holds the plain collector and the live metrics.
func reference(states States, live prometheus.Gatherer) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(New(states))
	return promhttp.HandlerFor(prometheus.Gatherers{reg, live}, promhttp.HandlerOpts{
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	})
}

type response struct {
	status      int
	contentType string
	encoding    string
	body        []byte // decompressed
	raw         int    // bytes on the wire
	length      string // Content-Length
}

func get(t testing.TB, h http.Handler, target, accept, acceptEncoding string) response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	r := response{
		status:      rec.Code,
		contentType: rec.Header().Get("Content-Type"),
		encoding:    rec.Header().Get("Content-Encoding"),
		body:        rec.Body.Bytes(),
		raw:         rec.Body.Len(),
		length:      rec.Header().Get("Content-Length"),
	}
	if r.encoding == "gzip" {
		r.body = gunzipOneMember(t, r.body)
	}
	return r
}

// gunzipOneMember decompresses a gzip stream that must be one member, as
// curl --compressed reads only the first.
func gunzipOneMember(t testing.TB, body []byte) []byte {
	t.Helper()
	br := bytes.NewReader(body)
	zr, err := gzip.NewReader(br)
	if err != nil {
		t.Fatal(err)
	}
	zr.Multistream(false)
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	if br.Len() != 0 {
		t.Fatalf("%d bytes after the first gzip member", br.Len())
	}
	return plain
}

// samples decodes a body in its format and re-encodes it as text, so that a
// difference shows as a readable diff.
func samples(t testing.TB, r response, decodeOpenMetrics bool) string {
	t.Helper()
	format := expfmt.Format(r.contentType)
	switch format.FormatType() {
	case expfmt.TypeProtoText, expfmt.TypeProtoCompact:
		// No decoder: these are compared byte for byte only.
		return string(r.body)
	case expfmt.TypeOpenMetrics:
		// expfmt's OpenMetrics parser checks each line against the ABNF
		// grammar, which takes most of a second per hundred lines: these
		// are compared byte for byte, and TestCachedOpenMetricsParses
		// decodes a small one.
		if !decodeOpenMetrics {
			return string(r.body)
		}
	}
	dec := expfmt.NewDecoder(bytes.NewReader(r.body), format)
	var mfs []*dto.MetricFamily
	for {
		mf := &dto.MetricFamily{}
		err := dec.Decode(mf)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("decode %s: %v", format, err)
		}
		mfs = append(mfs, mf)
	}
	// The text decoder returns families in map order.
	slices.SortFunc(mfs, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	var b strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// compare fails when the cached handler's response differs from promhttp's
// in status, headers, bytes or decoded samples. It returns whether the
// response came from the cache, which alone sets Content-Length.
func compare(t *testing.T, cached, plain http.Handler, target, accept, acceptEncoding string) bool {
	t.Helper()
	want := get(t, plain, target, accept, acceptEncoding)
	got := get(t, cached, target, accept, acceptEncoding)
	what := fmt.Sprintf("GET %s Accept=%q Accept-Encoding=%q", target, accept, acceptEncoding)
	if got.status != want.status || got.contentType != want.contentType || got.encoding != want.encoding {
		t.Fatalf("%s: got %d %q %q, want %d %q %q", what, got.status, got.contentType, got.encoding,
			want.status, want.contentType, want.encoding)
	}
	if got.length != "" && got.length != fmt.Sprint(got.raw) {
		t.Errorf("%s: Content-Length %s, body %d bytes", what, got.length, got.raw)
	}
	gotSamples, wantSamples := samples(t, got, false), samples(t, want, false)
	if gotSamples != wantSamples {
		t.Fatalf("%s: samples differ:\n%s", what, diffLines(wantSamples, gotSamples))
	}
	if !bytes.Equal(got.body, want.body) {
		t.Fatalf("%s: same samples but different bytes (%d vs %d)", what, len(got.body), len(want.body))
	}
	return got.length != ""
}

func diffLines(want, got string) string {
	count := map[string]int{}
	for _, l := range strings.Split(want, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(got, "\n") {
		count[l]--
	}
	var b strings.Builder
	for l, n := range count {
		switch {
		case n > 0:
			fmt.Fprintf(&b, "- %s\n", l)
		case n < 0:
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	return b.String()
}

// switchable is a States whose list a test replaces.
type switchable struct {
	mu     sync.Mutex
	states []*report.State
}

func (s *switchable) get() []*report.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*report.State(nil), s.states...)
}

func (s *switchable) set(states []*report.State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.states = states
}

// The cached handler serves the same samples, byte for byte, as promhttp
// over the plain collector: in every format and encoding, after states
// change, and for requests it passes on.
func TestCachedHandlerMatchesPromhttp(t *testing.T) {
	live, requests := liveRegistry()
	states := &switchable{states: cacheStates(t)}
	cached := NewHandler(states.get, live, HandlerOpts{})
	plain := reference(states.get, live)

	duplicate := false
	check := func(t *testing.T) {
		for _, a := range acceptHeaders {
			wantCached := a.cached && !duplicate
			for _, enc := range acceptEncodings {
				if got := compare(t, cached, plain, "/metrics", a.accept, enc); got != wantCached {
					t.Errorf("Accept %s, Accept-Encoding %q: served from the cache %v, want %v", a.name, enc, got, wantCached)
				}
			}
		}
		for _, enc := range moreEncodings {
			compare(t, cached, plain, "/metrics", acceptHeaders[1].accept, enc)
		}
		if compare(t, cached, plain, "/metrics?name[]=aws_iam_user_info&name[]=a_first", acceptHeaders[1].accept, "gzip") {
			t.Error("a name[] filter was served from the cache")
		}
	}
	t.Run("initial", check)

	// A refresh replaces one account's State; live counters move.
	next := states.get()
	changed := *next[3]
	changed.Refreshes++
	changed.Report = cacheStates(t)[4].Report
	next[3] = &changed
	states.set(next)
	requests.Observe("GetCredentialReport", "")
	t.Run("after a refresh", check)

	// An account goes away, another has no report yet.
	states.set(append(next[1:4:4], &report.State{AccountID: "444444444444", AccountName: "new"}))
	t.Run("after accounts change", check)

	// Two states of one account clash in the registry; promhttp decides.
	states.set(append(states.get(), &report.State{AccountID: "444444444444"}))
	duplicate = true
	t.Run("duplicate account", check)

	duplicate = false
	states.set(nil)
	t.Run("no accounts", check)
}

// The samples are the same whatever the order of the formats asked for,
// including gzip before identity and the reverse.
func TestCachedHandlerOrderOfRequests(t *testing.T) {
	live, _ := liveRegistry()
	states := cacheStates(t)
	list := func() []*report.State { return states }
	plain := reference(list, live)
	for _, encs := range [][]string{{"gzip", ""}, {"", "gzip"}} {
		cached := NewHandler(list, live, HandlerOpts{})
		for _, enc := range encs {
			for _, a := range acceptHeaders {
				compare(t, cached, plain, "/metrics", a.accept, enc)
			}
		}
	}
}

// Empty responses: no accounts and no live metrics.
func TestCachedHandlerEmpty(t *testing.T) {
	empty := prometheus.NewRegistry()
	none := func() []*report.State { return nil }
	cached, plain := NewHandler(none, empty, HandlerOpts{}), reference(none, empty)
	for _, a := range acceptHeaders {
		for _, enc := range acceptEncodings {
			compare(t, cached, plain, "/metrics", a.accept, enc)
		}
	}
}

// Concurrent scrapes of a new State encode each account once per format and
// encoding, and all get the same bytes.
func TestCachedHandlerEncodesOncePerChange(t *testing.T) {
	live := prometheus.NewRegistry()
	states := &switchable{states: cacheStates(t)}
	h := NewHandler(states.get, live, HandlerOpts{}).(*handler)
	accounts := int64(len(states.get()))
	prom := acceptHeaders[1].accept

	scrapeAll := func() {
		var wg sync.WaitGroup
		bodies := make([][]byte, 20)
		for i := range bodies {
			wg.Go(func() {
				enc := ""
				if i%2 == 0 {
					enc = "gzip"
				}
				bodies[i] = get(t, h, "/metrics", prom, enc).body
			})
		}
		wg.Wait()
		for i := range bodies {
			if !bytes.Equal(bodies[i], bodies[0]) {
				t.Fatalf("scrape %d got other bytes than scrape 0", i)
			}
		}
	}
	scrapeAll()
	// Each account: OpenMetrics identity and gzip.
	if got := h.encodings.Load(); got != 2*accounts {
		t.Fatalf("%d accounts encoded %d times, want %d", accounts, got, 2*accounts)
	}
	scrapeAll()
	if got := h.encodings.Load(); got != 2*accounts {
		t.Fatalf("unchanged states encoded again: %d encodings, want %d", got, 2*accounts)
	}

	next := states.get()
	changed := *next[0]
	changed.Refreshes++
	next[0] = &changed
	states.set(next)
	scrapeAll()
	if got := h.encodings.Load(); got != 2*accounts+2 {
		t.Fatalf("after one account changed: %d encodings, want %d", got, 2*accounts+2)
	}
}

// Live families change between scrapes of unchanged states.
func TestCachedHandlerKeepsLiveMetricsLive(t *testing.T) {
	live, requests := liveRegistry()
	states := cacheStates(t)
	h := NewHandler(func() []*report.State { return states }, live, HandlerOpts{})
	count := func() string {
		for _, l := range strings.Split(string(get(t, h, "/metrics", "", "gzip").body), "\n") {
			if strings.HasPrefix(l, `iam_credential_exporter_aws_requests_total{operation="GetCredentialReport"}`) {
				return l
			}
		}
		return ""
	}
	before := count()
	requests.Observe("GetCredentialReport", "")
	if after := count(); after == before {
		t.Fatalf("live counter did not move: %q", after)
	}
}

// A family both cached and live would repeat its HELP and TYPE lines; it is
// served once, from the cache, and the error counted.
func TestCachedHandlerDropsLiveDuplicates(t *testing.T) {
	states := cacheStates(t)
	list := func() []*report.State { return states }
	live := prometheus.NewRegistry()
	live.MustRegister(New(list))
	errs := prometheus.NewRegistry()
	h := NewHandler(list, live, HandlerOpts{Registry: errs})
	body := string(get(t, h, "/metrics", "", "").body)
	if n := strings.Count(body, "# TYPE aws_iam_user_info "); n != 1 {
		t.Fatalf("TYPE of aws_iam_user_info appears %d times", n)
	}
	mfs, err := errs.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var gathering float64
	for _, m := range mfs[0].GetMetric() {
		if m.GetLabel()[0].GetValue() == "gathering" {
			gathering = m.GetCounter().GetValue()
		}
	}
	if gathering == 0 {
		t.Fatal("promhttp_metric_handler_errors_total{cause=\"gathering\"} did not count the clash")
	}
}

// --web.max-requests: a scrape beyond the limit gets a 503 at once.
func TestCachedHandlerMaxRequestsInFlight(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	live := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		once.Do(func() {
			close(entered)
			<-release
		})
		return nil, nil
	})
	states := cacheStates(t)
	h := NewHandler(func() []*report.State { return states }, live, HandlerOpts{MaxRequestsInFlight: 1})
	done := make(chan response)
	go func() { done <- get(t, h, "/metrics", "", "") }()
	<-entered
	if r := get(t, h, "/metrics", "", ""); r.status != http.StatusServiceUnavailable {
		t.Errorf("second scrape: status %d, want 503", r.status)
	}
	close(release)
	if r := <-done; r.status != http.StatusOK {
		t.Errorf("first scrape: status %d, want 200", r.status)
	}
}

// A live gatherer that fails with nothing gathered still lets the cached
// part through, as ContinueOnError does; with nothing at all, a 500.
func TestCachedHandlerLiveErrors(t *testing.T) {
	failing := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		return nil, fmt.Errorf("broken collector")
	})
	states := cacheStates(t)
	list := func() []*report.State { return states }
	compare(t, NewHandler(list, failing, HandlerOpts{}), reference(list, failing), "/metrics", "", "gzip")
	none := func() []*report.State { return nil }
	if r := get(t, NewHandler(none, failing, HandlerOpts{}), "/metrics", "", "gzip"); r.status != http.StatusInternalServerError {
		t.Errorf("nothing to serve: status %d, want 500", r.status)
	}
}

// Over a real connection, Go's client reads the multi-member gzip body
// transparently.
func TestCachedHandlerOverHTTP(t *testing.T) {
	live, _ := liveRegistry()
	states := cacheStates(t)
	list := func() []*report.State { return states }
	srv := httptest.NewServer(NewHandler(list, live, HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Uncompressed {
		t.Fatal("the client did not ask for gzip or did not get it")
	}
	want := get(t, reference(list, live), "/metrics", "", "").body
	if !bytes.Equal(body, want) {
		t.Fatalf("body differs from promhttp's:\n%s", diffLines(string(want), string(body)))
	}
}

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"":                          false,
		"gzip":                      true,
		"GZIP":                      true,
		"gzip, deflate, br, zstd":   true,
		"identity":                  false,
		"*":                         false,
		"gzip;q=0":                  false,
		"gzip;q=0.5, identity":      false,
		"identity;q=0.5, gzip":      true,
		"*;q=0.3, gzip;q=0.2":       false,
		"identity;q=0, *":           false, // promhttp lets * win over the explicit q=0
		"gzip;q=bad, identity;q=.1": false,
		"deflate":                   false,
	} {
		h := http.Header{}
		if header != "" {
			h.Set("Accept-Encoding", header)
		}
		if got := acceptsGzip(h); got != want {
			t.Errorf("Accept-Encoding %q: gzip %v, want %v", header, got, want)
		}
	}
}

// The OpenMetrics output parses, from its multi-member gzip stream, and holds
// the samples of the text output. Uncompressed, it has the same bytes (see
// TestCachedHandlerMatchesPromhttp).
func TestCachedOpenMetricsParses(t *testing.T) {
	live := prometheus.NewRegistry()
	requests := NewAWSRequests()
	requests.Observe("GetCredentialReport", "Throttling")
	live.MustRegister(requests, NewShard(0, 1))
	states := sampleStates()
	h := NewHandler(func() []*report.State { return states }, live, HandlerOpts{})
	text := samples(t, get(t, h, "/metrics", "", ""), false)
	r := get(t, h, "/metrics", "application/openmetrics-text;version=1.0.0", "gzip")
	if got := samples(t, r, true); got != text {
		t.Errorf("OpenMetrics samples differ from text:\n%s", diffLines(text, got))
	}
}
