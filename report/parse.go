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

// bytesPerRowHint is a little under the ~250 bytes of a real row, so that a
// Users slice sized from the input length rarely has to grow. The hint stops
// at IAM's quota of 5000 users per account (plus root), so that a large
// input that is not a report cannot make Parse allocate for it up front.
const (
	bytesPerRowHint = 200
	maxRowsHint     = 5001
)

// Parse reads a credential report in CSV form. GeneratedAt is left zero: only
// the caller knows when the report was generated.
//
// Columns are found by header name, so both the 22-column layout and the
// older 16-column one are read; a column the header lacks leaves its fields
// Unknown. Parse is lenient about single cells and strict about identity:
//   - a cell that cannot be parsed becomes Unknown and counts in BadCells.
//     Booleans are read in any case; sentinels (N/A, no_information,
//     not_supported) only as AWS writes them;
//   - a row whose field count differs from the header's is skipped and counts
//     once in BadCells, because an unquoted comma shifts every later cell into
//     the wrong column; if no row survives, the report is rejected;
//   - a later row with the ARN of an earlier one takes its place (Duplicates);
//   - rows of more than one account or partition reject the report;
//   - a row whose ARN is not an IAM user or root ARN rejects the report. The
//     ARN is the row's identity and the source of the account ID: skipping
//     such rows would turn a CSV that merely has "user" and "arn" columns into
//     an empty, valid-looking report, and would hide users from an exporter
//     whose job is to show them. Rejection keeps the previous good report and
//     is counted as a failed refresh, which someone will look at.
//
// Rejections wrap ErrInvalidReport. Their messages name lines and columns but
// not user names or ARNs, since they end up in logs.
func Parse(r io.Reader) (*Report, error) {
	rowsHint := 0
	if l, ok := r.(interface{ Len() int }); ok {
		rowsHint = min(l.Len()/bytesPerRowHint, maxRowsHint)
	}

	// csv.NewReader reuses a *bufio.Reader of at least its default size
	// instead of wrapping it again, so peeking for the BOM costs no copy.
	br := bufio.NewReader(r)
	if bom, _ := br.Peek(3); string(bom) == "\uFEFF" {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true

	var header []string
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil, fmt.Errorf("%w: empty input", ErrInvalidReport)
		}
		if err != nil {
			return nil, readError(err)
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

	rep := &Report{}
	if rowsHint > 0 {
		rep.Users = make([]User, 0, rowsHint)
	}
	// AWS lists the root row first, then users sorted case-insensitively.
	// While rows keep that order no name can repeat, so the map that finds
	// repeated names is built only for a file out of order.
	var (
		seen     map[string]int
		lastName string
		sawRoot  bool
	)
	var firstLine, malformedRows int
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, readError(err)
		}
		if len(rec) != cols.width {
			if blankRecord(rec) {
				continue
			}
			malformedRows++
			rep.BadCells++
			continue
		}
		// Parse into the slice itself: a User is a few hundred bytes, and
		// copying each one, even a zero one, shows in the profile. Slots
		// past the length are zero (make and append clear them, and drop
		// clears a slot it gives back), so taking one needs no write.
		if len(rep.Users) == cap(rep.Users) {
			rep.Users = append(rep.Users, User{})
		} else {
			rep.Users = rep.Users[:len(rep.Users)+1]
		}
		u := &rep.Users[len(rep.Users)-1]
		rep.BadCells += parseRow(u, cols, rec)
		line, _ := cr.FieldPos(0)
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
		// One name must mean one ARN, so that deduplicating by name (the
		// label that must be unique) also keeps ARNs unique. A hand-edited
		// root row, found by its ARN or its name, is written as AWS writes
		// it; a user row whose name is not the last part of its ARN is
		// dropped and counted. parseRow leaves the name unchecked: a name
		// that ends a valid ARN is valid UTF-8, and ARNs are checked anyway.
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
				rep.Users = dropLast(rep.Users)
				continue
			}
			u.Name = name
		}
		// Keyed by name: within one account a name identifies a user (the
		// ARN only adds the path), and user is the label that must be
		// unique, or the scrape would fail on a duplicate series.
		if seen == nil {
			switch {
			case u.Root && !sawRoot:
				sawRoot = true
				continue
			case !u.Root && foldLess(lastName, u.Name):
				lastName = u.Name
				continue
			}
			seen = make(map[string]int, max(rowsHint, len(rep.Users)))
			for i := range rep.Users[:len(rep.Users)-1] {
				seen[rep.Users[i].Name] = i
			}
		}
		if i, dup := seen[u.Name]; dup {
			rep.Users[i] = *u
			rep.Users = dropLast(rep.Users)
			rep.Duplicates++
			continue
		}
		seen[u.Name] = len(rep.Users) - 1
	}
	if len(rep.Users) == 0 && malformedRows > 0 {
		return nil, fmt.Errorf("%w: all %d data rows have a field count other than the header's %d columns",
			ErrInvalidReport, malformedRows, cols.width)
	}
	return rep, nil
}

// dropLast gives back the last slot, cleared for the next row.
func dropLast(users []User) []User {
	users[len(users)-1] = User{}
	return users[:len(users)-1]
}

// lastARNPart reports whether name is the part of arn after its last "/",
// without building "/"+name for every row.
func lastARNPart(arn, name string) bool {
	n := len(arn) - len(name)
	return name != "" && n > 0 && arn[n-1] == '/' && arn[n:] == name && !strings.Contains(name, "/")
}

// foldLess reports whether a sorts strictly before b with ASCII letters
// compared without case.
func foldLess(a, b string) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := a[i], b[i]
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return ca < cb
		}
	}
	return len(a) < len(b)
}

// blankRecord reports whether a record came from a line of spaces, which
// encoding/csv does not skip but a person editing the file would call empty.
func blankRecord(rec []string) bool {
	return len(rec) == 1 && strings.TrimSpace(rec[0]) == ""
}

// readError tells a malformed CSV, which rejects the report, from a failure
// to read, which says nothing about the report.
func readError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
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

// parseRow fills a zero User from one record of l.width fields and returns
// how many cells were bad. The strings it keeps are substrings of the
// record, which encoding/csv allocates once per row even with ReuseRecord,
// so they cost nothing more. It makes the same calls in the same order for
// every row, whatever the layout: a loop over the record with a switch per
// cell was measurably slower.
func parseRow(u *User, l *layout, rec []string) (bad int) {
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
	return bad
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
// one. Sentinels are matched exactly, as AWS writes them: most cells are
// sentinels, and a case-insensitive match would cost every short region or
// service name (ec2, sts) a call to strings.EqualFold.
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
	switch s {
	case "true":
		return Flag{Value: true, Status: Present}, true
	case "false":
		return Flag{Status: Present}, true
	}
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

func parseTimestamp(s string) (Timestamp, bool) {
	if st := sentinel(s); st != Unknown {
		return Timestamp{Status: st}, true
	}
	if unix, ok := parseFixedTimestamp(s); ok {
		return Timestamp{Unix: unix, Status: Present}, true
	}
	// Whatever else RFC 3339 allows, such as fractional seconds.
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return Timestamp{}, false
	}
	return Timestamp{Unix: t.Unix(), Status: Present}, true
}

// parseFixedTimestamp reads the two forms AWS writes,
// 2006-01-02T15:04:05Z and 2006-01-02T15:04:05+07:00, with integer
// arithmetic only: a large report has tens of thousands of date cells, and
// time.Parse builds a Time and looks up a zone for each. It accepts a subset
// of what time.Parse(time.RFC3339) accepts, with the same result, and
// returns false for anything else so the caller can fall back.
func parseFixedTimestamp(s string) (int64, bool) {
	if len(s) != len("2006-01-02T15:04:05Z") && len(s) != len("2006-01-02T15:04:05+07:00") {
		return 0, false
	}
	// The first 19 bytes are read as three words, and all their
	// digits and separators are checked at once, each word with one mask
	// test: with a test per byte, this function was a fifth of Parse.
	// The words do not overlap, so that each is one load.
	a, b, c := le64(s, 0), le64(s, 8), le32(s, 16) // "2006-01-", "02T15:04", ":05Z"
	if !digitsAndSeps(a, 0x00FFFF00FFFFFFFF, 0xFF0000FF00000000, '-'<<56|'-'<<32) ||
		!digitsAndSeps(b, 0xFFFF00FFFF00FFFF, 0x0000FF0000FF0000, ':'<<40|'T'<<16) ||
		!digitsAndSeps(c, 0x00FFFF00, 0x000000FF, ':') {
		return 0, false
	}
	year := digitAt(a, 0)*1000 + digitAt(a, 1)*100 + digitAt(a, 2)*10 + digitAt(a, 3)
	month, day := digitAt(a, 5)*10+digitAt(a, 6), digitAt(b, 0)*10+digitAt(b, 1)
	hour, minute, sec := digitAt(b, 3)*10+digitAt(b, 4), digitAt(b, 6)*10+digitAt(b, 7), digitAt(c, 1)*10+digitAt(c, 2)
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	unix := daysSinceEpoch(year, month, day)*86400 + int64(hour*3600+minute*60+sec)
	if len(s) == len("2006-01-02T15:04:05Z") {
		return unix, s[19] == 'Z'
	}
	sign, off := s[19], le32(s, 20)|uint64(s[24])<<32 // "07:00"
	if !digitsAndSeps(off, 0xFFFF00FFFF, 0x00FF0000, ':'<<16) || (sign != '+' && sign != '-') {
		return 0, false
	}
	offHour, offMin := digitAt(off, 0)*10+digitAt(off, 1), digitAt(off, 3)*10+digitAt(off, 4)
	if offHour > 23 || offMin > 59 {
		return 0, false
	}
	offset := int64(offHour*3600 + offMin*60)
	if sign == '+' {
		offset = -offset
	}
	return unix + offset, true
}

// le64 returns the 8 bytes of s from i as a little-endian word, which the
// compiler reads with one load.
func le64(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

// le32 returns the 4 bytes of s from i as a little-endian word.
func le32(s string, i int) uint64 {
	_ = s[i+3]
	return uint64(uint32(s[i]) | uint32(s[i+1])<<8 | uint32(s[i+2])<<16 | uint32(s[i+3])<<24)
}

// digitsAndSeps reports whether w holds an ASCII digit in every byte that
// digits selects, and equals sep in the bytes that sepMask selects.
func digitsAndSeps(w, digits, sepMask, sep uint64) bool {
	const (
		high  = 0xF0F0F0F0F0F0F0F0
		low   = 0x0F0F0F0F0F0F0F0F
		zeros = 0x3030303030303030 // '0' in every byte
		six   = 0x0606060606060606 // a low nibble over 9 plus 6 carries into 0x10
		carry = 0x1010101010101010
	)
	return w&digits&high == zeros&digits &&
		(w&digits&low+six&digits)&carry == 0 &&
		w&sepMask == sep
}

// digitAt returns the digit in byte i of a word that digitsAndSeps checked.
func digitAt(w uint64, i int) int {
	return int(w>>(8*i)) & 0xF
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysSinceEpoch counts days from 1970-01-01 to a proleptic Gregorian date,
// treating March as the first month so that the leap day ends the year.
func daysSinceEpoch(year, month, day int) int64 {
	y := int64(year)
	if month <= 2 {
		y--
	}
	era := y / 400
	if y < 0 {
		era = (y - 399) / 400
	}
	yearOfEra := y - era*400
	m := int64(month)
	if m > 2 {
		m -= 3
	} else {
		m += 9
	}
	dayOfYear := (153*m+2)/5 + int64(day) - 1
	dayOfEra := yearOfEra*365 + yearOfEra/4 - yearOfEra/100 + dayOfYear
	return era*146097 + dayOfEra - 719468
}

// parseARN splits arn:<partition>:iam::<account>:<resource>, accepting only
// the resources a credential report holds: root and user/<path/>name.
func parseARN(arn string) (partition, account string, root, ok bool) {
	rest, found := strings.CutPrefix(arn, "arn:")
	if !found {
		return "", "", false, false
	}
	partition, rest, found = strings.Cut(rest, ":")
	if !found || !validPartition(partition) {
		return "", "", false, false
	}
	rest, found = strings.CutPrefix(rest, "iam::")
	if !found || len(rest) < len("123456789012:") || rest[12] != ':' {
		return "", "", false, false
	}
	account, resource := rest[:12], rest[13:]
	for i := 0; i < len(account); i++ {
		if account[i] < '0' || account[i] > '9' {
			return "", "", false, false
		}
	}
	if resource == "root" {
		return partition, account, true, true
	}
	name, found := strings.CutPrefix(resource, "user/")
	if !found || name == "" || name[len(name)-1] == '/' {
		return "", "", false, false
	}
	return partition, account, false, true
}

// validPartition accepts aws and any aws-<name>, so that a partition newer
// than aws-cn and aws-us-gov (aws-iso, aws-eusc, ...) does not reject a report.
func validPartition(p string) bool {
	if p == "aws" {
		return true
	}
	rest, found := strings.CutPrefix(p, "aws-")
	if !found || rest == "" {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; (c < 'a' || c > 'z') && c != '-' {
			return false
		}
	}
	return true
}
