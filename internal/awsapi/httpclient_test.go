package awsapi_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/awsapi"
)

func TestWrapHTTPClientLimit(t *testing.T) {
	const limit = 1000
	tests := []struct {
		name          string
		size          int
		contentLength bool
		wantErr       bool
	}{
		{name: "under the limit", size: limit - 1, contentLength: true},
		{name: "at the limit", size: limit, contentLength: true},
		{name: "at the limit, streamed", size: limit},
		{name: "over the limit, announced", size: limit + 1, contentLength: true, wantErr: true},
		{name: "over the limit, streamed", size: limit + 1, wantErr: true},
		{name: "far over the limit, streamed", size: 100 * limit, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.contentLength {
					w.Header().Set("Content-Length", strconv.Itoa(tt.size))
				}
				// Flushing first forces chunked encoding when no length is set.
				w.(http.Flusher).Flush()
				_, _ = w.Write([]byte(strings.Repeat("x", tt.size)))
			}))
			defer srv.Close()
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := limitedClient(limit).Do(req)
			if err != nil {
				t.Fatalf("Do: %v (the limit must fail the body, not the request)", err)
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if tt.wantErr {
				if !errors.Is(err, awsapi.ErrResponseTooLarge) {
					t.Fatalf("read error = %v, want ErrResponseTooLarge", err)
				}
				if len(got) > limit {
					t.Errorf("read %d bytes past a limit of %d", len(got), limit)
				}
				return
			}
			if err != nil || len(got) != tt.size {
				t.Errorf("read %d bytes, err %v; want %d bytes", len(got), err, tt.size)
			}
		})
	}
}

// extraReadClient answers GenerateCredentialReport the way net/http sends
// a request: it reads Content-Length bytes of the body, answers, and checks
// for bytes past Content-Length only later, here when the response body is
// closed, by which time the SDK has closed the request body. net/http drops
// the connection when that check fails.
type extraReadClient struct {
	mu        sync.Mutex
	extraErrs []error
}

func (c *extraReadClient) Do(req *http.Request) (*http.Response, error) {
	if _, err := io.CopyN(io.Discard, req.Body, req.ContentLength); err != nil {
		return nil, err
	}
	body := `<GenerateCredentialReportResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GenerateCredentialReportResult>` +
		`<State>COMPLETE</State></GenerateCredentialReportResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GenerateCredentialReportResponse>`
	return &http.Response{
		StatusCode:    http.StatusOK,
		Header:        http.Header{"Content-Type": {"text/xml"}},
		ContentLength: int64(len(body)),
		Body: closeFunc{Reader: strings.NewReader(body), close: func() {
			_, err := io.Copy(io.Discard, req.Body)
			c.mu.Lock()
			c.extraErrs = append(c.extraErrs, err)
			c.mu.Unlock()
		}},
		Request: req,
	}, nil
}

type closeFunc struct {
	io.Reader
	close func()
}

func (c closeFunc) Close() error { c.close(); return nil }

func TestWrapHTTPClientRequestBodyEndsCleanly(t *testing.T) {
	s, cfg := newFakeAWS(t)
	s.Close() // nothing may reach the network
	next := &extraReadClient{}
	cfg.HTTPClient = awsapi.WrapHTTPClient(next, 0)
	if _, err := iam.NewFromConfig(cfg).GenerateCredentialReport(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	next.mu.Lock()
	defer next.mu.Unlock()
	if len(next.extraErrs) != 1 || next.extraErrs[0] != nil {
		t.Errorf("reading the request body past its end after the SDK closed it gave %v, want one clean end", next.extraErrs)
	}
}
