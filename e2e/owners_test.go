package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	dto "github.com/prometheus/client_model/go"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/testenv"
)

// series lists the series of a family as "label=value,..." strings, sorted,
// leaving out the labels in skip.
func series(mfs map[string]*dto.MetricFamily, name string, skip ...string) []string {
	var out []string
	for _, m := range mfs[name].GetMetric() {
		s := ""
		for _, l := range m.GetLabel() {
			if slices.Contains(skip, l.GetName()) {
				continue
			}
			s += fmt.Sprintf("%s=%s,", l.GetName(), l.GetValue())
		}
		out = append(out, fmt.Sprintf("%s%v", s, m.GetGauge().GetValue()))
	}
	slices.Sort(out)
	return out
}

// The owners' lookups end to end against moto_server: the user tags, key
// IDs, password policy and account tags created through the AWS API are
// exactly those on /metrics, and follow a tag change, a key rotation and
// the removal of the policy.
func TestOwnersMoto(t *testing.T) {
	t.Parallel()
	endpoint := testenv.StartMoto(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	o := newMotoOrg(ctx, t, endpoint)
	// moto's reports have no root row: an account without users has an
	// empty report, which is rejected.
	if _, err := o.iam(motoManagementAccount).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("org-admin")}); err != nil {
		t.Fatalf("create user: %v", err)
	}
	prod := o.createMember(ctx, "production")
	prodIAM := o.iam(prod)
	tag := func(k, v string) iamtypes.Tag { return iamtypes.Tag{Key: aws.String(k), Value: aws.String(v)} }
	createKey := func(user string) string {
		t.Helper()
		out, err := prodIAM.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
		if err != nil {
			t.Fatalf("create access key of %s: %v", user, err)
		}
		return aws.ToString(out.AccessKey.AccessKeyId)
	}
	for _, u := range []struct {
		name string
		tags []iamtypes.Tag
	}{
		{"ci-deploy", []iamtypes.Tag{tag("owner", "team-a"), tag("team", "payments"), tag("Name", "CI")}},
		{"backup", []iamtypes.Tag{tag("Name", "Backup")}},
	} {
		if _, err := prodIAM.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(u.name), Tags: u.tags}); err != nil {
			t.Fatalf("create user %s: %v", u.name, err)
		}
	}
	ciKey, backupKey := createKey("ci-deploy"), createKey("backup")
	if _, err := prodIAM.UpdateAccountPasswordPolicy(ctx, &iam.UpdateAccountPasswordPolicyInput{
		MinimumPasswordLength: aws.Int32(14), PasswordReusePrevention: aws.Int32(24), RequireUppercaseCharacters: true,
	}); err != nil {
		t.Fatalf("set password policy: %v", err)
	}
	tagAccount := func(id, owner string) {
		t.Helper()
		if _, err := o.org.TagResource(ctx, &organizations.TagResourceInput{ResourceId: aws.String(id),
			Tags: []orgtypes.Tag{{Key: aws.String("owner"), Value: aws.String(owner)}}}); err != nil {
			t.Fatalf("tag account %s: %v", id, err)
		}
	}
	tagAccount(prod, "platform")

	e := startExporter(t, testenv.AWSEnv(endpoint, t.TempDir()),
		"--aws.organization", "--aws.organization.refresh-interval=1s", "--report.refresh-interval=1s",
		"--aws.user-tags=owner,team", "--aws.user-tags.refresh-interval=1s", "--aws.account-tags=owner",
		"--aws.access-key-ids", "--aws.password-policy")

	// Series of the production account, and of the management account for
	// the password policy, which it lacks.
	check := func(mfs map[string]*dto.MetricFamily, ciKey, ciOwner, policyExists, accountOwner string) error {
		want := map[string][]string{
			"aws_iam_user_tags": {fmt.Sprintf("account_id=%s,tag_owner=%s,tag_team=payments,user=ci-deploy,1", prod, ciOwner)},
			"aws_iam_access_key_info": {
				fmt.Sprintf("access_key_id=%s,account_id=%s,key=1,user=backup,1", backupKey, prod),
				fmt.Sprintf("access_key_id=%s,account_id=%s,key=1,user=ci-deploy,1", ciKey, prod),
			},
			"aws_iam_account_tags": {fmt.Sprintf("account_id=%s,tag_owner=%s,1", prod, accountOwner)},
			"aws_iam_account_password_policy_exists": {
				fmt.Sprintf("account_id=%s,0", motoManagementAccount),
				fmt.Sprintf("account_id=%s,%s", prod, policyExists),
			},
		}
		for name, w := range want {
			slices.Sort(w)
			if got := series(mfs, name); !slices.Equal(got, w) {
				return fmt.Errorf("%s = %q, want %q", name, got, w)
			}
		}
		for _, s := range series(mfs, "iam_credential_exporter_lookup_success") {
			if s[len(s)-1] != '1' {
				return fmt.Errorf("lookup failed: %s", s)
			}
		}
		if n := len(series(mfs, "iam_credential_exporter_lookup_success")); n != 6 {
			return fmt.Errorf("%d lookup_success series, want 3 lookups in 2 accounts", n)
		}
		return nil
	}
	var mfs map[string]*dto.MetricFamily
	waitFor(t, patience, func() error {
		_, mfs = scrape(t, e.URL)
		return check(mfs, ciKey, "team-a", "1", "platform")
	})
	if got, want := series(mfs, "aws_iam_account_password_policy_minimum_length"), []string{fmt.Sprintf("account_id=%s,14", prod)}; !slices.Equal(got, want) {
		t.Errorf("minimum_length = %q, want %q", got, want)
	}
	if got := series(mfs, "aws_iam_account_password_policy_rule"); !slices.Contains(got, fmt.Sprintf("account_id=%s,rule=require_uppercase,1", prod)) ||
		!slices.Contains(got, fmt.Sprintf("account_id=%s,rule=require_symbols,0", prod)) {
		t.Errorf("rules = %q, want require_uppercase 1 and require_symbols 0", got)
	}

	// Rotate ci-deploy's key (in a later second than the old one: the
	// report keeps seconds), retag the user and the account, and remove
	// the password policy.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	newKey := createKey("ci-deploy")
	if _, err := prodIAM.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("ci-deploy"), AccessKeyId: aws.String(ciKey)}); err != nil {
		t.Fatalf("delete access key: %v", err)
	}
	if _, err := prodIAM.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("ci-deploy"), Tags: []iamtypes.Tag{tag("owner", "team-b")}}); err != nil {
		t.Fatalf("tag user: %v", err)
	}
	if _, err := prodIAM.DeleteAccountPasswordPolicy(ctx, &iam.DeleteAccountPasswordPolicyInput{}); err != nil {
		t.Fatalf("delete password policy: %v", err)
	}
	tagAccount(prod, "security")
	waitFor(t, patience, func() error {
		_, mfs = scrape(t, e.URL)
		return check(mfs, newKey, "team-b", "0", "security")
	})
	if got := series(mfs, "aws_iam_account_password_policy_minimum_length"); len(got) != 0 {
		t.Errorf("minimum_length without a policy = %q, want none", got)
	}
}
