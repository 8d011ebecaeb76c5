package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/bcrypt"
)

// writeSelfSignedCert writes a certificate for 127.0.0.1 and localhost and
// its key into dir as exporter.crt and exporter.key, the names of the
// web configuration in docs/security.md, and returns their paths.
func writeSelfSignedCert(t testing.TB, dir string) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "iam_credential_exporter test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, "exporter.crt"), filepath.Join(dir, "exporter.key")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

// httpGetProbe is a Kubernetes probe's httpGet.
type httpGetProbe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

// container is what the tests read of a Kubernetes container.
type container struct {
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	ReadinessProbe httpGetProbe `yaml:"readinessProbe"`
	LivenessProbe  httpGetProbe `yaml:"livenessProbe"`
}

// docsStatefulSet returns the exporter container of docs/multi-account.md's
// StatefulSet example.
func docsStatefulSet(t *testing.T) container {
	t.Helper()
	readme, err := os.ReadFile("../docs/multi-account.md")
	if err != nil {
		t.Fatal(err)
	}
	var block string
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(readme), -1) {
		if strings.Contains(m[1], "kind: StatefulSet") {
			block = m[1]
		}
	}
	if block == "" {
		t.Fatal("docs/multi-account.md has no StatefulSet example")
	}
	var doc struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []container `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal([]byte(block), &doc); err != nil {
		t.Fatalf("documented StatefulSet: %v", err)
	}
	if n := len(doc.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("documented StatefulSet: %d containers, want 1", n)
	}
	return doc.Spec.Template.Spec.Containers[0]
}

// probe does what a kubelet httpGet probe does: a plain HTTP GET without
// credentials, success being a status from 200 to 399.
func probe(url string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("User-Agent", "kube-probe/1.33")
	req.Header.Set("Accept", "*/*")
	client := &http.Client{Timeout: patience}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// The documented StatefulSet with the web configuration of docs/security.md
// (TLS and basic auth): the probes, on the plain-HTTP health listener, see
// 503 until a report is loaded and 200 after, while /metrics on the main
// port still wants TLS and the password.
func TestProbesWithTLSAndBasicAuth(t *testing.T) {
	t.Parallel()
	// The documented StatefulSet probes the health listener by port name.
	c := docsStatefulSet(t)
	var healthArg string
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--web.health-listen-address="); ok {
			healthArg = v
		}
	}
	_, healthPort, err := net.SplitHostPort(healthArg)
	if err != nil {
		t.Fatalf("documented StatefulSet: --web.health-listen-address=%q: %v", healthArg, err)
	}
	ports := map[string]string{}
	for _, p := range c.Ports {
		ports[p.Name] = fmt.Sprint(p.ContainerPort)
	}
	for _, p := range []struct{ name, path, want string }{
		{"readinessProbe", c.ReadinessProbe.HTTPGet.Path, "/-/ready"},
		{"livenessProbe", c.LivenessProbe.HTTPGet.Path, "/-/healthy"},
	} {
		if p.path != p.want {
			t.Errorf("documented StatefulSet %s path %q, want %s", p.name, p.path, p.want)
		}
	}
	for name, port := range map[string]string{"readinessProbe": c.ReadinessProbe.HTTPGet.Port, "livenessProbe": c.LivenessProbe.HTTPGet.Port} {
		if ports[port] != healthPort {
			t.Errorf("documented StatefulSet %s probes port %q (%s), not the health listener's %s", name, port, ports[port], healthPort)
		}
	}

	// docs/security.md's web-config.yml, with a real hash and certificate.
	dir := t.TempDir()
	writeSelfSignedCert(t, dir)
	const user, password = "prometheus", "correct horse battery staple"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webConfig := filepath.Join(dir, "web-config.yml")
	text := "tls_server_config:\n  cert_file: exporter.crt\n  key_file: exporter.key\nbasic_auth_users:\n  " + user + ": " + string(hash) + "\n"
	if err := os.WriteFile(webConfig, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(t.TempDir(), "report.csv") // written later
	addr, healthAddr := freeAddr(t), freeAddr(t)
	launch(t, addr, nil, "--web.config.file="+webConfig, "--web.health-listen-address="+healthAddr,
		"--report.file="+report, "--report.refresh-interval=200ms")

	waitFor(t, patience, func() error {
		code, err := probe("http://" + healthAddr + "/-/healthy")
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("liveness probe: %d", code)
		}
		return err
	})
	if code, err := probe("http://" + healthAddr + "/-/ready"); err != nil || code != http.StatusServiceUnavailable {
		t.Errorf("readiness probe before a report: %d, %v; want 503", code, err)
	}
	// What probes of the main port would get: the main port wants TLS.
	if code, err := probe("http://" + addr + "/-/ready"); err != nil || code != http.StatusBadRequest {
		t.Errorf("plain HTTP probe of the main port: %d, %v; want 400", code, err)
	}
	if code, err := probe("http://" + healthAddr + "/metrics"); err != nil || code != http.StatusNotFound {
		t.Errorf("/metrics on the health listener: %d, %v; want 404", code, err)
	}

	csv, err := os.ReadFile("../report/testdata/example.csv")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(report, csv, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, patience, func() error {
		code, err := probe("http://" + healthAddr + "/-/ready")
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("readiness probe: %d", code)
		}
		return err
	})

	pool := x509.NewCertPool()
	pem, err := os.ReadFile(filepath.Join(dir, "exporter.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: patience}
	get := func(auth bool) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "https://"+addr+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth {
			req.SetBasicAuth(user, password)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET /metrics over TLS: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, _ := get(false); code != http.StatusUnauthorized {
		t.Errorf("/metrics without credentials: %d, want 401", code)
	}
	if code, body := get(true); code != http.StatusOK || !strings.Contains(body, "aws_iam_user_info{") {
		t.Errorf("/metrics with credentials: %d, want 200 with the users", code)
	}
}
