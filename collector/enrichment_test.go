package collector

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/refresh"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// enrichedStates adds to sampleStates what the opt-in lookups bring: user
// and account tags, a key ID, the password policy and the lookups' status.
func enrichedStates() []*refresh.State {
	states := sampleStates()
	read := time.Date(2026, 11, 27, 1, 1, 0, 0, time.UTC)

	first := *states[0]
	rep := *first.Report
	rep.UserTags = map[string][]report.Tag{
		"ci-deploy":         {{Key: "owner", Value: "platform"}, {Key: "cost-center", Value: "42"}},
		"alice@example.com": {{Key: "owner", Value: "alice"}},
		"gone":              {{Key: "owner", Value: "nobody"}}, // deleted since the report: not exported
	}
	rep.AccessKeyIDs = map[string][2]string{"ci-deploy": {"AKIAEXAMPLE000000001", ""}}
	day := func(m time.Month, d int) time.Time { return time.Date(2027, m, d, 0, 0, 0, 0, time.UTC) }
	rep.Exemptions = map[string][]report.Exemption{
		"ci-deploy": {
			{Policy: "key-rotation", Start: day(1, 1), End: day(4, 1), Reason: "SEC-1234 vendor appliance", Source: "file"},
			{Policy: "key-rotation", Start: day(3, 1), End: day(4, 1), Reason: "SEC-1234 vendor appliance", Source: "tag"},
		},
		"gone": {{Policy: "console-mfa", Start: day(1, 1), End: day(2, 1), Reason: "deleted since the report", Source: "tag"}},
	}
	long := "iam-credential-exemption:" + strings.Repeat("x", 100)
	rep.InvalidExemptions = []report.InvalidExemption{
		{User: "alice@example.com", Key: "iam-credential-exemption:MFA", Problem: report.ProblemUnknownPolicy},
		{User: "alice@example.com", Key: "iam-credential-exemption:key-rotation", Problem: report.ProblemSpanTooLong},
		// Two keys cut to the same 64 bytes, with the same problem: one series.
		{User: "ci-deploy", Key: long, Problem: report.ProblemUnknownPolicy},
		{User: "ci-deploy", Key: long + "y", Problem: report.ProblemUnknownPolicy},
		// The losers of a policy named in three cases: one series, beside
		// the user's exemption of that policy.
		{User: "ci-deploy", Key: "iam-credential-exemption:Key-Rotation", Problem: report.ProblemDuplicate},
		{User: "ci-deploy", Key: "iam-credential-exemption:KEY-ROTATION", Problem: report.ProblemDuplicate},
	}
	rep.PasswordPolicy = &report.PasswordPolicy{
		Exists: true, MinimumLength: 14, RequireSymbols: true, RequireNumbers: true,
		ExpirePasswords: true, MaxAge: 90 * 24 * time.Hour, ReusePrevention: 24,
	}
	rep.Lookups = []report.LookupStatus{
		{Lookup: report.LookupUserTags, OK: true, LastSuccess: read},
		{Lookup: report.LookupAccessKeyIDs, OK: false, LastSuccess: read, Dropped: 2},
		{Lookup: report.LookupPasswordPolicy, OK: false},
	}
	first.Report = &rep
	first.AccountTags = []report.Tag{{Key: "environment", Value: "prod"}}
	states[0] = &first

	second := *states[1]
	rep2 := *second.Report
	rep2.PasswordPolicy = &report.PasswordPolicy{}
	second.Report = &rep2
	states[1] = &second
	return states
}

func TestCollectorExportsEnrichment(t *testing.T) {
	d, err := newDescs(report.TagKeys{"owner", "cost-center"}, report.TagKeys{"owner", "environment"})
	if err != nil {
		t.Fatal(err)
	}
	c := d.collector(enrichedStates)
	want := `
# HELP aws_iam_user_tags The user's tags allowed by --aws.user-tags, one label tag_<key> each (empty when the user lacks it); value 1; only for users with at least one. From iam:GetAccountAuthorizationDetails every --aws.user-tags.refresh-interval.
# TYPE aws_iam_user_tags gauge
aws_iam_user_tags{account_id="123456789012",tag_cost_center="42",tag_owner="platform",user="ci-deploy"} 1
aws_iam_user_tags{account_id="123456789012",tag_cost_center="",tag_owner="alice",user="alice@example.com"} 1
# HELP aws_iam_account_tags The account's tags allowed by --aws.account-tags, one label tag_<key> each (empty when the account lacks it); value 1; only for accounts with at least one. From organizations:ListTagsForResource at each discovery.
# TYPE aws_iam_account_tags gauge
aws_iam_account_tags{account_id="123456789012",tag_environment="prod",tag_owner=""} 1
# HELP aws_iam_access_key_info ID of the access key in this slot, from iam:ListAccessKeys (--aws.access-key-ids); value 1; absent until looked up, and when no key's creation time matches the slot's last rotation.
# TYPE aws_iam_access_key_info gauge
aws_iam_access_key_info{access_key_id="AKIAEXAMPLE000000001",account_id="123456789012",key="1",user="ci-deploy"} 1
# HELP aws_iam_account_password_policy_exists 1 if the account has a password policy, 0 if not (--aws.password-policy); absent when it could not be read.
# TYPE aws_iam_account_password_policy_exists gauge
aws_iam_account_password_policy_exists{account_id="123456789012"} 1
aws_iam_account_password_policy_exists{account_id="210987654321"} 0
# HELP aws_iam_account_password_policy_minimum_length Minimum password length the account password policy requires.
# TYPE aws_iam_account_password_policy_minimum_length gauge
aws_iam_account_password_policy_minimum_length{account_id="123456789012"} 14
# HELP aws_iam_account_password_policy_max_age_seconds Age after which the account password policy expires passwords, in seconds; absent when passwords do not expire.
# TYPE aws_iam_account_password_policy_max_age_seconds gauge
aws_iam_account_password_policy_max_age_seconds{account_id="123456789012"} 7.776e+06
# HELP aws_iam_account_password_policy_reuse_prevention How many previous passwords the account password policy forbids reusing; 0 when reuse is allowed.
# TYPE aws_iam_account_password_policy_reuse_prevention gauge
aws_iam_account_password_policy_reuse_prevention{account_id="123456789012"} 24
# HELP aws_iam_account_password_policy_rule 1 if the account password policy sets this rule, 0 if not: require_symbols, require_numbers, require_uppercase, require_lowercase, allow_users_to_change_password, expire_passwords, hard_expiry.
# TYPE aws_iam_account_password_policy_rule gauge
aws_iam_account_password_policy_rule{account_id="123456789012",rule="allow_users_to_change_password"} 0
aws_iam_account_password_policy_rule{account_id="123456789012",rule="expire_passwords"} 1
aws_iam_account_password_policy_rule{account_id="123456789012",rule="hard_expiry"} 0
aws_iam_account_password_policy_rule{account_id="123456789012",rule="require_lowercase"} 0
aws_iam_account_password_policy_rule{account_id="123456789012",rule="require_numbers"} 1
aws_iam_account_password_policy_rule{account_id="123456789012",rule="require_symbols"} 1
aws_iam_account_password_policy_rule{account_id="123456789012",rule="require_uppercase"} 0
# HELP aws_iam_user_exemption_start_timestamp_seconds When the user's exemption from this policy starts, Unix seconds: midnight UTC of its first day (source="file": --exemptions.file; source="tag": its iam-credential-exemption:<policy> tag, --aws.exemptions); future exemptions included, so compare with time().
# TYPE aws_iam_user_exemption_start_timestamp_seconds gauge
aws_iam_user_exemption_start_timestamp_seconds{account_id="123456789012",policy="key-rotation",reason="SEC-1234 vendor appliance",source="file",user="ci-deploy"} 1.7987616e+09
aws_iam_user_exemption_start_timestamp_seconds{account_id="123456789012",policy="key-rotation",reason="SEC-1234 vendor appliance",source="tag",user="ci-deploy"} 1.8038592e+09
# HELP aws_iam_user_exemption_end_timestamp_seconds When the user's exemption from this policy ends, Unix seconds: midnight UTC after its last day (source="file": --exemptions.file; source="tag": its iam-credential-exemption:<policy> tag, --aws.exemptions); ended exemptions included, so compare with time().
# TYPE aws_iam_user_exemption_end_timestamp_seconds gauge
aws_iam_user_exemption_end_timestamp_seconds{account_id="123456789012",policy="key-rotation",reason="SEC-1234 vendor appliance",source="file",user="ci-deploy"} 1.8065376e+09
aws_iam_user_exemption_end_timestamp_seconds{account_id="123456789012",policy="key-rotation",reason="SEC-1234 vendor appliance",source="tag",user="ci-deploy"} 1.8065376e+09
# HELP aws_iam_user_exemption_invalid 1 for each iam-credential-exemption:<policy> user tag that exempts nothing (--aws.exemptions): policy is the key's part after the prefix (lower-cased, at most 64 bytes), problem one of unknown_policy, bad_dates, no_reason, span_too_long, or duplicate (another tag of the user names the same policy in another case and ends first: that one holds); the log says more.
# TYPE aws_iam_user_exemption_invalid gauge
aws_iam_user_exemption_invalid{account_id="123456789012",policy="key-rotation",problem="span_too_long",user="alice@example.com"} 1
aws_iam_user_exemption_invalid{account_id="123456789012",policy="key-rotation",problem="duplicate",user="ci-deploy"} 1
aws_iam_user_exemption_invalid{account_id="123456789012",policy="mfa",problem="unknown_policy",user="alice@example.com"} 1
aws_iam_user_exemption_invalid{account_id="123456789012",policy="xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",problem="unknown_policy",user="ci-deploy"} 1
# HELP iam_credential_exporter_lookup_success 1 if the last attempt of this enrichment lookup (lookup="user_tags"|"access_key_ids"|"password_policy"|"key_callers") succeeded, 0 if it failed (its last good data is still served); only for the lookups turned on.
# TYPE iam_credential_exporter_lookup_success gauge
iam_credential_exporter_lookup_success{account_id="123456789012",lookup="access_key_ids"} 0
iam_credential_exporter_lookup_success{account_id="123456789012",lookup="password_policy"} 0
iam_credential_exporter_lookup_success{account_id="123456789012",lookup="user_tags"} 1
# HELP iam_credential_exporter_lookup_last_success_timestamp_seconds When this enrichment lookup last succeeded, Unix seconds: the age of the data it serves.
# TYPE iam_credential_exporter_lookup_last_success_timestamp_seconds gauge
iam_credential_exporter_lookup_last_success_timestamp_seconds{account_id="123456789012",lookup="access_key_ids"} 1.79574126e+09
iam_credential_exporter_lookup_last_success_timestamp_seconds{account_id="123456789012",lookup="user_tags"} 1.79574126e+09
# HELP iam_credential_exporter_lookup_dropped_items_total Items of AWS's answers to this enrichment lookup dropped because they contradict the request, since the exporter started: for lookup="access_key_ids", access keys that iam:ListAccessKeys returned as another user's than the one asked; for lookup="key_callers", events that cloudtrail:LookupEvents returned for another key. Anything but 0 means a broken or hostile endpoint or proxy.
# TYPE iam_credential_exporter_lookup_dropped_items_total counter
iam_credential_exporter_lookup_dropped_items_total{account_id="123456789012",lookup="access_key_ids"} 2
`
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	names := []string{
		"aws_iam_user_tags", "aws_iam_account_tags", "aws_iam_access_key_info",
		"aws_iam_account_password_policy_exists", "aws_iam_account_password_policy_minimum_length",
		"aws_iam_account_password_policy_max_age_seconds", "aws_iam_account_password_policy_reuse_prevention",
		"aws_iam_account_password_policy_rule",
		"iam_credential_exporter_lookup_success", "iam_credential_exporter_lookup_last_success_timestamp_seconds",
		"iam_credential_exporter_lookup_dropped_items_total",
		"aws_iam_user_exemption_start_timestamp_seconds", "aws_iam_user_exemption_end_timestamp_seconds", "aws_iam_user_exemption_invalid",
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

func TestTagLabelNames(t *testing.T) {
	got, err := TagLabelNames(report.TagKeys{"owner", "cost-center", "aws:cloudformation:stack-name", "Team", "équipe"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"tag_owner", "tag_cost_center", "tag_aws_cloudformation_stack_name", "tag_Team", "tag__quipe"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("TagLabelNames = %v, want %v", got, want)
	}
	if _, err := TagLabelNames(report.TagKeys{"cost center", "cost/center"}); err == nil ||
		!strings.Contains(err.Error(), `tag keys "cost center" and "cost/center" would both be exported as label tag_cost_center`) {
		t.Errorf("colliding keys: err = %v", err)
	}
}

// A report in the older 16-column layout cannot say whether a key was used:
// neither last_used nor never_used is exported, so no rule can take the key
// for one never used (it would fire IAMCredentialAccessKeyUnused on a key in
// daily use).
func TestLegacyLayoutLeavesKeyUseUnknown(t *testing.T) {
	f, err := os.Open("../report/testdata/legacy_16col.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := report.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	state := &refresh.State{AccountID: rep.AccountID, Report: rep}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(testDescs().collector(func() []*refresh.State { return []*refresh.State{state} }))
	keys, err := testutil.GatherAndCount(reg, "aws_iam_access_key_last_rotated_timestamp_seconds")
	if err != nil {
		t.Fatal(err)
	}
	if keys == 0 {
		t.Fatal("the legacy fixture has no access key: the test would prove nothing")
	}
	n, err := testutil.GatherAndCount(reg, "aws_iam_access_key_never_used", "aws_iam_access_key_last_used_timestamp_seconds")
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d last-used or never-used series from a report without last-used columns, want 0", n)
	}
}
