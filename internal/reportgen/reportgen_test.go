package reportgen_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/reportgen"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

func TestGenerateParses(t *testing.T) {
	tests := []struct {
		opts      reportgen.Options
		account   string
		partition string
	}{
		{reportgen.Options{Users: 1, Seed: 1}, "123456789012", "aws"},
		{reportgen.Options{Users: 100, Seed: 2, AccountID: "210987654321", Partition: "aws-cn"}, "210987654321", "aws-cn"},
		{reportgen.Options{Users: 5000, Seed: 3, Partition: "aws-us-gov"}, "123456789012", "aws-us-gov"},
	}
	for _, tt := range tests {
		t.Run(tt.partition, func(t *testing.T) {
			data := reportgen.Generate(tt.opts)
			if bytes.HasSuffix(data, []byte("\n")) {
				t.Error("report ends in a newline; AWS writes none")
			}
			rep, err := report.Parse(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if rep.BadCells != 0 || rep.Duplicates != 0 {
				t.Errorf("BadCells %d Duplicates %d, want 0 0", rep.BadCells, rep.Duplicates)
			}
			if rep.AccountID != tt.account || rep.Partition != tt.partition {
				t.Errorf("account %q partition %q, want %q %q", rep.AccountID, rep.Partition, tt.account, tt.partition)
			}
			if len(rep.Users) != tt.opts.Users+1 || !rep.Users[0].Root {
				t.Fatalf("%d users, first root %v: want the root row and %d users", len(rep.Users), rep.Users[0].Root, tt.opts.Users)
			}
			now := reportgen.DefaultNow.Unix()
			for i, u := range rep.Users[1:] {
				if u.Root {
					t.Errorf("user %d is a second root", i+1)
				}
				if i > 0 && strings.ToLower(rep.Users[i].Name) >= strings.ToLower(u.Name) {
					t.Errorf("users %d and %d are not sorted case-insensitively", i, i+1)
				}
				for _, k := range u.AccessKeys {
					for _, ts := range []report.Timestamp{k.LastRotated, k.LastUsed} {
						if ts.Status == report.Present && (ts.Unix > now || ts.Unix < u.Created.Unix) {
							t.Errorf("user %d: key date %d outside [created, now]", i+1, ts.Unix)
						}
					}
				}
			}
		})
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	a := reportgen.Generate(reportgen.Options{Users: 200, Seed: 42})
	b := reportgen.Generate(reportgen.Options{Users: 200, Seed: 42})
	c := reportgen.Generate(reportgen.Options{Users: 200, Seed: 43})
	if !bytes.Equal(a, b) {
		t.Error("same seed, different reports")
	}
	if bytes.Equal(a, c) {
		t.Error("different seeds, same report")
	}
}

// TestGenerateDistribution checks that a large report looks like a real
// account, so that benchmarks and dashboards built on it mean something. The
// seed is fixed, so the shares are too.
func TestGenerateDistribution(t *testing.T) {
	const n = 5000
	rep, err := report.Parse(bytes.NewReader(reportgen.Generate(reportgen.Options{Users: n, Seed: 7})))
	if err != nil {
		t.Fatal(err)
	}
	var oneKey, twoKeys, console, consoleMFA, activeKeys, neverUsed, regionNA, certs, quoted, pathed int
	for _, u := range rep.Users[1:] {
		active := 0
		for _, k := range u.AccessKeys {
			if k.Active.Value {
				active++
				activeKeys++
				if k.LastUsed.Status == report.NotApplicable {
					neverUsed++
				}
				if k.LastUsed.Status == report.Present && k.LastUsedRegion.Status == report.NotApplicable {
					regionNA++
				}
			}
		}
		switch active {
		case 1:
			oneKey++
		case 2:
			twoKeys++
		}
		if u.PasswordEnabled.Value {
			console++
			if u.MFAActive.Value {
				consoleMFA++
			}
		}
		if u.Certificates[0].Active.Value {
			certs++
		}
		if strings.Contains(u.Name, ",") {
			quoted++
		}
		if strings.Count(u.ARN, "/") > 1 {
			pathed++
		}
	}
	share := func(part, whole int) float64 { return float64(part) / float64(whole) }
	tests := []struct {
		what     string
		got      float64
		min, max float64
	}{
		{"users with one active key", share(oneKey, n), 0.65, 0.75},
		{"users with two active keys", share(twoKeys, n), 0.12, 0.18},
		{"console users", share(console, n), 0.35, 0.45},
		{"console users with MFA", share(consoleMFA, console), 0.80, 0.90},
		{"active keys never used", share(neverUsed, activeKeys), 0.17, 0.23},
		{"used keys logged without a region", share(regionNA, activeKeys), 0.05, 0.30},
		{"users with a certificate", share(certs, n), 0.01, 0.05},
		{"users whose name needs quoting", share(quoted, n), 0.001, 0.02},
		{"users under a path", share(pathed, n), 0.10, 0.35},
	}
	for _, tt := range tests {
		if tt.got < tt.min || tt.got > tt.max {
			t.Errorf("%s: %.3f, want %.3f to %.3f", tt.what, tt.got, tt.min, tt.max)
		}
	}
}
