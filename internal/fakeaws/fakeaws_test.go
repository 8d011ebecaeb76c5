package fakeaws

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/testenv"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

const (
	defaultAccount = "111111111111"
	otherAccount   = "222222222222"
)

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newServer(t *testing.T) (*Server, *clock) {
	t.Helper()
	s := New(defaultAccount)
	t.Cleanup(s.Close)
	c := &clock{t: time.Date(2024, 4, 22, 19, 47, 52, 0, time.UTC)}
	s.SetClock(c.now)
	return s, c
}

// call is one SDK call and what it should give: a state for Generate, the
// content for Get, or an error code and HTTP status.
type call struct {
	action    string
	wantState iamtypes.ReportStateType
	wantCode  string
	// wantStatus is checked when wantCode is set.
	wantStatus int
	// advance moves the fake clock before the call.
	advance time.Duration
}

func doCall(ctx context.Context, t *testing.T, client *iam.Client, c call) (state iamtypes.ReportStateType, content []byte, generated time.Time, err error) {
	t.Helper()
	switch c.action {
	case GenerateCredentialReport:
		out, err := client.GenerateCredentialReport(ctx, nil)
		if err != nil {
			return "", nil, time.Time{}, err
		}
		return out.State, nil, time.Time{}, nil
	case GetCredentialReport:
		out, err := client.GetCredentialReport(ctx, nil)
		if err != nil {
			return "", nil, time.Time{}, err
		}
		if out.ReportFormat != iamtypes.ReportFormatTypeTextCsv {
			t.Errorf("ReportFormat = %q, want text/csv", out.ReportFormat)
		}
		return "", out.Content, aws.ToTime(out.GeneratedTime), nil
	case GetAccountAuthorizationDetails:
		_, err := client.GetAccountAuthorizationDetails(ctx, &iam.GetAccountAuthorizationDetailsInput{Filter: []iamtypes.EntityType{iamtypes.EntityTypeUser}})
		return "", nil, time.Time{}, err
	case ListAccessKeys:
		_, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
		return "", nil, time.Time{}, err
	case GetAccountPasswordPolicy:
		_, err := client.GetAccountPasswordPolicy(ctx, nil)
		return "", nil, time.Time{}, err
	}
	t.Fatalf("unknown action %q", c.action)
	return "", nil, time.Time{}, nil
}

func checkAPIError(t *testing.T, err error, code string, status int) {
	t.Helper()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v is not an API error, want %s", err, code)
	}
	if apiErr.ErrorCode() != code {
		t.Errorf("error code = %q, want %q (%v)", apiErr.ErrorCode(), code, err)
	}
	var respErr *awshttp.ResponseError
	if !errors.As(err, &respErr) {
		t.Fatalf("error %v carries no HTTP response", err)
	}
	if respErr.HTTPStatusCode() != status {
		t.Errorf("HTTP status = %d, want %d", respErr.HTTPStatusCode(), status)
	}
}

func TestCredentialReportStateMachine(t *testing.T) {
	gen := func(state iamtypes.ReportStateType) call {
		return call{action: GenerateCredentialReport, wantState: state}
	}
	get := call{action: GetCredentialReport}
	getErr := func(code string, status int) call {
		return call{action: GetCredentialReport, wantCode: code, wantStatus: status}
	}
	const (
		started    = iamtypes.ReportStateTypeStarted
		inProgress = iamtypes.ReportStateTypeInprogress
		complete   = iamtypes.ReportStateTypeComplete
	)

	tests := []struct {
		name  string
		setup func(a *Account)
		calls []call
	}{
		{
			name: "first run",
			calls: []call{
				getErr("ReportNotPresent", 410),
				gen(started),
				getErr("ReportInProgress", 404),
				gen(inProgress),
				gen(complete),
				get,
				gen(complete),
				get,
			},
		},
		{
			name:  "no in-progress polls",
			setup: func(a *Account) { a.SetInProgressPolls(0) },
			calls: []call{gen(started), gen(complete), get},
		},
		{
			name:  "three in-progress polls",
			setup: func(a *Account) { a.SetInProgressPolls(3) },
			calls: []call{gen(started), gen(inProgress), gen(inProgress), gen(inProgress), gen(complete), get},
		},
		{
			name: "expires after four hours",
			setup: func(a *Account) {
				a.SetReport([]byte("csv"), time.Date(2024, 4, 22, 19, 47, 52, 0, time.UTC))
			},
			calls: []call{
				get,
				gen(complete),
				{action: GetCredentialReport, advance: ReportTTL - time.Second},
				{action: GetCredentialReport, advance: time.Second, wantCode: "ReportExpired", wantStatus: 410},
				gen(started),
				gen(inProgress),
				gen(complete),
				get,
			},
		},
		{
			name: "Expire",
			setup: func(a *Account) {
				a.SetReport([]byte("csv"), time.Date(2024, 4, 22, 19, 47, 52, 0, time.UTC))
				a.Expire()
			},
			calls: []call{getErr("ReportExpired", 410), gen(started), gen(inProgress), gen(complete), get},
		},
		{
			name:  "stuck in progress",
			setup: func(a *Account) { a.SetStuck(true) },
			calls: []call{gen(inProgress), gen(inProgress), getErr("ReportInProgress", 404), gen(inProgress)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clk := newServer(t)
			acct := s.DefaultAccount()
			if tt.setup != nil {
				tt.setup(acct)
			}
			client := iam.NewFromConfig(s.Config())
			for i, c := range tt.calls {
				clk.advance(c.advance)
				state, content, generated, err := doCall(t.Context(), t, client, c)
				if c.wantCode != "" {
					if err == nil {
						t.Fatalf("call %d (%s): no error, want %s", i, c.action, c.wantCode)
					}
					checkAPIError(t, err, c.wantCode, c.wantStatus)
					continue
				}
				if err != nil {
					t.Fatalf("call %d (%s): %v", i, c.action, err)
				}
				if state != c.wantState {
					t.Fatalf("call %d (%s): state %q, want %q", i, c.action, state, c.wantState)
				}
				if c.action == GetCredentialReport {
					if len(content) == 0 || (!strings.HasPrefix(string(content), "user,arn,") && string(content) != "csv") {
						t.Errorf("call %d: content %.40q is not the report", i, content)
					}
					if generated.IsZero() || generated.After(clk.now()) || clk.now().Sub(generated) >= ReportTTL {
						t.Errorf("call %d: GeneratedTime %v is not a current report at %v", i, generated, clk.now())
					}
				}
			}
			if got, want := s.TotalRequests(), len(tt.calls); got != want {
				t.Errorf("TotalRequests = %d, want %d", got, want)
			}
		})
	}
}

func TestGeneratedReportContent(t *testing.T) {
	s, clk := newServer(t)
	csv := []byte("user,arn\n<root_account>,arn:aws:iam::111111111111:root\nalice,arn:aws:iam::111111111111:user/alice")
	s.DefaultAccount().SetCSV(csv)
	s.DefaultAccount().SetInProgressPolls(0)
	client := iam.NewFromConfig(s.Config())
	for range 2 {
		if _, err := client.GenerateCredentialReport(t.Context(), nil); err != nil {
			t.Fatal(err)
		}
	}
	out, err := client.GetCredentialReport(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(out.Content) != string(csv) {
		t.Errorf("Content = %q, want the CSV set with SetCSV", out.Content)
	}
	if !aws.ToTime(out.GeneratedTime).Equal(clk.now()) {
		t.Errorf("GeneratedTime = %v, want the time of the generating call %v", out.GeneratedTime, clk.now())
	}
}

func TestInjectedFaults(t *testing.T) {
	tests := []struct {
		name   string
		action string
		code   string
		n      int
		// wantCode is "" when SDK retries should absorb the faults.
		wantCode   string
		wantStatus int
		wantType   func(error) bool
		// wantRequests counts the SDK's attempts (3 at most by default).
		wantRequests int
	}{
		{name: "throttling absorbed by retries", action: GenerateCredentialReport, code: "Throttling", n: 2, wantRequests: 3},
		{name: "throttling beyond retries", action: GenerateCredentialReport, code: "Throttling", n: 3,
			wantCode: "Throttling", wantStatus: 400, wantRequests: 3},
		{name: "service failure retried", action: GetCredentialReport, code: "ServiceFailure", n: -1,
			wantCode: "ServiceFailure", wantStatus: 500, wantRequests: 3,
			wantType: func(err error) bool { var e *iamtypes.ServiceFailureException; return errors.As(err, &e) }},
		{name: "limit exceeded not retried", action: GenerateCredentialReport, code: "LimitExceeded", n: 1,
			wantCode: "LimitExceeded", wantStatus: 409, wantRequests: 1,
			wantType: func(err error) bool { var e *iamtypes.LimitExceededException; return errors.As(err, &e) }},
		{name: "access denied", action: GenerateCredentialReport, code: "AccessDenied", n: 1,
			wantCode: "AccessDenied", wantStatus: 403, wantRequests: 1,
			wantType: func(err error) bool {
				return strings.Contains(err.Error(), "not authorized to perform: iam:GenerateCredentialReport")
			}},
		{name: "injected report expired", action: GetCredentialReport, code: "ReportExpired", n: 1,
			wantCode: "ReportExpired", wantStatus: 410, wantRequests: 1,
			wantType: func(err error) bool { var e *iamtypes.CredentialReportExpiredException; return errors.As(err, &e) }},
		{name: "injected not present", action: GetCredentialReport, code: "ReportNotPresent", n: 1,
			wantCode: "ReportNotPresent", wantStatus: 410, wantRequests: 1,
			wantType: func(err error) bool { var e *iamtypes.CredentialReportNotPresentException; return errors.As(err, &e) }},
		{name: "injected in progress", action: GetCredentialReport, code: "ReportInProgress", n: 1,
			wantCode: "ReportInProgress", wantStatus: 404, wantRequests: 1,
			wantType: func(err error) bool { var e *iamtypes.CredentialReportNotReadyException; return errors.As(err, &e) }},
		{name: "authorization details throttling absorbed", action: GetAccountAuthorizationDetails, code: "Throttling", n: 2, wantRequests: 3},
		{name: "authorization details access denied", action: GetAccountAuthorizationDetails, code: "AccessDenied", n: 1,
			wantCode: "AccessDenied", wantStatus: 403, wantRequests: 1,
			wantType: func(err error) bool {
				return strings.Contains(err.Error(), "not authorized to perform: iam:GetAccountAuthorizationDetails")
			}},
		{name: "access keys throttling beyond retries", action: ListAccessKeys, code: "Throttling", n: -1,
			wantCode: "Throttling", wantStatus: 400, wantRequests: 3},
		{name: "access keys access denied", action: ListAccessKeys, code: "AccessDenied", n: 1,
			wantCode: "AccessDenied", wantStatus: 403, wantRequests: 1,
			wantType: func(err error) bool {
				return strings.Contains(err.Error(), "not authorized to perform: iam:ListAccessKeys")
			}},
		{name: "injected no such entity", action: ListAccessKeys, code: "NoSuchEntity", n: 1,
			wantCode: "NoSuchEntity", wantStatus: 404, wantRequests: 1,
			wantType: func(err error) bool { var e *iamtypes.NoSuchEntityException; return errors.As(err, &e) }},
		{name: "password policy throttling absorbed", action: GetAccountPasswordPolicy, code: "Throttling", n: 1, wantRequests: 2},
		{name: "password policy access denied", action: GetAccountPasswordPolicy, code: "AccessDenied", n: 1,
			wantCode: "AccessDenied", wantStatus: 403, wantRequests: 1,
			wantType: func(err error) bool {
				return strings.Contains(err.Error(), "not authorized to perform: iam:GetAccountPasswordPolicy")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clk := newServer(t)
			s.DefaultAccount().SetReport([]byte("csv"), clk.now())
			s.DefaultAccount().SetUsers([]User{{Name: "alice"}})
			s.DefaultAccount().SetPasswordPolicy(&PasswordPolicy{MinimumPasswordLength: 14})
			s.DefaultAccount().Fail(tt.action, tt.code, tt.n)
			client := iam.NewFromConfig(s.Config())
			_, _, _, err := doCall(t.Context(), t, client, call{action: tt.action})
			if tt.wantCode == "" && err != nil {
				t.Fatalf("want retries to absorb the faults, got %v", err)
			}
			if tt.wantCode != "" {
				if err == nil {
					t.Fatalf("no error, want %s", tt.wantCode)
				}
				checkAPIError(t, err, tt.wantCode, tt.wantStatus)
				if tt.wantType != nil && !tt.wantType(err) {
					t.Errorf("error %v (%T) is not what the SDK should make of %s", err, errors.Unwrap(err), tt.code)
				}
			}
			if got := s.Requests(defaultAccount, tt.action); got != tt.wantRequests {
				t.Errorf("requests = %d, want %d", got, tt.wantRequests)
			}
		})
	}
}

func TestFaultsQueueInOrderAndClear(t *testing.T) {
	s, clk := newServer(t)
	acct := s.DefaultAccount()
	acct.SetReport([]byte("csv"), clk.now())
	acct.Fail(GetCredentialReport, "LimitExceeded", 1)
	acct.Fail(GetCredentialReport, "ReportExpired", 1)
	acct.Fail(GenerateCredentialReport, "AccessDenied", -1)
	client := iam.NewFromConfig(s.Config())

	for _, want := range []string{"LimitExceeded", "ReportExpired", ""} {
		_, err := client.GetCredentialReport(t.Context(), nil)
		var apiErr smithy.APIError
		switch {
		case want == "" && err != nil:
			t.Fatalf("after the queued faults: %v", err)
		case want != "" && (!errors.As(err, &apiErr) || apiErr.ErrorCode() != want):
			t.Fatalf("got %v, want %s", err, want)
		}
	}
	for range 3 {
		if _, err := client.GenerateCredentialReport(t.Context(), nil); err == nil {
			t.Fatal("a fault with n < 0 stopped before ClearFaults")
		}
	}
	acct.ClearFaults()
	if _, err := client.GenerateCredentialReport(t.Context(), nil); err != nil {
		t.Fatalf("after ClearFaults: %v", err)
	}
}

func TestAssumeRole(t *testing.T) {
	tests := []struct {
		name       string
		roleARN    string
		externalID string
		setup      func(target *Account)
		wantErr    bool
	}{
		{name: "known account", roleARN: "arn:aws:iam::" + otherAccount + ":role/reader"},
		{name: "role with a path", roleARN: "arn:aws:iam::" + otherAccount + ":role/audit/reader"},
		{name: "matching external ID", roleARN: "arn:aws:iam::" + otherAccount + ":role/reader", externalID: "secret",
			setup: func(a *Account) { a.RequireExternalID("secret") }},
		{name: "missing external ID", roleARN: "arn:aws:iam::" + otherAccount + ":role/reader",
			setup: func(a *Account) { a.RequireExternalID("secret") }, wantErr: true},
		{name: "denied", roleARN: "arn:aws:iam::" + otherAccount + ":role/reader",
			setup: func(a *Account) { a.DenyAssumeRole(true) }, wantErr: true},
		{name: "unknown account", roleARN: "arn:aws:iam::333333333333:role/reader", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newServer(t)
			target := s.Account(otherAccount)
			target.SetInProgressPolls(0)
			if tt.setup != nil {
				tt.setup(target)
			}
			cfg := s.Config()
			provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), tt.roleARN, func(o *stscreds.AssumeRoleOptions) {
				o.RoleSessionName = "test-session"
				if tt.externalID != "" {
					o.ExternalID = aws.String(tt.externalID)
				}
			})
			cfg.Credentials = aws.NewCredentialsCache(provider)

			id, err := sts.NewFromConfig(cfg).GetCallerIdentity(t.Context(), nil)
			if tt.wantErr {
				if err == nil {
					t.Fatal("assumed a role that should be refused")
				}
				checkAPIError(t, err, "AccessDenied", 403)
				if !strings.Contains(err.Error(), "not authorized to perform: sts:AssumeRole on resource: "+tt.roleARN) {
					t.Errorf("error %q does not name the action and role", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := aws.ToString(id.Account); got != otherAccount {
				t.Errorf("caller account = %s, want %s", got, otherAccount)
			}
			roleName := tt.roleARN[strings.LastIndex(tt.roleARN, "/")+1:]
			if want := "arn:aws:sts::" + otherAccount + ":assumed-role/" + roleName + "/test-session"; aws.ToString(id.Arn) != want {
				t.Errorf("caller ARN = %s, want %s", aws.ToString(id.Arn), want)
			}

			// The assumed credentials act in the target account: its report
			// state moves, the default account's does not.
			if _, err := iam.NewFromConfig(cfg).GenerateCredentialReport(t.Context(), nil); err != nil {
				t.Fatal(err)
			}
			counts := s.RequestCounts()
			want := map[RequestKey]int{
				{Account: defaultAccount, Action: AssumeRole}:             1,
				{Account: otherAccount, Action: GetCallerIdentity}:        1,
				{Account: otherAccount, Action: GenerateCredentialReport}: 1,
			}
			if len(counts) != len(want) {
				t.Errorf("request log = %v, want %v", counts, want)
			}
			for k, v := range want {
				if counts[k] != v {
					t.Errorf("requests %v = %d, want %d (log %v)", k, counts[k], v, counts)
				}
			}
		})
	}
}

func TestCallerIdentityDefaultAccount(t *testing.T) {
	s, _ := newServer(t)
	id, err := sts.NewFromConfig(s.Config()).GetCallerIdentity(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(id.Account) != defaultAccount {
		t.Errorf("account = %s, want %s", aws.ToString(id.Account), defaultAccount)
	}
	if !strings.HasPrefix(aws.ToString(id.Arn), "arn:aws:iam::"+defaultAccount+":user/") {
		t.Errorf("ARN = %s, want a user of the default account", aws.ToString(id.Arn))
	}
}

// post sends a raw Query request, signed with akid when it is not "".
func post(t *testing.T, s *Server, form url.Values, akid string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL(), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if akid != "" {
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+akid+"/20240422/us-east-1/iam/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func TestRawProtocol(t *testing.T) {
	const requestID = `fa4e0000-0000-4000-8000-[0-9a-f]{12}`
	iamForm := func(action string) url.Values {
		return url.Values{"Action": {action}, "Version": {"2010-05-08"}}
	}
	tests := []struct {
		name       string
		setup      func(s *Server)
		form       url.Values
		akid       string
		wantStatus int
		// wantBody is a regular expression for the whole body.
		wantBody string
	}{
		{
			name: "generate started", form: iamForm(GenerateCredentialReport), akid: DefaultAccessKeyID, wantStatus: 200,
			wantBody: `<GenerateCredentialReportResponse xmlns="https://iam\.amazonaws\.com/doc/2010-05-08/">` +
				`<GenerateCredentialReportResult><State>STARTED</State><Description>[^<]+</Description></GenerateCredentialReportResult>` +
				`<ResponseMetadata><RequestId>` + requestID + `</RequestId></ResponseMetadata></GenerateCredentialReportResponse>`,
		},
		{
			name: "get content is bare base64",
			setup: func(s *Server) {
				s.DefaultAccount().SetReport([]byte("user,arn\n"), time.Date(2024, 4, 22, 19, 47, 52, 0, time.UTC))
			},
			form: iamForm(GetCredentialReport), akid: DefaultAccessKeyID, wantStatus: 200,
			wantBody: `<GetCredentialReportResponse xmlns="https://iam\.amazonaws\.com/doc/2010-05-08/"><GetCredentialReportResult>` +
				`<Content>dXNlcixhcm4K</Content><ReportFormat>text/csv</ReportFormat><GeneratedTime>2024-04-22T19:47:52Z</GeneratedTime>` +
				`</GetCredentialReportResult><ResponseMetadata><RequestId>` + requestID + `</RequestId></ResponseMetadata></GetCredentialReportResponse>`,
		},
		{
			name: "report error has no message", form: iamForm(GetCredentialReport), akid: DefaultAccessKeyID, wantStatus: 410,
			wantBody: `<ErrorResponse xmlns="https://iam\.amazonaws\.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>ReportNotPresent</Code></Error>` +
				`<RequestId>` + requestID + `</RequestId></ErrorResponse>`,
		},
		{
			name:  "throttling",
			setup: func(s *Server) { s.DefaultAccount().Fail(GenerateCredentialReport, "Throttling", 1) },
			form:  iamForm(GenerateCredentialReport), akid: DefaultAccessKeyID, wantStatus: 400,
			wantBody: `<ErrorResponse xmlns="https://iam\.amazonaws\.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>Throttling</Code>` +
				`<Message>Rate exceeded</Message></Error><RequestId>` + requestID + `</RequestId></ErrorResponse>`,
		},
		{
			name:  "service failure is a receiver fault",
			setup: func(s *Server) { s.DefaultAccount().Fail(GetCredentialReport, "ServiceFailure", 1) },
			form:  iamForm(GetCredentialReport), akid: DefaultAccessKeyID, wantStatus: 500,
			wantBody: `<ErrorResponse xmlns="[^"]+"><Error><Type>Receiver</Type><Code>ServiceFailure</Code><Message>[^<]+</Message></Error>` +
				`<RequestId>` + requestID + `</RequestId></ErrorResponse>`,
		},
		{
			name: "unknown action", form: iamForm("ListUsers"), akid: DefaultAccessKeyID, wantStatus: 400,
			wantBody: `<ErrorResponse xmlns="https://iam\.amazonaws\.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>InvalidAction</Code>` +
				`<Message>Could not find operation ListUsers for version 2010-05-08</Message></Error><RequestId>` + requestID + `</RequestId></ErrorResponse>`,
		},
		{
			name: "wrong version", form: url.Values{"Action": {GetCallerIdentity}, "Version": {"2010-05-08"}}, akid: DefaultAccessKeyID, wantStatus: 400,
			wantBody: `<ErrorResponse xmlns="https://sts\.amazonaws\.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidAction</Code>.*`,
		},
		{
			name: "unsigned", form: iamForm(GenerateCredentialReport), wantStatus: 403,
			wantBody: `<ErrorResponse xmlns="[^"]+"><Error><Type>Sender</Type><Code>MissingAuthenticationToken</Code>.*`,
		},
		{
			name: "authorization details",
			setup: func(s *Server) {
				s.DefaultAccount().SetUsers([]User{{Name: "alice", Tags: []Tag{{Key: "team", Value: "infra"}}}})
			},
			form:       url.Values{"Action": {GetAccountAuthorizationDetails}, "Version": {"2010-05-08"}, "Filter.member.1": {"User"}},
			akid:       DefaultAccessKeyID,
			wantStatus: 200,
			wantBody: `<GetAccountAuthorizationDetailsResponse xmlns="https://iam\.amazonaws\.com/doc/2010-05-08/"><GetAccountAuthorizationDetailsResult>` +
				`<UserDetailList><member><Path>/</Path><UserName>alice</UserName><UserId>AIDA[A-Z2-7]{17}</UserId>` +
				`<Arn>arn:aws:iam::111111111111:user/alice</Arn><CreateDate>2020-01-01T00:00:00Z</CreateDate>` +
				`<UserPolicyList></UserPolicyList><GroupList></GroupList><AttachedManagedPolicies></AttachedManagedPolicies>` +
				`<Tags><member><Key>team</Key><Value>infra</Value></member></Tags></member></UserDetailList>` +
				`<GroupDetailList></GroupDetailList><RoleDetailList></RoleDetailList><Policies></Policies><IsTruncated>false</IsTruncated>` +
				`</GetAccountAuthorizationDetailsResult><ResponseMetadata><RequestId>` + requestID + `</RequestId></ResponseMetadata></GetAccountAuthorizationDetailsResponse>`,
		},
		{
			name: "access keys",
			setup: func(s *Server) {
				s.DefaultAccount().SetUsers([]User{{Name: "alice", AccessKeys: []AccessKey{
					{ID: "AKIAALICE00000000001", Created: time.Date(2024, 1, 2, 3, 4, 5, 600, time.UTC), Active: true},
				}}})
			},
			form:       url.Values{"Action": {ListAccessKeys}, "Version": {"2010-05-08"}, "UserName": {"alice"}},
			akid:       DefaultAccessKeyID,
			wantStatus: 200,
			wantBody: `<ListAccessKeysResponse xmlns="https://iam\.amazonaws\.com/doc/2010-05-08/"><ListAccessKeysResult><AccessKeyMetadata>` +
				`<member><UserName>alice</UserName><AccessKeyId>AKIAALICE00000000001</AccessKeyId><Status>Active</Status><CreateDate>2024-01-02T03:04:05Z</CreateDate></member>` +
				`</AccessKeyMetadata><IsTruncated>false</IsTruncated></ListAccessKeysResult>` +
				`<ResponseMetadata><RequestId>` + requestID + `</RequestId></ResponseMetadata></ListAccessKeysResponse>`,
		},
		{
			name: "unknown user", form: url.Values{"Action": {ListAccessKeys}, "Version": {"2010-05-08"}, "UserName": {"nobody"}},
			akid: DefaultAccessKeyID, wantStatus: 404,
			wantBody: `<ErrorResponse xmlns="https://iam\.amazonaws\.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>NoSuchEntity</Code>` +
				`<Message>The user with name nobody cannot be found\.</Message></Error><RequestId>` + requestID + `</RequestId></ErrorResponse>`,
		},
		{
			name: "password policy without expiry or reuse prevention",
			setup: func(s *Server) {
				s.DefaultAccount().SetPasswordPolicy(&PasswordPolicy{MinimumPasswordLength: 8, RequireNumbers: true, MaxPasswordAge: 90})
			},
			form: iamForm(GetAccountPasswordPolicy), akid: DefaultAccessKeyID, wantStatus: 200,
			wantBody: `<GetAccountPasswordPolicyResponse xmlns="https://iam\.amazonaws\.com/doc/2010-05-08/"><GetAccountPasswordPolicyResult><PasswordPolicy>` +
				`<MinimumPasswordLength>8</MinimumPasswordLength><RequireSymbols>false</RequireSymbols><RequireNumbers>true</RequireNumbers>` +
				`<RequireUppercaseCharacters>false</RequireUppercaseCharacters><RequireLowercaseCharacters>false</RequireLowercaseCharacters>` +
				`<AllowUsersToChangePassword>false</AllowUsersToChangePassword><ExpirePasswords>false</ExpirePasswords><HardExpiry>false</HardExpiry>` +
				`</PasswordPolicy></GetAccountPasswordPolicyResult>` +
				`<ResponseMetadata><RequestId>` + requestID + `</RequestId></ResponseMetadata></GetAccountPasswordPolicyResponse>`,
		},
		{
			name: "no password policy", form: iamForm(GetAccountPasswordPolicy), akid: DefaultAccessKeyID, wantStatus: 404,
			wantBody: `<ErrorResponse xmlns="https://iam\.amazonaws\.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>NoSuchEntity</Code>` +
				`<Message>The Password Policy with domain name 111111111111 cannot be found\.</Message></Error><RequestId>` + requestID + `</RequestId></ErrorResponse>`,
		},
		{
			name: "caller identity", form: url.Values{"Action": {GetCallerIdentity}, "Version": {"2011-06-15"}}, akid: "AKIAANYOTHERKEY00000", wantStatus: 200,
			wantBody: `<GetCallerIdentityResponse xmlns="https://sts\.amazonaws\.com/doc/2011-06-15/"><GetCallerIdentityResult>` +
				`<Arn>arn:aws:iam::111111111111:user/[^<]+</Arn><UserId>[^<]+</UserId><Account>111111111111</Account></GetCallerIdentityResult>` +
				`<ResponseMetadata><RequestId>` + requestID + `</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newServer(t)
			if tt.setup != nil {
				tt.setup(s)
			}
			resp, body := post(t, s, tt.form, tt.akid)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/xml" {
				t.Errorf("Content-Type = %q, want text/xml", ct)
			}
			if !regexp.MustCompile(`^` + tt.wantBody + `$`).MatchString(body) {
				t.Errorf("body:\n%s\ndoes not match:\n%s", body, tt.wantBody)
			}
		})
	}
}

func TestBrokenBodies(t *testing.T) {
	t.Run("garbage", func(t *testing.T) {
		s, clk := newServer(t)
		s.DefaultAccount().SetReport([]byte("csv"), clk.now())
		s.DefaultAccount().SendGarbage(GetCredentialReport, 1)
		client := iam.NewFromConfig(s.Config())
		_, err := client.GetCredentialReport(t.Context(), nil)
		var de *smithy.DeserializationError
		if !errors.As(err, &de) {
			t.Fatalf("error = %v, want a deserialization error", err)
		}
		if _, err := client.GetCredentialReport(t.Context(), nil); err != nil {
			t.Fatalf("the garbage outlived its count: %v", err)
		}
	})
	t.Run("oversized", func(t *testing.T) {
		s, _ := newServer(t)
		const n = 5 << 20
		s.DefaultAccount().SetOversizedContent(n)
		resp, body := post(t, s, url.Values{"Action": {GetCredentialReport}, "Version": {"2010-05-08"}}, DefaultAccessKeyID)
		if resp.ContentLength != -1 {
			t.Errorf("ContentLength = %d, want the body streamed without one", resp.ContentLength)
		}
		start := strings.Index(body, "<Content>") + len("<Content>")
		end := strings.Index(body, "</Content>")
		if start < len("<Content>") || end-start != n {
			t.Errorf("Content has %d bytes, want %d", end-start, n)
		}
		if !strings.HasSuffix(body, "</GetCredentialReportResponse>") {
			t.Error("the oversized body is not a complete response")
		}
	})
}

func TestCloseCutsDelayedRequest(t *testing.T) {
	s, _ := newServer(t)
	s.DefaultAccount().SetLatency(time.Hour)
	cfg := s.Config()
	cfg.RetryMaxAttempts = 1
	client := iam.NewFromConfig(cfg)

	// The deadline only keeps a broken Close from hanging the test; the
	// assertion is that the error is not that deadline.
	ctx, cancel := context.WithTimeout(t.Context(), testenv.Patience)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := client.GenerateCredentialReport(ctx, nil)
		done <- err
	}()
	for s.TotalRequests() == 0 {
		time.Sleep(time.Millisecond)
	}
	s.Close()
	err := <-done
	if err == nil {
		t.Fatal("a request cut off by Close succeeded")
	}
	if ctx.Err() != nil {
		t.Fatalf("Close did not cut the delayed request: %v", err)
	}
	if _, err := client.GenerateCredentialReport(t.Context(), nil); err == nil {
		t.Fatal("a request after Close succeeded")
	}
}

func TestRequestLog(t *testing.T) {
	s, clk := newServer(t)
	s.DefaultAccount().SetReport([]byte("csv"), clk.now())
	client := iam.NewFromConfig(s.Config())
	for range 3 {
		if _, err := client.GenerateCredentialReport(t.Context(), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := client.GetCredentialReport(t.Context(), nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.Requests(defaultAccount, GenerateCredentialReport); got != 3 {
		t.Errorf("Generate requests = %d, want 3", got)
	}
	if got := s.Requests(defaultAccount, GetCredentialReport); got != 3 {
		t.Errorf("Get requests = %d, want 3", got)
	}
	if got := s.TotalRequests(); got != 6 {
		t.Errorf("total = %d, want 6", got)
	}
	s.ResetRequests()
	if got, counts := s.TotalRequests(), s.RequestCounts(); got != 0 || len(counts) != 0 {
		t.Errorf("after reset: total %d, log %v", got, counts)
	}
}

// TestConcurrentUse runs calls and knob changes at once, for the race
// detector, and checks that no request is lost from the log.
func TestConcurrentUse(t *testing.T) {
	s, clk := newServer(t)
	acct := s.DefaultAccount()
	acct.SetReport([]byte("csv"), clk.now())
	users := testUsers()
	acct.SetUsers(users)
	client := iam.NewFromConfig(s.Config())
	const workers, calls, callsPerRound = 8, 10, 5
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range calls {
				_, _ = client.GenerateCredentialReport(t.Context(), nil)
				_, _ = client.GetCredentialReport(t.Context(), nil)
				_, _ = client.GetAccountAuthorizationDetails(t.Context(), &iam.GetAccountAuthorizationDetailsInput{MaxItems: aws.Int32(2)})
				_, _ = client.ListAccessKeys(t.Context(), &iam.ListAccessKeysInput{UserName: aws.String("dave")})
				_, _ = client.GetAccountPasswordPolicy(t.Context(), nil)
			}
		})
	}
	wg.Go(func() {
		for i := range calls {
			acct.SetLatency(time.Duration(i%2) * time.Millisecond)
			acct.Expire()
			acct.SetReport([]byte("csv"), clk.now())
			acct.SetUsers(users[:i%len(users)])
			acct.SetPageSize(i % 3)
			acct.SetPasswordPolicy(&PasswordPolicy{MinimumPasswordLength: 8 + i})
			_ = s.RequestCounts()
		}
	})
	wg.Wait()
	if got, want := s.TotalRequests(), workers*calls*callsPerRound; got != want {
		t.Errorf("total requests = %d, want %d", got, want)
	}
}

// testUsers are out of order: IAM lists users by name, case ignored.
func testUsers() []User {
	return []User{
		{Name: "dave", Tags: []Tag{{Key: "team", Value: "infra"}}, AccessKeys: []AccessKey{
			{ID: "AKIADAVE000000000001", Created: time.Date(2023, 5, 6, 7, 8, 9, 500_000_000, time.UTC), Active: false},
			{ID: "AKIADAVE000000000002", Created: time.Date(2024, 2, 3, 4, 5, 6, 0, time.FixedZone("CET", 3600)), Active: true},
		}},
		{Name: "Alice", Tags: []Tag{{Key: "owner", Value: "alice@example.com"}, {Key: "cost-center", Value: "42"}}},
		{Name: "carol"},
		{Name: "bob+ci", Tags: []Tag{{Key: "team", Value: "ci"}}, AccessKeys: []AccessKey{
			{ID: "AKIABOBCI00000000001", Created: time.Date(2022, 1, 1, 0, 0, 0, 999_999_999, time.UTC), Active: true},
		}},
		{Name: "Erin", Tags: []Tag{{Key: "owner", Value: "erin"}}},
	}
}

// testUserOrder is testUsers in IAM's order.
var testUserOrder = []string{"Alice", "bob+ci", "carol", "dave", "Erin"}

func TestAuthorizationDetailsPages(t *testing.T) {
	onlyUsers := []iamtypes.EntityType{iamtypes.EntityTypeUser}
	tests := []struct {
		name     string
		pageSize int
		maxItems *int32
		filter   []iamtypes.EntityType
		// wantPages are the number of users on each page.
		wantPages []int
	}{
		{name: "page size below MaxItems", pageSize: 2, maxItems: aws.Int32(1000), filter: onlyUsers, wantPages: []int{2, 2, 1}},
		{name: "MaxItems below page size", pageSize: 10, maxItems: aws.Int32(3), filter: onlyUsers, wantPages: []int{3, 2}},
		{name: "MaxItems alone", maxItems: aws.Int32(2), filter: onlyUsers, wantPages: []int{2, 2, 1}},
		{name: "default MaxItems", filter: onlyUsers, wantPages: []int{5}},
		{name: "page size restored", pageSize: 0, maxItems: aws.Int32(1000), filter: onlyUsers, wantPages: []int{5}},
		{name: "no filter lists users", wantPages: []int{5}},
		{name: "filter without User", filter: []iamtypes.EntityType{iamtypes.EntityTypeRole, iamtypes.EntityTypeGroup}, wantPages: []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newServer(t)
			acct := s.DefaultAccount()
			acct.SetUsers(testUsers())
			// Each case sets its page size over another, so that 0 must
			// restore the default.
			acct.SetPageSize(7)
			acct.SetPageSize(tt.pageSize)
			client := iam.NewFromConfig(s.Config())

			p := iam.NewGetAccountAuthorizationDetailsPaginator(client, &iam.GetAccountAuthorizationDetailsInput{
				Filter: tt.filter, MaxItems: tt.maxItems,
			})
			var pages []int
			var got []iamtypes.UserDetail
			for p.HasMorePages() {
				if len(pages) > len(tt.wantPages) {
					t.Fatalf("more pages than the %d expected", len(tt.wantPages))
				}
				out, err := p.NextPage(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				if last := !p.HasMorePages(); out.IsTruncated == last || (out.Marker == nil) != last {
					t.Errorf("page %d: IsTruncated %v, Marker %v on a page that is last=%v", len(pages), out.IsTruncated, out.Marker, last)
				}
				pages = append(pages, len(out.UserDetailList))
				got = append(got, out.UserDetailList...)
			}
			if !slices.Equal(pages, tt.wantPages) {
				t.Errorf("page sizes = %v, want %v", pages, tt.wantPages)
			}
			if got := s.Requests(defaultAccount, GetAccountAuthorizationDetails); got != len(tt.wantPages) {
				t.Errorf("requests = %d, want one per page (%d)", got, len(tt.wantPages))
			}
			if tt.wantPages[0] == 0 {
				return
			}

			tags := make(map[string][]Tag)
			for _, u := range testUsers() {
				tags[u.Name] = u.Tags
			}
			var names []string
			for _, u := range got {
				name := aws.ToString(u.UserName)
				names = append(names, name)
				var gotTags []Tag
				for _, tag := range u.Tags {
					gotTags = append(gotTags, Tag{Key: aws.ToString(tag.Key), Value: aws.ToString(tag.Value)})
				}
				if !slices.Equal(gotTags, tags[name]) {
					t.Errorf("%s: tags %v, want %v", name, gotTags, tags[name])
				}
				if want := "arn:aws:iam::" + defaultAccount + ":user/" + name; aws.ToString(u.Arn) != want {
					t.Errorf("%s: Arn %s, want %s", name, aws.ToString(u.Arn), want)
				}
				if aws.ToString(u.Path) != "/" || len(aws.ToString(u.UserId)) != 21 || !strings.HasPrefix(aws.ToString(u.UserId), "AIDA") {
					t.Errorf("%s: Path %q, UserId %q, want / and an IAM user ID", name, aws.ToString(u.Path), aws.ToString(u.UserId))
				}
				if u.CreateDate == nil {
					t.Errorf("%s: no CreateDate", name)
				}
			}
			if !slices.Equal(names, testUserOrder) {
				t.Errorf("users = %v, want %v", names, testUserOrder)
			}
		})
	}
}

// An endless listing answers any marker with a new page of no users whose
// markers repeat with the period asked, or never; turned off, the users
// come back.
func TestAuthorizationDetailsEndless(t *testing.T) {
	for _, tt := range []struct {
		name   string
		period int
		// wantDistinct is how many distinct markers 6 answers carry.
		wantDistinct int
	}{
		{name: "A, B, A, B", period: 2, wantDistinct: 2},
		{name: "one marker", period: 1, wantDistinct: 1},
		{name: "never repeats", period: 0, wantDistinct: 6},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newServer(t)
			acct := s.DefaultAccount()
			acct.SetUsers(testUsers())
			acct.SetEndlessListing(true, tt.period)
			client := iam.NewFromConfig(s.Config())
			var markers []string
			var marker *string
			for range 6 {
				out, err := client.GetAccountAuthorizationDetails(t.Context(), &iam.GetAccountAuthorizationDetailsInput{
					Filter: []iamtypes.EntityType{iamtypes.EntityTypeUser}, Marker: marker,
				})
				if err != nil {
					t.Fatal(err)
				}
				if len(out.UserDetailList) != 0 || !out.IsTruncated || out.Marker == nil {
					t.Fatalf("answer %d: %d users, IsTruncated %v, Marker %v; want none, true, a marker", len(markers), len(out.UserDetailList), out.IsTruncated, out.Marker)
				}
				marker = out.Marker
				markers = append(markers, *marker)
			}
			distinct := slices.Clone(markers)
			slices.Sort(distinct)
			if got := len(slices.Compact(distinct)); got != tt.wantDistinct {
				t.Errorf("markers %v: %d distinct, want %d", markers, got, tt.wantDistinct)
			}
			if tt.period > 0 && markers[0] != markers[tt.period] {
				t.Errorf("markers %v do not repeat every %d", markers, tt.period)
			}

			acct.SetEndlessListing(false, 0)
			out, err := client.GetAccountAuthorizationDetails(t.Context(), &iam.GetAccountAuthorizationDetailsInput{})
			if err != nil || len(out.UserDetailList) != len(testUsers()) || out.IsTruncated {
				t.Errorf("turned off: %v, %d users, IsTruncated %v; want every user on one page", err, len(out.UserDetailList), out.IsTruncated)
			}
		})
	}
}

func TestAuthorizationDetailsValidation(t *testing.T) {
	foreignMarker := base64.StdEncoding.EncodeToString([]byte(ListAccessKeys + "/1"))
	tests := []struct {
		name  string
		input iam.GetAccountAuthorizationDetailsInput
	}{
		{name: "MaxItems 0", input: iam.GetAccountAuthorizationDetailsInput{MaxItems: aws.Int32(0)}},
		{name: "MaxItems 1001", input: iam.GetAccountAuthorizationDetailsInput{MaxItems: aws.Int32(1001)}},
		{name: "marker not issued", input: iam.GetAccountAuthorizationDetailsInput{Marker: aws.String("bogus")}},
		{name: "marker of another call", input: iam.GetAccountAuthorizationDetailsInput{Marker: aws.String(foreignMarker)}},
		{name: "unknown entity type", input: iam.GetAccountAuthorizationDetailsInput{Filter: []iamtypes.EntityType{"Users"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newServer(t)
			s.DefaultAccount().SetUsers(testUsers())
			_, err := iam.NewFromConfig(s.Config()).GetAccountAuthorizationDetails(t.Context(), &tt.input)
			if err == nil {
				t.Fatal("no error, want ValidationError")
			}
			checkAPIError(t, err, "ValidationError", 400)
			if got := s.Requests(defaultAccount, GetAccountAuthorizationDetails); got != 1 {
				t.Errorf("requests = %d, want 1: a ValidationError is not retried", got)
			}
		})
	}
}

func TestListAccessKeys(t *testing.T) {
	s, _ := newServer(t)
	users := testUsers()
	s.DefaultAccount().SetUsers(users)
	// SetUsers keeps a copy.
	users[3].AccessKeys[0].ID = "AKIACHANGEDAFTERSET0"
	client := iam.NewFromConfig(s.Config())

	type key struct {
		User, ID string
		Status   iamtypes.StatusType
		Created  time.Time
	}
	dave := testUsers()[0].AccessKeys
	tests := []struct {
		name     string
		userName string
		maxItems int32
		want     []key
		// wantPages is the number of pages the paginator fetches.
		wantPages int
	}{
		{name: "two keys", userName: "dave", wantPages: 1, want: []key{
			{User: "dave", ID: dave[0].ID, Status: iamtypes.StatusTypeInactive, Created: dave[0].Created.UTC().Truncate(time.Second)},
			{User: "dave", ID: dave[1].ID, Status: iamtypes.StatusTypeActive, Created: dave[1].Created.UTC().Truncate(time.Second)},
		}},
		{name: "one key a page", userName: "dave", maxItems: 1, wantPages: 2, want: []key{
			{User: "dave", ID: dave[0].ID, Status: iamtypes.StatusTypeInactive, Created: dave[0].Created.UTC().Truncate(time.Second)},
			{User: "dave", ID: dave[1].ID, Status: iamtypes.StatusTypeActive, Created: dave[1].Created.UTC().Truncate(time.Second)},
		}},
		{name: "name in another case", userName: "BOB+CI", wantPages: 1, want: []key{
			{User: "bob+ci", ID: "AKIABOBCI00000000001", Status: iamtypes.StatusTypeActive, Created: time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)},
		}},
		{name: "no keys", userName: "carol", wantPages: 1},
		{name: "the caller's own keys", wantPages: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.ResetRequests()
			input := &iam.ListAccessKeysInput{}
			if tt.userName != "" {
				input.UserName = aws.String(tt.userName)
			}
			if tt.maxItems != 0 {
				input.MaxItems = aws.Int32(tt.maxItems)
			}
			var got []key
			for p := iam.NewListAccessKeysPaginator(client, input); p.HasMorePages(); {
				out, err := p.NextPage(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				for _, k := range out.AccessKeyMetadata {
					got = append(got, key{User: aws.ToString(k.UserName), ID: aws.ToString(k.AccessKeyId), Status: k.Status, Created: aws.ToTime(k.CreateDate)})
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("keys = %v, want %v", got, tt.want)
			}
			if got := s.Requests(defaultAccount, ListAccessKeys); got != tt.wantPages {
				t.Errorf("requests = %d, want %d", got, tt.wantPages)
			}
		})
	}

	t.Run("misdirected", func(t *testing.T) {
		s.DefaultAccount().MisdirectAccessKeys("Bob+CI", "dave")
		out, err := client.ListAccessKeys(t.Context(), &iam.ListAccessKeysInput{UserName: aws.String("bob+ci")})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, k := range out.AccessKeyMetadata {
			got = append(got, aws.ToString(k.UserName)+" "+aws.ToString(k.AccessKeyId))
		}
		if want := []string{"dave " + dave[0].ID, "dave " + dave[1].ID}; !slices.Equal(got, want) {
			t.Errorf("keys for bob+ci = %v, want dave's %v", got, want)
		}
		s.DefaultAccount().MisdirectAccessKeys("bob+ci", "")
		out, err = client.ListAccessKeys(t.Context(), &iam.ListAccessKeysInput{UserName: aws.String("bob+ci")})
		if err != nil || len(out.AccessKeyMetadata) != 1 || aws.ToString(out.AccessKeyMetadata[0].UserName) != "bob+ci" {
			t.Errorf("restored: %v, %+v; want bob+ci's own key", err, out)
		}
	})

	t.Run("unknown user", func(t *testing.T) {
		_, err := client.ListAccessKeys(t.Context(), &iam.ListAccessKeysInput{UserName: aws.String("nobody")})
		var e *iamtypes.NoSuchEntityException
		if !errors.As(err, &e) {
			t.Fatalf("error = %v, want a NoSuchEntityException", err)
		}
		checkAPIError(t, err, "NoSuchEntity", 404)
		if got, want := e.ErrorMessage(), "The user with name nobody cannot be found."; got != want {
			t.Errorf("message = %q, want %q", got, want)
		}
	})

	t.Run("a role session without UserName", func(t *testing.T) {
		cfg := s.Config()
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), "arn:aws:iam::"+defaultAccount+":role/reader"))
		_, err := iam.NewFromConfig(cfg).ListAccessKeys(t.Context(), nil)
		if err == nil {
			t.Fatal("a role session listed its own keys")
		}
		checkAPIError(t, err, "ValidationError", 400)
	})
}

func TestPasswordPolicy(t *testing.T) {
	s, _ := newServer(t)
	acct := s.DefaultAccount()
	client := iam.NewFromConfig(s.Config())

	wantNoPolicy := func(t *testing.T) {
		t.Helper()
		_, err := client.GetAccountPasswordPolicy(t.Context(), nil)
		var e *iamtypes.NoSuchEntityException
		if !errors.As(err, &e) {
			t.Fatalf("error = %v, want a NoSuchEntityException", err)
		}
		checkAPIError(t, err, "NoSuchEntity", 404)
		if got, want := e.ErrorMessage(), "The Password Policy with domain name "+defaultAccount+" cannot be found."; got != want {
			t.Errorf("message = %q, want %q", got, want)
		}
	}
	t.Run("none", wantNoPolicy)

	tests := []struct {
		name string
		set  PasswordPolicy
		// want is set as the SDK reads it; omitted fields read as 0.
		want PasswordPolicy
	}{
		{
			name: "every field",
			set: PasswordPolicy{MinimumPasswordLength: 14, RequireSymbols: true, RequireNumbers: true, RequireUppercaseCharacters: true,
				RequireLowercaseCharacters: true, AllowUsersToChangePassword: true, ExpirePasswords: true, HardExpiry: true,
				MaxPasswordAge: 90, PasswordReusePrevention: 24},
			want: PasswordPolicy{MinimumPasswordLength: 14, RequireSymbols: true, RequireNumbers: true, RequireUppercaseCharacters: true,
				RequireLowercaseCharacters: true, AllowUsersToChangePassword: true, ExpirePasswords: true, HardExpiry: true,
				MaxPasswordAge: 90, PasswordReusePrevention: 24},
		},
		{
			name: "no expiry, no reuse prevention",
			set:  PasswordPolicy{MinimumPasswordLength: 8, RequireNumbers: true, MaxPasswordAge: 90},
			want: PasswordPolicy{MinimumPasswordLength: 8, RequireNumbers: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := tt.set
			acct.SetPasswordPolicy(&set)
			// SetPasswordPolicy keeps a copy.
			set.MinimumPasswordLength = 99
			out, err := client.GetAccountPasswordPolicy(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			p := out.PasswordPolicy
			got := PasswordPolicy{
				MinimumPasswordLength:      int(aws.ToInt32(p.MinimumPasswordLength)),
				RequireSymbols:             p.RequireSymbols,
				RequireNumbers:             p.RequireNumbers,
				RequireUppercaseCharacters: p.RequireUppercaseCharacters,
				RequireLowercaseCharacters: p.RequireLowercaseCharacters,
				AllowUsersToChangePassword: p.AllowUsersToChangePassword,
				ExpirePasswords:            p.ExpirePasswords,
				HardExpiry:                 aws.ToBool(p.HardExpiry),
				MaxPasswordAge:             int(aws.ToInt32(p.MaxPasswordAge)),
				PasswordReusePrevention:    int(aws.ToInt32(p.PasswordReusePrevention)),
			}
			if got != tt.want {
				t.Errorf("policy = %+v, want %+v", got, tt.want)
			}
			if (p.MaxPasswordAge != nil) != (tt.want.MaxPasswordAge != 0) || (p.PasswordReusePrevention != nil) != (tt.want.PasswordReusePrevention != 0) {
				t.Errorf("MaxPasswordAge %v, PasswordReusePrevention %v: sent when they should not be, or not when they should", p.MaxPasswordAge, p.PasswordReusePrevention)
			}
			if p.MinimumPasswordLength == nil || p.HardExpiry == nil {
				t.Error("MinimumPasswordLength or HardExpiry not sent")
			}
		})
	}

	acct.SetPasswordPolicy(nil)
	t.Run("removed", wantNoPolicy)
}

func TestReportCSV(t *testing.T) {
	created := time.Date(2021, 6, 7, 8, 9, 10, 123, time.UTC)
	users := append(testUsers(), User{Name: "o,brien", AccessKeys: []AccessKey{{ID: "AKIAOBRIEN0000000001", Created: created}}})
	csv := ReportCSV(defaultAccount, created, users)
	if bytes.HasSuffix(csv, []byte("\n")) {
		t.Error("the report ends in a newline, which AWS's do not")
	}
	rep, err := report.Parse(bytes.NewReader(csv))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, csv)
	}
	if rep.AccountID != defaultAccount || rep.Partition != "aws" || rep.BadCells != 0 {
		t.Errorf("account %s, partition %s, %d bad cells; want %s, aws, 0", rep.AccountID, rep.Partition, rep.BadCells, defaultAccount)
	}
	wantNames := append(append([]string{report.RootUserName}, testUserOrder...), "o,brien")
	var names []string
	for _, u := range rep.Users {
		names = append(names, u.Name)
	}
	if !slices.Equal(names, wantNames) {
		t.Fatalf("rows = %q, want %q", names, wantNames)
	}
	if !rep.Users[0].Root || rep.Users[0].ARN != "arn:aws:iam::"+defaultAccount+":root" {
		t.Errorf("first row %+v is not the root user", rep.Users[0])
	}

	keys := make(map[string][]AccessKey)
	for _, u := range users {
		keys[u.Name] = u.AccessKeys
	}
	for _, u := range rep.Users {
		if c, _ := u.Created.Time(); !c.Equal(created.Truncate(time.Second)) {
			t.Errorf("%s: created %v, want %v", u.Name, c, created.Truncate(time.Second))
		}
		if u.Root {
			continue
		}
		if u.PasswordEnabled.Value || u.PasswordEnabled.Status != report.Present {
			t.Errorf("%s: password_enabled %+v, want false", u.Name, u.PasswordEnabled)
		}
		for slot, got := range u.AccessKeys {
			if slot >= len(keys[u.Name]) {
				if got.Active.Value || got.LastRotated.Status != report.NotApplicable {
					t.Errorf("%s: empty slot %d is %+v", u.Name, slot+1, got)
				}
				continue
			}
			k := keys[u.Name][slot]
			rotated, ok := got.LastRotated.Time()
			if !ok || !rotated.Equal(k.Created.Truncate(time.Second)) {
				t.Errorf("%s: slot %d last rotated %v, want %v", u.Name, slot+1, rotated, k.Created.Truncate(time.Second))
			}
			if got.Active.Value != k.Active || got.LastUsed.Status != report.NotApplicable {
				t.Errorf("%s: slot %d active %+v, last used %+v; want %v and never used", u.Name, slot+1, got.Active, got.LastUsed, k.Active)
			}
		}
	}
}

func TestSetUsersRefusesWhatIAMCannotHold(t *testing.T) {
	key := AccessKey{ID: "AKIAKEY0000000000001"}
	tests := map[string][]User{
		"three access keys":  {{Name: "alice", AccessKeys: []AccessKey{key, key, key}}},
		"names equal to IAM": {{Name: "alice"}, {Name: "ALICE"}},
	}
	for name, users := range tests {
		t.Run(name, func(t *testing.T) {
			s, _ := newServer(t)
			defer func() {
				if recover() == nil {
					t.Error("SetUsers accepted users IAM cannot hold")
				}
			}()
			s.DefaultAccount().SetUsers(users)
		})
	}
}
