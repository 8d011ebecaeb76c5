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

// BenchmarkParseLimits is the memory Parse takes at its default limits: a
// report of DefaultMaxUsers rows, which it accepts, and inputs within
// DefaultMaxBytes that it rejects (four times the rows allowed, one line of
// 15 MiB). B/op of the rejections stays near the limits' worth, not the
// input's: reading stops at the limit.
func BenchmarkParseLimits(b *testing.B) {
	full := reportgen.Generate(reportgen.Options{Users: DefaultMaxUsers - 1, Seed: 1})
	header, _, _ := bytes.Cut(full, []byte("\n"))
	for _, bc := range []struct {
		name  string
		input []byte
		valid bool
	}{
		{"users=10000", full, true},
		{"rejected/users=40000", reportgen.Generate(reportgen.Options{Users: 4*DefaultMaxUsers - 1, Seed: 1}), false},
		{"rejected/line=15MiB", append(append(bytes.Clone(header), '\n'), bytes.Repeat([]byte("x"), 15<<20)...), false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.input)))
			b.ReportAllocs()
			for b.Loop() {
				_, err := Parse(bytes.NewReader(bc.input))
				if (err == nil) != bc.valid {
					b.Fatalf("valid %v, error %v", bc.valid, err)
				}
			}
		})
	}
}
