// Package testenv starts the external programs that tests drive (moto_server,
// promtool, prometheus) and decides whether a missing one skips or fails.
package testenv

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
)

// RequireProgram returns the path of an external program. It skips the test
// when the program is missing, and fails it instead under CI=true, where a
// silent skip would hide a missing install step.
func RequireProgram(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	SkipUnlessCI(t, "%s not on PATH (.ci/run installs it)", name)
	return ""
}

// SkipUnlessCI skips the test for the reason given, which a developer's
// machine may lack (a program, root), or fails it under CI=true, where
// .ci/run provides everything and a skip would hide a failure.
func SkipUnlessCI(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true, and this test cannot run: "+format, args...)
	}
	t.Skipf(format+" (CI=true makes this a failure)", args...)
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Patience bounds a wait for something that will happen, such as a process
// being ready or Prometheus having scraped: on an idle machine it takes
// seconds, on a busy one with two cores several times that. Reaching it
// means a hang, never slowness.
const Patience = 5 * time.Minute

// WaitingTests sets go test's -parallel to n unless the command line gives
// it. Call it from TestMain, before m.Run, in a package whose tests mostly
// wait (for other processes, servers, timeouts) rather than compute: with
// go test's default of GOMAXPROCS, 2 on a 2-core machine, such a package
// takes the sum of its tests' waits over two. Its tests must wait for
// events, with Patience as the hang guard, so that none needs a core of its
// own.
func WaitingTests(n int) {
	if !flag.Parsed() {
		flag.Parse()
	}
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", strconv.Itoa(n))
	}
}

// WaitFor polls cond until it returns nil or the limit passes. The limit
// bounds a hang; it does not measure speed: pass Patience unless the wait
// is known to be longer.
func WaitFor(t testing.TB, limit time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// HTTPGet returns the body of a 200 response, or an error that includes the status.
func HTTPGet(url string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), Patience)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return string(body), fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(body), nil
}

// Buffer collects a child process's output for failure messages; it is safe
// for the process's writers and the test to use at once.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// StartProcess starts cmd with its output collected, and stops it when the
// test ends. cmd must come from exec.CommandContext(t.Context(), ...): when
// that context ends, just before the test's cleanups run, the process gets
// SIGINT, and SIGKILL if it is still running grace later. With mustStop, a
// process that needs the kill fails the test: its graceful shutdown is under
// test. The output is logged when the test failed.
func StartProcess(t testing.TB, name string, cmd *exec.Cmd, grace time.Duration, mustStop bool) *Buffer {
	t.Helper()
	return Start(t, name, cmd, grace, mustStop).Logs
}

// Process is a child process started by Start.
type Process struct {
	Logs *Buffer // what the process wrote to stdout and stderr
	cmd  *exec.Cmd
	done chan struct{}
	err  error // of cmd.Wait, once done is closed
}

// Start is StartProcess for tests that also signal the process or watch it
// exit.
func Start(t testing.TB, name string, cmd *exec.Cmd, grace time.Duration, mustStop bool) *Process {
	t.Helper()
	if cmd.Cancel == nil {
		t.Fatalf("start %s: the command must come from exec.CommandContext(t.Context(), ...)", name)
	}
	p := &Process{Logs: &Buffer{}, cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.Logs, p.Logs
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = grace
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		<-p.done
		if mustStop && outlivedGrace(p.err) {
			t.Errorf("%s did not stop within %s of SIGINT: %v", name, grace, p.err)
		}
		// A binary built with -race only prints what it finds, and its
		// exit status is not checked when the test stops it.
		if strings.Contains(p.Logs.String(), "WARNING: DATA RACE") {
			t.Errorf("%s reported a data race", name)
		}
		if t.Failed() {
			t.Logf("%s logs:\n%s", name, p.Logs.String())
		}
	})
	return p
}

// Pid returns the process ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the process.
func (p *Process) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits for the process to exit, for at most limit, and returns its
// exit status; the limit bounds a hang. A process ended by a signal fails
// the test.
func (p *Process) Wait(t testing.TB, limit time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		t.Fatalf("process still running %s later", limit)
	}
	var exit *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &exit) && exit.Exited():
		return exit.ExitCode()
	}
	t.Fatalf("process did not exit by itself: %v", p.err)
	return -1
}

// outlivedGrace reports whether the error of Wait says that the process was
// still running, or still held its output open, when WaitDelay ran out. A
// clean exit after SIGINT gives context.Canceled, which is not such an error.
func outlivedGrace(err error) bool {
	if errors.Is(err, exec.ErrWaitDelay) {
		return true
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return false
	}
	status, ok := exit.Sys().(syscall.WaitStatus)
	return ok && status.Signaled() && status.Signal() == syscall.SIGKILL
}

// StartMoto runs moto_server, a third-party AWS emulator, on a loopback port
// for the length of the test and returns its URL.
func StartMoto(t testing.TB) string {
	t.Helper()
	bin := RequireProgram(t, "moto_server")
	addr := FreeAddr(t)
	host, port, _ := strings.Cut(addr, ":")
	StartProcess(t, "moto_server", exec.CommandContext(t.Context(), bin, "-H", host, "-p", port), 10*time.Second, false)
	url := "http://" + addr
	WaitFor(t, Patience, func() error {
		_, err := HTTPGet(url + "/moto-api/")
		return err
	})
	return url
}

// DummyCredentials are static credentials for local endpoints.
const (
	DummyAccessKeyID     = "AKIAIOSFODNN7EXAMPLE"
	DummySecretAccessKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// AWSEnv points the AWS SDK (the exporter's or a test's) at a local endpoint
// with dummy static credentials, and keeps it away from the developer's own
// AWS configuration and from instance metadata.
func AWSEnv(endpoint, home string) []string {
	return []string{
		"AWS_ENDPOINT_URL=" + endpoint,
		"AWS_ACCESS_KEY_ID=" + DummyAccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + DummySecretAccessKey,
		"AWS_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + home + "/aws-config",
		"AWS_SHARED_CREDENTIALS_FILE=" + home + "/aws-credentials",
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// NewMotoOrganization creates an organization with all features in the
// moto_server at endpoint and returns a client of it, acting as the
// management account, and that account's ID.
func NewMotoOrganization(ctx context.Context, t testing.TB, endpoint string) (*organizations.Client, string) {
	t.Helper()
	orgs := organizations.New(organizations.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(DummyAccessKeyID, DummySecretAccessKey, ""),
	})
	out, err := orgs.CreateOrganization(ctx, &organizations.CreateOrganizationInput{FeatureSet: orgtypes.OrganizationFeatureSetAll})
	if err != nil {
		t.Fatalf("create organization: %v", err)
	}
	return orgs, aws.ToString(out.Organization.MasterAccountId)
}

// CreateMotoAccount creates a member account in moto's organization and
// returns its ID. AWS creates accounts in the background; moto finishes at
// once, so anything else fails the test.
func CreateMotoAccount(ctx context.Context, t testing.TB, orgs *organizations.Client, name string) string {
	t.Helper()
	out, err := orgs.CreateAccount(ctx, &organizations.CreateAccountInput{
		AccountName: aws.String(name),
		Email:       aws.String(name + "@example.com"),
	})
	if err != nil {
		t.Fatalf("create account %s: %v", name, err)
	}
	status := out.CreateAccountStatus
	if status.State != orgtypes.CreateAccountStateSucceeded || aws.ToString(status.AccountId) == "" {
		t.Fatalf("create account %s: state %s, account %q; moto finishes at once", name, status.State, aws.ToString(status.AccountId))
	}
	return aws.ToString(status.AccountId)
}

// SendBufferLimit is how many bytes the kernel may buffer on the sending side
// of one TCP connection that sets no SO_SNDBUF: the largest size that
// autotuning gives it (the third field of net.ipv4.tcp_wmem), or 4 MiB, the
// Linux default, where that cannot be read. A test whose server must block in
// a write needs an answer larger than this.
func SendBufferLimit() int {
	const linuxDefault = 4 << 20
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_wmem")
	if err != nil {
		return linuxDefault
	}
	f := strings.Fields(string(b))
	if len(f) != 3 {
		return linuxDefault
	}
	n, err := strconv.Atoi(f[2])
	if err != nil || n <= 0 {
		return linuxDefault
	}
	return n
}

// IdleClient sends GET path to addr over a connection with a 4 KiB receive
// buffer, set before connecting so that the window offered to the server is
// small from the start, and never reads the answer: once the answer outgrows
// the sockets' buffers, the server's writes block, as with a hostile or
// stuck client. The connection closes when the test ends; the caller may
// read from it.
func IdleClient(t testing.TB, addr, path string) net.Conn {
	t.Helper()
	dialer := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<10)
		}); cerr != nil {
			return cerr
		}
		return err
	}}
	conn, err := dialer.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	return conn
}
