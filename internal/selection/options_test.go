package selection

import (
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	const role = "arn:aws:iam::111122223333:role/iam-reader"
	tests := []struct {
		name    string
		change  func(*Options)
		wantErr string // a part of the error; "" means valid
	}{
		{name: "defaults", change: func(*Options) {}},
		{name: "report file alone", change: func(o *Options) { o.ReportFile = "report.csv" }},
		{name: "external ID with a role", change: func(o *Options) { o.RoleARNs, o.ExternalID = []string{role}, "shared-secret" }},
		{name: "external ID with discovery", change: func(o *Options) { o.Organization, o.ExternalID = true, "shared-secret" }},
		{name: "last of three shards", change: func(o *Options) { o.Shard, o.TotalShards = 2, 3 }},
		{name: "include and exclude", change: func(o *Options) { o.Include, o.Exclude = []string{"prod-*", "111122223333"}, []string{"sandbox-*"} }},
		{name: "every enrichment", change: func(o *Options) {
			o.Organization, o.UserTags, o.AccountTags = true, []string{"owner,team", "cost-center"}, []string{"owner"}
			o.AccessKeyIDs, o.PasswordPolicy, o.Exemptions = true, true, true
		}},
		// IAM user tag keys are case-insensitive: the second Owner is the same key.
		{name: "a tag key given twice", change: func(o *Options) { o.UserTags = []string{"owner", "Owner", " team ,"} }},

		{name: "key callers", change: func(o *Options) {
			o.KeyCallers, o.KeyCallersRate, o.KeyCallersWindow, o.KeyCallersPagesPerDay = true, 1, 7*24*time.Hour, 1
			o.KeyCallersPerKey, o.KeyCallersMaxKeys, o.KeyCallersInterval = 3, 10, 6*time.Hour
		}},
		{name: "key callers faster than CloudTrail allows", change: func(o *Options) {
			o.KeyCallers, o.KeyCallersRate, o.KeyCallersWindow, o.KeyCallersPagesPerDay = true, 3, 7*24*time.Hour, 1
			o.KeyCallersPerKey, o.KeyCallersMaxKeys, o.KeyCallersInterval = 3, 10, 6*time.Hour
		}, wantErr: "--aws.key-callers.rate must be at most 2"},
		{name: "key callers over 90 days", change: func(o *Options) {
			o.KeyCallers, o.KeyCallersRate, o.KeyCallersWindow, o.KeyCallersPagesPerDay = true, 1, 91*24*time.Hour, 1
			o.KeyCallersPerKey, o.KeyCallersMaxKeys, o.KeyCallersInterval = 3, 10, 6*time.Hour
		}, wantErr: "--aws.key-callers.window must be positive and at most 90 days"},
		{name: "report file with key callers", change: func(o *Options) { o.ReportFile, o.KeyCallers = "report.csv", true },
			wantErr: "--aws.key-callers read AWS"},
		{name: "zero refresh interval", change: func(o *Options) { o.RefreshInterval = 0 },
			wantErr: "--report.refresh-interval must be positive, got 0s"},
		{name: "zero timeout", change: func(o *Options) { o.Timeout = 0 },
			wantErr: "--report.timeout must be positive"},
		{name: "zero max bytes", change: func(o *Options) { o.MaxBytes = 0 },
			wantErr: "--report.max-bytes must be positive, got 0"},
		{name: "zero organization refresh interval", change: func(o *Options) { o.OrgRefreshInterval = 0 },
			wantErr: "--aws.organization.refresh-interval must be positive"},
		{name: "report file with a role", change: func(o *Options) { o.ReportFile, o.RoleARNs = "report.csv", []string{role} },
			wantErr: "--report.file reads one report from disk; it excludes --aws.role-arn"},
		{name: "report file with discovery", change: func(o *Options) { o.ReportFile, o.Organization = "report.csv", true },
			wantErr: "--report.file reads one report from disk"},
		{name: "report file with a config file", change: func(o *Options) { o.ReportFile, o.ConfigFile = "report.csv", "accounts.yml" },
			wantErr: "--report.file reads one report from disk"},
		{name: "external ID alone", change: func(o *Options) { o.ExternalID = "shared-secret" },
			wantErr: "--aws.external-id needs --aws.role-arn or --aws.organization"},
		// A config file has external IDs of its own, per account.
		{name: "external ID with only a config file", change: func(o *Options) { o.ExternalID, o.ConfigFile = "shared-secret", "accounts.yml" },
			wantErr: "--aws.external-id needs --aws.role-arn or --aws.organization"},
		// The accounts package words the shard and filter messages, one
		// for each mistake (TestShardValidate, TestFilterValidate);
		// Validate puts the flags' names before them.
		{name: "shard equal to total", change: func(o *Options) { o.Shard, o.TotalShards = 2, 2 },
			wantErr: "--shard, --total-shards: shard index 2 is outside 0..1 for 2 total shards"},
		{name: "tag keys sharing a label", change: func(o *Options) { o.UserTags = []string{"cost-center,cost_center"} },
			wantErr: `--aws.user-tags: tag keys "cost-center" and "cost_center" would both be exported as label tag_cost_center; allow only one of them`},
		{name: "account tag keys sharing a label", change: func(o *Options) { o.Organization, o.AccountTags = true, []string{"a.b", "a:b"} },
			wantErr: `--aws.account-tags: tag keys "a.b" and "a:b" would both be exported as label tag_a_b`},
		{name: "not a tag key", change: func(o *Options) { o.UserTags = []string{"owner", "team*"} },
			wantErr: `--aws.user-tags: "team*" is not a tag key`},
		{name: "report file with key IDs", change: func(o *Options) { o.ReportFile, o.AccessKeyIDs = "report.csv", true },
			wantErr: "--aws.access-key-ids, --aws.password-policy and --aws.key-callers read AWS"},
		{name: "report file with exemptions", change: func(o *Options) { o.ReportFile, o.Exemptions = "report.csv", true },
			wantErr: "--aws.exemptions"},
		{name: "report file with user tags", change: func(o *Options) { o.ReportFile, o.UserTags = "report.csv", []string{"owner"} },
			wantErr: "--aws.user-tags, --aws.account-tags"},
		{name: "account tags without discovery", change: func(o *Options) { o.AccountTags = []string{"owner"} },
			wantErr: "--aws.account-tags: account tags are read from Organizations"},
		{name: "zero key ID rate", change: func(o *Options) { o.AccessKeyIDsRate = 0 },
			wantErr: "--aws.access-key-ids.rate must be positive, got 0"},
		{name: "zero exemption span", change: func(o *Options) { o.ExemptionMaxDays = 0 },
			wantErr: "--exemptions.max-days must be positive, got 0"},
		{name: "zero user tags interval", change: func(o *Options) { o.UserTagsInterval = 0 },
			wantErr: "--aws.user-tags.refresh-interval must be positive"},
		{name: "blank exclude", change: func(o *Options) { o.Exclude = []string{"sandbox-*", " "} },
			wantErr: "--aws.account-include, --aws.account-exclude: exclude[1] is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := defaultOptions()
			tt.change(&o)
			err := o.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && err == nil:
				t.Errorf("Validate() = nil, want an error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("Validate() = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}
