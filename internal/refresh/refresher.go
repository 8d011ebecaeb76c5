// Package refresh is the heart of the exporter: it keeps the latest good
// credential report of every account in memory, refreshing each in the
// background on its own jittered schedule, a bounded number at a time, and
// publishes each account's State as an immutable value that scrapes read
// without waiting and without calling AWS.
package refresh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// Source produces the current credential report of one account.
type Source interface {
	Fetch(ctx context.Context) (*report.Report, error)
}

// State is what one account's refresher knows: the last good report and the
// outcome of its refreshes. A State is immutable once published.
type State struct {
	// AccountID is the account the source serves, or "" while it is unknown
	// (a file source before its first good read). A report of another
	// account is rejected.
	AccountID string
	// AccountName is the account's name from Organizations or the config
	// file, or "".
	AccountName string
	// AccountTags are the account's allow-listed tags from Organizations;
	// nil when none or not read.
	AccountTags []report.Tag
	// Report is the last good report, with the status of the enrichment
	// lookups of the refresh that got it; nil before the first success. A
	// failed refresh keeps the previous one.
	Report *report.Report
	// LastAttempt is when the last refresh finished; zero before the first.
	LastAttempt  time.Time
	LastDuration time.Duration
	// LastErr is nil when the last refresh succeeded.
	LastErr     error
	LastSuccess time.Time
	Refreshes   uint64
	Failures    uint64
	// ParseErrors counts, over all refreshes, unparsable cells, duplicate
	// rows and rejected reports.
	ParseErrors uint64
}

// Ready reports whether a report has been loaded.
func (s *State) Ready() bool { return s.Report != nil }

// Refresher keeps the latest report of one account. Readers call State,
// which never blocks and never calls AWS.
type Refresher struct {
	accountID string
	source    Source
	timeout   time.Duration
	logger    *slog.Logger
	now       func() time.Time
	// publish serialises the two writers of state: Refresh and SetAccount.
	publish sync.Mutex
	state   atomic.Pointer[State]
}

// NewRefresher returns a refresher for one account. t.AccountID may be ""
// when it is only known from the report. Each refresh gets at most timeout.
func NewRefresher(t Target, timeout time.Duration, logger *slog.Logger) *Refresher {
	r := &Refresher{accountID: t.AccountID, source: t.Source, timeout: timeout, logger: logger, now: time.Now}
	r.state.Store(&State{AccountID: t.AccountID, AccountName: t.Name, AccountTags: t.Tags})
	return r
}

// State returns the latest published state.
func (r *Refresher) State() *State { return r.state.Load() }

// SetAccount renames or retags the account (a change in Organizations or
// the config file) without restarting it or dropping its report.
func (r *Refresher) SetAccount(name string, tags []report.Tag) {
	r.publish.Lock()
	defer r.publish.Unlock()
	next := *r.state.Load()
	next.AccountName = name
	next.AccountTags = tags
	r.state.Store(&next)
}

// Refresh fetches the report once and publishes the outcome. A failure keeps
// the last good report and records the error. Refreshes of one account must
// not overlap: the Scheduler's loop is the only caller.
func (r *Refresher) Refresh(ctx context.Context) {
	start := r.now()
	fetchCtx, cancel := context.WithTimeout(ctx, r.timeout)
	rep, err := r.source.Fetch(fetchCtx)
	cancel()
	if err != nil && ctx.Err() != nil {
		// Shutting down: an interrupted refresh is not a failure of the account.
		return
	}
	end := r.now()

	r.publish.Lock()
	defer r.publish.Unlock()
	prev := r.state.Load()
	if err == nil {
		err = follows(rep, prev)
	}
	next := *prev
	next.LastAttempt = end
	next.LastDuration = end.Sub(start)
	next.LastErr = err
	next.Refreshes++
	logger := r.logger.With("account_id", next.AccountID)
	if err != nil {
		next.Failures++
		if errors.Is(err, report.ErrInvalidReport) {
			next.ParseErrors++
		}
		logger.Error("credential report refresh failed", "err", err, "serving_report_from", generatedAt(prev.Report))
	} else {
		if next.AccountID == "" {
			next.AccountID = rep.AccountID
			logger = r.logger.With("account_id", next.AccountID)
		}
		next.Report = rep
		next.LastSuccess = end
		next.ParseErrors += uint64(rep.BadCells + rep.Duplicates)
		if rep.BadCells > 0 || rep.Duplicates > 0 {
			logger.Warn("credential report has unparsable cells or duplicate rows; those fields are exported as unknown",
				"bad_cells", rep.BadCells, "duplicate_rows", rep.Duplicates)
		}
		logger.Debug("credential report refreshed", "users", len(rep.Users), "generated_at", rep.GeneratedAt, "duration", next.LastDuration)
	}
	r.state.Store(&next)
}

// follows rejects a report that cannot be the account's next one, since
// publishing it would drop the account's users, and resolve their alerts:
//   - a report of another account than the configured one or, for a source
//     whose account is known only from its reports (a file), than the one
//     its first good report named;
//   - a report without the root row when the last good one had it. AWS
//     writes the root row first in every report; without it, the report
//     was cut or edited (moto's reports, which never have it, are not
//     affected).
//
// Both wrap report.ErrInvalidReport: they are rejected reports, counted as
// such.
func follows(rep *report.Report, prev *State) error {
	if prev.AccountID != "" && rep.AccountID != "" && rep.AccountID != prev.AccountID {
		return fmt.Errorf("%w: the report is of account %s, but this source reads account %s", report.ErrInvalidReport, rep.AccountID, prev.AccountID)
	}
	if prev.Report != nil && hasRoot(prev.Report) && !hasRoot(rep) {
		return fmt.Errorf("%w: no root row (%s), which the account's previous report had: the report may have been cut short",
			report.ErrInvalidReport, report.RootUserName)
	}
	return nil
}

func hasRoot(rep *report.Report) bool {
	// AWS writes the root row first; a hand-edited file may move it.
	for _, u := range rep.Users {
		if u.Root {
			return true
		}
	}
	return false
}

func generatedAt(rep *report.Report) any {
	if rep == nil {
		return "none"
	}
	return rep.GeneratedAt
}
