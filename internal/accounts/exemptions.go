package accounts

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// The exemptions file (--exemptions.file) lists the exemptions that the
// security team decided, reviewed where it keeps its configuration, as
// Prowler's mutelist is. An example:
//
//	exemptions:
//	  - account_id: "111122223333"
//	    user: build-bot
//	    policy: key-rotation
//	    start: 2026-12-01        # first day in force (UTC)
//	    end: 2027-02-28          # last day in force, inclusive (UTC)
//	    reason: SEC-1234 vendor appliance cannot rotate until its upgrade
//
// It is read once, at start: a change needs a restart.

type exemptionsFile struct {
	Exemptions []*exemptionEntry `yaml:"exemptions"` // nil for a bare "-"
}

type exemptionEntry struct {
	AccountID string `yaml:"account_id"`
	User      string `yaml:"user"`
	Policy    string `yaml:"policy"`
	Start     string `yaml:"start"` // YYYY-MM-DD, the first day in force
	End       string `yaml:"end"`   // YYYY-MM-DD, the last day in force
	Reason    string `yaml:"reason"`
}

// userNameRE is what IAM accepts as a user name.
var userNameRE = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)

// LoadExemptions reads and checks an exemptions file, whose exemptions may
// span at most maxDays days each. Every problem found is reported, each as
// "<path>:<line>: <field>: <what is wrong>", as LoadConfig does.
func LoadExemptions(path string, maxDays int) (report.AccountExemptions, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read exemptions file: %w", err)
	}
	var f exemptionsFile
	src, err := decode("exemptions file", path, data, &f)
	if err != nil {
		return nil, err
	}
	for i, e := range f.Exemptions {
		if e == nil {
			e = &exemptionEntry{}
			f.Exemptions[i] = e
		}
		for _, s := range []*string{&e.AccountID, &e.User, &e.Policy, &e.Start, &e.End, &e.Reason} {
			*s = strings.TrimSpace(*s)
		}
	}
	if err := f.Validate(src, maxDays); err != nil {
		return nil, err
	}
	out := report.AccountExemptions{}
	for _, e := range f.Exemptions {
		user := strings.ToLower(e.User)
		if out[e.AccountID] == nil {
			out[e.AccountID] = map[string][]report.Exemption{}
		}
		out[e.AccountID][user] = append(out[e.AccountID][user], e.exemption())
	}
	return out, nil
}

// Validate checks every exemption, reporting each problem at the line src
// gives for it, and refuses two decisions about the same thing.
func (f *exemptionsFile) Validate(src *source, maxDays int) error {
	type seen struct {
		where string
		line  int
	}
	decided := map[[3]string]seen{}
	if _, listed := src.lines["exemptions"]; !listed {
		// Most likely the wrong file: say so rather than exempt nothing.
		src.add("", "exemptions: missing; list the exemptions under it (exemptions: [] for none)")
	}
	for i, e := range f.Exemptions {
		where := fmt.Sprintf("exemptions[%d]", i)
		before := len(src.problems)
		e.validate(src, where, maxDays)
		if len(src.problems) > before {
			continue
		}
		// IAM user names are unique regardless of case.
		key := [3]string{e.AccountID, strings.ToLower(e.User), e.Policy}
		if prev, dup := decided[key]; dup {
			src.add(where, "%s: account %s, user %s, policy %s is already exempted by %s (line %d); keep one entry",
				where, e.AccountID, e.User, e.Policy, prev.where, prev.line)
			continue
		}
		decided[key] = seen{where, src.line(where)}
	}
	return src.err()
}

// validate checks every field of the exemption at where.
func (e *exemptionEntry) validate(src *source, where string, maxDays int) {
	for _, f := range []struct{ name, value, what string }{
		{"account_id", e.AccountID, "the 12-digit account ID of the user"},
		{"user", e.User, "the IAM user name"},
		{"policy", e.Policy, "one of " + strings.Join(report.ExemptionPolicies, ", ")},
		{"start", e.Start, "the first day in force, YYYY-MM-DD (UTC)"},
		{"end", e.End, "the last day in force, YYYY-MM-DD (UTC), inclusive"},
		{"reason", e.Reason, "why: a ticket, a sentence"},
	} {
		if f.value == "" {
			src.add(where+"."+f.name, "%s.%s: missing; give %s", where, f.name, f.what)
		}
	}
	if e.AccountID != "" && !accountIDRE.MatchString(e.AccountID) {
		src.add(where+".account_id", "%s.account_id: %q is not a 12-digit account ID (quote IDs that start with 0)", where, e.AccountID)
	}
	if e.User != "" && !userNameRE.MatchString(e.User) {
		src.add(where+".user", "%s.user: %q is not an IAM user name (1-64 letters, digits and _+=,.@-)", where, e.User)
	}
	if e.Policy != "" {
		if err := report.CheckExemptionPolicy(e.Policy); err != nil {
			src.add(where+".policy", "%s.policy: %w", where, err)
		}
	}
	datesOK := true
	for _, f := range []struct{ name, value string }{{"start", e.Start}, {"end", e.End}} {
		if _, err := time.Parse(time.DateOnly, f.value); err != nil {
			datesOK = false
			if f.value != "" {
				src.add(where+"."+f.name, "%s.%s: %q is not a date YYYY-MM-DD", where, f.name, f.value)
			}
		}
	}
	if datesOK {
		if err := report.CheckExemptionDates(e.exemption(), maxDays); err != nil {
			src.add(where+".end", "%s.end: %w", where, err)
		}
	}
}

// exemption returns what e decides; its dates are checked.
func (e *exemptionEntry) exemption() report.Exemption {
	start, _ := time.Parse(time.DateOnly, e.Start)
	end, _ := time.Parse(time.DateOnly, e.End)
	return report.Exemption{Policy: e.Policy, Start: start, End: end.AddDate(0, 0, 1), Reason: e.Reason, Source: report.ExemptionFromFile}
}
