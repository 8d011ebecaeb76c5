package collector

import (
	"bytes"
	"hash/crc32"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/iam-credential-exporter/iam_credential_exporter/refresh"
)

// The cache holds each account's families encoded once, compressed, in each
// format a scrape has asked for, split by group: the facts are encoded when
// they change (a new report, name or tags), the health at every refresh. A
// response is assembled on each scrape from these pieces (see gzip.go):
// for all accounts, each family's header and then every account's piece of
// it; for one account, its pieces alone. An uncompressed response is
// decompressed from the same pieces as it is sent: Prometheus asks for
// gzip, and keeping plain bytes too would take several times the memory.

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

// piece is part of a response, compressed on its own (see gzip.go), with
// what the gzip trailer needs to know of it uncompressed. An empty piece
// stands for a family the account does not have.
type piece struct {
	data  []byte
	size  int // uncompressed
	crc   uint32
	shift uint32 // crcShift(size)
}

// newPiece compresses plain into a piece.
func newPiece(plain []byte) piece {
	var buf bytes.Buffer
	cachedDeflate.piece(&buf, plain)
	return piece{data: buf.Bytes(), size: len(plain), crc: crc32.ChecksumIEEE(plain), shift: crcShift(len(plain))}
}

// encoded is one group of one State in one format: a piece of samples per
// family of the group, in the group's order (familyIndex.local).
type encoded struct {
	pieces []piece
}

// familyIndex places the accounts' families: all of them sorted by name, as
// responses list them, and each family's place within its group.
type familyIndex struct {
	families []family
	local    []int // per family, its index among its group's families
	byName   map[string]int
	perGroup [numGroups]int
}

func newFamilyIndex(families []family) *familyIndex {
	x := &familyIndex{families: families, local: make([]int, len(families)), byName: map[string]int{}}
	for i, f := range families {
		x.local[i] = x.perGroup[f.group]
		x.perGroup[f.group]++
		x.byName[f.name] = i
	}
	return x
}

// view is what /metrics serves for one list of states. A new list gets a
// new view that keeps the encodings of the accounts whose State did not
// change, and the facts of those whose facts did not.
type view struct {
	states []*refresh.State
	// accounts are sorted by account ID, the order of samples in a family.
	accounts []*account
	// duplicate is set when two states share an account ID. The registry
	// reports their clashing series as an error; promhttp serves that case.
	duplicate bool
}

// account holds the encodings of one State.
type account struct {
	state  *refresh.State
	facts  *factsCache
	health lazies
}

// factsCache holds the encodings of an account's facts, shared by its
// successive States while the facts stay the same.
type factsCache struct {
	encodings lazies
}

// lazies are the encodings of a group in each format.
type lazies [numFormats]*lazy[*encoded]

func newLazies() (l lazies) {
	for f := range l {
		l[f] = &lazy[*encoded]{}
	}
	return l
}

// holds says whether l has an encoding in a format of drop.
func (l lazies) holds(drop formatSet) bool {
	for f := range l {
		if drop.has(format(f)) && l[f].ready() {
			return true
		}
	}
	return false
}

// without returns l with fresh encodings of the formats of drop, so that
// those built before can be collected.
func (l lazies) without(drop formatSet) lazies {
	for f := range l {
		if drop.has(format(f)) {
			l[f] = &lazy[*encoded]{}
		}
	}
	return l
}

// withoutFormats returns the account, or a copy of it without its
// encodings in the formats of drop when it has some.
func (a *account) withoutFormats(drop formatSet) *account {
	if !a.health.holds(drop) && !a.facts.encodings.holds(drop) {
		return a
	}
	return &account{state: a.state, facts: a.facts.withoutFormats(drop), health: a.health.without(drop)}
}

func (c *factsCache) withoutFormats(drop formatSet) *factsCache {
	if !c.encodings.holds(drop) {
		return c
	}
	return &factsCache{encodings: c.encodings.without(drop)}
}

func newAccount(s *refresh.State, facts *factsCache) *account {
	if facts == nil {
		facts = &factsCache{encodings: newLazies()}
	}
	return &account{state: s, facts: facts, health: newLazies()}
}

// formatSet is a set of formats, one bit each.
type formatSet uint32

func (s formatSet) has(f format) bool { return s&(1<<f) != 0 }

// sameFacts says whether two States of an account export the same facts:
// the same Report (a failed refresh keeps it), name and tags.
func sameFacts(a, b *refresh.State) bool {
	return a.AccountID == b.AccountID && a.Report == b.Report && a.AccountName == b.AccountName &&
		slices.Equal(a.AccountTags, b.AccountTags)
}

// get returns the account's encoding of group g in format f, encoding it on
// first use.
func (a *account) get(h *Handler, g group, f format) *encoded {
	l := a.health[f]
	if g == facts {
		l = a.facts.encodings[f]
	}
	return l.get(func() *encoded { return h.encodeGroup(a.state, g, f) })
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

// ready says whether the value has been built.
func (l *lazy[T]) ready() bool { return l.done.Load() }

// ready says whether the account is encoded in format f.
func (a *account) ready(f format) bool {
	return a.health[f].ready() && a.facts.encodings[f].ready()
}

// newView returns the view of states, reusing what old holds of them
// except their encodings in the formats of drop. It takes time linear in
// the number of accounts when states come sorted by account ID, as the
// scheduler publishes them.
func newView(states []*refresh.State, old *view, drop formatSet) *view {
	v := &view{states: slices.Clone(states), accounts: make([]*account, len(states))}
	sorted := slices.Clone(states)
	byID := func(a, b *refresh.State) int { return strings.Compare(a.AccountID, b.AccountID) }
	if !slices.IsSortedFunc(sorted, byID) {
		slices.SortStableFunc(sorted, byID)
	}
	var prev []*account
	if old != nil {
		prev = old.accounts
	}
	j := 0
	for i, s := range sorted {
		for j < len(prev) && prev[j].state.AccountID < s.AccountID {
			j++
		}
		var match *account
		// Several old accounts may share the ID (a duplicate); take the
		// first with the same State, else the first.
		for k := j; k < len(prev) && prev[k].state.AccountID == s.AccountID; k++ {
			if prev[k].state == s {
				match = prev[k]
				break
			}
			if match == nil {
				match = prev[k]
			}
		}
		switch {
		case match != nil && match.state == s:
			v.accounts[i] = match.withoutFormats(drop)
		case match != nil && sameFacts(match.state, s):
			v.accounts[i] = newAccount(s, match.facts.withoutFormats(drop))
		default:
			v.accounts[i] = newAccount(s, nil)
		}
		if i > 0 && sorted[i-1].AccountID == s.AccountID {
			v.duplicate = true
		}
	}
	return v
}

// find returns the account with the ID, or nil.
func (v *view) find(id string) *account {
	i, ok := slices.BinarySearchFunc(v.accounts, id, func(a *account, id string) int {
		return strings.Compare(a.state.AccountID, id)
	})
	if !ok {
		return nil
	}
	return v.accounts[i]
}

// encodeAll encodes every account of v in format f that is not encoded
// yet, a few at a time: many accounts that are new together (at start) are
// encoded in parallel without all being in memory twice.
func (h *Handler) encodeAll(v *view, f format) {
	var pending []*account
	for _, a := range v.accounts {
		if !a.ready(f) {
			pending = append(pending, a)
		}
	}
	if len(pending) == 1 {
		// A refresh: one account, no goroutines.
		pending[0].get(h, facts, f)
		pending[0].get(h, health, f)
		return
	}
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for _, a := range pending {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			for g := range numGroups {
				a.get(h, g, f)
			}
		})
	}
	wg.Wait()
}

// encodeGroup encodes one group of one State: each family's samples become
// a piece, and its header (HELP, TYPE) goes to the handler's headers, which
// are the same for every account.
func (h *Handler) encodeGroup(s *refresh.State, g group, f format) *encoded {
	if g == facts {
		h.encodings.Add(1)
	} else {
		h.healthEncodings.Add(1)
	}
	mfs := h.gather(s, g)
	var buf bytes.Buffer
	e := expfmt.NewEncoder(&buf, contentTypes[f])
	enc := &encoded{pieces: make([]piece, h.index.perGroup[g])}
	type span struct {
		local               int
		start, samples, end int
	}
	spans := make([]span, 0, len(mfs))
	for _, mf := range mfs {
		i, ok := h.index.byName[mf.GetName()]
		if !ok || h.index.families[i].group != g {
			continue // Describe lists every family; this cannot happen
		}
		start := buf.Len()
		if !h.encode(e, &buf, mf) {
			continue
		}
		samples := start + textHeaderLen(buf.Bytes()[start:])
		if h.headers[f][i].Load() == nil {
			p := newPiece(buf.Bytes()[start:samples])
			h.headers[f][i].CompareAndSwap(nil, &p)
		}
		spans = append(spans, span{h.index.local[i], start, samples, buf.Len()})
	}
	// Compress every family's samples into one buffer, then keep one copy
	// of its exact size.
	plain := buf.Bytes()
	var out bytes.Buffer
	ends := make([]int, len(spans))
	for k, sp := range spans {
		cachedDeflate.piece(&out, plain[sp.samples:sp.end])
		ends[k] = out.Len()
	}
	data := bytes.Clone(out.Bytes())
	from := 0
	for k, sp := range spans {
		samples := plain[sp.samples:sp.end]
		enc.pieces[sp.local] = piece{
			data:  data[from:ends[k]:ends[k]],
			size:  len(samples),
			crc:   crc32.ChecksumIEEE(samples),
			shift: crcShift(len(samples)),
		}
		from = ends[k]
	}
	return enc
}

// gather collects one group of one State through a registry, so that its
// families come sorted and checked exactly as promhttp would serve them.
func (h *Handler) gather(s *refresh.State, g group) []*dto.MetricFamily {
	reg := prometheus.NewRegistry()
	reg.MustRegister(h.descs.groupCollector(s, g))
	mfs, err := reg.Gather()
	if err != nil {
		// Logged once per State rather than on every scrape; what was
		// gathered is served, as with promhttp.ContinueOnError.
		h.logError("error gathering metrics:", err)
		h.errors.WithLabelValues("gathering").Inc()
	}
	return mfs
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

// encodingsOf returns the accounts' groups in format f, encoding those not
// encoded yet.
func (h *Handler) encodingsOf(accounts []*account, f format) [][numGroups]*encoded {
	encs := make([][numGroups]*encoded, len(accounts))
	for i, a := range accounts {
		for g := range numGroups {
			encs[i][g] = a.get(h, g, f)
		}
	}
	return encs
}

// eachPiece calls yield with the pieces of encs, the accounts' encodings in
// format f, in response order: per family, its header, then each account's
// samples.
func (h *Handler) eachPiece(encs [][numGroups]*encoded, f format, yield func(*piece)) {
	for i, fam := range h.index.families {
		local := h.index.local[i]
		headed := false
		for _, e := range encs {
			p := &e[fam.group].pieces[local]
			if len(p.data) == 0 {
				continue
			}
			if !headed {
				yield(h.headers[f][i].Load())
				headed = true
			}
			yield(p)
		}
	}
}
