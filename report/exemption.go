package report

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// An exemption is a decision, recorded on the IAM user it concerns, that one
// of its findings is accepted until a date and for a reason. It lives in a
// user tag, so that CloudTrail audits who set it and when:
//
//	key:   iam-credential-exemption:<policy>
//	value: <YYYY-MM-DD> <reason>
//
// for example "iam-credential-exemption:key-rotation" =
// "2027-03-31 SEC-1234 vendor appliance cannot rotate until its upgrade".
// The exemption holds through the end of that day, UTC.

// ExemptionTagPrefix starts the key of every exemption tag.
const ExemptionTagPrefix = "iam-credential-exemption:"

// MaxExemption is the longest an exemption may run from the day it is read:
// a longer one is refused as malformed, so that an exemption is reviewed at
// least once a year.
const MaxExemption = 366 * 24 * time.Hour

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

// Exemption is a well-formed exemption tag.
type Exemption struct {
	Policy string
	// End is the first instant the exemption no longer holds: midnight UTC
	// after its date.
	End    time.Time
	Reason string
}

// InvalidExemption is an exemption tag that was not honoured.
type InvalidExemption struct {
	User, Key string
	Problem   string
}

// ParseExemption reads a tag as an exemption. ok is false when the tag is
// not an exemption tag at all; err says why an exemption tag is malformed.
// now bounds how far ahead the end date may be (MaxExemption); a date in the
// past is well-formed, and simply no longer exempts.
func ParseExemption(key, value string, now time.Time) (e Exemption, ok bool, err error) {
	rest, found := strings.CutPrefix(strings.ToLower(key), ExemptionTagPrefix)
	if !found {
		return Exemption{}, false, nil
	}
	if !slices.Contains(ExemptionPolicies, rest) {
		return Exemption{}, true, fmt.Errorf("unknown policy %q (known: %s)", rest, strings.Join(ExemptionPolicies, ", "))
	}
	date, reason, _ := strings.Cut(strings.TrimSpace(value), " ")
	day, perr := time.Parse(time.DateOnly, date)
	if perr != nil {
		return Exemption{}, true, fmt.Errorf("the value must start with the end date as YYYY-MM-DD, got %q", date)
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Exemption{}, true, fmt.Errorf("no reason after the date %s", date)
	}
	end := day.AddDate(0, 0, 1)
	if end.Sub(now) > MaxExemption {
		return Exemption{}, true, fmt.Errorf("the end date %s is more than a year away; exemptions must be renewed at least yearly", date)
	}
	return Exemption{Policy: rest, End: end, Reason: reason}, true, nil
}
