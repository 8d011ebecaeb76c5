package collector

import (
	"math"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	clientcollectors "github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// gatherFamilies gathers c alone, by family name.
func gatherFamilies(t *testing.T, c prometheus.Collector) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// value is the value of a family's first sample, counter or gauge.
func value(mf *dto.MetricFamily) float64 {
	m := mf.GetMetric()[0]
	if m.GetCounter() != nil {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}

// The process_* metrics must mean what they mean in every other Go
// exporter: same names, types and values as client_golang's collector.
func TestProcessCollectorAgreesWithClientGolang(t *testing.T) {
	// Some CPU time to measure.
	x := 0
	for i := range 20_000_000 {
		x ^= i
	}
	_ = x

	want := gatherFamilies(t, clientcollectors.NewProcessCollector(clientcollectors.ProcessCollectorOpts{ReportErrors: true}))
	got := gatherFamilies(t, NewProcessCollector())

	tolerance := map[string]float64{
		"process_cpu_seconds_total":        0.05, // /proc counts in ticks of 10 ms
		"process_open_fds":                 2,
		"process_max_fds":                  0,
		"process_virtual_memory_bytes":     64 << 20,
		"process_virtual_memory_max_bytes": 0,
		"process_resident_memory_bytes":    16 << 20,
		"process_start_time_seconds":       0.02,
	}
	for name, tol := range tolerance {
		g, w := got[name], want[name]
		if g == nil || w == nil {
			t.Errorf("%s: ours %v, client_golang's %v", name, g != nil, w != nil)
			continue
		}
		if g.GetType() != w.GetType() || g.GetHelp() != w.GetHelp() {
			t.Errorf("%s: type %v help %q, want %v %q", name, g.GetType(), g.GetHelp(), w.GetType(), w.GetHelp())
		}
		if d := math.Abs(value(g) - value(w)); d > tol {
			t.Errorf("%s = %g, client_golang's %g (difference %g > %g)", name, value(g), value(w), d, tol)
		}
	}
	if value(got["process_cpu_seconds_total"]) < 0.001 || value(got["process_resident_memory_bytes"]) < 1<<20 || value(got["process_open_fds"]) < 3 {
		t.Errorf("implausible values: %v", got)
	}
	for name := range got {
		if _, ok := tolerance[name]; !ok {
			t.Errorf("unexpected family %s", name)
		}
	}
	if problems, err := testutil.CollectAndLint(NewProcessCollector()); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

func BenchmarkProcessCollector(b *testing.B) {
	for _, c := range []struct {
		name string
		c    prometheus.Collector
	}{
		{"client_golang", clientcollectors.NewProcessCollector(clientcollectors.ProcessCollectorOpts{})},
		{"ours", NewProcessCollector()},
	} {
		b.Run(c.name, func(b *testing.B) {
			reg := prometheus.NewRegistry()
			reg.MustRegister(c.c)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := reg.Gather(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
