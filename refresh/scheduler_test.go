package report

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/testenv"
)

// gatedSource blocks every Fetch until released, recording how many run at
// once.
type gatedSource struct {
	id      string
	release chan struct{}
	active  *atomic.Int32
	peak    *atomic.Int32
	fetches atomic.Int32
	err     error
}

func (g *gatedSource) Fetch(ctx context.Context) (*Report, error) {
	n := g.active.Add(1)
	defer g.active.Add(-1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			break
		}
	}
	g.fetches.Add(1)
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if g.err != nil {
		return nil, g.err
	}
	return &Report{AccountID: g.id, Users: make([]User, 1)}, nil
}

func TestSchedulerBoundsConcurrencyAndIsolatesFailures(t *testing.T) {
	var active, peak atomic.Int32
	release := make(chan struct{})
	var targets []Target
	for i := range 12 {
		src := &gatedSource{id: fmt.Sprintf("%012d", i), release: release, active: &active, peak: &peak}
		if i == 3 {
			src.err = errors.New("access denied")
		}
		targets = append(targets, Target{AccountID: src.id, Source: src, Key: "k"})
	}
	s := NewScheduler(time.Hour, time.Minute, 4, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); s.Wait() }()
	s.Sync(ctx, targets)

	testenv.WaitFor(t, 10*time.Second, func() error {
		if n := active.Load(); n != 4 {
			return fmt.Errorf("%d refreshes running, want the limit 4", n)
		}
		return nil
	})
	close(release)
	testenv.WaitFor(t, 10*time.Second, func() error {
		for _, st := range s.States() {
			if st.Refreshes == 0 {
				return fmt.Errorf("account %s not refreshed yet", st.AccountID)
			}
		}
		return nil
	})
	if p := peak.Load(); p > 4 {
		t.Errorf("peak concurrent refreshes = %d, want <= 4", p)
	}
	states := s.States()
	if len(states) != 12 {
		t.Fatalf("%d states, want 12", len(states))
	}
	for i, st := range states {
		if want := fmt.Sprintf("%012d", i); st.AccountID != want {
			t.Errorf("states[%d] = %s, want sorted by account (%s)", i, st.AccountID, want)
		}
		if failed := st.LastErr != nil; failed != (i == 3) {
			t.Errorf("account %s: LastErr = %v", st.AccountID, st.LastErr)
		}
		if (st.Report != nil) != (i != 3) {
			t.Errorf("account %s: report loaded = %v", st.AccountID, st.Report != nil)
		}
	}
}

func TestSchedulerSyncAddsRemovesAndRestarts(t *testing.T) {
	var active, peak atomic.Int32
	release := make(chan struct{})
	close(release)
	src := func(id string) *gatedSource {
		return &gatedSource{id: id, release: release, active: &active, peak: &peak}
	}
	s := NewScheduler(time.Hour, time.Minute, 2, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); s.Wait() }()

	a, b, c := src("111111111111"), src("222222222222"), src("333333333333")
	s.Sync(ctx, []Target{{AccountID: a.id, Source: a, Key: "1"}, {AccountID: b.id, Source: b, Key: "1", Name: "prod"}})
	testenv.WaitFor(t, 10*time.Second, func() error {
		if a.fetches.Load() == 0 || b.fetches.Load() == 0 {
			return errors.New("first refreshes not done")
		}
		return nil
	})

	// A rename alone keeps the account's loop and report.
	s.Sync(ctx, []Target{{AccountID: a.id, Source: a, Key: "1", Name: "renamed"}, {AccountID: b.id, Source: b, Key: "1", Name: "prod"}})
	if st := s.States()[0]; st.AccountName != "renamed" || st.Report == nil {
		t.Errorf("after a rename: name %q, report loaded %v; want the new name and the kept report", st.AccountName, st.Report != nil)
	}
	if n := a.fetches.Load(); n != 1 {
		t.Errorf("renamed account fetched %d times, want 1 (no restart)", n)
	}

	b2 := src(b.id)
	s.Sync(ctx, []Target{{AccountID: b.id, Source: b2, Key: "2", Name: "prod"}, {AccountID: c.id, Source: c, Key: "1"}})
	testenv.WaitFor(t, 10*time.Second, func() error {
		if b2.fetches.Load() == 0 || c.fetches.Load() == 0 {
			return errors.New("restarted or added account not refreshed")
		}
		return nil
	})
	var ids []string
	for _, st := range s.States() {
		ids = append(ids, st.AccountID+"/"+st.AccountName)
	}
	if got, want := fmt.Sprint(ids), "[222222222222/prod 333333333333/]"; got != want {
		t.Errorf("accounts after sync = %s, want %s (the removed account must disappear)", got, want)
	}
	if n := b.fetches.Load(); n != 1 {
		t.Errorf("old source of a restarted account fetched %d times, want 1", n)
	}
}

// Cancelling the context stops every loop; an interrupted refresh is not a
// failure of the account.
func TestSchedulerStops(t *testing.T) {
	var active, peak atomic.Int32
	src := &gatedSource{id: "111111111111", release: make(chan struct{}), active: &active, peak: &peak}
	s := NewScheduler(time.Hour, time.Hour, 1, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	s.Sync(ctx, []Target{{AccountID: src.id, Source: src}})
	testenv.WaitFor(t, 10*time.Second, func() error {
		if active.Load() != 1 {
			return errors.New("refresh not started")
		}
		return nil
	})
	cancel()
	s.Wait()
	if st := s.States()[0]; st.Failures != 0 || st.Refreshes != 0 {
		t.Errorf("after shutdown: refreshes=%d failures=%d, want 0/0", st.Refreshes, st.Failures)
	}
}
