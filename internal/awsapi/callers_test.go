package awsapi_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/awsapi"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/fakeaws"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/testenv"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// The keys of the callers scenario: ci is mid-rotation and its old key is
// still used; deployer is mid-rotation and its new key is used from a VPC
// endpoint; quiet has one key.
const (
	ciOld, ciNew             = "AKIAFAKECIOLD0000001", "AKIAFAKECINEW0000002"
	deployerOld, deployerNew = "AKIAFAKEDEPOLD000003", "AKIAFAKEDEPNEW000004"
	quietKey                 = "AKIAFAKEQUIET0000005"
)

// callersScenario gives the default account the three users, with a report
// that says ci's old key was last used in eu-west-1.
func callersScenario(t *testing.T, s *fakeaws.Server) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	users := []fakeaws.User{
		{Name: "ci", AccessKeys: []fakeaws.AccessKey{
			{ID: ciOld, Created: now.Add(-100 * 24 * time.Hour), Active: true},
			{ID: ciNew, Created: now.Add(-3 * 24 * time.Hour), Active: true},
		}},
		{Name: "deployer", AccessKeys: []fakeaws.AccessKey{
			{ID: deployerOld, Created: now.Add(-95 * 24 * time.Hour), Active: true},
			{ID: deployerNew, Created: now.Add(-2 * 24 * time.Hour), Active: true},
		}},
		{Name: "quiet", AccessKeys: []fakeaws.AccessKey{{ID: quietKey, Created: now.Add(-10 * 24 * time.Hour), Active: true}}},
	}
	a := s.DefaultAccount()
	a.SetUsers(users)
	a.SetReport(fakeaws.WithKeyLastUsed(fakeaws.ReportCSV(baseAccount, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), users),
		"ci", 0, now.Add(-2*time.Hour), "eu-west-1", "ec2"), now.Add(-time.Hour))
}

// inBubble runs f with the callers scenario in a bubble (see withFake).
func inBubble(t *testing.T, opts awsapi.CallerOptions, f func(t *testing.T, s *fakeaws.Server, src *awsapi.ReportSource, logs *testenv.Buffer)) {
	withFake(t, func(t *testing.T, s *fakeaws.Server, cfg aws.Config) {
		var logs testenv.Buffer
		logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
		callersScenario(t, s)
		src := awsapi.NewReportSource(cfg, baseAccount, awsapi.SourceOptions{
			AccessKeyIDs: true, AccessKeyIDsRate: 1e6, KeyCallers: true, Callers: opts,
		}, logger)
		f(t, s, src, &logs)
	})
}

// event is an event of key, age before now, recorded in region.
func event(key, region string, age time.Duration, ip, agent string) fakeaws.TrailEvent {
	return fakeaws.TrailEvent{AccessKeyID: key, Region: region, Time: time.Now().Add(-age), SourceIP: ip, UserAgent: agent}
}

func callsByKey(s *fakeaws.Server) map[string]map[string]int {
	out := map[string]map[string]int{}
	for _, c := range s.TrailCalls() {
		if out[c.AccessKeyID] == nil {
			out[c.AccessKeyID] = map[string]int{}
		}
		out[c.AccessKeyID][c.Region]++
	}
	return out
}

func TestKeyCallers(t *testing.T) {
	inBubble(t, awsapi.CallerOptions{}, func(t *testing.T, s *fakeaws.Server, src *awsapi.ReportSource, logs *testenv.Buffer) {
		now := time.Now()
		a := s.DefaultAccount()
		a.AddTrailEvents(
			// Two hosts use ci's old key: one daily in eu-west-1, one
			// weekly job (6 days ago) in us-east-1; old events fall
			// outside the window.
			event(ciOld, "eu-west-1", 2*time.Hour, "203.0.113.10", "aws-sdk-java/1.12 Jenkins/2.440"),
			event(ciOld, "eu-west-1", 26*time.Hour, "203.0.113.10", "aws-sdk-java/1.12 Jenkins/2.440"),
			event(ciOld, "us-east-1", 6*24*time.Hour, "198.51.100.7", "aws-cli/2.15 cron"),
			event(ciOld, "us-east-1", 20*24*time.Hour, "192.0.2.99", "too old"),
			// ci's old key in a region neither read.
			event(ciOld, "ap-south-1", time.Hour, "192.0.2.1", "unseen"),
			event(deployerNew, "us-east-1", time.Hour, "10.0.1.5", "aws-sdk-go-v2/1.30 deploy"),
			fakeaws.TrailEvent{AccessKeyID: deployerNew, Region: "us-east-1", Time: time.Now().Add(-3 * time.Hour),
				SourceIP: "10.0.1.5", UserAgent: "aws-sdk-go-v2/1.30 deploy", VPCEndpointID: "vpce-0123456789abcdef0"},
			fakeaws.TrailEvent{AccessKeyID: deployerNew, Region: "us-east-1", Time: time.Now().Add(-4 * time.Hour),
				SourceIP: "cloudformation.amazonaws.com", UserAgent: "cloudformation.amazonaws.com", EventSource: "iam.amazonaws.com"},
			event(quietKey, "us-east-1", time.Hour, "192.0.2.50", "quiet"),
		)
		rep := mustFetch(t, src, "first refresh")

		ci := rep.KeyCallers["ci"]
		want := []report.KeyCaller{
			{SourceIP: "203.0.113.10", UserAgent: "aws-sdk-java/1.12 Jenkins/2.440", EventSource: "sts.amazonaws.com", Origin: report.OriginOther,
				LastSeen: now.Add(-2 * time.Hour).UTC().Truncate(time.Second), Events: 2},
			{SourceIP: "198.51.100.7", UserAgent: "aws-cli/2.15 cron", EventSource: "sts.amazonaws.com", Origin: report.OriginOther,
				LastSeen: now.Add(-6 * 24 * time.Hour).UTC().Truncate(time.Second), Events: 1},
		}
		if !slices.Equal(ci[0], want) {
			t.Errorf("ci's old key: callers\n%+v\nwant\n%+v", ci[0], want)
		}
		if len(ci[1]) != 0 {
			t.Errorf("ci's new key: callers %+v, want none", ci[1])
		}
		dep := rep.KeyCallers["deployer"][1]
		origins := map[report.Origin]int{}
		for _, c := range dep {
			origins[c.Origin] += c.Events
		}
		if want := map[report.Origin]int{report.OriginVPCEndpoint: 1, report.OriginAWSService: 1, report.OriginOther: 1}; !mapsEqual(origins, want) {
			t.Errorf("deployer's new key: events by origin %v, want %v (callers %+v)", origins, want, dep)
		}
		if _, ok := rep.KeyCallers["quiet"]; ok {
			t.Errorf("quiet, not in a rotation, has callers")
		}

		calls := callsByKey(s)
		if n := len(calls[quietKey]); n != 0 {
			t.Errorf("the key not in a rotation cost LookupEvents calls: %v", calls[quietKey])
		}
		// A day a call: seven days in eu-west-1, where the report says the
		// key was last used, and seven in us-east-1, the home region.
		if got, want := calls[ciOld], map[string]int{"eu-west-1": 7, "us-east-1": 7}; !mapsEqual(got, want) {
			t.Errorf("ci's old key: calls by region %v, want %v", got, want)
		}
		for _, k := range []string{ciNew, deployerOld, deployerNew} {
			if got, want := calls[k], map[string]int{"us-east-1": 7}; !mapsEqual(got, want) {
				t.Errorf("key %s: calls by region %v, want %v", k, got, want)
			}
		}
		// The default rate: at most one call a second in each region.
		last := map[string]time.Time{}
		for _, c := range s.TrailCalls() {
			if p, ok := last[c.Region]; ok && c.At.Sub(p) < time.Second {
				t.Errorf("two calls in %s %s apart", c.Region, c.At.Sub(p))
			}
			last[c.Region] = c.At
		}
		if st := lookupOf(rep, report.LookupKeyCallers); !st.OK || st.Missing != 0 || st.Dropped != 0 {
			t.Errorf("lookup status %+v, want OK and nothing missing or dropped", st)
		}

		// Within the interval, the callers are served again without a call.
		before := len(s.TrailCalls())
		rep = mustFetch(t, src, "second refresh")
		if n := len(s.TrailCalls()) - before; n != 0 {
			t.Errorf("second refresh made %d LookupEvents calls, want 0", n)
		}
		if !slices.Equal(rep.KeyCallers["ci"][0], want) {
			t.Errorf("second refresh: ci's old key callers %+v", rep.KeyCallers["ci"][0])
		}
		if strings.Contains(logs.String(), "level=WARN") {
			t.Errorf("warnings logged:\n%s", logs)
		}
	})
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// busyDay gives ci's new key n events in the last day, a minute apart.
func busyDay(s *fakeaws.Server, n int) {
	var evs []fakeaws.TrailEvent
	for i := range n {
		evs = append(evs, event(ciNew, "us-east-1", time.Duration(i+1)*time.Minute, "203.0.113.20", "busy"))
	}
	s.DefaultAccount().AddTrailEvents(evs...)
}

func TestKeyCallersPaging(t *testing.T) {
	tests := []struct {
		name   string
		paging fakeaws.TrailPaging
		// wantEvents is the busy caller's count; wantDayCalls the calls of
		// the key's busy day, wantQuietCalls of each of the six others.
		wantEvents, wantDayCalls, wantQuietCalls int
	}{
		{"pages followed up to the limit", fakeaws.TrailPagingNormal, 120, 3, 1},
		// A token on every page, empty ones included: the second page
		// repeats the first's token.
		{"a looping NextToken ends the day", fakeaws.TrailPagingLoop, 50, 2, 2},
		{"a refused NextToken ends the day", fakeaws.TrailPagingBadToken, 50, 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inBubble(t, awsapi.CallerOptions{PagesPerDay: 4}, func(t *testing.T, s *fakeaws.Server, src *awsapi.ReportSource, logs *testenv.Buffer) {
				busyDay(s, 120)
				s.SetTrailPaging(tt.paging)
				rep := mustFetch(t, src, "refresh")
				got := rep.KeyCallers["ci"][1]
				if len(got) != 1 || got[0].Events != tt.wantEvents {
					t.Errorf("callers %+v, want one with %d events", got, tt.wantEvents)
				}
				day := 0
				for _, c := range s.TrailCalls() {
					if c.AccessKeyID == ciNew {
						day++
					}
				}
				if want := tt.wantDayCalls + 6*tt.wantQuietCalls; day != want {
					t.Errorf("ci's new key: %d calls, want %d", day, want)
				}
				if st := lookupOf(rep, report.LookupKeyCallers); !st.OK {
					t.Errorf("lookup status %+v, want OK", st)
				}
			})
		})
	}
}

func TestKeyCallersFailures(t *testing.T) {
	tests := []struct {
		name    string
		code    string
		wantLog []string
	}{
		{"throttled beyond the retries", "ThrottlingException", []string{"cannot read the callers", "ThrottlingException", "region us-east-1", "not read"}},
		{"access denied", "AccessDeniedException", []string{"cloudtrail:LookupEvents", "aws_iam_access_key_caller_* stays absent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inBubble(t, awsapi.CallerOptions{}, func(t *testing.T, s *fakeaws.Server, src *awsapi.ReportSource, logs *testenv.Buffer) {
				s.DefaultAccount().AddTrailEvents(event(ciOld, "eu-west-1", time.Hour, "203.0.113.10", "jenkins"))
				s.DefaultAccount().FailLookupEvents("us-east-1", tt.code, -1)
				rep := mustFetch(t, src, "refresh")
				st := lookupOf(rep, report.LookupKeyCallers)
				// Every key reads us-east-1: all four are missing.
				if st.OK || st.Missing != 4 {
					t.Errorf("lookup status %+v, want failed with 4 keys missing", st)
				}
				// us-east-1 is skipped after its first failure (three
				// attempts when retried); eu-west-1 is still read.
				calls := callsByKey(s)
				east := 0
				for _, byRegion := range calls {
					east += byRegion["us-east-1"]
				}
				if max := 3; east > max {
					t.Errorf("%d calls in the failing region, want at most %d", east, max)
				}
				if calls[ciOld]["eu-west-1"] != 7 {
					t.Errorf("ci's old key: %d calls in eu-west-1, want 7", calls[ciOld]["eu-west-1"])
				}
				// What was read is served, the report is whole.
				if got := rep.KeyCallers["ci"][0]; len(got) != 1 || got[0].SourceIP != "203.0.113.10" {
					t.Errorf("ci's old key: callers %+v, want the eu-west-1 host", got)
				}
				if len(rep.Users) != 4 {
					t.Errorf("report has %d rows, want 4", len(rep.Users))
				}
				for _, w := range tt.wantLog {
					if !strings.Contains(logs.String(), w) {
						t.Errorf("log lacks %q:\n%s", w, logs)
					}
				}
			})
		})
	}
}

func TestKeyCallersDropsForeignEvents(t *testing.T) {
	inBubble(t, awsapi.CallerOptions{}, func(t *testing.T, s *fakeaws.Server, src *awsapi.ReportSource, logs *testenv.Buffer) {
		s.AddForeignTrailEvent(event("AKIAFAKEOTHER0000009", "us-east-1", time.Hour, "192.0.2.66", "intruder"))
		s.DefaultAccount().AddTrailEvents(
			event(ciNew, "us-east-1", time.Hour, "203.0.113.30", "mine"),
			// The record names another key than the event.
			fakeaws.TrailEvent{AccessKeyID: ciNew, RecordAccessKeyID: "AKIAFAKEOTHER0000009", Region: "us-east-1",
				Time: time.Now().Add(-2 * time.Hour), SourceIP: "192.0.2.67", UserAgent: "forged"},
		)
		rep := mustFetch(t, src, "refresh")
		for user, slots := range rep.KeyCallers {
			for _, cs := range slots {
				for _, c := range cs {
					if c.SourceIP == "192.0.2.66" || c.SourceIP == "192.0.2.67" {
						t.Errorf("%s: another key's caller kept: %+v", user, c)
					}
				}
			}
		}
		if got := rep.KeyCallers["ci"][1]; len(got) != 1 || got[0].SourceIP != "203.0.113.30" {
			t.Errorf("ci's new key: callers %+v", got)
		}
		// The foreign event is in each of the 35 answers (5 keys' days … 4
		// keys × 7 days, plus 7 for eu-west-1 where it is not), and the
		// forged one once.
		if st := lookupOf(rep, report.LookupKeyCallers); st.Dropped != 4*7+1 {
			t.Errorf("dropped %d, want %d", st.Dropped, 4*7+1)
		}
		if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
			t.Errorf("%d warnings, want 1:\n%s", n, logs)
		}
	})
}

func TestKeyCallersCleanFields(t *testing.T) {
	inBubble(t, awsapi.CallerOptions{}, func(t *testing.T, s *fakeaws.Server, src *awsapi.ReportSource, logs *testenv.Buffer) {
		agent := "evil\nlevel=ERROR msg=forged\u202e" + strings.Repeat("é", 200)
		s.DefaultAccount().AddTrailEvents(event(ciNew, "us-east-1", time.Hour, "203.0.113.40\r\n", agent))
		rep := mustFetch(t, src, "refresh")
		got := rep.KeyCallers["ci"][1]
		if len(got) != 1 {
			t.Fatalf("callers %+v", got)
		}
		c := got[0]
		if c.SourceIP != "203.0.113.40" {
			t.Errorf("source IP %q", c.SourceIP)
		}
		if strings.ContainsAny(c.UserAgent, "\n\u202e") || len(c.UserAgent) > 128 || !strings.HasPrefix(c.UserAgent, "evillevel=ERROR") || !strings.HasSuffix(c.UserAgent, "…") {
			t.Errorf("user agent not cleaned: %q (%d bytes)", c.UserAgent, len(c.UserAgent))
		}
	})
}

func TestKeyCallersCap(t *testing.T) {
	inBubble(t, awsapi.CallerOptions{MaxKeys: 3}, func(t *testing.T, s *fakeaws.Server, src *awsapi.ReportSource, logs *testenv.Buffer) {
		rep := mustFetch(t, src, "first refresh")
		if st := lookupOf(rep, report.LookupKeyCallers); !st.OK || st.Missing != 1 {
			t.Errorf("first refresh: status %+v, want OK with 1 key missing", st)
		}
		first := callsByKey(s)
		rep = mustFetch(t, src, "second refresh")
		if st := lookupOf(rep, report.LookupKeyCallers); st.Missing != 0 {
			t.Errorf("second refresh: status %+v, want nothing missing", st)
		}
		second := callsByKey(s)
		// The second refresh reads the one key the first left.
		var readSecond []string
		for k := range second {
			if len(first[k]) == 0 {
				readSecond = append(readSecond, k)
			}
		}
		if len(readSecond) != 1 {
			t.Errorf("second refresh read %v, want the one key left", readSecond)
		}
	})
}

func TestLoadIPRanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ip-ranges.json")
	if err := os.WriteFile(path, []byte(`{"syncToken":"1","createDate":"2024-05-01-00-00-00","prefixes":[{"ip_prefix":"52.94.0.0/22","region":"us-east-1","service":"EC2","network_border_group":"us-east-1"}],"ipv6_prefixes":[{"ipv6_prefix":"2600:1f00::/24","region":"us-east-1","service":"EC2","network_border_group":"us-east-1"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ranges, err := awsapi.LoadIPRanges(path)
	if err != nil {
		t.Fatal(err)
	}
	withFake(t, func(t *testing.T, s *fakeaws.Server, cfg aws.Config) {
		callersScenario(t, s)
		s.DefaultAccount().AddTrailEvents(
			event(ciNew, "us-east-1", time.Hour, "52.94.1.2", "on-ec2"),
			event(ciNew, "us-east-1", 2*time.Hour, "2600:1f00::5", "on-ec2-v6"),
			event(ciNew, "us-east-1", 3*time.Hour, "52.95.0.1", "elsewhere"),
		)
		src := awsapi.NewReportSource(cfg, baseAccount, awsapi.SourceOptions{AccessKeyIDs: true, AccessKeyIDsRate: 1e6, KeyCallers: true,
			Callers: awsapi.CallerOptions{AWSRanges: ranges}}, discardLogger())
		rep := mustFetch(t, src, "refresh")
		got := map[string]report.Origin{}
		for _, c := range rep.KeyCallers["ci"][1] {
			got[c.SourceIP] = c.Origin
		}
		want := map[string]report.Origin{"52.94.1.2": report.OriginAWSIPRange, "2600:1f00::5": report.OriginAWSIPRange, "52.95.0.1": report.OriginOther}
		if !mapsEqual(got, want) {
			t.Errorf("origins %v, want %v", got, want)
		}
	})
	if _, err := awsapi.LoadIPRanges(filepath.Join(t.TempDir(), "none.json")); err == nil {
		t.Error("a missing file loads")
	}
}
