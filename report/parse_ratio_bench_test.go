package report

import (
	"bytes"
	"testing"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/reportgen"
)

// BenchmarkParseVsCSV: target 2 of docs/benchmarks.md. Each iteration parses
// a 5000-user report and reads the same bytes with encoding/csv alone, in
// alternating order so that both see the same load on the machine.
// throughput-ratio is Parse's throughput over encoding/csv's.
func BenchmarkParseVsCSV(b *testing.B) {
	data := reportgen.Generate(reportgen.Options{Users: 5000, Seed: 1})
	parse := func() {
		rep, err := Parse(bytes.NewReader(data))
		if err != nil || len(rep.Users) != 5001 || rep.BadCells != 0 {
			b.Fatalf("Parse: %v", err)
		}
	}
	read := func() { readCSVOnly(b, data) }
	var parsing, reading time.Duration
	timed := func(d *time.Duration, f func()) {
		start := time.Now()
		f()
		*d += time.Since(start)
	}
	b.SetBytes(2 * int64(len(data)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			timed(&parsing, parse)
			timed(&reading, read)
		} else {
			timed(&reading, read)
			timed(&parsing, parse)
		}
		i++
	}
	mb := float64(len(data)) * float64(i) / 1e6
	b.ReportMetric(float64(reading)/float64(parsing), "throughput-ratio")
	b.ReportMetric(mb/parsing.Seconds(), "parse-MB/s")
	b.ReportMetric(mb/reading.Seconds(), "csv-MB/s")
}
