package accounts

import (
	"errors"
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
	maxDays    int               // --exemptions.max-days, not in the file
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
// span at most maxDays days each, reporting problems as LoadConfig does.
func LoadExemptions(path string, maxDays int) (report.AccountExemptions, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read exemptions file: %w", err)
	}
	f := exemptionsFile{maxDays: maxDays}
	if err := decodeYAML(data, &f); err != nil {
		return nil, fmt.Errorf("exemptions file %s: %w", path, err)
	}
	// `exemptions:` with nothing under it lists none, though it decodes
	// as nil.
	if f.Exemptions == nil && hasKey(data, "exemptions") {
		f.Exemptions = []*exemptionEntry{}
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
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("exemptions file %s: %w", path, err)
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

// Validate checks every exemption, reporting every problem, and refuses
// two decisions about the same thing.
func (f *exemptionsFile) Validate() error {
	if f.Exemptions == nil {
		// Most likely the wrong file: say so rather than exempt nothing.
		return errors.New("exemptions: missing; list the exemptions under it (exemptions: [] for none)")
	}
	var p problems
	decided := map[[3]string]string{} // the entry of each decision
	for i, e := range f.Exemptions {
		index := fmt.Sprintf("exemptions[%d]", i)
		where := entry(index, e.AccountID, e.User)
		before := len(p)
		e.validate(&p, where, f.maxDays)
		if len(p) > before {
			continue
		}
		// IAM user names are unique regardless of case.
		key := [3]string{e.AccountID, strings.ToLower(e.User), e.Policy}
		if prev, dup := decided[key]; dup {
			p.add(where, "account %s, user %s, policy %s is already exempted by %s; keep one entry",
				e.AccountID, e.User, e.Policy, prev)
			continue
		}
		decided[key] = index
	}
	return errors.Join(p...)
}

// validate checks every field of the exemption, named where.
func (e *exemptionEntry) validate(p *problems, where string, maxDays int) {
	for _, f := range []struct{ name, value, what string }{
		{"account_id", e.AccountID, "the 12-digit account ID of the user"},
		{"user", e.User, "the IAM user name"},
		{"policy", e.Policy, "one of " + strings.Join(report.ExemptionPolicies, ", ")},
		{"start", e.Start, "the first day in force, YYYY-MM-DD (UTC)"},
		{"end", e.End, "the last day in force, YYYY-MM-DD (UTC), inclusive"},
		{"reason", e.Reason, "why: a ticket, a sentence"},
	} {
		if f.value == "" {
			p.add(where, "%s: missing; give %s", f.name, f.what)
		}
	}
	if e.AccountID != "" && !accountIDRE.MatchString(e.AccountID) {
		p.add(where, "account_id: %q is not a 12-digit account ID (quote IDs that start with 0)", e.AccountID)
	}
	if e.User != "" && !userNameRE.MatchString(e.User) {
		p.add(where, "user: %q is not an IAM user name (1-64 letters, digits and _+=,.@-)", e.User)
	}
	if e.Policy != "" {
		if err := report.CheckExemptionPolicy(e.Policy); err != nil {
			p.add(where, "policy: %w", err)
		}
	}
	datesOK := true
	for _, f := range []struct{ name, value string }{{"start", e.Start}, {"end", e.End}} {
		if _, err := time.Parse(time.DateOnly, f.value); err != nil {
			datesOK = false
			if f.value != "" {
				p.add(where, "%s: %q is not a date YYYY-MM-DD", f.name, f.value)
			}
		}
	}
	if datesOK {
		if err := report.CheckExemptionDates(e.exemption(), maxDays); err != nil {
			p.add(where, "end: %w", err)
		}
	}
}

// exemption returns what e decides; its dates are checked.
func (e *exemptionEntry) exemption() report.Exemption {
	start, _ := time.Parse(time.DateOnly, e.Start)
	end, _ := time.Parse(time.DateOnly, e.End)
	return report.Exemption{Policy: e.Policy, Start: start, End: end.AddDate(0, 0, 1), Reason: e.Reason, Source: report.ExemptionFromFile}
}
