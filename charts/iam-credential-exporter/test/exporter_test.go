package charttest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	corev1 "k8s.io/api/core/v1"
)

// The basic-auth user of the generated web configuration, and the bcrypt
// hash (cost 4) of its password.
const (
	scrapeUser     = "prometheus"
	scrapePassword = "chart-test"
	scrapeHash     = "$2a$04$mhNWGXDTL45IbWielTzHX.yQeyfdunvJVQXv9oPEUD.7tAx.39U5."
)

// patience bounds a wait for something that will happen (an exporter
// starting, a report loading): long enough for a busy machine, it only
// keeps a hang from lasting until go test's timeout. Each request in such a
// wait has a minute.
const patience = 5 * time.Minute

// buildExporter builds the project's exporter into dir.
func buildExporter(dir string) (string, error) {
	bin := filepath.Join(dir, "iam_credential_exporter")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/iam_credential_exporter")
	cmd.Dir = filepath.Join(chartDir, "..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build the exporter: %w\n%s", err, out)
	}
	return bin, nil
}

// TestExporterRunsRenderedPod runs the project's exporter as each rendered
// pod would: its arguments and environment, its config file from the
// ConfigMap, and a generated web configuration (TLS and basic auth) in the
// Secret's place. The exporter must accept them and answer its probes on the
// health port in plain HTTP, while the metrics port asks for TLS and a
// password when the web configuration is set; with a ScrapeConfig, the path
// of its httpSDConfigs must answer on the metrics port too. AWS is a closed local port, so
// no report loads and nothing leaves the machine.
func TestExporterRunsRenderedPod(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the exporter")
	}
	helm(t) // skip early without helm
	bin, err := buildExporter(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range valuesFiles {
		t.Run(name, func(t *testing.T) {
			r := render(t, "-f", valuesFile(name))
			runPod(t, bin, r)
		})
	}
}

func runPod(t *testing.T, bin string, r rendered) {
	w := r.workload(t)
	c := w.exporter(t)
	dir := t.TempDir()
	ca := writeVolumes(t, dir, r, w)

	// The container's environment, as the kubelet would set it: the pod
	// index of the second pod, and literal values.
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil &&
			e.ValueFrom.FieldRef.FieldPath == "metadata.labels['apps.kubernetes.io/pod-index']":
			env[e.Name] = "1"
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		default:
			t.Fatalf("env %s: a source the test cannot fill", e.Name)
		}
	}
	metricsAddr, healthAddr := freeAddr(t), freeAddr(t)
	var args []string
	for _, a := range c.Args {
		for k, v := range env {
			a = strings.ReplaceAll(a, "$("+k+")", v)
		}
		for _, m := range c.VolumeMounts {
			a = strings.ReplaceAll(a, m.MountPath+"/", filepath.Join(dir, m.Name)+"/")
		}
		a = strings.Replace(a, "--web.listen-address=:9860", "--web.listen-address="+metricsAddr, 1)
		a = strings.Replace(a, "--web.health-listen-address=:9861", "--web.health-listen-address="+healthAddr, 1)
		args = append(args, a)
	}

	exited := startExporter(t, bin, args, env)

	plain := &http.Client{Timeout: time.Minute}
	waitExporter(t, exited, func() error {
		if code := get(plain, "http://"+healthAddr+"/-/healthy", false); code != http.StatusOK {
			return fmt.Errorf("the liveness probe's /-/healthy on the health port answers %d, want 200", code)
		}
		return nil
	})
	if code := get(plain, "http://"+healthAddr+"/-/ready", false); code != http.StatusServiceUnavailable {
		t.Errorf("/-/ready on the health port: %d, want 503 before any report loads", code)
	}

	paths := []string{"/metrics"}
	for _, sc := range all[*monitoringv1alpha1.ScrapeConfig](r) {
		for _, sd := range sc.Spec.HTTPSDConfigs {
			u, err := url.Parse(string(sd.URL))
			if err != nil {
				t.Fatalf("ScrapeConfig httpSDConfigs url %q: %v", sd.URL, err)
			}
			if !slices.Contains(paths, u.Path) {
				paths = append(paths, u.Path)
			}
		}
	}
	if ca == nil {
		for _, p := range paths {
			if code := get(plain, "http://"+metricsAddr+p, false); code != http.StatusOK {
				t.Errorf("%s: %d, want 200", p, code)
			}
		}
		return
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	secure := &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "iam-credential-exporter"},
	}}
	for _, p := range paths {
		if code := get(plain, "http://"+metricsAddr+p, false); code == http.StatusOK {
			t.Errorf("%s answers plain HTTP although the web configuration asks for TLS", p)
		}
		if code := get(secure, "https://"+metricsAddr+p, false); code != http.StatusUnauthorized {
			t.Errorf("%s over TLS without a password: %d, want 401", p, code)
		}
		if code := get(secure, "https://"+metricsAddr+p, true); code != http.StatusOK {
			t.Errorf("%s over TLS with the password: %d, want 200", p, code)
		}
	}
}

// startExporter starts the exporter binary with args and stops it (SIGTERM,
// then a kill) when the test ends, logging its output if the test failed.
// Its environment is this process's without the machine's AWS settings,
// with an AWS endpoint where nothing listens, and env. exited receives the
// process's exit; a reader that is not the last puts it back.
func startExporter(t *testing.T, bin string, args []string, env map[string]string) (exited chan error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env,
		"AWS_ENDPOINT_URL=http://"+freeAddr(t), // nothing listens there
		"AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY=example",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited = make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			exited <- err
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("exporter %s\n%s", strings.Join(args, " "), out.String())
		}
	})
	return exited
}

// writeVolumes fills a directory per volume: the ConfigMap's data, and for
// Secrets a web configuration with TLS and basic auth and its certificate
// and key. It returns the certificate when there is a Secret.
func writeVolumes(t *testing.T, dir string, r rendered, w workload) *x509.Certificate {
	t.Helper()
	// One certificate for every Secret, so that a file named by absolute
	// path in another Secret is the same.
	cert, certPEM, keyPEM := selfSigned(t)
	hasSecret := false
	for _, v := range w.template.Spec.Volumes {
		vdir := filepath.Join(dir, v.Name)
		if err := os.MkdirAll(vdir, 0o755); err != nil {
			t.Fatal(err)
		}
		files := map[string]string{}
		switch {
		case v.ConfigMap != nil:
			for _, cm := range all[*corev1.ConfigMap](r) {
				if cm.Name == v.ConfigMap.Name {
					files = cm.Data
				}
			}
		case v.Secret != nil:
			hasSecret = true
			files["tls.crt"], files["tls.key"] = certPEM, keyPEM
			files["web-config.yml"] = fmt.Sprintf("tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\nbasic_auth_users:\n  %s: %s\n", scrapeUser, scrapeHash)
		default:
			t.Fatalf("volume %s: a source the test cannot fill", v.Name)
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(vdir, name), []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !hasSecret {
		return nil
	}
	return cert
}

func selfSigned(t *testing.T) (*x509.Certificate, string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "iam-credential-exporter"},
		DNSNames:     []string{"iam-credential-exporter"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return cert,
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// get returns the status of a GET, or 0 when the request fails.
func get(c *http.Client, url string, auth bool) int {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	if auth {
		req.SetBasicAuth(scrapeUser, scrapePassword)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitExporter polls cond until it returns nil, and fails when the exporter
// started with exited ends first, or when patience passes (with cond's last
// error).
func waitExporter(t *testing.T, exited chan error, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("exporter exited: %v", err)
		default:
		}
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %v", patience, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
