package fakeaws

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/testenv"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// motoAccount is the account of moto's default credentials, and the
// fake's default account here.
const motoAccount = "123456789012"

// call is one call of the exporter's, made through the SDK with cfg; it
// returns what the answer says, without what each server makes up (user
// IDs, creation times, the organization's ARNs and e-mails), or the
// error's code.
type call struct {
	name string
	do   func(ctx context.Context, cfg aws.Config) (any, error)
}

// The fake stands in for AWS where moto_server cannot; where both serve a
// call, they must answer alike. Both get the same account (users with tags
// and access keys, the keys that moto made) and the same organization; the
// same calls go to both, before and after, and their answers are compared.
// Left out where moto is not AWS: ListAccounts outside an organization
// (AWSOrganizationsNotInUseException from AWS, an empty list from moto) and
// user names in another case (IAM does not tell them apart, moto does).
func TestAgainstMoto(t *testing.T) {
	endpoint := testenv.StartMoto(t)
	ctx, cancel := context.WithTimeout(t.Context(), testenv.Patience)
	defer cancel()
	moto := aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(testenv.DummyAccessKeyID, testenv.DummySecretAccessKey, ""),
	}
	fake := New(motoAccount)
	t.Cleanup(fake.Close)
	// moto builds a report at once.
	fake.DefaultAccount().SetInProgressPolls(0)

	compare := func(calls []call) {
		t.Helper()
		for _, c := range calls {
			want, wantErr := c.do(ctx, moto)
			got, err := c.do(ctx, fake.Config())
			if w, g := answer(want, wantErr), answer(got, err); w != g {
				t.Errorf("%s:\nfake: %s\nmoto: %s", c.name, g, w)
			}
		}
	}
	compare([]call{
		{"GetCredentialReport before any generation", func(ctx context.Context, cfg aws.Config) (any, error) {
			_, err := iam.NewFromConfig(cfg).GetCredentialReport(ctx, nil)
			var e *iamtypes.CredentialReportNotPresentException
			return errors.As(err, &e), err
		}},
		{"ListAccountAliases", func(ctx context.Context, cfg aws.Config) (any, error) {
			out, err := iam.NewFromConfig(cfg).ListAccountAliases(ctx, nil)
			if err != nil {
				return nil, err
			}
			return words(out.AccountAliases, out.IsTruncated), nil
		}},
		{"GetCallerIdentity", func(ctx context.Context, cfg aws.Config) (any, error) {
			out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, nil)
			if err != nil {
				return nil, err
			}
			return aws.ToString(out.Account), nil
		}},
	})

	users := motoUsers(ctx, t, moto)
	fake.DefaultAccount().SetUsers(users)
	fake.DefaultAccount().SetCSV(ReportCSV(motoAccount, time.Now(), users))
	orgs, _ := testenv.NewMotoOrganization(ctx, t, endpoint)
	member := testenv.CreateMotoAccount(ctx, t, orgs, "prod")
	testenv.CreateMotoAccount(ctx, t, orgs, "dev")
	var list []OrgAccount
	for p := organizations.NewListAccountsPaginator(orgs, nil); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page.Accounts {
			list = append(list, OrgAccount{ID: aws.ToString(a.Id), Name: aws.ToString(a.Name)})
		}
	}
	fake.SetOrganization(list, 0)

	generate := func(ctx context.Context, cfg aws.Config) (any, error) {
		out, err := iam.NewFromConfig(cfg).GenerateCredentialReport(ctx, nil)
		if err != nil {
			return nil, err
		}
		return out.State, nil
	}
	assumed := func(cfg aws.Config) aws.Config {
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg),
			"arn:aws:iam::"+member+":role/OrganizationAccountAccessRole", func(o *stscreds.AssumeRoleOptions) { o.RoleSessionName = "audit" }))
		return cfg
	}
	compare([]call{
		{"GenerateCredentialReport", generate},
		{"GenerateCredentialReport again", generate},
		{"GetCredentialReport", func(ctx context.Context, cfg aws.Config) (any, error) {
			out, err := iam.NewFromConfig(cfg).GetCredentialReport(ctx, nil)
			if err != nil {
				return nil, err
			}
			rep, err := report.Parse(bytes.NewReader(out.Content))
			if err != nil {
				return nil, err
			}
			// moto's reports lack the root row; the creation times are
			// each server's own.
			rows := []string{string(out.ReportFormat)}
			for _, u := range rep.Users {
				if !u.Root {
					rows = append(rows, words(u.Name, u.ARN, u.PasswordEnabled, u.MFAActive, u.AccessKeys[0].Active, u.AccessKeys[0].LastRotated,
						u.AccessKeys[1].Active, u.AccessKeys[1].LastRotated))
				}
			}
			return rows, nil
		}},
		{"GetAccountAuthorizationDetails of users", func(ctx context.Context, cfg aws.Config) (any, error) {
			out, err := iam.NewFromConfig(cfg).GetAccountAuthorizationDetails(ctx, &iam.GetAccountAuthorizationDetailsInput{
				Filter: []iamtypes.EntityType{iamtypes.EntityTypeUser}, MaxItems: aws.Int32(1000),
			})
			if err != nil {
				return nil, err
			}
			rows := []string{words(out.IsTruncated, aws.ToString(out.Marker))}
			for _, u := range out.UserDetailList {
				row := words(aws.ToString(u.UserName), aws.ToString(u.Path), aws.ToString(u.Arn))
				for _, tag := range u.Tags {
					row += " " + aws.ToString(tag.Key) + "=" + aws.ToString(tag.Value)
				}
				rows = append(rows, row)
			}
			return rows, nil
		}},
		{"ListAccessKeys", listKeys("alice")},
		{"ListAccessKeys of no such user", listKeys("nobody")},
		{"ListAccounts", listAccounts},
		{"GetCallerIdentity in an assumed role", func(ctx context.Context, cfg aws.Config) (any, error) {
			out, err := sts.NewFromConfig(assumed(cfg)).GetCallerIdentity(ctx, nil)
			if err != nil {
				return nil, err
			}
			return words(aws.ToString(out.Account), aws.ToString(out.Arn)), nil
		}},
		{"GenerateCredentialReport in an assumed role's account", func(ctx context.Context, cfg aws.Config) (any, error) {
			return generate(ctx, assumed(cfg))
		}},
	})
}

// motoUsers creates users in moto, and returns them as SetUsers takes them,
// with the keys that moto made.
func motoUsers(ctx context.Context, t *testing.T, cfg aws.Config) []User {
	t.Helper()
	client := iam.NewFromConfig(cfg)
	tag := func(k, v string) iamtypes.Tag { return iamtypes.Tag{Key: aws.String(k), Value: aws.String(v)} }
	// In IAM's order, by name with case ignored.
	users := []User{
		{Name: "alice", Tags: []Tag{{"owner", "team-a"}, {"team", "payments"}}},
		{Name: "Bob", Tags: []Tag{{"Name", "Bob"}}},
		{Name: "carol"},
	}
	keys := map[string]int{"alice": 2, "Bob": 1}
	for i, u := range users {
		var tags []iamtypes.Tag
		for _, t := range u.Tags {
			tags = append(tags, tag(t.Key, t.Value))
		}
		if _, err := client.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(u.Name), Tags: tags}); err != nil {
			t.Fatalf("create user %s: %v", u.Name, err)
		}
		for range keys[u.Name] {
			out, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(u.Name)})
			if err != nil {
				t.Fatalf("create access key of %s: %v", u.Name, err)
			}
			k := out.AccessKey
			users[i].AccessKeys = append(users[i].AccessKeys, AccessKey{ID: aws.ToString(k.AccessKeyId), Created: aws.ToTime(k.CreateDate), Active: true})
		}
	}
	// alice's second key is inactive.
	second := &users[0].AccessKeys[1]
	if _, err := client.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String(second.ID), Status: iamtypes.StatusTypeInactive}); err != nil {
		t.Fatalf("deactivate a key of alice: %v", err)
	}
	second.Active = false
	return users
}

func listKeys(user string) func(ctx context.Context, cfg aws.Config) (any, error) {
	return func(ctx context.Context, cfg aws.Config) (any, error) {
		out, err := iam.NewFromConfig(cfg).ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(user)})
		if err != nil {
			return nil, err
		}
		rows := []string{words(out.IsTruncated, aws.ToString(out.Marker))}
		for _, k := range out.AccessKeyMetadata {
			rows = append(rows, words(aws.ToString(k.UserName), aws.ToString(k.AccessKeyId), k.Status, aws.ToTime(k.CreateDate).Unix()))
		}
		return rows, nil
	}
}

// listAccounts lists the organization's accounts one a page.
func listAccounts(ctx context.Context, cfg aws.Config) (any, error) {
	var pages []string
	p := organizations.NewListAccountsPaginator(organizations.NewFromConfig(cfg), &organizations.ListAccountsInput{MaxResults: aws.Int32(1)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return pages, err
		}
		var accounts []string
		for _, a := range page.Accounts {
			accounts = append(accounts, words(aws.ToString(a.Id), aws.ToString(a.Name), a.State, a.Status))
		}
		pages = append(pages, fmt.Sprint(accounts))
	}
	return pages, nil
}

// words are the values, printed and separated by spaces.
func words(v ...any) string { return strings.TrimSuffix(fmt.Sprintln(v...), "\n") }

// answer is what a call answered, in words.
func answer(v any, err error) string {
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &apiErr):
		return fmt.Sprintf("%v, error %s", v, apiErr.ErrorCode())
	case err != nil:
		return fmt.Sprintf("%v, error %v", v, err)
	}
	return fmt.Sprintf("%q", v)
}
