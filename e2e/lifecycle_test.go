package e2e

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/fakeaws"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/reportgen"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/testenv"
)

// launch starts the exporter on addr as startExporter does, but waits for
// nothing, and returns the process, for tests that signal it or watch it
// exit. Its grace outlasts the exporter's own shutdown bound of 15 s.
func launch(t testing.TB, addr string, env []string, args ...string) (*exporter, *testenv.Process) {
	t.Helper()
	return launchBinary(t, builtExporter(t), addr, env, args...)
}

// launchBinary is launch with another exporter binary than the one TestMain
// built, such as another revision's.
func launchBinary(t testing.TB, bin, addr string, env []string, args ...string) (*exporter, *testenv.Process) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, append([]string{"--web.listen-address=" + addr}, args...)...)
	home := t.TempDir()
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"AWS_CONFIG_FILE=" + filepath.Join(home, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	}, env...)
	p := testenv.Start(t, "exporter", cmd, 30*time.Second, true)
	return &exporter{URL: "http://" + addr, logs: p.Logs}, p
}

// waitLogs waits until the exporter's output contains want.
func waitLogs(t testing.TB, e *exporter, want string) {
	t.Helper()
	waitFor(t, patience, func() error {
		if !strings.Contains(e.Logs(), want) {
			return fmt.Errorf("no %q in the logs yet", want)
		}
		return nil
	})
}

// writeReportFile writes a synthetic report of users users and returns its
// path.
func writeReportFile(t testing.TB, users int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "report.csv")
	if err := os.WriteFile(path, reportgen.Generate(reportgen.Options{Users: users}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// SIGHUP reads --config.file again, as Prometheus does with its own: a new
// account is added, and a broken file is refused with the current accounts
// kept. The process lives on through both.
func TestSIGHUPReloadsAccounts(t *testing.T) {
	t.Parallel()
	const caller, first, second = "220000000000", "220000000001", "220000000002"
	fake := fakeaws.New(caller)
	t.Cleanup(fake.Close)
	for i, id := range []string{first, second} {
		fake.Account(id).SetReport(reportgen.Generate(reportgen.Options{AccountID: id, Users: 3, Seed: int64(i)}), time.Now().Add(-time.Hour))
	}
	config := filepath.Join(t.TempDir(), "accounts.yml")
	writeConfig := func(text string) {
		t.Helper()
		if err := os.WriteFile(config, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	account := func(id, name string) string {
		return "  - role_arn: arn:aws:iam::" + id + ":role/iam-reader\n    name: " + name + "\n"
	}
	waitAccounts := func(e *exporter, want map[string]orgAccount) {
		t.Helper()
		waitFor(t, patience, func() error {
			_, mfs := scrape(t, e.URL)
			for id, a := range want {
				if v, ok := sample(mfs, "iam_credential_exporter_refresh_success", map[string]string{"account_id": id}); !ok || v != 1 {
					return fmt.Errorf("account %s: refresh_success %v (present %v)", id, v, ok)
				}
				if _, ok := sample(mfs, "aws_iam_account_info", map[string]string{"account_id": id, "name": a.name}); !ok {
					return fmt.Errorf("account %s: no aws_iam_account_info named %s", id, a.name)
				}
			}
			for id := range labelledAccounts(mfs) {
				if _, ok := want[id]; !ok {
					return fmt.Errorf("account %s should not be exported", id)
				}
			}
			return nil
		})
	}

	writeConfig("accounts:\n" + account(first, "payments"))
	e, p := launch(t, freeAddr(t), fake.Environ(), "--config.file="+config, "--report.refresh-interval=1h")
	waitFor(t, patience, func() error { _, err := httpGet(e.URL + "/-/healthy"); return err })
	waitAccounts(e, map[string]orgAccount{first: {name: "payments"}})

	writeConfig("accounts:\n" + account(first, "payments") + account(second, "search"))
	p.Signal(t, syscall.SIGHUP)
	waitAccounts(e, map[string]orgAccount{first: {name: "payments"}, second: {name: "search"}})
	if n := fake.Requests(first, fakeaws.GetCredentialReport); n != 1 {
		t.Errorf("account %s: %d GetCredentialReport calls, want 1: an account that stays keeps its report", first, n)
	}

	writeConfig("accounts:\n  - role_arn: not-an-arn\n")
	p.Signal(t, syscall.SIGHUP)
	waitLogs(t, e, "cannot reload the accounts; keeping the current ones")
	if logs := e.Logs(); !strings.Contains(logs, config) {
		t.Errorf("the reload error does not name %s:\n%s", config, logs)
	}
	waitAccounts(e, map[string]orgAccount{first: {name: "payments"}, second: {name: "search"}})
	if p.Exited() {
		t.Fatal("the exporter exited on SIGHUP")
	}
}

// Without --config.file there is nothing to read again: SIGHUP is logged and
// changes nothing.
func TestSIGHUPWithoutConfigFile(t *testing.T) {
	t.Parallel()
	e, p := launch(t, freeAddr(t), nil, "--report.file=../report/testdata/example.csv")
	waitFor(t, patience, func() error { _, err := httpGet(e.URL + "/-/ready"); return err })
	p.Signal(t, syscall.SIGHUP)
	waitLogs(t, e, "nothing to reload without --config.file")
	if _, err := httpGet(e.URL + "/-/ready"); err != nil {
		t.Errorf("/-/ready after SIGHUP: %v", err)
	}
}

// SIGTERM during a scrape that a slow client reads: the exporter stops
// accepting connections, lets the scrape finish, and exits 0.
func TestSIGTERMLetsScrapesFinish(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	// The write timeout (5 s without progress) is TestSlowReadersFreeTheirSlots'
	// subject: a machine busy enough to stretch this client's pauses
	// would cut its scrape for being slow, which is not what this test is
	// about.
	e, p := launch(t, addr, nil, "--report.file="+writeReportFile(t, 5000), "--web.write-timeout=1m")
	waitFor(t, patience, func() error { _, err := httpGet(e.URL + "/-/ready"); return err })

	// Uncompressed, the response (megabytes) is larger than the sockets'
	// buffers, so the exporter is still writing it while the client waits.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(16 << 10)
	if _, err := io.WriteString(conn, "GET /metrics HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s, want 200", resp.Status)
	}
	head := make([]byte, 64<<10)
	if _, err := io.ReadFull(resp.Body, head); err != nil {
		t.Fatal(err)
	}

	p.Signal(t, syscall.SIGTERM)
	waitLogs(t, e, "shutting down")
	if c, err := net.DialTimeout("tcp", addr, 5*time.Second); err == nil {
		c.Close()
		t.Errorf("a new connection was accepted after SIGTERM")
	}
	// The client reads slowly, 64 KiB every 200 ms (less than half the
	// page), for 6 s after SIGTERM: longer than the old fixed 5 s, and
	// less than the 15 s the exporter now gives requests in flight. Then
	// it reads the rest at once, so that a busy machine, which stretches
	// every pause, does not take it past the 15 s.
	var body bytes.Buffer
	slowUntil := time.Now().Add(6 * time.Second)
	for {
		chunk := int64(64 << 10)
		if time.Now().Before(slowUntil) {
			time.Sleep(200 * time.Millisecond)
		} else {
			chunk = 1 << 30
		}
		// CopyN says io.EOF only when the body ended cleanly; the body is
		// chunked, and one cut short ends in another error.
		_, err := io.CopyN(&body, resp.Body, chunk)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Errorf("reading the rest of the scrape: %v", err)
			break
		}
	}
	if time.Now().Before(slowUntil) {
		t.Errorf("the page ended before the client had read slowly for 6 s: %d bytes", len(head)+body.Len())
	}
	rest := body.Bytes()
	if got := len(head) + len(rest); got < 4<<20 || !bytes.HasSuffix(rest, []byte("\n")) {
		t.Errorf("scrape body: %d bytes, want at least 4 MiB of whole lines", got)
	}
	if code := p.Wait(t, 60*time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
	if logs := e.Logs(); !strings.Contains(logs, "stopped") || strings.Contains(logs, "level=ERROR") {
		t.Errorf("want a clean stop, got:\n%s", logs)
	}
}

// A busy address ends the exporter at once with an error naming it, even
// while AWS does not answer the identity call (which may take 30 s).
func TestBusyAddressFailsFast(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	// An AWS endpoint that accepts connections and never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	env := testenv.AWSEnv("http://"+silent.Addr().String(), t.TempDir())
	e, p := launch(t, busy.Addr().String(), env)
	// The bound detects the old behaviour (the 30 s identity call first).
	if code := p.Wait(t, 15*time.Second); code == 0 {
		t.Errorf("exit status 0 on a busy address")
	}
	if logs := e.Logs(); !strings.Contains(logs, busy.Addr().String()) || !strings.Contains(logs, "address already in use") {
		t.Errorf("the error does not name the busy address %s:\n%s", busy.Addr(), logs)
	}
}

// With --log.format=json every line on stderr is JSON: the exporter's own,
// net/http's (a TLS handshake error) and the AWS SDK's (a warning about an
// unparsable Date header).
func TestJSONLogsOnly(t *testing.T) {
	t.Parallel()
	fake := startFake(t)
	target, err := url.Parse(fake.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(r *http.Response) error {
		r.Header.Set("Date", "yesterday")
		return nil
	}
	badDates := httptest.NewServer(proxy)
	t.Cleanup(badDates.Close)
	env := fake.Environ()
	for i, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == "AWS_ENDPOINT_URL_IAM" || k == "AWS_ENDPOINT_URL_STS" {
			env[i] = k + "=" + badDates.URL
		}
	}

	dir := t.TempDir()
	cert, key := writeSelfSignedCert(t, dir)
	webConfig := filepath.Join(dir, "web-config.yml")
	if err := os.WriteFile(webConfig, []byte("tls_server_config:\n  cert_file: "+cert+"\n  key_file: "+key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	e, p := launch(t, addr, env, "--log.format=json", "--web.config.file="+webConfig, "--report.refresh-interval=1h")
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: patience}
	waitFor(t, patience, func() error {
		resp, err := client.Get("https://" + addr + "/-/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/-/ready: %s", resp.Status)
		}
		return nil
	})
	// Plain HTTP to the TLS port.
	if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
		resp.Body.Close()
	}
	waitLogs(t, e, "TLS handshake error")
	waitLogs(t, e, "Date header")
	p.Signal(t, syscall.SIGTERM)
	p.Wait(t, 60*time.Second)

	lines := strings.Split(strings.TrimSuffix(e.Logs(), "\n"), "\n")
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("not JSON: %q", line)
		}
	}
	t.Logf("%d lines, all JSON", len(lines))
}
