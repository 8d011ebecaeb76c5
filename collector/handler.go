package collector

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/iam-credential-exporter/iam_credential_exporter/refresh"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// HandlerOpts configures the telemetry handler.
type HandlerOpts struct {
	// ExporterMetrics adds the exporter's own go_*, process_* and
	// promhttp_* metrics.
	ExporterMetrics bool
	// Live are gathered on every scrape, after the accounts' metrics: the
	// exporter's counters of AWS requests, discovery and shard state, its
	// build. They must not share a name with the accounts' metrics.
	Live []prometheus.Collector
	// MaxRequestsInFlight bounds concurrent scrapes; more get a 503. 0 means
	// no bound.
	MaxRequestsInFlight int
	// ErrorLog receives gathering and encoding errors; nil drops them.
	ErrorLog promhttp.Logger
	// UserTags and AccountTags are the allow-listed tag keys, each exported
	// as a label of aws_iam_user_tags and aws_iam_account_tags; see
	// TagLabelNames.
	UserTags, AccountTags report.TagKeys
}

// Handler serves /metrics: the metrics of every account, then the live
// ones. An account's metrics change only when its State does, and a report
// of thousands of users is too many to gather and encode on every scrape.
// So Update encodes each new State when it is published, in the format and
// encoding Prometheus asks for (and in any other that a scrape has asked
// for since), and a scrape only copies those bytes and encodes the few live
// families. Protobuf and name[] requests, which are for people and tools,
// go to promhttp, one at a time.
type Handler struct {
	handler  http.Handler // ServeHTTP behind the in-flight limit and instrumentation
	live     prometheus.Gatherer
	descs    *descs
	errorLog promhttp.Logger
	errors   *prometheus.CounterVec
	// fallback is promhttp over the accounts of the current view and the
	// live metrics; uncached is a slot for one such request at a time.
	fallback http.Handler
	uncached chan struct{}

	view atomic.Pointer[view]
	// wanted holds a bit for each cached format and encoding that Update
	// encodes ahead of scrapes: Prometheus's default, and any that a scrape
	// has asked for.
	wanted atomic.Uint32

	// encodings counts account encodings, so that tests can check that a
	// State is encoded once per format and encoding.
	encodings atomic.Int64
}

// NewHandler returns the telemetry handler. Pass its Update to the
// scheduler, which calls it with the accounts' states whenever one changes.
func NewHandler(opts HandlerOpts) (*Handler, error) {
	live := prometheus.NewRegistry()
	if opts.ExporterMetrics {
		opts.Live = append(opts.Live, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	// Registering the accounts' collector beside the live ones checks, once,
	// that no live metric takes one of their names: a scrape could not tell.
	descs, err := newDescs(opts.UserTags, opts.AccountTags)
	if err != nil {
		return nil, err
	}
	names := prometheus.NewRegistry()
	if err := names.Register(descs.collector(nil)); err != nil {
		return nil, err
	}
	for _, c := range opts.Live {
		if err := live.Register(c); err != nil {
			return nil, fmt.Errorf("register live metrics: %w", err)
		}
		if err := names.Register(c); err != nil {
			return nil, fmt.Errorf("live metrics clash with the accounts' metrics: %w", err)
		}
	}
	h := &Handler{live: live, descs: descs, errorLog: opts.ErrorLog, uncached: make(chan struct{}, 1)}
	h.wanted.Store(wantBit(fmtOpenMetrics, gzipped))
	h.view.Store(newView(nil, nil))

	var registerer prometheus.Registerer
	if opts.ExporterMetrics {
		registerer = live
	}
	h.errors = errorsCounter(registerer)
	accounts := prometheus.NewRegistry()
	accounts.MustRegister(descs.collector(func() []*refresh.State { return h.view.Load().states }))
	h.fallback = promhttp.HandlerFor(prometheus.Gatherers{accounts, live}, promhttp.HandlerOpts{
		ErrorLog:          opts.ErrorLog,
		ErrorHandling:     promhttp.ContinueOnError,
		Registry:          registerer,
		EnableOpenMetrics: true,
	})

	h.handler = http.HandlerFunc(h.serve)
	if n := opts.MaxRequestsInFlight; n > 0 {
		h.handler = limitInFlight(h.handler, n)
	}
	if opts.ExporterMetrics {
		h.handler = promhttp.InstrumentMetricHandler(live, h.handler)
	}
	return h, nil
}

// errorsCounter returns promhttp_metric_handler_errors_total, which the
// cached path counts in as promhttp does. promhttp.HandlerFor registers the
// same counter and, finding this one, shares it.
func errorsCounter(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "promhttp_metric_handler_errors_total",
		Help: "Total number of internal errors encountered by the promhttp metric handler.",
	}, []string{"cause"})
	if reg != nil {
		reg.MustRegister(c)
	}
	return c
}

// limitInFlight answers 503 at once beyond n concurrent requests, as
// promhttp's MaxRequestsInFlight does.
func limitInFlight(next http.Handler, n int) http.Handler {
	slots := make(chan struct{}, n)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
			next.ServeHTTP(w, r)
		default:
			http.Error(w, fmt.Sprintf("Limit of concurrent requests reached (%d), try again later.", n), http.StatusServiceUnavailable)
		}
	})
}

// Update makes states, sorted by account ID, the ones served, and encodes
// every account whose State is new in each wanted format and encoding. It is
// called by one goroutine at a time, whenever a State changes.
func (h *Handler) Update(states []*refresh.State) {
	v := newView(states, h.view.Load())
	wanted := h.wanted.Load()
	for f := range numFormats {
		for enc := range numEncodings {
			if wanted&wantBit(f, enc) != 0 {
				h.output(v, f, enc)
			}
		}
	}
	h.view.Store(v)
}

// States returns the states that /metrics serves: those of the last Update.
// Readiness and the landing page read them too, so that they never say a
// report is loaded before a scrape can see it.
func (h *Handler) States() []*refresh.State { return h.view.Load().states }

func wantBit(f format, enc encoding) uint32 {
	return 1 << (uint32(f)*uint32(numEncodings) + uint32(enc))
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.handler.ServeHTTP(w, r) }

// Compression levels (see gzip.go): cached bytes are compressed once and
// sent on every scrape, so they get the smaller output. The live part, a few
// kilobytes, is stored as is: even the fastest compression of it costs more
// per scrape than sending the bytes it would save.
var (
	cachedDeflate = &deflater{level: flate.DefaultCompression}
	liveDeflate   = &deflater{level: flate.NoCompression}
	writers       = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 64<<10) }}
)

func (h *Handler) serve(rsp http.ResponseWriter, req *http.Request) {
	contentType := expfmt.NegotiateAccept(req.Header, expfmt.DefaultOpenMetricsAcceptedFormats()...)
	f, cacheable := cachedFormat(contentType)
	v := h.view.Load()
	if !cacheable || v.duplicate || req.URL.Query().Has("name[]") {
		h.serveUncached(rsp, req)
		return
	}
	enc := identity
	if acceptsGzip(req.Header) {
		enc = gzipped
	}
	if bit := wantBit(f, enc); h.wanted.Load()&bit == 0 {
		h.wanted.Or(bit)
	}
	cached := h.output(v, f, enc)
	live, ok := h.encodeLive(rsp, contentType, enc, len(cached.families) > 0)
	if !ok {
		return
	}
	chunks := make([]*chunk, 0, len(cached.families)+2)
	for i := range cached.families {
		chunks = append(chunks, &cached.families[i].chunk)
	}
	chunks = append(chunks, &live)
	if cached.trailer != nil {
		chunks = append(chunks, cached.trailer)
	}

	header := rsp.Header()
	header.Add("Vary", "Accept")
	header.Add("Vary", "Accept-Encoding")
	header.Set("Content-Type", string(contentType))
	size := 0
	if enc == gzipped {
		header.Set("Content-Encoding", "gzip")
		size = len(gzipHeader) + len(deflateEnd) + gzipTrailerLen
	}
	for _, c := range chunks {
		size += c.wire
	}
	header.Set("Content-Length", strconv.Itoa(size))

	// Many parts are small (one account's samples of one family), and
	// net/http's own buffer would send each in a write of its own.
	bw := writers.Get().(*bufio.Writer)
	defer writers.Put(bw)
	bw.Reset(rsp)
	defer bw.Reset(nil)
	if enc == gzipped {
		_, _ = bw.Write(gzipHeader)
	}
	var crc uint32
	uncompressed := 0
	for _, c := range chunks {
		for _, p := range c.parts {
			_, _ = bw.Write(p)
		}
		if enc == gzipped {
			crc = crcAppend(crc, c.crc, c.shift)
			uncompressed += c.size
		}
	}
	if enc == gzipped {
		_, _ = bw.Write(deflateEnd)
		trailer := binary.LittleEndian.AppendUint32(make([]byte, 0, gzipTrailerLen), crc)
		// ISIZE is the length modulo 2^32.
		_, _ = bw.Write(binary.LittleEndian.AppendUint32(trailer, uint32(uncompressed)))
	}
	// A bufio.Writer keeps its first error and returns it from Flush.
	if err := bw.Flush(); err != nil {
		h.logError("error encoding and sending metric family:", err)
		h.errors.WithLabelValues("encoding").Inc()
	}
}

// serveUncached passes a request to promhttp, one at a time: an uncached
// response holds every account's metrics in memory while it is built. A
// request waits for its turn until its context ends: the client went away,
// or the request's deadline passed (the exporter sets one from
// --web.write-timeout).
func (h *Handler) serveUncached(rsp http.ResponseWriter, req *http.Request) {
	select {
	case h.uncached <- struct{}{}:
		defer func() { <-h.uncached }()
		h.fallback.ServeHTTP(rsp, req)
	case <-req.Context().Done():
		if errors.Is(req.Context().Err(), context.DeadlineExceeded) {
			// Not an empty 200. The write deadline has likely passed too,
			// and then the client sees the connection close instead.
			http.Error(rsp, "Timed out waiting for another uncached request (protobuf or name[]) to finish, try again later.", http.StatusServiceUnavailable)
		}
		// Otherwise the client gave up waiting; there is no one to answer.
	}
}

// gzipTrailerLen is the CRC-32 and the length that end a gzip member.
const gzipTrailerLen = 8

// cachedFormat says which cached format serves a negotiated content type.
// OpenMetrics 0.0.1 and 1.0.0 are written alike, as are the text format's
// versions, and escaping leaves the accounts' metric names alone: they are
// all valid legacy names.
func cachedFormat(f expfmt.Format) (format, bool) {
	switch f.FormatType() {
	case expfmt.TypeTextPlain:
		return fmtText, true
	case expfmt.TypeOpenMetrics:
		switch f.Version() {
		case expfmt.OpenMetricsVersion_1_0_0, expfmt.OpenMetricsVersion_0_0_1:
			return fmtOpenMetrics, true
		}
	}
	return 0, false
}

// acceptsGzip negotiates like promhttp between identity and gzip: gzip only
// when the client weighs it (or *) above identity, and above zero.
// client_golang does not export its negotiation.
func acceptsGzip(h http.Header) bool {
	identityQ, gzipQ := -1.0, -1.0
	for _, value := range h.Values("Accept-Encoding") {
		for spec := range strings.SplitSeq(value, ",") {
			coding, params, _ := strings.Cut(spec, ";")
			coding = strings.TrimSpace(coding)
			q := 1.0
			if params = strings.TrimSpace(params); params != "" {
				qv, ok := strings.CutPrefix(params, "q=")
				if !ok {
					continue
				}
				var err error
				if q, err = strconv.ParseFloat(strings.TrimSpace(qv), 64); err != nil || q < 0 || q > 1 {
					continue
				}
			}
			if coding == "*" || strings.EqualFold(coding, "identity") {
				identityQ = max(identityQ, q)
			}
			if coding == "*" || strings.EqualFold(coding, "gzip") {
				gzipQ = max(gzipQ, q)
			}
		}
	}
	return gzipQ > identityQ && gzipQ > 0
}

// encodeLive gathers and encodes the live families into one chunk. It
// answers the request itself and returns false when there is nothing to
// serve, as promhttp does.
func (h *Handler) encodeLive(rsp http.ResponseWriter, contentType expfmt.Format, enc encoding, haveCached bool) (chunk, bool) {
	mfs, err := h.live.Gather()
	if err != nil {
		h.logError("error gathering metrics:", err)
		h.errors.WithLabelValues("gathering").Inc()
		if len(mfs) == 0 && !haveCached {
			http.Error(rsp, "An error has occurred while serving metrics:\n\n"+err.Error(), http.StatusInternalServerError)
			return chunk{}, false
		}
	}
	var buf bytes.Buffer
	e := expfmt.NewEncoder(&buf, contentType)
	for _, mf := range mfs {
		h.encode(e, &buf, mf)
	}
	plain := buf.Bytes()
	if enc == identity {
		c := chunk{size: len(plain)}
		c.add(plain)
		return c, true
	}
	c := chunk{size: len(plain), crc: crc32.ChecksumIEEE(plain), shift: crcShift(len(plain))}
	var piece bytes.Buffer
	liveDeflate.piece(&piece, plain)
	c.add(piece.Bytes())
	return c, true
}

// encode appends mf to buf with e. On an error, which it logs and counts,
// it leaves buf as it was and returns false.
func (h *Handler) encode(e expfmt.Encoder, buf *bytes.Buffer, mf *dto.MetricFamily) bool {
	start := buf.Len()
	if err := e.Encode(mf); err != nil {
		h.logError("error encoding and sending metric family:", err)
		h.errors.WithLabelValues("encoding").Inc()
		buf.Truncate(start)
		return false
	}
	return true
}

func (h *Handler) logError(msg string, err error) {
	if h.errorLog != nil {
		h.errorLog.Println(msg, err)
	}
}
