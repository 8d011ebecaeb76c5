package report

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fixedNow is the clock of the file source in tests: the fixtures' reports
// were generated on 2026-11-27.
var fixedNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func newFileSource(path string, limits Limits) *FileSource {
	s := NewFileSource(path, limits)
	s.now = func() time.Time { return fixedNow }
	return s
}

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
			rep, err := newFileSource(copyFixture(t, tt.file, mtime), Limits{MaxBytes: 1 << 20}).Fetch(context.Background())
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
		wantValid bool
	}{
		{name: "one byte over the limit", file: "example.csv", maxBytes: func(t *testing.T) int64 { return exampleSize(t) - 1 },
			want: "file is larger than the limit of"},
		{name: "exactly the limit", file: "example.csv", maxBytes: exampleSize, wantValid: true},
		{name: "default limit", file: "example.csv", maxBytes: func(*testing.T) int64 { return 0 }, wantValid: true},
		{name: "invalid report", file: "reject_two_accounts.csv", want: "rows of more than one account"},
		{name: "only blank lines", file: "reject_blank_lines.csv", want: "empty input"},
		// Every rejection of the content is an invalid report, counted as
		// such, whether the parser or the unwrapping of the CLI's output
		// found it.
		{name: "report format", file: "file_xml_format.json", want: `report format "text/xml" is not supported`},
		{name: "no content", file: "file_no_content.json", want: "JSON has no Content field"},
		{name: "bad base64", file: "file_bad_base64.json", want: "decode base64 report content"},
		{name: "base64 text cut short", file: "file_truncated.b64", want: "decode base64 report content"},
		{name: "bad generated time", file: "file_bad_generated_time.json", want: "parse GeneratedTime"},
		{name: "truncated JSON", file: "file_truncated.json", want: "decode JSON output of aws iam get-credential-report"},
		// Implausible GeneratedTimes, which would be exported as 0 or as a
		// wrapped negative number.
		{name: "GeneratedTime 1e300", file: "file_generated_1e300.json", want: "GeneratedTime 1e300 (Unix seconds) is implausible"},
		{name: "GeneratedTime 1e400", file: "file_generated_1e400.json", want: "GeneratedTime 1e400 (Unix seconds) is implausible"},
		{name: "GeneratedTime -5", file: "file_generated_negative.json", want: "GeneratedTime -5 (Unix seconds) is implausible"},
		{name: "GeneratedTime before 2014", file: "file_generated_2013.json", want: "GeneratedTime 2013-12-31T23:59:59Z is implausible"},
		{name: "GeneratedTime two days ahead", file: "file_generated_future.json", want: "GeneratedTime 2026-11-30T12:00:01Z is implausible"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := copyFixture(t, tt.file, mtime)
			maxBytes := int64(1 << 20)
			if tt.maxBytes != nil {
				maxBytes = tt.maxBytes(t)
			}
			rep, err := newFileSource(path, Limits{MaxBytes: maxBytes}).Fetch(context.Background())
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
			if !errors.Is(err, ErrInvalidReport) {
				t.Errorf("error %q does not wrap ErrInvalidReport: the rejection would not be counted", err)
			}
		})
	}
}

func TestFileSourceMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credential-report.csv")
	_, err := NewFileSource(path, Limits{}).Fetch(context.Background())
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrInvalidReport) {
		t.Errorf("error %v, want one that wraps fs.ErrNotExist", err)
	}
	if err != nil && strings.Count(err.Error(), path) != 1 {
		t.Errorf("error %q should name the path once", err)
	}
}

func TestFileSourceCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := NewFileSource("testdata/example.csv", Limits{}).Fetch(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

// TestFileSourceReadsAgain checks that a replaced file is picked up: the file
// source has no cache that would keep serving the old report.
func TestFileSourceReadsAgain(t *testing.T) {
	first := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	path := copyFixture(t, "example.csv", first)
	src := NewFileSource(path, Limits{})
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

// A file whose read blocks (a FIFO nobody writes, a hung network
// filesystem) fails the Fetch when its context ends instead of hanging it;
// the next Fetch waits for the same read rather than starting another, and
// gets its result once the read can finish.
func TestFileSourceBlockedRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("cannot make a FIFO: %v", err)
	}
	src := NewFileSource(path, Limits{})
	for range 2 {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		_, err := src.Fetch(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), path) {
			t.Fatalf("Fetch of a FIFO nobody writes: %v, want a deadline error that names the file", err)
		}
	}

	// A writer comes: the pending read gets the report.
	example, err := os.ReadFile("testdata/example.csv")
	if err != nil {
		t.Fatal(err)
	}
	writer, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writer.Write(example); err != nil {
		t.Fatal(err)
	}
	writer.Close()
	rep, err := src.Fetch(t.Context())
	if err != nil || len(rep.Users) != 13 {
		t.Fatalf("Fetch after the writer came: %v, want the example's 13 users", err)
	}
}
