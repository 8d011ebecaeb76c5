package accounts

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v2"
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
type Config struct {
	Accounts         []Account  // listed in the file, IDs taken from the role ARNs
	Organization     *OrgConfig // nil: no discovery
	Include, Exclude []string
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

// The file's schema as decoded. Every value is located so that checks made
// after decoding can still name its line.
type fileConfig struct {
	Accounts     located[[]located[fileAccount]] `yaml:"accounts"`
	Organization *located[fileOrg]               `yaml:"organization"`
	Include      located[[]located[string]]      `yaml:"include"`
	Exclude      located[[]located[string]]      `yaml:"exclude"`
}

type fileAccount struct {
	RoleARN    located[string] `yaml:"role_arn"`
	ExternalID located[string] `yaml:"external_id"`
	Name       located[string] `yaml:"name"`
	ID         located[string] `yaml:"id"`
	Ambient    located[bool]   `yaml:"ambient"`
}

type fileOrg struct {
	RoleName   located[string] `yaml:"role_name"`
	ExternalID located[string] `yaml:"external_id"`
}

// located is a decoded value and the line it starts on (0 when the value is
// null, for which yaml does not call UnmarshalYAML).
type located[T any] struct {
	value T
	line  int
}

func (l *located[T]) UnmarshalYAML(unmarshal func(any) error) error {
	if err := unmarshal(&l.value); err != nil {
		return err
	}
	l.line = nodeLine(unmarshal)
	return nil
}

// nodeLine returns the line of the node that unmarshal decodes. yaml v2
// keeps node positions private and shows them only in type errors, so
// nodeLine provokes one: no YAML node decodes into a channel. The
// TestLoadConfig cases pin the line numbers, so a change in the library's
// message would fail them rather than silently lose lines.
func nodeLine(unmarshal func(any) error) int {
	var probe chan struct{}
	var typeErr *yaml.TypeError
	if err := unmarshal(&probe); !errors.As(err, &typeErr) || len(typeErr.Errors) == 0 {
		return 0
	}
	line, _, _ := splitLine(typeErr.Errors[0])
	return line
}

var lineRE = regexp.MustCompile(`^line (\d+): (.*)$`)

func splitLine(msg string) (line int, rest string, ok bool) {
	m := lineRE.FindStringSubmatch(msg)
	if m == nil {
		return 0, msg, false
	}
	line, err := strconv.Atoi(m[1])
	if err != nil {
		return 0, msg, false
	}
	return line, m[2], true
}

// problems collects what is wrong with a config file.
type problems struct {
	path  string
	found []problem
}

type problem struct {
	line int // 0 when unknown
	err  error
}

func (p *problems) add(line int, format string, args ...any) {
	err := fmt.Errorf(format, args...)
	if line > 0 {
		err = fmt.Errorf("%s:%d: %w", p.path, line, err)
	} else {
		err = fmt.Errorf("%s: %w", p.path, err)
	}
	p.found = append(p.found, problem{line, err})
}

// err lists the problems in file order, the order a user fixes them in.
func (p *problems) err() error {
	slices.SortStableFunc(p.found, func(a, b problem) int { return cmp.Compare(a.line, b.line) })
	errs := make([]error, len(p.found))
	for i, pr := range p.found {
		errs[i] = pr.err
	}
	return errors.Join(errs...)
}

func parseConfig(path string, data []byte) (*Config, error) {
	var f fileConfig
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		var typeErr *yaml.TypeError
		if !errors.As(err, &typeErr) {
			return nil, fmt.Errorf("parse config file %s: %w", path, err)
		}
		// Checking a half-decoded file would only add confusing follow-up
		// problems, so decoding problems are reported alone.
		p := &problems{path: path}
		for _, msg := range typeErr.Errors {
			line, rest, _ := splitLine(msg)
			p.add(line, "%s", explainDecodeError(rest))
		}
		return nil, p.err()
	}

	p := &problems{path: path}
	cfg := &Config{}
	checkAccounts(p, cfg, f.Accounts.value)

	orgPresent := f.Organization != nil || hasNullKey(data, "organization")
	if orgPresent {
		org := OrgConfig{RoleName: DefaultOrgRoleName}
		if f.Organization != nil {
			fo := f.Organization.value
			if fo.RoleName.value != "" {
				org.RoleName = fo.RoleName.value
				if err := checkRolePathName(org.RoleName); err != nil {
					p.add(fo.RoleName.line, "organization.role_name: %w", err)
				}
			}
			if fo.ExternalID.value != "" {
				org.ExternalID = fo.ExternalID.value
				if err := checkExternalID(org.ExternalID); err != nil {
					p.add(fo.ExternalID.line, "organization.external_id: %w", err)
				}
			}
		}
		cfg.Organization = &org
	}

	cfg.Include = checkFilterList(p, "include", f.Include)
	cfg.Exclude = checkFilterList(p, "exclude", f.Exclude)

	if len(f.Accounts.value) == 0 && !orgPresent {
		p.add(f.Accounts.line, "no accounts to read: list them under accounts, or enable discovery with organization")
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func checkAccounts(p *problems, cfg *Config, entries []located[fileAccount]) {
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
		a := entry.value
		where := fmt.Sprintf("accounts[%d]", i)
		acct := Account{Name: a.Name.value}
		switch {
		case a.RoleARN.value != "" && a.Ambient.value:
			p.add(a.Ambient.line, "%s: role_arn and ambient: true exclude each other; ambient reads the account of the exporter's own credentials", where)
			continue
		case a.RoleARN.value != "":
			part, id, err := ParseRoleARN(a.RoleARN.value)
			if err != nil {
				p.add(a.RoleARN.line, "%s.role_arn: %w", where, err)
				continue
			}
			if partition == "" {
				partition, first = part, seen{where, a.RoleARN.line}
			} else if part != partition {
				p.add(a.RoleARN.line, "%s.role_arn: partition %s differs from %s of %s (line %d); one exporter reads one partition",
					where, part, partition, first.where, first.line)
			}
			if a.ID.value != "" && a.ID.value != id {
				p.add(a.ID.line, "%s.id: %s is not the account of role_arn (%s); leave id out, it is taken from role_arn", where, a.ID.value, id)
			}
			if a.ExternalID.value != "" {
				if err := checkExternalID(a.ExternalID.value); err != nil {
					p.add(a.ExternalID.line, "%s.external_id: %w", where, err)
				}
			}
			acct.ID, acct.RoleARN, acct.ExternalID = id, a.RoleARN.value, a.ExternalID.value
		case a.Ambient.value:
			if ambient != nil {
				p.add(a.Ambient.line, "%s.ambient: only one account can be read with the exporter's own credentials, and %s (line %d) already is",
					where, ambient.where, ambient.line)
			} else {
				ambient = &seen{where, a.Ambient.line}
			}
			if a.ExternalID.value != "" {
				p.add(a.ExternalID.line, "%s.external_id: needs role_arn; the exporter's own credentials assume no role", where)
			}
			switch {
			case a.ID.value == "":
				p.add(entry.line, "%s: ambient: true needs id, the 12-digit account of the exporter's own credentials", where)
				continue
			case !accountIDRE.MatchString(a.ID.value):
				p.add(a.ID.line, "%s.id: %q is not a 12-digit account ID (quote IDs that start with 0)", where, a.ID.value)
				continue
			}
			acct.ID = a.ID.value
		default:
			p.add(entry.line, "%s: role_arn is required (or ambient: true for the account of the exporter's own credentials)", where)
			continue
		}

		if prev, dup := ids[acct.ID]; dup {
			p.add(entry.line, "%s: account %s is already listed as %s (line %d)", where, acct.ID, prev.where, prev.line)
		} else {
			ids[acct.ID] = seen{where, entry.line}
		}
		if acct.Name != "" {
			if prev, dup := names[acct.Name]; dup {
				p.add(a.Name.line, "%s.name: %q is already the name of %s (line %d)", where, acct.Name, prev.where, prev.line)
			} else {
				names[acct.Name] = seen{where, a.Name.line}
			}
		}
		cfg.Accounts = append(cfg.Accounts, acct)
	}
}

func checkFilterList(p *problems, name string, list located[[]located[string]]) []string {
	var out []string
	for i, e := range list.value {
		if strings.TrimSpace(e.value) == "" {
			line := e.line
			if line == 0 { // a null entry has no line of its own
				line = list.line
			}
			p.add(line, "%s[%d]: empty; give an account ID or name", name, i)
			continue
		}
		out = append(out, e.value)
	}
	return out
}

// hasNullKey reports whether the top-level mapping has key with a null
// value, which decodes like an absent key. `organization:` with its
// settings commented out still means "discover".
func hasNullKey(data []byte, key string) bool {
	var top yaml.MapSlice
	if err := yaml.Unmarshal(data, &top); err != nil {
		return false
	}
	for _, item := range top {
		if item.Key == key && item.Value == nil {
			return true
		}
	}
	return false
}

// Decoding errors name Go types; users know the file's fields instead.
var (
	decodeFieldRE = regexp.MustCompile(`^field (\S+) (not found|already set) in type (\S+)$`)

	schemaParts = map[string]struct{ where, what string }{
		reflect.TypeFor[fileConfig]().String():  {"at the top level", "the config file (a mapping)"},
		reflect.TypeFor[fileAccount]().String(): {"in an account", "an account (a mapping)"},
		reflect.TypeFor[fileOrg]().String():     {"in organization", "organization (a mapping)"},
	}
	schemaFields = map[string]string{
		reflect.TypeFor[fileConfig]().String():  yamlFields[fileConfig](),
		reflect.TypeFor[fileAccount]().String(): yamlFields[fileAccount](),
		reflect.TypeFor[fileOrg]().String():     yamlFields[fileOrg](),
	}
	typeNames = strings.NewReplacer(
		reflect.TypeFor[[]located[fileAccount]]().String(), "a list of accounts",
		reflect.TypeFor[[]located[string]]().String(), "a list of account IDs or names",
		reflect.TypeFor[fileConfig]().String(), schemaParts[reflect.TypeFor[fileConfig]().String()].what,
		reflect.TypeFor[fileAccount]().String(), schemaParts[reflect.TypeFor[fileAccount]().String()].what,
		reflect.TypeFor[fileOrg]().String(), schemaParts[reflect.TypeFor[fileOrg]().String()].what,
	)
)

func explainDecodeError(msg string) string {
	m := decodeFieldRE.FindStringSubmatch(msg)
	if m == nil {
		return typeNames.Replace(msg)
	}
	field, kind, goType := m[1], m[2], m[3]
	if kind == "already set" {
		return fmt.Sprintf("field %q is set twice %s", field, schemaParts[goType].where)
	}
	return fmt.Sprintf("unknown field %q %s; valid fields: %s", field, schemaParts[goType].where, schemaFields[goType])
}

func yamlFields[T any]() string {
	t := reflect.TypeFor[T]()
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		names = append(names, name)
	}
	return strings.Join(names, ", ")
}
