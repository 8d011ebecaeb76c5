package charttest

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// The files the chart keeps and the project file they copy.
const (
	rulesCopy    = "files/iam_credential_exporter.rules.yml"
	rulesProject = "../../alerts/iam_credential_exporter.rules.yml" // relative to the chart
)

// The values files under ci/, each rendered and checked by TestValuesFiles.
var valuesFiles = []string{"default", "sharded", "tls-auth", "organization", "per-account", "exemptions", "kube-prometheus-stack"}

func valuesFile(name string) string { return filepath.Join(chartDir, "ci", name+"-values.yaml") }

// TestValuesFiles renders each values file under ci/ and checks what holds
// for every install: one workload whose shard flags agree with its replicas,
// the security context, probes that work with TLS and basic auth, and
// selectors and ports that connect the objects.
func TestValuesFiles(t *testing.T) {
	entries, err := filepath.Glob(filepath.Join(chartDir, "ci", "*-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(valuesFiles) {
		t.Errorf("ci/ holds %d values files, the test knows %v: add new ones to valuesFiles", len(entries), valuesFiles)
	}
	for _, name := range valuesFiles {
		t.Run(name, func(t *testing.T) {
			checkInstall(t, render(t, "-f", valuesFile(name)))
		})
	}
}

func checkInstall(t *testing.T, r rendered) {
	t.Helper()
	checkLabels(t, r)
	w := r.workload(t)
	checkShards(t, r, w)
	checkSecurityContext(t, w)
	checkProbes(t, w)
	checkServiceAccount(t, r, w)
	checkSelectors(t, r, w)
	checkScrapeConfig(t, r, w)
	checkFiles(t, r, w)
	checkGoMemLimit(t, w)
	checkHelmTest(t, r, w)
}

// elsewhere holds the kinds that a value may put outside the release's
// namespace, for a Prometheus that looks in its own namespace only.
var elsewhere = map[string]bool{"ServiceMonitor": true, "PodMonitor": true, "ScrapeConfig": true, "PrometheusRule": true, "dashboard": true}

// checkLabels: every object carries the standard labels, in the release's
// namespace unless it is of a kind that a value may put elsewhere.
func checkLabels(t *testing.T, r rendered) {
	t.Helper()
	var chart struct {
		Version    string `json:"version"`
		AppVersion string `json:"appVersion"`
	}
	data, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &chart); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"app.kubernetes.io/name":       "iam-credential-exporter",
		"app.kubernetes.io/instance":   release,
		"app.kubernetes.io/managed-by": "Helm",
		"app.kubernetes.io/version":    chart.AppVersion,
		"helm.sh/chart":                "iam-credential-exporter-" + chart.Version,
	}
	for _, o := range r.objects {
		m, err := meta.Accessor(o)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range want {
			if got := m.GetLabels()[k]; got != v {
				t.Errorf("%s: label %s=%q, want %q", name(o), k, got, v)
			}
		}
		kind := o.GetObjectKind().GroupVersionKind().Kind
		if cm, ok := o.(*corev1.ConfigMap); ok && isDashboard(cm) {
			kind = "dashboard"
		}
		if ns := m.GetNamespace(); ns != namespace && (!elsewhere[kind] || ns == "") {
			t.Errorf("%s: namespace %q, want the release's %q", name(o), ns, namespace)
		}
	}
}

// checkShards: one Deployment replica, or a StatefulSet whose every pod
// gets its shard from its pod index and the replica count as total.
func checkShards(t *testing.T, r rendered, w workload) {
	t.Helper()
	c := w.exporter(t)
	total, hasTotal := flag(c.Args, "--total-shards")
	shard, hasShard := flag(c.Args, "--shard")
	svc := one[*corev1.Service](t, r)
	switch w.kind {
	case "Deployment":
		if w.replicas != 1 {
			t.Errorf("Deployment replicas %d, want 1", w.replicas)
		}
		if hasTotal || hasShard {
			t.Errorf("Deployment args %v: no --shard or --total-shards without sharding", c.Args)
		}
		if svc.Spec.ClusterIP == corev1.ClusterIPNone {
			t.Error("Service is headless without sharding")
		}
	case "StatefulSet":
		if !hasTotal || total != strconv.Itoa(int(w.replicas)) {
			t.Errorf("StatefulSet of %d replicas has --total-shards=%q (present: %v), want them equal", w.replicas, total, hasTotal)
		}
		if w.replicas < 2 {
			t.Errorf("StatefulSet of %d replicas, want at least 2", w.replicas)
		}
		if !hasShard || shard != "$(SHARD)" {
			t.Errorf("--shard=%q (present: %v), want $(SHARD)", shard, hasShard)
		}
		envs := env(c, "SHARD")
		if len(envs) != 1 || envs[0].ValueFrom == nil || envs[0].ValueFrom.FieldRef == nil ||
			envs[0].ValueFrom.FieldRef.FieldPath != "metadata.labels['apps.kubernetes.io/pod-index']" {
			t.Errorf("env SHARD %+v, want one from the field metadata.labels['apps.kubernetes.io/pod-index']", envs)
		}
		if w.sts.Spec.ServiceName != svc.Name {
			t.Errorf("StatefulSet serviceName %q, want the Service %q", w.sts.Spec.ServiceName, svc.Name)
		}
		if svc.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Errorf("sharded Service clusterIP %q, want None (headless)", svc.Spec.ClusterIP)
		}
	}
}

// checkSecurityContext: a numeric non-root user, a read-only root
// filesystem, no privilege escalation, no capabilities, seccomp RuntimeDefault.
func checkSecurityContext(t *testing.T, w workload) {
	t.Helper()
	pod := w.template.Spec.SecurityContext
	if pod == nil {
		t.Fatal("pod securityContext missing")
	}
	c := w.exporter(t).SecurityContext
	if c == nil {
		t.Fatal("container securityContext missing")
	}
	is := func(what string, got *bool, want bool) {
		if got == nil || *got != want {
			t.Errorf("%s = %v, want %v", what, deref(got), want)
		}
	}
	id := func(what string, got *int64) {
		if got == nil || *got != 65532 {
			t.Errorf("%s = %v, want 65532", what, deref(got))
		}
	}
	is("pod runAsNonRoot", pod.RunAsNonRoot, true)
	id("pod runAsUser", pod.RunAsUser)
	id("pod runAsGroup", pod.RunAsGroup)
	if pod.SeccompProfile == nil || pod.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod seccompProfile %+v, want RuntimeDefault", pod.SeccompProfile)
	}
	is("container runAsNonRoot", c.RunAsNonRoot, true)
	id("container runAsUser", c.RunAsUser)
	id("container runAsGroup", c.RunAsGroup)
	is("readOnlyRootFilesystem", c.ReadOnlyRootFilesystem, true)
	is("allowPrivilegeEscalation", c.AllowPrivilegeEscalation, false)
	if c.Privileged != nil && *c.Privileged {
		t.Error("container is privileged")
	}
	if c.Capabilities == nil || !slices.Equal(c.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(c.Capabilities.Add) > 0 {
		t.Errorf("capabilities %+v, want drop [ALL] and no add", c.Capabilities)
	}
	if c.SeccompProfile != nil && c.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("container seccompProfile %+v overrides the pod's RuntimeDefault", c.SeccompProfile)
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// checkProbes: the probes reach the plain health listener, which answers
// whether or not TLS and basic auth protect the metrics port.
func checkProbes(t *testing.T, w workload) {
	t.Helper()
	c := w.exporter(t)
	if addr, _ := flag(c.Args, "--web.health-listen-address"); addr != ":9861" {
		t.Errorf("--web.health-listen-address=%q, want :9861", addr)
	}
	if addr, _ := flag(c.Args, "--web.listen-address"); addr != ":9860" {
		t.Errorf("--web.listen-address=%q, want :9860", addr)
	}
	if p, ok := port(c, "health"); !ok || p.ContainerPort != 9861 {
		t.Errorf("container port health %+v, want 9861", p)
	}
	if p, ok := port(c, "metrics"); !ok || p.ContainerPort != 9860 {
		t.Errorf("container port metrics %+v, want 9860", p)
	}
	for _, probe := range []struct {
		what string
		p    *corev1.Probe
		path string
	}{{"readinessProbe", c.ReadinessProbe, "/-/ready"}, {"livenessProbe", c.LivenessProbe, "/-/healthy"}} {
		if probe.p == nil || probe.p.HTTPGet == nil {
			t.Errorf("%s %+v, want an httpGet", probe.what, probe.p)
			continue
		}
		g := probe.p.HTTPGet
		if g.Path != probe.path || g.Port.String() != "health" || (g.Scheme != "" && g.Scheme != corev1.URISchemeHTTP) {
			t.Errorf("%s gets %s %s on port %s, want HTTP %s on port health", probe.what, g.Scheme, g.Path, g.Port.String(), probe.path)
		}
	}
}

// checkServiceAccount: the pods run as the chart's ServiceAccount, without
// the Kubernetes API token the exporter never uses.
func checkServiceAccount(t *testing.T, r rendered, w workload) {
	t.Helper()
	sa := one[*corev1.ServiceAccount](t, r)
	spec := w.template.Spec
	if spec.ServiceAccountName != sa.Name {
		t.Errorf("pods run as ServiceAccount %q, the chart creates %q", spec.ServiceAccountName, sa.Name)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("automountServiceAccountToken %v, want false", deref(spec.AutomountServiceAccountToken))
	}
}

// checkSelectors: the Service, monitors, disruption budget and network
// policy select the pods, on ports the pods have.
func checkSelectors(t *testing.T, r rendered, w workload) {
	t.Helper()
	pods := labels.Set(w.template.Labels)
	selects := func(what string, sel *metav1.LabelSelector) {
		t.Helper()
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		if s.Empty() || !s.Matches(pods) {
			t.Errorf("%s selector %q does not select the pods %v", what, s, pods)
		}
	}
	selects(w.kind, w.selector)

	svc := one[*corev1.Service](t, r)
	selects("Service", metav1.SetAsLabelSelector(svc.Spec.Selector))
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "metrics" || svc.Spec.Ports[0].TargetPort.String() != "metrics" {
		t.Errorf("Service ports %+v, want only metrics, to the container port metrics", svc.Spec.Ports)
	}

	for _, sm := range all[*monitoringv1.ServiceMonitor](r) {
		if ns := sm.Spec.NamespaceSelector; ns.Any || !slices.Equal(ns.MatchNames, []string{namespace}) {
			t.Errorf("ServiceMonitor namespaceSelector %+v, want the release's namespace %s alone", ns, namespace)
		}
		s, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
		if err != nil || !s.Matches(labels.Set(svc.Labels)) {
			t.Errorf("ServiceMonitor selector %v does not select the Service's labels %v", sm.Spec.Selector, svc.Labels)
		}
		if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "metrics" || sm.Spec.Endpoints[0].Path != "/metrics" {
			t.Errorf("ServiceMonitor endpoints %+v, want one on port metrics", sm.Spec.Endpoints)
		}
	}
	for _, pm := range all[*monitoringv1.PodMonitor](r) {
		if ns := pm.Spec.NamespaceSelector; ns.Any || !slices.Equal(ns.MatchNames, []string{namespace}) {
			t.Errorf("PodMonitor namespaceSelector %+v, want the release's namespace %s alone", ns, namespace)
		}
		selects("PodMonitor", &pm.Spec.Selector)
		eps := pm.Spec.PodMetricsEndpoints
		if len(eps) != 1 || eps[0].Port == nil || *eps[0].Port != "metrics" || eps[0].Path != "/metrics" {
			t.Errorf("PodMonitor endpoints %+v, want one on port metrics", eps)
		}
	}
	if n := len(all[*monitoringv1.ServiceMonitor](r)) + len(all[*monitoringv1.PodMonitor](r)) +
		len(all[*monitoringv1alpha1.ScrapeConfig](r)); n > 1 {
		t.Errorf("%d monitors and scrape configs: every series would be scraped more than once", n)
	}
	for _, pdb := range all[*policyv1.PodDisruptionBudget](r) {
		selects("PodDisruptionBudget", pdb.Spec.Selector)
	}
	for _, np := range all[*networkingv1.NetworkPolicy](r) {
		selects("NetworkPolicy", &np.Spec.PodSelector)
		// The rule of `helm test`, to the health port, is checkHelmTest's.
		if in := np.Spec.Ingress; len(in) == 0 || len(in) > 2 || len(in[0].Ports) != 1 || in[0].Ports[0].Port.String() != "metrics" {
			t.Errorf("NetworkPolicy ingress %+v, want one rule to the port metrics, and the test's", np.Spec.Ingress)
		}
	}
}

// checkScrapeConfig: a ScrapeConfig reads /sd of every replica once, each by
// an address that reaches that replica alone (with shards, each pod's DNS
// name under the headless Service, on the container's port; without, the
// Service, on its port), keeps the series' account_id (honorLabels), and
// sends /sd the TLS and basic auth of the scrapes.
func checkScrapeConfig(t *testing.T, r rendered, w workload) {
	t.Helper()
	for _, sc := range all[*monitoringv1alpha1.ScrapeConfig](r) {
		spec := sc.Spec
		if spec.HonorLabels == nil || !*spec.HonorLabels {
			t.Errorf("ScrapeConfig honorLabels %v, want true: the target's account_id would rename the series' to exported_account_id", deref(spec.HonorLabels))
		}
		svc := one[*corev1.Service](t, r)
		if spec.JobName == nil || *spec.JobName != svc.Name {
			t.Errorf("ScrapeConfig jobName %v, want the Service's name %s, as a ServiceMonitor's job", deref(spec.JobName), svc.Name)
		}
		scheme := "http"
		if spec.Scheme != nil {
			scheme = spec.Scheme.String()
		}
		var got []string
		for _, sd := range spec.HTTPSDConfigs {
			got = append(got, string(sd.URL))
			if !reflect.DeepEqual(sd.TLSConfig, spec.TLSConfig) || !reflect.DeepEqual(sd.BasicAuth, spec.BasicAuth) {
				t.Errorf("httpSDConfigs %s: tlsConfig %+v and basicAuth %+v, want the scrapes' %+v and %+v: /sd asks for what /metrics does",
					sd.URL, sd.TLSConfig, sd.BasicAuth, spec.TLSConfig, spec.BasicAuth)
			}
		}
		if want := sdURLs(t, r, w, scheme); !slices.Equal(got, want) {
			t.Errorf("ScrapeConfig httpSDConfigs URLs\n%s\nwant one per replica:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// sdURLs returns the /sd URL of each replica, from the rendered workload
// and Service.
func sdURLs(t *testing.T, r rendered, w workload, scheme string) []string {
	t.Helper()
	svc := one[*corev1.Service](t, r)
	if w.kind != "StatefulSet" {
		return []string{fmt.Sprintf("%s://%s.%s.svc:%d/sd", scheme, svc.Name, namespace, svc.Spec.Ports[0].Port)}
	}
	// A pod of a StatefulSet has the DNS name <pod>.<serviceName>.<namespace>.svc,
	// which resolves to the pod's address: the container's port, not the Service's.
	metrics, _ := port(w.exporter(t), "metrics")
	var urls []string
	for i := range int(w.replicas) {
		urls = append(urls, fmt.Sprintf("%s://%s-%d.%s.%s.svc:%d/sd", scheme, w.name, i, w.sts.Spec.ServiceName, namespace, metrics.ContainerPort))
	}
	return urls
}

// checkFiles: --config.file, --exemptions.file and --web.config.file name
// files mounted read-only from the ConfigMaps and the Secret. Each ConfigMap
// the chart renders holds its file, has a checksum in the pod template so
// that a change rolls the pods (the exporter reads the exemptions file only
// at start), and is used. An exemptions.existingConfigMap, which the chart
// does not render, has no checksum: the chart cannot see its content.
func checkFiles(t *testing.T, r rendered, w workload) {
	t.Helper()
	c := w.exporter(t)
	cms := map[string]*corev1.ConfigMap{}
	for _, cm := range all[*corev1.ConfigMap](r) {
		if !isDashboard(cm) {
			cms[cm.Name] = cm
		}
	}
	used := map[string]bool{}
	for _, f := range []struct{ flag, checksum string }{
		{"--config.file", "checksum/config"},
		{"--exemptions.file", "checksum/exemptions"},
	} {
		path, ok := flag(c.Args, f.flag)
		if !ok {
			if _, ok := w.template.Annotations[f.checksum]; ok {
				t.Errorf("%s annotation without %s", f.checksum, f.flag)
			}
			continue
		}
		vol, key := mountedFile(t, w, path)
		if vol.ConfigMap == nil {
			t.Errorf("%s=%s is in volume %+v, not a ConfigMap", f.flag, path, vol)
			continue
		}
		cm, rendered := cms[vol.ConfigMap.Name]
		switch {
		case !rendered && f.flag == "--exemptions.file":
			if _, ok := w.template.Annotations[f.checksum]; ok {
				t.Errorf("%s annotation for the ConfigMap %s, which the chart does not render", f.checksum, vol.ConfigMap.Name)
			}
		case !rendered:
			t.Errorf("%s=%s: the chart renders no ConfigMap %s", f.flag, path, vol.ConfigMap.Name)
		default:
			used[cm.Name] = true
			if _, ok := cm.Data[key]; !ok {
				t.Errorf("%s=%s: ConfigMap %s has no key %s", f.flag, path, cm.Name, key)
			}
			if w.template.Annotations[f.checksum] == "" {
				t.Errorf("no %s annotation: pods would keep an old %s", f.checksum, f.flag)
			}
		}
	}
	for name := range cms {
		if !used[name] {
			t.Errorf("ConfigMap %s holds no file the exporter is given", name)
		}
	}
	if path, ok := flag(c.Args, "--web.config.file"); ok {
		if vol, _ := mountedFile(t, w, path); vol.Secret == nil {
			t.Errorf("--web.config.file=%s is in volume %+v, not a Secret", path, vol)
		}
	}
}

// mountedFile finds the read-only mount that holds path, and the key of the
// volume it names.
func mountedFile(t *testing.T, w workload, path string) (corev1.Volume, string) {
	t.Helper()
	for _, m := range w.exporter(t).VolumeMounts {
		key, ok := strings.CutPrefix(path, m.MountPath+"/")
		if !ok {
			continue
		}
		if !m.ReadOnly {
			t.Errorf("mount %s of %s is writable", m.MountPath, path)
		}
		for _, v := range w.template.Spec.Volumes {
			if v.Name == m.Name {
				return v, key
			}
		}
		t.Fatalf("mount %s names no volume %s", m.MountPath, m.Name)
	}
	t.Fatalf("%s is in no volume mount", path)
	return corev1.Volume{}, ""
}

// checkGoMemLimit: the container has a memory limit, and the exporter sets
// GOMEMLIMIT to 90% of it (the default goMemLimitPercent), read from its
// cgroup; the chart computes no GOMEMLIMIT of its own.
func checkGoMemLimit(t *testing.T, w workload) {
	t.Helper()
	c := w.exporter(t)
	if c.Resources.Limits.Memory().IsZero() {
		t.Error("no memory limit")
	}
	if ratio, _ := flag(c.Args, "--auto-gomemlimit.ratio"); ratio != "0.9" {
		t.Errorf("args %v: --auto-gomemlimit.ratio=%q, want 0.9", c.Args, ratio)
	}
	if envs := env(c, "GOMEMLIMIT"); len(envs) > 0 {
		t.Errorf("GOMEMLIMIT %+v in the environment: the exporter would not set its own", envs)
	}
}

// TestDefault: one Deployment replica, a ClusterIP Service, nothing optional.
func TestDefault(t *testing.T) {
	r := render(t)
	if w := r.workload(t); w.kind != "Deployment" || w.replicas != 1 {
		t.Errorf("default renders a %s of %d replicas, want a Deployment of 1", w.kind, w.replicas)
	}
	kinds := map[string]int{}
	for _, o := range r.objects {
		kinds[o.GetObjectKind().GroupVersionKind().Kind]++
	}
	want := map[string]int{"Deployment": 1, "Service": 1, "ServiceAccount": 1}
	if !reflect.DeepEqual(kinds, want) {
		t.Errorf("default renders %v, want %v", kinds, want)
	}
	c := r.workload(t).exporter(t)
	for _, f := range []string{"--config.file", "--exemptions.file", "--exemptions.max-days", "--web.config.file", "--shard", "--total-shards"} {
		if _, ok := flag(c.Args, f); ok {
			t.Errorf("default args %v hold %s", c.Args, f)
		}
	}
	var values struct {
		Image struct {
			Repository string `json:"repository"`
		} `json:"image"`
	}
	readYAML(t, "values.yaml", &values)
	var chart struct {
		AppVersion string `json:"appVersion"`
	}
	data, _ := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err := yaml.Unmarshal(data, &chart); err != nil {
		t.Fatal(err)
	}
	if want := values.Image.Repository + ":" + chart.AppVersion; c.Image != want {
		t.Errorf("image %q, want %q (tag from appVersion)", c.Image, want)
	}
}

// TestShards: --total-shards follows the replica count whatever it is, and
// one shard is a Deployment again.
func TestShards(t *testing.T) {
	for _, shards := range []int{1, 2, 3, 7} {
		t.Run(strconv.Itoa(shards), func(t *testing.T) {
			r := render(t, "--set", "shards="+strconv.Itoa(shards))
			w := r.workload(t)
			wantKind := "StatefulSet"
			if shards == 1 {
				wantKind = "Deployment"
			}
			if w.kind != wantKind || int(w.replicas) != shards {
				t.Errorf("shards=%d renders a %s of %d, want a %s of %d", shards, w.kind, w.replicas, wantKind, shards)
			}
			checkShards(t, r, w)
		})
	}
	t.Run("ci", func(t *testing.T) {
		w := render(t, "-f", valuesFile("sharded")).workload(t)
		if total, _ := flag(w.exporter(t).Args, "--total-shards"); w.kind != "StatefulSet" || w.replicas != 3 || total != "3" {
			t.Errorf("sharded-values.yaml renders a %s of %d with --total-shards=%s, want a StatefulSet of 3 with 3", w.kind, w.replicas, total)
		}
		if w.sts.Spec.PodManagementPolicy != "Parallel" {
			t.Errorf("podManagementPolicy %q, want Parallel: shards do not depend on each other", w.sts.Spec.PodManagementPolicy)
		}
	})
}

// TestTLSAuth: the web configuration comes from the Secret, the probes do
// not go through it, and the ServiceMonitor scrapes with TLS and basic auth.
func TestTLSAuth(t *testing.T) {
	r := render(t, "-f", valuesFile("tls-auth"))
	w := r.workload(t)
	c := w.exporter(t)
	path, ok := flag(c.Args, "--web.config.file")
	if !ok {
		t.Fatalf("args %v: no --web.config.file", c.Args)
	}
	vol, key := mountedFile(t, w, path)
	if vol.Secret == nil || vol.Secret.SecretName != "iam-credential-exporter-web" || key != "web-config.yml" {
		t.Errorf("--web.config.file=%s from %+v, want key web-config.yml of Secret iam-credential-exporter-web", path, vol.VolumeSource)
	}
	vol, _ = mountedFile(t, w, "/etc/iam-credential-exporter/tls/tls.crt")
	if vol.Secret == nil || vol.Secret.SecretName != "iam-credential-exporter-tls" {
		t.Errorf("TLS directory from %+v, want Secret iam-credential-exporter-tls", vol.VolumeSource)
	}
	checkProbes(t, w)

	ep := one[*monitoringv1.ServiceMonitor](t, r).Spec.Endpoints[0]
	if ep.Scheme == nil || *ep.Scheme != "https" {
		t.Errorf("ServiceMonitor scheme %v, want https", deref(ep.Scheme))
	}
	if ep.TLSConfig == nil || ep.TLSConfig.CA.Secret == nil || ep.TLSConfig.CA.Secret.Name != "iam-credential-exporter-scrape" ||
		ep.TLSConfig.ServerName == nil || *ep.TLSConfig.ServerName != "iam-credential-exporter" {
		t.Errorf("ServiceMonitor tlsConfig %+v, want the CA of Secret iam-credential-exporter-scrape and serverName iam-credential-exporter", ep.TLSConfig)
	}
	if ep.BasicAuth == nil || ep.BasicAuth.Username.Key != "username" || ep.BasicAuth.Password.Key != "password" {
		t.Errorf("ServiceMonitor basicAuth %+v, want username and password from a Secret", ep.BasicAuth)
	}
	if ep.Interval != "2m" || ep.ScrapeTimeout != "30s" {
		t.Errorf("ServiceMonitor interval %q timeout %q, want 2m and 30s", ep.Interval, ep.ScrapeTimeout)
	}

	np := one[*networkingv1.NetworkPolicy](t, r)
	if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) || len(np.Spec.Egress) != 2 {
		t.Errorf("NetworkPolicy %+v, want the values' two egress rules", np.Spec)
	}
	checkConfigMap(t, r, "tls-auth")
}

// checkConfigMap: the config file holds the values' config, data for data:
// quoted account IDs stay strings.
func checkConfigMap(t *testing.T, r rendered, values string) {
	t.Helper()
	var v struct {
		Config any `json:"config"`
	}
	data, err := os.ReadFile(valuesFile(values))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	var got any
	if err := yaml.Unmarshal([]byte(one[*corev1.ConfigMap](t, r).Data["config.yml"]), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, v.Config) {
		t.Errorf("config.yml holds %v, values %v", got, v.Config)
	}
}

// TestOrganization: discovery flags, the config file, extra environment,
// scheduling values, a PodMonitor and the project's rules.
func TestOrganization(t *testing.T) {
	r := render(t, "-f", valuesFile("organization"))
	w := r.workload(t)
	c := w.exporter(t)
	for _, a := range []string{"--aws.organization", "--aws.organization.role-name=audit/iam-reader", "--aws.exemptions", "--aws.user-tags=owner,team", "--aws.region=us-east-1", "--log.format=json"} {
		if !slices.Contains(c.Args, a) {
			t.Errorf("args %v lack %s", c.Args, a)
		}
	}
	if e := env(c, "AWS_STS_REGIONAL_ENDPOINTS"); len(e) != 1 || e[0].Value != "regional" {
		t.Errorf("extraEnv: %+v", e)
	}
	spec := w.template.Spec
	if spec.NodeSelector["kubernetes.io/os"] != "linux" || len(spec.Tolerations) != 1 || spec.Affinity == nil || spec.Affinity.NodeAffinity == nil {
		t.Errorf("scheduling: nodeSelector %v, tolerations %v, affinity %v", spec.NodeSelector, spec.Tolerations, spec.Affinity)
	}
	if w.template.Labels["team"] != "security" || w.template.Annotations["example.com/team"] != "security" {
		t.Errorf("pod labels %v, annotations %v: want podLabels and podAnnotations", w.template.Labels, w.template.Annotations)
	}
	if sa := one[*corev1.ServiceAccount](t, r); sa.Annotations["eks.amazonaws.com/role-arn"] == "" {
		t.Errorf("ServiceAccount annotations %v, want the IRSA role", sa.Annotations)
	}
	pm := one[*monitoringv1.PodMonitor](t, r)
	if pm.Labels["release"] != "kube-prometheus-stack" || len(pm.Spec.PodMetricsEndpoints[0].MetricRelabelConfigs) != 1 {
		t.Errorf("PodMonitor %+v, want labels and metricRelabelings from values", pm)
	}
	checkConfigMap(t, r, "organization")

	rule := one[*monitoringv1.PrometheusRule](t, r)
	if rule.Labels["release"] != "kube-prometheus-stack" {
		t.Errorf("PrometheusRule labels %v, want the values' labels", rule.Labels)
	}
	compareGroups(t, rule.Spec.Groups, bundledGroups(t))
}

// TestKubePrometheusStack: the monitor and the rules in Prometheus's
// namespace with its selectors' label, the monitor still selecting the
// Service in the release's namespace; the ServiceAccount's labels; the
// extra volume, mount and environment; a memory limit of 1.5Gi; the
// dashboards for Grafana's sidecar.
func TestKubePrometheusStack(t *testing.T) {
	r := render(t, "-f", valuesFile("kube-prometheus-stack"))
	const promNamespace = "prometheus"
	sm := one[*monitoringv1.ServiceMonitor](t, r)
	if sm.Namespace != promNamespace || sm.Labels["release"] != "kube-prometheus-stack" {
		t.Errorf("ServiceMonitor in %q with labels %v, want namespace %s and release=kube-prometheus-stack", sm.Namespace, sm.Labels, promNamespace)
	}
	if !slices.Equal(sm.Spec.NamespaceSelector.MatchNames, []string{namespace}) {
		t.Errorf("ServiceMonitor namespaceSelector %+v, want the release's namespace %s", sm.Spec.NamespaceSelector, namespace)
	}
	rule := one[*monitoringv1.PrometheusRule](t, r)
	if rule.Namespace != promNamespace || rule.Labels["release"] != "kube-prometheus-stack" {
		t.Errorf("PrometheusRule in %q with labels %v, want namespace %s and release=kube-prometheus-stack", rule.Namespace, rule.Labels, promNamespace)
	}
	compareGroups(t, rule.Spec.Groups, bundledGroups(t))
	if sa := one[*corev1.ServiceAccount](t, r); sa.Labels["team"] != "security" || sa.Labels["app.kubernetes.io/name"] == "" {
		t.Errorf("ServiceAccount labels %v, want team=security beside the chart's", sa.Labels)
	}

	w := r.workload(t)
	c := w.exporter(t)
	vol, key := mountedFile(t, w, "/etc/ssl/certs/corporate/ca.crt")
	if vol.ConfigMap == nil || vol.ConfigMap.Name != "corporate-ca-bundle" || key != "ca.crt" {
		t.Errorf("/etc/ssl/certs/corporate is in %+v, want the ConfigMap corporate-ca-bundle", vol.VolumeSource)
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef == nil || c.EnvFrom[0].ConfigMapRef.Name != "iam-credential-exporter-env" {
		t.Errorf("envFrom %+v, want the ConfigMap iam-credential-exporter-env", c.EnvFrom)
	}
	if got := c.Resources.Limits.Memory().Value(); got != 1610612736 {
		t.Errorf("memory limit %d bytes, want 1.5Gi (1610612736)", got)
	}
	n := 0
	for _, cm := range all[*corev1.ConfigMap](r) {
		if !isDashboard(cm) {
			continue
		}
		n++
		if cm.Namespace != promNamespace || cm.Labels["grafana_dashboard"] != "1" || cm.Annotations["grafana_folder"] != "Security" {
			t.Errorf("dashboard ConfigMap %s in %q, labels %v, annotations %v: want namespace %s, grafana_dashboard=1 and grafana_folder=Security",
				cm.Name, cm.Namespace, cm.Labels, cm.Annotations, promNamespace)
		}
	}
	if want := len(dashboardFiles(t, dashboardsProject)); n != want {
		t.Errorf("%d dashboard ConfigMaps, want %d", n, want)
	}
}

// TestScrapeConfig: per-account targets. The ci file's three shards with
// TLS and basic auth, literally; then the URLs for other shard counts,
// Service ports and names, and the default sample limit.
func TestScrapeConfig(t *testing.T) {
	r := render(t, "-f", valuesFile("per-account"))
	sc := one[*monitoringv1alpha1.ScrapeConfig](t, r)
	var got []string
	for _, sd := range sc.Spec.HTTPSDConfigs {
		got = append(got, string(sd.URL))
	}
	want := []string{
		"https://audit-iam-credential-exporter-0.audit-iam-credential-exporter.monitoring.svc:9860/sd",
		"https://audit-iam-credential-exporter-1.audit-iam-credential-exporter.monitoring.svc:9860/sd",
		"https://audit-iam-credential-exporter-2.audit-iam-credential-exporter.monitoring.svc:9860/sd",
	}
	if !slices.Equal(got, want) {
		t.Errorf("httpSDConfigs URLs %q, want %q", got, want)
	}
	spec := sc.Spec
	if sc.Labels["release"] != "kube-prometheus-stack" {
		t.Errorf("ScrapeConfig labels %v, want the values' labels", sc.Labels)
	}
	if spec.Scheme.String() != "https" {
		t.Errorf("ScrapeConfig scheme %v, want https", spec.Scheme.String())
	}
	if spec.TLSConfig == nil || spec.TLSConfig.CA.Secret == nil || spec.TLSConfig.CA.Secret.Name != "iam-credential-exporter-scrape" ||
		spec.TLSConfig.ServerName == nil || *spec.TLSConfig.ServerName != "iam-credential-exporter" {
		t.Errorf("ScrapeConfig tlsConfig %+v, want the CA of Secret iam-credential-exporter-scrape and serverName iam-credential-exporter", spec.TLSConfig)
	}
	if spec.BasicAuth == nil || spec.BasicAuth.Username.Key != "username" || spec.BasicAuth.Password.Key != "password" {
		t.Errorf("ScrapeConfig basicAuth %+v, want username and password from a Secret", spec.BasicAuth)
	}
	if deref(spec.ScrapeInterval) != monitoringv1.Duration("2m") || deref(spec.ScrapeTimeout) != monitoringv1.Duration("1m") {
		t.Errorf("ScrapeConfig interval %v timeout %v, want 2m and 1m", deref(spec.ScrapeInterval), deref(spec.ScrapeTimeout))
	}
	if deref(spec.SampleLimit) != int64(150000) {
		t.Errorf("ScrapeConfig sampleLimit %v, want the values' 150000", deref(spec.SampleLimit))
	}
	if len(spec.RelabelConfigs) != 1 || spec.RelabelConfigs[0].TargetLabel != "account_name" {
		t.Errorf("ScrapeConfig relabelings %+v, want the values' one to account_name", spec.RelabelConfigs)
	}

	var values struct {
		ScrapeConfig struct {
			SampleLimit int64 `json:"sampleLimit"`
		} `json:"scrapeConfig"`
	}
	readYAML(t, "values.yaml", &values)
	if values.ScrapeConfig.SampleLimit < 60000 {
		t.Errorf("values.yaml scrapeConfig.sampleLimit %d: below the 60,000 samples of an account of 5,000 users", values.ScrapeConfig.SampleLimit)
	}
	for _, tc := range []struct {
		set         string
		want        []string
		sampleLimit any
	}{
		{"", []string{"http://audit-iam-credential-exporter.monitoring.svc:9860/sd"}, values.ScrapeConfig.SampleLimit},
		{"service.port=80,scrapeConfig.sampleLimit=0", []string{"http://audit-iam-credential-exporter.monitoring.svc:80/sd"}, nil},
		// The pods' names resolve to the pods: the container's port, whatever the Service's.
		{"shards=2,service.port=80,scrapeConfig.scheme=HTTPS", []string{
			"https://audit-iam-credential-exporter-0.audit-iam-credential-exporter.monitoring.svc:9860/sd",
			"https://audit-iam-credential-exporter-1.audit-iam-credential-exporter.monitoring.svc:9860/sd",
		}, values.ScrapeConfig.SampleLimit},
		{"shards=5,fullnameOverride=iam", []string{
			"http://iam-0.iam.monitoring.svc:9860/sd", "http://iam-1.iam.monitoring.svc:9860/sd", "http://iam-2.iam.monitoring.svc:9860/sd",
			"http://iam-3.iam.monitoring.svc:9860/sd", "http://iam-4.iam.monitoring.svc:9860/sd",
		}, values.ScrapeConfig.SampleLimit},
	} {
		t.Run(cmp.Or(tc.set, "defaults"), func(t *testing.T) {
			set := "scrapeConfig.enabled=true"
			if tc.set != "" {
				set += "," + tc.set
			}
			r := render(t, "--set", set)
			checkInstall(t, r)
			spec := one[*monitoringv1alpha1.ScrapeConfig](t, r).Spec
			var got []string
			for _, sd := range spec.HTTPSDConfigs {
				got = append(got, string(sd.URL))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("httpSDConfigs URLs %q, want %q", got, tc.want)
			}
			if deref(spec.SampleLimit) != tc.sampleLimit {
				t.Errorf("sampleLimit %v, want %v", deref(spec.SampleLimit), tc.sampleLimit)
			}
			if spec.TLSConfig != nil || spec.BasicAuth != nil {
				t.Errorf("tlsConfig %+v, basicAuth %+v without values", spec.TLSConfig, spec.BasicAuth)
			}
		})
	}
}

// bundledGroups parses the chart's copy of the rules, strictly into the
// PrometheusRule's group type: a field the operator does not know fails.
func bundledGroups(t *testing.T) []monitoringv1.RuleGroup {
	t.Helper()
	var file struct {
		Groups []monitoringv1.RuleGroup `json:"groups"`
	}
	data, err := os.ReadFile(filepath.Join(chartDir, rulesCopy))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, &file); err != nil {
		t.Fatalf("%s: %v", rulesCopy, err)
	}
	if len(file.Groups) == 0 {
		t.Fatalf("%s has no groups", rulesCopy)
	}
	return file.Groups
}

func compareGroups(t *testing.T, got, want []monitoringv1.RuleGroup) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	if len(got) != len(want) {
		t.Fatalf("PrometheusRule has %d groups, the rules file %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if len(g.Rules) != len(w.Rules) {
			t.Errorf("group %s: %d rules, the rules file %d", w.Name, len(g.Rules), len(w.Rules))
			continue
		}
		for j := range w.Rules {
			if !reflect.DeepEqual(g.Rules[j], w.Rules[j]) {
				gy, _ := yaml.Marshal(g.Rules[j])
				wy, _ := yaml.Marshal(w.Rules[j])
				t.Errorf("group %s rule %d differs:\nPrometheusRule:\n%s\nrules file:\n%s", w.Name, j, gy, wy)
			}
		}
		g.Rules, w.Rules = nil, nil
		if !reflect.DeepEqual(g, w) {
			t.Errorf("group %s differs: %+v, rules file %+v", w.Name, g, w)
		}
	}
}

// TestPrometheusRuleGroups: groups given in values replace the bundled ones.
func TestPrometheusRuleGroups(t *testing.T) {
	values := filepath.Join(t.TempDir(), "values.yaml")
	const groups = `
prometheusRule:
  enabled: true
  groups:
    - name: iam-credential-exporter
      rules:
        - alert: IAMCredentialAccessKeyTooOld
          expr: (time() - aws_iam_access_key_last_rotated_timestamp_seconds) / 86400 > 60
          labels: {severity: warning}
          annotations: {summary: 'Access key {{ $labels.key }} is older than 60 days'}
`
	if err := os.WriteFile(values, []byte(groups), 0o644); err != nil {
		t.Fatal(err)
	}
	var want struct {
		PrometheusRule struct {
			Groups []monitoringv1.RuleGroup `json:"groups"`
		} `json:"prometheusRule"`
	}
	if err := yaml.Unmarshal([]byte(groups), &want); err != nil {
		t.Fatal(err)
	}
	rule := one[*monitoringv1.PrometheusRule](t, render(t, "-f", values))
	compareGroups(t, rule.Spec.Groups, want.PrometheusRule.Groups)
}

// TestRulesCopy fails when the chart's copy of the rules differs from the
// project's; `make chart-sync` copies it again.
func TestRulesCopy(t *testing.T) {
	want, err := os.ReadFile(filepath.Join(chartDir, rulesProject))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(chartDir, rulesCopy))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		line := 1 + bytes.Count(want[:commonPrefix(got, want)], []byte("\n"))
		t.Errorf("charts/iam-credential-exporter/%s differs from alerts/iam_credential_exporter.rules.yml from line %d on: run `make chart-sync`", rulesCopy, line)
	}
}

func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// TestGoMemLimit: any Kubernetes memory quantity renders as the limit, for
// the exporter to read from its cgroup (the ratio applied by the exporter
// is its own test's, cmd/iam_credential_exporter TestSetMemoryLimit);
// goMemLimitPercent becomes --auto-gomemlimit.ratio, 0 turns it off, and a
// GOMEMLIMIT in extraEnv is passed as given (the exporter leaves it).
func TestGoMemLimit(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		bytes int64  // the container's memory limit
		flag  string // the argument of the exporter
		env   []string
	}{
		{[]string{"--set", "resources.limits.memory=1.5Gi"}, 1610612736, "--auto-gomemlimit.ratio=0.9", nil},
		{[]string{"--set", "resources.limits.memory=1500M"}, 1500000000, "--auto-gomemlimit.ratio=0.9", nil},
		{[]string{"--set", "resources.limits.memory=2G"}, 2000000000, "--auto-gomemlimit.ratio=0.9", nil},
		{[]string{"--set", "resources.limits.memory=512Mi"}, 536870912, "--auto-gomemlimit.ratio=0.9", nil},
		{[]string{"--set", "resources.limits.memory=1e9"}, 1000000000, "--auto-gomemlimit.ratio=0.9", nil},
		{[]string{"--set", "resources.limits.memory=0.5Gi"}, 536870912, "--auto-gomemlimit.ratio=0.9", nil},
		{[]string{"--set-json", `resources={"limits":{"memory":2147483648}}`}, 2147483648, "--auto-gomemlimit.ratio=0.9", nil},
		{[]string{"--set-json", `resources={"limits":{"memory":"2147483648"}}`}, 2147483648, "--auto-gomemlimit.ratio=0.9", nil},
		{[]string{"--set", "goMemLimitPercent=80"}, 209715200, "--auto-gomemlimit.ratio=0.8", nil},
		{[]string{"--set", "goMemLimitPercent=5"}, 209715200, "--auto-gomemlimit.ratio=0.05", nil},
		{[]string{"--set", "goMemLimitPercent=100"}, 209715200, "--auto-gomemlimit.ratio=1", nil},
		{[]string{"--set", "goMemLimitPercent=0"}, 209715200, "--no-auto-gomemlimit", nil},
		{[]string{"--set", "resources.limits=null"}, 0, "--auto-gomemlimit.ratio=0.9", nil},
		{[]string{"--set-json", `extraEnv=[{"name":"GOMEMLIMIT","value":"100MiB"}]`}, 209715200, "--auto-gomemlimit.ratio=0.9", []string{"100MiB"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			c := render(t, tc.args...).workload(t).exporter(t)
			if got := c.Resources.Limits.Memory().Value(); got != tc.bytes {
				t.Errorf("memory limit %d bytes, want %d", got, tc.bytes)
			}
			var got []string
			for _, a := range c.Args {
				if strings.Contains(a, "gomemlimit") {
					got = append(got, a)
				}
			}
			if !slices.Equal(got, []string{tc.flag}) {
				t.Errorf("args %q, want %s", got, tc.flag)
			}
			got = nil
			for _, e := range env(c, "GOMEMLIMIT") {
				got = append(got, e.Value)
			}
			if !slices.Equal(got, tc.env) {
				t.Errorf("GOMEMLIMIT %q, want %q", got, tc.env)
			}
		})
	}
}

// TestRejectedValues: values the chart cannot honour fail the render with a
// message that names them.
func TestRejectedValues(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--set", "serviceMonitor.enabled=true,podMonitor.enabled=true"}, "choose one"},
		{[]string{"--set", "scrapeConfig.enabled=true,serviceMonitor.enabled=true"}, "scrapeConfig.enabled with serviceMonitor.enabled or podMonitor.enabled"},
		{[]string{"--set", "scrapeConfig.enabled=true,podMonitor.enabled=true"}, "scrapeConfig.enabled with serviceMonitor.enabled or podMonitor.enabled"},
		{[]string{"--set", "scrapeConfig.tlsConfig.caFile=/etc/ca.crt"}, "caFile"},
		{[]string{"--set", "scrapeConfig.basicAuth.username.name=scrape"}, "key"},
		{[]string{"--set", "scrapeConfig.sampleLimit=-1"}, "sampleLimit"},
		{[]string{"--set", "shards=0"}, "shards"},
		{[]string{"--set", "shards=1.5"}, "shards"},
		{[]string{"--set", "serviceMonitor.enable=true"}, "enable"},
		{[]string{"--set", "logFormat=text"}, "logFormat"},
		{[]string{"--set", "goMemLimitPercent=101"}, "goMemLimitPercent"},
		// Renamed to labels.
		{[]string{"--set", "serviceMonitor.additionalLabels.release=kube-prometheus-stack"}, "additionalLabels"},
		{[]string{"--set", "prometheusRule.namespace=Monitoring"}, "namespace"},
		{[]string{"--set-json", `extraVolumeMounts=[{"name":"ca"}]`}, "mountPath"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := template(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one that mentions %q", err, tc.want)
			}
		})
	}
}

// TestDecodeIsStrict shows that the decoding of the other tests would catch
// a misspelt field, a field in the wrong place, a duplicate key or a kind
// the chart does not render.
func TestDecodeIsStrict(t *testing.T) {
	const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers: [{name: exporter, image: x, %s}]
`
	for _, tc := range []struct {
		what, doc string
		ok        bool
	}{
		{"valid", strings.Replace(deployment, "%s", "imagePullPolicy: Always", 1), true},
		{"misspelt", strings.Replace(deployment, "%s", "imagePullPolcy: Always", 1), false},
		{"wrong case", strings.Replace(deployment, "%s", "ImagePullPolicy: Always", 1), false},
		{"misplaced", strings.Replace(deployment, "%s", "replicas: 1", 1), false},
		{"duplicate", strings.Replace(deployment, "%s", "image: y", 1), false},
		{"unknown kind", "apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: x}\n", false},
		{"monitor field", "apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata: {name: x}\nspec:\n  selector: {}\n  podMetricEndpoints: [{port: metrics}]\n", false},
		{"valid monitor", "apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata: {name: x}\nspec:\n  selector: {}\n  podMetricsEndpoints: [{port: metrics}]\n", true},
		{"scrape config field", "apiVersion: monitoring.coreos.com/v1alpha1\nkind: ScrapeConfig\nmetadata: {name: x}\nspec:\n  httpSdConfigs: [{url: 'http://x:9860/sd'}]\n", false},
		{"scrape config file TLS", "apiVersion: monitoring.coreos.com/v1alpha1\nkind: ScrapeConfig\nmetadata: {name: x}\nspec:\n  tlsConfig: {caFile: /ca.crt}\n", false},
		{"valid scrape config", "apiVersion: monitoring.coreos.com/v1alpha1\nkind: ScrapeConfig\nmetadata: {name: x}\nspec:\n  honorLabels: true\n  httpSDConfigs: [{url: 'http://x:9860/sd', tlsConfig: {serverName: x}}]\n", true},
	} {
		t.Run(tc.what, func(t *testing.T) {
			_, _, err := decodeManifest([]byte("---\n" + tc.doc))
			if (err == nil) != tc.ok {
				t.Errorf("decode: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
