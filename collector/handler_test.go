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
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/refresh"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/reportgen"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// Accept headers of real scrapers and of people. The accounts' metrics come
// in the text format to all of them.
var acceptHeaders = []struct{ name, accept string }{
	{"none", ""},
	{"prometheus-2", "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"},
	{"prometheus-3", "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"},
	{"prometheus-protobuf", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"},
	{"protobuf", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"},
	{"openmetrics-0.0.1", "application/openmetrics-text;version=0.0.1"},
	{"text-1.0.0", "text/plain;version=1.0.0"},
	{"text-utf8", "text/plain;version=0.0.4;escaping=allow-utf-8"},
	{"text-dots", "text/plain;version=0.0.4;escaping=dots"},
	{"any", "*/*"},
	{"protobuf-text", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text"},
}

// acceptEncodings are tried with every Accept header; TestAcceptsGzip covers
// the negotiation, and moreEncodings go through the handler once.
var (
	acceptEncodings = []string{"", "gzip"}
	moreEncodings   = []string{"gzip, deflate, br", "identity", "gzip;q=0", "*", "identity;q=0.5, gzip"}
)

// cacheStates adds generated accounts, with names and aliases, to the
// hand-made sample, and lists them out of order.
func cacheStates(t testing.TB) []*refresh.State {
	states := sampleStates()
	for i, id := range []string{"999999999999", "000000000001", "555555555555"} {
		csv := reportgen.Generate(reportgen.Options{AccountID: id, Users: 15, Seed: int64(i)})
		rep, err := report.Parse(bytes.NewReader(csv))
		if err != nil {
			t.Fatal(err)
		}
		rep.GeneratedAt = reportgen.DefaultNow
		rep.AccountAlias = "alias-" + id
		states = append(states, &refresh.State{
			AccountID: id, AccountName: "name " + id, Report: rep,
			LastAttempt: reportgen.DefaultNow, LastSuccess: reportgen.DefaultNow,
			LastDuration: time.Second, Refreshes: uint64(i + 1),
		})
	}
	return states
}

// liveCollectors are live families whose names sort before, between and
// after the cached ones, with fixed values so that responses compare.
func liveCollectors() ([]prometheus.Collector, *AWSRequests) {
	requests := NewAWSRequests()
	requests.Observe("GetCredentialReport", "")
	requests.Observe("GenerateCredentialReport", "Throttling")
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "go_fake_goroutines", Help: "Sorts between aws_iam_ and iam_credential_exporter_, with a \"quoted\" help."}, []string{"x"})
	g.WithLabelValues("a\"b\\c\nd").Set(1.5)
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "process_fake_seconds", Help: "A histogram.", Buckets: []float64{1, 2}})
	h.Observe(1.5)
	return []prometheus.Collector{
		requests, NewShard(1, 3), g, h,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "a_first", Help: "Sorts first."}, func() float64 { return 7 }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "zz_last_total", Help: "Sorts last."}, func() float64 { return 3 }),
	}, requests
}

// newHandler returns a handler over states with the live collectors.
func newHandler(t testing.TB, states []*refresh.State, live []prometheus.Collector, opts HandlerOpts) *Handler {
	t.Helper()
	opts.Live = live
	h, err := NewHandler(opts)
	if err != nil {
		t.Fatal(err)
	}
	h.Update(states)
	return h
}

// reference is what the handler must serve: promhttp over a registry that
// holds the plain collector and the live metrics. compare asks it for the
// text format, as the handler serves the accounts' metrics.
func reference(states *[]*refresh.State, live []prometheus.Collector) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(testDescs().collector(func() []*refresh.State { return *states }))
	reg.MustRegister(live...)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// textAccept asks for the text format.
const textAccept = "text/plain;version=0.0.4"

type response struct {
	status      int
	contentType string
	encoding    string
	body        []byte // decompressed
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

// samples decodes a text body and re-encodes it, so that a difference
// shows as a readable diff.
func samples(t testing.TB, r response) string {
	t.Helper()
	format := expfmt.Format(r.contentType)
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

// compare fails when the handler's response differs from the reference's
// in status, content encoding, decoded samples, or families with their help
// and type. The reference is asked for the text format, which the handler
// serves whatever the request's Accept header.
func compare(t *testing.T, h, ref http.Handler, target, accept, acceptEncoding string) {
	t.Helper()
	want := get(t, ref, target, textAccept, acceptEncoding)
	got := get(t, h, target, accept, acceptEncoding)
	what := fmt.Sprintf("GET %s Accept=%q Accept-Encoding=%q", target, accept, acceptEncoding)
	if got.status != want.status || got.encoding != want.encoding {
		t.Fatalf("%s: got %d %q, want %d %q", what, got.status, got.encoding, want.status, want.encoding)
	}
	if got.status == http.StatusOK && got.contentType != string(textFormat) {
		t.Fatalf("%s: Content-Type %q, want %q", what, got.contentType, textFormat)
	}
	gotSamples, gotBlocks := decoded(t, got)
	wantSamples, wantBlocks := decoded(t, want)
	if gotSamples != wantSamples {
		t.Fatalf("%s: samples differ:\n%s", what, diffLines(wantSamples, gotSamples))
	}
	if gotBlocks != wantBlocks {
		t.Fatalf("%s: same samples but different families:\n%s", what, diffLines(wantBlocks, gotBlocks))
	}
}

// decodedBodies holds samples and familyBlocks of the bodies compare has
// seen, by content type and body. The handler answers every Accept header
// and encoding with the same text, and the reference gives the same text
// until the states change: decoding each distinct body once made the
// comparisons several times faster under -race, with the same checks.
var decodedBodies sync.Map // string → [2]string

// decoded returns samples(r) and familyBlocks(r.body).
func decoded(t testing.TB, r response) (samplesText, blocks string) {
	t.Helper()
	key := r.contentType + "\x00" + string(r.body)
	if d, ok := decodedBodies.Load(key); ok {
		return d.([2]string)[0], d.([2]string)[1]
	}
	d := [2]string{samples(t, r), familyBlocks(r.body)}
	decodedBodies.Store(key, d)
	return d[0], d[1]
}

// familyBlocks sorts the families of a text body, each with its comment
// lines and samples: the handler sends the live families after the cached
// ones, where promhttp sorts them all by name.
func familyBlocks(body []byte) string {
	var blocks [][]string
	lines := strings.SplitAfter(string(body), "\n")
	for i, l := range lines {
		switch {
		case len(blocks) == 0, strings.HasPrefix(l, "#") && !strings.HasPrefix(lines[i-1], "#"):
			blocks = append(blocks, []string{l})
		default:
			blocks[len(blocks)-1] = append(blocks[len(blocks)-1], l)
		}
	}
	joined := make([]string, len(blocks))
	for i, b := range blocks {
		joined[i] = strings.Join(b, "")
	}
	slices.Sort(joined)
	return strings.Join(joined, "")
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

// The handler serves the same samples, families, help and types as
// promhttp's text format over the plain collector: to every client, with
// and without gzip, and after states change. name[] is ignored.
func TestCachedHandlerMatchesPromhttp(t *testing.T) {
	live, requests := liveCollectors()
	states := cacheStates(t)
	cached := newHandler(t, states, live, HandlerOpts{})
	plain := reference(&states, live)

	check := func(t *testing.T) {
		for _, a := range acceptHeaders {
			for _, enc := range acceptEncodings {
				compare(t, cached, plain, "/metrics", a.accept, enc)
			}
		}
		for _, enc := range moreEncodings {
			compare(t, cached, plain, "/metrics", acceptHeaders[1].accept, enc)
		}
		all := get(t, cached, "/metrics", acceptHeaders[1].accept, "gzip")
		if filtered := get(t, cached, "/metrics?name[]=aws_iam_user_info&name[]=a_first", acceptHeaders[1].accept, "gzip"); !bytes.Equal(filtered.body, all.body) {
			t.Error("a name[] filter changed the response")
		}
	}
	set := func(next []*refresh.State) {
		states = next
		cached.Update(next)
	}
	t.Run("initial", check)

	// A refresh replaces one account's State; live counters move.
	next := slices.Clone(states)
	changed := *next[3]
	changed.Refreshes++
	changed.Report = cacheStates(t)[4].Report
	next[3] = &changed
	set(next)
	requests.Observe("GetCredentialReport", "")
	t.Run("after a refresh", check)

	// An account goes away, another has no report yet.
	set(append(next[1:4:4], &refresh.State{AccountID: "444444444444", AccountName: "new"}))
	t.Run("after accounts change", check)

	set(nil)
	t.Run("no accounts", check)
}

// lines is a promhttp.Logger that keeps what it is given.
type lines struct {
	mu   sync.Mutex
	logs []string
}

func (l *lines) Println(v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.logs = append(l.logs, fmt.Sprintln(v...))
}

// Two States of one account ID would serve clashing series: the handler
// serves the first of them everywhere (/metrics, ?account_id=, /sd), and
// logs and counts the others at each Update, never silently.
func TestDuplicateAccountServesTheFirst(t *testing.T) {
	states := cacheStates(t)
	for _, first := range []bool{true, false} {
		impostor := *states[2]
		impostor.AccountName = "impostor"
		impostor.Refreshes += 10
		with := append(slices.Clone(states), &impostor)
		served := states
		if first {
			with = append([]*refresh.State{&impostor}, states...)
			served = slices.Clone(states)
			served[2] = &impostor
		}
		log := &lines{}
		h := newHandler(t, with, nil, HandlerOpts{ErrorLog: log})
		compare(t, h, reference(&served, nil), "/metrics", "", "gzip")
		one := []*refresh.State{served[2]}
		compare(t, h, reference(&one, nil), "/metrics?account_id="+impostor.AccountID, "", "")
		if len(log.logs) != 1 || !strings.Contains(log.logs[0], impostor.AccountID) {
			t.Errorf("logged %q, want one line that names account %s", log.logs, impostor.AccountID)
		}
		if got := testutil.ToFloat64(h.errors.WithLabelValues("gathering")); got != 1 {
			t.Errorf("promhttp_metric_handler_errors_total{cause=\"gathering\"} = %v, want 1", got)
		}
		if !slices.Equal(h.States(), with) {
			t.Error("States does not return every state, the duplicate included")
		}
	}
}

// Empty responses: no accounts and no live metrics.
func TestCachedHandlerEmpty(t *testing.T) {
	var none []*refresh.State
	cached, plain := newHandler(t, none, nil, HandlerOpts{}), reference(&none, nil)
	for _, a := range acceptHeaders {
		for _, enc := range acceptEncodings {
			compare(t, cached, plain, "/metrics", a.accept, enc)
			compare(t, cached, plain, "/metrics?exporter=true", a.accept, enc)
		}
	}
}

// Live families change between scrapes of unchanged states.
func TestCachedHandlerKeepsLiveMetricsLive(t *testing.T) {
	live, requests := liveCollectors()
	h := newHandler(t, cacheStates(t), live, HandlerOpts{})
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

// A live metric with the name of an account metric would repeat a family in
// every response: the handler refuses it when it is built.
func TestNewHandlerRefusesClashingLiveMetrics(t *testing.T) {
	clash := prometheus.NewGauge(prometheus.GaugeOpts{Name: "aws_iam_credential_report_users", Help: "Clashes."})
	if _, err := NewHandler(HandlerOpts{Live: []prometheus.Collector{clash}}); err == nil {
		t.Fatal("NewHandler accepted a live metric named like an account metric")
	}
	h, err := NewHandler(HandlerOpts{ExporterMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	body := string(get(t, h, "/metrics", "", "").body)
	for _, family := range []string{"go_goroutines", "process_cpu_seconds_total", "promhttp_metric_handler_requests_total"} {
		if !strings.Contains(body, "\n"+family+" ") && !strings.Contains(body, "\n"+family+"{") {
			t.Errorf("ExporterMetrics: %s missing", family)
		}
	}
}

// blocking is a live collector whose Collect waits until released.
type blocking struct {
	desc              *prometheus.Desc
	entered, released chan struct{}
	calls             atomic.Int32
}

func newBlocking() *blocking {
	return &blocking{
		desc:    prometheus.NewDesc("blocking", "Blocks.", nil, nil),
		entered: make(chan struct{}, 10), released: make(chan struct{}),
	}
}

func (b *blocking) Describe(ch chan<- *prometheus.Desc) { ch <- b.desc }
func (b *blocking) Collect(ch chan<- prometheus.Metric) {
	b.calls.Add(1)
	b.entered <- struct{}{}
	<-b.released
	ch <- prometheus.MustNewConstMetric(b.desc, prometheus.GaugeValue, 1)
}

// --web.max-requests: a scrape beyond the limit gets a 503 at once.
func TestCachedHandlerMaxRequestsInFlight(t *testing.T) {
	b := newBlocking()
	h := newHandler(t, cacheStates(t), []prometheus.Collector{b}, HandlerOpts{MaxRequestsInFlight: 1})
	done := make(chan response)
	go func() { done <- get(t, h, "/metrics", "", "") }()
	<-b.entered
	if r := get(t, h, "/metrics", "", ""); r.status != http.StatusServiceUnavailable {
		t.Errorf("second scrape: status %d, want 503", r.status)
	}
	close(b.released)
	if r := <-done; r.status != http.StatusOK {
		t.Errorf("first scrape: status %d, want 200", r.status)
	}
}

// failing is a live collector that reports an error.
type failing struct{ desc *prometheus.Desc }

func (f failing) Describe(ch chan<- *prometheus.Desc) { ch <- f.desc }
func (f failing) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.NewInvalidMetric(f.desc, fmt.Errorf("broken collector"))
}

// A live collector that fails lets the cached part through, as
// ContinueOnError does; with nothing at all, a 500.
func TestCachedHandlerLiveErrors(t *testing.T) {
	broken := []prometheus.Collector{failing{prometheus.NewDesc("broken", "Broken.", nil, nil)}}
	states := cacheStates(t)
	compare(t, newHandler(t, states, broken, HandlerOpts{}), reference(&states, broken), "/metrics", "", "gzip")
	if r := get(t, newHandler(t, nil, broken, HandlerOpts{}), "/metrics", "", "gzip"); r.status != http.StatusInternalServerError {
		t.Errorf("nothing to serve: status %d, want 500", r.status)
	}
}

// Over a real connection, Go's client reads the gzip body transparently.
func TestCachedHandlerOverHTTP(t *testing.T) {
	live, _ := liveCollectors()
	states := cacheStates(t)
	srv := httptest.NewServer(newHandler(t, states, live, HandlerOpts{}))
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
	want := get(t, reference(&states, live), "/metrics", "", "").body
	if got, want := familyBlocks(body), familyBlocks(want); got != want {
		t.Fatalf("body differs from promhttp's:\n%s", diffLines(want, got))
	}
}

// A client that takes gzip gets it, whatever it prefers; one that does not
// list it, or refuses it with q=0, gets identity. Go's client, curl
// --compressed and Prometheus list gzip.
func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"":                          false,
		"gzip":                      true,
		"GZIP":                      true,
		"gzip, deflate, br, zstd":   true,
		"identity":                  false,
		"*":                         false,
		"gzip;q=0":                  false,
		"gzip; q=0.0":               false,
		"gzip;q=0.5, identity":      true,
		"identity;q=0.5, gzip":      true,
		"*;q=0.3, gzip;q=0.2":       true,
		"identity;q=0, *":           false,
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

// Full pages take at most half of the --web.max-requests slots: with them
// all taken, scoped requests (?account_id=, ?exporter=true, /sd) are still
// served, and each refusal is counted by its kind, on the exporter's own
// metrics.
func TestFullPagesLeaveSlotsForScopedRequests(t *testing.T) {
	states := cacheStates(t)
	h := newHandler(t, states, nil, HandlerOpts{MaxRequestsInFlight: 4})
	if cap(h.fullSlots) != 2 {
		t.Fatalf("%d slots for full pages of 4, want 2", cap(h.fullSlots))
	}
	sd := h.SD("/metrics", "exporter.example:9860")
	scoped := map[string]http.Handler{
		"/metrics?account_id=" + states[0].AccountID: h,
		"/metrics?exporter=true":                     h,
		"/sd":                                        sd,
	}
	// Two full pages in flight, as limitInFlight takes their slots.
	for range 2 {
		h.fullSlots <- struct{}{}
		h.slots <- struct{}{}
	}
	if r := get(t, h, "/metrics", "", "gzip"); r.status != http.StatusServiceUnavailable {
		t.Errorf("a third full page: status %d, want 503", r.status)
	}
	for target, handler := range scoped {
		if r := get(t, handler, target, "", "gzip"); r.status != http.StatusOK {
			t.Errorf("%s beside two full pages: status %d, want 200", target, r.status)
		}
	}
	r := get(t, h, "/metrics?exporter=true", "", "")
	for _, want := range []string{
		`iam_credential_exporter_http_requests_refused_total{kind="full"} 1`,
		`iam_credential_exporter_http_requests_refused_total{kind="scoped"} 0`,
	} {
		if !bytes.Contains(r.body, []byte("\n"+want+"\n")) {
			t.Errorf("?exporter=true lacks %q:\n%s", want, r.body)
		}
	}
	// Scoped requests take the other slots too, and past them are refused.
	for range 2 {
		h.slots <- struct{}{}
	}
	for target, handler := range scoped {
		if r := get(t, handler, target, "", "gzip"); r.status != http.StatusServiceUnavailable {
			t.Errorf("%s with every slot taken: status %d, want 503", target, r.status)
		}
	}
	if got := testutil.ToFloat64(h.refused.WithLabelValues(kindScoped)); got != float64(len(scoped)) {
		t.Errorf("scoped refusals: %g, want %d", got, len(scoped))
	}
}

// fullSlots keeps at least one slot for full pages, and half of the rest
// for scoped requests.
func TestFullSlots(t *testing.T) {
	for n, want := range map[int]int{1: 1, 2: 1, 3: 1, 4: 2, 40: 20, 41: 20} {
		if got := fullSlots(n); got != want {
			t.Errorf("fullSlots(%d) = %d, want %d", n, got, want)
		}
	}
}
