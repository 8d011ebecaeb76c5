package report

import (
	"strings"
	"testing"
	"time"
)

func TestParseExemption(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		key, value string
		want       Exemption
		notOne     bool
		wantErr    string
	}{
		{key: "owner", value: "team-a", notOne: true},
		{key: "iam-credential-exemption:key-rotation", value: "2027-03-31 SEC-1234 vendor appliance",
			want: Exemption{Policy: "key-rotation", End: time.Date(2027, 4, 1, 0, 0, 0, 0, time.UTC), Reason: "SEC-1234 vendor appliance"}},
		// IAM user tag keys are case-insensitive.
		{key: "IAM-Credential-Exemption:Console-MFA", value: " 2026-12-01  break-glass user ",
			want: Exemption{Policy: "console-mfa", End: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), Reason: "break-glass user"}},
		// Ended: well-formed, it simply no longer exempts.
		{key: "iam-credential-exemption:key-unused", value: "2025-01-01 old decision",
			want: Exemption{Policy: "key-unused", End: time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC), Reason: "old decision"}},
		{key: "iam-credential-exemption:rotation", value: "2027-01-01 x", wantErr: `unknown policy "rotation"`},
		{key: "iam-credential-exemption:key-rotation", value: "31/03/2027 vendor", wantErr: "must start with the end date as YYYY-MM-DD"},
		{key: "iam-credential-exemption:key-rotation", value: "2027-02-30 vendor", wantErr: "YYYY-MM-DD"},
		{key: "iam-credential-exemption:key-rotation", value: "2027-03-31", wantErr: "no reason after the date"},
		{key: "iam-credential-exemption:key-rotation", value: "2028-01-01 forever", wantErr: "more than a year away"},
	}
	for _, tt := range tests {
		got, ok, err := ParseExemption(tt.key, tt.value, now)
		switch {
		case tt.notOne:
			if ok || err != nil {
				t.Errorf("%s: ok %v, err %v; want not an exemption", tt.key, ok, err)
			}
		case tt.wantErr != "":
			if !ok || err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s=%s: ok %v, err %v; want an error containing %q", tt.key, tt.value, ok, err, tt.wantErr)
			}
		case !ok || err != nil || got != tt.want:
			t.Errorf("%s=%s: %+v, %v, %v; want %+v", tt.key, tt.value, got, ok, err, tt.want)
		}
	}
}
