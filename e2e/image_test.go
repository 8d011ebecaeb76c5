package e2e

// The container image. TestImage builds it as users do (`make image`, here
// with buildah, which needs no base image to pull), inspects its config and
// its files, and runs it as 65532 on the bundled sample report; it replaced
// the tests that read the Dockerfile as text. The other tests read
// `make -n image` and .dockerignore (what TestImage cannot see: other
// platforms, other tools), and run wherever make is.

import (
	"crypto/sha256"
	"crypto/x509"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/testenv"
)

// caLabel records where the image's CA bundle came from, and its digest.
const caLabel = "io.github.iam-credential-exporter.ca-certificates"

// defaultPort is the port of --web.listen-address's default, as --help
// prints it.
func defaultPort(t *testing.T) string {
	t.Helper()
	bin := builtExporter(t)
	out, err := exec.CommandContext(t.Context(), bin, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --help: %v\n%s", bin, err, out)
	}
	m := regexp.MustCompile(`--web\.listen-address=\S*:([0-9]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("--help shows no default --web.listen-address:\n%s", out)
	}
	return string(m[1])
}

// makeDryRun returns what `make -n args...` would run in the repository.
func makeDryRun(t *testing.T, args ...string) string {
	t.Helper()
	mk := requireProgram(t, "make")
	b, err := exec.CommandContext(t.Context(), mk, append([]string{"-n", "-C", ".."}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("make -n %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return string(b)
}

// `make image` builds the release binary of each platform first, and
// passes the VERSION and revision as build arguments and the version as
// its tag, with docker, podman or buildah, for one platform or several.
func TestMakeImage(t *testing.T) {
	t.Parallel()
	version := readVersion(t)
	revision := gitHead(t)

	out := makeDryRun(t, "image")
	for _, want := range []string{
		"promu build --prefix .build/linux-" + runtime.GOARCH + "\n",
		"docker build --platform=linux/" + runtime.GOARCH + " ",
		"--build-arg VERSION=" + version + " ",
		"--build-arg REVISION=" + revision + " ",
		`--build-arg CA_CERTIFICATES="`,
		"-t iam_credential_exporter:" + version + " ",
		"-t iam_credential_exporter:latest ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("make -n image lacks %q:\n%s", want, out)
		}
	}

	out = makeDryRun(t, "image", "IMAGE_TOOL=podman", "VERSION=1.2.3", "REVISION=abc123")
	for _, want := range []string{"podman build ", "--build-arg VERSION=1.2.3 ", "--build-arg REVISION=abc123 "} {
		if !strings.Contains(out, want) {
			t.Errorf("make -n image IMAGE_TOOL=podman VERSION=1.2.3 REVISION=abc123 lacks %q:\n%s", want, out)
		}
	}
	out = makeDryRun(t, "image", "IMAGE_TOOL=docker buildx", "IMAGE_PLATFORMS=linux/amd64,linux/arm64", "IMAGE_FLAGS=--push")
	for _, want := range []string{
		"promu build --prefix .build/linux-amd64\n", "promu build --prefix .build/linux-arm64\n",
		"docker buildx build --platform=linux/amd64,linux/arm64 ", " --push .",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("make -n image for two platforms with buildx lacks %q:\n%s", want, out)
		}
	}
}

// dockerignored reports whether a .dockerignore pattern list keeps path
// (slash-separated, relative to the context) out: as in Docker, the last
// pattern that matches the path or one of its parent directories decides,
// and a pattern that starts with ! lets it back in.
func dockerignored(patterns []string, path string) bool {
	parts := strings.Split(path, "/")
	ignored := false
	for _, p := range patterns {
		keep := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(strings.TrimPrefix(p, "!"), "/")
		for i := 1; i <= len(parts); i++ {
			if ok, _ := filepath.Match(p, strings.Join(parts[:i], "/")); ok {
				ignored = !keep
				break
			}
		}
	}
	return ignored
}

// The build context holds what the Dockerfile copies, and neither the
// repository, nor the archives, nor other platforms' binaries.
func TestDockerignore(t *testing.T) {
	t.Parallel()
	var patterns []string
	for _, line := range strings.Split(readText(t, "../.dockerignore"), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, line)
		}
	}
	for _, in := range []string{
		".build/linux-amd64/iam_credential_exporter", ".build/linux-arm64/iam_credential_exporter",
		".build/image-rootfs/etc/passwd", ".build/image-rootfs/etc/ssl/certs/ca-certificates.crt",
		"report/testdata/example.csv",
	} {
		if dockerignored(patterns, in) {
			t.Errorf(".dockerignore keeps %s, which the Dockerfile copies, out of the build context", in)
		}
	}
	for _, out := range []string{
		".git/config", "go.mod", "cmd/iam_credential_exporter/main.go", "iam_credential_exporter",
		".build/tools/promu", ".build/darwin-arm64/iam_credential_exporter",
		".tarballs/iam_credential_exporter-0.1.0.linux-amd64.tar.gz", "report/testdata/other.csv",
	} {
		if !dockerignored(patterns, out) {
			t.Errorf(".dockerignore lets %s into the build context", out)
		}
	}
}

// imageConfig is what TestImage reads of `buildah inspect --type image`.
type imageConfig struct {
	OCIv1 struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
		Config       struct {
			User         string              `json:"User"`
			ExposedPorts map[string]struct{} `json:"ExposedPorts"`
			Entrypoint   []string            `json:"Entrypoint"`
			Cmd          []string            `json:"Cmd"`
			Labels       map[string]string   `json:"Labels"`
		} `json:"config"`
	} `json:"OCIv1"`
}

// The image as `make image` builds it, with buildah: its config, every file
// in it, and the exporter running in it as 65532 on the bundled sample
// report, scraped from the host. buildah runs no image with a read-only
// root, so the test checks instead that no path in the image is writable
// by 65532: the exporter that served /metrics had nowhere to write.
func TestImage(t *testing.T) {
	t.Parallel()
	buildah := requireProgram(t, "buildah")
	mk := requireProgram(t, "make")
	if os.Getenv("CA_BUNDLE") == "" {
		// make image-rootfs makes the CA bundle from Debian's package,
		// unless CA_BUNDLE names one.
		requireProgram(t, "dpkg-query")
	}
	if os.Geteuid() != 0 {
		testenv.SkipUnlessCI(t, "buildah mount and buildah run --isolation chroot need root here")
	}
	version := readVersion(t)
	name := fmt.Sprintf("localhost/iam-credential-exporter-e2e-%d", os.Getpid())
	image := name + ":" + version
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), buildah, args...)
		var stderr testenv.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("buildah %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return strings.TrimSpace(string(out))
	}

	// The release build of this platform's binary takes a CPU-minute or
	// two when cold; at low priority it leaves the CPU to the tests that
	// wait for a scrape or an alert.
	buildPromu(t, mk)
	build := []string{mk, "-C", "..", "image", "IMAGE_TOOL=" + buildah, "IMAGE_NAME=" + name}
	if nice, err := exec.LookPath("nice"); err == nil {
		build = append([]string{nice, "-n", "10"}, build...)
	}
	t.Cleanup(func() {
		// The test's context is over; removing the tags must not be.
		_ = exec.Command(buildah, "rmi", image, name+":latest").Run()
	})
	if out, err := exec.CommandContext(t.Context(), build[0], build[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(build, " "), err, out)
	}

	var cfg imageConfig
	if err := json.Unmarshal([]byte(run("inspect", "--type", "image", image)), &cfg); err != nil {
		t.Fatalf("buildah inspect: %v", err)
	}
	oci := cfg.OCIv1
	if oci.OS != "linux" || oci.Architecture != runtime.GOARCH {
		t.Errorf("image platform %s/%s, want linux/%s", oci.OS, oci.Architecture, runtime.GOARCH)
	}
	if oci.Config.User != "65532:65532" {
		t.Errorf("image user %q, want 65532:65532", oci.Config.User)
	}
	port := defaultPort(t)
	if want := map[string]struct{}{port + "/tcp": {}}; fmt.Sprint(oci.Config.ExposedPorts) != fmt.Sprint(want) {
		t.Errorf("exposed ports %v, want %v", oci.Config.ExposedPorts, want)
	}
	if want := []string{"/bin/iam_credential_exporter"}; !slices.Equal(oci.Config.Entrypoint, want) || len(oci.Config.Cmd) > 0 {
		t.Errorf("entrypoint %q and command %q, want %q and none", oci.Config.Entrypoint, oci.Config.Cmd, want)
	}
	labels := oci.Config.Labels
	for k, v := range map[string]string{
		"org.opencontainers.image.version":  version,
		"org.opencontainers.image.revision": gitHead(t),
		"org.opencontainers.image.source":   "https://github.com/iam-credential-exporter/iam_credential_exporter",
		"org.opencontainers.image.licenses": "Apache-2.0",
	} {
		if labels[k] != v {
			t.Errorf("label %s=%q, want %q", k, labels[k], v)
		}
	}
	if _, err := time.Parse(time.RFC3339, labels["org.opencontainers.image.created"]); err != nil {
		t.Errorf("label org.opencontainers.image.created: %v", err)
	}
	ca := regexp.MustCompile(`^(Debian ca-certificates \S+|.+), sha256:([0-9a-f]{64})$`).FindStringSubmatch(labels[caLabel])
	if ca == nil {
		t.Errorf("label %s=%q, want the bundle's origin and its sha256", caLabel, labels[caLabel])
	}

	ctr := run("from", "--pull=never", "--name", strings.TrimPrefix(name, "localhost/")+"-ctr", image)
	t.Cleanup(func() { _ = exec.Command(buildah, "rm", ctr).Run() })
	root := run("mount", ctr)
	t.Cleanup(func() { _ = exec.Command(buildah, "umount", ctr).Run() })
	checkImageFiles(t, root, ca)

	// The image's entrypoint, run as its user would be by a runtime;
	// chroot isolation shares the host's network.
	addr := freeAddr(t)
	args := append([]string{"run", "--isolation", "chroot", "--user", oci.Config.User, ctr, "--"}, oci.Config.Entrypoint...)
	args = append(args, "--report.file=/usr/share/iam_credential_exporter/example.csv", "--web.listen-address="+addr)
	testenv.StartProcess(t, "buildah run", exec.CommandContext(t.Context(), buildah, args...), 10*time.Second, false)
	url := "http://" + addr
	waitFor(t, patience, func() error {
		_, err := httpGet(url + "/-/ready")
		return err
	})
	text, mfs := scrape(t, url)
	compareGolden(t, "example.prom", stable(text))
	mustSample(t, mfs, "iam_credential_exporter_build_info", map[string]string{"version": version, "revision": gitHead(t)})
}

// checkImageFiles checks the files of the image mounted at root: only the
// binary, static and of this platform, what make image-rootfs adds, and the
// sample report; nothing that 65532 may write.
func checkImageFiles(t *testing.T, root string, caLabel []string) {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		info, err := d.Info()
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		mode := info.Mode()
		if mode&fs.ModeSymlink == 0 && (mode.Perm()&0o002 != 0 || st.Uid == 65532 && mode.Perm()&0o200 != 0 || st.Gid == 65532 && mode.Perm()&0o020 != 0) {
			t.Errorf("/%s (%v, %d:%d) is writable by 65532: the image would need a writable root", rel, mode, st.Uid, st.Gid)
		}
		if !d.IsDir() {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"bin/iam_credential_exporter", "etc/group", "etc/passwd", "etc/ssl/certs/ca-certificates.crt",
		"usr/share/iam_credential_exporter/example.csv",
	}
	slices.Sort(files)
	if !slices.Equal(files, want) {
		t.Errorf("the image's files are\n  %s\nwant\n  %s", strings.Join(files, "\n  "), strings.Join(want, "\n  "))
	}

	if !regexp.MustCompile(`(?m)^nonroot:x:65532:65532:`).MatchString(readText(t, filepath.Join(root, "etc/passwd"))) {
		t.Error("/etc/passwd has no entry for 65532")
	}
	if !regexp.MustCompile(`(?m)^nonroot:x:65532:`).MatchString(readText(t, filepath.Join(root, "etc/group"))) {
		t.Error("/etc/group has no entry for 65532")
	}

	bundle, err := os.ReadFile(filepath.Join(root, "etc/ssl/certs/ca-certificates.crt"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rest := bundle; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			t.Errorf("CA bundle certificate %d: %v", n+1, err)
		}
		n++
	}
	if n < 50 {
		t.Errorf("the CA bundle holds %d certificates: TLS to AWS would fail", n)
	}
	if sum := sha256.Sum256(bundle); caLabel != nil && hex.EncodeToString(sum[:]) != caLabel[2] {
		t.Errorf("the CA bundle's sha256 is %x, its label says %s", sum, caLabel[2])
	}

	f, err := elf.Open(filepath.Join(root, "bin/iam_credential_exporter"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[runtime.GOARCH]; want != 0 && f.Machine != want {
		t.Errorf("the binary is for %v, want %v", f.Machine, want)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary asks for a dynamic loader: not static, it cannot run on scratch")
		}
	}
	if got, want := readText(t, filepath.Join(root, "usr/share/iam_credential_exporter/example.csv")), readText(t, "../report/testdata/example.csv"); got != want {
		t.Error("the image's example.csv differs from report/testdata/example.csv")
	}
}
