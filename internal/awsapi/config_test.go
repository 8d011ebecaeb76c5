package awsapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/accounts"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/awsapi"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/fakeaws"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// syncBuffer is a bytes.Buffer that the SDK's goroutines and the test can
// share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// sdkRecords returns the JSON records that SDKLogger wrote into buf.
func sdkRecords(t *testing.T, buf *syncBuffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(buf.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %v: %q", err, line)
		}
		if rec["msg"] == "AWS SDK message" {
			out = append(out, rec)
		}
	}
	return out
}

// What the SDK says goes through the exporter's logger, at the SDK's level:
// a debug note while it reads the shared config files, a warning about a
// response.
func TestLoadConfigLogsThroughSlog(t *testing.T) {
	s := fakeaws.New(baseAccount)
	t.Cleanup(s.Close)
	isolateAWSEnv(t, s, "")
	// A section without the "profile " prefix is ignored, with a debug note.
	if err := os.WriteFile(os.Getenv("AWS_CONFIG_FILE"), []byte("[audit]\nregion = eu-west-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// An answer to GetCallerIdentity whose Date header the SDK cannot parse.
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Date", "yesterday")
		w.Header().Set("Content-Type", "text/xml")
		w.Write([]byte(`<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>` +
			`<Arn>arn:aws:iam::` + baseAccount + `:user/exporter</Arn><UserId>AIDAEXAMPLE</UserId><Account>` + baseAccount + `</Account>` +
			`</GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`))
	}))
	t.Cleanup(sts.Close)
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)

	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		t.Run(level.String(), func(t *testing.T) {
			var buf syncBuffer
			logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: level}))
			cfg, err := awsapi.LoadConfig(t.Context(), "", report.Partition{}, 0, logger)
			if err != nil {
				t.Fatal(err)
			}
			if account, err := awsapi.CallerAccount(t.Context(), cfg); err != nil || account != baseAccount {
				t.Fatalf("CallerAccount = %q, %v; want %s", account, err, baseAccount)
			}
			var debug, warn []string
			for _, rec := range sdkRecords(t, &buf) {
				text, _ := rec["sdk_message"].(string)
				switch rec["level"] {
				case "DEBUG":
					debug = append(debug, text)
				case "WARN":
					warn = append(warn, text)
				default:
					t.Errorf("SDK record at level %v: %v", rec["level"], rec)
				}
			}
			if len(warn) == 0 || !strings.Contains(warn[0], "Date header") {
				t.Errorf("warnings = %q, want one about the Date header", warn)
			}
			switch {
			case level == slog.LevelDebug && (len(debug) == 0 || !strings.Contains(debug[0], "audit")):
				t.Errorf("debug notes = %q, want one about the ignored profile audit", debug)
			case level == slog.LevelInfo && len(debug) > 0:
				t.Errorf("debug notes at level info: %q", debug)
			}
		})
	}
}

// isolateAWSEnv points the SDK's default chain at the fake only: no shared
// config of the machine, no instance metadata.
func isolateAWSEnv(t *testing.T, s *fakeaws.Server, region string) {
	t.Helper()
	dir := t.TempDir()
	for _, kv := range s.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_CA_BUNDLE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_REGION", region)
	if region == "" {
		os.Unsetenv("AWS_REGION")
	}
}

func TestLoadConfigAssumeRole(t *testing.T) {
	roleARN := "arn:aws:iam::" + memberAccount + ":role/iam-credential-exporter"
	tests := []struct {
		name       string
		externalID string
		setup      func(member *fakeaws.Account)
		wantErr    string
	}{
		{name: "role", setup: func(*fakeaws.Account) {}},
		{name: "role with external ID", externalID: "xyzzy", setup: func(m *fakeaws.Account) { m.RequireExternalID("xyzzy") }},
		{name: "wrong external ID", externalID: "guess", setup: func(m *fakeaws.Account) { m.RequireExternalID("xyzzy") },
			wantErr: "access denied: the role cannot be assumed"},
		{name: "role refused", setup: func(m *fakeaws.Account) { m.DenyAssumeRole(true) },
			wantErr: "access denied: the role cannot be assumed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fakeaws.New(baseAccount)
			t.Cleanup(s.Close)
			isolateAWSEnv(t, s, "")
			member := s.Account(memberAccount)
			member.SetReport([]byte(strings.ReplaceAll(string(awsTestCSV), baseAccount, memberAccount)), time.Now())
			tt.setup(member)

			base, err := awsapi.LoadConfig(t.Context(), "", report.Partition{}, 8<<20, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			base.Retryer = fakeaws.NoDelayRetryer
			cfg := awsapi.AssumeRole(base, roleARN, tt.externalID)
			if cfg.Region != "us-east-1" {
				t.Errorf("region = %q, want the default us-east-1", cfg.Region)
			}
			_, account, err := accounts.ParseRoleARN(roleARN)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := newSource(cfg, account).Fetch(t.Context())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Fetch error = %v, want %q", err, tt.wantErr)
				}
				if got := s.Requests(memberAccount, gen); got != 0 {
					t.Errorf("%d requests reached the member account without its role", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rep.AccountID != memberAccount {
				t.Errorf("report of account %s, want %s", rep.AccountID, memberAccount)
			}
			want := map[fakeaws.RequestKey]int{
				{Account: baseAccount, Action: fakeaws.AssumeRole}: 1,
				{Account: memberAccount, Action: gen}:              1,
				{Account: memberAccount, Action: get}:              1,
			}
			if got := s.RequestCounts(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("requests = %v, want %v", got, want)
			}

			caller, err := awsapi.CallerAccount(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if caller != memberAccount {
				t.Errorf("CallerAccount = %s, want the role's account %s", caller, memberAccount)
			}
		})
	}
}

func TestLoadConfigRegion(t *testing.T) {
	tests := []struct {
		name      string
		env       string
		option    string
		partition string
		want      string
	}{
		{name: "default", want: "us-east-1"},
		{name: "China partition", partition: "aws-cn", want: "cn-north-1"},
		{name: "GovCloud partition", partition: "aws-us-gov", want: "us-gov-west-1"},
		{name: "from the environment", env: "eu-west-1", want: "eu-west-1"},
		{name: "option wins", env: "eu-west-1", option: "ap-southeast-2", want: "ap-southeast-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fakeaws.New(baseAccount)
			t.Cleanup(s.Close)
			isolateAWSEnv(t, s, tt.env)
			partition, _ := report.LookupPartition(tt.partition)
			cfg, err := awsapi.LoadConfig(t.Context(), tt.option, partition, 0, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Region != tt.want {
				t.Errorf("region = %q, want %q", cfg.Region, tt.want)
			}
		})
	}
}

func TestCallerAccount(t *testing.T) {
	s, cfg := newFakeAWS(t)
	got, err := awsapi.CallerAccount(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got != baseAccount {
		t.Errorf("CallerAccount = %s, want %s", got, baseAccount)
	}
	s.Close()
	if _, err := awsapi.CallerAccount(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "get caller identity") {
		t.Errorf("error = %v, want a failed get caller identity", err)
	}
}
