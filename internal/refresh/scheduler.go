package refresh

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// Target is one account whose report is kept.
type Target struct {
	AccountID string
	// Name is the account's name (from Organizations or the config file), or "".
	Name string
	// Tags are the account's allow-listed tags, or nil.
	Tags   []report.Tag
	Source Source
	// Key identifies how the account is reached (role, external ID): a
	// target whose Key changes is restarted with its new Source. A new
	// Name or new Tags only rename or retag it.
	Key string
}

// Scheduler keeps the latest report of many accounts. Each account is
// refreshed on its own schedule, jittered so that refreshes spread over the
// interval, and at most a fixed number of refreshes run at once, so one slow
// or failing account never holds up the others beyond its own slot.
type Scheduler struct {
	interval, timeout time.Duration
	slots             chan struct{}
	logger            *slog.Logger

	mu      sync.Mutex
	running map[string]*account
	wg      sync.WaitGroup
	// published is what States reads: a sorted, immutable list.
	published atomic.Pointer[[]*account]

	// publish receives the states after each change, one call at a time
	// (publishMu), so that it never sees older states after newer ones.
	publish   func([]*State)
	publishMu sync.Mutex
}

type account struct {
	refresher *Refresher
	key       string
	cancel    context.CancelFunc
}

// NewScheduler returns a scheduler that refreshes every account about every
// interval, each refresh bounded by timeout, at most concurrency at once.
// publish, when not nil, is called with what States returns each time it
// changes: after every refresh, every Sync and every Add that starts an
// account, from the goroutine that made the change, so that work derived
// from the states (such as encoding their metrics) is done when they change
// rather than when they are read.
func NewScheduler(interval, timeout time.Duration, concurrency int, logger *slog.Logger, publish func([]*State)) *Scheduler {
	s := &Scheduler{
		interval: interval,
		timeout:  timeout,
		slots:    make(chan struct{}, max(concurrency, 1)),
		logger:   logger,
		running:  map[string]*account{},
		publish:  publish,
	}
	s.published.Store(&[]*account{})
	return s
}

// Sync makes the set of refreshed accounts equal to targets: new accounts
// start (their first refresh as soon as a slot is free), accounts no longer
// listed stop and disappear from States, and accounts whose Key changed
// restart. Accounts refresh until ctx is cancelled.
func (s *Scheduler) Sync(ctx context.Context, targets []Target) {
	s.sync(ctx, targets)
	s.notify()
}

func (s *Scheduler) sync(ctx context.Context, targets []Target) {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := make(map[string]Target, len(targets))
	for _, t := range targets {
		want[t.AccountID] = t
	}
	var removed []string
	for id, a := range s.running {
		if t, ok := want[id]; !ok || t.Key != a.key {
			a.cancel()
			delete(s.running, id)
			if !ok {
				removed = append(removed, id)
			}
		}
	}
	if len(removed) > 0 {
		// A warning: the accounts' series vanish, so their alerts resolve.
		// That is right for an account that left, and the only trace of a
		// config file read half-written.
		slices.Sort(removed)
		s.logger.Warn("accounts removed; their series are no longer exported", "count", len(removed), "account_ids", BoundedList(removed))
	}
	for id, t := range want {
		if a, ok := s.running[id]; ok {
			if st := a.refresher.State(); st.AccountName != t.Name || !slices.Equal(st.AccountTags, t.Tags) {
				a.refresher.SetAccount(t.Name, t.Tags)
			}
			continue
		}
		s.startLocked(ctx, t)
	}
	s.publishLocked()
}

// Add starts the targets that are not running yet, as Sync would, and
// leaves every running account alone, even one whose Key or Name differs in
// targets: the next Sync settles those. It lets accounts start refreshing
// while the list of all accounts is still being read.
func (s *Scheduler) Add(ctx context.Context, targets []Target) {
	if s.add(ctx, targets) {
		s.notify()
	}
}

func (s *Scheduler) add(ctx context.Context, targets []Target) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	added := false
	for _, t := range targets {
		if _, ok := s.running[t.AccountID]; !ok {
			s.startLocked(ctx, t)
			added = true
		}
	}
	if added {
		s.publishLocked()
	}
	return added
}

func (s *Scheduler) startLocked(ctx context.Context, t Target) {
	r := NewRefresher(t, s.timeout, s.logger)
	actx, cancel := context.WithCancel(ctx)
	s.running[t.AccountID] = &account{refresher: r, key: t.Key, cancel: cancel}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.loop(actx, r)
	}()
	s.logger.Debug("account added", "account_id", t.AccountID, "name", t.Name)
}

// publishLocked makes States return the running accounts.
func (s *Scheduler) publishLocked() {
	list := make([]*account, 0, len(s.running))
	for _, a := range s.running {
		list = append(list, a)
	}
	slices.SortFunc(list, func(a, b *account) int {
		return strings.Compare(a.refresher.accountID, b.refresher.accountID)
	})
	s.published.Store(&list)
}

// States returns the current state of every account, sorted by account ID.
// It never blocks on a refresh.
func (s *Scheduler) States() []*State {
	list := *s.published.Load()
	out := make([]*State, len(list))
	for i, a := range list {
		out[i] = a.refresher.State()
	}
	return out
}

// notify hands the current states to publish.
func (s *Scheduler) notify() {
	if s.publish == nil {
		return
	}
	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	s.publish(s.States())
}

// Wait returns when every account's loop has stopped, after the ctx of
// every Sync and Add is cancelled.
func (s *Scheduler) Wait() { s.wg.Wait() }

func (s *Scheduler) loop(ctx context.Context, r *Refresher) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		select {
		case <-ctx.Done():
			return
		case s.slots <- struct{}{}:
		}
		r.Refresh(ctx)
		<-s.slots
		s.notify()
		timer.Reset(jitter(s.interval))
	}
}

// jitter spreads refreshes by ±10% so that accounts added together drift
// apart instead of hitting AWS in bursts forever.
func jitter(d time.Duration) time.Duration {
	return d - d/10 + rand.N(d/5+1)
}

// maxListed bounds the account IDs that one log line names.
const maxListed = 10

// BoundedList joins ids with spaces for a log line, naming the first 10 and
// counting the rest, so that a line stays short whatever an organization's
// size.
func BoundedList(ids []string) string {
	if len(ids) <= maxListed {
		return strings.Join(ids, " ")
	}
	return strings.Join(ids[:maxListed], " ") + fmt.Sprintf(" and %d more", len(ids)-maxListed)
}
