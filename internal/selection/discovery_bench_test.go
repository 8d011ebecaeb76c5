package selection

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/collector"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/accounts"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/fakeaws"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/refresh"
)

// allReady reports, from the scheduler's publish callback, when every one
// of n accounts has a report.
type allReady struct {
	n    int
	once sync.Once
	done chan struct{}
}

func (a *allReady) publish(states []*refresh.State) {
	ready := 0
	for _, st := range states {
		if st.Ready() {
			ready++
		}
	}
	if ready == a.n {
		a.once.Do(func() { close(a.done) })
	}
}

// BenchmarkDiscoveryToFirstReports measures the time from start to a report
// for every account of an organization: 200 accounts listed 20 a page (10
// ListAccounts pages), every AWS call answered after 20 ms, 10 refreshes at
// once (--aws.concurrency). One op is what the exporter does at start:
// New (GetCallerIdentity), then the listing and the first refresh
// of every account (AssumeRole, GenerateCredentialReport,
// GetCredentialReport, ListAccountAliases).
//
// x-floor is the wall time over the critical-path floor: the serial calls
// (GetCallerIdentity and the first ListAccounts page) × latency, plus the
// refresh calls counted in the fake's request log × latency / concurrency.
// The rest of the listing overlaps the refreshes; "pages=all" is the
// behaviour before that overlap (the whole listing, then every account), for
// comparison: the 9 other pages add 9 × latency to the critical path.
// "accounts=roles" reads the same accounts from --aws.role-arn, without a
// listing (one serial call): the cost of the refreshes alone on this
// machine, since each call also costs CPU time in the client and the fake.
func BenchmarkDiscoveryToFirstReports(b *testing.B) {
	const (
		members     = 200
		pageSize    = 20
		concurrency = 10
		latency     = 20 * time.Millisecond
	)
	fake := startFakeAWS(b)
	ids := startOrganization(fake, members, pageSize)
	fake.DefaultAccount().SetLatency(latency) // GetCallerIdentity, ListAccounts, AssumeRole
	for _, id := range ids {
		fake.Account(id).SetLatency(latency)
	}
	discovery := defaultOptions()
	discovery.Organization = true
	discovery.Discovery = collector.NewDiscovery()
	roles := defaultOptions()
	for _, id := range ids {
		roles.RoleARNs = append(roles.RoleARNs, roleARN(id, accounts.DefaultOrgRoleName))
	}
	logger := slog.New(slog.DiscardHandler)

	for _, bc := range []struct {
		name string
		o    Options
		// pages starts each page's accounts as the page arrives.
		pages bool
		// serial is the number of calls on the critical path before the
		// first refresh: GetCallerIdentity, and the first ListAccounts page.
		serial int
	}{
		{"pages=each", discovery, true, 2},
		{"pages=all", discovery, false, 2},
		{"accounts=roles", roles, true, 1},
	} {
		o := bc.o
		b.Run(bc.name, func(b *testing.B) {
			var elapsed, floor time.Duration
			var refreshCalls int
			for b.Loop() {
				b.StopTimer()
				ready := &allReady{n: members, done: make(chan struct{})}
				scheduler := refresh.NewScheduler(time.Hour, time.Minute, concurrency, logger, ready.publish)
				ctx, cancel := context.WithCancel(context.Background())
				fake.ResetRequests()
				b.StartTimer()

				start := time.Now()
				s, err := New(ctx, o, logger)
				if err != nil {
					b.Fatalf("New: %v", err)
				}
				if bc.pages {
					s.sync(ctx, scheduler)
				} else {
					list, err := s.accounts(ctx, nil)
					if err != nil {
						b.Fatalf("accounts: %v", err)
					}
					scheduler.Sync(ctx, s.targets(list, nil))
				}
				<-ready.done
				took := time.Since(start)

				b.StopTimer()
				cancel()
				scheduler.Wait()
				for _, st := range scheduler.States() {
					if st.LastErr != nil {
						b.Fatalf("account %s: %v", st.AccountID, st.LastErr)
					}
				}
				counts := fake.RequestCounts()
				n := fake.TotalRequests() - counts[fakeaws.RequestKey{Account: callerAccount, Action: fakeaws.GetCallerIdentity}] -
					counts[fakeaws.RequestKey{Account: callerAccount, Action: fakeaws.ListAccounts}]
				elapsed += took
				refreshCalls += n
				floor += time.Duration(bc.serial)*latency + time.Duration(n)*latency/concurrency
				b.StartTimer()
			}
			b.ReportMetric(elapsed.Seconds()/floor.Seconds(), "x-floor")
			b.ReportMetric(floor.Seconds()/float64(b.N), "floor-s/op")
			b.ReportMetric(float64(refreshCalls)/float64(b.N*members), "calls/account")
		})
	}
}
