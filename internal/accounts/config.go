package accounts

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

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

// LoadConfig reads and checks a config file. A problem of shape (an
// unknown field, a value of the wrong type) is reported as the YAML decoder
// words it, with its line; otherwise every problem with the values is
// reported, naming its entry, so that a user can fix them all in one pass.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config file: %w", err)
	}
	var f configFile
	if err := decodeYAML(data, &f); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	// `organization:` with its settings commented out still means
	// "discover", though it decodes as nil.
	if f.Organization == nil && hasKey(data, "organization") {
		f.Organization = &OrgConfig{}
	}
	if o := f.Organization; o != nil {
		o.RoleName = cmp.Or(o.RoleName, DefaultOrgRoleName)
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return f.config(), nil
}

// Validate checks the values of the file and reports every problem.
func (f *configFile) Validate() error {
	p := f.validateAccounts()
	if o := f.Organization; o != nil {
		if err := o.Validate(); err != nil {
			p.add("organization", "%w", err)
		}
	}
	for _, l := range []struct {
		name string
		list []*string
	}{{"include", f.Include}, {"exclude", f.Exclude}} {
		for i, s := range strs(l.list) {
			if strings.TrimSpace(s) == "" {
				p.add(fmt.Sprintf("%s[%d]", l.name, i), "empty; give an account ID or name")
			}
		}
	}
	for _, l := range []struct {
		name string
		list []*string
	}{{"user_tags", f.UserTags}, {"account_tags", f.AccountTags}} {
		for i, s := range strs(l.list) {
			where := fmt.Sprintf("%s[%d]", l.name, i)
			if k, err := report.ParseTagKeys([]string{s}); err != nil {
				p.add(where, "%w", err)
			} else if len(k) == 0 {
				p.add(where, "empty; give a tag key")
			}
		}
	}
	if len(f.AccountTags) > 0 && f.Organization == nil {
		p.add("account_tags", "account tags are read from Organizations; enable discovery with organization")
	}
	if len(f.Accounts) == 0 && f.Organization == nil {
		p = append(p, errors.New("no accounts to read: list them under accounts, or enable discovery with organization"))
	}
	return errors.Join(p...)
}

func (f *configFile) validateAccounts() problems {
	var (
		p          problems
		ids, names = map[string]string{}, map[string]string{} // the entry of each
		partition  string
		first      string // the entry that set partition
		ambient    string // the entry read with the exporter's own credentials
	)
	for i, a := range f.Accounts {
		if a == nil {
			a = &accountEntry{}
		}
		id := a.ID
		part, arnID, arnErr := ParseRoleARN(a.RoleARN)
		if a.RoleARN != "" && arnErr == nil {
			id = arnID
		}
		index := fmt.Sprintf("accounts[%d]", i)
		where := entry(index, id, a.Name)
		switch {
		case a.RoleARN != "" && a.Ambient:
			p.add(where, "role_arn and ambient: true exclude each other; ambient reads the account of the exporter's own credentials")
			continue
		case a.RoleARN != "":
			if arnErr != nil {
				p.add(where, "role_arn: %w", arnErr)
				continue
			}
			if partition == "" {
				partition, first = part, index
			} else if part != partition {
				p.add(where, "role_arn: partition %s differs from %s of %s; one exporter reads one partition", part, partition, first)
			}
			if a.ID != "" && a.ID != id {
				p.add(where, "id: %s is not the account of role_arn (%s); leave id out, it is taken from role_arn", a.ID, id)
			}
			if a.ExternalID != "" {
				if err := CheckExternalID(a.ExternalID); err != nil {
					p.add(where, "external_id: %w", err)
				}
			}
		case a.Ambient:
			if ambient != "" {
				p.add(where, "ambient: only one account can be read with the exporter's own credentials, and %s already is", ambient)
			} else {
				ambient = index
			}
			if a.ExternalID != "" {
				p.add(where, "external_id: needs role_arn; the exporter's own credentials assume no role")
			}
			switch {
			case id == "":
				p.add(where, "ambient: true needs id, the 12-digit account of the exporter's own credentials")
				continue
			case !accountIDRE.MatchString(id):
				p.add(where, "id: %q is not a 12-digit account ID (quote IDs that start with 0)", id)
				continue
			}
		default:
			p.add(where, "role_arn is required (or ambient: true for the account of the exporter's own credentials)")
			continue
		}

		if prev, dup := ids[id]; dup {
			p.add(where, "account %s is already listed as %s", id, prev)
		} else {
			ids[id] = index
		}
		if a.Name != "" {
			if prev, dup := names[a.Name]; dup {
				p.add(where, "name: %q is already the name of %s", a.Name, prev)
			} else {
				names[a.Name] = index
			}
		}
	}
	return p
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

// decodeYAML decodes data into v, refusing fields that v does not have. A
// file of only comments decodes as an empty one.
func decodeYAML(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// hasKey reports whether the top level of data sets key, even to nothing,
// which decodes as if key were left out.
func hasKey(data []byte, key string) bool {
	var top map[string]yaml.Node
	_ = yaml.Unmarshal(data, &top) // decodeYAML has reported any problem
	_, ok := top[key]
	return ok
}

// entry names an entry of a list for a message: its index and what
// identifies it, as in accounts[2] (123456789012 production). The decoder
// keeps no lines for the values it has decoded.
func entry(index string, ids ...string) string {
	if ids = slices.DeleteFunc(ids, func(s string) bool { return s == "" }); len(ids) > 0 {
		return index + " (" + strings.Join(ids, " ") + ")"
	}
	return index
}

// problems are what is wrong with a file's values, each naming where.
type problems []error

func (p *problems) add(where, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%s: "+format, append([]any{where}, args...)...))
}
