// Command benchreport reads the output of `go test -bench` over the
// benchmarks of docs/benchmarks.md, passes it through, and ends it with each
// performance target, the ratio measured for it and PASS or MISS. It exits 1
// when a benchmark failed or a result is missing; a MISS is a finding, not a
// failure, since shared machines are noisy.
//
//	go test -run='^$' -bench=. -benchmem ./... 2>&1 | go run ./internal/benchreport
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
)

// check is one measured figure held against a target's limit.
type check struct {
	target string
	bench  string // without the -GOMAXPROCS suffix
	unit   string
	atMost bool // the figure must not exceed limit; otherwise not fall below it
	limit  float64
}

func checks() []check {
	var cs []check
	for _, sc := range []string{"users=5000", "accounts=100x500"} {
		for _, enc := range []string{"prometheus-gzip", "uncompressed"} {
			for _, variant := range []string{"", "/no-exporter-metrics"} {
				bench := "BenchmarkScrape/" + sc + "/" + enc + variant
				cs = append(cs,
					check{"1. scrape CPU time vs floor", bench, "cpu-ratio", true, 2},
					check{"1. scrape latency vs floor", bench, "latency-ratio", true, 2})
			}
		}
	}
	cs = append(cs, check{"2. Parse throughput vs encoding/csv", "BenchmarkParseVsCSV", "throughput-ratio", false, 0.5})
	for _, sc := range []string{"users=5000", "accounts=100x500"} {
		cs = append(cs, check{"3. heap per user (bytes)", "BenchmarkHeap/" + sc, "heap-B/user", true, 4096})
	}
	cs = append(cs,
		check{"4. 20 concurrent vs serial throughput", "BenchmarkConcurrentScrapes", "throughput-ratio", false, 1},
		check{"4. errors in concurrent scrapes", "BenchmarkConcurrentScrapes", "errors", true, 0})
	for _, sc := range []string{"users=5000", "accounts=100x500"} {
		bench := "BenchmarkAWSCalls/" + sc
		cs = append(cs,
			check{"5. AWS calls per account refresh", bench, "calls/refresh", true, 2},
			check{"5. AWS calls per scrape", bench, "calls/scrape", true, 0})
	}
	return cs
}

var gomaxprocs = regexp.MustCompile(`-\d+$`)

// parseLine reads a result line: name, iterations, then value-unit pairs.
func parseLine(line string) (string, map[string]float64, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
		return "", nil, false
	}
	if _, err := strconv.Atoi(f[1]); err != nil {
		return "", nil, false
	}
	values := map[string]float64{}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return "", nil, false
		}
		values[f[i+1]] = v
	}
	return gomaxprocs.ReplaceAllString(f[0], ""), values, true
}

// row is a check with its outcome: PASS, MISS or MISSING.
type row struct {
	check
	value  float64
	result string
}

func evaluate(results map[string]map[string]float64) []row {
	var rows []row
	for _, c := range checks() {
		r := row{check: c, result: "MISSING"}
		if v, ok := results[c.bench][c.unit]; ok {
			r.value, r.result = v, "MISS"
			if (c.atMost && v <= c.limit) || (!c.atMost && v >= c.limit) {
				r.result = "PASS"
			}
		}
		rows = append(rows, r)
	}
	return rows
}

func run(in io.Reader, out io.Writer) int {
	results := map[string]map[string]float64{}
	failed := false
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(out, line)
		if strings.HasPrefix(line, "FAIL") || strings.HasPrefix(line, "--- FAIL") || strings.HasPrefix(line, "panic:") {
			failed = true
		}
		if name, values, ok := parseLine(line); ok {
			results[name] = values
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(out, "benchreport:", err)
		return 1
	}

	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "target\tbenchmark\tmeasured\tlimit\tresult")
	rows := evaluate(results)
	met, missing := 0, 0
	for _, r := range rows {
		limit := fmt.Sprintf(">= %g", r.limit)
		if r.atMost {
			limit = fmt.Sprintf("<= %g", r.limit)
		}
		measured := strconv.FormatFloat(r.value, 'f', 3, 64)
		if r.value >= 100 {
			measured = strconv.FormatFloat(r.value, 'f', 0, 64)
		}
		switch r.result {
		case "PASS":
			met++
		case "MISSING":
			missing++
			measured = "(no " + r.unit + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.target, strings.TrimPrefix(r.bench, "Benchmark"), measured, limit, r.result)
	}
	tw.Flush()
	fmt.Fprintf(out, "\n%d of %d checks met; the method and the causes of misses are in docs/benchmarks.md.\n", met, len(rows))
	if failed || missing > 0 {
		fmt.Fprintln(out, "benchreport: a benchmark failed or did not report; see above")
		return 1
	}
	return 0
}

func main() { os.Exit(run(os.Stdin, os.Stdout)) }
