package accounts

import (
	"cmp"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

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

var (
	exemptionsTopSchema = schema{"a mapping", "at the top level", []string{"exemptions"}}
	exemptionSchema     = schema{"an exemption (a mapping)", "in an exemption", []string{"account_id", "user", "policy", "start", "end", "reason"}}
)

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
	return parseExemptions(path, data, maxDays)
}

func parseExemptions(path string, data []byte, maxDays int) (report.AccountExemptions, error) {
	p, root, err := parseYAML(path, "exemptions file", data)
	if err != nil {
		return nil, err
	}
	top := p.mapping(root, "exemptions file", exemptionsTopSchema)
	list, listed := top.nodes["exemptions"]
	if !listed {
		// Most likely the wrong file: say so rather than exempt nothing.
		line := 0
		if root != nil {
			line = root.Line
		}
		p.add(line, "exemptions: missing; list the exemptions under it (exemptions: [] for none)")
	}
	out := report.AccountExemptions{}
	type seen struct {
		where string
		line  int
	}
	decided := map[[3]string]seen{}
	for i, entry := range p.node(list, yaml.SequenceNode, "exemptions", "a list of exemptions").Content {
		where := fmt.Sprintf("exemptions[%d]", i)
		m := p.mapping(entry, where, exemptionSchema)
		accountID, user, e, ok := checkExemption(p, m, entry.Line, maxDays)
		if !ok {
			continue
		}
		// IAM user names are unique regardless of case.
		key := [3]string{accountID, strings.ToLower(user), e.Policy}
		if prev, dup := decided[key]; dup {
			p.add(entry.Line, "%s: account %s, user %s, policy %s is already exempted by %s (line %d); keep one entry",
				where, accountID, user, e.Policy, prev.where, prev.line)
			continue
		}
		decided[key] = seen{where, entry.Line}
		if out[accountID] == nil {
			out[accountID] = map[string][]report.Exemption{}
		}
		out[accountID][key[1]] = append(out[accountID][key[1]], e)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return out, nil
}

// checkExemption checks every field of one entry, at line, reporting each
// problem, and returns the exemption, its account and user when there is
// none.
func checkExemption(p *problems, m mapping, line, maxDays int) (accountID, user string, e report.Exemption, ok bool) {
	before := len(p.value) + len(p.shape)
	required := func(field, what string) string {
		s := strings.TrimSpace(m.str(field))
		if s == "" {
			p.add(cmp.Or(m.line(field), line), "%s.%s: missing; give %s", m.where, field, what)
		}
		return s
	}
	accountID = required("account_id", "the 12-digit account ID of the user")
	user = required("user", "the IAM user name")
	policy := required("policy", "one of "+strings.Join(report.ExemptionPolicies, ", "))
	first := required("start", "the first day in force, YYYY-MM-DD (UTC)")
	last := required("end", "the last day in force, YYYY-MM-DD (UTC), inclusive")
	reason := required("reason", "why: a ticket, a sentence")

	if accountID != "" && !accountIDRE.MatchString(accountID) {
		p.add(m.line("account_id"), "%s.account_id: %q is not a 12-digit account ID (quote IDs that start with 0)", m.where, accountID)
	}
	if user != "" && !userNameRE.MatchString(user) {
		p.add(m.line("user"), "%s.user: %q is not an IAM user name (1-64 letters, digits and _+=,.@-)", m.where, user)
	}
	if policy != "" {
		if err := report.CheckExemptionPolicy(policy); err != nil {
			p.add(m.line("policy"), "%s.policy: %w", m.where, err)
		}
	}
	date := func(field, value string) (time.Time, bool) {
		if value == "" {
			return time.Time{}, false
		}
		d, err := time.Parse(time.DateOnly, value)
		if err != nil {
			p.add(m.line(field), "%s.%s: %q is not a date YYYY-MM-DD", m.where, field, value)
			return time.Time{}, false
		}
		return d, true
	}
	start, startOK := date("start", first)
	end, endOK := date("end", last)
	e = report.Exemption{Policy: policy, Start: start, End: end.AddDate(0, 0, 1), Reason: reason, Source: report.ExemptionFromFile}
	if startOK && endOK {
		if err := report.CheckExemptionDates(e, maxDays); err != nil {
			p.add(m.line("end"), "%s.end: %w", m.where, err)
		}
	}
	return accountID, user, e, len(p.value)+len(p.shape) == before
}
