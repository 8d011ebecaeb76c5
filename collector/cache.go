package collector

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// HandlerOpts tunes the handler of NewHandler. The fields mean what they
// mean in promhttp.HandlerOpts.
type HandlerOpts struct {
	// ErrorLog receives gathering and encoding errors; nil drops them.
	ErrorLog promhttp.Logger
	// Registry, when not nil, gets promhttp_metric_handler_errors_total.
	Registry prometheus.Registerer
	// MaxRequestsInFlight bounds concurrent scrapes; more get a 503. 0 means
	// no bound.
	MaxRequestsInFlight int
}

// NewHandler returns the telemetry handler: the metrics of New(states),
// followed by those of live. It serves the same formats, encodings and
// samples as promhttp.HandlerFor over both (OpenMetrics enabled,
// ContinueOnError), but the account metrics of a report with thousands of
// users are too many to gather and encode on every scrape, while they change
// only when an account's State does. So they are encoded once per State and
// per format and encoding that a scrape asks for, and each scrape only copies
// those bytes and encodes the few families of live, which must stay live
// (Go runtime, process, request counters) and must not share a name with New.
//
// Requests that filter by name[] or ask for protobuf text formats are passed
// to promhttp unchanged: they are for people, not for Prometheus.
func NewHandler(states States, live prometheus.Gatherer, opts HandlerOpts) http.Handler {
	accounts := prometheus.NewRegistry()
	accounts.MustRegister(New(states))
	// The fallback is built first: it registers the errors counter, which is
	// then shared, as two promhttp handlers on one registry would share it.
	fallback := promhttp.HandlerFor(prometheus.Gatherers{accounts, live}, promhttp.HandlerOpts{
		ErrorLog:          opts.ErrorLog,
		ErrorHandling:     promhttp.ContinueOnError,
		Registry:          opts.Registry,
		EnableOpenMetrics: true,
	})
	h := &handler{
		states:   states,
		live:     live,
		errorLog: opts.ErrorLog,
		fallback: fallback,
		errors:   errorsCounter(opts.Registry),
	}
	if opts.MaxRequestsInFlight > 0 {
		h.inFlight = make(chan struct{}, opts.MaxRequestsInFlight)
		h.maxInFlight = opts.MaxRequestsInFlight
	}
	return h
}

// errorsCounter returns the counter promhttp registers under the same name.
func errorsCounter(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "promhttp_metric_handler_errors_total",
		Help: "Total number of internal errors encountered by the promhttp metric handler.",
	}, []string{"cause"})
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		if are := (prometheus.AlreadyRegisteredError{}); errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}

// format is an exposition format whose account bytes are cached.
type format uint8

const (
	fmtText format = iota
	fmtOpenMetrics
	fmtProto
	numFormats
)

// encoding is a content encoding whose account bytes are cached.
type encoding uint8

const (
	identity encoding = iota
	gzipped
	numEncodings
)

// Compression levels (see gzip.go): cached bytes are compressed once and
// sent on every scrape, so they get the smaller output. The live part, a few
// kilobytes, is stored as is: even the fastest compression of it costs more
// per scrape than sending the bytes it would save.
var (
	cachedDeflate = &deflater{level: flate.DefaultCompression}
	liveDeflate   = &deflater{level: flate.NoCompression}
	buffers       = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	writers       = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 64<<10) }}
)

type handler struct {
	states      States
	live        prometheus.Gatherer
	errorLog    promhttp.Logger
	fallback    http.Handler
	errors      *prometheus.CounterVec
	inFlight    chan struct{}
	maxInFlight int

	// mu makes one scrape at a time build a view, so that views are stored
	// in the order their states were read, never older after newer.
	mu   sync.Mutex
	view atomic.Pointer[view]

	// encodings counts account encodings, so that tests can check that
	// concurrent scrapes encode a State once.
	encodings atomic.Int64
}

// view is the cache for one list of states. Scrapes that see the same list
// share it; a changed list gets a new view that keeps the encodings of the
// accounts whose State did not change.
type view struct {
	// states is the list as States returned it: what a scrape compares.
	states []*report.State
	// accounts are sorted by account ID, the order of samples in a family.
	accounts []*account
	// duplicate is set when two states share an account ID. The registry
	// reports their clashing series as an error; promhttp serves that case.
	duplicate bool
	outputs   [numFormats][numEncodings]lazy[*output]
}

// account holds the encodings of one State, built when first asked for.
type account struct {
	state     *report.State
	encodings [numFormats][numEncodings]lazy[*accountBytes]
}

// accountBytes is one State's families in one format and encoding.
type accountBytes struct {
	families []familyBytes // sorted by name
}

// familyBytes is one family of one account: its samples alone, so that the
// samples of every account can follow one header.
type familyBytes struct {
	name string
	// header is the family's HELP and TYPE lines (in protobuf, its name,
	// help and type fields), uncompressed.
	header []byte
	// samples is in the encoding of the accountBytes: plain, or a deflate
	// piece. size is its length uncompressed, which protobuf's length
	// prefix counts; crc and shift are for the gzip trailer.
	samples []byte
	size    int
	crc     uint32
	shift   uint32
}

// chunk is part of a response: the bytes to send and, when they are
// compressed, what the gzip trailer needs to know of them uncompressed.
type chunk struct {
	parts [][]byte
	wire  int // bytes sent
	size  int // bytes uncompressed
	crc   uint32
	shift uint32 // crcShift(size)
}

func (c *chunk) add(b []byte) {
	c.parts = append(c.parts, b)
	c.wire += len(b)
}

// output is the cached part of a response in one format and encoding.
type output struct {
	families []outputFamily // sorted by name
	// trailer is OpenMetrics' "# EOF" line; nil in other formats.
	trailer *chunk
}

// outputFamily is one family's header followed by every account's samples.
type outputFamily struct {
	name string
	chunk
}

// lazy builds a value once, however many goroutines ask for it at once:
// the others wait for the one build.
type lazy[T any] struct {
	once sync.Once
	done atomic.Bool
	v    T
}

func (l *lazy[T]) get(build func() T) T {
	l.once.Do(func() {
		l.v = build()
		l.done.Store(true)
	})
	return l.v
}

// peek returns the value if it has been built, without waiting.
func (l *lazy[T]) peek() (T, bool) {
	if l.done.Load() {
		return l.v, true
	}
	var zero T
	return zero, false
}

func (h *handler) ServeHTTP(rsp http.ResponseWriter, req *http.Request) {
	if h.inFlight != nil {
		select {
		case h.inFlight <- struct{}{}:
			defer func() { <-h.inFlight }()
		default:
			http.Error(rsp, fmt.Sprintf("Limit of concurrent requests reached (%d), try again later.", h.maxInFlight),
				http.StatusServiceUnavailable)
			return
		}
	}
	contentType := expfmt.NegotiateAccept(req.Header, expfmt.DefaultOpenMetricsAcceptedFormats()...)
	f, cacheable := cachedFormat(contentType)
	if !cacheable || (req.URL != nil && req.URL.Query().Has("name[]")) {
		h.fallback.ServeHTTP(rsp, req)
		return
	}
	v := h.currentView()
	if v.duplicate {
		h.fallback.ServeHTTP(rsp, req)
		return
	}
	enc := identity
	if acceptsGzip(req.Header) {
		enc = gzipped
	}
	out := v.outputs[f][enc].get(func() *output { return h.buildOutput(v, f, enc, contentType) })

	live := buffers.Get().(*bytes.Buffer)
	defer putBuffer(live)
	runs, ok := h.encodeLive(rsp, live, out, contentType, enc)
	if !ok {
		return
	}

	header := rsp.Header()
	header.Add("Vary", "Accept")
	header.Add("Vary", "Accept-Encoding")
	header.Set("Content-Type", string(contentType))
	if enc == gzipped {
		header.Set("Content-Encoding", "gzip")
	}
	size := 0
	if enc == gzipped {
		size = len(gzipHeader) + len(deflateEnd) + gzipTrailerLen
	}
	eachChunk(out, runs, func(c *chunk) { size += c.wire })
	header.Set("Content-Length", strconv.Itoa(size))

	// Many parts are small (one account's samples of one family), and
	// net/http's own buffer would send each in a write of its own.
	bw := writers.Get().(*bufio.Writer)
	bw.Reset(rsp)
	if enc == gzipped {
		_, _ = bw.Write(gzipHeader)
	}
	var crc uint32
	uncompressed := 0
	eachChunk(out, runs, func(c *chunk) {
		for _, p := range c.parts {
			_, _ = bw.Write(p)
		}
		if enc == gzipped {
			crc = crcAppend(crc, c.crc, c.shift)
			uncompressed += c.size
		}
	})
	if enc == gzipped {
		_, _ = bw.Write(deflateEnd)
		trailer := binary.LittleEndian.AppendUint32(make([]byte, 0, gzipTrailerLen), crc)
		// ISIZE is the length modulo 2^32.
		_, _ = bw.Write(binary.LittleEndian.AppendUint32(trailer, uint32(uncompressed)))
	}
	// A bufio.Writer keeps its first error and returns it from Flush.
	werr := bw.Flush()
	bw.Reset(nil)
	writers.Put(bw)
	if werr != nil {
		h.logError("error encoding and sending metric family:", werr)
		h.errors.WithLabelValues("encoding").Inc()
	}
}

// gzipTrailerLen is the CRC-32 and the length that end a gzip member.
const gzipTrailerLen = 8

// cachedFormat says which cached format serves a negotiated content type.
// OpenMetrics 0.0.1 and 1.0.0 are written alike, and escaping leaves the
// names of New alone, as they are all valid legacy names.
func cachedFormat(f expfmt.Format) (format, bool) {
	switch f.FormatType() {
	case expfmt.TypeTextPlain:
		return fmtText, true
	case expfmt.TypeProtoDelim:
		return fmtProto, true
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

// currentView returns the view of the current states, making it if they
// changed.
func (h *handler) currentView() *view {
	states := h.states()
	if v := h.view.Load(); v != nil && v.holds(states) {
		return v
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	// Read again under the lock: the states are at least as new as those of
	// the stored view, so a slow scrape cannot bring back an older view and
	// make every changed account encode twice.
	states = h.states()
	old := h.view.Load()
	if old != nil && old.holds(states) {
		return old
	}
	v := newView(states, old)
	h.view.Store(v)
	return v
}

func (v *view) holds(states []*report.State) bool {
	return slices.Equal(v.states, states)
}

func newView(states []*report.State, old *view) *view {
	kept := map[*report.State]*account{}
	if old != nil {
		for _, a := range old.accounts {
			kept[a.state] = a
		}
	}
	v := &view{states: slices.Clone(states), accounts: make([]*account, len(states))}
	for i, s := range states {
		if a := kept[s]; a != nil {
			v.accounts[i] = a
		} else {
			v.accounts[i] = &account{state: s}
		}
	}
	slices.SortStableFunc(v.accounts, func(a, b *account) int {
		return strings.Compare(a.state.AccountID, b.state.AccountID)
	})
	for i := 1; i < len(v.accounts); i++ {
		if v.accounts[i].state.AccountID == v.accounts[i-1].state.AccountID {
			v.duplicate = true
		}
	}
	return v
}

// buildOutput joins the accounts' encodings into the cached part of a
// response: per family, one header, then the samples of each account.
func (h *handler) buildOutput(v *view, f format, enc encoding, contentType expfmt.Format) *output {
	encoded := make([]*accountBytes, len(v.accounts))
	// A few accounts at a time: a new exporter over many accounts answers
	// its first scrape sooner, without holding the metrics of every account
	// in memory at once.
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, a := range v.accounts {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			encoded[i] = a.encodings[f][enc].get(func() *accountBytes {
				return h.encodeAccount(a, f, enc, contentType)
			})
		})
	}
	wg.Wait()

	// Accounts are in the order of their samples; each family gets its
	// header from the first account that has samples of it.
	out := &output{}
	index := map[string]int{}
	for _, ab := range encoded {
		for _, fb := range ab.families {
			i, ok := index[fb.name]
			if !ok {
				i = len(out.families)
				index[fb.name] = i
				out.families = append(out.families, outputFamily{name: fb.name, chunk: chunk{parts: [][]byte{fb.header}}})
			}
			of := &out.families[i]
			of.parts = append(of.parts, fb.samples)
			of.size += fb.size
		}
	}
	slices.SortFunc(out.families, func(a, b outputFamily) int { return strings.Compare(a.name, b.name) })
	for i := range out.families {
		of := &out.families[i]
		preamble := of.parts[0]
		if f == fmtProto {
			// Each account's samples are a run of the family message's
			// repeated metric field, so the message is the header followed
			// by every run, behind one length prefix.
			preamble = binary.AppendUvarint(nil, uint64(len(preamble)+of.size))
			preamble = append(preamble, of.parts[0]...)
		}
		c := newChunk(preamble, enc)
		for _, ab := range encoded {
			if fb := ab.family(of.name); fb != nil {
				c.add(fb.samples)
				if enc == gzipped {
					c.crc = crcAppend(c.crc, fb.crc, fb.shift)
				}
				c.size += fb.size
			}
		}
		if enc == gzipped {
			c.shift = crcShift(c.size)
		}
		of.chunk = c
	}
	if f == fmtOpenMetrics {
		var eof bytes.Buffer
		if err := expfmt.NewEncoder(&eof, contentType).(expfmt.Closer).Close(); err != nil {
			panic(err) // a bytes.Buffer does not fail
		}
		c := newChunk(eof.Bytes(), enc)
		if enc == gzipped {
			c.shift = crcShift(c.size)
		}
		out.trailer = &c
	}
	return out
}

// newChunk starts a chunk with plain bytes, compressed for gzip.
func newChunk(plain []byte, enc encoding) chunk {
	c := chunk{size: len(plain)}
	if enc == gzipped {
		c.crc = crc32.ChecksumIEEE(plain)
		var buf bytes.Buffer
		cachedDeflate.piece(&buf, plain)
		plain = buf.Bytes()
	}
	c.add(plain)
	return c
}

// family returns the account's bytes of the named family, or nil.
func (ab *accountBytes) family(name string) *familyBytes {
	i, ok := slices.BinarySearchFunc(ab.families, name, func(fb familyBytes, name string) int {
		return strings.Compare(fb.name, name)
	})
	if !ok {
		return nil
	}
	return &ab.families[i]
}

// encodeAccount encodes the families of one State.
func (h *handler) encodeAccount(a *account, f format, enc encoding, contentType expfmt.Format) *accountBytes {
	h.encodings.Add(1)
	if enc == gzipped {
		if plain, ok := a.encodings[f][identity].peek(); ok {
			return compressAccount(plain)
		}
	}
	plain := h.encodeFamilies(h.gatherAccount(a.state), f, contentType)
	if enc == gzipped {
		// Only what was asked for is kept: Prometheus asks for gzip, and
		// the plain bytes would take several times as much memory.
		return compressAccount(plain)
	}
	return plain
}

// gatherAccount collects one State through a registry, so that its families
// come sorted and checked exactly as promhttp would serve them.
func (h *handler) gatherAccount(s *report.State) []*dto.MetricFamily {
	reg := prometheus.NewRegistry()
	reg.MustRegister(New(func() []*report.State { return []*report.State{s} }))
	mfs, err := reg.Gather()
	if err != nil {
		// Logged once per State rather than on every scrape; what was
		// gathered is served, as with promhttp.ContinueOnError.
		h.logError("error gathering metrics:", err)
		h.errors.WithLabelValues("gathering").Inc()
	}
	return mfs
}

// encodeFamilies encodes each family with expfmt and splits off its header,
// keeping the result in one allocation of the exact size.
func (h *handler) encodeFamilies(mfs []*dto.MetricFamily, f format, contentType expfmt.Format) *accountBytes {
	type span struct{ start, samples, end int }
	var (
		buf     bytes.Buffer
		scratch bytes.Buffer
		spans   = make([]span, 0, len(mfs))
		names   = make([]string, 0, len(mfs))
		e       = expfmt.NewEncoder(&buf, contentType)
	)
	for _, mf := range mfs {
		start := buf.Len()
		err := e.Encode(mf)
		headerStart, headerLen := 0, 0
		if err == nil {
			encoded := buf.Bytes()[start:]
			if f == fmtProto {
				headerStart, headerLen, err = protoHeader(&scratch, encoded, mf, contentType)
			} else {
				headerLen = textHeaderLen(encoded)
			}
		}
		if err != nil {
			h.logError("error encoding and sending metric family:", err)
			h.errors.WithLabelValues("encoding").Inc()
			buf.Truncate(start)
			continue
		}
		spans = append(spans, span{start + headerStart, start + headerStart + headerLen, buf.Len()})
		names = append(names, mf.GetName())
	}
	data := bytes.Clone(buf.Bytes())
	ab := &accountBytes{families: make([]familyBytes, len(spans))}
	for i, s := range spans {
		ab.families[i] = familyBytes{
			name:    names[i],
			header:  data[s.start:s.samples:s.samples],
			samples: data[s.samples:s.end:s.end],
			size:    s.end - s.samples,
		}
	}
	return ab
}

// textHeaderLen is the length of the comment lines (HELP, TYPE, UNIT) that
// open a family in the text formats; a sample line never starts with '#'.
func textHeaderLen(b []byte) int {
	n := 0
	for n < len(b) && b[n] == '#' {
		i := bytes.IndexByte(b[n:], '\n')
		if i < 0 {
			return len(b)
		}
		n += i + 1
	}
	return n
}

// protoHeader locates, in a length-delimited MetricFamily, the fields that
// precede the metrics. It encodes the family without metrics and checks that
// the full message starts with the same bytes, which holds as long as every
// field other than the metrics has a lower field number (no unit).
func protoHeader(scratch *bytes.Buffer, encoded []byte, mf *dto.MetricFamily, contentType expfmt.Format) (start, n int, err error) {
	scratch.Reset()
	head := &dto.MetricFamily{Name: mf.Name, Help: mf.Help, Type: mf.Type, Unit: mf.Unit}
	if err := expfmt.NewEncoder(scratch, contentType).Encode(head); err != nil {
		return 0, 0, err
	}
	_, headPrefix := binary.Uvarint(scratch.Bytes())
	_, prefix := binary.Uvarint(encoded)
	if headPrefix <= 0 || prefix <= 0 || !bytes.HasPrefix(encoded[prefix:], scratch.Bytes()[headPrefix:]) {
		return 0, 0, fmt.Errorf("metric family %s: cannot split its protobuf header from its metrics", mf.GetName())
	}
	return prefix, scratch.Len() - headPrefix, nil
}

// compressAccount compresses each family's samples on its own, into a piece
// that can follow any other in a gzip stream (see gzip.go).
func compressAccount(plain *accountBytes) *accountBytes {
	type span struct{ header, samples, end int }
	var buf bytes.Buffer
	spans := make([]span, len(plain.families))
	for i, fb := range plain.families {
		spans[i].header = buf.Len()
		buf.Write(fb.header)
		spans[i].samples = buf.Len()
		cachedDeflate.piece(&buf, fb.samples)
		spans[i].end = buf.Len()
	}
	// One copy of the exact size, which also lets the plain bytes go.
	data := bytes.Clone(buf.Bytes())
	ab := &accountBytes{families: make([]familyBytes, len(spans))}
	for i, s := range spans {
		ab.families[i] = familyBytes{
			name:    plain.families[i].name,
			header:  data[s.header:s.samples:s.samples],
			samples: data[s.samples:s.end:s.end],
			size:    plain.families[i].size,
			crc:     crc32.ChecksumIEEE(plain.families[i].samples),
			shift:   crcShift(plain.families[i].size),
		}
	}
	return ab
}

// liveRun is consecutive live families that go before cached family at.
type liveRun struct {
	at int
	chunk
}

// encodeLive gathers and encodes live's families into buf, in runs between
// the cached families that keep the whole response sorted by name as
// promhttp sorts it. It answers the request itself and returns false when
// there is nothing to serve.
func (h *handler) encodeLive(rsp http.ResponseWriter, buf *bytes.Buffer, out *output, contentType expfmt.Format, enc encoding) ([]liveRun, bool) {
	mfs, err := h.live.Gather()
	if err != nil {
		h.logError("error gathering metrics:", err)
		h.errors.WithLabelValues("gathering").Inc()
		if len(mfs) == 0 && len(out.families) == 0 {
			httpError(rsp, err)
			return nil, false
		}
	}
	slices.SortFunc(mfs, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })

	type span struct{ at, start, end int }
	var spans []span
	e := expfmt.NewEncoder(buf, contentType)
	for _, mf := range mfs {
		at, cached := slices.BinarySearchFunc(out.families, mf.GetName(), func(of outputFamily, name string) int {
			return strings.Compare(of.name, name)
		})
		if cached {
			h.logError("error gathering metrics:", fmt.Errorf("metric family %s is both cached and live", mf.GetName()))
			h.errors.WithLabelValues("gathering").Inc()
			continue
		}
		start := buf.Len()
		if err := e.Encode(mf); err != nil {
			h.logError("error encoding and sending metric family:", err)
			h.errors.WithLabelValues("encoding").Inc()
			buf.Truncate(start)
			continue
		}
		if n := len(spans); n > 0 && spans[n-1].at == at {
			spans[n-1].end = buf.Len()
		} else {
			spans = append(spans, span{at, start, buf.Len()})
		}
	}
	runs := make([]liveRun, len(spans))
	for i, s := range spans {
		runs[i].at = s.at
		runs[i].size = s.end - s.start
		if enc == gzipped {
			// Appended to the same buffer, which may move: the plain run is
			// read from the slice taken before, the piece found by offset.
			plain := buf.Bytes()[s.start:s.end]
			runs[i].crc = crc32.ChecksumIEEE(plain)
			runs[i].shift = crcShift(len(plain))
			start := buf.Len()
			liveDeflate.piece(buf, plain)
			spans[i].start, spans[i].end = start, buf.Len()
		}
	}
	for i, s := range spans {
		runs[i].add(buf.Bytes()[s.start:s.end])
	}
	return runs, true
}

// eachChunk passes the chunks of a response in the order they are sent.
func eachChunk(out *output, runs []liveRun, visit func(*chunk)) {
	r := 0
	for i := range out.families {
		for ; r < len(runs) && runs[r].at == i; r++ {
			visit(&runs[r].chunk)
		}
		visit(&out.families[i].chunk)
	}
	for ; r < len(runs); r++ {
		visit(&runs[r].chunk)
	}
	if out.trailer != nil {
		visit(out.trailer)
	}
}

// httpError answers as promhttp does when nothing could be gathered.
func httpError(rsp http.ResponseWriter, err error) {
	http.Error(rsp, "An error has occurred while serving metrics:\n\n"+err.Error(), http.StatusInternalServerError)
}

func (h *handler) logError(msg string, err error) {
	if h.errorLog != nil {
		h.errorLog.Println(msg, err)
	}
}

func putBuffer(b *bytes.Buffer) {
	// A buffer that once held an unusually large live part is not kept.
	if b.Cap() > 1<<20 {
		return
	}
	b.Reset()
	buffers.Put(b)
}
