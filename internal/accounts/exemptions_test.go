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
		wantErr []string // each in what a user sees
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
				`exemptions file testdata/exemptions-bad.yml: exemptions[0] (11112222333 build bot): account_id: "11112222333" is not a 12-digit account ID (quote IDs that start with 0)`,
				`exemptions[0] (11112222333 build bot): user: "build bot" is not an IAM user name (1-64 letters, digits and _+=,.@-)`,
				`exemptions[0] (11112222333 build bot): policy: unknown policy "rotation" (known: key-rotation, key-unused, password-unused, console-mfa, two-active-keys, inactive-key)`,
				"exemptions[0] (11112222333 build bot): end: 2026-12-01 to 2027-03-01 is 91 days, more than the 90 an exemption may span (--exemptions.max-days); renew it when it ends instead",
				"exemptions[1] (111122223333 build-bot): end: the last day 2026-11-30 is before the first day 2026-12-01",
				"exemptions[1] (111122223333 build-bot): reason: missing; give why: a ticket, a sentence",
				`exemptions[2] (111122223333 build-bot): start: "2026-02-30" is not a date YYYY-MM-DD`,
				`exemptions[2] (111122223333 build-bot): end: "01/03/2027" is not a date YYYY-MM-DD`,
				"exemptions[3] (111122223333): user: missing; give the IAM user name",
				"exemptions[3] (111122223333): start: missing; give the first day in force, YYYY-MM-DD (UTC)",
				"exemptions[3] (111122223333): reason: missing; give why: a ticket, a sentence",
				"exemptions[5] (111122223333 DEPLOY): account 111122223333, user DEPLOY, policy key-unused is already exempted by exemptions[4]; keep one entry",
			},
		},
		{
			// Problems of shape are the decoder's, reported alone.
			file: "exemptions-unknown-field.yml",
			wantErr: []string{
				"exemptions file testdata/exemptions-unknown-field.yml: yaml: unmarshal errors:",
				"line 6: field until not found in type accounts.exemptionEntry",
				"line 8: field owner not found in type accounts.exemptionsFile",
			},
		},
		{
			file:    "exemptions-missing.yml",
			wantErr: []string{"exemptions file testdata/exemptions-missing.yml: exemptions: missing; list the exemptions under it (exemptions: [] for none)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := LoadExemptions("testdata/"+tt.file, 90)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("LoadExemptions = %+v, want errors", got)
				}
				for _, want := range tt.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("errors:\n%s\nwant them to contain:\n%s", err, want)
					}
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
	if err == nil || !strings.Contains(err.Error(), "exemptions[0] (111122223333 build-bot): end: 2026-12-01 to 2027-02-28 is 90 days, more than the 30") {
		t.Errorf("LoadExemptions with 30 days = %v, want the first entry refused", err)
	}
}

func TestLoadExemptionsMissingFile(t *testing.T) {
	if _, err := LoadExemptions("testdata/absent.yml", 90); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want fs.ErrNotExist", err)
	}
}
