package charttest

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestPackage packages the chart as `make chart-package` does: the archive
// holds the README, the schema, the test hook and the copies of the rules
// and dashboards, and not the Go tests; rendered from the archive, the
// dashboards are all there.
func TestPackage(t *testing.T) {
	dir := t.TempDir()
	out, err := exec.Command(helm(t), "package", chartDir, "--destination", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("helm package: %v\n%s", err, out)
	}
	archives, err := filepath.Glob(filepath.Join(dir, "*.tgz"))
	if err != nil || len(archives) != 1 {
		t.Fatalf("helm package wrote %v (%v), want one archive", archives, err)
	}
	files := map[string]bool{}
	for _, name := range archiveFiles(t, archives[0]) {
		files[name] = true
		if strings.HasPrefix(name, "test/") {
			t.Errorf("the archive holds %s: .helmignore should leave the Go tests out", name)
		}
	}
	want := []string{"Chart.yaml", "README.md", "values.yaml", "values.schema.json", "templates/tests/readiness.yaml", rulesCopy}
	for _, d := range dashboardFiles(t, dashboardsProject) {
		want = append(want, dashboardsCopy+"/"+d)
	}
	for _, name := range want {
		if !files[name] {
			t.Errorf("the archive lacks %s", name)
		}
	}

	cmd := exec.Command(helm(t), "template", release, archives[0], "--namespace", namespace,
		"--kube-version", kubeVersion, "--set", "dashboards.enabled=true")
	manifest, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm template of the archive: %v", err)
	}
	objects, _, err := decodeManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, o := range objects {
		if cm, ok := o.(*corev1.ConfigMap); ok && isDashboard(cm) {
			n++
		}
	}
	if want := len(dashboardFiles(t, dashboardsProject)); n != want {
		t.Errorf("the archive renders %d dashboard ConfigMaps, want %d", n, want)
	}
}

// archiveFiles lists the files of a chart archive, relative to the chart.
func archiveFiles(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		// Every entry is under the chart's name.
		_, rel, _ := strings.Cut(h.Name, "/")
		names = append(names, rel)
	}
}
