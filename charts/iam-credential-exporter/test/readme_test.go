package charttest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// readmeRow is a row of the README's values table: | `key` | `default` | description |.
var readmeRow = regexp.MustCompile("^\\| `([^`]+)` \\| `([^`]*)` \\| (.*) \\|$")

// TestReadmeValues: the chart README's table lists every value of
// values.yaml, and nothing else, with its default. A value is a key down to
// where the schema stops naming fields: a map of free-form Kubernetes
// fields (resources, tlsConfig) is one value, and so is an empty map.
func TestReadmeValues(t *testing.T) {
	var values map[string]any
	readYAML(t, "values.yaml", &values)
	var schema map[string]any
	data, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{}
	valueKeys("", values, schema, want)

	readme, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for line := range strings.Lines(string(readme)) {
		line = strings.TrimRight(line, "\n")
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		m := readmeRow.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("README row %q: want | `key` | `default` | description |", line)
			continue
		}
		key, def, desc := m[1], m[2], m[3]
		if got[key] {
			t.Errorf("README lists %s twice", key)
		}
		got[key] = true
		w, ok := want[key]
		if !ok {
			t.Errorf("README lists %s, which values.yaml does not have", key)
			continue
		}
		var d any
		if err := yaml.Unmarshal([]byte(def), &d); err != nil {
			t.Errorf("README default of %s, %s: %v", key, def, err)
		} else if !reflect.DeepEqual(d, w) {
			wj, _ := json.Marshal(w)
			t.Errorf("README default of %s is %s, values.yaml's %s", key, def, wj)
		}
		if strings.TrimSpace(desc) == "" {
			t.Errorf("README: %s has no description", key)
		}
	}
	var missing []string
	for key := range want {
		if !got[key] {
			missing = append(missing, key)
		}
	}
	slices.Sort(missing)
	for _, key := range missing {
		t.Errorf("README does not list %s of values.yaml", key)
	}
}

// valueKeys adds to out each value under prefix with its default: it goes
// into a non-empty map whose schema names its fields, and stops elsewhere.
func valueKeys(prefix string, v any, schema map[string]any, out map[string]any) {
	m, isMap := v.(map[string]any)
	props, named := schema["properties"].(map[string]any)
	if !isMap || !named || len(m) == 0 {
		out[prefix] = v
		return
	}
	for k, sub := range m {
		s, _ := props[k].(map[string]any)
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		valueKeys(key, sub, s, out)
	}
}
