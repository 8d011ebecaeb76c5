package refresh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// scriptedSource answers Fetch from a list of outcomes, one per call, each
// after its delay on the bubble's fake clock. Past the list, Fetch hangs
// until its context ends.
type scriptedSource struct {
	mu       sync.Mutex
	outcomes []outcome
	calls    int
}

type outcome struct {
	rep   *report.Report
	err   error
	delay time.Duration
}

func (s *scriptedSource) Fetch(ctx context.Context) (*report.Report, error) {
	s.mu.Lock()
	if s.calls >= len(s.outcomes) {
		s.mu.Unlock()
		<-ctx.Done()
		return nil, ctx.Err()
	}
	o := s.outcomes[s.calls]
	s.calls++
	s.mu.Unlock()
	select {
	case <-time.After(o.delay):
		return o.rep, o.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// A failed refresh keeps serving the last good report and counts the
// failure; the timestamps and duration that the exporter turns into metrics
// come from the clock around the fetch.
func TestRefresherKeepsLastGoodReport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const took = 2 * time.Second
		first := &report.Report{AccountID: "123456789012", Users: make([]report.User, 3), BadCells: 2, Duplicates: 1}
		second := &report.Report{AccountID: "123456789012", Users: make([]report.User, 4)}
		src := &scriptedSource{outcomes: []outcome{
			{rep: first, delay: took},
			{err: fmt.Errorf("get credential report: %w", errors.New("throttled")), delay: took},
			{err: fmt.Errorf("parse: %w: no header", report.ErrInvalidReport), delay: took},
			{rep: second, delay: took},
		}}
		var logs bytes.Buffer
		r := NewRefresher(Target{Source: src}, time.Minute, slog.New(slog.NewTextHandler(&logs, nil)))

		if s := r.State(); s.Ready() || s.Refreshes != 0 || !s.LastAttempt.IsZero() {
			t.Fatalf("before any refresh: ready=%v refreshes=%d last attempt %v", s.Ready(), s.Refreshes, s.LastAttempt)
		}

		steps := []struct {
			wantReport                      *report.Report
			wantErr                         bool
			wantRefreshes, wantFailures, pe uint64
		}{
			{first, false, 1, 0, 3},
			{first, true, 2, 1, 3},
			{first, true, 3, 2, 4},
			{second, false, 4, 2, 4},
		}
		var lastSuccess time.Time
		for i, step := range steps {
			time.Sleep(time.Minute) // between refreshes, so that each has its own times
			r.Refresh(t.Context())
			now := time.Now()
			if !step.wantErr {
				lastSuccess = now
			}
			s := r.State()
			if s.Report != step.wantReport {
				t.Errorf("step %d: served report %p, want %p", i, s.Report, step.wantReport)
			}
			if (s.LastErr != nil) != step.wantErr {
				t.Errorf("step %d: LastErr = %v, want error %v", i, s.LastErr, step.wantErr)
			}
			if s.Refreshes != step.wantRefreshes || s.Failures != step.wantFailures || s.ParseErrors != step.pe {
				t.Errorf("step %d: refreshes/failures/parse errors = %d/%d/%d, want %d/%d/%d",
					i, s.Refreshes, s.Failures, s.ParseErrors, step.wantRefreshes, step.wantFailures, step.pe)
			}
			if s.AccountID != "123456789012" {
				t.Errorf("step %d: account = %q, want it taken from the report", i, s.AccountID)
			}
			if !s.LastAttempt.Equal(now) || s.LastDuration != took {
				t.Errorf("step %d: last attempt %v taking %v, want %v taking %v", i, s.LastAttempt, s.LastDuration, now, took)
			}
			if !s.LastSuccess.Equal(lastSuccess) {
				t.Errorf("step %d: last success %v, want %v (a failure must not move it)", i, s.LastSuccess, lastSuccess)
			}
		}
		if got := strings.Count(logs.String(), "credential report refresh failed"); got != 2 {
			t.Errorf("logged %d refresh failures, want one line per failed refresh (2):\n%s", got, logs.String())
		}
		if !strings.Contains(logs.String(), "bad_cells=2") {
			t.Errorf("bad cells not logged:\n%s", logs.String())
		}
	})
}

// The refresh deadline bounds a source that hangs: the refresh fails after
// exactly the timeout.
func TestRefresherTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 30 * time.Second
		r := NewRefresher(Target{AccountID: "123456789012", Source: &scriptedSource{}}, timeout, slog.New(slog.DiscardHandler))
		start := time.Now()
		r.Refresh(t.Context())
		if took := time.Since(start); took != timeout {
			t.Errorf("a hanging refresh returned after %v, want the timeout %v", took, timeout)
		}
		s := r.State()
		if !errors.Is(s.LastErr, context.DeadlineExceeded) || s.Failures != 1 || s.LastDuration != timeout {
			t.Errorf("LastErr = %v, failures = %d, duration %v; want a deadline failure after %v", s.LastErr, s.Failures, s.LastDuration, timeout)
		}
	})
}

// A refresh interrupted by shutdown is not a failure of the account: the
// state is left as it was.
func TestRefresherShutdownIsNotAFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRefresher(Target{AccountID: "123456789012", Source: &scriptedSource{}}, time.Hour, slog.New(slog.DiscardHandler))
		before := r.State()
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(time.Second, cancel)
		r.Refresh(ctx)
		if after := r.State(); after != before {
			t.Errorf("an interrupted refresh published %+v, want the state left alone", after)
		}
	})
}

// A rename that arrives while a refresh runs survives the refresh, and the
// refresh's report survives the rename.
func TestRefresherRenameDuringRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rep := &report.Report{AccountID: "123456789012"}
		src := &scriptedSource{outcomes: []outcome{{rep: rep, delay: time.Minute}}}
		r := NewRefresher(Target{AccountID: "123456789012", Name: "old", Source: src}, time.Hour, slog.New(slog.DiscardHandler))
		time.AfterFunc(time.Second, func() { r.SetAccount("new", nil) })
		r.Refresh(t.Context())
		if s := r.State(); s.AccountName != "new" || s.Report != rep {
			t.Errorf("after a rename during a refresh: name %q, report %p; want %q and %p", s.AccountName, s.Report, "new", rep)
		}
	})
}

// reportOf returns a report of account with n rows, the first root's when root.
func reportOf(account string, n int, root bool) *report.Report {
	rep := &report.Report{AccountID: account, Users: make([]report.User, n)}
	rep.Users[0].Root = root
	return rep
}

// A report that cannot be the account's next one is rejected as an invalid
// report: it would replace the account's users with others, or with a part
// of them. The last good report stays, and the rejection is counted.
func TestRefresherRejectsReportsThatCannotFollow(t *testing.T) {
	const (
		id    = "123456789012"
		other = "210987654321"
	)
	tests := []struct {
		name       string
		configured string // Target.AccountID; "" for a file source
		reports    []*report.Report
		wantErr    []string // of the last refresh; none for success
	}{
		{name: "another account than the configured one", configured: id,
			reports: []*report.Report{reportOf(other, 3, true)},
			wantErr: []string{"the report is of account " + other + ", but this source reads account " + id}},
		{name: "another account after a good report", configured: id,
			reports: []*report.Report{reportOf(id, 3, true), reportOf(other, 3, true)},
			wantErr: []string{other, id}},
		{name: "file source: another account than its first report's",
			reports: []*report.Report{reportOf(id, 3, true), reportOf(other, 3, true)},
			wantErr: []string{other, id}},
		{name: "root row gone", configured: id,
			reports: []*report.Report{reportOf(id, 3, true), reportOf(id, 2, false)},
			wantErr: []string{"no root row (<root_account>)"}},
		{name: "file source: root row gone",
			reports: []*report.Report{reportOf(id, 3, true), reportOf(id, 2, false)},
			wantErr: []string{"no root row"}},
		{name: "fewer users, root kept", configured: id,
			reports: []*report.Report{reportOf(id, 3, true), reportOf(id, 2, true)}},
		{name: "never a root row (moto)", configured: id,
			reports: []*report.Report{reportOf(id, 3, false), reportOf(id, 2, false)}},
		{name: "first report without root", configured: id,
			reports: []*report.Report{reportOf(id, 2, false)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &scriptedSource{}
			for _, rep := range tt.reports {
				src.outcomes = append(src.outcomes, outcome{rep: rep})
			}
			r := NewRefresher(Target{AccountID: tt.configured, Source: src}, time.Minute, slog.New(slog.DiscardHandler))
			var before *State
			for range tt.reports {
				before = r.State()
				r.Refresh(t.Context())
			}
			s := r.State()
			if len(tt.wantErr) == 0 {
				if s.LastErr != nil || s.Report != tt.reports[len(tt.reports)-1] {
					t.Fatalf("LastErr = %v, report %p; want the last report %p served", s.LastErr, s.Report, tt.reports[len(tt.reports)-1])
				}
				return
			}
			if !errors.Is(s.LastErr, report.ErrInvalidReport) {
				t.Fatalf("LastErr = %v, want a rejected report (ErrInvalidReport)", s.LastErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(s.LastErr.Error(), want) {
					t.Errorf("LastErr %q does not say %q", s.LastErr, want)
				}
			}
			if s.Report != before.Report || s.AccountID != before.AccountID && before.AccountID != "" {
				t.Errorf("serving %p of account %q, want the last good %p of %q", s.Report, s.AccountID, before.Report, before.AccountID)
			}
			if s.ParseErrors != before.ParseErrors+1 || s.Failures != before.Failures+1 {
				t.Errorf("parse errors %d, failures %d; want %d, %d", s.ParseErrors, s.Failures, before.ParseErrors+1, before.Failures+1)
			}
		})
	}
}

// Every successful refresh publishes the report it got, with the lookups of
// that refresh, even when AWS served the same report again (it keeps one
// for up to 4 hours): the lookups' times move at every refresh. A failure
// keeps both.
func TestRefresherPublishesEachReportWithItsLookups(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const id = "123456789012"
		generated := time.Date(2024, 4, 22, 19, 47, 52, 0, time.UTC)
		reportAt := func(generated, lookedUp time.Time, badCells int) *report.Report {
			rep := reportOf(id, 3, true)
			rep.GeneratedAt = generated
			rep.BadCells = badCells
			rep.Lookups = []report.LookupStatus{{Lookup: report.LookupPasswordPolicy, OK: true, LastSuccess: lookedUp}}
			return rep
		}
		first := reportAt(generated, generated.Add(time.Minute), 1)
		again := reportAt(generated, generated.Add(31*time.Minute), 1)
		newer := reportAt(generated.Add(4*time.Hour), generated.Add(4*time.Hour+time.Minute), 0)
		src := &scriptedSource{outcomes: []outcome{
			{rep: first},
			{rep: again},
			{err: errors.New("throttled")},
			{rep: newer},
		}}
		r := NewRefresher(Target{AccountID: id, Source: src}, time.Minute, slog.New(slog.DiscardHandler))
		steps := []struct {
			name       string
			wantReport *report.Report
			wantPE     uint64
		}{
			{"first report", first, 1},
			// ParseErrors counts the report's bad cells at every refresh: a
			// report read twice was parsed twice.
			{"same report again", again, 2},
			{"failure", again, 2},
			{"newer report", newer, 2},
		}
		for _, step := range steps {
			time.Sleep(time.Minute)
			r.Refresh(t.Context())
			s := r.State()
			if s.Report != step.wantReport {
				t.Errorf("%s: report %p, want %p", step.name, s.Report, step.wantReport)
			}
			if s.ParseErrors != step.wantPE {
				t.Errorf("%s: parse errors %d, want %d", step.name, s.ParseErrors, step.wantPE)
			}
		}
	})
}
