package report

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// copyFixture copies a fixture into a temporary directory and gives it a
// known modification time.
func copyFixture(t *testing.T, name string, mtime time.Time) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFileSourceForms(t *testing.T) {
	mtime := time.Date(2026, 11, 27, 6, 30, 0, 0, time.UTC)
	generated := time.Date(2026, 11, 27, 5, 12, 40, 0, time.UTC)
	motoGenerated := time.Date(2015, 2, 2, 20, 2, 2, 0, time.UTC)
	tests := []struct {
		file          string
		sameUsersAs   string
		wantGenerated time.Time
	}{
		{"example.csv", "example.csv", mtime},
		{"example.b64", "example.csv", mtime},
		{"example_wrapped.b64", "example.csv", mtime},
		{"example.json", "example.csv", generated},
		{"file_epoch_time.json", "example.csv", generated},
		{"file_no_generated_time.json", "example.csv", mtime},
		// Written by the AWS CLI from moto_server.
		{"moto.csv", "moto.csv", mtime},
		{"moto_report.b64", "moto.csv", mtime},
		{"moto_report.json", "moto.csv", motoGenerated},
		{"legacy_16col.csv", "legacy_16col.csv", mtime},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			want, err := parseFixture(t, tt.sameUsersAs)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := NewFileSource(copyFixture(t, tt.file, mtime), 1<<20).Fetch(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !rep.GeneratedAt.Equal(tt.wantGenerated) {
				t.Errorf("GeneratedAt %v, want %v", rep.GeneratedAt, tt.wantGenerated)
			}
			if rep.AccountID != want.AccountID {
				t.Errorf("account %q, want %q", rep.AccountID, want.AccountID)
			}
			compareUsers(t, rep.Users, want.Users)
		})
	}
}

func TestFileSourceErrors(t *testing.T) {
	mtime := time.Date(2026, 11, 27, 6, 30, 0, 0, time.UTC)
	exampleSize := func(t *testing.T) int64 {
		info, err := os.Stat("testdata/example.csv")
		if err != nil {
			t.Fatal(err)
		}
		return info.Size()
	}
	tests := []struct {
		name      string
		file      string
		maxBytes  func(t *testing.T) int64
		want      string
		wantIs    error
		wantValid bool
	}{
		{name: "one byte over the limit", file: "example.csv", maxBytes: func(t *testing.T) int64 { return exampleSize(t) - 1 },
			want: "file is larger than the limit of"},
		{name: "exactly the limit", file: "example.csv", maxBytes: exampleSize, wantValid: true},
		{name: "no limit", file: "example.csv", maxBytes: func(*testing.T) int64 { return 0 }, wantValid: true},
		{name: "invalid report", file: "reject_two_accounts.csv", want: "rows of more than one account", wantIs: ErrInvalidReport},
		{name: "only blank lines", file: "reject_blank_lines.csv", want: "empty input", wantIs: ErrInvalidReport},
		{name: "report format", file: "file_xml_format.json", want: `report format "text/xml" is not supported`},
		{name: "no content", file: "file_no_content.json", want: "JSON has no Content field"},
		{name: "bad base64", file: "file_bad_base64.json", want: "decode base64 report content"},
		{name: "bad generated time", file: "file_bad_generated_time.json", want: "parse GeneratedTime"},
		{name: "truncated JSON", file: "file_truncated.json", want: "decode JSON output of aws iam get-credential-report"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := copyFixture(t, tt.file, mtime)
			maxBytes := int64(1 << 20)
			if tt.maxBytes != nil {
				maxBytes = tt.maxBytes(t)
			}
			rep, err := NewFileSource(path, maxBytes).Fetch(context.Background())
			if tt.wantValid {
				if err != nil || len(rep.Users) != 13 {
					t.Fatalf("got %v, want the example's 13 users", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted with %d users", len(rep.Users))
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to name %s and say %q", err, path, tt.want)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q does not wrap %v", err, tt.wantIs)
			}
			if tt.wantIs == nil && errors.Is(err, ErrInvalidReport) {
				t.Errorf("error %q wraps ErrInvalidReport, but the file never reached the parser", err)
			}
		})
	}
}

func TestFileSourceMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credential-report.csv")
	_, err := NewFileSource(path, 0).Fetch(context.Background())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v, want one that wraps fs.ErrNotExist", err)
	}
	if err != nil && strings.Count(err.Error(), path) != 1 {
		t.Errorf("error %q should name the path once", err)
	}
}

func TestFileSourceCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := NewFileSource("testdata/example.csv", 0).Fetch(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

// TestFileSourceReadsAgain checks that a replaced file is picked up: the file
// source has no cache that would keep serving the old report.
func TestFileSourceReadsAgain(t *testing.T) {
	first := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	path := copyFixture(t, "example.csv", first)
	src := NewFileSource(path, 0)
	if _, err := src.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("testdata/legacy_16col.csv")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	second := first.Add(4 * time.Hour)
	if err := os.Chtimes(path, second, second); err != nil {
		t.Fatal(err)
	}
	rep, err := src.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.AccountID != "111122223333" || !rep.GeneratedAt.Equal(second) {
		t.Errorf("got account %s generated %v, want the new file's 111122223333 and %v", rep.AccountID, rep.GeneratedAt, second)
	}
}
