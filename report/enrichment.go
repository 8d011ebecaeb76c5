package report

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The enrichment below is not part of the credential report: the AWS source
// reads it with other IAM calls, each opt-in, and attaches it to the report
// it publishes. A file source has none of it.

// Tag is one allow-listed tag of a user or an account. Key is the key as the
// allowlist spells it, whatever case AWS returned.
type Tag struct {
	Key, Value string
}

// PasswordPolicy is the account password policy (iam:GetAccountPasswordPolicy).
type PasswordPolicy struct {
	// Exists is false when the account has none (NoSuchEntity); the other
	// fields are then zero.
	Exists                     bool
	MinimumLength              int
	RequireSymbols             bool
	RequireNumbers             bool
	RequireUppercase           bool
	RequireLowercase           bool
	AllowUsersToChangePassword bool
	ExpirePasswords            bool
	// MaxAge is 0 when passwords do not expire.
	MaxAge time.Duration
	// ReusePrevention is how many previous passwords cannot be reused; 0
	// when reuse is not prevented.
	ReusePrevention int
	HardExpiry      bool
}

// Lookup names an enrichment call.
type Lookup string

const (
	LookupUserTags       Lookup = "user_tags"
	LookupAccessKeyIDs   Lookup = "access_key_ids"
	LookupPasswordPolicy Lookup = "password_policy"
	LookupKeyCallers     Lookup = "key_callers"
)

// LookupStatus is the outcome of the last attempt of one enrichment lookup.
// Its data is kept from the last success when an attempt fails.
type LookupStatus struct {
	Lookup Lookup
	// OK is whether the last attempt succeeded.
	OK bool
	// LastSuccess is when the data served was read; zero if never.
	LastSuccess time.Time
	// Dropped counts the items of AWS's answers that the lookup dropped,
	// since its source was made, because they contradict the request: for
	// LookupAccessKeyIDs, access keys of another user than the one asked;
	// for LookupKeyCallers, events of another key than the one asked.
	Dropped uint64
	// Missing is, for LookupKeyCallers, how many keys of open rotations
	// the last attempt did not read in every region it should have
	// (denied, throttled, over the cap, out of time, or no known key ID):
	// their callers are the last ones read, or none.
	Missing int
}

// Origin says where a caller of a key ran, as far as its event tells.
type Origin string

const (
	// OriginVPCEndpoint: the call came through a VPC endpoint.
	OriginVPCEndpoint Origin = "vpc_endpoint"
	// OriginAWSService: an AWS service called on the user's behalf (the
	// source address is a service name such as cloudformation.amazonaws.com).
	OriginAWSService Origin = "aws_service"
	// OriginAWSIPRange: the source address is in AWS's published ranges.
	OriginAWSIPRange Origin = "aws_ip_range"
	// OriginOther: nothing in the event says the caller ran inside AWS.
	OriginOther Origin = "other"
)

// InsideAWS reports whether the caller ran inside AWS, where a role would
// serve it instead of a key.
func (o Origin) InsideAWS() bool { return o != OriginOther && o != "" }

// KeyCaller is one caller of an access key, summarised from the CloudTrail
// events sampled across a window (cloudtrail:LookupEvents). Its text fields
// come from whoever called AWS: they are truncated and hold no control
// characters.
type KeyCaller struct {
	SourceIP    string
	UserAgent   string
	EventSource string
	Origin      Origin
	LastSeen    time.Time
	// Events counts the sampled events of this caller, not all of them.
	Events int
}

// tagKeyRE is IAM's and Organizations' pattern for a tag key.
var tagKeyRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$`)

// TagKeys is an allowlist of tag keys. Keys match case-insensitively, as IAM
// treats user tag keys; when a resource carries two keys that differ only
// in case (possible in Organizations), the one spelt as in the list wins.
type TagKeys []string

// ParseTagKeys checks an allowlist given as repeated and comma-separated
// values ("owner,team", "cost-center"). Blank entries are dropped and a key
// given twice is kept once.
func ParseTagKeys(values []string) (TagKeys, error) {
	var keys TagKeys
	for _, v := range values {
		for k := range strings.SplitSeq(v, ",") {
			k = strings.TrimSpace(k)
			if k == "" {
				continue
			}
			if !tagKeyRE.MatchString(k) {
				return nil, fmt.Errorf("%q is not a tag key (1-128 letters, digits, spaces and _.:/=+-@)", k)
			}
			if slices.ContainsFunc(keys, func(have string) bool { return strings.EqualFold(have, k) }) {
				continue
			}
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// Select returns the allowed tags among tags, in the allowlist's order. An
// empty value is kept: the tag is there, its value is "".
func (keys TagKeys) Select(tags []Tag) []Tag {
	var out []Tag
	for _, k := range keys {
		i := slices.IndexFunc(tags, func(t Tag) bool { return t.Key == k })
		if i < 0 {
			i = slices.IndexFunc(tags, func(t Tag) bool { return strings.EqualFold(t.Key, k) })
		}
		if i >= 0 {
			out = append(out, Tag{Key: k, Value: tags[i].Value})
		}
	}
	return out
}
