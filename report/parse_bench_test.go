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
				b.Fatal(err)
			}
			rows++
		}
		if rows != 5002 {
			b.Fatalf("%d rows", rows)
		}
	}
}
