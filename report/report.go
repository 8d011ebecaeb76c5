// Package report is the IAM credential report as data: its typed model, the
// CSV parser, the partitions its ARNs name, and the file source that reads a
// saved report. It knows nothing of AWS clients, refreshing or metrics, and
// is the project's public Go package: other programs may import it to parse
// credential reports (Parse, Limits.Parse, NewFileSource).
package report

import (
	"time"
)

// Status says what a cell of the report held. The report's sentinels are kept
// apart because they mean different things to an alert: a key that was
// "never used" (N/A on a present key) is not a password that "does not apply".
type Status uint8

const (
	// Unknown: the column is missing from this layout, or the cell could not be parsed.
	Unknown Status = iota
	// Present: the cell holds a real value.
	Present
	// NotApplicable: the cell held "N/A" (no password, no such key, never used, global service).
	NotApplicable
	// NoInformation: the cell held "no_information" (password never used, or not since 2014-10-20).
	NoInformation
	// NotSupported: the cell held "not_supported" (root's password columns).
	NotSupported
)

var statusNames = [...]string{"unknown", "present", "N/A", "no_information", "not_supported"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "invalid"
}

// Timestamp is a date cell. Unix is meaningful only when Status is Present:
// a sentinel is never turned into a zero time.
type Timestamp struct {
	Unix   int64
	Status Status
}

// Time returns the time and true when the cell held a real time.
func (t Timestamp) Time() (time.Time, bool) {
	if t.Status != Present {
		return time.Time{}, false
	}
	return time.Unix(t.Unix, 0).UTC(), true
}

// Flag is a boolean cell. Value is meaningful only when Status is Present.
type Flag struct {
	Value  bool
	Status Status
}

// Text is a free-text cell such as a region or a service name. Value is
// meaningful only when Status is Present.
type Text struct {
	Value  string
	Status Status
}

// AccessKey is one of the two access-key slots of a user. Slot 1 is not
// necessarily the older key.
type AccessKey struct {
	Active          Flag
	LastRotated     Timestamp
	LastUsed        Timestamp
	LastUsedRegion  Text
	LastUsedService Text
}

// Exists says whether the slot holds a key: an empty slot is inactive with
// no creation date (N/A). A creation date that could not be parsed counts
// as a key, so that a bad cell never hides one.
func (k *AccessKey) Exists() bool { return holds(k.Active, k.LastRotated) }

// Certificate is one of the two X.509 signing-certificate slots of a user.
type Certificate struct {
	Active      Flag
	LastRotated Timestamp
}

// Exists says whether the slot holds a certificate, as AccessKey.Exists.
func (c *Certificate) Exists() bool { return holds(c.Active, c.LastRotated) }

func holds(active Flag, lastRotated Timestamp) bool {
	return active.Status == Present && active.Value ||
		lastRotated.Status == Present || lastRotated.Status == Unknown
}

// User is one row of the report.
type User struct {
	Name string
	ARN  string
	// Root marks the "<root_account>" row.
	Root                 bool
	Created              Timestamp
	PasswordEnabled      Flag
	PasswordLastUsed     Timestamp
	PasswordLastChanged  Timestamp
	PasswordNextRotation Timestamp
	MFAActive            Flag
	AccessKeys           [2]AccessKey
	Certificates         [2]Certificate
}

// RootUserName is the user column of the root row.
const RootUserName = "<root_account>"

// Report is a parsed credential report. It is never modified after it has
// been published, so it can be shared between goroutines without locks.
type Report struct {
	// AccountID and Partition come from the ARNs in the report.
	AccountID string
	Partition string
	// AccountAlias is the account's IAM alias, or "". It is not part of the
	// CSV: the AWS source reads it alongside.
	AccountAlias string
	// GeneratedAt is when AWS generated the report (for a file: its modification time).
	GeneratedAt time.Time
	Users       []User
	// BadCells counts cells that could not be parsed and were made Unknown.
	BadCells int
	// Duplicates counts rows dropped because a later row had the same ARN.
	Duplicates int
	// UserTags holds the allow-listed tags (iam:GetAccountAuthorizationDetails)
	// of each user that has one, by user name; nil when not looked up.
	// Enrichment is kept beside the rows, not in them, so that a report
	// without it costs no memory per user.
	UserTags map[string][]Tag
	// Exemptions holds the well-formed exemptions of each user that has
	// one, by user name, from tags and from the exemptions file, ended and
	// future ones included, at most one per user, policy and source (the
	// file refuses a second entry; of two tags, the one that ends first is
	// kept); InvalidExemptions the tags that exempt nothing: malformed, or
	// duplicates. Exemptions is nil when neither source is read for the
	// account. The map and its slices may be shared between reports.
	Exemptions        map[string][]Exemption
	InvalidExemptions []InvalidExemption
	// AccessKeyIDs holds the IDs (iam:ListAccessKeys) of each user's key
	// slots, by user name, for the users with a known ID; "" for a slot
	// without one. Nil when not looked up.
	AccessKeyIDs map[string][2]string
	// KeyCallers holds the callers of each key slot of the users in an open
	// rotation (two active keys), by user name, most events first; nil when
	// not looked up.
	KeyCallers map[string][2][]KeyCaller
	// PasswordPolicy is the account's password policy; nil when not looked
	// up (or never read successfully).
	PasswordPolicy *PasswordPolicy
	// Lookups has the status of each enrichment lookup the source makes, in
	// a fixed order; empty when it makes none.
	Lookups []LookupStatus
}
