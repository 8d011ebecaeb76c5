package main

import (
	"os"
	"strings"
	"testing"
)

// sampleReport is the bundled sample report, of account 123456789012.
const sampleReport = "../../report/testdata/example.csv"

// A bad exemptions file stops the exporter at start, before it listens,
// with every problem, each naming its entry; so does an entry over
// --exemptions.max-days.
func TestRunRefusesBadExemptionsFile(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "bad file", args: []string{"--exemptions.file=../../internal/accounts/testdata/exemptions-bad.yml"},
			want: []string{
				`exemptions[0] (11112222333 build bot): policy: unknown policy \"rotation\"`,
				`exemptions[0] (11112222333 build bot): end: 2026-12-01 to 2027-03-01 is 91 days, more than the 90 an exemption may span`,
				`exemptions[1] (111122223333 build-bot): end: the last day 2026-11-30 is before the first day 2026-12-01`,
				`exemptions[5] (111122223333 DEPLOY): account 111122223333, user DEPLOY, policy key-unused is already exempted by exemptions[4]`,
			}},
		{name: "span over the flag's cap", args: []string{"--exemptions.file=../../internal/accounts/testdata/exemptions-good.yml", "--exemptions.max-days=30"},
			want: []string{`exemptions[0] (111122223333 build-bot): end: 2026-12-01 to 2027-02-28 is 90 days, more than the 30`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stderr, code := runChild(t, exe, append([]string{"--report.file=" + sampleReport}, tt.args...)...)
			if code != 1 {
				t.Errorf("exit status %d, want 1\nstderr:\n%s", code, stderr)
			}
			for _, want := range append([]string{"invalid --exemptions.file"}, tt.want...) {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			if strings.Contains(stderr, "Listening on") {
				t.Errorf("the exporter listened before refusing its exemptions file:\n%s", stderr)
			}
		})
	}
}
