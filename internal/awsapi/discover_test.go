package awsapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/accounts"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/fakeaws"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/testenv"
)

// stubLister serves canned ListAccounts pages and records the NextToken of
// each call.
type stubLister struct {
	pages  []*organizations.ListAccountsOutput
	err    error
	tokens []string
}

func (s *stubLister) ListAccounts(_ context.Context, in *organizations.ListAccountsInput, _ ...func(*organizations.Options)) (*organizations.ListAccountsOutput, error) {
	s.tokens = append(s.tokens, aws.ToString(in.NextToken))
	if s.err != nil {
		return nil, s.err
	}
	call := len(s.tokens) - 1
	if call >= len(s.pages) {
		return nil, fmt.Errorf("stub: unexpected call %d with NextToken %q", call+1, aws.ToString(in.NextToken))
	}
	return s.pages[call], nil
}

func orgAccount(id, name string, state types.AccountState) types.Account {
	return types.Account{Id: aws.String(id), Name: aws.String(name), State: state, Status: types.AccountStatus(state)}
}

// operationError wraps err the way the SDK hands service errors to callers.
func operationError(err error) error {
	return &smithy.OperationError{ServiceID: "Organizations", OperationName: "ListAccounts", Err: err}
}

func TestDiscover(t *testing.T) {
	const self = "999999999999"
	org := accounts.OrgConfig{RoleName: "audit/iam-reader", ExternalID: "ext-1"}
	role := func(id string) string { return "arn:aws:iam::" + id + ":role/audit/iam-reader" }

	tests := []struct {
		name       string
		partition  string
		org        accounts.OrgConfig
		lister     *stubLister
		want       []accounts.Account
		wantTokens []string
		wantErr    string
	}{
		{
			name: "pages, empty pages and states",
			lister: &stubLister{pages: []*organizations.ListAccountsOutput{
				{Accounts: []types.Account{
					orgAccount("333344445555", "staging", types.AccountStateActive),
					orgAccount("222233334444", "gone", types.AccountStateSuspended),
					orgAccount(self, "management", types.AccountStateActive),
				}, NextToken: aws.String("t1")},
				// Organizations may return an empty page that is not the last.
				{NextToken: aws.String("t2")},
				{Accounts: []types.Account{
					orgAccount("111122223333", "prod", types.AccountStateActive),
					orgAccount("444455556666", "closing", types.AccountStatePendingClosure),
					orgAccount("555566667777", "closed", types.AccountStateClosed),
					orgAccount("666677778888", "joining", types.AccountStatePendingActivation),
					// A response from before State existed.
					{Id: aws.String("777788889999"), Name: aws.String("old"), Status: types.AccountStatusActive},
					{Id: aws.String("888899990000"), Name: aws.String("old-gone"), Status: types.AccountStatusSuspended},
				}},
			}},
			want: []accounts.Account{
				{ID: "111122223333", Name: "prod", RoleARN: role("111122223333"), ExternalID: "ext-1"},
				{ID: "333344445555", Name: "staging", RoleARN: role("333344445555"), ExternalID: "ext-1"},
				{ID: "777788889999", Name: "old", RoleARN: role("777788889999"), ExternalID: "ext-1"},
				{ID: self, Name: "management"},
			},
			wantTokens: []string{"", "t1", "t2"},
		},
		{
			name:       "no accounts",
			lister:     &stubLister{pages: []*organizations.ListAccountsOutput{{}}},
			wantTokens: []string{""},
		},
		{
			name:      "other partition",
			partition: "aws-cn",
			lister: &stubLister{pages: []*organizations.ListAccountsOutput{
				{Accounts: []types.Account{orgAccount("111122223333", "prod", types.AccountStateActive)}},
			}},
			want:       []accounts.Account{{ID: "111122223333", Name: "prod", RoleARN: "arn:aws-cn:iam::111122223333:role/audit/iam-reader", ExternalID: "ext-1"}},
			wantTokens: []string{""},
		},
		{
			name: "access denied",
			lister: &stubLister{err: operationError(&types.AccessDeniedException{
				Message: aws.String("You don't have permissions to access this resource."),
			})},
			wantTokens: []string{""},
			wantErr:    "list organization accounts: access denied; discovery needs organizations:ListAccounts, called from the organization's management account or a delegated administrator: operation error Organizations: ListAccounts, AccessDeniedException: You don't have permissions to access this resource.",
		},
		{
			name: "not in an organization",
			lister: &stubLister{err: operationError(&types.AWSOrganizationsNotInUseException{
				Message: aws.String("Your account is not a member of an organization."),
			})},
			wantTokens: []string{""},
			wantErr:    "list organization accounts: the credentials' account is not in an organization; discovery needs organizations:ListAccounts, called from the organization's management account or a delegated administrator: operation error Organizations: ListAccounts, AWSOrganizationsNotInUseException: Your account is not a member of an organization.",
		},
		{
			name:       "other error",
			lister:     &stubLister{err: operationError(errors.New("connection refused"))},
			wantTokens: []string{""},
			wantErr:    "list organization accounts: operation error Organizations: ListAccounts, connection refused",
		},
		{
			name: "repeated token",
			lister: &stubLister{pages: []*organizations.ListAccountsOutput{
				{NextToken: aws.String("t1")},
				{NextToken: aws.String("t1")},
			}},
			wantTokens: []string{"", "t1"},
			wantErr:    "list organization accounts: ListAccounts returned the same NextToken twice",
		},
		{
			name: "malformed account ID",
			lister: &stubLister{pages: []*organizations.ListAccountsOutput{
				{Accounts: []types.Account{orgAccount("1234", "odd", types.AccountStateActive)}},
			}},
			wantTokens: []string{""},
			wantErr:    `list organization accounts: ListAccounts returned account ID "1234", not 12 digits`,
		},
		{
			name:      "unknown partition is refused before any call",
			partition: "aws-moon",
			lister:    &stubLister{},
			wantErr:   `discover organization accounts: unknown partition "aws-moon"`,
		},
		{
			name:    "bad role name is refused before any call",
			org:     accounts.OrgConfig{RoleName: "iam reader"},
			lister:  &stubLister{},
			wantErr: `discover organization accounts: role name "iam reader" is not 1 to 64 of letters, digits and +=,.@_-`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			partition := cmp.Or(tt.partition, "aws")
			o := org
			if tt.org != (accounts.OrgConfig{}) {
				o = tt.org
			}
			got, err := Discover(t.Context(), tt.lister, partition, o, self)
			if got := errText(err); got != tt.wantErr {
				t.Errorf("Discover error = %q\nwant %q", got, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Discover =\n%+v\nwant\n%+v", got, tt.want)
			}
			if !reflect.DeepEqual(tt.lister.tokens, tt.wantTokens) {
				t.Errorf("ListAccounts called with NextTokens %q, want %q", tt.lister.tokens, tt.wantTokens)
			}
		})
	}
}

// DiscoverPages hands over each page's active accounts as the page
// arrives, in the page's order, and nothing of a page it refuses; a failure
// on a later page comes after the earlier pages were handed over.
func TestDiscoverPages(t *testing.T) {
	const self = "999999999999"
	org := accounts.OrgConfig{RoleName: "iam-reader"}
	first := organizations.ListAccountsOutput{Accounts: []types.Account{
		orgAccount("333344445555", "staging", types.AccountStateActive),
		orgAccount("222233334444", "gone", types.AccountStateSuspended),
		orgAccount(self, "management", types.AccountStateActive),
	}, NextToken: aws.String("t1")}
	tests := []struct {
		name      string
		pages     []*organizations.ListAccountsOutput
		wantPages string
		wantErr   string
	}{
		{
			name: "every page, empty ones skipped",
			pages: []*organizations.ListAccountsOutput{&first, {NextToken: aws.String("t2")},
				{Accounts: []types.Account{orgAccount("111122223333", "prod", types.AccountStateActive)}}},
			wantPages: "[[333344445555 999999999999] [111122223333]]",
		},
		{
			// The stub has no second page: the call fails.
			name:      "failure on page 2",
			pages:     []*organizations.ListAccountsOutput{&first},
			wantPages: "[[333344445555 999999999999]]",
			wantErr:   `list organization accounts: stub: unexpected call 2 with NextToken "t1"`,
		},
		{
			name: "malformed ID on page 2",
			pages: []*organizations.ListAccountsOutput{&first, {Accounts: []types.Account{
				orgAccount("111122223333", "prod", types.AccountStateActive),
				orgAccount("1234", "odd", types.AccountStateActive),
			}}},
			wantPages: "[[333344445555 999999999999]]",
			wantErr:   `list organization accounts: ListAccounts returned account ID "1234", not 12 digits`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pages [][]string
			got, err := DiscoverPages(t.Context(), &stubLister{pages: tt.pages}, "aws", org, self, func(page []accounts.Account) {
				var ids []string
				for _, a := range page {
					ids = append(ids, a.ID)
				}
				pages = append(pages, ids)
			})
			if got := errText(err); got != tt.wantErr {
				t.Errorf("DiscoverPages error = %q\nwant %q", got, tt.wantErr)
			}
			if err != nil && got != nil {
				t.Errorf("DiscoverPages returned %+v with its error, want nil", got)
			}
			if got := fmt.Sprint(pages); got != tt.wantPages {
				t.Errorf("pages handed over = %s, want %s", got, tt.wantPages)
			}
		})
	}
}

// Over the wire, Organizations' faults reach Discover as the SDK makes them
// of AWS's answers: a throttled page is retried, a denial keeps its type, a
// body that is not JSON fails the listing.
func TestDiscoverFaults(t *testing.T) {
	const self = "999999999999"
	for _, tc := range []struct {
		name    string
		fault   func(caller *fakeaws.Account)
		wantErr string
	}{
		{"throttled once", func(a *fakeaws.Account) { a.Fail(fakeaws.ListAccounts, "TooManyRequestsException", 1) }, ""},
		{"denied", func(a *fakeaws.Account) { a.Fail(fakeaws.ListAccounts, "AccessDeniedException", 1) }, "list organization accounts: access denied"},
		{"not JSON", func(a *fakeaws.Account) { a.SendGarbage(fakeaws.ListAccounts, 1) }, "list organization accounts: operation error Organizations: ListAccounts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := fakeaws.New(self)
			t.Cleanup(fake.Close)
			fake.SetOrganization([]fakeaws.OrgAccount{{ID: self}, {ID: "111122223333"}, {ID: "222233334444"}}, 2)
			tc.fault(fake.DefaultAccount())
			got, err := Discover(t.Context(), organizations.NewFromConfig(fake.Config()), "aws", accounts.OrgConfig{RoleName: accounts.DefaultOrgRoleName}, self)
			if tc.wantErr == "" {
				if err != nil || len(got) != 3 {
					t.Errorf("Discover = %d accounts, %v; want 3", len(got), err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Errorf("Discover error = %v, want %q", err, tc.wantErr)
			}
			var denied *types.AccessDeniedException
			if got, want := errors.As(err, &denied), tc.name == "denied"; got != want {
				t.Errorf("Discover error %v wraps an AccessDeniedException: %v, want %v", err, got, want)
			}
		})
	}
}

// pageSize makes a real server page through a few accounts, so a test
// covers NextToken handling without creating hundreds of accounts.
type pageSize struct {
	Lister
	size  int32
	calls int
}

func (p *pageSize) ListAccounts(ctx context.Context, in *organizations.ListAccountsInput, opts ...func(*organizations.Options)) (*organizations.ListAccountsOutput, error) {
	p.calls++
	limited := *in
	limited.MaxResults = aws.Int32(p.size)
	return p.Lister.ListAccounts(ctx, &limited, opts...)
}

// TestDiscoverAgainstMoto runs discovery against moto_server, a third-party
// AWS emulator, through the real SDK client: an organization with members,
// then a member closed and one removed.
func TestDiscoverAgainstMoto(t *testing.T) {
	endpoint := testenv.StartMoto(t)
	// The deadline bounds a hang; it does not measure speed.
	ctx, cancel := context.WithTimeout(t.Context(), testenv.Patience)
	defer cancel()

	orgs, mgmt := testenv.NewMotoOrganization(ctx, t, endpoint)
	static := credentials.NewStaticCredentialsProvider(testenv.DummyAccessKeyID, testenv.DummySecretAccessKey, "")

	names := []string{"prod", "staging", "Dev, team [x]", "sandbox-alice"}
	ids := map[string]string{}
	for _, name := range names {
		ids[name] = testenv.CreateMotoAccount(ctx, t, orgs, name)
	}

	const roleName = "OrganizationAccountAccessRole"
	member := func(name string) accounts.Account {
		return accounts.Account{ID: ids[name], Name: name, RoleARN: accounts.RoleARN("aws", ids[name], roleName)}
	}
	discover := func() []accounts.Account {
		t.Helper()
		lister := &pageSize{Lister: orgs, size: 2}
		got, err := Discover(ctx, lister, "aws", accounts.OrgConfig{RoleName: roleName}, mgmt)
		if err != nil {
			t.Fatalf("Discover: %v", err)
		}
		if want := (len(got) + 1) / 2; lister.calls < want {
			t.Errorf("Discover read %d accounts in %d pages of 2; the server ignored MaxResults, so paging went untested", len(got), lister.calls)
		}
		return got
	}
	check := func(step string, got []accounts.Account, want ...accounts.Account) {
		t.Helper()
		if !reflect.DeepEqual(got, accounts.Merge(nil, want)) { // Merge sorts by ID
			t.Errorf("%s: Discover =\n%+v\nwant\n%+v", step, got, accounts.Merge(nil, want))
		}
	}

	got := discover()
	// moto names the management account "master".
	check("after create", got, accounts.Account{ID: mgmt, Name: "master"},
		member("prod"), member("staging"), member("Dev, team [x]"), member("sandbox-alice"))

	// The role ARNs must lead into the accounts that were listed: assume
	// each one and ask IAM in that account for the role.
	for _, a := range got {
		if a.RoleARN != "" {
			assumeAndGetRole(ctx, t, endpoint, static, a, roleName)
		}
	}

	if _, err := orgs.CloseAccount(ctx, &organizations.CloseAccountInput{AccountId: aws.String(ids["staging"])}); err != nil {
		t.Fatalf("close account: %v", err)
	}
	check("after closing staging", discover(), accounts.Account{ID: mgmt, Name: "master"},
		member("prod"), member("Dev, team [x]"), member("sandbox-alice"))

	if _, err := orgs.RemoveAccountFromOrganization(ctx, &organizations.RemoveAccountFromOrganizationInput{AccountId: aws.String(ids["sandbox-alice"])}); err != nil {
		t.Fatalf("remove account from organization: %v", err)
	}
	check("after removing sandbox-alice", discover(), accounts.Account{ID: mgmt, Name: "master"},
		member("prod"), member("Dev, team [x]"))
}

// assumeAndGetRole reaches account a the way the exporter will, through
// AssumeRole, and checks that the credentials land in a and that the role
// exists there.
func assumeAndGetRole(ctx context.Context, t *testing.T, endpoint string, base aws.CredentialsProvider, a accounts.Account, roleName string) {
	t.Helper()
	stsClient := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), Credentials: base})
	assumed := aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, a.RoleARN))

	who, err := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), Credentials: assumed}).
		GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("get caller identity as %s: %v", a.RoleARN, err)
	}
	if got := aws.ToString(who.Account); got != a.ID {
		t.Errorf("assuming %s lands in account %s, want %s", a.RoleARN, got, a.ID)
	}

	iamClient := iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), Credentials: assumed})
	role, err := iamClient.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(roleName)})
	if err != nil {
		t.Fatalf("get role %s in account %s: %v", roleName, a.ID, err)
	}
	if got := aws.ToString(role.Role.Arn); got != a.RoleARN {
		t.Errorf("role in account %s has ARN %s, want %s", a.ID, got, a.RoleARN)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
