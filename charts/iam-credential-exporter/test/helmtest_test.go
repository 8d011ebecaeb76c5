package charttest

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
)

// testPod returns the pod of `helm test`, or nil when test.enabled is off.
func testPod(t *testing.T, r rendered) *corev1.Pod {
	t.Helper()
	var pods []*corev1.Pod
	for _, h := range r.hooks {
		if p, ok := h.(*corev1.Pod); ok {
			pods = append(pods, p)
		}
	}
	switch len(pods) {
	case 0:
		return nil
	case 1:
		return pods[0]
	}
	t.Fatalf("%d test pods, want 1", len(pods))
	return nil
}

// checkHelmTest: every hook is one of `helm test`; its pod asks each
// replica's health port for /-/ready, by an address that reaches that
// replica (with shards, the pod's DNS name under the headless Service;
// without, a Service of the test's own that selects the pods), runs as
// the exporter does (non-root, read-only, no capabilities), carries no
// label that the exporter's selectors match, and is admitted by the
// NetworkPolicy to the health port.
func checkHelmTest(t *testing.T, r rendered, w workload) {
	t.Helper()
	for _, h := range r.hooks {
		if m := metaOf(t, h); m.GetAnnotations()[hookAnnotation] != "test" {
			t.Errorf("%s: hook %q, want test", name(h), m.GetAnnotations()[hookAnnotation])
		}
	}
	pod := testPod(t, r)
	if pod == nil {
		if len(r.hooks) > 0 {
			t.Errorf("hooks %d without a test pod", len(r.hooks))
		}
		return
	}
	health, ok := port(w.exporter(t), "health")
	if !ok {
		t.Fatal("the exporter has no port health")
	}
	var want []string
	var services []*corev1.Service
	for _, h := range r.hooks {
		if s, ok := h.(*corev1.Service); ok {
			services = append(services, s)
		}
	}
	if w.kind == "StatefulSet" {
		for i := range int(w.replicas) {
			want = append(want, fmt.Sprintf("http://%s-%d.%s.%s.svc:%d/-/ready", w.name, i, w.sts.Spec.ServiceName, namespace, health.ContainerPort))
		}
		if len(services) > 0 {
			t.Errorf("test Services %d with shards: the pods' DNS names reach them", len(services))
		}
	} else {
		if len(services) != 1 {
			t.Fatalf("%d test Services, want 1 to reach the health port", len(services))
		}
		svc := services[0]
		s := labels.SelectorFromSet(svc.Spec.Selector)
		if s.Empty() || !s.Matches(labels.Set(w.template.Labels)) {
			t.Errorf("test Service selector %v does not select the pods %v", svc.Spec.Selector, w.template.Labels)
		}
		if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.String() != "health" {
			t.Fatalf("test Service ports %+v, want one to the container port health", svc.Spec.Ports)
		}
		// Created before the pod.
		if weight(svc.Annotations) >= weight(pod.Annotations) {
			t.Errorf("test Service hook weight %q, pod %q: the Service must come first", svc.Annotations["helm.sh/hook-weight"], pod.Annotations["helm.sh/hook-weight"])
		}
		want = []string{fmt.Sprintf("http://%s.%s.svc:%d/-/ready", svc.Name, namespace, svc.Spec.Ports[0].Port)}
		checkNotSelected(t, r, w, "test Service", svc.Labels)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("test pod containers %+v, want 1", pod.Spec.Containers)
	}
	c := pod.Spec.Containers[0]
	if !slices.Equal(c.Args, want) {
		t.Errorf("test pod asks\n%s\nwant\n%s", strings.Join(c.Args, "\n"), strings.Join(want, "\n"))
	}
	if pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("test pod restartPolicy %q, want Never: helm waits for it to end", pod.Spec.RestartPolicy)
	}
	if a := pod.Spec.AutomountServiceAccountToken; a == nil || *a {
		t.Errorf("test pod automountServiceAccountToken %v, want false", deref(a))
	}
	sc := c.SecurityContext
	if pod.Spec.SecurityContext == nil || sc == nil || deref(sc.RunAsNonRoot) != true || deref(sc.ReadOnlyRootFilesystem) != true ||
		deref(sc.AllowPrivilegeEscalation) != false || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
		pod.Spec.SecurityContext.SeccompProfile == nil || pod.Spec.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("test pod security context %+v, container %+v: want non-root, read-only, no capabilities, RuntimeDefault", pod.Spec.SecurityContext, sc)
	}
	checkNotSelected(t, r, w, "test pod", pod.Labels)

	for _, np := range all[*networkingv1.NetworkPolicy](r) {
		admitted := false
		for _, rule := range np.Spec.Ingress {
			if len(rule.Ports) != 1 || rule.Ports[0].Port.String() != "health" {
				continue
			}
			for _, peer := range rule.From {
				s, err := metav1.LabelSelectorAsSelector(peer.PodSelector)
				if err == nil && peer.NamespaceSelector == nil && !s.Empty() && s.Matches(labels.Set(pod.Labels)) {
					admitted = true
				}
			}
		}
		if !admitted {
			t.Errorf("NetworkPolicy ingress %+v does not admit the test pod %v to the port health", np.Spec.Ingress, pod.Labels)
		}
	}
}

// checkNotSelected: the labels of a test object match none of the selectors
// of the exporter's pods: a Deployment would adopt such a pod, a Service
// send it traffic, a monitor scrape it.
func checkNotSelected(t *testing.T, r rendered, w workload, what string, set map[string]string) {
	t.Helper()
	selected := func(by string, sel *metav1.LabelSelector) {
		if s, err := metav1.LabelSelectorAsSelector(sel); err == nil && s.Matches(labels.Set(set)) {
			t.Errorf("%s labels %v are selected by the %s", what, set, by)
		}
	}
	selected(w.kind, w.selector)
	for _, svc := range all[*corev1.Service](r) {
		selected("Service "+svc.Name, metav1.SetAsLabelSelector(svc.Spec.Selector))
	}
	for _, sm := range all[*monitoringv1.ServiceMonitor](r) {
		selected("ServiceMonitor", &sm.Spec.Selector)
	}
	for _, pm := range all[*monitoringv1.PodMonitor](r) {
		selected("PodMonitor", &pm.Spec.Selector)
	}
	for _, pdb := range all[*policyv1.PodDisruptionBudget](r) {
		selected("PodDisruptionBudget", pdb.Spec.Selector)
	}
	for _, np := range all[*networkingv1.NetworkPolicy](r) {
		selected("NetworkPolicy", &np.Spec.PodSelector)
	}
}

func weight(annotations map[string]string) string {
	w := annotations["helm.sh/hook-weight"]
	if w == "" {
		return "0"
	}
	return w
}

// TestHelmTest: the test's image comes from values; with shards, one
// address per pod; test.enabled false renders no hook and no NetworkPolicy
// rule for it.
func TestHelmTest(t *testing.T) {
	var values struct {
		Test struct {
			Image struct {
				Repository string `json:"repository"`
				Tag        string `json:"tag"`
			} `json:"image"`
		} `json:"test"`
	}
	readYAML(t, "values.yaml", &values)
	for _, tc := range []struct {
		set   string
		image string
		urls  int
	}{
		{"networkPolicy.enabled=true", values.Test.Image.Repository + ":" + values.Test.Image.Tag, 1},
		{"test.image.repository=registry.example.com/curlimages/curl,test.image.tag=8.11.0", "registry.example.com/curlimages/curl:8.11.0", 1},
		{"shards=3,networkPolicy.enabled=true,webConfig.secretName=web", values.Test.Image.Repository + ":" + values.Test.Image.Tag, 3},
	} {
		t.Run(tc.set, func(t *testing.T) {
			r := render(t, "--set", tc.set)
			checkInstall(t, r)
			pod := testPod(t, r)
			if pod == nil {
				t.Fatal("no test pod")
			}
			if c := pod.Spec.Containers[0]; c.Image != tc.image || len(c.Args) != tc.urls {
				t.Errorf("test pod image %s asks %v, want image %s and %d URLs", c.Image, c.Args, tc.image, tc.urls)
			}
		})
	}
	t.Run("disabled", func(t *testing.T) {
		r := render(t, "--set", "test.enabled=false,networkPolicy.enabled=true")
		checkInstall(t, r)
		if len(r.hooks) > 0 {
			t.Errorf("%d hooks with test.enabled false", len(r.hooks))
		}
		if np := one[*networkingv1.NetworkPolicy](t, r); len(np.Spec.Ingress) != 1 {
			t.Errorf("NetworkPolicy ingress %+v, want the metrics rule alone", np.Spec.Ingress)
		}
	})
	if values.Test.Image.Tag == "" || values.Test.Image.Tag == "latest" {
		t.Errorf("values.yaml test.image.tag %q: pin a version", values.Test.Image.Tag)
	}
}

// TestHelmTestScript runs the test pod's command here, with this machine's
// sh and wget (busybox's in the pod; GNU wget takes the same flags), against
// the exporter: it passes when /-/ready answers 200, and fails, saying which
// URL, when it answers 503 (no report loaded) every time.
func TestHelmTestScript(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the exporter")
	}
	for _, tool := range []string{"sh", "wget"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not found: the test pod's command needs it", tool)
			}
			t.Skipf("%s not found: the test pod's command needs it", tool)
		}
	}
	pod := testPod(t, render(t))
	if pod == nil {
		t.Fatal("no test pod")
	}
	c := pod.Spec.Containers[0]
	bin, err := buildExporter(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sample, err := filepath.Abs(filepath.Join(chartDir, "..", "..", "report", "testdata", "example.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string // over the pod's
		ok      bool
		message string
	}{
		{"ready", []string{"--report.file=" + sample}, nil, true, "ready: "},
		{"not ready", nil, map[string]string{"ATTEMPTS": "2", "INTERVAL": "0"}, false, "not ready after 2 attempts: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			health := freeAddr(t)
			exited := startExporter(t, bin, append([]string{"--web.listen-address=" + freeAddr(t), "--web.health-listen-address=" + health}, tc.args...), nil)
			url := "http://" + health + "/-/ready"
			waitServing(t, url, exited, tc.ok)

			cmd := exec.Command(c.Command[0], append(c.Command[1:], url)...)
			cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
			for _, e := range c.Env {
				cmd.Env = append(cmd.Env, e.Name+"="+e.Value)
			}
			for k, v := range tc.env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				t.Fatal(err)
			}
			if (err == nil) != tc.ok || !strings.Contains(out.String(), tc.message+url) {
				t.Errorf("test pod's command: %v, want ok=%v and %q in its output:\n%s", err, tc.ok, tc.message+url, out.String())
			}
		})
	}
}

// waitServing waits until url answers: 200 when ready is true, 503 when it
// is false; it fails when the exporter exits.
func waitServing(t *testing.T, url string, exited chan error, ready bool) {
	t.Helper()
	want := http.StatusServiceUnavailable
	if ready {
		want = http.StatusOK
	}
	client := &http.Client{Timeout: time.Minute}
	waitExporter(t, exited, func() error {
		if code := get(client, url, false); code != want {
			return fmt.Errorf("%s answers %d, want %d", url, code, want)
		}
		return nil
	})
}
