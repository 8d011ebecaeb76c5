package charttest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// exemption is one entry of the exemptions file (docs/exemptions.md),
// decoded strictly: an unquoted account ID or date, a missing or an extra
// field does not decode into it unnoticed.
type exemption struct {
	AccountID string `json:"account_id"`
	User      string `json:"user"`
	Policy    string `json:"policy"`
	Start     string `json:"start"`
	End       string `json:"end"`
	Reason    string `json:"reason"`
}

type exemptionsFile struct {
	Exemptions []exemption `json:"exemptions"`
}

// exemptionsValues reads the exemptions of a values file under ci/.
func exemptionsValues(t *testing.T, name string) []exemption {
	t.Helper()
	var v struct {
		Exemptions struct {
			Entries []exemption `json:"entries"`
		} `json:"exemptions"`
	}
	readYAML(t, filepath.Join("ci", name+"-values.yaml"), &v)
	if len(v.Exemptions.Entries) == 0 {
		t.Fatalf("ci/%s-values.yaml has no exemptions.entries", name)
	}
	return v.Exemptions.Entries
}

// exemptionsFileOf returns the ConfigMap and key that --exemptions.file
// names, and whether the flag is there.
func exemptionsFileOf(t *testing.T, r rendered) (cm *corev1.ConfigMap, configMapName, key string, ok bool) {
	t.Helper()
	w := r.workload(t)
	path, ok := flag(w.exporter(t).Args, "--exemptions.file")
	if !ok {
		return nil, "", "", false
	}
	vol, key := mountedFile(t, w, path)
	if vol.ConfigMap == nil {
		t.Fatalf("--exemptions.file=%s is in volume %+v, not a ConfigMap", path, vol)
	}
	for _, c := range all[*corev1.ConfigMap](r) {
		if c.Name == vol.ConfigMap.Name {
			cm = c
		}
	}
	return cm, vol.ConfigMap.Name, key, true
}

// TestExemptions: entries become the exemptions file of a ConfigMap of the
// chart, mounted read-only and named by --exemptions.file, in the Deployment
// and in the StatefulSet alike, holding the values' entries field for field;
// maxDays becomes --exemptions.max-days.
func TestExemptions(t *testing.T) {
	want := exemptionsValues(t, "exemptions")
	for _, tc := range []struct {
		kind string
		args []string
	}{
		{"StatefulSet", []string{"-f", valuesFile("exemptions")}},
		{"Deployment", []string{"-f", valuesFile("exemptions"), "--set", "shards=1"}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			r := render(t, tc.args...)
			w := r.workload(t)
			if w.kind != tc.kind {
				t.Fatalf("rendered a %s, want a %s", w.kind, tc.kind)
			}
			checkInstall(t, r)
			c := w.exporter(t)
			if path, _ := flag(c.Args, "--exemptions.file"); path != "/etc/iam-credential-exporter/exemptions/exemptions.yml" {
				t.Errorf("--exemptions.file=%q, want /etc/iam-credential-exporter/exemptions/exemptions.yml", path)
			}
			if days, _ := flag(c.Args, "--exemptions.max-days"); days != "60" {
				t.Errorf("--exemptions.max-days=%q, want the values' 60", days)
			}
			cm, name, key, _ := exemptionsFileOf(t, r)
			if cm == nil || name != "audit-iam-credential-exporter-exemptions" {
				t.Fatalf("--exemptions.file from ConfigMap %q, want the chart's audit-iam-credential-exporter-exemptions", name)
			}
			var got exemptionsFile
			if err := yaml.UnmarshalStrict([]byte(cm.Data[key]), &got); err != nil {
				t.Fatalf("ConfigMap %s key %s: %v\n%s", cm.Name, key, err, cm.Data[key])
			}
			if !reflect.DeepEqual(got.Exemptions, want) {
				t.Errorf("exemptions file holds %+v, values %+v", got.Exemptions, want)
			}
		})
	}
}

// TestExemptionsChecksum: a change of an entry changes checksum/exemptions,
// so that the pods restart and read it, and leaves checksum/config alone; an
// unchanged render keeps both.
func TestExemptionsChecksum(t *testing.T) {
	annotations := func(set ...string) map[string]string {
		t.Helper()
		args := []string{"-f", valuesFile("exemptions")}
		for _, s := range set {
			args = append(args, "--set", s)
		}
		return render(t, args...).workload(t).template.Annotations
	}
	base := annotations()
	if base["checksum/exemptions"] == "" || base["checksum/config"] == "" {
		t.Fatalf("annotations %v, want checksum/exemptions and checksum/config", base)
	}
	if again := annotations(); !reflect.DeepEqual(again, base) {
		t.Errorf("the same values render annotations %v, then %v", base, again)
	}
	for _, set := range []string{
		"exemptions.entries[0].end=2027-01-28",
		"exemptions.entries[1].reason=SEC-1236",
		"exemptions.key=iam-exemptions.yml",
	} {
		t.Run(set, func(t *testing.T) {
			got := annotations(set)
			if got["checksum/exemptions"] == base["checksum/exemptions"] {
				t.Errorf("checksum/exemptions unchanged: the pods would keep the old exemptions")
			}
			if got["checksum/config"] != base["checksum/config"] {
				t.Errorf("checksum/config changed with the exemptions: %s, was %s", got["checksum/config"], base["checksum/config"])
			}
		})
	}
	t.Run("config", func(t *testing.T) {
		got := annotations("config.exclude[0]=sandbox-*")
		if got["checksum/exemptions"] != base["checksum/exemptions"] {
			t.Error("checksum/exemptions changed with the config file")
		}
	})
}

// TestExemptionsExistingConfigMap: a ConfigMap managed elsewhere is mounted
// under the configured key, the chart renders none of its own and puts no
// checksum on the pods, which it could not compute.
func TestExemptionsExistingConfigMap(t *testing.T) {
	for _, tc := range []struct {
		set, wantPath string
	}{
		{"exemptions.existingConfigMap=security-exemptions", "/etc/iam-credential-exporter/exemptions/exemptions.yml"},
		{"exemptions.existingConfigMap=security-exemptions,exemptions.key=iam.yaml,shards=3", "/etc/iam-credential-exporter/exemptions/iam.yaml"},
	} {
		t.Run(tc.set, func(t *testing.T) {
			r := render(t, "--set", tc.set)
			checkInstall(t, r)
			if cms := all[*corev1.ConfigMap](r); len(cms) != 0 {
				t.Errorf("rendered %d ConfigMaps, want none", len(cms))
			}
			w := r.workload(t)
			if path, _ := flag(w.exporter(t).Args, "--exemptions.file"); path != tc.wantPath {
				t.Errorf("--exemptions.file=%q, want %s", path, tc.wantPath)
			}
			if _, name, _, _ := exemptionsFileOf(t, r); name != "security-exemptions" {
				t.Errorf("--exemptions.file from ConfigMap %q, want security-exemptions", name)
			}
			if _, ok := w.template.Annotations["checksum/exemptions"]; ok {
				t.Error("checksum/exemptions on the pods for a ConfigMap the chart does not render")
			}
			if _, ok := flag(w.exporter(t).Args, "--exemptions.max-days"); ok {
				t.Error("--exemptions.max-days without exemptions.maxDays: the exporter's default should hold")
			}
		})
	}
	t.Run("maxDays alone", func(t *testing.T) {
		// The cap applies to exemption tags too: it is passed without a file.
		c := render(t, "--set", "exemptions.maxDays=30").workload(t).exporter(t)
		if days, _ := flag(c.Args, "--exemptions.max-days"); days != "30" {
			t.Errorf("--exemptions.max-days=%q, want 30", days)
		}
		if _, ok := flag(c.Args, "--exemptions.file"); ok {
			t.Error("--exemptions.file without entries or existingConfigMap")
		}
	})
}

// TestExemptionsRejected: the schema refuses an entry the exporter would
// refuse at start (or read otherwise than meant), at install time, naming
// the field; the chart refuses two sources of one file.
func TestExemptionsRejected(t *testing.T) {
	const good = `{"account_id":"123456789012","user":"ci-deploy","policy":"key-rotation","start":"2026-12-01","end":"2027-01-29","reason":"SEC-1234"}`
	entry := func(old, new string) string {
		t.Helper()
		e := strings.Replace(good, old, new, 1)
		if e == good {
			t.Fatalf("%s is not in %s", old, good)
		}
		return "exemptions.entries=[" + e + "]"
	}
	if _, err := template(t, "--set-json", "exemptions.entries=["+good+"]"); err != nil {
		t.Fatalf("the good entry: %v", err)
	}
	for _, tc := range []struct {
		what, setJSON, want string
	}{
		{"bad date", entry(`"2027-01-29"`, `"2027-1-29"`), "/exemptions/entries/0/end"},
		{"no such month", entry(`"2026-12-01"`, `"2026-13-01"`), "/exemptions/entries/0/start"},
		{"date and time", entry(`"2026-12-01"`, `"2026-12-01T00:00:00Z"`), "/exemptions/entries/0/start"},
		{"unknown policy", entry(`"key-rotation"`, `"rotation"`), "/exemptions/entries/0/policy"},
		{"extra field", entry(`"reason"`, `"owner":"team-a","reason"`), "additional properties 'owner'"},
		{"missing field", entry(`,"reason":"SEC-1234"`, ``), "missing property 'reason'"},
		{"empty reason", entry(`"SEC-1234"`, `" "`), "/exemptions/entries/0/reason"},
		{"account ID as a number", entry(`"123456789012"`, `123456789012`), "/exemptions/entries/0/account_id"},
		{"short account ID", entry(`"123456789012"`, `"23456789012"`), "/exemptions/entries/0/account_id"},
		{"user name", entry(`"ci-deploy"`, `"ci deploy"`), "/exemptions/entries/0/user"},
		{"not a list", `exemptions.entries={"account_id":"123456789012"}`, "/exemptions/entries"},
		{"negative maxDays", `exemptions.maxDays=-1`, "/exemptions/maxDays"},
		{"unknown key", `exemptions.file="x"`, "additional properties 'file'"},
		{"key with a slash", `exemptions.key="a/b.yml"`, "/exemptions/key"},
		{"both sources", "exemptions={\"existingConfigMap\":\"security-exemptions\",\"entries\":[" + good + "]}", "choose one"},
	} {
		t.Run(tc.what, func(t *testing.T) {
			_, err := template(t, "--set-json", tc.setJSON)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one that mentions %q", err, tc.want)
			}
		})
	}
}

// TestExemptionPoliciesInSchema fails when the schema's policies differ
// from the exporter's report.ExemptionPolicies, read from its source (this
// module does not import the exporter's).
func TestExemptionPoliciesInSchema(t *testing.T) {
	const source = "../../report/exemption.go" // relative to the chart
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(chartDir, source), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	ast.Inspect(f, func(n ast.Node) bool {
		spec, ok := n.(*ast.ValueSpec)
		if !ok || len(spec.Names) != 1 || spec.Names[0].Name != "ExemptionPolicies" || len(spec.Values) != 1 {
			return true
		}
		for _, e := range spec.Values[0].(*ast.CompositeLit).Elts {
			s, err := strconv.Unquote(e.(*ast.BasicLit).Value)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, s)
		}
		return false
	})
	if len(want) == 0 {
		t.Fatalf("%s: no ExemptionPolicies", source)
	}
	var schema struct {
		Properties struct {
			Exemptions struct {
				Properties struct {
					Entries struct {
						Items struct {
							Properties struct {
								Policy struct {
									Enum []string `json:"enum"`
								} `json:"policy"`
							} `json:"properties"`
						} `json:"items"`
					} `json:"entries"`
				} `json:"properties"`
			} `json:"exemptions"`
		} `json:"properties"`
	}
	readYAML(t, "values.schema.json", &schema)
	if got := schema.Properties.Exemptions.Properties.Entries.Items.Properties.Policy.Enum; !slices.Equal(got, want) {
		t.Errorf("values.schema.json exemptions.entries[].policy enum %q, the exporter's ExemptionPolicies %q", got, want)
	}
}

// TestExporterReadsRenderedExemptions runs the exporter on the sample report
// with the exemptions file of ci/exemptions-values.yaml, as rendered, and its
// --exemptions.max-days: the exporter's own parser accepts it (a bad file
// stops it before it serves), and the entry for the report's account is
// exported with source="file" and the values' dates.
func TestExporterReadsRenderedExemptions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the exporter")
	}
	r := render(t, "-f", valuesFile("exemptions"))
	cm, _, key, ok := exemptionsFileOf(t, r)
	if !ok || cm == nil {
		t.Fatal("ci/exemptions-values.yaml renders no exemptions file")
	}
	maxDays, _ := flag(r.workload(t).exporter(t).Args, "--exemptions.max-days")
	bin, err := buildExporter(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), key)
	if err := os.WriteFile(path, []byte(cm.Data[key]), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	exited := startExporter(t, bin, []string{
		"--report.file=" + filepath.Join(chartDir, "..", "..", "report", "testdata", "example.csv"),
		"--exemptions.file=" + path, "--exemptions.max-days=" + maxDays,
		"--web.listen-address=" + addr, "--web.health-listen-address=" + freeAddr(t),
	}, nil)

	// The first entry is for the report's account; start is midnight UTC of
	// the first day, end midnight UTC after the last.
	entry := exemptionsValues(t, "exemptions")[0]
	want := map[string]time.Time{}
	for name, day := range map[string]string{"start": entry.Start, "end": entry.End} {
		d, err := time.Parse(time.DateOnly, day)
		if err != nil {
			t.Fatal(err)
		}
		if name == "end" {
			d = d.AddDate(0, 0, 1)
		}
		want[`aws_iam_user_exemption_`+name+`_timestamp_seconds{account_id="`+entry.AccountID+`",policy="`+entry.Policy+
			`",reason="`+entry.Reason+`",source="file",user="`+entry.User+`"}`] = d
	}
	client := &http.Client{Timeout: time.Minute}
	var body string
	waitExporter(t, exited, func() error {
		resp, err := client.Get("http://" + addr + "/metrics")
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		if !strings.Contains(body, "aws_iam_user_exemption_end_timestamp_seconds{") {
			return fmt.Errorf("no exemption series; /metrics:\n%s", body)
		}
		return nil
	})
	got := map[string]float64{}
	for line := range strings.Lines(body) {
		if series, value, ok := strings.Cut(strings.TrimSpace(line), "} "); ok {
			if v, err := strconv.ParseFloat(value, 64); err == nil {
				got[series+"}"] = v
			}
		}
	}
	for series, at := range want {
		if v, ok := got[series]; !ok || v != float64(at.Unix()) {
			t.Errorf("/metrics: %s %v (present: %v), want %d (%s); exemption series:\n%s",
				series, v, ok, at.Unix(), at.Format(time.RFC3339), grepLines(body, "aws_iam_user_exemption_"))
		}
	}
}

func grepLines(s, substr string) string {
	var out []string
	for line := range strings.Lines(s) {
		if strings.Contains(line, substr) {
			out = append(out, strings.TrimSuffix(line, "\n"))
		}
	}
	return strings.Join(out, "\n")
}
