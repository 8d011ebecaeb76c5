package report

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestParseExemption(t *testing.T) {
	tests := []struct {
		name, key, value string
		want             Exemption
		notOne           bool
		wantProblem      ExemptionProblem
		wantErr          string
		notInErr         string // a part of the value the error must not repeat
	}{
		{name: "another tag", key: "owner", value: "team-a", notOne: true},
		{name: "first and last day, inclusive", key: "iam-credential-exemption:key-rotation", value: "2026-12-01/2027-02-28 SEC-1234 vendor appliance",
			want: Exemption{Policy: "key-rotation", Start: day(2026, 12, 1), End: day(2027, 3, 1), Reason: "SEC-1234 vendor appliance", Source: "tag"}},
		// IAM user tag keys are case-insensitive.
		{name: "key in any case, spaces around", key: "IAM-Credential-Exemption:Console-MFA", value: " 2026-12-01/2026-12-01  break-glass user ",
			want: Exemption{Policy: "console-mfa", Start: day(2026, 12, 1), End: day(2026, 12, 2), Reason: "break-glass user", Source: "tag"}},
		// Not in force yet, or no longer: well-formed either way.
		{name: "future start", key: "iam-credential-exemption:key-unused", value: "2099-01-01/2099-03-31 planned migration",
			want: Exemption{Policy: "key-unused", Start: day(2099, 1, 1), End: day(2099, 4, 1), Reason: "planned migration", Source: "tag"}},
		{name: "ended", key: "iam-credential-exemption:key-unused", value: "2025-01-01/2025-01-31 old decision",
			want: Exemption{Policy: "key-unused", Start: day(2025, 1, 1), End: day(2025, 2, 1), Reason: "old decision", Source: "tag"}},
		{name: "exactly the cap", key: "iam-credential-exemption:inactive-key", value: "2027-01-01/2027-03-31 DR key",
			want: Exemption{Policy: "inactive-key", Start: day(2027, 1, 1), End: day(2027, 4, 1), Reason: "DR key", Source: "tag"}},

		{name: "unknown policy", key: "iam-credential-exemption:rotation", value: "2027-01-01/2027-01-31 x",
			wantProblem: ProblemUnknownPolicy, wantErr: `unknown policy "rotation" (known: key-rotation, key-unused,`},
		{name: "old form", key: "iam-credential-exemption:key-rotation", value: "2027-03-31 SEC-1234 vendor appliance",
			wantProblem: ProblemBadDates, wantErr: `the value starts with one date, 2027-03-31: write the first and the last day in force, YYYY-MM-DD/YYYY-MM-DD then the reason (the old form "YYYY-MM-DD reason" is no longer read)`},
		{name: "old form without reason", key: "iam-credential-exemption:key-rotation", value: "2027-03-31",
			wantProblem: ProblemBadDates, wantErr: "the old form"},
		{name: "not a date", key: "iam-credential-exemption:key-rotation", value: "next week",
			wantProblem: ProblemBadDates, wantErr: `as YYYY-MM-DD/YYYY-MM-DD`, notInErr: "next"},
		{name: "other date layout", key: "iam-credential-exemption:key-rotation", value: "01/12/2026 vendor",
			wantProblem: ProblemBadDates, wantErr: `as YYYY-MM-DD/YYYY-MM-DD`, notInErr: "01/12"},
		{name: "no such day", key: "iam-credential-exemption:key-rotation", value: "2027-02-01/2027-02-30 vendor",
			wantProblem: ProblemBadDates, wantErr: "YYYY-MM-DD/YYYY-MM-DD"},
		{name: "open interval", key: "iam-credential-exemption:key-rotation", value: "2027-02-01/ vendor",
			wantProblem: ProblemBadDates, wantErr: "YYYY-MM-DD/YYYY-MM-DD"},
		{name: "end before start", key: "iam-credential-exemption:key-rotation", value: "2027-02-01/2027-01-31 vendor",
			wantProblem: ProblemBadDates, wantErr: "the last day 2027-01-31 is before the first day 2027-02-01"},
		{name: "no reason", key: "iam-credential-exemption:key-rotation", value: "2027-01-01/2027-01-31",
			wantProblem: ProblemNoReason, wantErr: "no reason after the dates"},
		{name: "one day over the cap", key: "iam-credential-exemption:key-rotation", value: "2027-01-01/2027-04-01 forever",
			wantProblem: ProblemSpanTooLong, wantErr: "2027-01-01 to 2027-04-01 is 91 days, more than the 90 an exemption may span (--exemptions.max-days)"},
		{name: "a year ahead", key: "iam-credential-exemption:key-rotation", value: "2026-12-01/2027-11-30 forever",
			wantProblem: ProblemSpanTooLong, wantErr: "is 365 days"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := ParseExemption(tt.key, tt.value, 90)
			switch {
			case tt.notOne:
				if ok || err != nil {
					t.Errorf("ok %v, err %v; want not an exemption", ok, err)
				}
			case tt.wantErr != "":
				if !ok || err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ok %v, err %v; want an error containing %q", ok, err, tt.wantErr)
				}
				// The error is logged: a tag value never appears in it.
				if tt.notInErr != "" && strings.Contains(err.Error(), tt.notInErr) {
					t.Errorf("the error repeats the tag's value %q: %v", tt.notInErr, err)
				}
				if p := ProblemOf(err); p != tt.wantProblem {
					t.Errorf("problem %q, want %q", p, tt.wantProblem)
				}
			case !ok || err != nil || got != tt.want:
				t.Errorf("%+v, %v, %v; want %+v", got, ok, err, tt.want)
			}
		})
	}
}

func TestParseExemptionMaxDays(t *testing.T) {
	const key, value = "iam-credential-exemption:key-rotation", "2027-01-01/2027-01-07 one week"
	if _, _, err := ParseExemption(key, value, 7); err != nil {
		t.Errorf("7 days with a cap of 7: %v", err)
	}
	if _, _, err := ParseExemption(key, value, 6); ProblemOf(err) != ProblemSpanTooLong {
		t.Errorf("7 days with a cap of 6: %v, want span_too_long", err)
	}
}

func TestProblemOf(t *testing.T) {
	if p := ProblemOf(errors.New("other")); p != ProblemBadDates {
		t.Errorf("ProblemOf(other) = %q", p)
	}
}

func TestInvalidExemptionPolicyLabel(t *testing.T) {
	long := "iam-credential-exemption:" + strings.Repeat("a", 63) + "éz"
	tests := []struct{ key, want string }{
		{"iam-credential-exemption:MFA", "mfa"},
		{"IAM-Credential-Exemption:Key-Rotation", "key-rotation"},
		// 63 bytes, then a 2-byte character that would end past 64: cut
		// before it, so that the label stays valid UTF-8.
		{long, strings.Repeat("a", 63)},
		{"iam-credential-exemption:" + strings.Repeat("b", 70), strings.Repeat("b", 64)},
	}
	for _, tt := range tests {
		if got := (InvalidExemption{Key: tt.key}).PolicyLabel(); got != tt.want {
			t.Errorf("PolicyLabel(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

func TestAccountExemptionsAttach(t *testing.T) {
	fromFile := Exemption{Policy: "key-rotation", Start: day(2026, 12, 1), End: day(2027, 3, 1), Reason: "SEC-1", Source: "file"}
	fromTag := Exemption{Policy: "console-mfa", Start: day(2026, 12, 1), End: day(2026, 12, 8), Reason: "SEC-2", Source: "tag"}
	file := AccountExemptions{
		"123456789012": {"build-bot": {fromFile}, "gone": {fromFile}},
	}
	if n := file.Len(); n != 2 {
		t.Errorf("Len() = %d, want 2", n)
	}
	tagged := map[string][]Exemption{"Build-Bot": {fromTag}}
	rep := &Report{AccountID: "123456789012", Users: []User{{Name: "Build-Bot"}, {Name: "alice"}}, Exemptions: tagged}
	file.Attach(rep)
	// The user as the report spells it; the file's user absent from the
	// report is left out.
	want := map[string][]Exemption{"Build-Bot": {fromTag, fromFile}}
	if !reflect.DeepEqual(rep.Exemptions, want) {
		t.Errorf("Exemptions = %+v, want %+v", rep.Exemptions, want)
	}
	if len(tagged["Build-Bot"]) != 1 {
		t.Errorf("the tag exemptions' map was modified: %+v", tagged)
	}

	other := &Report{AccountID: "210987654321", Users: []User{{Name: "build-bot"}}}
	file.Attach(other)
	if other.Exemptions != nil {
		t.Errorf("another account's report got %+v", other.Exemptions)
	}
}
