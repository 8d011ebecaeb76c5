package charttest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The chart's copies of the dashboards, and the project's directory they
// copy, relative to the chart.
const (
	dashboardsCopy    = "files/dashboards"
	dashboardsProject = "../../dashboards"
)

// kubectl apply keeps the whole object, as JSON, in this annotation, and the
// API server refuses an object whose annotations together pass
// annotationLimit bytes (TotalAnnotationSizeLimitB).
const (
	lastApplied     = "kubectl.kubernetes.io/last-applied-configuration"
	annotationLimit = 262144
)

// dashboardFiles returns the names of the JSON files in a directory relative
// to the chart, sorted.
func dashboardFiles(t *testing.T, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(chartDir, dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, filepath.Base(p))
	}
	return names
}

// isDashboard: the ConfigMap holds one of the chart's dashboards and
// nothing else.
func isDashboard(cm *corev1.ConfigMap) bool {
	if len(cm.Data) != 1 {
		return false
	}
	for key := range cm.Data {
		_, err := os.Stat(filepath.Join(chartDir, dashboardsCopy, key))
		return strings.HasSuffix(key, ".json") && err == nil
	}
	return false
}

// TestDashboardsCopy fails when the chart's copies of the dashboards differ
// from the project's, or one is missing or left over; `make mixin` (or
// `make chart-sync`) copies them again.
func TestDashboardsCopy(t *testing.T) {
	want, got := dashboardFiles(t, dashboardsProject), dashboardFiles(t, dashboardsCopy)
	if len(want) == 0 {
		t.Fatalf("no dashboards in %s", dashboardsProject)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("charts/iam-credential-exporter/%s holds %v, dashboards/ holds %v: run `make chart-sync`", dashboardsCopy, got, want)
	}
	for _, name := range want {
		w, err := os.ReadFile(filepath.Join(chartDir, dashboardsProject, name))
		if err != nil {
			t.Fatal(err)
		}
		g, err := os.ReadFile(filepath.Join(chartDir, dashboardsCopy, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(g, w) {
			line := 1 + bytes.Count(w[:commonPrefix(g, w)], []byte("\n"))
			t.Errorf("charts/iam-credential-exporter/%s/%s differs from dashboards/%s from line %d on: run `make chart-sync`", dashboardsCopy, name, name, line)
		}
	}
}

// TestDashboards: dashboards.enabled renders one ConfigMap per dashboard,
// with the label and value the Grafana sidecar selects, the folder
// annotation when a folder is given, and the dashboard's JSON as the project
// has it; none comes near the annotation limit of `kubectl apply`.
func TestDashboards(t *testing.T) {
	files := dashboardFiles(t, dashboardsProject)
	for _, tc := range []struct {
		set                string
		ns, label, value   string
		annotation, folder string
	}{
		{"dashboards.enabled=true", namespace, "grafana_dashboard", "1", "", ""},
		{"dashboards.enabled=true,dashboards.folder=Security", namespace, "grafana_dashboard", "1", "grafana_folder", "Security"},
		{"dashboards.enabled=true,dashboards.namespace=grafana,dashboards.label=example.com/dashboard,dashboards.labelValue=iam,dashboards.folder=AWS/IAM,dashboards.folderAnnotation=k8s-sidecar-target-directory",
			"grafana", "example.com/dashboard", "iam", "k8s-sidecar-target-directory", "AWS/IAM"},
	} {
		t.Run(tc.set, func(t *testing.T) {
			r := render(t, "--set", tc.set)
			checkInstall(t, r)
			var names []string
			for i, o := range r.objects {
				cm, ok := o.(*corev1.ConfigMap)
				if !ok || !isDashboard(cm) {
					continue
				}
				var file string
				for file = range cm.Data {
				}
				names = append(names, file)
				if want := "audit-iam-credential-exporter-" + strings.TrimSuffix(file, ".json"); cm.Name != want {
					t.Errorf("ConfigMap %s of %s, want the name %s", cm.Name, file, want)
				}
				if cm.Namespace != tc.ns {
					t.Errorf("ConfigMap %s in namespace %q, want %q", cm.Name, cm.Namespace, tc.ns)
				}
				if got, ok := cm.Labels[tc.label]; !ok || got != tc.value {
					t.Errorf("ConfigMap %s labels %v, want %s=%q", cm.Name, cm.Labels, tc.label, tc.value)
				}
				var wantAnnotations map[string]string
				if tc.folder != "" {
					wantAnnotations = map[string]string{tc.annotation: tc.folder}
				}
				if !reflect.DeepEqual(cm.Annotations, wantAnnotations) {
					t.Errorf("ConfigMap %s annotations %v, want %v", cm.Name, cm.Annotations, wantAnnotations)
				}
				checkDashboardJSON(t, file, cm.Data[file])
				size := appliedAnnotationsSize(t, r.raw[i])
				t.Logf("%s: %d bytes of data, %d bytes of annotations after kubectl apply (%.0f%% of %d)",
					cm.Name, len(cm.Data[file]), size, 100*float64(size)/annotationLimit, annotationLimit)
				if size >= annotationLimit {
					t.Errorf("ConfigMap %s: `kubectl apply` would store %d bytes of annotations, over the limit of %d: split the dashboard", cm.Name, size, annotationLimit)
				}
			}
			if !slices.Equal(names, files) {
				t.Errorf("dashboard ConfigMaps hold %v, want one for each of %v", names, files)
			}
		})
	}
	t.Run("disabled", func(t *testing.T) {
		for _, cm := range all[*corev1.ConfigMap](render(t, "--set", "dashboards.folder=Security")) {
			if isDashboard(cm) {
				t.Errorf("ConfigMap %s with dashboards.enabled false", cm.Name)
			}
		}
	})
}

// checkDashboardJSON: the ConfigMap's JSON is the project's dashboard, less
// its indentation.
func checkDashboardJSON(t *testing.T, file, data string) {
	t.Helper()
	project, err := os.ReadFile(filepath.Join(chartDir, dashboardsProject, file))
	if err != nil {
		t.Fatal(err)
	}
	var got, want any
	if err := json.Unmarshal([]byte(data), &got); err != nil {
		t.Fatalf("%s in its ConfigMap: %v", file, err)
	}
	if err := json.Unmarshal(project, &want); err != nil {
		t.Fatalf("dashboards/%s: %v", file, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s in its ConfigMap differs from dashboards/%s", file, file)
	}
	if strings.Contains(data, "\n") {
		t.Errorf("%s in its ConfigMap holds line breaks: it should be stored without indentation", file)
	}
}

// appliedAnnotationsSize returns the bytes of annotations that `kubectl
// apply` would leave on the object of the JSON document doc: its own, and
// the last-applied configuration, the document encoded again as kubectl
// does (encoding/json, which also escapes <, > and &).
func appliedAnnotationsSize(t *testing.T, doc []byte) int {
	t.Helper()
	var obj map[string]any
	if err := json.Unmarshal(doc, &obj); err != nil {
		t.Fatal(err)
	}
	last, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	size := len(lastApplied) + len(last)
	if meta, ok := obj["metadata"].(map[string]any); ok {
		if annotations, ok := meta["annotations"].(map[string]any); ok {
			for k, v := range annotations {
				size += len(k) + len(v.(string))
			}
		}
	}
	return size
}
