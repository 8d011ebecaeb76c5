package report

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/reportgen"
)

// BenchmarkParseVsCSV: target 2 of docs/benchmarks.md. Each iteration parses
// a 5000-user report and reads the same bytes with encoding/csv alone, in
// alternating order so that both see the same load on the machine.
// throughput-ratio is the median over the pairs of encoding/csv's time
// over Parse's, which is Parse's throughput over encoding/csv's.
func BenchmarkParseVsCSV(b *testing.B) {
	data := reportgen.Generate(reportgen.Options{Users: 5000, Seed: 1})
	parse := func() {
		rep, err := Parse(bytes.NewReader(data))
		if err != nil || len(rep.Users) != 5001 || rep.BadCells != 0 {
			b.Fatalf("Parse: %v", err)
		}
	}
	read := func() { readCSVOnly(b, data) }
	timed := func(f func()) time.Duration {
		start := time.Now()
		f()
		return time.Since(start)
	}
	b.SetBytes(2 * int64(len(data)))
	b.ReportAllocs()
	var parsing, reading time.Duration
	var ratios []float64
	for b.Loop() {
		var p, r time.Duration
		if len(ratios)%2 == 0 {
			p, r = timed(parse), timed(read)
		} else {
			r, p = timed(read), timed(parse)
		}
		parsing += p
		reading += r
		ratios = append(ratios, float64(r)/float64(p))
	}
	mb := float64(len(data)) * float64(len(ratios)) / 1e6
	b.ReportMetric(median(ratios), "throughput-ratio")
	b.ReportMetric(mb/parsing.Seconds(), "parse-MB/s")
	b.ReportMetric(mb/reading.Seconds(), "csv-MB/s")
}

// median is the middle of the ratios of pairs measured back to back: a
// neighbour's burst on a shared machine slows one pair, and moves a median
// far less than a sum.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}
