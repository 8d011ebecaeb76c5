package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkParseVsCSV-2   	      70	  19039771 ns/op	 123.49 MB/s	       0.4791 throughput-ratio	 4178184 B/op	   10068 allocs/op
BenchmarkHeap/users=5000-2	     932	   1263005 ns/op	      1883 heap-B/user
BenchmarkConcurrentScrapes-2	3	1 ns/op	1.8 throughput-ratio	0 errors
--- BENCH: BenchmarkConcurrentScrapes-2
PASS
`

func TestEvaluate(t *testing.T) {
	results := map[string]map[string]float64{}
	for _, line := range strings.Split(sample, "\n") {
		if name, values, ok := parseLine(line); ok {
			results[name] = values
		}
	}
	want := map[string]string{
		"BenchmarkParseVsCSV throughput-ratio":        "MISS",
		"BenchmarkHeap/users=5000 heap-B/user":        "PASS",
		"BenchmarkHeap/accounts=100x500 heap-B/user":  "MISSING",
		"BenchmarkConcurrentScrapes throughput-ratio": "PASS",
		"BenchmarkConcurrentScrapes errors":           "PASS",
		"BenchmarkAWSCalls/users=5000 calls/scrape":   "MISSING",
	}
	for _, r := range evaluate(results) {
		key := r.bench + " " + r.unit
		if w, ok := want[key]; ok {
			if r.result != w {
				t.Errorf("%s: %s, want %s", key, r.result, w)
			}
			delete(want, key)
		}
	}
	for key := range want {
		t.Errorf("no check for %s", key)
	}
}

func TestRunFailsOnMissingResults(t *testing.T) {
	var out strings.Builder
	if code := run(strings.NewReader(sample), &out); code != 1 {
		t.Errorf("exit code %d with results missing, want 1", code)
	}
	if !strings.Contains(out.String(), "BenchmarkHeap/users=5000-2") {
		t.Errorf("input not passed through:\n%s", out.String())
	}
}
