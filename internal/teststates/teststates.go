// Package teststates builds the account states the scheduler publishes after
// one good refresh, from synthetic reports, for benchmarks of the scrape path.
package teststates

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/refresh"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/reportgen"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// Published returns one state per account, each with a parsed report of
// users users with realistic value distributions, a name and an alias.
func Published(tb testing.TB, accounts, users int) []*refresh.State {
	tb.Helper()
	states := make([]*refresh.State, accounts)
	for i := range states {
		id := strconv.Itoa(100000000000 + i)
		rep, err := report.Parse(bytes.NewReader(reportgen.Generate(reportgen.Options{AccountID: id, Users: users, Seed: int64(i)})))
		if err != nil {
			tb.Fatal(err)
		}
		rep.GeneratedAt = reportgen.DefaultNow
		rep.AccountAlias = "alias-" + id
		states[i] = &refresh.State{
			AccountID: id, AccountName: "account " + id, Report: rep,
			LastAttempt: reportgen.DefaultNow, LastSuccess: reportgen.DefaultNow, LastDuration: 2 * time.Second, Refreshes: 1,
		}
	}
	return states
}
