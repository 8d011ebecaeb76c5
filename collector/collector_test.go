package collector

import (
	"bytes"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/refresh"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/reportgen"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func ts(s string) report.Timestamp {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return report.Timestamp{Unix: t.Unix(), Status: report.Present}
}

func yes() report.Flag { return report.Flag{Value: true, Status: report.Present} }
func no() report.Flag  { return report.Flag{Value: false, Status: report.Present} }

var (
	na   = report.Timestamp{Status: report.NotApplicable}
	noTS = report.Flag{Status: report.NotSupported}
)

// sampleStates covers what a real report holds: a root row with
// not_supported password cells, a user whose password was never used, a key
// used on a global service (region N/A), an inactive key with a rotation
// date, a key never used, and an account whose last refresh failed while an
// older report is still served. It has no lookups: TestCollectorMatchesGolden
// then shows that a report without enrichment sends no tag, key ID, password
// policy or lookup series.
func sampleStates() []*refresh.State {
	generated := time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC)
	good := &report.Report{
		AccountID: "123456789012", Partition: "aws", GeneratedAt: generated,
		Users: []report.User{
			{
				Name: "<root_account>", ARN: "arn:aws:iam::123456789012:root", Root: true,
				Created:             ts("2019-03-01T10:00:00Z"),
				PasswordEnabled:     noTS,
				PasswordLastUsed:    ts("2026-11-20T08:00:00Z"),
				PasswordLastChanged: report.Timestamp{Status: report.NotSupported},
				MFAActive:           yes(),
				AccessKeys:          [2]report.AccessKey{{Active: no(), LastRotated: na, LastUsed: na}, {Active: no(), LastRotated: na, LastUsed: na}},
				Certificates:        [2]report.Certificate{{Active: no(), LastRotated: na}, {Active: no(), LastRotated: na}},
			},
			{
				Name: "ci-deploy", ARN: "arn:aws:iam::123456789012:user/ci-deploy",
				Created:          ts("2023-01-10T09:00:00Z"),
				PasswordEnabled:  no(),
				PasswordLastUsed: na, PasswordLastChanged: na, PasswordNextRotation: na,
				MFAActive: no(),
				AccessKeys: [2]report.AccessKey{
					{Active: yes(), LastRotated: ts("2023-01-10T09:05:00Z"), LastUsed: ts("2026-11-26T23:00:00Z"),
						LastUsedRegion: report.Text{Status: report.NotApplicable}, LastUsedService: report.Text{Value: "s3", Status: report.Present}},
					{Active: no(), LastRotated: ts("2022-05-01T00:00:00Z"), LastUsed: na},
				},
				Certificates: [2]report.Certificate{{Active: yes(), LastRotated: ts("2024-02-02T02:02:02Z")}, {Active: no(), LastRotated: na}},
			},
			{
				Name: "alice@example.com", ARN: "arn:aws:iam::123456789012:user/people/alice@example.com",
				Created:              ts("2025-06-01T12:00:00Z"),
				PasswordEnabled:      yes(),
				PasswordLastUsed:     report.Timestamp{Status: report.NoInformation},
				PasswordLastChanged:  ts("2025-06-01T12:00:00Z"),
				PasswordNextRotation: ts("2026-12-01T12:00:00Z"),
				MFAActive:            no(),
				AccessKeys: [2]report.AccessKey{
					{Active: yes(), LastRotated: ts("2026-10-01T00:00:00Z"), LastUsed: na},
					{Active: no(), LastRotated: na, LastUsed: na},
				},
				// A 16-column report has no certificate columns: unknown, so not exported.
			},
		},
	}
	return []*refresh.State{
		{
			AccountID: "123456789012", Report: good,
			LastAttempt: generated.Add(time.Minute), LastDuration: 1500 * time.Millisecond,
			LastSuccess: generated.Add(time.Minute), Refreshes: 3, ParseErrors: 2,
		},
		{
			AccountID:   "210987654321",
			Report:      &report.Report{AccountID: "210987654321", Users: nil},
			LastAttempt: generated.Add(2 * time.Minute), LastDuration: 250 * time.Millisecond,
			LastErr: errors.New("access denied"), LastSuccess: generated.Add(-time.Hour),
			Refreshes: 5, Failures: 1,
		},
		// Never refreshed yet: only the counters.
		{AccountID: "333333333333"},
	}
}

func TestCollectorMatchesGolden(t *testing.T) {
	c := testDescs().collector(func() []*refresh.State { return sampleStates() })
	golden := filepath.Join("testdata", "collector.prom")
	if *update {
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(c)
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, mf := range mfs {
			if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(golden)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// A pedantic registry also checks that Describe covers what Collect sends.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	if err := testutil.GatherAndCompare(reg, f); err != nil {
		t.Fatalf("metrics differ from %s (run with -update to accept):\n%v", golden, err)
	}
}

func TestCollectorIsLintClean(t *testing.T) {
	problems, err := testutil.CollectAndLint(testDescs().collector(func() []*refresh.State { return sampleStates() }))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// A sentinel must never become a zero timestamp: an alert on key age would
// read it as a key from 1970.
func TestCollectorNeverExportsSentinelsAsZero(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(testDescs().collector(func() []*refresh.State { return sampleStates() }))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if !strings.HasSuffix(mf.GetName(), "_timestamp_seconds") {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetGauge().GetValue() <= 0 {
				t.Errorf("%s %v = %v", mf.GetName(), m.GetLabel(), m.GetGauge().GetValue())
			}
		}
	}
}

// testDescs returns the descriptors without tag allowlists, which cannot
// fail.
func testDescs() *descs {
	d, err := newDescs(nil, nil)
	if err != nil {
		panic(err)
	}
	return d
}

// Every bundled report, and synthetic ones, export a key or certificate
// series exactly for the slots whose cells say they hold one (active, or a
// creation date): an empty slot has no series at all, and an inactive
// credential still has its own. The expectation is read from the CSV
// cells, not from the parser.
func TestNoSeriesForEmptySlots(t *testing.T) {
	files, err := filepath.Glob("../report/testdata/*.csv")
	if err != nil {
		t.Fatal(err)
	}
	reports := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		reports[filepath.Base(f)] = b
	}
	for seed := range int64(3) {
		reports[fmt.Sprintf("reportgen-%d", seed)] = reportgen.Generate(reportgen.Options{Users: 300, Seed: seed})
	}
	checked := map[string]int{}
	for name, csvBytes := range reports {
		rep, err := report.Parse(bytes.NewReader(csvBytes))
		if err != nil {
			continue // a fixture the parser rejects exports nothing
		}
		rows, err := csv.NewReader(bytes.NewReader(csvBytes)).ReadAll()
		if err != nil {
			continue
		}
		col := map[string]int{}
		for i, h := range rows[0] {
			col[strings.TrimSpace(h)] = i
		}
		// want[family][user/slot]: the slots that must have a series.
		holds := func(row []string, prefix string) bool {
			active, rotated := cell(row, col, prefix+"_active"), cell(row, col, prefix+"_last_rotated")
			return strings.EqualFold(active, "true") || rotated != "" && rotated != "N/A"
		}
		state := &refresh.State{AccountID: rep.AccountID, Report: rep}
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(testDescs().collector(func() []*refresh.State { return []*refresh.State{state} }))
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := map[string]bool{} // "family user slot"
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				var user, slot string
				for _, l := range m.GetLabel() {
					switch l.GetName() {
					case "user":
						user = l.GetValue()
					case "key", "cert":
						slot = l.GetValue()
					}
				}
				if slot != "" {
					got[mf.GetName()+" "+user+" "+slot] = true
				}
			}
		}
		// A later row of the same user replaces an earlier one.
		last := map[string][]string{}
		for _, row := range rows[1:] {
			last[cell(row, col, "user")] = row
		}
		for user, row := range last {
			if user == "" {
				continue
			}
			for _, slot := range []string{"1", "2"} {
				for _, c := range []struct{ prefix, active string }{
					{"access_key_" + slot, "aws_iam_access_key_active"},
					{"cert_" + slot, "aws_iam_signing_certificate_active"},
				} {
					want := holds(row, c.prefix)
					if got[c.active+" "+user+" "+slot] != want {
						t.Errorf("%s: %s{user=%q, slot %s} exported %v, want %v (cells %q, %q)", name, c.active, user, slot,
							!want, want, cell(row, col, c.prefix+"_active"), cell(row, col, c.prefix+"_last_rotated"))
					}
					checked[fmt.Sprint(want)]++
				}
			}
		}
		for series := range got {
			f := strings.Fields(series)
			prefix := "access_key_" + f[2]
			if strings.HasPrefix(f[0], "aws_iam_signing_certificate") {
				prefix = "cert_" + f[2]
			}
			if row := last[f[1]]; row != nil && !holds(row, prefix) {
				t.Errorf("%s: %s{user=%q} exported for an empty slot %s", name, f[0], f[1], prefix)
			}
		}
	}
	if checked["true"] == 0 || checked["false"] == 0 {
		t.Fatalf("checked %v: the fixtures must hold both empty and filled slots", checked)
	}
}

// cell returns the row's cell of the column, or "" when the layout lacks it.
func cell(row []string, col map[string]int, name string) string {
	if i, ok := col[name]; ok && i < len(row) {
		return strings.TrimSpace(row[i])
	}
	return ""
}
