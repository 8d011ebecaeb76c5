package accounts

import (
	"cmp"
	"fmt"
	"os"
	"strings"

	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// Config is what the config file (--config.file) asks for. An example:
//
//	accounts:
//	  - role_arn: arn:aws:iam::111122223333:role/audit/iam-reader
//	    external_id: shared-secret
//	    name: production
//	  - ambient: true          # the account of the exporter's own credentials
//	    id: "444455556666"
//	    name: security
//	organization:              # discover ACTIVE accounts; {} or empty for the defaults
//	  role_name: audit/iam-reader   # default OrganizationAccountAccessRole
//	  external_id: shared-secret
//	include: ["*"]             # account IDs or names; * matches any run of characters
//	exclude: ["sandbox-*", "777788889999"]
//	user_tags: [owner, team]   # added to --aws.user-tags
//	account_tags: [owner]      # added to --aws.account-tags (needs discovery)
type Config struct {
	Accounts         []Account  // listed in the file, IDs taken from the role ARNs
	Organization     *OrgConfig // nil: no discovery
	Include, Exclude []string
	// UserTags and AccountTags are tag keys to export, as in the flags.
	UserTags, AccountTags report.TagKeys
}

// Filter returns the file's include and exclude lists.
func (c *Config) Filter() Filter {
	return Filter{Include: c.Include, Exclude: c.Exclude}
}

// configFile is the config file as written. A bare "-" in a list decodes
// as nil and keeps its place, so the indices in messages stay right.
type configFile struct {
	Accounts     []*accountEntry `yaml:"accounts"`
	Organization *OrgConfig      `yaml:"organization"`
	Include      []*string       `yaml:"include"`
	Exclude      []*string       `yaml:"exclude"`
	UserTags     []*string       `yaml:"user_tags"`
	AccountTags  []*string       `yaml:"account_tags"`
}

type accountEntry struct {
	RoleARN    string `yaml:"role_arn"`
	ExternalID string `yaml:"external_id"`
	Name       string `yaml:"name"`
	ID         string `yaml:"id"`
	Ambient    bool   `yaml:"ambient"`
}

// LoadConfig reads and checks a config file. Every problem found is
// reported, each as "<path>:<line>: <field>: <what is wrong>", so that a
// user can fix them all in one pass.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config file: %w", err)
	}
	var f configFile
	src, err := decode("config file", path, data, &f)
	if err != nil {
		return nil, err
	}
	// `organization:` with its settings commented out still means
	// "discover", though it decodes as nil.
	if _, set := src.lines["organization"]; set && f.Organization == nil {
		f.Organization = &OrgConfig{}
	}
	if o := f.Organization; o != nil {
		o.RoleName = cmp.Or(o.RoleName, DefaultOrgRoleName)
	}
	if err := f.Validate(src); err != nil {
		return nil, err
	}
	return f.config(), nil
}

// Validate checks what the file asks for and reports every problem, each
// at the line src gives for it.
func (f *configFile) Validate(src *source) error {
	f.validateAccounts(src)
	if o := f.Organization; o != nil {
		if err := checkRolePathName(o.RoleName); err != nil {
			src.add("organization.role_name", "organization.role_name: %w", err)
		}
		if o.ExternalID != "" {
			if err := CheckExternalID(o.ExternalID); err != nil {
				src.add("organization.external_id", "organization.external_id: %w", err)
			}
		}
	}
	for name, list := range map[string][]*string{"include": f.Include, "exclude": f.Exclude} {
		for i, s := range strs(list) {
			if strings.TrimSpace(s) == "" {
				field := fmt.Sprintf("%s[%d]", name, i)
				src.add(field, "%s: empty; give an account ID or name", field)
			}
		}
	}
	for name, list := range map[string][]*string{"user_tags": f.UserTags, "account_tags": f.AccountTags} {
		for i, s := range strs(list) {
			field := fmt.Sprintf("%s[%d]", name, i)
			if k, err := report.ParseTagKeys([]string{s}); err != nil {
				src.add(field, "%s: %w", field, err)
			} else if len(k) == 0 {
				src.add(field, "%s: empty; give a tag key", field)
			}
		}
	}
	if len(f.AccountTags) > 0 && f.Organization == nil {
		src.add("account_tags", "account_tags: account tags are read from Organizations; enable discovery with organization")
	}
	if len(f.Accounts) == 0 && f.Organization == nil {
		src.add("accounts", "no accounts to read: list them under accounts, or enable discovery with organization")
	}
	return src.err()
}

func (f *configFile) validateAccounts(src *source) {
	type seen struct {
		where string
		line  int
	}
	var (
		ids, names = map[string]seen{}, map[string]seen{}
		partition  string
		first      seen // the account that set partition
		ambient    *seen
	)
	for i, a := range f.Accounts {
		where := fmt.Sprintf("accounts[%d]", i)
		if a == nil {
			a = &accountEntry{}
		}
		id := a.ID
		switch {
		case a.RoleARN != "" && a.Ambient:
			src.add(where+".ambient", "%s: role_arn and ambient: true exclude each other; ambient reads the account of the exporter's own credentials", where)
			continue
		case a.RoleARN != "":
			part, arnID, err := ParseRoleARN(a.RoleARN)
			if err != nil {
				src.add(where+".role_arn", "%s.role_arn: %w", where, err)
				continue
			}
			if partition == "" {
				partition, first = part, seen{where, src.line(where + ".role_arn")}
			} else if part != partition {
				src.add(where+".role_arn", "%s.role_arn: partition %s differs from %s of %s (line %d); one exporter reads one partition",
					where, part, partition, first.where, first.line)
			}
			if id != "" && id != arnID {
				src.add(where+".id", "%s.id: %s is not the account of role_arn (%s); leave id out, it is taken from role_arn", where, id, arnID)
			}
			if a.ExternalID != "" {
				if err := CheckExternalID(a.ExternalID); err != nil {
					src.add(where+".external_id", "%s.external_id: %w", where, err)
				}
			}
			id = arnID
		case a.Ambient:
			if ambient != nil {
				src.add(where+".ambient", "%s.ambient: only one account can be read with the exporter's own credentials, and %s (line %d) already is",
					where, ambient.where, ambient.line)
			} else {
				ambient = &seen{where, src.line(where + ".ambient")}
			}
			if a.ExternalID != "" {
				src.add(where+".external_id", "%s.external_id: needs role_arn; the exporter's own credentials assume no role", where)
			}
			switch {
			case id == "":
				src.add(where, "%s: ambient: true needs id, the 12-digit account of the exporter's own credentials", where)
				continue
			case !accountIDRE.MatchString(id):
				src.add(where+".id", "%s.id: %q is not a 12-digit account ID (quote IDs that start with 0)", where, id)
				continue
			}
		default:
			src.add(where, "%s: role_arn is required (or ambient: true for the account of the exporter's own credentials)", where)
			continue
		}

		if prev, dup := ids[id]; dup {
			src.add(where, "%s: account %s is already listed as %s (line %d)", where, id, prev.where, prev.line)
		} else {
			ids[id] = seen{where, src.line(where)}
		}
		if a.Name != "" {
			if prev, dup := names[a.Name]; dup {
				src.add(where+".name", "%s.name: %q is already the name of %s (line %d)", where, a.Name, prev.where, prev.line)
			} else {
				names[a.Name] = seen{where, src.line(where + ".name")}
			}
		}
	}
}

// config returns what a valid file asks for.
func (f *configFile) config() *Config {
	cfg := &Config{Organization: f.Organization, Include: strs(f.Include), Exclude: strs(f.Exclude)}
	for _, a := range f.Accounts {
		acct := Account{ID: a.ID, Name: a.Name}
		if a.RoleARN != "" {
			_, acct.ID, _ = ParseRoleARN(a.RoleARN)
			acct.RoleARN, acct.ExternalID = a.RoleARN, a.ExternalID
		}
		cfg.Accounts = append(cfg.Accounts, acct)
	}
	// One key at a time, as Validate checks them.
	for _, s := range strs(f.UserTags) {
		k, _ := report.ParseTagKeys([]string{s})
		cfg.UserTags = append(cfg.UserTags, k...)
	}
	for _, s := range strs(f.AccountTags) {
		k, _ := report.ParseTagKeys([]string{s})
		cfg.AccountTags = append(cfg.AccountTags, k...)
	}
	return cfg
}

// strs returns list with a bare "-" as "".
func strs(list []*string) []string {
	var out []string
	for _, s := range list {
		if s == nil {
			s = new(string)
		}
		out = append(out, *s)
	}
	return out
}
