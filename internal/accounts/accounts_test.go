package accounts

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseRoleARN(t *testing.T) {
	tests := []struct {
		arn                  string
		partition, accountID string
		wantErr              string // substring; "" means success
	}{
		{arn: "arn:aws:iam::111122223333:role/iam-reader", partition: "aws", accountID: "111122223333"},
		{arn: "arn:aws:iam::011122223333:role/audit/team/iam-reader", partition: "aws", accountID: "011122223333"},
		{arn: "arn:aws-cn:iam::111122223333:role/r+=,.@_-", partition: "aws-cn", accountID: "111122223333"},
		{arn: "arn:aws-us-gov:iam::111122223333:role/r", partition: "aws-us-gov", accountID: "111122223333"},
		{arn: "111122223333", wantErr: "is not an ARN"},
		{arn: "", wantErr: "is not an ARN"},
		{arn: "arn:aws-moon:iam::111122223333:role/r", wantErr: `partition "aws-moon" is not one of aws, aws-cn, aws-eusc, aws-iso, aws-iso-b, aws-iso-e, aws-iso-f, aws-us-gov`},
		{arn: "arn:aws:sts::111122223333:assumed-role/r/session", wantErr: `service is "sts", not iam`},
		{arn: "arn:aws:iam:us-east-1:111122223333:role/r", wantErr: `IAM ARNs have no region, this one has "us-east-1"`},
		{arn: "arn:aws:iam::11112222333:role/r", wantErr: `account "11112222333" is not 12 digits`},
		{arn: "arn:aws:iam::11112222333a:role/r", wantErr: `account "11112222333a" is not 12 digits`},
		{arn: "arn:aws:iam::111122223333:user/alice", wantErr: `resource "user/alice" does not start with role/`},
		{arn: "arn:aws:iam::111122223333:role/", wantErr: `role name "" is not`},
		{arn: "arn:aws:iam::111122223333:role/audit/", wantErr: `role name "" is not`},
		{arn: "arn:aws:iam::111122223333:role/iam reader", wantErr: `role name "iam reader" is not`},
		{arn: "arn:aws:iam::111122223333:role/" + strings.Repeat("r", 65), wantErr: "is not 1 to 64"},
		{arn: "arn:aws:iam::111122223333:role/a\tb/r", wantErr: `role path "a\tb/" is not`},
	}
	for _, tt := range tests {
		t.Run(tt.arn, func(t *testing.T) {
			partition, accountID, err := ParseRoleARN(tt.arn)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRoleARN(%q) error = %v, want one containing %q", tt.arn, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRoleARN(%q): %v", tt.arn, err)
			}
			if partition != tt.partition || accountID != tt.accountID {
				t.Errorf("ParseRoleARN(%q) = %q, %q; want %q, %q", tt.arn, partition, accountID, tt.partition, tt.accountID)
			}
		})
	}
}

func TestRoleARN(t *testing.T) {
	tests := []struct {
		partition, accountID, roleName string
		want                           string
	}{
		{"aws", "111122223333", "OrganizationAccountAccessRole", "arn:aws:iam::111122223333:role/OrganizationAccountAccessRole"},
		{"aws-cn", "011122223333", "audit/iam-reader", "arn:aws-cn:iam::011122223333:role/audit/iam-reader"},
		// IAM writes paths with a leading slash; the ARN has none.
		{"aws", "111122223333", "/audit/iam-reader", "arn:aws:iam::111122223333:role/audit/iam-reader"},
	}
	for _, tt := range tests {
		got := RoleARN(tt.partition, tt.accountID, tt.roleName)
		if got != tt.want {
			t.Errorf("RoleARN(%q, %q, %q) = %q, want %q", tt.partition, tt.accountID, tt.roleName, got, tt.want)
		}
		// What RoleARN builds, the config and the exporter must accept.
		if _, id, err := ParseRoleARN(got); err != nil || id != tt.accountID {
			t.Errorf("ParseRoleARN(RoleARN(...)) = %q, %v; want %q", id, err, tt.accountID)
		}
	}
}

func TestFilterKeep(t *testing.T) {
	prod := Account{ID: "111122223333", Name: "prod-eu"}
	sandbox := Account{ID: "222233334444", Name: "sandbox-alice"}
	unnamed := Account{ID: "333344445555"}
	odd := Account{ID: "444455556666", Name: "team [a]?"}
	all := []Account{prod, sandbox, unnamed, odd}

	tests := []struct {
		name   string
		filter Filter
		want   []Account
	}{
		{"empty filter keeps all", Filter{}, all},
		{"include by ID", Filter{Include: []string{"111122223333"}}, []Account{prod}},
		{"include by name", Filter{Include: []string{"sandbox-alice"}}, []Account{sandbox}},
		{"include by glob", Filter{Include: []string{"prod-*"}}, []Account{prod}},
		{"star matches unnamed accounts too", Filter{Include: []string{"*"}}, all},
		{"glob in the middle", Filter{Include: []string{"s*-a*e"}}, []Account{sandbox}},
		{"several stars", Filter{Include: []string{"*a*a*"}}, []Account{sandbox, odd}},
		{"glob must match the whole name", Filter{Include: []string{"prod"}}, nil},
		{"glob does not match IDs", Filter{Include: []string{"1111*"}}, nil},
		{"match is case sensitive", Filter{Include: []string{"PROD-EU"}}, nil},
		{"? and [ are literal", Filter{Include: []string{"team [a]?"}}, []Account{odd}},
		{"? does not stand for a character", Filter{Include: []string{"prod-e?"}}, nil},
		{"exclude by ID", Filter{Exclude: []string{"222233334444"}}, []Account{prod, unnamed, odd}},
		{"exclude by glob", Filter{Exclude: []string{"sandbox-*", "team*"}}, []Account{prod, unnamed}},
		{"exclude wins over include", Filter{Include: []string{"*"}, Exclude: []string{"prod-eu"}}, []Account{sandbox, unnamed, odd}},
		{"exclude by ID wins over include by name", Filter{Include: []string{"prod-eu"}, Exclude: []string{"111122223333"}}, nil},
		{"prefix and suffix may not overlap", Filter{Include: []string{"prod-eu*eu"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []Account
			for _, a := range all {
				if tt.filter.Keep(a) {
					got = append(got, a)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%+v kept %v, want %v", tt.filter, got, tt.want)
			}
		})
	}
}

func TestFilterValidate(t *testing.T) {
	tests := []struct {
		filter  Filter
		wantErr string
	}{
		{Filter{}, ""},
		{Filter{Include: []string{"prod"}, Exclude: []string{"111122223333"}}, ""},
		{Filter{Include: []string{"prod", ""}}, "include[1] is empty; give an account ID or name"},
		{Filter{Exclude: []string{" "}}, "exclude[0] is empty; give an account ID or name"},
	}
	for _, tt := range tests {
		err := tt.filter.Validate()
		if got := errText(err); got != tt.wantErr {
			t.Errorf("%+v.Validate() = %q, want %q", tt.filter, got, tt.wantErr)
		}
	}
}

func TestMerge(t *testing.T) {
	discovered := []Account{
		{ID: "333344445555", Name: "dev", RoleARN: "arn:aws:iam::333344445555:role/OrganizationAccountAccessRole"},
		{ID: "111122223333", Name: "prod", RoleARN: "arn:aws:iam::111122223333:role/OrganizationAccountAccessRole"},
		{ID: "999999999999", Name: "management"},
	}
	configured := []Account{
		// A narrower role with an external ID for one account; no name given.
		{ID: "111122223333", RoleARN: "arn:aws:iam::111122223333:role/iam-reader", ExternalID: "x1"},
		// Renamed in the file.
		{ID: "333344445555", Name: "development", RoleARN: "arn:aws:iam::333344445555:role/OrganizationAccountAccessRole"},
		// Outside the organization.
		{ID: "222233334444", Name: "partner", RoleARN: "arn:aws:iam::222233334444:role/iam-reader"},
	}
	want := []Account{
		{ID: "111122223333", Name: "prod", RoleARN: "arn:aws:iam::111122223333:role/iam-reader", ExternalID: "x1"},
		{ID: "222233334444", Name: "partner", RoleARN: "arn:aws:iam::222233334444:role/iam-reader"},
		{ID: "333344445555", Name: "development", RoleARN: "arn:aws:iam::333344445555:role/OrganizationAccountAccessRole"},
		{ID: "999999999999", Name: "management"},
	}
	if got := Merge(discovered, configured); !reflect.DeepEqual(got, want) {
		t.Errorf("Merge =\n%+v\nwant\n%+v", got, want)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
