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
type FileSource struct {
	path     string
	maxBytes int64
}

// NewFileSource returns a source that reads path, refusing files larger than
// maxBytes; maxBytes <= 0 means no limit. The file may hold any of what the
// AWS CLI writes:
//   - the CSV: aws iam get-credential-report --query Content --output text | base64 -d
//   - its base64: aws iam get-credential-report --query Content --output text
//   - the whole JSON response: aws iam get-credential-report
func NewFileSource(path string, maxBytes int64) *FileSource {
	return &FileSource{path: path, maxBytes: maxBytes}
}

// Fetch reads and parses the file. GeneratedAt is the GeneratedTime of a JSON
// file, else the file's modification time.
func (s *FileSource) Fetch(ctx context.Context) (*Report, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read credential report file %s: %w", s.path, err)
	}
	rep, err := s.read()
	if err != nil {
		return nil, fmt.Errorf("read credential report file %s: %w", s.path, err)
	}
	return rep, nil
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
	if s.maxBytes > 0 && info.Size() > s.maxBytes {
		return nil, s.tooLarge()
	}
	var r io.Reader = f
	if s.maxBytes > 0 {
		// The file may grow between Stat and the read.
		r = io.LimitReader(f, s.maxBytes+1)
	}
	buf := bytes.NewBuffer(make([]byte, 0, info.Size()+bytes.MinRead))
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if s.maxBytes > 0 && int64(buf.Len()) > s.maxBytes {
		return nil, s.tooLarge()
	}

	data, generated, err := unwrapCLIOutput(buf.Bytes())
	if err != nil {
		return nil, err
	}
	rep, err := Parse(bytes.NewReader(data))
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
	return fmt.Errorf("file is larger than the limit of %d bytes", s.maxBytes)
}

// unwrapCLIOutput returns the CSV inside whichever of the AWS CLI's outputs
// data is, and the GeneratedTime when the output carried one. Anything that
// is neither JSON nor base64 is taken to be the CSV, for Parse to judge.
func unwrapCLIOutput(data []byte) ([]byte, time.Time, error) {
	start := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\uFEFF")), " \t\r\n")
	switch {
	case len(start) > 0 && start[0] == '{':
		return unwrapJSON(start)
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

func unwrapJSON(data []byte) ([]byte, time.Time, error) {
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
	generated, err := parseGeneratedTime(resp.GeneratedTime)
	if err != nil {
		return nil, time.Time{}, err
	}
	csv, err := decodeBase64([]byte(*resp.Content))
	return csv, generated, err
}

// parseGeneratedTime reads GeneratedTime as the CLI prints it, an RFC 3339
// string, or as Unix seconds, which scripts that serialise the SDK's response
// themselves may write. A missing one is the zero time.
func parseGeneratedTime(raw json.RawMessage) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	var text string
	if err := json.Unmarshal(raw, &text); err == nil {
		t, err := time.Parse(time.RFC3339, text)
		if err != nil {
			return time.Time{}, fmt.Errorf("parse GeneratedTime: %w", err)
		}
		return t, nil
	}
	secs, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse GeneratedTime: %s is neither an RFC 3339 string nor Unix seconds", raw)
	}
	return time.Unix(int64(secs), 0), nil
}
