package report

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// An exemption is a decision that one finding of an IAM user is accepted
// from a first day through a last day (UTC), for a reason. It comes from
// one of two places, which the operator chooses:
//
//   - the exemptions file (--exemptions.file), reviewed in the security
//     team's repository: see the accounts package;
//   - a user tag (--aws.exemptions), which CloudTrail audits but which
//     anyone allowed iam:TagUser on the user can set:
//
//     key:   iam-credential-exemption:<policy>
//     value: <YYYY-MM-DD>/<YYYY-MM-DD> <reason>
//
//     for example "iam-credential-exemption:key-rotation" =
//     "2026-12-01/2027-02-28 SEC-1234 vendor appliance cannot rotate until
//     its upgrade": the first and the last day in force, inclusive, as an
//     ISO 8601 interval.
//
// Either way an exemption spans at most a number of days
// (--exemptions.max-days), so that keeping one means renewing it, a change
// that security sees.

// ExemptionTagPrefix starts the key of every exemption tag.
const ExemptionTagPrefix = "iam-credential-exemption:"

// DefaultExemptionMaxDays is the longest span of an exemption, in days,
// unless the operator says otherwise: the 90 days of CIS's key rotation.
const DefaultExemptionMaxDays = 90

// Where an exemption comes from: the source label of its series.
const (
	ExemptionFromTag  = "tag"
	ExemptionFromFile = "file"
)

// ExemptionPolicies are the policies an exemption may name, each with the
// alerts it quiets.
var ExemptionPolicies = []string{
	"key-rotation",    // IAMCredentialAccessKeyTooOld, IAMCredentialAccessKeyRotationDue
	"key-unused",      // IAMCredentialAccessKeyUnused
	"password-unused", // IAMCredentialPasswordUnused
	"console-mfa",     // IAMCredentialConsoleUserWithoutMFA
	"two-active-keys", // IAMCredentialAccessKeyRotationIncomplete, IAMCredentialAccessKeyOldKeyStillUsed
	"inactive-key",    // IAMCredentialAccessKeyInactiveNotDeleted
}

// Exemption is a well-formed exemption.
type Exemption struct {
	Policy string
	// Start is the first instant the exemption holds: midnight UTC of its
	// first day. End is the first instant it no longer holds: midnight UTC
	// after its last day.
	Start, End time.Time
	Reason     string
	// Source is ExemptionFromTag or ExemptionFromFile.
	Source string
}

// ExemptionProblem is why an exemption is malformed, as a short fixed code:
// the problem label of aws_iam_user_exemption_invalid.
type ExemptionProblem string

const (
	ProblemUnknownPolicy ExemptionProblem = "unknown_policy"
	ProblemBadDates      ExemptionProblem = "bad_dates"
	ProblemNoReason      ExemptionProblem = "no_reason"
	ProblemSpanTooLong   ExemptionProblem = "span_too_long"
	// ProblemDuplicate is a well-formed tag of a user that has another
	// exemption tag of the same policy (keys that differ only in case),
	// which ends earlier: only that one is honoured.
	ProblemDuplicate ExemptionProblem = "duplicate"
)

// ExemptionError says what is wrong with an exemption, and its code.
type ExemptionError struct {
	Problem ExemptionProblem
	Message string
}

func (e *ExemptionError) Error() string { return e.Message }

func exemptionError(p ExemptionProblem, format string, args ...any) error {
	return &ExemptionError{Problem: p, Message: fmt.Sprintf(format, args...)}
}

// ProblemOf returns the code of an error of ParseExemption or
// CheckExemption, and ProblemBadDates for any other.
func ProblemOf(err error) ExemptionProblem {
	if e, ok := errors.AsType[*ExemptionError](err); ok {
		return e.Problem
	}
	return ProblemBadDates
}

// InvalidExemption is an exemption tag that was not honoured: malformed, or
// a duplicate.
type InvalidExemption struct {
	User, Key string
	Problem   ExemptionProblem
	// Message says what is wrong, for the log.
	Message string
}

// maxPolicyLabel bounds the policy label of a malformed tag: the key is the
// user's choice, up to 128 characters.
const maxPolicyLabel = 64

// PolicyLabel is the policy the tag's key names, as exported: lower-cased,
// cut to at most 64 bytes at a character boundary.
func (e InvalidExemption) PolicyLabel() string {
	lower := strings.ToLower(e.Key)
	p := strings.TrimPrefix(lower, ExemptionTagPrefix)
	if len(p) <= maxPolicyLabel {
		return p
	}
	cut := maxPolicyLabel
	for cut > 0 && !utf8.RuneStart(p[cut]) {
		cut--
	}
	return p[:cut]
}

// ParseExemption reads a tag as an exemption of at most maxDays days. ok is
// false when the tag is not an exemption tag at all; err, an
// *ExemptionError, says why an exemption tag is malformed. A first day in
// the future is well-formed (not in force yet), and so is a last day in the
// past (no longer in force).
func ParseExemption(key, value string, maxDays int) (e Exemption, ok bool, err error) {
	rest, found := strings.CutPrefix(strings.ToLower(key), ExemptionTagPrefix)
	if !found {
		return Exemption{}, false, nil
	}
	if err := CheckExemptionPolicy(rest); err != nil {
		return Exemption{}, true, err
	}
	dates, reason, _ := strings.Cut(strings.TrimSpace(value), " ")
	first, last, isInterval := strings.Cut(dates, "/")
	if !isInterval {
		if _, perr := time.Parse(time.DateOnly, dates); perr == nil {
			return Exemption{}, true, exemptionError(ProblemBadDates,
				"the value starts with one date, %s: write the first and the last day in force, YYYY-MM-DD/YYYY-MM-DD then the reason (the old form \"YYYY-MM-DD reason\" is no longer read)", dates)
		}
		return Exemption{}, true, exemptionError(ProblemBadDates,
			"the value must start with the first and the last day in force as YYYY-MM-DD/YYYY-MM-DD (what it starts with is not repeated here: tag values stay out of the log)")
	}
	start, serr := time.Parse(time.DateOnly, first)
	end, eerr := time.Parse(time.DateOnly, last)
	if serr != nil || eerr != nil {
		return Exemption{}, true, exemptionError(ProblemBadDates,
			"the value must start with the first and the last day in force as YYYY-MM-DD/YYYY-MM-DD (what it starts with is not repeated here: tag values stay out of the log)")
	}
	e = Exemption{Policy: rest, Start: start, End: end.AddDate(0, 0, 1), Reason: strings.TrimSpace(reason), Source: ExemptionFromTag}
	if err := CheckExemption(e, maxDays); err != nil {
		return Exemption{}, true, err
	}
	return e, true, nil
}

// CheckExemption checks what an exemption from any source must satisfy: a
// known policy, dates that CheckExemptionDates accepts, and a reason. The
// error is an *ExemptionError.
func CheckExemption(e Exemption, maxDays int) error {
	if err := CheckExemptionPolicy(e.Policy); err != nil {
		return err
	}
	if err := CheckExemptionDates(e, maxDays); err != nil {
		return err
	}
	if e.Reason == "" {
		return exemptionError(ProblemNoReason, "no reason after the dates")
	}
	return nil
}

// CheckExemptionPolicy checks that policy is one of ExemptionPolicies.
func CheckExemptionPolicy(policy string) error {
	if !slices.Contains(ExemptionPolicies, policy) {
		return exemptionError(ProblemUnknownPolicy, "unknown policy %q (known: %s)", policy, strings.Join(ExemptionPolicies, ", "))
	}
	return nil
}

// CheckExemptionDates checks that an exemption's last day is not before its
// first, and that it spans at most maxDays days.
func CheckExemptionDates(e Exemption, maxDays int) error {
	last := e.End.AddDate(0, 0, -1).Format(time.DateOnly)
	if !e.End.After(e.Start) {
		return exemptionError(ProblemBadDates, "the last day %s is before the first day %s", last, e.Start.Format(time.DateOnly))
	}
	if days := SpanDays(e); days > maxDays {
		return exemptionError(ProblemSpanTooLong,
			"%s to %s is %d days, more than the %d an exemption may span (--exemptions.max-days); renew it when it ends instead",
			e.Start.Format(time.DateOnly), last, days, maxDays)
	}
	return nil
}

// SpanDays is the number of days an exemption is in force, first and last
// included.
func SpanDays(e Exemption) int {
	return int(e.End.Sub(e.Start) / (24 * time.Hour))
}

// AccountExemptions are the exemptions of an exemptions file: by account
// ID, then by lower-cased user name (IAM user names are unique regardless
// of case). It is not modified once read.
type AccountExemptions map[string]map[string][]Exemption

// Len returns the number of exemptions.
func (a AccountExemptions) Len() int {
	n := 0
	for _, users := range a {
		for _, list := range users {
			n += len(list)
		}
	}
	return n
}

// Attach adds to rep, not published yet, the exemptions of its account's
// users, under each user's name as the report spells it. Exemptions of
// users the report does not list are left out, as are tag exemptions of
// such users. rep.Exemptions is replaced, not modified: the source that
// made rep may share it with the reports it made before.
func (a AccountExemptions) Attach(rep *Report) {
	byUser := a[rep.AccountID]
	if len(byUser) == 0 {
		return
	}
	merged := maps.Clone(rep.Exemptions)
	if merged == nil {
		merged = map[string][]Exemption{}
	}
	for i := range rep.Users {
		name := rep.Users[i].Name
		if list := byUser[strings.ToLower(name)]; len(list) > 0 {
			merged[name] = slices.Concat(merged[name], list)
		}
	}
	rep.Exemptions = merged
}
