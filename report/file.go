package report

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"time"
)

// FileSource reads a credential report that something else saved to a file,
// for accounts the exporter cannot reach and for trying the exporter out.
// It reads the file again on every Fetch, so a replaced file is picked up.
// Fetch must not be called concurrently; the refresher never does.
type FileSource struct {
	path   string
	limits Limits
	now    func() time.Time
	// pending is a read that outlived the Fetch that started it (a FIFO
	// nobody writes, a hung network filesystem); the next Fetch waits for
	// it rather than starting another one.
	pending chan fileRead
}

type fileRead struct {
	rep *Report
	err error
}

// NewFileSource returns a source that reads path within limits; MaxBytes
// applies to the file as stored. The file may hold any of what the AWS CLI
// writes:
//   - the CSV: aws iam get-credential-report --query Content --output text | base64 -d
//   - its base64: aws iam get-credential-report --query Content --output text
//   - the whole JSON response: aws iam get-credential-report
func NewFileSource(path string, limits Limits) *FileSource {
	return &FileSource{path: path, limits: limits.withDefaults(), now: time.Now}
}

// Fetch reads and parses the file. GeneratedAt is the GeneratedTime of a JSON
// file, else the file's modification time.
//
// Reading a file can block for good (a FIFO, a hung network filesystem) and
// cannot be interrupted, so the read runs in its own goroutine and Fetch
// returns when ctx ends; the goroutine is left to finish the read, and the
// next Fetch takes its result instead of starting a second read.
func (s *FileSource) Fetch(ctx context.Context) (*Report, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read credential report file %s: %w", s.path, err)
	}
	if s.pending == nil {
		done := make(chan fileRead, 1)
		go func() {
			rep, err := s.read()
			done <- fileRead{rep, err}
		}()
		s.pending = done
	}
	select {
	case r := <-s.pending:
		s.pending = nil
		if r.err != nil {
			return nil, fmt.Errorf("read credential report file %s: %w", s.path, r.err)
		}
		return r.rep, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("read credential report file %s: the read is still blocked: %w", s.path, ctx.Err())
	}
}

func (s *FileSource) read() (*Report, error) {
	f, err := os.Open(s.path)
	if err != nil {
		// Fetch names the path; the PathError would name it twice.
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
			return nil, pe.Err
		}
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat: %w", err)
	}
	if info.Size() > s.limits.MaxBytes {
		return nil, s.tooLarge()
	}
	// The file may grow between Stat and the read.
	r := io.LimitReader(f, s.limits.MaxBytes+1)
	buf := bytes.NewBuffer(make([]byte, 0, info.Size()+bytes.MinRead))
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if int64(buf.Len()) > s.limits.MaxBytes {
		return nil, s.tooLarge()
	}

	data, generated, err := unwrapCLIOutput(buf.Bytes(), s.now())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidReport, err)
	}
	rep, err := s.limits.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if generated.IsZero() {
		generated = info.ModTime()
	}
	rep.GeneratedAt = generated.UTC()
	return rep, nil
}

func (s *FileSource) tooLarge() error {
	return fmt.Errorf("%w: file is larger than the limit of %d bytes", ErrInvalidReport, s.limits.MaxBytes)
}

// unwrapCLIOutput returns the CSV inside whichever of the AWS CLI's outputs
// data is, and the GeneratedTime when the output carried one. Anything that
// is neither JSON nor base64 is taken to be the CSV, for Parse to judge.
// Every error is about the content: the caller wraps ErrInvalidReport.
func unwrapCLIOutput(data []byte, now time.Time) ([]byte, time.Time, error) {
	start := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\uFEFF")), " \t\r\n")
	switch {
	case len(start) > 0 && start[0] == '{':
		return unwrapJSON(start, now)
	case isBase64Text(start):
		csv, err := decodeBase64(start)
		return csv, time.Time{}, err
	}
	return data, time.Time{}, nil
}

// isBase64Text reports whether data can only be base64. A report's header
// always holds commas and underscores, which base64 never does, so a CSV
// cannot be mistaken for it.
func isBase64Text(data []byte) bool {
	if len(data) == 0 {
		return false
	}
	for _, c := range data {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '+', c == '/', c == '=', c == '\n', c == '\r', c == ' ', c == '\t':
		default:
			return false
		}
	}
	return true
}

func decodeBase64(text []byte) ([]byte, error) {
	// Wrapped or indented base64 (base64 -w76, a pasted file) is still base64.
	compact := make([]byte, 0, len(text))
	for _, c := range text {
		if c != '\n' && c != '\r' && c != ' ' && c != '\t' {
			compact = append(compact, c)
		}
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(compact)))
	n, err := base64.StdEncoding.Decode(out, compact)
	if err != nil {
		return nil, fmt.Errorf("decode base64 report content: %w", err)
	}
	return out[:n], nil
}

// cliResponse is the output of aws iam get-credential-report.
type cliResponse struct {
	Content       *string
	ReportFormat  string
	GeneratedTime json.RawMessage
}

func unwrapJSON(data []byte, now time.Time) ([]byte, time.Time, error) {
	var resp cliResponse
	if err := json.Unmarshal(data, &resp); err != nil {
		return nil, time.Time{}, fmt.Errorf("decode JSON output of aws iam get-credential-report: %w", err)
	}
	if resp.Content == nil {
		return nil, time.Time{}, errors.New("JSON has no Content field; want the output of aws iam get-credential-report")
	}
	if resp.ReportFormat != "" && resp.ReportFormat != "text/csv" {
		return nil, time.Time{}, fmt.Errorf("report format %q is not supported, want text/csv", resp.ReportFormat)
	}
	generated, err := parseGeneratedTime(resp.GeneratedTime, now)
	if err != nil {
		return nil, time.Time{}, err
	}
	csv, err := decodeBase64([]byte(*resp.Content))
	return csv, generated, err
}

// parseGeneratedTime reads GeneratedTime as the CLI prints it, an RFC 3339
// string, or as Unix seconds, which scripts that serialise the SDK's response
// themselves may write. A missing one is the zero time; an implausible one
// (see CheckGeneratedTime) is an error.
func parseGeneratedTime(raw json.RawMessage, now time.Time) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	var text string
	if err := json.Unmarshal(raw, &text); err == nil {
		t, err := time.Parse(time.RFC3339, text)
		if err != nil {
			return time.Time{}, fmt.Errorf("parse GeneratedTime: %w", err)
		}
		if !plausible(t, now) {
			return time.Time{}, implausible(text, now)
		}
		return t, nil
	}
	secs, err := strconv.ParseFloat(string(raw), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return time.Time{}, fmt.Errorf("parse GeneratedTime: %s is neither an RFC 3339 string nor Unix seconds", raw)
	}
	// Checked as a float: converting 1e300 to int64 would wrap.
	if secs < float64(earliestGenerated.Unix()) || secs > float64(now.Add(maxClockSkew).Unix()) {
		return time.Time{}, implausible(string(raw)+" (Unix seconds)", now)
	}
	return time.Unix(int64(secs), 0), nil
}

// IAM credential reports appeared in 2014; AWS's and the exporter's clocks
// may disagree, but not by a day.
var earliestGenerated = time.Date(2014, 1, 1, 0, 0, 0, 0, time.UTC)

const maxClockSkew = 24 * time.Hour

// CheckGeneratedTime returns an error wrapping ErrInvalidReport when t cannot
// be when a credential report was generated: before 2014, when IAM had no
// credential reports, or more than a day after now. Exported as such, a time
// outside that range would read as a report from 1970 or one that is never
// stale.
func CheckGeneratedTime(t, now time.Time) error {
	if !plausible(t, now) {
		return fmt.Errorf("%w: %w", ErrInvalidReport, implausible(t.UTC().Format(time.RFC3339), now))
	}
	return nil
}

func plausible(t, now time.Time) bool {
	return !t.Before(earliestGenerated) && !t.After(now.Add(maxClockSkew))
}

func implausible(t string, now time.Time) error {
	return fmt.Errorf("GeneratedTime %s is implausible: want a time after %s and at most a day after the exporter's clock (%s)",
		t, earliestGenerated.Format(time.DateOnly), now.UTC().Format(time.RFC3339))
}
