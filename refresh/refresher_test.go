package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// scriptedSource answers Fetch from a list of outcomes, one per call.
type scriptedSource struct {
	mu       sync.Mutex
	outcomes []outcome
	calls    int
}

type outcome struct {
	rep *Report
	err error
}

func (s *scriptedSource) Fetch(ctx context.Context) (*Report, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.calls >= len(s.outcomes) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	o := s.outcomes[s.calls]
	s.calls++
	return o.rep, o.err
}

func TestRefresherKeepsLastGoodReport(t *testing.T) {
	first := &Report{AccountID: "123456789012", Users: make([]User, 3), BadCells: 2, Duplicates: 1}
	second := &Report{AccountID: "123456789012", Users: make([]User, 4)}
	src := &scriptedSource{outcomes: []outcome{
		{rep: first},
		{err: fmt.Errorf("get credential report: %w", errors.New("throttled"))},
		{err: fmt.Errorf("parse: %w: no header", ErrInvalidReport)},
		{rep: second},
	}}
	var logs bytes.Buffer
	r := NewRefresher(Target{Source: src}, time.Second, slog.New(slog.NewTextHandler(&logs, nil)))

	if s := r.State(); s.Ready() || s.Refreshes != 0 {
		t.Fatalf("before any refresh: ready=%v refreshes=%d", s.Ready(), s.Refreshes)
	}

	steps := []struct {
		wantReport                      *Report
		wantErr                         bool
		wantRefreshes, wantFailures, pe uint64
	}{
		{first, false, 1, 0, 3},
		{first, true, 2, 1, 3},
		{first, true, 3, 2, 4},
		{second, false, 4, 2, 4},
	}
	for i, step := range steps {
		r.Refresh(context.Background())
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
	}
	if got := strings.Count(logs.String(), "credential report refresh failed"); got != 2 {
		t.Errorf("logged %d refresh failures, want one line per failed refresh (2):\n%s", got, logs.String())
	}
	if !strings.Contains(logs.String(), "bad_cells=2") {
		t.Errorf("bad cells not logged:\n%s", logs.String())
	}
}

// The refresh deadline bounds a source that hangs.
func TestRefresherTimeout(t *testing.T) {
	src := &scriptedSource{}
	r := NewRefresher(Target{AccountID: "123456789012", Source: src}, 10*time.Millisecond, slog.New(slog.DiscardHandler))
	r.Refresh(context.Background())
	s := r.State()
	if !errors.Is(s.LastErr, context.DeadlineExceeded) || s.Failures != 1 {
		t.Errorf("LastErr = %v, failures = %d; want a deadline failure", s.LastErr, s.Failures)
	}
}
