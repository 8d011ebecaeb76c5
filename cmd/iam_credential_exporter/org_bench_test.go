// Benchmarks of an organization of 5,000 accounts of 100 users, as
// Prometheus scrapes it: one target per account (?account_id=) listed by
// /sd, or one target for all.

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/refresh"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/teststates"
)

const orgAccounts, orgUsers = 5000, 100

var org struct {
	once   sync.Once
	base   uint64 // heap before the states were made
	states []*refresh.State
}

// orgStates makes the organization's states once for all benchmarks.
func orgStates(b *testing.B) []*refresh.State {
	org.once.Do(func() {
		org.base = heapAlloc()
		org.states = teststates.Published(b, orgAccounts, orgUsers)
	})
	return org.states
}

// refreshed returns states with k accounts refreshed with a new report (of
// the same users), spread over the organization.
func refreshed(states []*refresh.State, k, round int) []*refresh.State {
	next := slices.Clone(states)
	for i := range k {
		j := (round*k + i) * 97 % len(next)
		s := *next[j]
		rep := *s.Report
		s.Report = &rep
		s.Refreshes++
		next[j] = &s
	}
	return next
}

// timedScrape scrapes url with the Accept header accept, and gzip, and
// returns how long it took.
func timedScrape(b *testing.B, client *http.Client, url, accept string) time.Duration {
	start := time.Now()
	if _, err := scrapeAccepting(client, url, accept, "gzip", io.Discard); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// BenchmarkOrganization measures, at 5,000 accounts of 100 users:
//   - heap: the heap per user once Prometheus has scraped every account's
//     target, the exporter's own and the single target (gzip);
//   - account-scrape: one account's target, as Prometheus scrapes it;
//   - sd: the whole /sd listing;
//   - first-scrape: the first scrape of the single target after start (all
//     accounts published at once), as Prometheus asks for it and as curl
//     --compressed does (no Accept header), and after a burst of 50
//     refreshes, each over the warm scrape that follows it;
//   - after-k-refreshes: a scrape of the single target after k accounts
//     got a new report since the last one (the refreshes, done in the
//     refresh goroutines, are not timed).
func BenchmarkOrganization(b *testing.B) {
	states := orgStates(b)
	users := float64(orgAccounts * orgUsers)
	url, metrics := startExporter(b, states)
	client := newClient()
	ids := make([]string, len(states))
	for i, s := range states {
		ids[i] = s.AccountID
	}

	b.Run("heap", func(b *testing.B) {
		for _, id := range ids {
			if _, err := scrape(client, url+"?account_id="+id, "gzip", io.Discard); err != nil {
				b.Fatal(err)
			}
		}
		for _, u := range []string{url + "?exporter=true", url} {
			if _, err := scrape(client, u, "gzip", io.Discard); err != nil {
				b.Fatal(err)
			}
		}
		steady := heapAlloc()
		for b.Loop() {
		}
		runtime.KeepAlive(states)
		b.ReportMetric((float64(steady)-float64(org.base))/users, "heap-B/user")
	})

	b.Run("account-scrape", func(b *testing.B) {
		var body bytes.Buffer
		header, err := scrape(client, url+"?account_id="+ids[0], "gzip", &body)
		if err != nil {
			b.Fatal(err)
		}
		checkAccountBody(b, header, body.Bytes(), states[0])
		i := 0
		for b.Loop() {
			if _, err := scrape(client, url+"?account_id="+ids[i%len(ids)], "gzip", io.Discard); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})

	b.Run("sd", func(b *testing.B) {
		sdURL := url[:len(url)-len("/metrics")] + sdPath
		var groups []json.RawMessage
		resp, err := client.Get(sdURL)
		if err != nil {
			b.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&groups)
		resp.Body.Close()
		if err != nil || len(groups) != orgAccounts+1 {
			b.Fatalf("%d target groups, %v", len(groups), err)
		}
		for b.Loop() {
			resp, err := client.Get(sdURL)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})

	b.Run("first-scrape", func(b *testing.B) {
		var afterStart, afterStartCurl, afterBurst, warm time.Duration
		round := 0
		for b.Loop() {
			// A restart (a new handler, every account published; not
			// timed), then the first scrape and the next, for each client.
			for _, first := range []struct {
				accept string
				d      *time.Duration
			}{{prometheusAccept, &afterStart}, {"", &afterStartCurl}} {
				b.StopTimer()
				fresh, h := startExporter(b, states)
				b.StartTimer()
				*first.d += timedScrape(b, client, fresh, first.accept)
				warm += timedScrape(b, client, fresh, first.accept)
				if first.accept != "" {
					continue
				}
				b.StopTimer()
				h.Update(refreshed(states, 50, round))
				round++
				b.StartTimer()
				afterBurst += timedScrape(b, client, fresh, prometheusAccept)
				warm += timedScrape(b, client, fresh, prometheusAccept)
			}
		}
		n := float64(b.N)
		warmEach := float64(warm) / (3 * n)
		b.ReportMetric(float64(afterStart)/n/warmEach, "after-start/warm")
		b.ReportMetric(float64(afterStartCurl)/n/warmEach, "after-start-curl/warm")
		b.ReportMetric(float64(afterBurst)/n/warmEach, "after-burst/warm")
		b.ReportMetric(warmEach/1e6, "warm-ms")
	})

	for _, k := range []int{0, 1, 10, 50} {
		b.Run(fmt.Sprintf("after-k-refreshes/k=%d", k), func(b *testing.B) {
			round := 0
			current := states
			for b.Loop() {
				b.StopTimer()
				current = refreshed(current, k, round)
				if k > 0 {
					metrics.Update(current)
				}
				round++
				b.StartTimer()
				if _, err := scrape(client, url, "gzip", io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	runtime.KeepAlive(metrics)
}

// checkAccountBody makes sure that an account's target serves all its
// users and nothing of the exporter's own.
func checkAccountBody(tb testing.TB, header http.Header, body []byte, s *refresh.State) {
	tb.Helper()
	plain := gunzip(tb, header, body)
	if got := bytes.Count(plain, []byte("\naws_iam_user_info{")); got != len(s.Report.Users) {
		tb.Fatalf("%d aws_iam_user_info samples, want %d", got, len(s.Report.Users))
	}
	if bytes.Contains(plain, []byte("process_cpu_seconds_total")) || !strings.HasPrefix(header.Get("Content-Type"), "text/plain; version=0.0.4") {
		tb.Fatalf("not one account's text response: %s\n%.300s", header.Get("Content-Type"), plain)
	}
}
