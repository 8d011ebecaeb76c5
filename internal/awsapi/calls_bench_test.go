package awsapi_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/collector"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/awsapi"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/fakeaws"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/refresh"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/reportgen"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// listCalls is what the per-user approach of other tools costs for one
// account: the 1 + U/100 + U + K, with U the IAM users (ListUsers
// pages of 100, then ListAccessKeys per user) and K their access keys
// (GetAccessKeyLastUsed per key). A slot holds a key if it is active or has
// a rotation date.
func listCalls(tb testing.TB, csv []byte) int {
	rep, err := report.Parse(bytes.NewReader(csv))
	if err != nil {
		tb.Fatal(err)
	}
	users, keys := 0, 0
	for _, u := range rep.Users {
		if u.Root {
			continue
		}
		users++
		for _, k := range u.AccessKeys {
			if k.Active.Value || k.LastRotated.Status == report.Present {
				keys++
			}
		}
	}
	return 1 + (users+99)/100 + users + keys
}

// BenchmarkAWSCalls counts the AWS calls the exporter makes. Accounts are read
// through the fake IAM and STS endpoint with the real SDK clients, as
// internal/selection wires them (an assumed role per account); its request log counts the calls
// of steady-state refreshes (after the first, which also assumes the role
// and reads the alias) and of scrapes, which must make none.
func BenchmarkAWSCalls(b *testing.B) {
	for _, sc := range []struct {
		name            string
		accounts, users int
	}{{"users=5000", 1, 5000}, {"accounts=100x500", 100, 500}} {
		b.Run(sc.name, func(b *testing.B) {
			fake := fakeaws.New("999999999999")
			b.Cleanup(fake.Close)
			logger := slog.New(slog.DiscardHandler)
			refreshers := make([]*refresh.Refresher, sc.accounts)
			list := 0
			for i := range refreshers {
				id := strconv.Itoa(100000000000 + i)
				csv := reportgen.Generate(reportgen.Options{AccountID: id, Users: sc.users, Seed: int64(i)})
				fake.Account(id).SetReport(csv, time.Now())
				cfg := awsapi.AssumeRole(fake.Config(), "arn:aws:iam::"+id+":role/reader", "")
				source := awsapi.NewReportSource(cfg, id, awsapi.SourceOptions{AliasInterval: 24 * time.Hour}, logger)
				refreshers[i] = refresh.NewRefresher(refresh.Target{AccountID: id, Source: source}, time.Minute, logger)
				list += listCalls(b, csv)
			}
			handler, err := collector.NewHandler(collector.HandlerOpts{})
			if err != nil {
				b.Fatal(err)
			}
			states := func() []*refresh.State {
				out := make([]*refresh.State, len(refreshers))
				for i, r := range refreshers {
					out[i] = r.State()
				}
				return out
			}
			ctx := context.Background()
			refreshAll := func() {
				for _, r := range refreshers {
					r.Refresh(ctx)
					if err := r.State().LastErr; err != nil {
						b.Fatal(err)
					}
				}
			}

			refreshAll()
			handler.Update(states())
			first := fake.TotalRequests()
			fake.ResetRequests()
			refreshes := 0
			b.ReportAllocs()
			for b.Loop() {
				refreshAll()
				refreshes += len(refreshers)
			}
			steady := fake.TotalRequests()

			fake.ResetRequests()
			const scrapes = 10
			for range scrapes {
				req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
				req.Header.Set("Accept-Encoding", "gzip")
				rec := httptest.NewRecorder()
				handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("scrape: %d", rec.Code)
				}
			}
			perScrape := float64(fake.TotalRequests()) / scrapes

			perRefresh := float64(steady) / float64(refreshes)
			perAccount := float64(list) / float64(len(refreshers))
			b.ReportMetric(perRefresh, "calls/refresh")
			b.ReportMetric(perScrape, "calls/scrape")
			b.ReportMetric(float64(first)/float64(len(refreshers)), "first-refresh-calls")
			b.ReportMetric(perAccount, "list-approach-calls/refresh")
			b.ReportMetric(perAccount/perRefresh, "call-reduction")
		})
	}
}
