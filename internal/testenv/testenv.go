// Package testenv starts the external programs that tests drive (moto_server,
// promtool, prometheus) and decides whether a missing one skips or fails.
package testenv

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
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
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true but not on PATH (.ci/run installs it)", name)
	}
	t.Skipf("%s not on PATH; install it to run this test (CI=true makes this a failure)", name)
	return ""
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

// WaitFor polls cond until it returns nil or the limit passes. The limit
// bounds a hang; it does not measure speed.
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
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
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
// test ends: SIGINT, then SIGKILL after grace. With mustStop, a process that
// needs the kill fails the test: its graceful shutdown is under test. The
// output is logged when the test failed.
func StartProcess(t testing.TB, name string, cmd *exec.Cmd, grace time.Duration, mustStop bool) *Buffer {
	t.Helper()
	logs := &Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(grace):
			cmd.Process.Kill()
			<-done
			if mustStop {
				t.Errorf("%s did not stop within %s of SIGINT", name, grace)
			}
		}
		if t.Failed() {
			t.Logf("%s logs:\n%s", name, logs.String())
		}
	})
	return logs
}

// StartMoto runs moto_server, a third-party AWS emulator, on a loopback port
// for the length of the test and returns its URL.
func StartMoto(t testing.TB) string {
	t.Helper()
	bin := RequireProgram(t, "moto_server")
	addr := FreeAddr(t)
	host, port, _ := strings.Cut(addr, ":")
	StartProcess(t, "moto_server", exec.Command(bin, "-H", host, "-p", port), 10*time.Second, false)
	url := "http://" + addr
	WaitFor(t, 60*time.Second, func() error {
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
