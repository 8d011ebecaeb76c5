package accounts

import (
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

func TestLoadExemptions(t *testing.T) {
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		file    string
		want    report.AccountExemptions
		wantErr []string // the exact lines a user sees
	}{
		{
			// Dates quoted or not; users by lower-cased name; an ended
			// exemption is well-formed.
			file: "exemptions-good.yml",
			want: report.AccountExemptions{
				"111122223333": {"build-bot": {
					{Policy: "key-rotation", Start: day(2026, 12, 1), End: day(2027, 3, 1), Reason: "SEC-1234 vendor appliance cannot rotate until its upgrade", Source: "file"},
					{Policy: "two-active-keys", Start: day(2026, 12, 1), End: day(2026, 12, 2), Reason: "SEC-1235 blue/green switch", Source: "file"},
				}},
				"011122223333": {"break-glass": {
					{Policy: "console-mfa", Start: day(2025, 1, 1), End: day(2025, 4, 1), Reason: "ended, kept for the record", Source: "file"},
				}},
			},
		},
		{file: "exemptions-empty.yml", want: report.AccountExemptions{}},
		{
			file: "exemptions-bad.yml",
			wantErr: []string{
				`testdata/exemptions-bad.yml:2: exemptions[0].account_id: "11112222333" is not a 12-digit account ID (quote IDs that start with 0)`,
				`testdata/exemptions-bad.yml:3: exemptions[0].user: "build bot" is not an IAM user name (1-64 letters, digits and _+=,.@-)`,
				`testdata/exemptions-bad.yml:4: exemptions[0].policy: unknown policy "rotation" (known: key-rotation, key-unused, password-unused, console-mfa, two-active-keys, inactive-key)`,
				`testdata/exemptions-bad.yml:6: exemptions[0].end: 2026-12-01 to 2027-03-01 is 91 days, more than the 90 an exemption may span (--exemptions.max-days); renew it when it ends instead`,
				`testdata/exemptions-bad.yml:12: exemptions[1].end: the last day 2026-11-30 is before the first day 2026-12-01`,
				`testdata/exemptions-bad.yml:13: exemptions[1].reason: missing; give why: a ticket, a sentence`,
				`testdata/exemptions-bad.yml:17: exemptions[2].start: "2026-02-30" is not a date YYYY-MM-DD`,
				`testdata/exemptions-bad.yml:18: exemptions[2].end: "01/03/2027" is not a date YYYY-MM-DD`,
				`testdata/exemptions-bad.yml:20: exemptions[3].user: missing; give the IAM user name`,
				`testdata/exemptions-bad.yml:20: exemptions[3].start: missing; give the first day in force, YYYY-MM-DD (UTC)`,
				`testdata/exemptions-bad.yml:20: exemptions[3].reason: missing; give why: a ticket, a sentence`,
				`testdata/exemptions-bad.yml:29: exemptions[5]: account 111122223333, user DEPLOY, policy key-unused is already exempted by exemptions[4] (line 23); keep one entry`,
			},
		},
		{
			// Problems of shape are reported alone.
			file: "exemptions-unknown-field.yml",
			wantErr: []string{
				`testdata/exemptions-unknown-field.yml:6: unknown field "until" in exemptions[0]; valid fields: account_id, user, policy, start, end, reason`,
				`testdata/exemptions-unknown-field.yml:8: unknown field "owner" at the top level; valid fields: exemptions`,
			},
		},
		{
			file:    "exemptions-missing.yml",
			wantErr: []string{"testdata/exemptions-missing.yml: exemptions: missing; list the exemptions under it (exemptions: [] for none)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := LoadExemptions("testdata/"+tt.file, 90)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("LoadExemptions = %+v, want errors", got)
				}
				if lines := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(lines, tt.wantErr) {
					t.Errorf("errors:\n%s\nwant:\n%s", err, strings.Join(tt.wantErr, "\n"))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("LoadExemptions =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

// The cap is the operator's: the good file's 90 days are too many for 30.
func TestLoadExemptionsMaxDays(t *testing.T) {
	_, err := LoadExemptions("testdata/exemptions-good.yml", 30)
	if err == nil || !strings.Contains(err.Error(), "exemptions-good.yml:7: exemptions[0].end: 2026-12-01 to 2027-02-28 is 90 days, more than the 30") {
		t.Errorf("LoadExemptions with 30 days = %v, want the first entry refused", err)
	}
}

func TestLoadExemptionsMissingFile(t *testing.T) {
	if _, err := LoadExemptions("testdata/absent.yml", 90); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want fs.ErrNotExist", err)
	}
}
