package awsapi_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/awsapi"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/testenv"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// motoConfig is an SDK config for moto_server at endpoint, counting every
// request in obs.
func motoConfig(endpoint string, obs *observations) aws.Config {
	cfg := aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(testenv.DummyAccessKeyID, testenv.DummySecretAccessKey, ""),
	}
	cfg.APIOptions = append(cfg.APIOptions, awsapi.ObserveRequests(obs.observe))
	return cfg
}

// TestEnrichmentAgainstMoto reads user tags, access key IDs and the password
// policy from moto_server, a third-party emulator that implements them, and
// follows a key rotation and the removal of the policy.
func TestEnrichmentAgainstMoto(t *testing.T) {
	endpoint := testenv.StartMoto(t)
	ctx, cancel := context.WithTimeout(t.Context(), testenv.Patience)
	defer cancel()
	var obs observations
	cfg := motoConfig(endpoint, &obs)
	admin := iam.NewFromConfig(motoConfig(endpoint, &observations{}))

	createUser := func(name string, tags ...iamtypes.Tag) {
		t.Helper()
		if _, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name), Tags: tags}); err != nil {
			t.Fatalf("create user %s: %v", name, err)
		}
	}
	createKey := func(user string) string {
		t.Helper()
		out, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
		if err != nil {
			t.Fatalf("create access key of %s: %v", user, err)
		}
		return aws.ToString(out.AccessKey.AccessKeyId)
	}
	tag := func(k, v string) iamtypes.Tag { return iamtypes.Tag{Key: aws.String(k), Value: aws.String(v)} }

	createUser("alice", tag("Owner", "team-a"), tag("team", "payments"), tag("Name", "Alice"))
	createUser("bob", tag("Name", "Bob")) // no allowed tag
	createUser("carol")
	aliceKey := createKey("alice")
	bobKey := createKey("bob")
	if _, err := admin.UpdateAccountPasswordPolicy(ctx, &iam.UpdateAccountPasswordPolicyInput{
		MinimumPasswordLength: aws.Int32(14), PasswordReusePrevention: aws.Int32(24),
		MaxPasswordAge: aws.Int32(90), RequireSymbols: true, RequireNumbers: true,
	}); err != nil {
		t.Fatalf("set password policy: %v", err)
	}

	keys, err := report.ParseTagKeys([]string{"owner,team"})
	if err != nil {
		t.Fatal(err)
	}
	src := awsapi.FastPolls(awsapi.NewReportSource(cfg, "", awsapi.SourceOptions{
		UserTags: keys, UserTagsInterval: time.Hour,
		AccessKeyIDs: true, AccessKeyIDsRate: 100,
		PasswordPolicy: true,
	}, discardLogger()))
	fetch := func(step string) *report.Report {
		t.Helper()
		rep, err := src.Fetch(ctx)
		if err != nil {
			t.Fatalf("%s: Fetch: %v", step, err)
		}
		for _, l := range rep.Lookups {
			if !l.OK {
				t.Errorf("%s: lookup %s failed", step, l.Lookup)
			}
		}
		return rep
	}
	user := func(rep *report.Report, name string) *report.User {
		t.Helper()
		i := slices.IndexFunc(rep.Users, func(u report.User) bool { return u.Name == name })
		if i < 0 {
			t.Fatalf("no user %s in the report", name)
		}
		return &rep.Users[i]
	}

	rep := fetch("first")
	// IAM user tag keys are case-insensitive: Owner is the allowed owner.
	if got, want := rep.UserTags[user(rep, "alice").Name], []report.Tag{{Key: "owner", Value: "team-a"}, {Key: "team", Value: "payments"}}; !slices.Equal(got, want) {
		t.Errorf("alice's tags = %q, want %q", got, want)
	}
	for _, name := range []string{"bob", "carol"} {
		if got := rep.UserTags[user(rep, name).Name]; got != nil {
			t.Errorf("%s's tags = %q, want none", name, got)
		}
	}
	if got := rep.AccessKeyIDs[user(rep, "alice").Name][0]; got != aliceKey {
		t.Errorf("alice's key 1 = %q, want %q", got, aliceKey)
	}
	if got := rep.AccessKeyIDs[user(rep, "bob").Name][0]; got != bobKey {
		t.Errorf("bob's key 1 = %q, want %q", got, bobKey)
	}
	want := report.PasswordPolicy{Exists: true, MinimumLength: 14, ReusePrevention: 24, MaxAge: 90 * 24 * time.Hour,
		ExpirePasswords: true, RequireSymbols: true, RequireNumbers: true}
	if rep.PasswordPolicy == nil || *rep.PasswordPolicy != want {
		t.Errorf("password policy = %+v, want %+v", rep.PasswordPolicy, want)
	}
	if got := obs.counts()["ListAccessKeys "]; got != 2 {
		t.Errorf("first fetch: %d ListAccessKeys calls, want 2 (alice and bob; carol has no key)", got)
	}

	// Nothing changed: no key lookup, no tag read (hourly), one policy read.
	before := obs.counts()
	rep = fetch("steady")
	after := obs.counts()
	for _, op := range []string{"ListAccessKeys ", "GetAccountAuthorizationDetails "} {
		if after[op] != before[op] {
			t.Errorf("steady state: %s went from %d to %d calls", op, before[op], after[op])
		}
	}
	if got := after["GetAccountPasswordPolicy "] - before["GetAccountPasswordPolicy "]; got != 1 {
		t.Errorf("steady state: %d GetAccountPasswordPolicy calls, want 1", got)
	}
	if got := rep.AccessKeyIDs[user(rep, "alice").Name][0]; got != aliceKey {
		t.Errorf("steady state: alice's key 1 = %q, want %q from the cache", got, aliceKey)
	}

	// Rotate alice's key: a new key, then the old one deleted. The report
	// keeps seconds, so the new key must be created in a later second than
	// the old one for its slot to change.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	newKey := createKey("alice")
	if _, err := admin.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String(aliceKey)}); err != nil {
		t.Fatalf("delete access key: %v", err)
	}
	if _, err := admin.DeleteAccountPasswordPolicy(ctx, &iam.DeleteAccountPasswordPolicyInput{}); err != nil {
		t.Fatalf("delete password policy: %v", err)
	}
	before = obs.counts()
	rep = fetch("after rotation")
	var ids []string
	for _, u := range rep.Users {
		for _, id := range rep.AccessKeyIDs[u.Name] {
			if id != "" {
				ids = append(ids, u.Name+" "+id)
			}
		}
	}
	if want := []string{"alice " + newKey, "bob " + bobKey}; !slices.Equal(ids, want) {
		t.Errorf("after rotation, key IDs = %q, want %q", ids, want)
	}
	if got := obs.counts()["ListAccessKeys "] - before["ListAccessKeys "]; got != 1 {
		t.Errorf("after rotation: %d ListAccessKeys calls, want 1 (alice only)", got)
	}
	if rep.PasswordPolicy == nil || *rep.PasswordPolicy != (report.PasswordPolicy{}) {
		t.Errorf("after deleting the policy: %+v, want one that does not exist", rep.PasswordPolicy)
	}
}

// TestAccountTagsAgainstMoto reads account tags from moto's Organizations.
func TestAccountTagsAgainstMoto(t *testing.T) {
	endpoint := testenv.StartMoto(t)
	ctx, cancel := context.WithTimeout(t.Context(), testenv.Patience)
	defer cancel()
	orgs, mgmt := testenv.NewMotoOrganization(ctx, t, endpoint)
	prod := testenv.CreateMotoAccount(ctx, t, orgs, "prod")
	dev := testenv.CreateMotoAccount(ctx, t, orgs, "dev")
	tagAccount := func(id string, tags map[string]string) {
		t.Helper()
		var list []orgtypes.Tag
		for k, v := range tags {
			list = append(list, orgtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		if _, err := orgs.TagResource(ctx, &organizations.TagResourceInput{ResourceId: aws.String(id), Tags: list}); err != nil {
			t.Fatalf("tag account %s: %v", id, err)
		}
	}
	tagAccount(prod, map[string]string{"owner": "platform", "environment": "production", "cost-center": "42"})
	tagAccount(dev, map[string]string{"Environment": "development"})

	reader := awsapi.NewAccountTags(orgs, report.TagKeys{"owner", "environment"}, discardLogger())
	got, ok := reader.Read(ctx, []string{mgmt, prod, dev})
	if !ok {
		t.Fatal("Read failed")
	}
	want := map[string][]report.Tag{
		prod: {{Key: "owner", Value: "platform"}, {Key: "environment", Value: "production"}},
		dev:  {{Key: "environment", Value: "development"}},
	}
	if len(got) != len(want) || !slices.Equal(got[prod], want[prod]) || !slices.Equal(got[dev], want[dev]) {
		t.Errorf("Read = %q, want %q", got, want)
	}

	// A tag removed disappears at the next read.
	if _, err := orgs.UntagResource(ctx, &organizations.UntagResourceInput{ResourceId: aws.String(prod), TagKeys: []string{"owner"}}); err != nil {
		t.Fatal(err)
	}
	got, _ = reader.Read(ctx, []string{prod, dev})
	if want := []report.Tag{{Key: "environment", Value: "production"}}; !slices.Equal(got[prod], want) {
		t.Errorf("after untagging: prod's tags = %q, want %q", got[prod], want)
	}
}
