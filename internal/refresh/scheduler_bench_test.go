package refresh_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/awsapi"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/fakeaws"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/refresh"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/reportgen"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// doneSource reports when its first Fetch has returned.
type doneSource struct {
	next refresh.Source
	once sync.Once
	done func()
}

func (d *doneSource) Fetch(ctx context.Context) (*report.Report, error) {
	rep, err := d.next.Fetch(ctx)
	d.once.Do(d.done)
	return rep, err
}

// BenchmarkSchedulerManyAccounts measures how close the scheduler comes to
// the ideal when many accounts are refreshed through a bounded number of
// slots against a slow AWS: one op is the first full refresh of every
// account, wired as internal/selection wires it (assumed role,
// awsapi.ReportSource with the alias read). Every call the fake answers waits latency, so the ideal wall time
// is calls × latency / concurrency; x-ideal is the measured time over that,
// 1 when no slot ever idles and the client adds nothing.
func BenchmarkSchedulerManyAccounts(b *testing.B) {
	const (
		accounts    = 200
		concurrency = 10
		latency     = 20 * time.Millisecond
	)
	fake := fakeaws.New("300000000000")
	b.Cleanup(fake.Close)
	// AssumeRole acts in the caller's account, the others in the member's.
	fake.DefaultAccount().SetLatency(latency)
	ids := make([]string, accounts)
	for i := range ids {
		ids[i] = fmt.Sprintf("31%010d", i)
		a := fake.Account(ids[i])
		// Each account's own report: one naming another account is rejected.
		a.SetReport(reportgen.Generate(reportgen.Options{AccountID: ids[i], Users: 20}), time.Now().Add(-time.Hour))
		a.SetLatency(latency)
	}
	base := fake.Config()
	logger := slog.New(slog.DiscardHandler)

	var elapsed, ideal time.Duration
	var calls int
	for b.Loop() {
		b.StopTimer()
		var wg sync.WaitGroup
		wg.Add(accounts)
		targets := make([]refresh.Target, accounts)
		for i, id := range ids {
			roleARN := "arn:aws:iam::" + id + ":role/iam-reader"
			cfg := awsapi.AssumeRole(base, roleARN, "")
			src := awsapi.NewReportSource(cfg, id, awsapi.SourceOptions{AliasInterval: 24 * time.Hour}, logger)
			targets[i] = refresh.Target{AccountID: id, Source: &doneSource{next: src, done: wg.Done}, Key: roleARN}
		}
		// An interval far longer than the op: each account refreshes once.
		s := refresh.NewScheduler(time.Hour, time.Minute, concurrency, logger, nil)
		ctx, cancel := context.WithCancel(context.Background())
		fake.ResetRequests()
		b.StartTimer()

		start := time.Now()
		s.Sync(ctx, targets)
		wg.Wait()
		took := time.Since(start)

		b.StopTimer()
		cancel()
		s.Wait()
		for _, st := range s.States() {
			if st.LastErr != nil {
				b.Fatalf("account %s: %v", st.AccountID, st.LastErr)
			}
		}
		n := fake.TotalRequests()
		elapsed += took
		calls += n
		ideal += time.Duration(n) * latency / concurrency
		b.StartTimer()
	}
	b.ReportMetric(elapsed.Seconds()/ideal.Seconds(), "x-ideal")
	b.ReportMetric(float64(calls)/float64(b.N*accounts), "calls/account")
}
