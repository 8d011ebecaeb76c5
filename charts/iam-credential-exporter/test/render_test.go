// Package charttest renders the Helm chart in the directory above with
// `helm template` and checks what a user would get. Every rendered object is
// decoded strictly into its Kubernetes or prometheus-operator Go type, as the
// API server does with strict field validation, so a misspelt or misplaced
// field fails here instead of being dropped by the cluster.
package charttest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const (
	chartDir  = ".."
	release   = "audit"
	namespace = "monitoring"
	// The oldest Kubernetes the chart supports (kubeVersion in Chart.yaml):
	// the first with the pod-index label the StatefulSet relies on. A helm
	// built with `go install` would otherwise assume 1.20.
	kubeVersion = "1.28.0"
	// Where `make chart-lint` builds helm, under the user's home.
	helmCacheDir = ".cache/iam-credential-exporter/bin"
)

// decoder decodes the kinds the chart may render, and no others, strictly:
// unknown fields (matched case-sensitively) and duplicate keys are errors.
var decoder = func() runtime.Decoder {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme,
		networkingv1.AddToScheme, monitoringv1.AddToScheme, monitoringv1alpha1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	return kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme,
		kjson.SerializerOptions{Yaml: true, Strict: true})
}()

// helm finds the helm binary: $HELM, helm on PATH, or the one that
// `make chart-lint` builds. Without one the test skips, or fails when CI=true.
func helm(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("HELM"); p != "" {
		return p
	}
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, helmCacheDir, "helm")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	const msg = "helm not found ($HELM, PATH, ~/" + helmCacheDir + "/helm); `make chart-lint` builds it from its Go module"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// template runs `helm template` on the chart with extra arguments (values
// files, --set) and returns the manifest, or helm's error with its stderr.
func template(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(helm(t), append([]string{"template", release, chartDir,
		"--namespace", namespace, "--kube-version", kubeVersion}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("helm template %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// rendered is what one `helm template` produced, decoded: the release's
// objects (raw[i] is the document of objects[i], as JSON), and apart the
// hooks, which only `helm test` creates.
type rendered struct {
	objects []runtime.Object
	raw     [][]byte
	hooks   []runtime.Object
}

// render templates the chart and decodes every object; any failure is fatal.
func render(t *testing.T, args ...string) rendered {
	t.Helper()
	out, err := template(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	objects, raw, err := decodeManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	var r rendered
	for i, o := range objects {
		m, err := meta.Accessor(o)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := m.GetAnnotations()[hookAnnotation]; ok {
			r.hooks = append(r.hooks, o)
			continue
		}
		r.objects = append(r.objects, o)
		r.raw = append(r.raw, raw[i])
	}
	return r
}

// hookAnnotation marks an object that helm creates at a hook, not with the
// release.
const hookAnnotation = "helm.sh/hook"

// decodeManifest splits a multi-document manifest and decodes each
// document; it also returns each document as JSON.
func decodeManifest(manifest []byte) ([]runtime.Object, [][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(manifest)))
	var objects []runtime.Object
	var raw [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objects, raw, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("split manifest: %w", err)
		}
		var v any
		if err := yaml.Unmarshal(doc, &v); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", source(doc), err)
		}
		if v == nil { // comments only
			continue
		}
		obj, _, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", source(doc), err)
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", source(doc), err)
		}
		objects = append(objects, obj)
		raw = append(raw, js)
	}
}

// source names a document by helm's "# Source:" comment, for messages.
func source(doc []byte) string {
	for line := range strings.Lines(string(doc)) {
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "# Source: "); ok {
			return s
		}
	}
	return "document"
}

// all returns the rendered objects of type T.
func all[T runtime.Object](r rendered) []T {
	var out []T
	for _, o := range r.objects {
		if v, ok := o.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// one returns the single rendered object of type T, failing unless there is
// exactly one.
func one[T runtime.Object](t *testing.T, r rendered) T {
	t.Helper()
	objs := all[T](r)
	if len(objs) != 1 {
		var zero T
		t.Fatalf("rendered %d objects of type %T, want 1", len(objs), zero)
	}
	return objs[0]
}

// workload is the Deployment or StatefulSet, whichever was rendered.
type workload struct {
	kind     string
	name     string
	replicas int32
	selector *metav1.LabelSelector
	template corev1.PodTemplateSpec
	sts      *appsv1.StatefulSet
}

func (r rendered) workload(t *testing.T) workload {
	t.Helper()
	deps, stss := all[*appsv1.Deployment](r), all[*appsv1.StatefulSet](r)
	switch {
	case len(deps) == 1 && len(stss) == 0:
		d := deps[0]
		if d.Spec.Replicas == nil {
			t.Fatal("Deployment without replicas")
		}
		return workload{kind: "Deployment", name: d.Name, replicas: *d.Spec.Replicas, selector: d.Spec.Selector, template: d.Spec.Template}
	case len(stss) == 1 && len(deps) == 0:
		s := stss[0]
		if s.Spec.Replicas == nil {
			t.Fatal("StatefulSet without replicas")
		}
		return workload{kind: "StatefulSet", name: s.Name, replicas: *s.Spec.Replicas, selector: s.Spec.Selector, template: s.Spec.Template, sts: s}
	}
	t.Fatalf("rendered %d Deployments and %d StatefulSets, want one workload", len(deps), len(stss))
	return workload{}
}

// exporter returns the exporter's container.
func (w workload) exporter(t *testing.T) corev1.Container {
	t.Helper()
	cs := w.template.Spec.Containers
	if len(cs) != 1 || cs[0].Name != "exporter" {
		t.Fatalf("%s: containers %v, want one named exporter", w.kind, cs)
	}
	return cs[0]
}

// flag returns the value of --name=value in args, and whether it is there.
func flag(args []string, name string) (string, bool) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v, true
		}
		if a == name {
			return "", true
		}
	}
	return "", false
}

func env(c corev1.Container, name string) []corev1.EnvVar {
	var out []corev1.EnvVar
	for _, e := range c.Env {
		if e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

func port(c corev1.Container, name string) (corev1.ContainerPort, bool) {
	for _, p := range c.Ports {
		if p.Name == name {
			return p, true
		}
	}
	return corev1.ContainerPort{}, false
}

func name(o runtime.Object) string {
	m, err := meta.Accessor(o)
	if err != nil {
		return fmt.Sprintf("%T", o)
	}
	return fmt.Sprintf("%T %s", o, m.GetName())
}

// readYAML reads the fields of v from a YAML file relative to the chart.
func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(chartDir, path))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// metaOf returns the object's metadata.
func metaOf(t *testing.T, o runtime.Object) metav1.Object {
	t.Helper()
	m, err := meta.Accessor(o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
