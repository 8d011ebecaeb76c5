package report

import (
	"bytes"
	"testing"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/reportgen"
)

// BenchmarkParse parses the largest report an account can have: 5000 users
// and root.
func BenchmarkParse(b *testing.B) {
	data := reportgen.Generate(reportgen.Options{Users: 5000, Seed: 1})
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
