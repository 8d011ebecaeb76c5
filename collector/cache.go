package collector

import (
	"bytes"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/refresh"
)

// The cache holds each account's metrics encoded once, compressed, one
// piece per family (see gzip.go). A response is assembled from these pieces
// on each scrape: for all accounts, each family's header and then every
// account's piece of it; for one account, its pieces alone. An uncompressed
// response is decompressed from the same pieces as it is sent: Prometheus
// asks for gzip, and keeping plain bytes too would take several times the
// memory.

// textFormat is the one format of the accounts' metrics, the text format
// 0.0.4: Prometheus 2 and 3 read it, and the accounts' families use nothing
// that only OpenMetrics or protobuf can say.
var textFormat = expfmt.NewFormat(expfmt.TypeTextPlain)

// account is one State and its samples, a piece per family of
// descs.families.
type account struct {
	state  *refresh.State
	pieces []piece
}

// view is what /metrics serves for one list of states.
type view struct {
	states []*refresh.State
	// accounts are sorted by account ID, the order of samples in a family,
	// one per ID.
	accounts []*account
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

// Update makes states the ones served, and encodes each account whose State
// is new, whatever changed in it. The scheduler calls it, one call at a
// time, from the goroutine that changed a State (a refresh, a discovery),
// so that a scrape never waits for an encoding. Many new States at once,
// as at the start, are encoded in parallel, a few at a time, so that they
// are not all in memory twice.
//
// Two States of one account ID would serve clashing series: the first of
// them in states is served, and each Update logs the others and counts them
// as gathering errors.
func (h *Handler) Update(states []*refresh.State) {
	old := h.view.Load()
	v := &view{states: slices.Clone(states)}
	sorted := slices.Clone(states)
	slices.SortStableFunc(sorted, func(a, b *refresh.State) int { return strings.Compare(a.AccountID, b.AccountID) })
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for _, s := range sorted {
		if n := len(v.accounts); n > 0 && v.accounts[n-1].state.AccountID == s.AccountID {
			h.fail("gathering", fmt.Errorf("two states of account %q: serving the first", s.AccountID))
			continue
		}
		a := old.find(s.AccountID)
		if a == nil || a.state != s {
			a = &account{state: s}
			sem <- struct{}{}
			wg.Go(func() {
				a.pieces = h.encode(s)
				<-sem
			})
		}
		v.accounts = append(v.accounts, a)
	}
	wg.Wait()
	h.view.Store(v)
}

// encode gathers one State's metrics through a registry, so that its
// families come sorted and checked as promhttp would serve them, and
// compresses each family's samples into a piece. A family's header (HELP
// and TYPE), the same for every account, is kept once.
func (h *Handler) encode(s *refresh.State) []piece {
	reg := prometheus.NewRegistry()
	reg.MustRegister(h.descs.collector(func() []*refresh.State { return []*refresh.State{s} }))
	mfs, err := reg.Gather()
	if err != nil {
		// Logged once per State rather than on every scrape; what was
		// gathered is served, as with promhttp.ContinueOnError.
		h.fail("gathering", err)
	}
	pieces := make([]piece, len(h.descs.families))
	var plain bytes.Buffer
	e := expfmt.NewEncoder(&plain, textFormat)
	for _, mf := range mfs {
		plain.Reset()
		i, ok := slices.BinarySearch(h.descs.families, mf.GetName())
		if !ok || !h.encodeFamily(e, &plain, mf) {
			continue // Describe lists every family, so !ok cannot happen
		}
		// The header is two lines, HELP and TYPE: every family has a help.
		header := bytes.IndexByte(plain.Bytes(), '\n') + 1
		header += bytes.IndexByte(plain.Bytes()[header:], '\n') + 1
		if h.headers[i].Load() == nil {
			p := cachedDeflate.piece(plain.Bytes()[:header])
			h.headers[i].CompareAndSwap(nil, &p)
		}
		pieces[i] = cachedDeflate.piece(plain.Bytes()[header:])
	}
	return pieces
}

// eachPiece calls yield with the pieces of accounts in response order: per
// family, its header, then each account's samples.
func (h *Handler) eachPiece(accounts []*account, yield func(*piece)) {
	for i := range h.descs.families {
		headed := false
		for _, a := range accounts {
			p := &a.pieces[i]
			if len(p.data) == 0 {
				continue
			}
			if !headed {
				yield(h.headers[i].Load())
				headed = true
			}
			yield(p)
		}
	}
}
