package accounts

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
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

// LoadConfig reads and checks a config file. Every problem found is
// reported, each as "<path>:<line>: <field>: <what is wrong>", so that a
// user can fix them all in one pass.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config file: %w", err)
	}
	return parseConfig(path, data)
}

// The mappings of the file: what they are called in messages, and their
// fields.
type schema struct {
	what, where string
	fields      []string
}

var (
	topSchema     = schema{"a mapping", "at the top level", []string{"accounts", "organization", "include", "exclude", "user_tags", "account_tags"}}
	accountSchema = schema{"an account (a mapping)", "in an account", []string{"role_arn", "external_id", "name", "id", "ambient"}}
	orgSchema     = schema{"a mapping", "in organization", []string{"role_name", "external_id"}}
)

// parseYAML reads data as one YAML document and returns its root node (nil
// for a file of only comments, which has no document) with an empty list of
// problems to collect against path.
func parseYAML(path, what string, data []byte) (*problems, *yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("parse %s %s: %w", what, path, err)
	}
	if len(doc.Content) == 0 {
		return &problems{path: path}, nil, nil
	}
	return &problems{path: path}, doc.Content[0], nil
}

func parseConfig(path string, data []byte) (*Config, error) {
	p, root, err := parseYAML(path, "config file", data)
	if err != nil {
		return nil, err
	}
	top := p.mapping(root, "config file", topSchema)
	cfg := &Config{}
	accounts := p.node(top.nodes["accounts"], yaml.SequenceNode, "accounts", "a list of accounts").Content
	checkAccounts(p, cfg, accounts)

	// `organization:` with its settings commented out still means "discover".
	orgNode, discover := top.nodes["organization"]
	if discover {
		org := p.mapping(orgNode, "organization", orgSchema)
		cfg.Organization = &OrgConfig{RoleName: cmp.Or(org.str("role_name"), DefaultOrgRoleName), ExternalID: org.str("external_id")}
		if err := checkRolePathName(cfg.Organization.RoleName); err != nil {
			p.add(org.line("role_name"), "organization.role_name: %w", err)
		}
		if id := cfg.Organization.ExternalID; id != "" {
			if err := CheckExternalID(id); err != nil {
				p.add(org.line("external_id"), "organization.external_id: %w", err)
			}
		}
	}

	cfg.Include = checkFilterList(p, "include", top.nodes["include"])
	cfg.Exclude = checkFilterList(p, "exclude", top.nodes["exclude"])
	cfg.UserTags = checkTagList(p, "user_tags", top.nodes["user_tags"])
	cfg.AccountTags = checkTagList(p, "account_tags", top.nodes["account_tags"])
	if len(cfg.AccountTags) > 0 && !discover {
		p.add(top.line("account_tags"), "account_tags: account tags are read from Organizations; enable discovery with organization")
	}

	if len(accounts) == 0 && !discover {
		p.add(top.line("accounts"), "no accounts to read: list them under accounts, or enable discovery with organization")
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func checkAccounts(p *problems, cfg *Config, entries []*yaml.Node) {
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
	for i, entry := range entries {
		where := fmt.Sprintf("accounts[%d]", i)
		a := p.mapping(entry, where, accountSchema)
		roleARN, externalID, id, isAmbient := a.str("role_arn"), a.str("external_id"), a.str("id"), a.flag("ambient")
		acct := Account{Name: a.str("name")}
		switch {
		case roleARN != "" && isAmbient:
			p.add(a.line("ambient"), "%s: role_arn and ambient: true exclude each other; ambient reads the account of the exporter's own credentials", where)
			continue
		case roleARN != "":
			part, arnID, err := ParseRoleARN(roleARN)
			if err != nil {
				p.add(a.line("role_arn"), "%s.role_arn: %w", where, err)
				continue
			}
			if partition == "" {
				partition, first = part, seen{where, a.line("role_arn")}
			} else if part != partition {
				p.add(a.line("role_arn"), "%s.role_arn: partition %s differs from %s of %s (line %d); one exporter reads one partition",
					where, part, partition, first.where, first.line)
			}
			if id != "" && id != arnID {
				p.add(a.line("id"), "%s.id: %s is not the account of role_arn (%s); leave id out, it is taken from role_arn", where, id, arnID)
			}
			if externalID != "" {
				if err := CheckExternalID(externalID); err != nil {
					p.add(a.line("external_id"), "%s.external_id: %w", where, err)
				}
			}
			acct.ID, acct.RoleARN, acct.ExternalID = arnID, roleARN, externalID
		case isAmbient:
			if ambient != nil {
				p.add(a.line("ambient"), "%s.ambient: only one account can be read with the exporter's own credentials, and %s (line %d) already is",
					where, ambient.where, ambient.line)
			} else {
				ambient = &seen{where, a.line("ambient")}
			}
			if externalID != "" {
				p.add(a.line("external_id"), "%s.external_id: needs role_arn; the exporter's own credentials assume no role", where)
			}
			switch {
			case id == "":
				p.add(entry.Line, "%s: ambient: true needs id, the 12-digit account of the exporter's own credentials", where)
				continue
			case !accountIDRE.MatchString(id):
				p.add(a.line("id"), "%s.id: %q is not a 12-digit account ID (quote IDs that start with 0)", where, id)
				continue
			}
			acct.ID = id
		default:
			p.add(entry.Line, "%s: role_arn is required (or ambient: true for the account of the exporter's own credentials)", where)
			continue
		}

		if prev, dup := ids[acct.ID]; dup {
			p.add(entry.Line, "%s: account %s is already listed as %s (line %d)", where, acct.ID, prev.where, prev.line)
		} else {
			ids[acct.ID] = seen{where, entry.Line}
		}
		if acct.Name != "" {
			if prev, dup := names[acct.Name]; dup {
				p.add(a.line("name"), "%s.name: %q is already the name of %s (line %d)", where, acct.Name, prev.where, prev.line)
			} else {
				names[acct.Name] = seen{where, a.line("name")}
			}
		}
		cfg.Accounts = append(cfg.Accounts, acct)
	}
}

func checkFilterList(p *problems, name string, n *yaml.Node) []string {
	var out []string
	for i, item := range p.node(n, yaml.SequenceNode, name, "a list of account IDs or names").Content {
		field := fmt.Sprintf("%s[%d]", name, i)
		var s string
		p.decode(item, field, "an account ID or name", &s)
		if strings.TrimSpace(s) == "" {
			p.add(item.Line, "%s: empty; give an account ID or name", field)
			continue
		}
		out = append(out, s)
	}
	return out
}

func checkTagList(p *problems, name string, n *yaml.Node) report.TagKeys {
	var keys report.TagKeys
	for i, item := range p.node(n, yaml.SequenceNode, name, "a list of tag keys").Content {
		field := fmt.Sprintf("%s[%d]", name, i)
		var s string
		p.decode(item, field, "a tag key", &s)
		k, err := report.ParseTagKeys([]string{s})
		switch {
		case err != nil:
			p.add(item.Line, "%s: %w", field, err)
		case len(k) == 0:
			p.add(item.Line, "%s: empty; give a tag key", field)
		default:
			keys = append(keys, k...)
		}
	}
	return keys
}

// problems collects what is wrong with a config file.
type problems struct {
	path string
	// Problems of shape (unknown fields, wrong types) are reported alone:
	// checking the values read around them would only add confusing
	// follow-up problems.
	shape, value []problem
}

type problem struct {
	line int // 0 when unknown
	err  error
}

func (p *problems) add(line int, format string, args ...any) {
	p.value = append(p.value, problem{line, fmt.Errorf(format, args...)})
}

func (p *problems) addShape(line int, format string, args ...any) {
	p.shape = append(p.shape, problem{line, fmt.Errorf(format, args...)})
}

// err lists the problems in file order, the order a user fixes them in.
func (p *problems) err() error {
	found := p.value
	if len(p.shape) > 0 {
		found = p.shape
	}
	slices.SortStableFunc(found, func(a, b problem) int { return cmp.Compare(a.line, b.line) })
	errs := make([]error, len(found))
	for i, pr := range found {
		where := p.path
		if pr.line > 0 {
			where = fmt.Sprintf("%s:%d", p.path, pr.line)
		}
		errs[i] = fmt.Errorf("%s: %w", where, pr.err)
	}
	return errors.Join(errs...)
}

// wrongType reports that n, the value of field, is not what the file wants
// there. It names YAML's kinds, which the user wrote, not Go's types.
func (p *problems) wrongType(n *yaml.Node, field, want string) {
	r := resolve(n)
	got := strconv.Quote(r.Value)
	switch r.Kind {
	case yaml.MappingNode:
		got = "a mapping"
	case yaml.SequenceNode:
		got = "a list"
	}
	p.addShape(n.Line, "%s: want %s, got %s", field, want, got)
}

// decode decodes n, the value of field, into v; missing or null leaves v
// as it is.
func (p *problems) decode(n *yaml.Node, field, want string, v any) {
	if n != nil && n.Decode(v) != nil {
		p.wrongType(n, field, want)
	}
}

// node returns n, the value of field, if it is of kind. A missing or null
// n, or one of another kind (reported), reads as empty.
func (p *problems) node(n *yaml.Node, kind yaml.Kind, field, want string) *yaml.Node {
	switch r := resolve(n); {
	case r == nil || r.ShortTag() == "!!null":
		return &yaml.Node{Kind: kind}
	case r.Kind != kind:
		p.wrongType(n, field, want)
		return &yaml.Node{Kind: kind}
	default:
		return r
	}
}

// mapping is a mapping of the file, read a field at a time.
type mapping struct {
	p     *problems
	where string // for messages: accounts[1], organization
	nodes map[string]*yaml.Node
}

// mapping reads n, the value of field, checking its keys against s.
func (p *problems) mapping(n *yaml.Node, field string, s schema) mapping {
	n = p.node(n, yaml.MappingNode, field, s.what)
	m := mapping{p: p, where: field, nodes: map[string]*yaml.Node{}}
	for i := 0; i < len(n.Content); i += 2 {
		key := n.Content[i]
		switch {
		case !slices.Contains(s.fields, key.Value):
			p.addShape(key.Line, "unknown field %q %s; valid fields: %s", key.Value, s.where, strings.Join(s.fields, ", "))
		case m.nodes[key.Value] != nil:
			p.addShape(key.Line, "field %q is set twice %s", key.Value, s.where)
		default:
			m.nodes[key.Value] = n.Content[i+1]
		}
	}
	return m
}

func (m mapping) line(key string) int {
	if n := m.nodes[key]; n != nil {
		return n.Line
	}
	return 0
}

func (m mapping) str(key string) (s string) {
	m.p.decode(m.nodes[key], m.where+"."+key, "a string", &s)
	return s
}

func (m mapping) flag(key string) (b bool) {
	m.p.decode(m.nodes[key], m.where+"."+key, "true or false", &b)
	return b
}

// resolve follows an alias (*name) to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.AliasNode {
		return n.Alias
	}
	return n
}
