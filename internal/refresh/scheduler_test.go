package refresh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// The scheduler tests run in a synctest bubble: the clock is fake and
// advances only when every goroutine waits, so hours of refreshes take
// microseconds and "after 4 minutes" means exactly that.

// fakeAccount is an in-memory Source for one account. Each Fetch takes took
// on the bubble's clock (or, with hang, lasts until its context ends) and
// then fails with err, or returns a one-user report.
type fakeAccount struct {
	id   string
	took time.Duration
	err  error
	hang bool
	load *load // may be nil

	mu      sync.Mutex
	started []time.Time // when each Fetch began
}

func (a *fakeAccount) Fetch(ctx context.Context) (*report.Report, error) {
	a.mu.Lock()
	a.started = append(a.started, time.Now())
	a.mu.Unlock()
	if a.load != nil {
		a.load.enter()
		defer a.load.leave()
	}
	if a.hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	select {
	case <-time.After(a.took):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if a.err != nil {
		return nil, a.err
	}
	return &report.Report{AccountID: a.id, Users: make([]report.User, 1)}, nil
}

func (a *fakeAccount) fetches() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.started)
}

// load counts the fetches running at once across accounts.
type load struct {
	mu           sync.Mutex
	active, peak int
}

func (l *load) enter() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.active++
	l.peak = max(l.peak, l.active)
}

func (l *load) leave() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.active--
}

func (l *load) get() (active, peak int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.active, l.peak
}

func target(a *fakeAccount, name, key string) Target {
	return Target{AccountID: a.id, Name: name, Source: a, Key: key}
}

// stateOf returns the state of one account from a list, or nil.
func stateOf(states []*State, id string) *State {
	for _, s := range states {
		if s.AccountID == id {
			return s
		}
	}
	return nil
}

// At most concurrency refreshes run at once, and no slot idles while an
// account waits: a failing account and one that hangs until the timeout
// hold up nobody beyond their own slot.
func TestSchedulerBoundsConcurrencyAndIsolatesFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			took    = time.Minute
			timeout = 10 * time.Minute
			failing = 3
			hanging = 7
		)
		var l load
		accounts := make([]*fakeAccount, 12)
		var targets []Target
		for i := range accounts {
			accounts[i] = &fakeAccount{id: fmt.Sprintf("%012d", i), took: took, load: &l}
			switch i {
			case failing:
				accounts[i].err = errors.New("access denied")
			case hanging:
				accounts[i].hang = true
			}
			targets = append(targets, target(accounts[i], "", "k"))
		}
		s := NewScheduler(time.Hour, timeout, 4, slog.New(slog.DiscardHandler), nil)
		ctx, cancel := context.WithCancel(t.Context())
		defer func() { cancel(); s.Wait() }()
		s.Sync(ctx, targets)

		synctest.Wait()
		if active, _ := l.get(); active != 4 {
			t.Errorf("%d refreshes running, want the limit 4", active)
		}
		// The hanging account holds one slot; the 11 others share the three
		// left, a minute each: all done within 4 minutes.
		time.Sleep(4 * took)
		synctest.Wait()
		if _, peak := l.get(); peak != 4 {
			t.Errorf("peak concurrent refreshes = %d, want 4", peak)
		}
		states := s.States()
		if len(states) != 12 {
			t.Fatalf("%d states, want 12", len(states))
		}
		for i, st := range states {
			if want := fmt.Sprintf("%012d", i); st.AccountID != want {
				t.Errorf("states[%d] = %s, want sorted by account (%s)", i, st.AccountID, want)
			}
			switch i {
			case failing:
				if st.LastErr == nil || st.Report != nil || st.Failures != 1 {
					t.Errorf("failing account %s: LastErr %v, report loaded %v, failures %d", st.AccountID, st.LastErr, st.Report != nil, st.Failures)
				}
			case hanging:
				if st.Refreshes != 0 {
					t.Errorf("hanging account %s: %d refreshes before its timeout", st.AccountID, st.Refreshes)
				}
			default:
				if st.Refreshes != 1 || st.LastErr != nil || st.Report == nil {
					t.Errorf("account %s after %v: refreshes %d, LastErr %v, report loaded %v; want refreshed despite the failing and hanging accounts",
						st.AccountID, 4*took, st.Refreshes, st.LastErr, st.Report != nil)
				}
			}
		}

		time.Sleep(timeout)
		synctest.Wait()
		if st := s.States()[hanging]; !errors.Is(st.LastErr, context.DeadlineExceeded) || st.Failures != 1 || st.LastDuration != timeout {
			t.Errorf("hanging account after its timeout: LastErr %v, failures %d, duration %v; want one deadline failure after %v",
				st.LastErr, st.Failures, st.LastDuration, timeout)
		}
	})
}

// Each account refreshes about every interval, jittered by ±10% so that
// accounts added together spread out instead of calling AWS in bursts.
func TestSchedulerRefreshesEveryInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 30 * time.Minute
		accounts := make([]*fakeAccount, 20)
		var targets []Target
		for i := range accounts {
			accounts[i] = &fakeAccount{id: fmt.Sprintf("%012d", i)}
			targets = append(targets, target(accounts[i], "", "k"))
		}
		s := NewScheduler(interval, time.Minute, len(accounts), slog.New(slog.DiscardHandler), nil)
		ctx, cancel := context.WithCancel(t.Context())
		defer func() { cancel(); s.Wait() }()
		start := time.Now()
		s.Sync(ctx, targets)

		time.Sleep(time.Hour)
		synctest.Wait()
		for _, st := range s.States() {
			if st.Refreshes < 2 || st.Refreshes > 3 {
				t.Errorf("account %s refreshed %d times in an hour, want 2 or 3 at a 30m interval", st.AccountID, st.Refreshes)
			}
		}

		time.Sleep(9 * time.Hour)
		synctest.Wait()
		lo, hi := interval-interval/10, interval+interval/10
		gaps := map[time.Duration]bool{}
		lasts := map[time.Time]bool{}
		for _, a := range accounts {
			fetches := a.fetches()
			if len(fetches) == 0 || !fetches[0].Equal(start) {
				t.Errorf("account %s: first refresh at %v, want at once", a.id, fetches)
				continue
			}
			for i := 1; i < len(fetches); i++ {
				gap := fetches[i].Sub(fetches[i-1])
				if gap < lo || gap > hi {
					t.Errorf("account %s: refresh %d came %v after the previous, want within [%v, %v]", a.id, i, gap, lo, hi)
				}
				gaps[gap] = true
			}
			last := fetches[len(fetches)-1]
			lasts[last] = true
			if st := stateOf(s.States(), a.id); !st.LastSuccess.Equal(last) {
				t.Errorf("account %s: last success %v, want its last refresh %v", a.id, st.LastSuccess, last)
			}
		}
		if len(gaps) < 2 || len(lasts) < 2 {
			t.Errorf("%d distinct gaps and %d distinct last refresh times over 20 accounts, want jitter to spread them", len(gaps), len(lasts))
		}
	})
}

// publish sees every change, one call at a time, in order: the states after
// each Sync and after each refresh, never an account's older state after a
// newer one, and never an account after the Sync that removed it.
func TestSchedulerPublishes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var (
			mu       sync.Mutex
			record   [][]*State
			inFlight atomic.Int32
			overlap  atomic.Bool
		)
		publish := func(states []*State) {
			if inFlight.Add(1) > 1 {
				overlap.Store(true)
			}
			runtime.Gosched() // give an overlapping call its chance
			mu.Lock()
			record = append(record, states)
			mu.Unlock()
			inFlight.Add(-1)
		}
		published := func() [][]*State {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(record)
		}

		// Refreshes of different lengths, and one account that always
		// fails, so that completions interleave.
		accounts := make([]*fakeAccount, 6)
		var targets []Target
		for i := range accounts {
			accounts[i] = &fakeAccount{id: fmt.Sprintf("%012d", i), took: time.Minute + time.Duration(i)*7*time.Second}
			if i == 2 {
				accounts[i].err = errors.New("throttled")
			}
			targets = append(targets, target(accounts[i], "", "k"))
		}
		s := NewScheduler(30*time.Minute, 10*time.Minute, 2, slog.New(slog.DiscardHandler), publish)
		ctx, cancel := context.WithCancel(t.Context())
		defer func() { cancel(); s.Wait() }()

		s.Sync(ctx, targets)
		first := published()
		if len(first) != 1 || len(first[0]) != len(accounts) {
			t.Fatalf("after the first Sync: %d publish calls, want 1 with all %d accounts", len(first), len(accounts))
		}
		for _, st := range first[0] {
			if st.Refreshes != 0 {
				t.Errorf("Sync published account %s with %d refreshes, want the new, empty state", st.AccountID, st.Refreshes)
			}
		}

		time.Sleep(2 * time.Hour)
		synctest.Wait()
		calls := published()
		if got, want := calls[len(calls)-1], s.States(); !slices.Equal(got, want) {
			t.Errorf("the last publish call does not have the current states")
		}
		seen := map[string]map[uint64]bool{}
		newest := map[string]*State{}
		for i, states := range calls {
			for _, st := range states {
				if prev := newest[st.AccountID]; prev != nil && (st.Refreshes < prev.Refreshes || st.LastAttempt.Before(prev.LastAttempt)) {
					t.Errorf("publish call %d: account %s at refresh %d after refresh %d", i, st.AccountID, st.Refreshes, prev.Refreshes)
				}
				newest[st.AccountID] = st
				if seen[st.AccountID] == nil {
					seen[st.AccountID] = map[uint64]bool{}
				}
				seen[st.AccountID][st.Refreshes] = true
			}
		}
		for _, st := range s.States() {
			if st.Refreshes < 4 {
				t.Errorf("account %s refreshed %d times in 2h at a 30m interval, want at least 4", st.AccountID, st.Refreshes)
			}
			for n := uint64(1); n <= st.Refreshes; n++ {
				if !seen[st.AccountID][n] {
					t.Errorf("account %s: the state after refresh %d was never published", st.AccountID, n)
				}
			}
		}

		// A Sync that removes one account and renames another publishes the
		// change at once; the removed account is never published again.
		removed, renamed := accounts[0].id, accounts[1].id
		targets[1].Name = "renamed"
		before := len(published())
		s.Sync(ctx, targets[1:])
		calls = published()
		if len(calls) <= before {
			t.Fatalf("Sync did not publish")
		}
		last := calls[len(calls)-1]
		if stateOf(last, removed) != nil || stateOf(last, renamed).AccountName != "renamed" {
			t.Errorf("the publish call of a Sync has the removed account %v and the renamed account named %q",
				stateOf(last, removed) != nil, stateOf(last, renamed).AccountName)
		}
		after := len(calls)
		time.Sleep(time.Hour)
		synctest.Wait()
		calls = published()
		if len(calls) == after {
			t.Errorf("no publish call in the hour after the Sync")
		}
		for i, states := range calls[after:] {
			if stateOf(states, removed) != nil {
				t.Errorf("publish call %d after the Sync has the removed account", after+i)
			}
		}
		if overlap.Load() {
			t.Errorf("publish was called while another call ran")
		}
	})
}

// Sync starts new accounts, stops removed ones, restarts an account whose
// Key changed with its new source, and only renames one whose Name changed.
func TestSchedulerSyncAddsRemovesAndRestarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs strings.Builder
		s := NewScheduler(time.Hour, time.Minute, 2, slog.New(slog.NewTextHandler(&logs, nil)), nil)
		ctx, cancel := context.WithCancel(t.Context())
		defer func() { cancel(); s.Wait() }()

		a, b, c := &fakeAccount{id: "111111111111"}, &fakeAccount{id: "222222222222"}, &fakeAccount{id: "333333333333"}
		s.Sync(ctx, []Target{target(a, "", "1"), target(b, "prod", "1")})
		synctest.Wait()
		if len(a.fetches()) != 1 || len(b.fetches()) != 1 {
			t.Fatalf("first refreshes: %d and %d fetches, want 1 each", len(a.fetches()), len(b.fetches()))
		}

		// A rename alone keeps the account's loop and report.
		s.Sync(ctx, []Target{target(a, "renamed", "1"), target(b, "prod", "1")})
		synctest.Wait()
		if st := s.States()[0]; st.AccountName != "renamed" || st.Report == nil || st.Refreshes != 1 {
			t.Errorf("after a rename: name %q, report loaded %v, refreshes %d; want the new name and the kept report and count",
				st.AccountName, st.Report != nil, st.Refreshes)
		}
		if n := len(a.fetches()); n != 1 {
			t.Errorf("renamed account fetched %d times, want 1 (no restart)", n)
		}

		b2 := &fakeAccount{id: b.id}
		s.Sync(ctx, []Target{target(b2, "prod", "2"), target(c, "", "1")})
		synctest.Wait()
		if len(b2.fetches()) != 1 || len(c.fetches()) != 1 {
			t.Errorf("restarted and added accounts fetched %d and %d times, want 1 each at once", len(b2.fetches()), len(c.fetches()))
		}
		var ids []string
		for _, st := range s.States() {
			ids = append(ids, st.AccountID+"/"+st.AccountName)
		}
		if got, want := fmt.Sprint(ids), "[222222222222/prod 333333333333/]"; got != want {
			t.Errorf("accounts after sync = %s, want %s (the removed account must disappear)", got, want)
		}
		// A removal makes series vanish and alerts resolve: a warning with
		// the count; a restart is no removal.
		if want := `level=WARN msg="accounts removed; their series are no longer exported" count=1 account_ids=111111111111`; !strings.Contains(logs.String(), want) {
			t.Errorf("logs:\n%s\nwant them to contain %s", logs.String(), want)
		}

		// The loops of the removed account and of the replaced source have
		// stopped; the others go on.
		time.Sleep(3 * time.Hour)
		synctest.Wait()
		if na, nb := len(a.fetches()), len(b.fetches()); na != 1 || nb != 1 {
			t.Errorf("removed account and old source of a restarted one fetched %d and %d times, want 1 each", na, nb)
		}
		if nb2, nc := len(b2.fetches()), len(c.fetches()); nb2 < 3 || nc < 3 {
			t.Errorf("running accounts fetched %d and %d times in 3h at a 1h interval, want at least 3", nb2, nc)
		}
	})
}

// Add starts the accounts not running yet and publishes them, and leaves the
// running ones alone, whatever their Key or Name in the targets; a later
// Sync settles those and removes what is not listed.
func TestSchedulerAdd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		var lastPublished atomic.Pointer[[]*State]
		publish := func(states []*State) {
			calls.Add(1)
			lastPublished.Store(&states)
		}
		s := NewScheduler(time.Hour, time.Minute, 2, slog.New(slog.DiscardHandler), publish)
		ctx, cancel := context.WithCancel(t.Context())
		defer func() { cancel(); s.Wait() }()

		// The refreshes take a minute, so that no refresh publishes while
		// the test counts the calls of Add.
		a := &fakeAccount{id: "111111111111"}
		b, c := &fakeAccount{id: "222222222222", took: time.Minute}, &fakeAccount{id: "333333333333", took: time.Minute}
		s.Sync(ctx, []Target{target(a, "a", "1")})
		synctest.Wait()

		before := calls.Load()
		a2 := &fakeAccount{id: a.id}
		s.Add(ctx, []Target{target(a2, "renamed", "2"), target(b, "b", "1")})
		if calls.Load() != before+1 {
			t.Errorf("Add made %d publish calls before the refreshes, want 1", calls.Load()-before)
		}
		if got := len(*lastPublished.Load()); got != 2 {
			t.Errorf("Add published %d accounts, want 2", got)
		}
		synctest.Wait()
		if na, na2, nb := len(a.fetches()), len(a2.fetches()), len(b.fetches()); na != 1 || na2 != 0 || nb != 1 {
			t.Errorf("after Add: running account fetched %d times, its other source %d, the added one %d; want 1, 0, 1", na, na2, nb)
		}
		if st := stateOf(s.States(), a.id); st.AccountName != "a" {
			t.Errorf("Add renamed a running account to %q", st.AccountName)
		}

		// Adding only running accounts changes nothing, and publishes nothing.
		before = calls.Load()
		s.Add(ctx, []Target{target(b, "b", "1")})
		if calls.Load() != before {
			t.Errorf("Add of a running account made %d publish calls, want 0", calls.Load()-before)
		}

		// The Sync after the listing restarts, renames and removes.
		s.Sync(ctx, []Target{target(a2, "renamed", "2"), target(c, "c", "1")})
		synctest.Wait()
		var ids []string
		for _, st := range s.States() {
			ids = append(ids, st.AccountID+"/"+st.AccountName)
		}
		if got, want := fmt.Sprint(ids), "[111111111111/renamed 333333333333/c]"; got != want {
			t.Errorf("accounts after Sync = %s, want %s", got, want)
		}
		if na2, nc := len(a2.fetches()), len(c.fetches()); na2 != 1 || nc != 1 {
			t.Errorf("after Sync: restarted account fetched %d times, added one %d; want 1 each", na2, nc)
		}
	})
}

// Cancelling the context stops every loop at once, whether it is waiting for
// its next refresh or in the middle of one; an interrupted refresh is not a
// failure of the account.
func TestSchedulerStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var l load
		idle := &fakeAccount{id: "111111111111"}
		busy := &fakeAccount{id: "222222222222", hang: true, load: &l}
		s := NewScheduler(time.Hour, time.Hour, 2, slog.New(slog.DiscardHandler), nil)
		ctx, cancel := context.WithCancel(t.Context())
		s.Sync(ctx, []Target{target(idle, "", ""), target(busy, "", "")})
		time.Sleep(time.Minute)
		synctest.Wait()
		if active, _ := l.get(); active != 1 {
			t.Fatalf("refresh of the hanging account not running")
		}
		start := time.Now()
		cancel()
		s.Wait()
		if d := time.Since(start); d != 0 {
			t.Errorf("stopping took %v, want no wait for the refresh timeout", d)
		}
		if st := s.States()[1]; st.Failures != 0 || st.Refreshes != 0 {
			t.Errorf("after shutdown: refreshes=%d failures=%d, want 0/0", st.Refreshes, st.Failures)
		}
		if st := s.States()[0]; st.Refreshes != 1 {
			t.Errorf("idle account: %d refreshes, want 1", st.Refreshes)
		}
	})
}

func TestBoundedList(t *testing.T) {
	var ids []string
	for i := range 13 {
		ids = append(ids, fmt.Sprint(i))
	}
	for _, tt := range []struct {
		n    int
		want string
	}{{0, ""}, {1, "0"}, {10, "0 1 2 3 4 5 6 7 8 9"}, {11, "0 1 2 3 4 5 6 7 8 9 and 1 more"}, {13, "0 1 2 3 4 5 6 7 8 9 and 3 more"}} {
		if got := BoundedList(ids[:tt.n]); got != tt.want {
			t.Errorf("BoundedList of %d = %q, want %q", tt.n, got, tt.want)
		}
	}
}
