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
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
// ones; with ?account_id=, one account's metrics alone; with
// ?exporter=true, the live ones alone (see Scope). An account's metrics
// change only when its State does, and a report of thousands of users is
// too many to gather and encode on every scrape. So Update encodes each new
// State when it is published, compressed, in the format Prometheus asks for
// (and in any other that a scrape has asked for since), and a scrape only
// copies those bytes and encodes the few live families. Protobuf and name[]
// requests, which are for people and tools, go to promhttp, one at a time.
type Handler struct {
	handler  http.Handler // ServeHTTP behind the in-flight limit and instrumentation
	live     prometheus.Gatherer
	descs    *descs
	index    *familyIndex
	errorLog promhttp.Logger
	errors   *prometheus.CounterVec
	// registerer is where promhttp handlers count their errors; nil
	// without ExporterMetrics.
	registerer prometheus.Registerer
	// fallback is promhttp over the accounts of the current view and the
	// live metrics, liveFallback over the live ones; uncached is a slot for
	// one such request at a time.
	fallback, liveFallback http.Handler
	uncached               chan struct{}

	view atomic.Pointer[view]
	// headers holds each family's HELP and TYPE lines per format, the same
	// for every account, compressed; nil until an account has the family.
	headers [numFormats][]atomic.Pointer[piece]
	// eof is OpenMetrics' "# EOF" line, compressed.
	eof piece
	// asked is when each format was last asked for, in Unix nanoseconds
	// of now. Update encodes ahead of scrapes the formats asked for within
	// formatHorizon, and drops the encodings in the others.
	asked [numFormats]atomic.Int64
	now   func() time.Time

	// encodings and healthEncodings count encodings of the accounts' facts
	// and health, so that tests can check what a State costs.
	encodings, healthEncodings atomic.Int64
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
	h := &Handler{live: live, descs: descs, index: newFamilyIndex(descs.families), errorLog: opts.ErrorLog, uncached: make(chan struct{}, 1)}
	for f := range numFormats {
		h.headers[f] = make([]atomic.Pointer[piece], len(descs.families))
	}
	var eof bytes.Buffer
	if err := expfmt.NewEncoder(&eof, contentTypes[fmtOpenMetrics]).(expfmt.Closer).Close(); err != nil {
		return nil, err
	}
	h.eof = newPiece(eof.Bytes())
	h.now = time.Now
	// Prometheus asks for OpenMetrics: encoded ahead from the start.
	h.asked[fmtOpenMetrics].Store(h.now().UnixNano())
	h.view.Store(newView(nil, nil, 0))

	if opts.ExporterMetrics {
		h.registerer = live
	}
	h.errors = errorsCounter(h.registerer)
	accounts := prometheus.NewRegistry()
	accounts.MustRegister(descs.collector(func() []*refresh.State { return h.view.Load().states }))
	h.fallback = h.promhttp(prometheus.Gatherers{accounts, live})
	h.liveFallback = h.promhttp(live)

	h.handler = http.HandlerFunc(h.serve)
	if n := opts.MaxRequestsInFlight; n > 0 {
		h.handler = limitInFlight(h.handler, n)
	}
	if opts.ExporterMetrics {
		h.handler = promhttp.InstrumentMetricHandler(live, h.handler)
	}
	return h, nil
}

// promhttp returns promhttp's handler over g, with the handler's options.
func (h *Handler) promhttp(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:          h.errorLog,
		ErrorHandling:     promhttp.ContinueOnError,
		Registry:          h.registerer,
		EnableOpenMetrics: true,
	})
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

// Update makes states the ones served, and encodes every account whose
// State is new in each wanted format: its health always, its facts when
// they changed. It is called by one goroutine at a time, whenever a State
// changes: the scheduler calls it after each refresh, from the refresh's
// goroutine, so a scrape never waits for an encoding.
func (h *Handler) Update(states []*refresh.State) {
	wanted := h.wanted()
	v := newView(states, h.view.Load(), ^wanted)
	for f := range numFormats {
		if wanted.has(f) {
			h.encodeAll(v, f)
		}
	}
	h.view.Store(v)
}

// formatHorizon is how long a format stays encoded ahead after it was last
// asked for: longer than any scrape interval, so that a scraper that asks
// for the text format keeps it cached, while a person's one curl does not
// keep a second encoding of every account for good.
const formatHorizon = time.Hour

// wanted returns the formats asked for within formatHorizon.
func (h *Handler) wanted() formatSet {
	var s formatSet
	since := h.now().Add(-formatHorizon).UnixNano()
	for f := range numFormats {
		if h.asked[f].Load() > since {
			s |= 1 << f
		}
	}
	return s
}

// States returns the states that /metrics serves: those of the last Update.
// Readiness and the landing page read them too, so that they never say a
// report is loaded before a scrape can see it.
func (h *Handler) States() []*refresh.State { return h.view.Load().states }

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.handler.ServeHTTP(w, r) }

// Compression levels (see gzip.go): cached bytes are compressed once and
// sent on every scrape, so they get the smaller output. The live part, a few
// kilobytes, is stored as is: even the fastest compression of it costs more
// per scrape than sending the bytes it would save.
var (
	cachedDeflate = &deflater{level: flate.DefaultCompression}
	liveDeflate   = &deflater{level: flate.NoCompression}
	inflaters     sync.Pool
	writers       = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 64<<10) }}
)

// Query parameters of the telemetry path that choose what it serves.
const (
	// AccountIDParam selects one account: its series and its refresh
	// health, nothing of the exporter's own.
	AccountIDParam = "account_id"
	// ExporterParam, set to "true", selects the exporter's own metrics
	// alone: build, discovery, shards, AWS requests, go_* and process_*.
	ExporterParam = "exporter"
)

// scope is what a request asks for: every account and the live metrics
// (the default), one account, or the live metrics alone.
type scope struct {
	accountID string // "" for every account
	exporter  bool
}

// parseScope reads the scope from the query, or says why it cannot.
func parseScope(q url.Values) (scope, error) {
	ids, exporter := q[AccountIDParam], q[ExporterParam]
	switch {
	case len(ids) > 1:
		return scope{}, fmt.Errorf("give one %s, not %d", AccountIDParam, len(ids))
	case len(exporter) > 1 || len(exporter) == 1 && exporter[0] != "true":
		return scope{}, fmt.Errorf("%s takes the one value true", ExporterParam)
	case len(ids) == 1 && len(exporter) == 1:
		return scope{}, fmt.Errorf("give %s or %s=true, not both", AccountIDParam, ExporterParam)
	case len(ids) == 1 && !validAccountID(ids[0]):
		return scope{}, fmt.Errorf("%s must be an AWS account ID of 12 digits, got %q", AccountIDParam, ids[0])
	case len(ids) == 1:
		return scope{accountID: ids[0]}, nil
	}
	return scope{exporter: len(exporter) == 1}, nil
}

func validAccountID(id string) bool {
	if len(id) != 12 {
		return false
	}
	for _, c := range []byte(id) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func (h *Handler) serve(rsp http.ResponseWriter, req *http.Request) {
	sc, err := parseScope(req.URL.Query())
	if err != nil {
		http.Error(rsp, err.Error(), http.StatusBadRequest)
		return
	}
	v := h.view.Load()
	accounts, withLive := v.accounts, true
	switch {
	case sc.exporter:
		accounts = nil
	case sc.accountID != "":
		a := v.find(sc.accountID)
		if a == nil {
			http.Error(rsp, fmt.Sprintf("account %s is not read by this exporter; /sd lists those it reads", sc.accountID), http.StatusNotFound)
			return
		}
		accounts, withLive = []*account{a}, false
	}
	contentType := expfmt.NegotiateAccept(req.Header, expfmt.DefaultOpenMetricsAcceptedFormats()...)
	f, cacheable := cachedFormat(contentType)
	if !cacheable || v.duplicate && !sc.exporter || req.URL.Query().Has("name[]") {
		h.serveUncached(rsp, req, v, sc)
		return
	}
	// Update encodes this format ahead for formatHorizon from now. Until
	// it has, the accounts not encoded in it are encoded for this request
	// (every account at once, in parallel, for /metrics) and kept.
	now := h.now().UnixNano()
	if h.asked[f].Swap(now) < now-int64(formatHorizon) && sc == (scope{}) {
		h.encodeAll(v, f)
	}
	enc := identity
	if acceptsGzip(req.Header) {
		enc = gzipped
	}
	var live []byte
	if withLive {
		var ok bool
		if live, ok = h.encodeLive(rsp, contentType, len(accounts) > 0); !ok {
			return
		}
	}
	h.write(rsp, contentType, f, enc, accounts, live)
}

// encoding is a content encoding of a response.
type encoding uint8

const (
	identity encoding = iota
	gzipped
)

// write sends the accounts' cached pieces, then the live bytes, then
// OpenMetrics' EOF: as one gzip member, or decompressed as they are sent.
func (h *Handler) write(rsp http.ResponseWriter, contentType expfmt.Format, f format, enc encoding, accounts []*account, live []byte) {
	var livePiece piece
	if enc == gzipped && len(live) > 0 {
		var buf bytes.Buffer
		liveDeflate.piece(&buf, live)
		livePiece = piece{data: buf.Bytes(), size: len(live), crc: crc32.ChecksumIEEE(live), shift: crcShift(len(live))}
	}
	var trailer *piece
	if f == fmtOpenMetrics {
		trailer = &h.eof
	}
	encs := h.encodingsOf(accounts, f)

	size := 0
	if enc == gzipped {
		h.eachPiece(encs, f, func(p *piece) { size += len(p.data) })
		size += len(gzipHeader) + len(livePiece.data) + len(deflateEnd) + gzipTrailerLen
		if trailer != nil {
			size += len(trailer.data)
		}
	} else {
		h.eachPiece(encs, f, func(p *piece) { size += p.size })
		size += len(live)
		if trailer != nil {
			size += trailer.size
		}
	}
	header := rsp.Header()
	header.Add("Vary", "Accept")
	header.Add("Vary", "Accept-Encoding")
	header.Set("Content-Type", string(contentType))
	if enc == gzipped {
		header.Set("Content-Encoding", "gzip")
	}
	header.Set("Content-Length", strconv.Itoa(size))

	// Many pieces are small (one account's samples of one family), and
	// net/http's own buffer would send each in a write of its own.
	bw := writers.Get().(*bufio.Writer)
	defer writers.Put(bw)
	bw.Reset(rsp)
	defer bw.Reset(nil)
	var err error
	if enc == gzipped {
		_, _ = bw.Write(gzipHeader)
		var crc uint32
		uncompressed := 0
		add := func(p *piece) {
			_, _ = bw.Write(p.data)
			crc = crcAppend(crc, p.crc, p.shift)
			uncompressed += p.size
		}
		h.eachPiece(encs, f, add)
		if len(live) > 0 {
			add(&livePiece)
		}
		if trailer != nil {
			add(trailer)
		}
		_, _ = bw.Write(deflateEnd)
		end := binary.LittleEndian.AppendUint32(make([]byte, 0, gzipTrailerLen), crc)
		// ISIZE is the length modulo 2^32.
		_, _ = bw.Write(binary.LittleEndian.AppendUint32(end, uint32(uncompressed)))
	} else {
		err = inflate(bw, func(yield func([]byte)) {
			h.eachPiece(encs, f, func(p *piece) { yield(p.data) })
		})
		_, _ = bw.Write(live)
		if trailer != nil {
			_ = inflate(bw, func(yield func([]byte)) { yield(trailer.data) })
		}
	}
	// A bufio.Writer keeps its first error and returns it from Flush.
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		h.logError("error encoding and sending metric family:", err)
		h.errors.WithLabelValues("encoding").Inc()
	}
}

// serveUncached passes a request to promhttp, one at a time: an uncached
// response holds every account's metrics in memory while it is built. A
// request waits for its turn until its context ends: the client went away,
// or the request's deadline passed (the exporter sets one from
// --web.write-timeout).
func (h *Handler) serveUncached(rsp http.ResponseWriter, req *http.Request, v *view, sc scope) {
	select {
	case h.uncached <- struct{}{}:
		defer func() { <-h.uncached }()
		switch {
		case sc.exporter:
			h.liveFallback.ServeHTTP(rsp, req)
		case sc.accountID != "":
			var states []*refresh.State
			for _, s := range v.states {
				if s.AccountID == sc.accountID {
					states = append(states, s)
				}
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(h.descs.collector(func() []*refresh.State { return states }))
			h.promhttp(reg).ServeHTTP(rsp, req)
		default:
			h.fallback.ServeHTTP(rsp, req)
		}
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

// encodeLive gathers and encodes the live families. It answers the request
// itself and returns false when there is nothing to serve, as promhttp
// does.
func (h *Handler) encodeLive(rsp http.ResponseWriter, contentType expfmt.Format, haveCached bool) ([]byte, bool) {
	mfs, err := h.live.Gather()
	if err != nil {
		h.logError("error gathering metrics:", err)
		h.errors.WithLabelValues("gathering").Inc()
		if len(mfs) == 0 && !haveCached {
			http.Error(rsp, "An error has occurred while serving metrics:\n\n"+err.Error(), http.StatusInternalServerError)
			return nil, false
		}
	}
	var buf bytes.Buffer
	e := expfmt.NewEncoder(&buf, contentType)
	for _, mf := range mfs {
		h.encode(e, &buf, mf)
	}
	return buf.Bytes(), true
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
