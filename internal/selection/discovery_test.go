package selection

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/iam-credential-exporter/iam_credential_exporter/collector"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/fakeaws"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/refresh"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/testenv"
)

// startOrganization gives the fake an organization of n member accounts,
// listed pageSize a page, each with a finished report, so that one refresh
// is AssumeRole and two IAM calls (Generate, Get) plus the alias. It
// returns the member account IDs in listing order.
func startOrganization(fake *fakeaws.Server, n, pageSize int) []string {
	generated := time.Now().Add(-time.Hour)
	var list []fakeaws.OrgAccount
	var ids []string
	for i := range n {
		id := fmt.Sprintf("4%011d", i+1)
		ids = append(ids, id)
		list = append(list, fakeaws.OrgAccount{ID: id, Name: fmt.Sprintf("member-%03d", i+1)})
	}
	fake.SetOrganization(list, pageSize)
	for _, id := range ids {
		fake.Account(id).SetReport(fakeaws.ReportCSV(id, generated, nil), generated)
	}
	return ids
}

// readyWatch records, from the scheduler's publish callback, when each
// account first has a report.
type readyWatch struct {
	mu    sync.Mutex
	ready map[string]chan struct{}
}

func newReadyWatch(ids []string) *readyWatch {
	w := &readyWatch{ready: map[string]chan struct{}{}}
	for _, id := range ids {
		w.ready[id] = make(chan struct{})
	}
	return w
}

func (w *readyWatch) publish(states []*refresh.State) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, st := range states {
		if ch, ok := w.ready[st.AccountID]; ok && st.Ready() {
			close(ch)
			delete(w.ready, st.AccountID)
		}
	}
}

// of returns a channel closed when account id has a report.
func (w *readyWatch) of(id string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ch, ok := w.ready[id]; ok {
		return ch
	}
	ch := make(chan struct{})
	close(ch)
	return ch
}

func accountIDs(states []*refresh.State) []string {
	var ids []string
	for _, st := range states {
		ids = append(ids, st.AccountID)
	}
	return ids
}

// Discovery starts each page's accounts as the page arrives: an account of
// the first page has its report before the last page is even answered.
func TestDiscoveryStartsAccountsWhileListing(t *testing.T) {
	fake := startFakeAWS(t)
	ids := startOrganization(fake, 6, 2)
	watch := newReadyWatch(ids)
	// The deadlines bound a hang; they do not measure speed.
	var before, last bool
	fake.OnListAccountsPage(func(ctx context.Context, page int) {
		if page != 2 {
			return
		}
		last = true
		select {
		case <-watch.of(ids[0]):
			before = true
		case <-time.After(testenv.Patience):
		case <-ctx.Done():
		}
	})
	o := defaultOptions()
	o.Organization = true
	o.Discovery = collector.NewDiscovery()
	s, err := New(t.Context(), o, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), testenv.Patience)
	scheduler := refresh.NewScheduler(o.RefreshInterval, o.Timeout, concurrency, slog.New(slog.DiscardHandler), watch.publish)
	defer func() { cancel(); scheduler.Wait() }()

	s.sync(ctx, scheduler)
	if !last {
		t.Fatalf("the listing never asked for its last page")
	}
	if !before {
		t.Errorf("account %s of the first page had no report when the last page was asked for", ids[0])
	}
	if got := accountIDs(scheduler.States()); !slices.Equal(got, ids) {
		t.Errorf("accounts after the listing = %v, want %v", got, ids)
	}
	for _, st := range scheduler.States() {
		if want := "member-" + st.AccountID[9:]; st.AccountName != want {
			t.Errorf("account %s is named %q, want %q", st.AccountID, st.AccountName, want)
		}
	}
}

// A listing that fails after its first page keeps the accounts of the last
// complete listing, even one that has left, adds those of the pages read,
// and reports the failure.
func TestDiscoveryFailureOnALaterPage(t *testing.T) {
	fake := startFakeAWS(t)
	ids := startOrganization(fake, 4, 2)
	discovery := collector.NewDiscovery()
	o := defaultOptions()
	o.Organization, o.Discovery = true, discovery
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	s, err := New(t.Context(), o, logger)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), testenv.Patience)
	scheduler := refresh.NewScheduler(o.RefreshInterval, o.Timeout, concurrency, logger, nil)
	defer func() { cancel(); scheduler.Wait() }()
	s.sync(ctx, scheduler)
	if got := accountIDs(scheduler.States()); !slices.Equal(got, ids) {
		t.Fatalf("accounts after the first listing = %v, want %v", got, ids)
	}

	// The second listing: the first account has left, a new one joined on
	// the first page, and the second page fails.
	joined := "499999999999"
	fake.Account(joined).SetReport(fakeaws.ReportCSV(joined, time.Now(), nil), time.Now())
	fake.SetOrganization([]fakeaws.OrgAccount{{ID: joined, Name: "joined"}, {ID: ids[1]}, {ID: ids[2]}, {ID: ids[3]}}, 2)
	fake.OnListAccountsPage(func(_ context.Context, page int) {
		if page == 1 {
			fake.DefaultAccount().Fail(fakeaws.ListAccounts, "AccessDeniedException", 1)
		}
	})
	s.sync(ctx, scheduler)
	want := append(slices.Clone(ids), joined)
	if got := accountIDs(scheduler.States()); !slices.Equal(got, want) {
		t.Errorf("accounts after a listing that failed on page 2 = %v, want the previous ones and the first page's: %v", got, want)
	}
	if !strings.Contains(logs.String(), "account discovery failed; keeping the previous account list") {
		t.Errorf("the failure is not logged:\n%s", logs.String())
	}
	const failed = `
# HELP iam_credential_exporter_account_discovery_success 1 if the last listing of the organization's accounts (organizations:ListAccounts) succeeded, 0 if it failed (the previous account list is kept).
# TYPE iam_credential_exporter_account_discovery_success gauge
iam_credential_exporter_account_discovery_success 0
`
	if err := testutil.CollectAndCompare(discovery, strings.NewReader(failed), "iam_credential_exporter_account_discovery_success"); err != nil {
		t.Errorf("discovery metric: %v", err)
	}

	// The next complete listing removes the account that left.
	fake.OnListAccountsPage(nil)
	s.sync(ctx, scheduler)
	want = append(slices.Clone(ids[1:]), joined)
	if got := accountIDs(scheduler.States()); !slices.Equal(got, want) {
		t.Errorf("accounts after a complete listing = %v, want %v", got, want)
	}
}
