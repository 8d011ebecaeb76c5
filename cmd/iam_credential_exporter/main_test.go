package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/testenv"
)

// runMainEnv makes the test binary act as the exporter: TestMain then calls
// run() with the process's arguments instead of running tests. This checks
// the real flag parsing and exit codes without building a binary.
const runMainEnv = "IAM_CREDENTIAL_EXPORTER_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		os.Exit(run())
	}
	// The parallel tests wait: for child processes (TestRunRefuses*), and
	// TestStalledClientsFreeTheirSlots for its 15 s write stall, which the
	// others should not queue behind.
	testenv.WaitingTests(4)
	os.Exit(m.Run())
}

// defaultOptions are the options that run() parses from no flags.
func defaultOptions(t *testing.T) options {
	t.Helper()
	var o options
	app, _, _ := newApp(&o)
	if _, err := app.Parse(nil); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestValidate checks the flags of the HTTP server, the memory limit and the
// scheduler; those of the accounts are selection's TestValidate.
func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*options)
		wantErr string // a part of the error; "" means valid
	}{
		{name: "defaults", change: func(*options) {}},
		{name: "telemetry path elsewhere", change: func(o *options) { o.telemetryPath = "/iam/metrics" }},
		{name: "no request limit", change: func(o *options) { o.maxRequests = 0 }},
		{name: "external address", change: func(o *options) { o.externalAddress = "iam-credential-exporter.monitoring.svc:9860" }},

		// http.ServeMux panics on the first three.
		{name: "telemetry path without a slash", change: func(o *options) { o.telemetryPath = "metrics" },
			wantErr: `--web.telemetry-path: "metrics" must start with /`},
		{name: "telemetry path of the landing page", change: func(o *options) { o.telemetryPath = "/" },
			wantErr: `--web.telemetry-path: "/" is the landing page`},
		{name: "telemetry path with a wildcard", change: func(o *options) { o.telemetryPath = "/{x" },
			wantErr: "may hold only letters, digits"},
		{name: "telemetry path of readiness", change: func(o *options) { o.telemetryPath = "/-/ready" },
			wantErr: "--web.telemetry-path: /-/ready is the exporter's health endpoint"},
		// The server redirects an unclean path: /sd would advertise a
		// path that can never be scraped. A trailing slash would make a
		// prefix pattern. TestAcceptedTelemetryPathsAreServed refuses the
		// other unclean forms (//, /./, /../, a trailing /).
		{name: "unclean telemetry path", change: func(o *options) { o.telemetryPath = "/a//metrics" },
			wantErr: `--web.telemetry-path: "/a//metrics" is not a clean path (no //, /./, /../ or trailing /): the server would redirect its requests to /a/metrics`},
		{name: "telemetry path of service discovery", change: func(o *options) { o.telemetryPath = "/sd" },
			wantErr: "--web.telemetry-path: /sd is the exporter's service discovery endpoint"},
		{name: "negative request limit", change: func(o *options) { o.maxRequests = -1 },
			wantErr: "--web.max-requests must be 0 (no limit) or more, got -1"},
		// The host[:port] check is /sd's, over every kind of bad Host:
		// collector's TestSDRefusesBadHostsAndSharesTheRequestSlots.
		{name: "external address with a scheme", change: func(o *options) { o.externalAddress = "http://exporter:9860" },
			wantErr: `--web.external-address: "http://exporter:9860" is not a host[:port]`},
		{name: "zero read timeout", change: func(o *options) { o.readTimeout = 0 },
			wantErr: "--web.read-timeout must be positive, got 0s"},
		{name: "negative write timeout", change: func(o *options) { o.writeTimeout = -time.Second },
			wantErr: "--web.write-timeout must be positive, got -1s"},
		{name: "zero idle timeout", change: func(o *options) { o.idleTimeout = 0 },
			wantErr: "--web.idle-timeout must be positive"},

		{name: "whole memory limit", change: func(o *options) { o.memLimitRatio = 1 }},
		{name: "no memory limit ratio when off", change: func(o *options) { o.autoMemLimit, o.memLimitRatio = false, 0 }},
		{name: "zero memory limit ratio", change: func(o *options) { o.memLimitRatio = 0 },
			wantErr: "--auto-gomemlimit.ratio must be above 0 and at most 1, got 0"},
		{name: "memory limit ratio of a percentage", change: func(o *options) { o.memLimitRatio = 90 },
			wantErr: "--auto-gomemlimit.ratio must be above 0 and at most 1, got 90"},

		{name: "zero concurrency", change: func(o *options) { o.concurrency = 0 },
			wantErr: "--aws.concurrency must be positive, got 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := defaultOptions(t)
			tt.change(&o)
			err := o.validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("validate() = %v, want nil", err)
			case tt.wantErr != "" && err == nil:
				t.Errorf("validate() = nil, want an error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("validate() = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// TestRunRefusesBadFlags runs the exporter's main path in a child process:
// a flag that kingpin cannot parse, or that validate() refuses, ends the
// process with exit code 2 and a message naming the flag, before anything
// listens or calls AWS. One case of each kind of refusal: every value that
// validate() refuses is TestValidate's, and selection's TestValidate.
func TestRunRefusesBadFlags(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{name: "unknown flag", args: []string{"--aws.role=arn:aws:iam::111122223333:role/r"},
			wantStderr: "unknown long flag '--aws.role'"},
		// kingpin's value errors quote the value but do not name the flag.
		{name: "duration without a unit", args: []string{"--report.refresh-interval=30"},
			wantStderr: `missing unit in duration "30"`},
		{name: "number that is not one", args: []string{"--aws.concurrency=many"},
			wantStderr: `parsing "many": invalid syntax`},
		{name: "zero timeout", args: []string{"--report.timeout=0s"},
			wantStderr: "--report.timeout must be positive"},
		{name: "zero max users", args: []string{"--report.max-users=0"},
			wantStderr: "--report.max-users must be positive, got 0"},
		// This one, like "/", used to panic in http.ServeMux with a stack
		// trace: validate() runs before the handler is built.
		{name: "telemetry path without a slash", args: []string{"--web.telemetry-path=metrics"},
			wantStderr: `--web.telemetry-path: \"metrics\" must start with /`},
		// This one was logged as invalid tag keys, TagKeys reading the file first.
		{name: "bad config file", args: []string{"--config.file=../../internal/accounts/testdata/config-unknown-field.yml"},
			wantStderr: `msg="invalid --config.file"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stderr, code := runChild(t, exe, tt.args...)
			if code != 2 {
				t.Errorf("exporter %q: exit status %d, want 2\nstderr:\n%s", tt.args, code, stderr)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("exporter %q stderr:\n%s\nwant it to contain %q", tt.args, stderr, tt.wantStderr)
			}
			if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
				t.Errorf("exporter %q panicked:\n%s", tt.args, stderr)
			}
		})
	}
}

// runChild runs the exporter's main path in a child process with args, on a
// free loopback port, and returns its stderr and exit status.
func runChild(t *testing.T, exe string, args ...string) (string, int) {
	t.Helper()
	// The deadline bounds a hang, should a case start the exporter.
	ctx, cancel := context.WithTimeout(t.Context(), testenv.Patience)
	defer cancel()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, exe, append([]string{"--web.listen-address=127.0.0.1:0"}, args...)...)
	// Should a case get past the flags, AWS calls go nowhere.
	cmd.Env = append(os.Environ(),
		runMainEnv+"=1",
		"AWS_ENDPOINT_URL=http://127.0.0.1:1",
		"AWS_CONFIG_FILE="+filepath.Join(home, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return stderr.String(), 0
	case errors.As(err, &exit) && exit.Exited():
		return stderr.String(), exit.ExitCode()
	}
	t.Fatalf("exporter %q: %v\nstderr:\n%s", args, err, stderr.String())
	return "", 0
}

// A web configuration that the toolkit would refuse only when serving, after
// logging "Listening on", stops the exporter at start with an error that
// names the file.
func TestRunRefusesBadWebConfig(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		name, path, wantErr string
	}{
		{name: "missing file", path: filepath.Join(dir, "absent.yml"), wantErr: "no such file or directory"},
		{name: "bad YAML", path: write("bad-yaml.yml", "basic_auth_users: [prometheus\n"), wantErr: "yaml"},
		{name: "unknown key", path: write("unknown-key.yml", "basic_auth_user:\n  prometheus: x\n"), wantErr: "field basic_auth_user not found"},
		{name: "bad bcrypt hash", path: write("bad-hash.yml", "basic_auth_users:\n  prometheus: secret\n"), wantErr: "bcrypt"},
		{name: "missing certificate", path: write("bad-tls.yml", "tls_server_config:\n  cert_file: absent.crt\n  key_file: absent.key\n"), wantErr: "absent.crt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stderr, code := runChild(t, exe, "--report.file=../../report/testdata/example.csv", "--web.config.file="+tt.path)
			if code != 1 {
				t.Errorf("exit status %d, want 1\nstderr:\n%s", code, stderr)
			}
			for _, want := range []string{"invalid --web.config.file", tt.path + ": ", tt.wantErr} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			if strings.Contains(stderr, "Listening on") {
				t.Errorf("the exporter listened before refusing its web configuration:\n%s", stderr)
			}
		})
	}
}
