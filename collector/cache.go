package collector

import (
	"bytes"
	"hash/crc32"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/iam-credential-exporter/iam_credential_exporter/refresh"
)

// format is an exposition format whose account bytes are cached.
type format uint8

const (
	fmtText format = iota
	fmtOpenMetrics
	numFormats
)

// contentTypes are what the cached formats are encoded as. The bytes of the
// accounts' metrics are the same in every version and escaping that
// cachedFormat maps to the format.
var contentTypes = [numFormats]expfmt.Format{
	fmtText:        expfmt.NewFormat(expfmt.TypeTextPlain),
	fmtOpenMetrics: expfmt.NewFormat(expfmt.TypeOpenMetrics),
}

// encoding is a content encoding whose account bytes are cached.
type encoding uint8

const (
	identity encoding = iota
	gzipped
	numEncodings
)

// view is the cache for one list of states. A new list gets a new view that
// keeps the encodings of the accounts whose State did not change.
type view struct {
	states []*refresh.State
	// accounts are sorted by account ID, the order of samples in a family.
	accounts []*account
	// duplicate is set when two states share an account ID. The registry
	// reports their clashing series as an error; promhttp serves that case.
	duplicate bool
	outputs   [numFormats][numEncodings]lazy[*output]
}

// account holds the encodings of one State.
type account struct {
	state     *refresh.State
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
	// header is the family's HELP and TYPE lines, uncompressed.
	header []byte
	// samples is in the encoding of the accountBytes: plain, or a deflate
	// piece. size is its length uncompressed; crc and shift are for the
	// gzip trailer.
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
	// trailer is OpenMetrics' "# EOF" line; nil in the text format.
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
	v    T
}

func (l *lazy[T]) get(build func() T) T {
	l.once.Do(func() { l.v = build() })
	return l.v
}

func newView(states []*refresh.State, old *view) *view {
	kept := map[*refresh.State]*account{}
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

// output returns the cached part of a response, building it on first use.
func (h *Handler) output(v *view, f format, enc encoding) *output {
	return v.outputs[f][enc].get(func() *output { return h.buildOutput(v, f, enc) })
}

// buildOutput joins the accounts' encodings into the cached part of a
// response: per family, one header, then the samples of each account.
func (h *Handler) buildOutput(v *view, f format, enc encoding) *output {
	encoded := make([]*accountBytes, len(v.accounts))
	// A few accounts at a time: many accounts that are new together (at
	// start) are encoded in parallel without all being in memory twice.
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, a := range v.accounts {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			encoded[i] = a.encodings[f][enc].get(func() *accountBytes { return h.encodeAccount(a.state, f, enc) })
		})
	}
	wg.Wait()

	// Each family gets its header from the first account that has it.
	out := &output{}
	index := map[string]int{}
	for _, ab := range encoded {
		for _, fb := range ab.families {
			i, ok := index[fb.name]
			if !ok {
				i = len(out.families)
				index[fb.name] = i
				out.families = append(out.families, outputFamily{name: fb.name, chunk: newChunk(fb.header, enc)})
			}
			c := &out.families[i].chunk
			c.add(fb.samples)
			if enc == gzipped {
				c.crc = crcAppend(c.crc, fb.crc, fb.shift)
			}
			c.size += fb.size
		}
	}
	slices.SortFunc(out.families, func(a, b outputFamily) int { return strings.Compare(a.name, b.name) })
	if enc == gzipped {
		for i := range out.families {
			out.families[i].shift = crcShift(out.families[i].size)
		}
	}
	if f == fmtOpenMetrics {
		var eof bytes.Buffer
		if err := expfmt.NewEncoder(&eof, contentTypes[f]).(expfmt.Closer).Close(); err != nil {
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

// encodeAccount encodes the families of one State. Only what was asked for
// is kept: Prometheus asks for gzip, and the plain bytes would take several
// times as much memory.
func (h *Handler) encodeAccount(s *refresh.State, f format, enc encoding) *accountBytes {
	h.encodings.Add(1)
	plain := h.encodeFamilies(h.gatherAccount(s), f)
	if enc == gzipped {
		return compressAccount(plain)
	}
	return plain
}

// gatherAccount collects one State through a registry, so that its families
// come sorted and checked exactly as promhttp would serve them.
func (h *Handler) gatherAccount(s *refresh.State) []*dto.MetricFamily {
	reg := prometheus.NewRegistry()
	reg.MustRegister(h.descs.collector(func() []*refresh.State { return []*refresh.State{s} }))
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
func (h *Handler) encodeFamilies(mfs []*dto.MetricFamily, f format) *accountBytes {
	type span struct{ start, samples, end int }
	var (
		buf   bytes.Buffer
		spans = make([]span, 0, len(mfs))
		names = make([]string, 0, len(mfs))
		e     = expfmt.NewEncoder(&buf, contentTypes[f])
	)
	for _, mf := range mfs {
		start := buf.Len()
		if !h.encode(e, &buf, mf) {
			continue
		}
		spans = append(spans, span{start, start + textHeaderLen(buf.Bytes()[start:]), buf.Len()})
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
