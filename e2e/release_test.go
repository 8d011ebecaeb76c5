package e2e

// Versions and release builds: VERSION is the one place the version is
// written, and everything that names it agrees; the release build stamps
// it. `make release` itself runs in .ci/run (four platforms are too long
// for a test).

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/testenv"
)

// readVersion returns the VERSION file's version.
func readVersion(t *testing.T) string {
	t.Helper()
	v := readText(t, "../VERSION")
	if !regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?\n$`).MatchString(v) {
		t.Fatalf("VERSION holds %q: want a semantic version without a v and one newline (promu reads it)", v)
	}
	return strings.TrimSpace(v)
}

// gitHead returns the commit checked out, which builds stamp as the revision.
func gitHead(t *testing.T) string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "git", "-C", "..", "rev-parse", "HEAD").Output()
	if err != nil {
		testenv.SkipUnlessCI(t, "not a git checkout (git rev-parse HEAD: %v): the revision is unknown", err)
	}
	return strings.TrimSpace(string(out))
}

// promuBuild builds the Makefile's promu once for the tests that run make
// targets needing it: two makes building it at once would write one file
// together.
var promuBuild struct {
	sync.Once
	out []byte
	err error
}

func buildPromu(t *testing.T, mk string) {
	t.Helper()
	promuBuild.Do(func() {
		promuBuild.out, promuBuild.err = exec.Command(mk, "-C", "..", ".build/tools/promu").CombinedOutput()
	})
	if promuBuild.err != nil {
		t.Fatalf("make .build/tools/promu: %v\n%s", promuBuild.err, promuBuild.out)
	}
}

// changelogRelease matches a release heading as promu reads it.
var changelogRelease = regexp.MustCompile(`(?m)^## ([0-9][^ ]*) / ([0-9]{4}-[0-9]{2}-[0-9]{2})$`)

// The version is written once, in VERSION: the newest release of
// CHANGELOG.md, the chart's appVersion (and so its default image tag), the
// image's tag and the release build's stamp all say the same.
func TestVersionAgrees(t *testing.T) {
	t.Parallel()
	version := readVersion(t)

	changelog := readText(t, "../CHANGELOG.md")
	releases := changelogRelease.FindAllStringSubmatch(changelog, -1)
	if len(releases) == 0 || releases[0][1] != version {
		t.Errorf("CHANGELOG.md's newest release section is %v, want ## %s / YYYY-MM-DD (only ## main / unreleased may come before it)", releases, version)
	}
	for _, h := range regexp.MustCompile(`(?m)^## .*$`).FindAllString(changelog, -1) {
		if h == "## main / unreleased" {
			continue
		}
		if !changelogRelease.MatchString(h) {
			t.Errorf("CHANGELOG.md heading %q is neither a release (## X.Y.Z / YYYY-MM-DD) nor ## main / unreleased", h)
		}
		break
	}

	var chart struct {
		AppVersion string `yaml:"appVersion"`
	}
	if err := yaml.Unmarshal([]byte(readText(t, "../charts/iam-credential-exporter/Chart.yaml")), &chart); err != nil {
		t.Fatalf("Chart.yaml: %v", err)
	}
	if chart.AppVersion != version {
		t.Errorf("the chart's appVersion is %q, VERSION says %s", chart.AppVersion, version)
	}
	// The chart's image tag defaults to its appVersion; a tag set in
	// values.yaml would have to be kept in step by hand.
	var values struct {
		Image struct {
			Tag string `yaml:"tag"`
		} `yaml:"image"`
	}
	if err := yaml.Unmarshal([]byte(readText(t, "../charts/iam-credential-exporter/values.yaml")), &values); err != nil {
		t.Fatalf("values.yaml: %v", err)
	}
	if values.Image.Tag != "" {
		t.Errorf("the chart's values.yaml sets image.tag %q: leave it empty, so that the default is appVersion (%s)", values.Image.Tag, version)
	}

	out := makeDryRun(t, "image")
	if !strings.Contains(out, "-t iam_credential_exporter:"+version+" ") {
		t.Errorf("make -n image does not tag the image %s:\n%s", version, out)
	}
	promu := readText(t, "../.promu.yml")
	if !strings.Contains(promu, "-X github.com/prometheus/common/version.Version={{.Version}}\n") {
		t.Error(".promu.yml does not stamp promu's version (the VERSION file) into prometheus/common/version")
	}
}

// `make build` builds with promu as the release does: the binary's
// --version names VERSION and the commit.
func TestMakeBuildStampsVersion(t *testing.T) {
	t.Parallel()
	mk := requireProgram(t, "make")
	version, revision := readVersion(t), gitHead(t)
	buildPromu(t, mk)
	dir := t.TempDir()
	cmd := []string{mk, "-C", "..", "build", "BUILD_PREFIX=" + dir}
	if nice, err := exec.LookPath("nice"); err == nil {
		cmd = append([]string{nice, "-n", "10"}, cmd...)
	}
	if out, err := exec.CommandContext(t.Context(), cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd, " "), err, out)
	}
	out, err := exec.CommandContext(t.Context(), filepath.Join(dir, "iam_credential_exporter"), "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("--version: %v\n%s", err, out)
	}
	if want := "iam_credential_exporter, version " + version + " "; !strings.HasPrefix(string(out), want) {
		t.Errorf("--version prints\n%s\nwant it to start with %q", out, want)
	}
	if !strings.Contains(string(out), "revision: "+revision+")") {
		t.Errorf("--version prints\n%s\nwant revision %s", out, revision)
	}
}
