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
		wantErr []string // each in what a user sees
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
				`config file testdata/config-tags-bad.yml: user_tags[1]: "team*" is not a tag key (1-128 letters, digits, spaces and _.:/=+-@)`,
				"user_tags[2]: empty; give a tag key",
				"account_tags: account tags are read from Organizations; enable discovery with organization",
			},
		},
		{
			file: "config-empty.yml",
			wantErr: []string{
				"config file testdata/config-empty.yml: no accounts to read: list them under accounts, or enable discovery with organization",
			},
		},
		{
			file: "config-empty-accounts.yml",
			wantErr: []string{
				"config file testdata/config-empty-accounts.yml: no accounts to read: list them under accounts, or enable discovery with organization",
			},
		},
		// Problems of shape are the decoder's, with their lines.
		{
			file: "config-unknown-field.yml",
			wantErr: []string{
				"config file testdata/config-unknown-field.yml: yaml: unmarshal errors:",
				"line 3: field externalid not found in type accounts.accountEntry",
				"line 4: field organisation not found in type accounts.configFile",
				"line 7: field rolename not found in type accounts.OrgConfig",
			},
		},
		{
			file: "config-bad-arn.yml",
			wantErr: []string{
				`accounts[1] (staging): role_arn: "arn:aws:iam::11112222333:role/iam-reader" is not an IAM role ARN (arn:<partition>:iam::<12-digit account>:role/<path/>name): account "11112222333" is not 12 digits`,
				`accounts[2] (caller): role_arn: "arn:aws:sts::111122223333:assumed-role/iam-reader/session" is not an IAM role ARN`,
				`accounts[3] (user): role_arn: "arn:aws:iam::555566667777:user/alice" is not an IAM role ARN`,
				"accounts[4] (888899990000 china): role_arn: partition aws-cn differs from aws of accounts[0]; one exporter reads one partition",
			},
		},
		{
			file: "config-duplicate.yml",
			wantErr: []string{
				"accounts[1] (111122223333 production-again): account 111122223333 is already listed as accounts[0]",
				`accounts[2] (222233334444 production): name: "production" is already the name of accounts[0]`,
				"accounts[4] (666677778888): ambient: only one account can be read with the exporter's own credentials, and accounts[3] already is",
			},
		},
		{
			// The decoder reports the first repeated key only.
			file:    "config-duplicate-key.yml",
			wantErr: []string{`line 6: mapping key "include" already defined at line 5`},
		},
		{
			file: "config-incomplete.yml",
			wantErr: []string{
				"accounts[0] (no-role): role_arn is required (or ambient: true for the account of the exporter's own credentials)",
				"accounts[1] (111122223333): role_arn and ambient: true exclude each other; ambient reads the account of the exporter's own credentials",
				"accounts[2] (no-id): ambient: true needs id, the 12-digit account of the exporter's own credentials",
				"accounts[3] (12345): ambient: only one account can be read with the exporter's own credentials, and accounts[2] already is",
				"accounts[3] (12345): external_id: needs role_arn; the exporter's own credentials assume no role",
				`accounts[3] (12345): id: "12345" is not a 12-digit account ID (quote IDs that start with 0)`,
				"accounts[4] (222233334444): id: 999999999999 is not the account of role_arn (222233334444); leave id out, it is taken from role_arn",
				"accounts[4] (222233334444): external_id: external ID must be 2 to 1224 of letters, digits and +=,.@:/-",
				`organization: role name "iam reader" is not 1 to 64 of letters, digits and +=,.@_-`,
				"include[1]: empty; give an account ID or name",
				"include[2]: empty; give an account ID or name", // a bare "-" is null
			},
		},
		{
			file: "config-wrong-type.yml",
			wantErr: []string{
				"line 2: cannot unmarshal !!str `arn:aws...` into accounts.accountEntry",
				"line 4: cannot unmarshal !!str `sometimes` into bool",
				"line 5: cannot unmarshal !!seq into string",
				"line 6: cannot unmarshal !!map into string",
				"line 7: cannot unmarshal !!seq into accounts.OrgConfig",
				"line 8: cannot unmarshal !!str `production` into []*string",
				"line 10: cannot unmarshal !!seq into string",
			},
		},
		{
			file:    "config-not-a-mapping.yml",
			wantErr: []string{"line 1: cannot unmarshal !!str `hello` into accounts.configFile"},
		},
		{
			// A bare "-" keeps its place: the indices after it stay right.
			file: "config-null-entry.yml",
			wantErr: []string{
				"config file testdata/config-null-entry.yml: accounts[0]: role_arn is required (or ambient: true for the account of the exporter's own credentials)",
				"accounts[1] (111122223333): external_id: external ID must be 2 to 1224 of letters, digits and +=,.@:/-",
			},
		},
		{
			file: "config-syntax.yml",
			wantErr: []string{
				// yaml v3 names the line of the context (the list), counting from 0.
				"config file testdata/config-syntax.yml: yaml: line 1: did not find expected '-' indicator",
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
				for _, want := range tt.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("LoadConfig errors:\n%s\nwant them to contain:\n%s", err, want)
					}
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
