package accounts

import (
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"

	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		file    string
		want    *Config
		wantErr []string // the exact lines a user sees
	}{
		{
			file: "config-good.yml",
			want: &Config{
				Accounts: []Account{
					{ID: "111122223333", Name: "production", RoleARN: "arn:aws:iam::111122223333:role/audit/iam-reader", ExternalID: "shared-secret"},
					{ID: "011122223333", Name: "staging", RoleARN: "arn:aws:iam::011122223333:role/iam-reader"},
					{ID: "444455556666", Name: "security"},
				},
				Organization: &OrgConfig{RoleName: "audit/iam-reader", ExternalID: "org-secret"},
				Include:      []string{"*"},
				Exclude:      []string{"sandbox-*", "777788889999"},
			},
		},
		{
			// "organization:" with nothing under it still asks for discovery.
			file: "config-organization-defaults.yml",
			want: &Config{
				Organization: &OrgConfig{RoleName: "OrganizationAccountAccessRole"},
				Exclude:      []string{"suspended-*"},
			},
		},
		{
			file: "config-alias.yml",
			want: &Config{
				Accounts: []Account{
					{ID: "111122223333", RoleARN: "arn:aws:iam::111122223333:role/iam-reader", ExternalID: "shared-secret"},
					{ID: "222233334444", RoleARN: "arn:aws:iam::222233334444:role/iam-reader", ExternalID: "shared-secret"},
				},
				Include: []string{"production", "staging"},
				Exclude: []string{"production", "staging"},
			},
		},
		{
			file: "config-tags.yml",
			want: &Config{
				Organization: &OrgConfig{RoleName: "OrganizationAccountAccessRole"},
				UserTags:     report.TagKeys{"owner", "cost-center", "team"},
				AccountTags:  report.TagKeys{"owner"},
			},
		},
		{
			file: "config-tags-bad.yml",
			wantErr: []string{
				`testdata/config-tags-bad.yml:5: user_tags[1]: "team*" is not a tag key (1-128 letters, digits, spaces and _.:/=+-@)`,
				"testdata/config-tags-bad.yml:6: user_tags[2]: empty; give a tag key",
				"testdata/config-tags-bad.yml:7: account_tags: account tags are read from Organizations; enable discovery with organization",
			},
		},
		{
			file: "config-empty.yml",
			wantErr: []string{
				"testdata/config-empty.yml: no accounts to read: list them under accounts, or enable discovery with organization",
			},
		},
		{
			file: "config-empty-accounts.yml",
			wantErr: []string{
				"testdata/config-empty-accounts.yml:1: no accounts to read: list them under accounts, or enable discovery with organization",
			},
		},
		{
			file: "config-unknown-field.yml",
			wantErr: []string{
				`testdata/config-unknown-field.yml:3: unknown field "externalid" in accounts[0]; valid fields: role_arn, external_id, name, id, ambient`,
				`testdata/config-unknown-field.yml:4: unknown field "organisation" at the top level; valid fields: accounts, organization, include, exclude, user_tags, account_tags`,
				`testdata/config-unknown-field.yml:7: unknown field "rolename" in organization; valid fields: role_name, external_id`,
			},
		},
		{
			file: "config-bad-arn.yml",
			wantErr: []string{
				`testdata/config-bad-arn.yml:5: accounts[1].role_arn: "arn:aws:iam::11112222333:role/iam-reader" is not an IAM role ARN (arn:<partition>:iam::<12-digit account>:role/<path/>name): account "11112222333" is not 12 digits`,
				`testdata/config-bad-arn.yml:7: accounts[2].role_arn: "arn:aws:sts::111122223333:assumed-role/iam-reader/session" is not an IAM role ARN (arn:<partition>:iam::<12-digit account>:role/<path/>name): service is "sts", not iam`,
				`testdata/config-bad-arn.yml:9: accounts[3].role_arn: "arn:aws:iam::555566667777:user/alice" is not an IAM role ARN (arn:<partition>:iam::<12-digit account>:role/<path/>name): resource "user/alice" does not start with role/`,
				`testdata/config-bad-arn.yml:11: accounts[4].role_arn: partition aws-cn differs from aws of accounts[0] (line 3); one exporter reads one partition`,
			},
		},
		{
			file: "config-duplicate.yml",
			wantErr: []string{
				`testdata/config-duplicate.yml:4: accounts[1]: account 111122223333 is already listed as accounts[0] (line 2)`,
				`testdata/config-duplicate.yml:7: accounts[2].name: "production" is already the name of accounts[0] (line 3)`,
				`testdata/config-duplicate.yml:10: accounts[4].ambient: only one account can be read with the exporter's own credentials, and accounts[3] (line 8) already is`,
			},
		},
		{
			file: "config-duplicate-key.yml",
			wantErr: []string{
				`testdata/config-duplicate-key.yml:4: field "role_arn" is set twice in accounts[0]`,
				`testdata/config-duplicate-key.yml:6: field "include" is set twice at the top level`,
			},
		},
		{
			file: "config-incomplete.yml",
			wantErr: []string{
				`testdata/config-incomplete.yml:2: accounts[0]: role_arn is required (or ambient: true for the account of the exporter's own credentials)`,
				`testdata/config-incomplete.yml:4: accounts[1]: role_arn and ambient: true exclude each other; ambient reads the account of the exporter's own credentials`,
				`testdata/config-incomplete.yml:5: accounts[2]: ambient: true needs id, the 12-digit account of the exporter's own credentials`,
				`testdata/config-incomplete.yml:7: accounts[3].ambient: only one account can be read with the exporter's own credentials, and accounts[2] (line 5) already is`,
				`testdata/config-incomplete.yml:8: accounts[3].id: "12345" is not a 12-digit account ID (quote IDs that start with 0)`,
				`testdata/config-incomplete.yml:9: accounts[3].external_id: needs role_arn; the exporter's own credentials assume no role`,
				`testdata/config-incomplete.yml:11: accounts[4].id: 999999999999 is not the account of role_arn (222233334444); leave id out, it is taken from role_arn`,
				`testdata/config-incomplete.yml:12: accounts[4].external_id: external ID must be 2 to 1224 of letters, digits and +=,.@:/-`,
				`testdata/config-incomplete.yml:14: organization.role_name: role name "iam reader" is not 1 to 64 of letters, digits and +=,.@_-`,
				`testdata/config-incomplete.yml:17: include[1]: empty; give an account ID or name`,
				`testdata/config-incomplete.yml:18: include[2]: empty; give an account ID or name`, // a bare "-" is null
			},
		},
		{
			file: "config-wrong-type.yml",
			wantErr: []string{
				`testdata/config-wrong-type.yml:2: accounts[0]: want a mapping (role_arn, external_id, name, id, ambient), got "arn:aws:iam::111122223333:role/iam-reader"`,
				`testdata/config-wrong-type.yml:4: accounts[1].ambient: want true or false, got "sometimes"`,
				`testdata/config-wrong-type.yml:5: accounts[2].role_arn: want a string, got a list`,
				`testdata/config-wrong-type.yml:6: accounts[2].name: want a string, got a mapping`,
				`testdata/config-wrong-type.yml:7: organization: want a mapping (role_name, external_id), got a list`,
				`testdata/config-wrong-type.yml:8: include: want a list, got "production"`,
				`testdata/config-wrong-type.yml:10: exclude[0]: want a string, got a list`,
				`testdata/config-wrong-type.yml:11: exclude[1]: want a string, got a list`, // an alias of line 5
			},
		},
		{
			// A value and the mapping that holds it start on one line; the
			// message names the one of the wrong type.
			file: "config-wrong-type-inline.yml",
			wantErr: []string{
				`testdata/config-wrong-type-inline.yml:2: accounts[0].role_arn: want a string, got a mapping`,
				`testdata/config-wrong-type-inline.yml:2: accounts[0].ambient: want true or false, got "5"`,
				`testdata/config-wrong-type-inline.yml:3: accounts[1].role_arn: want a string, got a list`,
				`testdata/config-wrong-type-inline.yml:4: organization: want a mapping (role_name, external_id), got a list`,
				`testdata/config-wrong-type-inline.yml:5: include[0]: want a string, got a list`,
			},
		},
		{
			file: "config-not-a-mapping.yml",
			wantErr: []string{
				`testdata/config-not-a-mapping.yml:1: config file: want a mapping (accounts, organization, include, exclude, user_tags, account_tags), got "hello"`,
			},
		},
		{
			// A bare "-" keeps its place: the indices and lines after it
			// stay right.
			file: "config-null-entry.yml",
			wantErr: []string{
				`testdata/config-null-entry.yml:2: accounts[0]: role_arn is required (or ambient: true for the account of the exporter's own credentials)`,
				`testdata/config-null-entry.yml:4: accounts[1].external_id: external ID must be 2 to 1224 of letters, digits and +=,.@:/-`,
			},
		},
		{
			file: "config-syntax.yml",
			wantErr: []string{
				// yaml v3 names the line of the context (the list), counting from 0.
				"parse config file testdata/config-syntax.yml: yaml: line 1: did not find expected '-' indicator",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := LoadConfig("testdata/" + tt.file)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("LoadConfig succeeded with %+v, want errors:\n%s", got, strings.Join(tt.wantErr, "\n"))
				}
				if gotLines := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(gotLines, tt.wantErr) {
					t.Errorf("LoadConfig errors:\n%s\nwant:\n%s", err, strings.Join(tt.wantErr, "\n"))
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadConfig: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("LoadConfig =\n%#v\nwant\n%#v", got, tt.want)
			}
			if tt.want.Organization != nil {
				if err := got.Organization.Validate(); err != nil {
					t.Errorf("a loaded organization section fails OrgConfig.Validate: %v", err)
				}
			}
		})
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	_, err := LoadConfig("testdata/no-such-file.yml")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("LoadConfig of a missing file = %v, want an error wrapping fs.ErrNotExist", err)
	}
	if want := "read config file: open testdata/no-such-file.yml: no such file or directory"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

func TestConfigFilter(t *testing.T) {
	cfg, err := LoadConfig("testdata/config-good.yml")
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Filter()
	tests := []struct {
		account Account
		keep    bool
	}{
		{Account{ID: "111122223333", Name: "production"}, true},
		{Account{ID: "222233334444", Name: "sandbox-bob"}, false},
		{Account{ID: "777788889999", Name: "legacy"}, false},
	}
	for _, tt := range tests {
		if got := f.Keep(tt.account); got != tt.keep {
			t.Errorf("config-good.yml filter keeps %+v = %v, want %v", tt.account, got, tt.keep)
		}
	}
}

func TestOrgConfigValidate(t *testing.T) {
	tests := []struct {
		org     OrgConfig
		wantErr string
	}{
		{OrgConfig{RoleName: DefaultOrgRoleName}, ""},
		{OrgConfig{RoleName: "audit/iam-reader", ExternalID: "abc"}, ""},
		{OrgConfig{}, "role name is empty"},
		{OrgConfig{RoleName: "iam reader"}, `role name "iam reader" is not 1 to 64 of letters, digits and +=,.@_-`},
		{OrgConfig{RoleName: "r", ExternalID: "a b"}, "external ID must be 2 to 1224 of letters, digits and +=,.@:/-"},
	}
	for _, tt := range tests {
		if got := errText(tt.org.Validate()); got != tt.wantErr {
			t.Errorf("%+v.Validate() = %q, want %q", tt.org, got, tt.wantErr)
		}
	}
}
