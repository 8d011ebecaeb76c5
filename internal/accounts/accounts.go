// Package accounts holds the rules of which AWS accounts the exporter reads
// and how it reaches each one: the YAML config file, role ARNs and their
// external IDs, the role assumed in discovered accounts, include/exclude
// lists, and the shard that lets several exporter replicas split a large
// organization. It makes no AWS calls: awsapi lists the organization's
// accounts, and internal/selection applies these rules to that list and
// to the flags.
package accounts

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// Account is one AWS account whose credential report is exported.
type Account struct {
	ID         string // 12 digits
	Name       string // from Organizations or the config file; may be ""
	RoleARN    string // role to assume; "" means the exporter's ambient credentials
	ExternalID string // passed when assuming RoleARN; may be ""
}

var (
	accountIDRE = regexp.MustCompile(`^[0-9]{12}$`)
	// IAM's own limits: role names are [\w+=,.@-]{1,64}; paths are printable
	// ASCII up to 512 characters.
	roleNameRE   = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	rolePathRE   = regexp.MustCompile(`^[\x21-\x7e]{0,512}$`)
	externalIDRE = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
)

// ValidID reports whether id is an AWS account ID: 12 digits.
func ValidID(id string) bool { return accountIDRE.MatchString(id) }

func knownPartition(name string) bool {
	_, ok := report.LookupPartition(name)
	return ok
}

const roleARNForm = "arn:<partition>:iam::<12-digit account>:role/<path/>name"

// ParseRoleARN checks that roleARN names an IAM role
// (arn:<partition>:iam::<12 digits>:role/<path/>name) and returns its
// partition and account.
func ParseRoleARN(roleARN string) (partition, accountID string, err error) {
	a, err := arn.Parse(roleARN)
	if err != nil {
		return "", "", fmt.Errorf("%q is not an ARN (%s): %w", roleARN, roleARNForm, err)
	}
	var problem error
	switch {
	case !knownPartition(a.Partition):
		problem = fmt.Errorf("partition %q is not one of %s", a.Partition, report.PartitionNames())
	case a.Service != "iam":
		// A common slip is pasting the caller identity's
		// arn:aws:sts::…:assumed-role/… instead of the role.
		problem = fmt.Errorf("service is %q, not iam", a.Service)
	case a.Region != "":
		problem = fmt.Errorf("IAM ARNs have no region, this one has %q", a.Region)
	case !accountIDRE.MatchString(a.AccountID):
		problem = fmt.Errorf("account %q is not 12 digits", a.AccountID)
	case !strings.HasPrefix(a.Resource, "role/"):
		problem = fmt.Errorf("resource %q does not start with role/", a.Resource)
	default:
		problem = checkRolePathName(strings.TrimPrefix(a.Resource, "role/"))
	}
	if problem != nil {
		return "", "", fmt.Errorf("%q is not an IAM role ARN (%s): %w", roleARN, roleARNForm, problem)
	}
	return a.Partition, a.AccountID, nil
}

// checkRolePathName checks the part of a role ARN after "role/": an optional
// path ("audit/") and the role name.
func checkRolePathName(pathName string) error {
	i := strings.LastIndexByte(pathName, '/')
	path, name := pathName[:i+1], pathName[i+1:]
	if !roleNameRE.MatchString(name) {
		return fmt.Errorf("role name %q is not 1 to 64 of letters, digits and +=,.@_-", name)
	}
	if !rolePathRE.MatchString(path) {
		return fmt.Errorf("role path %q is not up to 512 printable ASCII characters", path)
	}
	return nil
}

// RoleARN builds the ARN of a role that has the same name in every account,
// such as the role Organizations discovery assumes. roleName may carry a
// path ("audit/iam-reader").
func RoleARN(partition, accountID, roleName string) string {
	return "arn:" + partition + ":iam::" + accountID + ":role/" + strings.TrimPrefix(roleName, "/")
}

// CheckExternalID checks an external ID against IAM's limits before any
// AWS call, so a typo fails at start instead of as one AssumeRole error per
// account.
func CheckExternalID(id string) error {
	if len(id) < 2 || len(id) > 1224 || !externalIDRE.MatchString(id) {
		return fmt.Errorf("external ID must be 2 to 1224 of letters, digits and +=,.@:/-")
	}
	return nil
}

// DefaultOrgRoleName is the role Organizations creates in every account it
// creates, and so the one most organizations can assume without setup. It
// grants administrator access; a dedicated read-only role is the better
// choice where one can be rolled out.
const DefaultOrgRoleName = "OrganizationAccountAccessRole"

// OrgConfig says how to reach the accounts that Organizations discovery
// finds. The flags and the config file both produce one.
type OrgConfig struct {
	RoleName   string `yaml:"role_name"`   // assumed in each member account; may carry a path
	ExternalID string `yaml:"external_id"` // passed with every AssumeRole; may be ""
}

// Validate checks the role name and external ID before any AWS call, so a
// typo fails at start instead of as one AssumeRole error per account.
func (o OrgConfig) Validate() error {
	if o.RoleName == "" {
		return errors.New("role name is empty")
	}
	if err := checkRolePathName(o.RoleName); err != nil {
		return err
	}
	if o.ExternalID != "" {
		if err := CheckExternalID(o.ExternalID); err != nil {
			return err
		}
	}
	return nil
}

// Filter keeps accounts by ID or name. An entry matches an account whose ID
// equals it, or whose name equals it with each * standing for any run of
// characters. Account names may contain ?, [ and \, so those are literal.
type Filter struct {
	Include, Exclude []string
}

// Keep reports whether a passes the filter: an empty Include keeps every
// account, and Exclude wins over Include.
func (f Filter) Keep(a Account) bool {
	if slices.ContainsFunc(f.Exclude, func(e string) bool { return matches(e, a) }) {
		return false
	}
	return len(f.Include) == 0 || slices.ContainsFunc(f.Include, func(e string) bool { return matches(e, a) })
}

// Validate refuses empty entries, which would otherwise match nothing and
// hide a templating mistake.
func (f Filter) Validate() error {
	for _, list := range []struct {
		name    string
		entries []string
	}{{"include", f.Include}, {"exclude", f.Exclude}} {
		for i, e := range list.entries {
			if strings.TrimSpace(e) == "" {
				return fmt.Errorf("%s[%d] is empty; give an account ID or name", list.name, i)
			}
		}
	}
	return nil
}

func matches(entry string, a Account) bool {
	return entry == a.ID || globMatch(entry, a.Name)
}

// globMatch matches s against pattern, where only * is special.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	first, last := parts[0], parts[len(parts)-1]
	if !strings.HasPrefix(s, first) {
		return false
	}
	s = s[len(first):]
	// Taking the leftmost match of each middle part leaves the most room for
	// the rest, so no backtracking is needed.
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, last)
}

// Merge combines discovered accounts with configured ones. A configured
// account replaces a discovered one with the same ID, because the file is
// where a user states exceptions (another role, an external ID); it keeps
// the discovered name when it has none of its own. The result is sorted by
// ID so that logs and the landing page list accounts in a stable order.
func Merge(discovered, configured []Account) []Account {
	byID := make(map[string]Account, len(discovered)+len(configured))
	for _, a := range discovered {
		byID[a.ID] = a
	}
	for _, a := range configured {
		if a.Name == "" {
			a.Name = byID[a.ID].Name
		}
		byID[a.ID] = a
	}
	out := make([]Account, 0, len(byID))
	for _, a := range byID {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Account) int { return cmp.Compare(a.ID, b.ID) })
	return out
}
