package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/reportgen"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/testenv"
)

// peakRSS returns the peak resident memory of process pid (VmHWM), in bytes.
func peakRSS(t testing.TB, pid int) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc to read the exporter's memory from: %v", err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// Requests for protobuf or with a name[] filter get the one cached text
// response, as every request does: the filter is ignored, and none builds
// the accounts' metrics anew (before, each built them all in memory). Forty
// at once against a 1,000-user account all succeed, and the exporter's peak
// memory stays near that after one.
func TestFilteredAndProtobufRequestsKeepMemoryBounded(t *testing.T) {
	t.Parallel()
	const users = 1000
	// Full pages take half of --web.max-requests: 80 lets all forty in.
	e, p := launch(t, freeAddr(t), nil, "--report.file="+writeReportFile(t, users), "--web.max-requests=80")
	waitFor(t, patience, func() error { _, err := httpGet(e.URL + "/-/ready"); return err })
	client := &http.Client{Timeout: patience}
	get := func(accept string) error {
		req, err := http.NewRequest(http.MethodGet, e.URL+"/metrics?name[]=aws_iam_user_mfa_active", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", accept)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		switch {
		case err != nil:
			return err
		case resp.StatusCode != http.StatusOK:
			return fmt.Errorf("status %s", resp.Status)
		case !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4"):
			return fmt.Errorf("Content-Type %q, want the text format", resp.Header.Get("Content-Type"))
		case strings.Count(string(body), "\naws_iam_user_mfa_active{") < users || !strings.Contains(string(body), "\naws_iam_user_info{"):
			return fmt.Errorf("body is not every family of the %d users", users)
		}
		return nil
	}
	const protobuf = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
	if err := get(protobuf); err != nil {
		t.Fatalf("one request: %v", err)
	}
	one := peakRSS(t, p.Pid())

	var wg sync.WaitGroup
	errs := make([]error, 40)
	for i := range errs {
		wg.Go(func() { errs[i] = get([]string{protobuf, "*/*"}[i%2]) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Errorf("40 requests at once: %v", err)
	}
	forty := peakRSS(t, p.Pid())
	t.Logf("peak RSS after one request %d MiB, after forty at once %d MiB", one>>20, forty>>20)
	if limit := 2*one + 100<<20; forty > limit {
		t.Errorf("peak RSS %d MiB after forty requests at once, want less than %d MiB (twice that after one, plus 100 MiB)", forty>>20, limit>>20)
	}
}

// slowReader sends a scrape for uncompressed text and reads no more than
// its status line, which says that the exporter took the request: the
// answer is larger than the sockets' buffers (usersBeyondSendBuffer), so
// the exporter's writes block.
func slowReader(t testing.TB, addr string) {
	t.Helper()
	conn := testenv.IdleClient(t, addr, "/metrics")
	conn.SetReadDeadline(time.Now().Add(patience))
	status, err := bufio.NewReaderSize(conn, 128).ReadString('\n')
	if err != nil || status != "HTTP/1.1 200 OK\r\n" {
		t.Fatalf("slow reader: status line %q, %v", status, err)
	}
}

// usersBeyondSendBuffer is the size of a report whose uncompressed page
// (about 850 bytes a user) is twice what the kernel may buffer for one
// connection (testenv.SendBufferLimit), so that the exporter's writes to a
// client that does not read block on any machine: 5,000 users (4 MB) are
// just at the Linux default. It may exceed --report.max-users' default.
func usersBeyondSendBuffer() int {
	const pageBytesPerUser = 800 // measured: 847
	return max(5000, 2*testenv.SendBufferLimit()/pageBytesPerUser)
}

// statusOf returns the status of a scrape, as Prometheus sends it (gzip).
func statusOf(url string) (int, error) {
	client := &http.Client{Timeout: patience}
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// Twenty clients that never read take the twenty slots of full pages (half
// of --web.max-requests), and a full scrape gets 503 while the exporter's own
// target is still served; a few seconds after the socket buffers fill (the
// write stall), and in any case by --web.write-timeout, their writes fail,
// their slots are free, and a full scrape succeeds.
func TestSlowReadersFreeTheirSlots(t *testing.T) {
	t.Parallel()
	const writeTimeout = 30 * time.Second
	addr := freeAddr(t)
	users := usersBeyondSendBuffer()
	e, _ := launch(t, addr, nil, "--report.file="+writeReportFile(t, users), "--report.max-users="+strconv.Itoa(users+1),
		"--web.max-requests=40", "--web.write-timeout="+writeTimeout.String())
	waitFor(t, patience, func() error { _, err := httpGet(e.URL + "/-/ready"); return err })
	for range 20 {
		slowReader(t, addr)
	}
	if code, err := statusOf(e.URL + "/metrics"); err != nil || code != http.StatusServiceUnavailable {
		t.Fatalf("scrape beside 20 slow readers: %d, %v; want 503 (do the slow readers hold the slots?)", code, err)
	}
	if code, err := statusOf(e.URL + "/metrics?exporter=true"); err != nil || code != http.StatusOK {
		t.Fatalf("the exporter's own target beside 20 slow readers: %d, %v; want 200", code, err)
	}
	// The slots are free a write timeout after the slow readers asked; the
	// bound only guards against a hang.
	waitFor(t, patience, func() error {
		code, err := statusOf(e.URL + "/metrics")
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("scrape: %d", code)
		}
		return err
	})
}

// Connections that stay idle are closed: before their first request after
// --web.read-timeout, between requests after --web.idle-timeout. The read
// timeout leaves the keep-alive connections' first requests seconds to be
// read by an exporter that a busy machine starves: Go checks a deadline
// before it reads, so at 1s a starved exporter cut off requests that had
// arrived (unexpected EOF).
func TestIdleConnectionsAreClosed(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	e, _ := launch(t, addr, nil, "--report.file=../report/testdata/example.csv", "--web.read-timeout=5s", "--web.idle-timeout=5s")
	waitFor(t, patience, func() error { _, err := httpGet(e.URL + "/-/ready"); return err })

	const each = 100
	type idle struct {
		conn net.Conn
		r    *bufio.Reader
	}
	var conns []idle
	for i := range 2 * each {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		r := bufio.NewReader(conn)
		if i%2 == 0 {
			// A keep-alive connection after one request.
			if _, err := io.WriteString(conn, "GET /-/healthy HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.Close {
				t.Fatal("the exporter closed a keep-alive connection after its first request")
			}
		}
		conns = append(conns, idle{conn, r})
	}
	// The deadline bounds a hang; the exporter closes them much sooner.
	deadline := time.Now().Add(patience)
	for i, c := range conns {
		c.conn.SetReadDeadline(deadline)
		if _, err := c.r.ReadByte(); !errors.Is(err, io.EOF) {
			kind := "fresh"
			if i%2 == 0 {
				kind = "keep-alive"
			}
			t.Fatalf("idle %s connection %d: read %v, want EOF: the exporter should have closed it", kind, i, err)
		}
	}
}

// A request's headers are bounded at 16 KiB (a bearer token of 8 KB still
// fits). /sd copies only a plain host[:port] into its targets: collector's
// TestSDRefusesBadHostsAndSharesTheRequestSlots.
func TestRequestHeadersAreBounded(t *testing.T) {
	t.Parallel()
	e := startExporter(t, nil, "--report.file=../report/testdata/example.csv")
	get := func(header http.Header) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, e.URL+"/metrics?exporter=true", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header = header
		rsp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET /metrics?exporter=true: %v", err)
		}
		_, _ = io.Copy(io.Discard, rsp.Body)
		rsp.Body.Close()
		return rsp.StatusCode
	}
	if code := get(http.Header{"Authorization": {"Bearer " + strings.Repeat("t", 8<<10)}}); code != http.StatusOK {
		t.Errorf("an 8 KiB bearer token: status %d, want 200", code)
	}
	if code := get(http.Header{"X-Big": {strings.Repeat("x", 32<<10)}}); code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("32 KiB of headers: status %d, want 431", code)
	}
}

// A real Prometheus scrapes an account of 5,000 users, IAM's quota, the way
// it scrapes any target (gzip, Prometheus's default scrape timeout of 10s)
// and stores every aws_iam_* series the exporter serves. The scrape
// duration it measured is logged for docs/benchmarks.md, not asserted: the
// 1s timeout of the other tests measured the machine's load, not the
// exporter, and failed on a busy one.
func TestPrometheusScrapesLargestAccount(t *testing.T) {
	t.Parallel()
	requireProgram(t, "prometheus")
	const users = 5000
	reportPath := filepath.Join(t.TempDir(), "credential-report.csv")
	report := reportgen.Generate(reportgen.Options{AccountID: promAccount, Users: users, Seed: 1})
	if err := os.WriteFile(reportPath, report, 0o644); err != nil {
		t.Fatal(err)
	}
	exp := startExporter(t, nil, "--report.file="+reportPath)
	waitFor(t, patience, func() error { _, err := httpGet(exp.URL + "/-/ready"); return err })
	_, mfs := scrape(t, exp.URL)
	want := 0
	for name, mf := range mfs {
		if strings.HasPrefix(name, "aws_iam_") {
			want += len(mf.GetMetric())
		}
	}
	// About 8 a user (docs/scaling.md): a much smaller page would not be
	// the largest account.
	if want < 7*users {
		t.Fatalf("exporter serves %d aws_iam_* series for %d users, want at least %d", want, users, 7*users)
	}

	prom := runPrometheus(t, "testdata/prometheus/prometheus.yml",
		map[string]any{"Target": strings.TrimPrefix(exp.URL, "http://"), "ScrapeInterval": "10s"}, nil)
	count := fmt.Sprintf(`count({job=%q, __name__=~"aws_iam_.+"})`, promJob)
	waitFor(t, patience, func() error {
		got, err := prom.vector(count)
		if err != nil {
			return err
		}
		if len(got) != 1 || got[0].Value[1] != strconv.Itoa(want) {
			return fmt.Errorf("%s = %v, want %d", count, got, want)
		}
		return nil
	})
	// One more scrape, so that up and the logged duration are not the
	// first scrape's alone (which also created every series).
	sel := fmt.Sprintf(`{job=%q}`, promJob)
	waitFor(t, patience, func() error {
		n, err := prom.query("count_over_time(up" + sel + "[1m]) >= 2")
		if err == nil && n == 0 {
			err = fmt.Errorf("fewer than 2 scrapes so far")
		}
		return err
	})
	up, err := prom.vector("up" + sel)
	if err != nil || len(up) != 1 || up[0].Value[1] != "1" {
		t.Fatalf("up = %v, %v; want 1", up, err)
	}
	for _, expr := range []string{
		"scrape_duration_seconds" + sel,
		"avg_over_time(scrape_duration_seconds" + sel + "[1m])",
		"count_over_time(scrape_duration_seconds" + sel + "[1m])",
		"scrape_samples_scraped" + sel,
	} {
		if v, err := prom.vector(expr); err == nil && len(v) == 1 {
			t.Logf("%s: %v", expr, v[0].Value[1])
		}
	}
}
