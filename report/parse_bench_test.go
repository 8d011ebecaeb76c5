package report

import (
	"bytes"
	"encoding/csv"
	"io"
	"testing"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/reportgen"
)

// benchmarkReport is the largest report an account can have: 5000 users.
func benchmarkReport() []byte {
	return reportgen.Generate(reportgen.Options{Users: 5000, Seed: 1})
}

// BenchmarkParse and BenchmarkCSVReadOnly read the same bytes; the target is
// that Parse keeps at least half the throughput of encoding/csv alone.
func BenchmarkParse(b *testing.B) {
	data := benchmarkReport()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rep, err := Parse(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		if len(rep.Users) != 5001 || rep.BadCells != 0 {
			b.Fatalf("%d users, %d bad cells", len(rep.Users), rep.BadCells)
		}
	}
}

func BenchmarkCSVReadOnly(b *testing.B) {
	data := benchmarkReport()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		readCSVOnly(b, data)
	}
}

// readCSVOnly reads a 5000-user report with encoding/csv alone: the
// throughput Parse is compared with.
func readCSVOnly(tb testing.TB, data []byte) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	rows := 0
	for {
		_, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		rows++
	}
	if rows != 5002 {
		tb.Fatalf("%d rows", rows)
	}
}
