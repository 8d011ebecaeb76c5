package report

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Cell constructors keep the expected users readable.

func at(s string) Timestamp {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return Timestamp{Unix: t.Unix(), Status: Present}
}

func yes() Flag          { return Flag{Value: true, Status: Present} }
func no() Flag           { return Flag{Status: Present} }
func text(s string) Text { return Text{Value: s, Status: Present} }

var (
	naTime          = Timestamp{Status: NotApplicable}
	noInfoTime      = Timestamp{Status: NoInformation}
	notSupported    = Timestamp{Status: NotSupported}
	unknownTime     = Timestamp{}
	naText          = Text{Status: NotApplicable}
	notSupportedTxt = Text{Status: NotSupported}
	noKey           = AccessKey{Active: no(), LastRotated: naTime, LastUsed: naTime, LastUsedRegion: naText, LastUsedService: naText}
	noCert          = Certificate{Active: no(), LastRotated: naTime}
)

func activeKey(rotated, used, region, service string) AccessKey {
	k := AccessKey{Active: yes(), LastRotated: at(rotated), LastUsed: naTime, LastUsedRegion: naText, LastUsedService: naText}
	if used != "" {
		k.LastUsed = at(used)
		k.LastUsedService = text(service)
		if region != "" {
			k.LastUsedRegion = text(region)
		}
	}
	return k
}

// machine is a user without a password or MFA, the common shape of a
// service account; tests override what differs.
func machine(name, arn, created string) User {
	return User{
		Name: name, ARN: arn, Created: at(created),
		PasswordEnabled: no(), PasswordLastUsed: naTime, PasswordLastChanged: naTime, PasswordNextRotation: naTime,
		MFAActive:    no(),
		AccessKeys:   [2]AccessKey{noKey, noKey},
		Certificates: [2]Certificate{noCert, noCert},
	}
}

// human is a console user; lastUsed "" means no_information and
// nextRotation "" means N/A.
func human(name, arn, created, lastUsed, changed, nextRotation string, mfa bool) User {
	u := machine(name, arn, created)
	u.PasswordEnabled = yes()
	u.PasswordLastUsed = noInfoTime
	if lastUsed != "" {
		u.PasswordLastUsed = at(lastUsed)
	}
	u.PasswordLastChanged = at(changed)
	if nextRotation != "" {
		u.PasswordNextRotation = at(nextRotation)
	}
	u.MFAActive = Flag{Value: mfa, Status: Present}
	return u
}

const exampleARN = "arn:aws:iam::123456789012:"

func exampleUsers() []User {
	root := machine(RootUserName, exampleARN+"root", "2017-03-14T09:21:07Z")
	root.Root = true
	root.PasswordEnabled = Flag{Status: NotSupported}
	root.PasswordLastUsed = at("2026-10-02T08:14:55Z")
	root.PasswordLastChanged = notSupported
	root.PasswordNextRotation = notSupported
	root.MFAActive = yes()

	ci := machine("ci-deploy", exampleARN+"user/ci-deploy", "2021-09-27T11:05:33Z")
	ci.AccessKeys[0] = activeKey("2025-06-03T13:47:09Z", "2026-11-26T22:41:00Z", "", "s3")

	pipeline := machine("data-pipeline", exampleARN+"user/data-pipeline", "2022-01-18T15:22:48Z")
	pipeline.AccessKeys[0] = activeKey("2025-12-01T10:15:30Z", "2026-11-24T03:10:00Z", "eu-west-1", "dynamodb")
	pipeline.AccessKeys[1] = activeKey("2026-11-23T16:48:05Z", "2026-11-27T04:55:00Z", "eu-west-1", "sts")

	erik := human("erik.johansson", exampleARN+"user/engineering/erik.johansson", "2022-07-04T08:30:55Z",
		"2026-11-25T18:22:47Z", "2026-03-02T12:11:09Z", "2027-03-02T12:11:09Z", true)
	erik.AccessKeys[0] = activeKey("2026-02-16T09:41:27Z", "2026-11-25T18:40:00Z", "us-east-2", "ec2")

	grafana := machine("grafana-reader", exampleARN+"user/grafana-reader", "2024-03-11T10:02:37Z")
	grafana.AccessKeys[0] = activeKey("2024-03-11T10:02:39Z", "", "", "")

	jenkins := machine("jenkins-legacy", exampleARN+"user/jenkins-legacy", "2020-06-22T17:45:03Z")
	jenkins.AccessKeys[0] = activeKey("2020-06-22T17:45:05Z", "2025-01-09T11:32:00Z", "us-east-1", "ec2")
	jenkins.AccessKeys[0].Active = no()

	const auditor = "kim.lee+audit=q4,ext_sec-team@partner.example"

	soap := machine("legacy-soap-client", exampleARN+"user/legacy-soap-client", "2018-11-02T09:14:26Z")
	soap.Certificates[0] = Certificate{Active: yes(), LastRotated: at("2024-07-01T12:00:41Z")}

	priya := human("Priya.Shah", exampleARN+"user/Priya.Shah", "2023-09-11T08:05:17Z",
		"2026-11-27T04:48:36Z", "2026-05-14T07:22:10Z", "2027-05-14T07:22:10Z", true)
	priya.AccessKeys[0] = activeKey("2026-05-14T07:25:44Z", "2026-11-27T04:51:00Z", "eu-central-1", "cloudformation")

	mailer := machine("ses-smtp-mailer", exampleARN+"user/ses-smtp-mailer", "2025-03-03T15:30:00Z")
	mailer.AccessKeys[0] = activeKey("2026-03-10T08:12:33Z", "2026-11-27T05:02:00Z", "eu-west-1", "ses")

	return []User{
		root,
		human("alice.nguyen", exampleARN+"user/alice.nguyen", "2023-02-06T10:12:44Z",
			"2026-11-26T16:03:11Z", "2026-08-19T09:30:02Z", "2027-08-19T09:30:02Z", true),
		human("bob.martin", exampleARN+"user/bob.martin", "2024-05-13T14:40:19Z",
			"2026-10-21T07:55:38Z", "2025-11-10T08:02:51Z", "2026-11-10T08:02:51Z", false),
		ci,
		human("dana.okafor", exampleARN+"user/dana.okafor", "2026-11-20T09:00:12Z",
			"", "2026-11-20T09:00:14Z", "2027-11-20T09:00:14Z", false),
		pipeline,
		erik,
		grafana,
		jenkins,
		human(auditor, exampleARN+"user/"+auditor, "2026-10-05T13:20:00Z",
			"2026-11-18T10:04:51Z", "2026-10-05T13:20:02Z", "2027-10-05T13:20:02Z", true),
		soap,
		priya,
		mailer,
	}
}

func parseFixture(t testing.TB, name string) (*Report, error) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return Parse(bytes.NewReader(data))
}

func compareUsers(t *testing.T, got, want []User) {
	t.Helper()
	if len(got) != len(want) {
		names := make([]string, len(got))
		for i, u := range got {
			names[i] = u.Name
		}
		t.Fatalf("got %d users %q, want %d", len(got), names, len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("user %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestParseExample(t *testing.T) {
	rep, err := parseFixture(t, "example.csv")
	if err != nil {
		t.Fatal(err)
	}
	if rep.AccountID != "123456789012" || rep.Partition != "aws" {
		t.Errorf("account %q partition %q, want 123456789012 aws", rep.AccountID, rep.Partition)
	}
	if rep.BadCells != 0 || rep.Duplicates != 0 {
		t.Errorf("BadCells %d Duplicates %d, want 0 0", rep.BadCells, rep.Duplicates)
	}
	if !rep.GeneratedAt.IsZero() {
		t.Errorf("GeneratedAt %v, want zero: only the caller knows it", rep.GeneratedAt)
	}
	compareUsers(t, rep.Users, exampleUsers())
}

func TestParseLayouts(t *testing.T) {
	// ravi.kumar's cells use other offsets and fractional seconds.
	ravi := human("ravi.kumar", "arn:aws:iam::444455556666:user/ravi.kumar", "2025-01-15T05:00:00Z",
		"2026-11-27T05:15:00Z", "2026-01-10T12:00:00Z", "", true)
	ravi.AccessKeys[0] = activeKey("2026-06-01T00:00:00Z", "2026-11-20T08:00:00Z", "us-west-2", "lambda")
	batch := machine("svc-batch", "arn:aws:iam::444455556666:user/svc-batch", "2024-02-02T02:00:00Z")
	batch.AccessKeys[0] = AccessKey{Active: no(), LastRotated: at("2024-02-02T02:02:02Z"), LastUsed: naTime, LastUsedRegion: naText, LastUsedService: naText}
	batch.AccessKeys[1] = activeKey("2026-02-02T02:02:02Z", "2026-11-26T23:00:00Z", "", "s3")
	batch.Certificates[1] = Certificate{Active: yes(), LastRotated: at("2025-05-05T05:05:05Z")}

	legacyRoot := machine(RootUserName, "arn:aws:iam::111122223333:root", "2014-02-11T18:22:31Z")
	legacyRoot.Root = true
	legacyRoot.PasswordEnabled = Flag{Status: NotSupported}
	legacyRoot.PasswordLastUsed = at("2016-11-25T14:19:48Z")
	legacyRoot.PasswordLastChanged = notSupported
	legacyRoot.PasswordNextRotation = notSupported
	legacyRoot.MFAActive = yes()
	buildBot := machine("build-bot", "arn:aws:iam::111122223333:user/build-bot", "2015-06-30T07:10:02Z")
	buildBot.AccessKeys[0] = AccessKey{Active: yes(), LastRotated: at("2015-06-30T07:10:04Z")}
	mary := human("mary.jones", "arn:aws:iam::111122223333:user/mary.jones", "2015-01-05T12:00:00Z",
		"2016-11-24T09:12:40Z", "2016-08-01T10:00:00Z", "", true)
	legacyUsers := []User{legacyRoot, buildBot, mary}
	// The 16-column layout has no last-used columns: those stay Unknown.
	for i := range legacyUsers {
		for k := range legacyUsers[i].AccessKeys {
			legacyUsers[i].AccessKeys[k].LastUsed = unknownTime
			legacyUsers[i].AccessKeys[k].LastUsedRegion = Text{}
			legacyUsers[i].AccessKeys[k].LastUsedService = Text{}
		}
	}

	crlfRoot := machine(RootUserName, "arn:aws:iam::777788889999:root", "2018-04-01T00:00:00Z")
	crlfRoot.Root = true
	crlfRoot.PasswordEnabled = Flag{Status: NotSupported}
	crlfRoot.PasswordLastUsed = noInfoTime
	crlfRoot.PasswordLastChanged = notSupported
	crlfRoot.PasswordNextRotation = notSupported
	ops := human("ops", "arn:aws:iam::777788889999:user/ops", "2019-05-06T07:08:09Z",
		"2026-11-01T12:00:00Z", "2026-01-01T00:00:00Z", "", true)
	ops.AccessKeys[0] = activeKey("2026-01-01T00:00:00Z", "2026-11-26T09:00:00Z", "us-east-1", "ec2")

	tests := []struct {
		file      string
		account   string
		partition string
		want      []User
	}{
		{"legacy_16col.csv", "111122223333", "aws", legacyUsers},
		{"shuffled_columns.csv", "444455556666", "aws", []User{ravi, batch}},
		{"crlf.csv", "777788889999", "aws", []User{crlfRoot, ops}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			rep, err := parseFixture(t, tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if rep.AccountID != tt.account || rep.Partition != tt.partition {
				t.Errorf("account %q partition %q, want %q %q", rep.AccountID, rep.Partition, tt.account, tt.partition)
			}
			if rep.BadCells != 0 || rep.Duplicates != 0 {
				t.Errorf("BadCells %d Duplicates %d, want 0 0", rep.BadCells, rep.Duplicates)
			}
			compareUsers(t, rep.Users, tt.want)
		})
	}
}

func TestParseAccounts(t *testing.T) {
	tests := []struct {
		file       string
		account    string
		partition  string
		users      int
		badCells   int
		duplicates int
		check      func(t *testing.T, users []User)
	}{
		{
			file: "aws_cn.csv", account: "123456789012", partition: "aws-cn", users: 2,
			check: func(t *testing.T, users []User) {
				if got := users[1].AccessKeys[0].LastUsedRegion; got != text("cn-north-1") {
					t.Errorf("region %+v, want cn-north-1", got)
				}
			},
		},
		{
			file: "aws_us_gov.csv", account: "123456789012", partition: "aws-us-gov", users: 2,
			check: func(t *testing.T, users []User) {
				if !users[0].Root || users[1].Root {
					t.Errorf("Root flags %v %v, want true false", users[0].Root, users[1].Root)
				}
			},
		},
		{
			// Six unparsable cells in eve's row, and frank's short row.
			file: "bad_cells.csv", account: "123456789012", partition: "aws", users: 3, badCells: 7,
			check: func(t *testing.T, users []User) {
				if users[1].Name != "eve" || users[2].Name != "grace" {
					t.Fatalf("users %q %q, want eve grace (frank's short row skipped)", users[1].Name, users[2].Name)
				}
				eve := users[1]
				for name, st := range map[string]Status{
					"Created":              eve.Created.Status,
					"PasswordEnabled":      eve.PasswordEnabled.Status,
					"PasswordLastUsed":     eve.PasswordLastUsed.Status,
					"MFAActive":            eve.MFAActive.Status,
					"key 1 LastRotated":    eve.AccessKeys[0].LastRotated.Status,
					"key 1 LastUsedRegion": eve.AccessKeys[0].LastUsedRegion.Status,
				} {
					if st != Unknown {
						t.Errorf("eve's %s is %v, want unknown", name, st)
					}
				}
				// The rest of a row with bad cells is still used.
				if eve.PasswordLastChanged != at("2026-01-01T00:00:00Z") || eve.AccessKeys[0].Active != yes() ||
					eve.AccessKeys[0].LastUsed != at("2026-11-26T10:00:00Z") || eve.AccessKeys[0].LastUsedService != text("ec2") {
					t.Errorf("eve's good cells were lost: %+v", eve)
				}
			},
		},
		{
			file: "duplicates.csv", account: "123456789012", partition: "aws", users: 3, duplicates: 2,
			check: func(t *testing.T, users []User) {
				if users[1].Name != "henry" || users[2].Name != "ivy" {
					t.Fatalf("users %q %q, want henry ivy", users[1].Name, users[2].Name)
				}
				if users[1].AccessKeys[0].Active != no() {
					t.Errorf("henry's key 1 is %+v, want inactive as in the last row", users[1].AccessKeys[0].Active)
				}
			},
		},
		{
			// Hand-edited files: the root row is recognised by its ARN or by
			// its name, and written as AWS writes it; a second root row is a
			// duplicate.
			file: "root_variants.csv", account: "123456789012", partition: "aws", users: 1, duplicates: 1,
			check: func(t *testing.T, users []User) {
				for _, u := range users {
					if !u.Root || u.Name != RootUserName || u.ARN != "arn:aws:iam::123456789012:root" {
						t.Errorf("%s (%s, root %v) is not the root row as AWS writes it", u.Name, u.ARN, u.Root)
					}
				}
			},
		},
		{
			// moto writes no root row and not_supported where AWS writes N/A.
			file: "moto.csv", account: "123456789012", partition: "aws", users: 4,
			check: func(t *testing.T, users []User) {
				for _, u := range users {
					if u.Root {
						t.Errorf("%s marked root", u.Name)
					}
				}
				alice, ci := users[0], users[1]
				if alice.PasswordEnabled != yes() || alice.PasswordLastUsed != noInfoTime ||
					alice.PasswordNextRotation != notSupported || alice.AccessKeys[0].LastUsedRegion != notSupportedTxt {
					t.Errorf("alice.console: %+v", alice)
				}
				if ci.ARN != "arn:aws:iam::123456789012:user/automation/ci-deploy" || ci.AccessKeys[0].Active != yes() ||
					ci.AccessKeys[0].LastUsed != naTime || ci.PasswordLastUsed != notSupported {
					t.Errorf("ci-deploy: %+v", ci)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			rep, err := parseFixture(t, tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if rep.AccountID != tt.account || rep.Partition != tt.partition {
				t.Errorf("account %q partition %q, want %q %q", rep.AccountID, rep.Partition, tt.account, tt.partition)
			}
			if len(rep.Users) != tt.users || rep.BadCells != tt.badCells || rep.Duplicates != tt.duplicates {
				t.Fatalf("users %d BadCells %d Duplicates %d, want %d %d %d",
					len(rep.Users), rep.BadCells, rep.Duplicates, tt.users, tt.badCells, tt.duplicates)
			}
			tt.check(t, rep.Users)
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"empty.csv", "empty input"},
		{"reject_blank_lines.csv", "empty input"},
		{"reject_no_header.csv", "no header"},
		{"reject_no_arn_column.csv", "header has no arn column"},
		{"reject_no_user_column.csv", "header has no user column"},
		{"reject_duplicate_column.csv", `header names column "arn" twice`},
		{"reject_syntax.csv", `CSV syntax error: parse error on line 3, column 4: bare " in non-quoted-field`},
		{"reject_two_accounts.csv", "rows of more than one account: aws:123456789012 on line 2, aws:210987654321 on line 4"},
		{"reject_two_partitions.csv", "rows of more than one account: aws:123456789012 on line 2, aws-cn:123456789012 on line 3"},
		{"reject_role_arn.csv", "line 3: arn is not an IAM user or root ARN"},
		{"reject_all_rows_malformed.csv", "all 2 data rows have a field count other than the header's 22 columns"},
		// A real report always has a row: root's, or in moto's, a user's.
		{"reject_header_only.csv", "no user rows after the header"},
		// Cut short while it was written: the first rows alone would drop
		// every later user, and resolve their alerts.
		{"reject_truncated.csv", "truncated: the last row, on line 6, has 4 of the header's 22 fields"},
		{"reject_truncated_in_quotes.csv", `CSV syntax error: parse error on line 11, column 13: extraneous or missing " in quoted-field`},
		// IAM names are at most 64 characters and ARNs 2048.
		{"reject_long_name.csv", "line 3: user name longer than 64 bytes"},
		{"reject_long_cell.csv", "line 2, column 3: cell longer than 2048 bytes"},
		// Base64 handed to Parse instead of the file source.
		{"example.b64", "no header"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			rep, err := parseFixture(t, tt.file)
			if err == nil {
				t.Fatalf("accepted with %d users", len(rep.Users))
			}
			if !errors.Is(err, ErrInvalidReport) {
				t.Errorf("error %q does not wrap ErrInvalidReport", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to say %q", err, tt.want)
			}
			// Errors are logged, and user names are report contents.
			for _, name := range []string{"mallory", "deployer", "ivy", "dana", "kim.lee", "nnnnn", "alice"} {
				if strings.Contains(err.Error(), name) {
					t.Errorf("error %q names user %s", err, name)
				}
			}
		})
	}
}

func TestParseReadErrorIsNotInvalidReport(t *testing.T) {
	errDisk := errors.New("disk on fire")
	data, err := os.ReadFile("testdata/example.csv")
	if err != nil {
		t.Fatal(err)
	}
	// Fail after the header, so that the error comes from a data row.
	_, err = Parse(&failingReader{data: data[:700], err: errDisk})
	if !errors.Is(err, errDisk) || errors.Is(err, ErrInvalidReport) {
		t.Errorf("error %v: want the read error, not ErrInvalidReport: the report was never seen", err)
	}
}

type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestParseCells(t *testing.T) {
	tests := []struct {
		cell     string
		wantTime Timestamp
		wantFlag Flag
		wantText Text
	}{
		{cell: "N/A", wantTime: naTime, wantFlag: Flag{Status: NotApplicable}, wantText: naText},
		{cell: "no_information", wantTime: noInfoTime, wantFlag: Flag{Status: NoInformation}, wantText: Text{Status: NoInformation}},
		{cell: "not_supported", wantTime: notSupported, wantFlag: Flag{Status: NotSupported}, wantText: notSupportedTxt},
		{cell: "true", wantFlag: yes(), wantText: text("true")},
		{cell: "TRUE", wantFlag: yes(), wantText: text("TRUE")},
		{cell: "False", wantFlag: no(), wantText: text("False")},
		{cell: "yes", wantText: text("yes")},
		// Sentinels are matched as AWS writes them; anything else in a date
		// or boolean cell is a bad cell, and in a text cell it is text.
		{cell: "n/a", wantText: text("n/a")},
		{cell: "", wantText: Text{}},
		{cell: "2024-04-22T19:47:52Z", wantTime: at("2024-04-22T19:47:52Z"), wantText: text("2024-04-22T19:47:52Z")},
	}
	for _, tt := range tests {
		t.Run(tt.cell, func(t *testing.T) {
			gotTime, _ := parseTimestamp(tt.cell)
			gotFlag, _ := parseFlag(tt.cell)
			gotText, _ := parseText(tt.cell)
			if gotTime != tt.wantTime || gotFlag != tt.wantFlag || gotText != tt.wantText {
				t.Errorf("got %+v %+v %+v, want %+v %+v %+v", gotTime, gotFlag, gotText, tt.wantTime, tt.wantFlag, tt.wantText)
			}
		})
	}
}

func TestParseTimestamp(t *testing.T) {
	unix := func(y int, mo time.Month, d, h, mi, s int) int64 {
		return time.Date(y, mo, d, h, mi, s, 0, time.UTC).Unix()
	}
	tests := []struct {
		cell string
		want int64
		ok   bool
	}{
		{"2024-04-22T19:47:52Z", unix(2024, 4, 22, 19, 47, 52), true},
		{"2016-11-25T14:19:48+00:00", unix(2016, 11, 25, 14, 19, 48), true},
		{"2025-01-15T10:30:00+05:30", unix(2025, 1, 15, 5, 0, 0), true},
		{"2026-11-26T21:15:00-08:00", unix(2026, 11, 27, 5, 15, 0), true},
		{"2026-01-10T12:00:00.999Z", unix(2026, 1, 10, 12, 0, 0), true},
		{"2024-02-29T00:00:00Z", unix(2024, 2, 29, 0, 0, 0), true},
		{"2000-02-29T23:59:59Z", unix(2000, 2, 29, 23, 59, 59), true},
		{"1969-12-31T23:59:59Z", -1, true},
		{"0000-01-01T00:00:00Z", unix(0, 1, 1, 0, 0, 0), true},
		{"2025-02-29T00:00:00Z", 0, false},
		{"1900-02-29T00:00:00Z", 0, false},
		{"2026-04-31T00:00:00Z", 0, false},
		{"2026-11-27T24:00:00Z", 0, false},
		{"2026-11-27T23:60:00Z", 0, false},
		{"2026-11-27T23:59:60Z", 0, false},
		{"2026-11-27T10:00:00+25:00", 0, false},
		{"2026-11-27 10:00:00Z", 0, false},
		{"2026-11-27T10:00:00", 0, false},
		{"2026-11-27", 0, false},
		{"yesterday", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.cell, func(t *testing.T) {
			got, ok := parseTimestamp(tt.cell)
			switch {
			case ok != tt.ok:
				t.Errorf("ok %v, want %v", ok, tt.ok)
			case ok && (got.Status != Present || got.Unix != tt.want):
				t.Errorf("got %+v, want Unix %d present", got, tt.want)
			case !ok && got != (Timestamp{}):
				t.Errorf("bad cell gave %+v, want unknown", got)
			}
		})
	}
}

func TestParseARN(t *testing.T) {
	tests := []struct {
		arn       string
		partition string
		account   string
		root      bool
		ok        bool
	}{
		{"arn:aws:iam::123456789012:root", "aws", "123456789012", true, true},
		{"arn:aws:iam::123456789012:user/alice", "aws", "123456789012", false, true},
		{"arn:aws-cn:iam::123456789012:user/a/b/c", "aws-cn", "123456789012", false, true},
		{"arn:aws-us-gov:iam::123456789012:user/x", "aws-us-gov", "123456789012", false, true},
		{"arn:aws-iso-b:iam::123456789012:user/x", "aws-iso-b", "123456789012", false, true},
		{"arn:aws:iam::123456789012:user/a:b", "aws", "123456789012", false, true},
		{"arn:aws-foo:iam::123456789012:user/x", "", "", false, false},
		{"arn:aws:iam::123456789012:role/x", "", "", false, false},
		{"arn:aws:iam::123456789012:user/", "", "", false, false},
		{"arn:aws:iam::123456789012:user/path/", "", "", false, false},
		{"arn:aws:iam::12345678901:user/x", "", "", false, false},
		{"arn:aws:iam::12345678901a:user/x", "", "", false, false},
		{"arn:aws:iam::1234567890123:user/x", "", "", false, false},
		{"arn:aws:sts::123456789012:user/x", "", "", false, false},
		{"arn:aws:iam::123456789012", "", "", false, false},
		{"urn:aws:iam::123456789012:user/x", "", "", false, false},
		{"arn:aws:iam:us-east-1:123456789012:user/x", "", "", false, false},
		{"arn:aws:s3:::bucket", "", "", false, false},
		{"arn:gcp:iam::123456789012:user/x", "", "", false, false},
		{"arn:AWS:iam::123456789012:user/x", "", "", false, false},
		{"arn:aws-:iam::123456789012:user/x", "", "", false, false},
		{"", "", "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.arn, func(t *testing.T) {
			partition, account, root, ok := parseARN(tt.arn)
			if partition != tt.partition || account != tt.account || root != tt.root || ok != tt.ok {
				t.Errorf("got %q %q %v %v, want %q %q %v %v", partition, account, root, ok, tt.partition, tt.account, tt.root, tt.ok)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || strings.HasSuffix(e.Name(), ".md") {
			continue
		}
		data, err := os.ReadFile(filepath.Join("testdata", e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := Parse(bytes.NewReader(data))
		if err != nil {
			// In-memory input cannot fail to read: every error is a rejection.
			if !errors.Is(err, ErrInvalidReport) {
				t.Fatalf("error %v does not wrap ErrInvalidReport", err)
			}
			return
		}
		if len(rep.Users) > 0 && len(rep.AccountID) != 12 {
			t.Fatalf("account ID %q with %d users", rep.AccountID, len(rep.Users))
		}
		seen := map[string]bool{}
		for _, u := range rep.Users {
			partition, account, root, ok := parseARN(u.ARN)
			if u.ARN == "" || !ok || account != rep.AccountID || partition != rep.Partition {
				t.Fatalf("user ARN %q does not belong to %s:%s", u.ARN, rep.Partition, rep.AccountID)
			}
			if root && !u.Root {
				t.Fatalf("root ARN %q not marked Root", u.ARN)
			}
			if seen[u.ARN] {
				t.Fatalf("ARN %q kept twice", u.ARN)
			}
			seen[u.ARN] = true
		}
	})
}

// Label values must be valid UTF-8 or the whole scrape fails, so invalid
// bytes from a hand-made file are replaced and counted, not passed on.
func TestParseInvalidUTF8(t *testing.T) {
	csv := "user,arn,mfa_active,access_key_1_last_used_service\n" +
		"bad\xffname,arn:aws:iam::123456789012:user/bad\xffname,true,s\xfe3\n"
	rep, err := Parse(strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	u := rep.Users[0]
	for _, s := range []string{u.Name, u.ARN, u.AccessKeys[0].LastUsedService.Value} {
		if !utf8.ValidString(s) {
			t.Errorf("%q is not valid UTF-8", s)
		}
	}
	if rep.BadCells != 3 {
		t.Errorf("BadCells = %d, want 3", rep.BadCells)
	}
}

// Two rows for one user name under different paths would export duplicate
// series and fail the whole scrape: the last row wins, as for a repeated ARN.
func TestParseDuplicateNameDifferentPath(t *testing.T) {
	csv := "user,arn,mfa_active\n" +
		"bob,arn:aws:iam::123456789012:user/bob,false\n" +
		"bob,arn:aws:iam::123456789012:user/ops/bob,true\n"
	rep, err := Parse(strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Users) != 1 || rep.Duplicates != 1 || rep.Users[0].ARN != "arn:aws:iam::123456789012:user/ops/bob" {
		t.Errorf("users = %+v, duplicates = %d; want only the last bob row", rep.Users, rep.Duplicates)
	}
}

// Repeated names are found whether or not the rows come in AWS's order
// (root first, then names sorted case-insensitively).
func TestParseDuplicatesInAnyOrder(t *testing.T) {
	const header = "user,arn,mfa_active\n"
	row := func(name string, mfa string) string {
		arn := "arn:aws:iam::123456789012:user/" + name
		if name == RootUserName {
			arn = "arn:aws:iam::123456789012:root"
		}
		return name + "," + arn + "," + mfa + "\n"
	}
	tests := []struct {
		name      string
		rows      []string
		wantUsers []string
		wantDups  int
	}{
		{"sorted", []string{row(RootUserName, "true"), row("alice", "false"), row("Bob", "false")}, []string{RootUserName, "alice", "Bob"}, 0},
		{"repeat after sorted prefix", []string{row("alice", "false"), row("bob", "false"), row("alice", "true")}, []string{"alice", "bob"}, 1},
		{"adjacent repeat", []string{row("alice", "false"), row("alice", "true"), row("bob", "false")}, []string{"alice", "bob"}, 1},
		{"two root rows", []string{row(RootUserName, "false"), row("alice", "false"), row(RootUserName, "true")}, []string{RootUserName, "alice"}, 1},
		{"names differing in case only", []string{row("bob", "false"), row("Bob", "false")}, []string{"bob", "Bob"}, 0},
		{"unsorted, no repeat", []string{row("zed", "false"), row("alice", "false"), row("<root_account>", "false")}, []string{"zed", "alice", RootUserName}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Parse(strings.NewReader(header + strings.Join(tt.rows, "")))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, u := range rep.Users {
				got = append(got, u.Name)
				// The last row of a repeated name wins.
				if u.Name == "alice" && tt.wantDups == 1 && tt.name != "two root rows" && !u.MFAActive.Value {
					t.Errorf("kept the first alice row, want the last")
				}
			}
			if strings.Join(got, " ") != strings.Join(tt.wantUsers, " ") || rep.Duplicates != tt.wantDups {
				t.Errorf("users %v, duplicates %d; want %v, %d", got, rep.Duplicates, tt.wantUsers, tt.wantDups)
			}
		})
	}
}

// A user row whose name is not the last part of its ARN cannot be exported
// consistently: it is dropped and counted, the rest of the report is kept.
func TestParseNameARNMismatch(t *testing.T) {
	csv := "user,arn,mfa_active\n" +
		"alice,arn:aws:iam::123456789012:user/alice,true\n" +
		"mallory,arn:aws:iam::123456789012:user/alice,true\n" +
		"a/b,arn:aws:iam::123456789012:user/a/b,true\n" +
		",arn:aws:iam::123456789012:user/x,true\n" +
		"bob,arn:aws:iam::123456789012:user/ops/bob,false\n"
	rep, err := Parse(strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range rep.Users {
		names = append(names, u.Name)
	}
	if strings.Join(names, " ") != "alice bob" || rep.BadCells != 3 {
		t.Errorf("users %v, bad cells %d; want [alice bob], 3", names, rep.BadCells)
	}
}

// endless repeats data forever.
type endless struct {
	data []byte
	off  int
}

func (e *endless) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], e.data[e.off:])
		n += c
		e.off = (e.off + c) % len(e.data)
	}
	return n, nil
}

// Parse stops reading as soon as a limit is passed, so that memory stays
// bounded whatever the input: endless input ends in an error, after little
// more than the limit was read.
func TestParseStopsAtLimits(t *testing.T) {
	example, err := os.ReadFile("testdata/example.csv")
	if err != nil {
		t.Fatal(err)
	}
	header, _, _ := bytes.Cut(example, []byte("\n"))
	header = append(header, '\n')
	row := []byte("alice,arn:aws:iam::123456789012:user/alice" + strings.Repeat(",N/A", 20) + "\n")
	// What bufio may read ahead of the record that fails.
	const readAhead = 4096
	tests := []struct {
		name    string
		limits  Limits
		start   string // after the header, before body
		body    []byte // repeated forever
		want    string
		maxRead int64
	}{
		{name: "rows past the default MaxUsers", body: row, want: "line 10002: more than 10000 user rows",
			maxRead: int64(len(header)) + 10001*int64(len(row)) + readAhead},
		{name: "rows past MaxUsers", limits: Limits{MaxUsers: 20}, body: row, want: "line 22: more than 20 user rows",
			maxRead: int64(len(header)) + 21*int64(len(row)) + readAhead},
		{name: "one endless line", body: []byte("x"), want: "line 2: record longer than 131072 bytes",
			maxRead: int64(len(header)) + maxRecordBytes + readAhead},
		{name: "endless quoted field over many lines", start: `"`, body: []byte("a\n"), want: "line 2: record longer than 131072 bytes",
			maxRead: int64(len(header)) + maxRecordBytes + readAhead},
		{name: "input past MaxBytes", limits: Limits{MaxBytes: 5000}, body: row, want: "larger than the limit of 5000 bytes",
			maxRead: 5001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			counted := &countingReader{r: io.MultiReader(bytes.NewReader(header), strings.NewReader(tt.start), &endless{data: tt.body})}
			rep, err := tt.limits.Parse(counted)
			if err == nil {
				t.Fatalf("accepted endless input with %d users", len(rep.Users))
			}
			if !errors.Is(err, ErrInvalidReport) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want an invalid report that says %q", err, tt.want)
			}
			if counted.n > tt.maxRead {
				t.Errorf("read %d bytes before rejecting, want at most %d", counted.n, tt.maxRead)
			}
		})
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// A report exactly at a limit is accepted; one byte or one row more is not.
func TestParseLimitsAreInclusive(t *testing.T) {
	example, err := os.ReadFile("testdata/example.csv")
	if err != nil {
		t.Fatal(err)
	}
	size := int64(len(example))
	tests := []struct {
		limits Limits
		want   string // "" to accept
	}{
		{Limits{MaxBytes: size, MaxUsers: 13}, ""},
		{Limits{MaxBytes: size - 1}, "larger than the limit"},
		{Limits{MaxUsers: 12}, "line 14: more than 12 user rows"},
		{Limits{}, ""},
	}
	for _, tt := range tests {
		rep, err := tt.limits.Parse(bytes.NewReader(example))
		switch {
		case tt.want == "" && (err != nil || len(rep.Users) != 13):
			t.Errorf("%+v: %v, want the example's 13 users", tt.limits, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%+v: error %v, want one that says %q", tt.limits, err, tt.want)
		}
	}
}

// A short row in the middle is a malformed row, skipped and counted; only a
// short last row marks a truncated report (TestParseRejects'
// reject_truncated.csv), blank lines after it included. A last row with too
// many fields is not a truncation either.
func TestParseShortRows(t *testing.T) {
	const header = "user,arn,mfa_active\n"
	tests := []struct {
		name     string
		csv      string
		wantErr  string
		wantBad  int
		wantUser int
	}{
		{"short row in the middle", header + "a,arn:aws:iam::123456789012:user/a,true\nb,arn:aws:iam::123456789012:user/b\nc,arn:aws:iam::123456789012:user/c,true\n", "", 1, 2},
		{"short last row, then blank lines", header + "a,arn:aws:iam::123456789012:user/a,true\nb,arn\n\n\n", "truncated: the last row, on line 3", 0, 0},
		{"long last row", header + "a,arn:aws:iam::123456789012:user/a,true\nb,arn:aws:iam::123456789012:user/b,true,x\n", "", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Parse(strings.NewReader(tt.csv))
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, ErrInvalidReport) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want an invalid report that says %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rep.BadCells != tt.wantBad || len(rep.Users) != tt.wantUser {
				t.Errorf("bad cells %d, users %d; want %d, %d", rep.BadCells, len(rep.Users), tt.wantBad, tt.wantUser)
			}
		})
	}
}
