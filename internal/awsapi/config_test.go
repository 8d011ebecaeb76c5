package awsapi_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

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
