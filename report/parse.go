package report

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrInvalidReport is wrapped by every error Parse returns for input that is
// not a usable credential report, so callers can tell a rejected report from
// an I/O failure.
var ErrInvalidReport = errors.New("invalid credential report")

// column says which User field a CSV column fills.
type column uint8

const (
	colIgnore column = iota
	colUser
	colARN
	colCreated
	colPasswordEnabled
	colPasswordLastUsed
	colPasswordLastChanged
	colPasswordNextRotation
	colMFAActive
	colKey1Active
	colKey1LastRotated
	colKey1LastUsedDate
	colKey1LastUsedRegion
	colKey1LastUsedService
	colKey2Active
	colKey2LastRotated
	colKey2LastUsedDate
	colKey2LastUsedRegion
	colKey2LastUsedService
	colCert1Active
	colCert1LastRotated
	colCert2Active
	colCert2LastRotated
)

var columnsByName = map[string]column{
	"user":                           colUser,
	"arn":                            colARN,
	"user_creation_time":             colCreated,
	"password_enabled":               colPasswordEnabled,
	"password_last_used":             colPasswordLastUsed,
	"password_last_changed":          colPasswordLastChanged,
	"password_next_rotation":         colPasswordNextRotation,
	"mfa_active":                     colMFAActive,
	"access_key_1_active":            colKey1Active,
	"access_key_1_last_rotated":      colKey1LastRotated,
	"access_key_1_last_used_date":    colKey1LastUsedDate,
	"access_key_1_last_used_region":  colKey1LastUsedRegion,
	"access_key_1_last_used_service": colKey1LastUsedService,
	"access_key_2_active":            colKey2Active,
	"access_key_2_last_rotated":      colKey2LastRotated,
	"access_key_2_last_used_date":    colKey2LastUsedDate,
	"access_key_2_last_used_region":  colKey2LastUsedRegion,
	"access_key_2_last_used_service": colKey2LastUsedService,
	"cert_1_active":                  colCert1Active,
	"cert_1_last_rotated":            colCert1LastRotated,
	"cert_2_active":                  colCert2Active,
	"cert_2_last_rotated":            colCert2LastRotated,
}

// Limits bound what a report may hold, so that a broken or hostile input is
// rejected before it can exhaust memory. A real report is small: an account
// has at most 5,000 IAM users (IAM's quota), about 250 bytes of CSV each.
// A zero field takes its default.
type Limits struct {
	// MaxBytes is the largest input accepted, in bytes: for Parse, the CSV;
	// for the file source, the file as stored (CSV, base64 or JSON).
	MaxBytes int64
	// MaxUsers is the most user rows accepted, root included.
	MaxUsers int
}

const (
	// DefaultMaxBytes leaves room for DefaultMaxUsers rows of about 1.2 KB
	// (long paths) as base64 or JSON, five times the size of a typical row.
	DefaultMaxBytes = 16 << 20
	// DefaultMaxUsers is twice IAM's quota of 5,000 users per account.
	DefaultMaxUsers = 10000

	// MaxNameBytes is the longest user name accepted: IAM user names are at
	// most 64 characters, all ASCII.
	MaxNameBytes = 64
	// MaxCellBytes is the longest cell accepted: an ARN, the longest cell of
	// a report, is at most 2048 characters.
	MaxCellBytes = 2048
	// maxRecordBytes bounds a record while it is read, before its cells can
	// be checked: 22 cells at MaxCellBytes, each quoted, fit.
	maxRecordBytes = 128 << 10
)

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxUsers <= 0 {
		l.MaxUsers = DefaultMaxUsers
	}
	return l
}

// Parse reads a credential report in CSV form within the default Limits.
func Parse(r io.Reader) (*Report, error) { return Limits{}.Parse(r) }

// Parse reads a credential report in CSV form. GeneratedAt is left zero:
// only the caller knows when the report was generated.
//
// Columns are found by header name, so both the 22-column layout and the
// older 16-column one are read; a column the header lacks leaves its fields
// Unknown. Parse is lenient about single cells and strict about identity:
//   - a cell that cannot be parsed becomes Unknown and counts in BadCells.
//     Booleans are read in any case; sentinels (N/A, no_information,
//     not_supported) only as AWS writes them;
//   - a row whose field count differs from the header's is skipped and counts
//     once in BadCells, because an unquoted comma shifts every later cell into
//     the wrong column; but a last row with fewer fields than the header is
//     the mark of a report cut short (a file read while it was written), and
//     rejects the report: its first rows alone would drop every later user;
//   - a report with no user row is rejected: AWS's reports always have the
//     root row, and moto's, which have none, have their users;
//   - a later row with the name of an earlier one takes its place (Duplicates);
//   - rows of more than one account or partition reject the report;
//   - a row whose ARN is not an IAM user or root ARN rejects the report. The
//     ARN is the row's identity and the source of the account ID: skipping
//     such rows would turn a CSV that merely has "user" and "arn" columns into
//     an empty, valid-looking report, and would hide users from an exporter
//     whose job is to show them. Rejection keeps the previous good report and
//     is counted as a failed refresh, which someone will look at;
//   - more than MaxBytes of input, more than MaxUsers rows, a user name longer
//     than MaxNameBytes or any cell longer than MaxCellBytes rejects the
//     report. Reading stops there, so memory stays bounded by the limits.
//
// Rejections wrap ErrInvalidReport. Their messages name lines and columns but
// not user names or ARNs, since they end up in logs.
func (l Limits) Parse(r io.Reader) (*Report, error) {
	l = l.withDefaults()
	in := &boundedReader{r: r, maxBytes: l.MaxBytes}
	// A BOM, which spreadsheets write, would otherwise become part of the
	// first column's name.
	br := bufio.NewReader(in)
	var bom int64
	if b, _ := br.Peek(3); string(b) == "\uFEFF" {
		_, _ = br.Discard(3)
		bom = 3
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1 // checked here, so that a bad row is skipped, not fatal
	// line is the line of the last record read, for errors about the next.
	var line int
	read := func() ([]string, error) {
		rec, err := cr.Read()
		if err != nil {
			return nil, l.readError(err, line+1)
		}
		line, _ = cr.FieldPos(0)
		// The next record starts here; it may take maxRecordBytes.
		in.recordStart = bom + cr.InputOffset()
		return rec, nil
	}

	var header []string
	for {
		rec, err := read()
		if err == io.EOF {
			return nil, fmt.Errorf("%w: empty input", ErrInvalidReport)
		}
		if err != nil {
			return nil, err
		}
		if !blankRecord(rec) {
			header = rec
			break
		}
	}
	cols, err := mapHeader(header)
	if err != nil {
		return nil, err
	}
	if err := checkCells(header, -1, line); err != nil {
		return nil, err
	}

	rep := &Report{}
	// Keyed by name: within one account a name identifies a user (the ARN
	// only adds the path), and user is the label that must be unique, or the
	// scrape would fail on a duplicate series.
	seen := map[string]int{} // index in rep.Users
	var firstLine, rows, malformedRows int
	// shortLine is the line of the last record when it had fewer fields
	// than the header, else 0.
	var shortLine, shortFields int
	for {
		rec, err := read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if blankRecord(rec) {
			continue
		}
		shortLine = 0
		if rows++; rows > l.MaxUsers {
			return nil, fmt.Errorf("%w: line %d: more than %d user rows, the limit (IAM allows 5000 users per account)",
				ErrInvalidReport, line, l.MaxUsers)
		}
		if err := checkCells(rec, cols.at[colUser], line); err != nil {
			return nil, err
		}
		if len(rec) != cols.width {
			if len(rec) < cols.width {
				shortLine, shortFields = line, len(rec)
			}
			malformedRows++
			rep.BadCells++
			continue
		}
		u, bad := parseRow(cols, rec)
		rep.BadCells += bad
		partition, account, root, ok := parseARN(u.ARN)
		if !ok {
			return nil, fmt.Errorf("%w: line %d: arn is not an IAM user or root ARN (arn:<partition>:iam::<12-digit account>:user/<name> or :root)", ErrInvalidReport, line)
		}
		if rep.AccountID == "" {
			rep.AccountID, rep.Partition, firstLine = account, partition, line
		} else if account != rep.AccountID || partition != rep.Partition {
			return nil, fmt.Errorf("%w: rows of more than one account: %s:%s on line %d, %s:%s on line %d",
				ErrInvalidReport, rep.Partition, rep.AccountID, firstLine, partition, account, line)
		}
		// One name must mean one ARN, so that deduplicating by name also
		// keeps ARNs unique. A hand-edited root row, found by its ARN or its
		// name, is written as AWS writes it; a user row whose name is not
		// the last part of its ARN is dropped and counted. parseRow leaves
		// the name unchecked: a name that ends a valid ARN is valid UTF-8,
		// and ARNs are checked anyway.
		switch {
		case root || u.Name == RootUserName:
			if !utf8.ValidString(u.Name) {
				rep.BadCells++
			}
			u.Root, u.Name = true, RootUserName
			if !root {
				u.ARN = "arn:" + partition + ":iam::" + account + ":root"
			}
		case !lastARNPart(u.ARN, u.Name):
			// Invalid bytes in the name were replaced in the ARN too.
			name, valid := labelValue(u.Name)
			if !valid {
				rep.BadCells++
			}
			if valid || !lastARNPart(u.ARN, name) {
				rep.BadCells++
				continue
			}
			u.Name = name
		}
		if i, dup := seen[u.Name]; dup {
			rep.Users[i] = u
			rep.Duplicates++
			continue
		}
		seen[u.Name] = len(rep.Users)
		rep.Users = append(rep.Users, u)
	}
	switch {
	case shortLine > 0:
		return nil, fmt.Errorf("%w: truncated: the last row, on line %d, has %d of the header's %d fields (was the file read while it was being written?)",
			ErrInvalidReport, shortLine, shortFields, cols.width)
	case len(rep.Users) == 0 && malformedRows > 0:
		return nil, fmt.Errorf("%w: all %d data rows have a field count other than the header's %d columns",
			ErrInvalidReport, malformedRows, cols.width)
	case len(rep.Users) == 0 && rows == 0:
		return nil, fmt.Errorf("%w: no user rows after the header: a credential report has at least one", ErrInvalidReport)
	case len(rep.Users) == 0:
		return nil, fmt.Errorf("%w: no user rows: none of the %d rows names its user as its ARN does", ErrInvalidReport, rows)
	}
	return rep, nil
}

// checkCells rejects a record with a cell longer than a report can hold.
// user is the index of the user column, or -1.
func checkCells(rec []string, user, line int) error {
	for i, cell := range rec {
		if i == user && len(cell) > MaxNameBytes {
			return fmt.Errorf("%w: line %d: user name longer than %d bytes (IAM user names are at most 64 characters)",
				ErrInvalidReport, line, MaxNameBytes)
		}
		if len(cell) > MaxCellBytes {
			return fmt.Errorf("%w: line %d, column %d: cell longer than %d bytes (an ARN, the longest cell, is at most 2048 characters)",
				ErrInvalidReport, line, i+1, MaxCellBytes)
		}
	}
	return nil
}

// errInputTooLarge and errRecordTooLong are what boundedReader returns
// instead of reading past a limit.
var (
	errInputTooLarge = errors.New("input too large")
	errRecordTooLong = errors.New("record too long")
)

// boundedReader hands the CSV reader no more than maxBytes in all and no
// more than maxRecordBytes past the end of the last record read, so that
// neither a huge input nor one endless line is read into memory:
// encoding/csv keeps a whole record in memory before it returns it.
type boundedReader struct {
	r        io.Reader
	maxBytes int64
	// read is how much was handed out; recordStart is where the record
	// being read starts, set by Parse after each record.
	read, recordStart int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	allowed := min(b.maxBytes, b.recordStart+maxRecordBytes) - b.read
	if allowed <= 0 {
		// One more byte tells an input that ends at the limit from a longer one.
		var one [1]byte
		if n, err := io.ReadFull(b.r, one[:]); n == 0 {
			return 0, err
		}
		if b.read >= b.maxBytes {
			return 0, errInputTooLarge
		}
		return 0, errRecordTooLong
	}
	if int64(len(p)) > allowed {
		p = p[:allowed]
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	return n, err
}

// lastARNPart reports whether name is the part of arn after its last "/".
func lastARNPart(arn, name string) bool {
	return name != "" && !strings.Contains(name, "/") && strings.HasSuffix(arn, "/"+name)
}

// blankRecord reports whether a record came from a line of spaces, which
// encoding/csv does not skip but a person editing the file would call empty.
func blankRecord(rec []string) bool {
	return len(rec) == 1 && strings.TrimSpace(rec[0]) == ""
}

// readError tells a malformed CSV or one past a limit, which rejects the
// report, from a failure to read, which says nothing about the report. line
// is the line of the record being read.
func (l Limits) readError(err error, line int) error {
	var pe *csv.ParseError
	switch {
	case err == io.EOF:
		return err
	case errors.Is(err, errInputTooLarge):
		return fmt.Errorf("%w: larger than the limit of %d bytes", ErrInvalidReport, l.MaxBytes)
	case errors.Is(err, errRecordTooLong):
		return fmt.Errorf("%w: line %d: record longer than %d bytes (a row of a report is a few hundred)", ErrInvalidReport, line, maxRecordBytes)
	case errors.As(err, &pe):
		return fmt.Errorf("%w: CSV syntax error: %w", ErrInvalidReport, err)
	}
	return fmt.Errorf("read credential report: %w", err)
}

// layout says where each column is in a record of the report.
type layout struct {
	width int                          // fields per record: the header's
	at    [colCert2LastRotated + 1]int // index in the record; -1 when the header lacks the column
}

func mapHeader(header []string) (*layout, error) {
	l := &layout{width: len(header)}
	for c := range l.at {
		l.at[c] = -1
	}
	var known int
	for i, name := range header {
		name = strings.ToLower(strings.TrimSpace(name))
		c, ok := columnsByName[name]
		if !ok {
			// Newer reports may add columns; they must not break older exporters.
			continue
		}
		if l.at[c] >= 0 {
			return nil, fmt.Errorf("%w: header names column %q twice", ErrInvalidReport, name)
		}
		l.at[c] = i
		known++
	}
	switch {
	case known == 0:
		return nil, fmt.Errorf("%w: no header: the first line names none of the report's columns (user, arn, ...)", ErrInvalidReport)
	case l.at[colUser] < 0:
		return nil, fmt.Errorf("%w: header has no user column", ErrInvalidReport)
	case l.at[colARN] < 0:
		return nil, fmt.Errorf("%w: header has no arn column", ErrInvalidReport)
	}
	return l, nil
}

// parseRow reads one record of l.width fields and returns how many cells
// were bad.
func parseRow(l *layout, rec []string) (u User, bad int) {
	u.Name = rec[l.at[colUser]] // checked against the ARN by Parse
	bad += parseCell(l, rec, colARN, labelValue, &u.ARN)
	bad += parseCell(l, rec, colCreated, parseTimestamp, &u.Created)
	bad += parseCell(l, rec, colPasswordEnabled, parseFlag, &u.PasswordEnabled)
	bad += parseCell(l, rec, colPasswordLastUsed, parseTimestamp, &u.PasswordLastUsed)
	bad += parseCell(l, rec, colPasswordLastChanged, parseTimestamp, &u.PasswordLastChanged)
	bad += parseCell(l, rec, colPasswordNextRotation, parseTimestamp, &u.PasswordNextRotation)
	bad += parseCell(l, rec, colMFAActive, parseFlag, &u.MFAActive)
	k1, k2 := &u.AccessKeys[0], &u.AccessKeys[1]
	bad += parseCell(l, rec, colKey1Active, parseFlag, &k1.Active)
	bad += parseCell(l, rec, colKey1LastRotated, parseTimestamp, &k1.LastRotated)
	bad += parseCell(l, rec, colKey1LastUsedDate, parseTimestamp, &k1.LastUsed)
	bad += parseCell(l, rec, colKey1LastUsedRegion, parseText, &k1.LastUsedRegion)
	bad += parseCell(l, rec, colKey1LastUsedService, parseText, &k1.LastUsedService)
	bad += parseCell(l, rec, colKey2Active, parseFlag, &k2.Active)
	bad += parseCell(l, rec, colKey2LastRotated, parseTimestamp, &k2.LastRotated)
	bad += parseCell(l, rec, colKey2LastUsedDate, parseTimestamp, &k2.LastUsed)
	bad += parseCell(l, rec, colKey2LastUsedRegion, parseText, &k2.LastUsedRegion)
	bad += parseCell(l, rec, colKey2LastUsedService, parseText, &k2.LastUsedService)
	c1, c2 := &u.Certificates[0], &u.Certificates[1]
	bad += parseCell(l, rec, colCert1Active, parseFlag, &c1.Active)
	bad += parseCell(l, rec, colCert1LastRotated, parseTimestamp, &c1.LastRotated)
	bad += parseCell(l, rec, colCert2Active, parseFlag, &c2.Active)
	bad += parseCell(l, rec, colCert2LastRotated, parseTimestamp, &c2.LastRotated)
	return u, bad
}

// parseCell parses column c of rec into dst, and returns 1 for a bad cell.
// A column the layout lacks leaves dst Unknown and is not bad.
func parseCell[T any](l *layout, rec []string, c column, parse func(string) (T, bool), dst *T) int {
	i := l.at[c]
	if i < 0 {
		return 0
	}
	v, ok := parse(rec[i])
	*dst = v
	if !ok {
		return 1
	}
	return 0
}

// sentinel returns the Status of a sentinel cell, or Unknown when s is not
// one. Sentinels are matched only as AWS writes them, so that a text cell
// such as a service name is never mistaken for one.
func sentinel(s string) Status {
	switch s {
	case "N/A":
		return NotApplicable
	case "no_information":
		return NoInformation
	case "not_supported":
		return NotSupported
	}
	return Unknown
}

func parseFlag(s string) (Flag, bool) {
	if st := sentinel(s); st != Unknown {
		return Flag{Status: st}, true
	}
	switch {
	case strings.EqualFold(s, "true"):
		return Flag{Value: true, Status: Present}, true
	case strings.EqualFold(s, "false"):
		return Flag{Status: Present}, true
	}
	return Flag{}, false
}

func parseText(s string) (Text, bool) {
	if st := sentinel(s); st != Unknown {
		return Text{Status: st}, true
	}
	if s == "" {
		return Text{}, false
	}
	v, ok := labelValue(s)
	return Text{Value: v, Status: Present}, ok
}

// labelValue keeps a cell that becomes a Prometheus label value. Label
// values must be valid UTF-8, or the whole scrape fails: invalid bytes,
// which only a hand-made file can hold, are replaced and the cell counted
// as bad.
func labelValue(s string) (string, bool) {
	if utf8.ValidString(s) {
		return s, true
	}
	return strings.ToValidUTF8(s, "\uFFFD"), false
}

// parseTimestamp reads a date cell. AWS writes 2006-01-02T15:04:05Z today
// and wrote 2006-01-02T15:04:05+00:00 before; both are RFC 3339.
func parseTimestamp(s string) (Timestamp, bool) {
	if st := sentinel(s); st != Unknown {
		return Timestamp{Status: st}, true
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return Timestamp{}, false
	}
	return Timestamp{Unix: t.Unix(), Status: Present}, true
}

// parseARN reads the ARN of a report row, which is
// arn:<partition>:iam::<account>:root or
// arn:<partition>:iam::<account>:user/<path/>name: any other ARN is not
// an IAM user's.
func parseARN(arn string) (partition, account string, root, ok bool) {
	// arn, partition, service, region, account, resource: the fields that
	// aws/arn.Parse splits, without importing the SDK into the model.
	f := strings.SplitN(arn, ":", 6)
	if len(f) != 6 || f[0] != "arn" || f[2] != "iam" || f[3] != "" {
		return "", "", false, false
	}
	partition, account, resource := f[1], f[4], f[5]
	if _, known := LookupPartition(partition); !known {
		return "", "", false, false
	}
	if len(account) != 12 || strings.Trim(account, "0123456789") != "" {
		return "", "", false, false
	}
	if resource == "root" {
		return partition, account, true, true
	}
	path, found := strings.CutPrefix(resource, "user/")
	if !found || path == "" || strings.HasSuffix(path, "/") {
		return "", "", false, false
	}
	return partition, account, false, true
}
