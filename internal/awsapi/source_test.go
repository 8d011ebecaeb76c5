package awsapi_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/awsapi"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/fakeaws"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/reportgen"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

const (
	baseAccount   = "111111111111"
	memberAccount = "222222222222"
)

var awsTestCSV = []byte(`user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated
<root_account>,arn:aws:iam::111111111111:root,2017-03-14T09:21:07Z,not_supported,no_information,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
alice,arn:aws:iam::111111111111:user/alice,2023-02-06T10:12:44Z,true,2024-04-20T16:03:11Z,2024-01-19T09:30:02Z,N/A,true,true,2024-01-03T13:47:09Z,2024-04-21T22:41:00Z,us-east-1,iam,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A`)

// observations counts Observe calls by "operation code".
type observations struct {
	mu sync.Mutex
	n  map[string]int
}

func (o *observations) observe(operation, code string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n == nil {
		o.n = make(map[string]int)
	}
	o.n[operation+" "+code]++
}

func (o *observations) counts() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.n)
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newSource(cfg aws.Config, account string) *awsapi.ReportSource {
	return awsapi.NewReportSource(cfg, account, awsapi.SourceOptions{}, discardLogger())
}

// withFake runs f in a synctest bubble against a fake in memory, with the
// exporter's response limit: the SDK's waits and the limiters' take no real
// time. The bubble's clock starts in 2000, before IAM had credential
// reports: it is moved to today, which takes no time.
func withFake(t *testing.T, f func(t *testing.T, s *fakeaws.Server, cfg aws.Config)) {
	today := time.Now()
	synctest.Test(t, func(t *testing.T) {
		time.Sleep(time.Until(today))
		s := fakeaws.NewInMemory(baseAccount)
		t.Cleanup(s.Close)
		cfg := s.Config()
		cfg.HTTPClient = awsapi.WrapHTTPClient(s.HTTPClient(), 8<<20)
		f(t, s, cfg)
	})
}

// limitedClient is the SDK's HTTP client with the exporter's response limit.
func limitedClient(limit int64) aws.HTTPClient {
	return awsapi.WrapHTTPClient(awshttp.NewBuildableClient(), limit)
}

func newFakeAWS(t *testing.T) (*fakeaws.Server, aws.Config) {
	t.Helper()
	s := fakeaws.New(baseAccount)
	t.Cleanup(s.Close)
	cfg := s.Config()
	cfg.HTTPClient = limitedClient(8 << 20)
	return s, cfg
}

const (
	gen = fakeaws.GenerateCredentialReport
	get = fakeaws.GetCredentialReport
)

// Each case runs in a synctest bubble against the fake in memory: the
// deadlines, the poll backoff (2 s doubling up to 30 s) and the fake's
// latency are on the bubble's clock, which moves only while every goroutine
// waits, so a busy machine cannot make a call miss a deadline that an idle
// one meets, and minutes of polling take no time.
func TestReportSourceFetch(t *testing.T) {
	// An hour old on the clock of the bubble that calls it.
	generated := func() time.Time { return time.Now().UTC().Add(-time.Hour).Truncate(time.Second) }
	steady := func(a *fakeaws.Account) { a.SetReport(awsTestCSV, generated()) }

	tests := []struct {
		name    string
		setup   func(s *fakeaws.Server, a *fakeaws.Account)
		timeout time.Duration
		// wantErr lists substrings of the error; none means success.
		wantErr   []string
		wantErrIs error
		// wantInvalid: the error is a rejected report (ErrInvalidReport).
		wantInvalid bool
		// wantCalls counts requests to the fake, retries included.
		wantCalls map[string]int
		// wantObserved counts Observe calls by "operation code"; nil skips.
		wantObserved map[string]int
	}{
		{
			name:         "steady state takes two calls",
			setup:        func(_ *fakeaws.Server, a *fakeaws.Account) { steady(a) },
			wantCalls:    map[string]int{gen: 1, get: 1},
			wantObserved: map[string]int{gen + " ": 1, get + " ": 1},
		},
		{
			name:      "first run waits for the report to be built",
			setup:     func(_ *fakeaws.Server, a *fakeaws.Account) { a.SetCSV(awsTestCSV) },
			wantCalls: map[string]int{gen: 3, get: 1},
		},
		{
			name: "long build",
			setup: func(_ *fakeaws.Server, a *fakeaws.Account) {
				a.SetCSV(awsTestCSV)
				a.SetInProgressPolls(6)
			},
			wantCalls: map[string]int{gen: 8, get: 1},
		},
		{
			name: "report not present after COMPLETE",
			setup: func(_ *fakeaws.Server, a *fakeaws.Account) {
				steady(a)
				a.Fail(get, "ReportNotPresent", 1)
			},
			wantCalls:    map[string]int{gen: 2, get: 2},
			wantObserved: map[string]int{gen + " ": 2, get + " ReportNotPresent": 1, get + " ": 1},
		},
		{
			name: "report expired after COMPLETE",
			setup: func(_ *fakeaws.Server, a *fakeaws.Account) {
				steady(a)
				a.Fail(get, "ReportExpired", 1)
			},
			wantCalls: map[string]int{gen: 2, get: 2},
		},
		{
			name: "report in progress on get",
			setup: func(_ *fakeaws.Server, a *fakeaws.Account) {
				steady(a)
				a.Fail(get, "ReportInProgress", 2)
			},
			wantCalls: map[string]int{gen: 1, get: 3},
		},
		{
			name: "limit exceeded on generate is backed off",
			setup: func(_ *fakeaws.Server, a *fakeaws.Account) {
				steady(a)
				a.Fail(gen, "LimitExceeded", 2)
			},
			wantCalls:    map[string]int{gen: 3, get: 1},
			wantObserved: map[string]int{gen + " LimitExceeded": 2, gen + " ": 1, get + " ": 1},
		},
		{
			name: "limit exceeded on get is backed off",
			setup: func(_ *fakeaws.Server, a *fakeaws.Account) {
				steady(a)
				a.Fail(get, "LimitExceeded", 1)
			},
			wantCalls: map[string]int{gen: 1, get: 2},
		},
		{
			name: "throttling is absorbed by SDK retries",
			setup: func(_ *fakeaws.Server, a *fakeaws.Account) {
				steady(a)
				a.Fail(gen, "Throttling", 2)
			},
			wantCalls:    map[string]int{gen: 3, get: 1},
			wantObserved: map[string]int{gen + " Throttling": 2, gen + " ": 1, get + " ": 1},
		},
		{
			name: "service failure is absorbed by SDK retries",
			setup: func(_ *fakeaws.Server, a *fakeaws.Account) {
				steady(a)
				a.Fail(get, "ServiceFailure", 1)
			},
			wantCalls:    map[string]int{gen: 1, get: 2},
			wantObserved: map[string]int{gen + " ": 1, get + " ServiceFailure": 1, get + " ": 1},
		},
		{
			name: "lasting service failure",
			setup: func(_ *fakeaws.Server, a *fakeaws.Account) {
				steady(a)
				a.Fail(get, "ServiceFailure", -1)
			},
			wantErr:   []string{"get credential report for account " + baseAccount, "ServiceFailure"},
			wantCalls: map[string]int{gen: 1, get: 3},
		},
		{
			name: "access denied on generate names the action",
			setup: func(_ *fakeaws.Server, a *fakeaws.Account) {
				steady(a)
				a.Fail(gen, "AccessDenied", -1)
			},
			wantErr:      []string{"access denied: the credentials lack iam:GenerateCredentialReport in account " + baseAccount},
			wantCalls:    map[string]int{gen: 1},
			wantObserved: map[string]int{gen + " AccessDenied": 1},
		},
		{
			name: "access denied on get names the action",
			setup: func(_ *fakeaws.Server, a *fakeaws.Account) {
				steady(a)
				a.Fail(get, "AccessDenied", -1)
			},
			wantErr:   []string{"access denied: the credentials lack iam:GetCredentialReport in account " + baseAccount},
			wantCalls: map[string]int{gen: 1, get: 1},
		},
		{
			name:      "stuck in progress ends at the deadline",
			setup:     func(_ *fakeaws.Server, a *fakeaws.Account) { a.SetStuck(true) },
			timeout:   time.Minute,
			wantErrIs: awsapi.ErrReportNotReady,
			wantErr:   []string{"last state INPROGRESS"},
		},
		{
			name: "lasting limit exceeded ends at the deadline",
			setup: func(_ *fakeaws.Server, a *fakeaws.Account) {
				steady(a)
				a.Fail(gen, "LimitExceeded", -1)
			},
			timeout:   time.Minute,
			wantErrIs: awsapi.ErrReportNotReady,
			wantErr:   []string{"last state LimitExceeded"},
		},
		{
			name: "deadline during a slow call",
			setup: func(_ *fakeaws.Server, a *fakeaws.Account) {
				steady(a)
				a.SetLatency(time.Hour)
			},
			timeout:      time.Minute,
			wantErrIs:    context.DeadlineExceeded,
			wantErr:      []string{"did not become ready", "last state none"},
			wantCalls:    map[string]int{gen: 1},
			wantObserved: map[string]int{gen + " timeout": 1},
		},
		{
			name: "report that keeps vanishing",
			setup: func(_ *fakeaws.Server, a *fakeaws.Account) {
				steady(a)
				a.Fail(get, "ReportNotPresent", -1)
			},
			wantErr:   []string{"no report after 3 generations", "last state ReportNotPresent"},
			wantCalls: map[string]int{gen: 3, get: 3},
		},
		{
			name: "garbage body",
			setup: func(_ *fakeaws.Server, a *fakeaws.Account) {
				steady(a)
				a.SendGarbage(get, 1)
			},
			wantErr:      []string{"get credential report for account " + baseAccount},
			wantCalls:    map[string]int{gen: 1, get: 1},
			wantObserved: map[string]int{gen + " ": 1, get + " invalid_response": 1},
		},
		{
			name: "oversized body",
			setup: func(_ *fakeaws.Server, a *fakeaws.Account) {
				steady(a)
				a.SetOversizedContent(20 << 20)
			},
			wantErrIs:    awsapi.ErrResponseTooLarge,
			wantInvalid:  true,
			wantErr:      []string{"get credential report for account " + baseAccount + ": invalid credential report: the response is larger than the configured limit"},
			wantCalls:    map[string]int{gen: 1, get: 1},
			wantObserved: map[string]int{gen + " ": 1, get + " response_too_large": 1},
		},
		{
			name:        "invalid report",
			setup:       func(_ *fakeaws.Server, a *fakeaws.Account) { a.SetReport([]byte("name,email\nx,y\n"), generated()) },
			wantErrIs:   report.ErrInvalidReport,
			wantInvalid: true,
			wantErr:     []string{"parse credential report for account " + baseAccount},
			wantCalls:   map[string]int{gen: 1, get: 1},
		},
		{
			name: "endpoint down",
			setup: func(s *fakeaws.Server, a *fakeaws.Account) {
				steady(a)
				s.Close()
			},
			wantErr:      []string{"generate credential report for account " + baseAccount},
			wantObserved: map[string]int{gen + " network": 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			withFake(t, func(t *testing.T, s *fakeaws.Server, cfg aws.Config) {
				tt.setup(s, s.DefaultAccount())
				var obs observations
				cfg.APIOptions = append(cfg.APIOptions, awsapi.ObserveRequests(obs.observe))
				src := newSource(cfg, baseAccount)

				timeout := tt.timeout
				if timeout == 0 {
					timeout = 5 * time.Minute // --report.timeout
				}
				ctx, cancel := context.WithTimeout(t.Context(), timeout)
				defer cancel()
				rep, err := src.Fetch(ctx)

				if len(tt.wantErr) == 0 && tt.wantErrIs == nil {
					if err != nil {
						t.Fatalf("Fetch: %v", err)
					}
					if len(rep.Users) != 2 || rep.Users[1].Name != "alice" || rep.AccountID != baseAccount {
						t.Errorf("report = %d users of account %s, want root and alice of %s", len(rep.Users), rep.AccountID, baseAccount)
					}
					if rep.GeneratedAt.IsZero() || time.Since(rep.GeneratedAt) > 2*time.Hour {
						t.Errorf("GeneratedAt = %v, want the report's GeneratedTime", rep.GeneratedAt)
					}
				} else {
					if err == nil {
						t.Fatal("Fetch succeeded, want an error")
					}
					for _, want := range tt.wantErr {
						if !strings.Contains(err.Error(), want) {
							t.Errorf("error %q does not say %q", err, want)
						}
					}
					if tt.wantErrIs != nil && !errors.Is(err, tt.wantErrIs) {
						t.Errorf("error %q does not wrap %v", err, tt.wantErrIs)
					}
				}
				// A rejected report is counted as one; an AWS failure is not.
				if invalid := errors.Is(err, report.ErrInvalidReport); invalid != tt.wantInvalid {
					t.Errorf("error %q wraps ErrInvalidReport: %v, want %v", err, invalid, tt.wantInvalid)
				}

				if tt.wantCalls != nil {
					for _, action := range []string{gen, get} {
						if got := s.Requests(baseAccount, action); got != tt.wantCalls[action] {
							t.Errorf("%s requests = %d, want %d", action, got, tt.wantCalls[action])
						}
					}
				}
				if tt.wantObserved != nil {
					got := obs.counts()
					if fmt.Sprint(got) != fmt.Sprint(tt.wantObserved) {
						t.Errorf("observed %v, want %v", got, tt.wantObserved)
					}
				}
			})
		})
	}
}

// A report that arrived is checked: its format, its size within the
// source's Limits, a GeneratedTime that can be a report's. One rejected is
// an invalid report, counted as such (one larger than the response limit:
// TestReportSourceFetch).
func TestReportSourceChecksReport(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	generated := now.Add(-time.Hour)
	tests := []struct {
		name      string
		limits    report.Limits
		format    types.ReportFormatType
		generated time.Time
		// want is in the error; "" accepts the report.
		want string
	}{
		{name: "accepted, GeneratedTime in UTC", generated: generated.In(time.FixedZone("CET", 3600))},
		{name: "more users than the limit", limits: report.Limits{MaxUsers: 1}, generated: generated,
			want: "parse credential report for account " + baseAccount + ": invalid credential report: line 3: more than 1 user rows"},
		{name: "GeneratedTime two days ahead", generated: now.Add(48 * time.Hour),
			want: "get credential report for account " + baseAccount + ": invalid credential report: GeneratedTime " + now.Add(48*time.Hour).Format(time.RFC3339) + " is implausible"},
		{name: "GeneratedTime before credential reports existed", generated: time.Date(2013, 6, 1, 0, 0, 0, 0, time.UTC),
			want: "GeneratedTime 2013-06-01T00:00:00Z is implausible"},
		{name: "not CSV", format: "text/html", generated: generated, want: `unsupported report format "text/html"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &iamFuncs{t: t, generate: complete, get: func() (*iam.GetCredentialReportOutput, error) {
				return &iam.GetCredentialReportOutput{Content: awsTestCSV, ReportFormat: cmp.Or(tt.format, types.ReportFormatTypeTextCsv), GeneratedTime: &tt.generated}, nil
			}}
			rep, err := awsapi.NewTestSource(f, baseAccount, awsapi.SourceOptions{Limits: tt.limits}, discardLogger()).Fetch(t.Context())
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(rep.Users) != 2 || !rep.GeneratedAt.Equal(generated) || rep.GeneratedAt.Location() != time.UTC {
					t.Errorf("%d users generated at %v, want 2 at %v", len(rep.Users), rep.GeneratedAt, generated)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted a report of %d users generated %v", len(rep.Users), rep.GeneratedAt)
			}
			if !errors.Is(err, report.ErrInvalidReport) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want an invalid report that says %q", err, tt.want)
			}
		})
	}
}

// The alias is read on the first fetch and then only once AliasInterval has
// passed, so the steady state stays at two calls; without the permission
// the report is still served, with an empty alias.
func TestReportSourceAccountAlias(t *testing.T) {
	for _, tc := range []struct {
		name      string
		answer    func() (*iam.ListAccountAliasesOutput, error)
		wantAlias string
	}{
		{"allowed", func() (*iam.ListAccountAliasesOutput, error) {
			return &iam.ListAccountAliasesOutput{AccountAliases: []string{"acme-prod"}}, nil
		}, "acme-prod"},
		{"denied", func() (*iam.ListAccountAliasesOutput, error) {
			return nil, awsCode("ListAccountAliases", "AccessDenied")
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := withReport(t, awsTestCSV)
			f.aliases = tc.answer
			src := awsapi.NewTestSource(f, baseAccount, awsapi.SourceOptions{AliasInterval: time.Hour}, discardLogger())
			for i := range 3 {
				rep, err := src.Fetch(t.Context())
				if err != nil {
					t.Fatalf("fetch %d: %v", i, err)
				}
				if rep.AccountAlias != tc.wantAlias {
					t.Errorf("fetch %d: alias = %q, want %q", i, rep.AccountAlias, tc.wantAlias)
				}
			}
			if got := f.calls["ListAccountAliases"]; got != 1 {
				t.Errorf("ListAccountAliases called %d times in 3 fetches, want 1", got)
			}
		})
	}
}

// BenchmarkReportSourceFetch measures a steady-state refresh of the largest
// account (5000 users) through the SDK and the fake's loopback HTTP.
func BenchmarkReportSourceFetch(b *testing.B) {
	s := fakeaws.New(baseAccount)
	b.Cleanup(s.Close)
	csv := reportgen.Generate(reportgen.Options{AccountID: baseAccount, Users: 5000, Seed: 1})
	s.DefaultAccount().SetReport(csv, time.Now())
	cfg := s.Config()
	cfg.HTTPClient = limitedClient(64 << 20)
	src := newSource(cfg, baseAccount)
	b.SetBytes(int64(len(csv)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := src.Fetch(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReportSourceOversizedMemory checks that an oversized response is cut off
// at the limit rather than read into memory. It does not run in parallel, so
// the allocation count is this test's.
func TestReportSourceOversizedMemory(t *testing.T) {
	const body, limit = 64 << 20, 1 << 20
	s := fakeaws.New(baseAccount)
	t.Cleanup(s.Close)
	s.DefaultAccount().SetReport(awsTestCSV, time.Now())
	s.DefaultAccount().SetOversizedContent(body)
	cfg := s.Config()
	cfg.HTTPClient = limitedClient(limit)
	src := newSource(cfg, baseAccount)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := src.Fetch(t.Context())
	runtime.ReadMemStats(&after)
	if !errors.Is(err, awsapi.ErrResponseTooLarge) {
		t.Fatalf("Fetch: %v, want ErrResponseTooLarge", err)
	}
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 16*limit {
		t.Errorf("allocated %d MiB for a %d MiB limit: the body was not cut off", allocated>>20, limit>>20)
	}
}
