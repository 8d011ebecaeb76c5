package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	dto "github.com/prometheus/client_model/go"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/fakeaws"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/reportgen"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/testenv"
)

// orgAccount is what one account should look like on /metrics.
type orgAccount struct {
	name  string   // the Organizations (or config file) name
	alias string   // the IAM account alias, "" for none
	users []string // IAM users; the root row is not listed
}

// accountSeries lists the series of every family that carry
// account_id=id, as "name{labels}".
func accountSeries(mfs map[string]*dto.MetricFamily, id string) []string {
	var out []string
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := labelMap(m.GetLabel())
			if labels["account_id"] == id {
				out = append(out, fmt.Sprintf("%s%v", name, labels))
			}
		}
	}
	slices.Sort(out)
	return out
}

// labelledAccounts returns the account_id labels found on any series.
func labelledAccounts(mfs map[string]*dto.MetricFamily) map[string]bool {
	out := map[string]bool{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if id := labelMap(m.GetLabel())["account_id"]; id != "" {
				out[id] = true
			}
		}
	}
	return out
}

// checkAccounts compares /metrics with want: exactly want's accounts are
// exported (no series of any other account, health series included), each
// refreshed successfully, named as want says, and with exactly its own users
// (the root row, which real reports have and moto's lack, is ignored). It
// returns the first difference, so that it can be polled.
func checkAccounts(mfs map[string]*dto.MetricFamily, want map[string]orgAccount) error {
	for id := range labelledAccounts(mfs) {
		if _, ok := want[id]; !ok {
			return fmt.Errorf("account %s should not be exported, has %v", id, accountSeries(mfs, id))
		}
	}
	info := map[string]map[string]string{}
	for _, m := range mfs["aws_iam_account_info"].GetMetric() {
		labels := labelMap(m.GetLabel())
		info[labels["account_id"]] = labels
	}
	users := map[string][]string{}
	for _, m := range mfs["aws_iam_user_info"].GetMetric() {
		labels := labelMap(m.GetLabel())
		id, user := labels["account_id"], labels["user"]
		if user == "<root_account>" {
			continue
		}
		if wantARN := "arn:aws:iam::" + id + ":user/" + user; labels["arn"] != wantARN {
			return fmt.Errorf("user %s in account %s has arn %q, want %q", user, id, labels["arn"], wantARN)
		}
		users[id] = append(users[id], user)
	}
	for _, id := range slices.Sorted(maps.Keys(want)) {
		a := want[id]
		labels, ok := info[id]
		if !ok {
			return fmt.Errorf("no aws_iam_account_info for account %s (%s)", id, a.name)
		}
		if labels["name"] != a.name || labels["alias"] != a.alias {
			return fmt.Errorf("aws_iam_account_info{account_id=%q} has name %q alias %q, want %q and %q",
				id, labels["name"], labels["alias"], a.name, a.alias)
		}
		if v, ok := sample(mfs, "iam_credential_exporter_refresh_success", map[string]string{"account_id": id}); !ok || v != 1 {
			return fmt.Errorf("refresh_success{account_id=%q} = %v (present %v), want 1", id, v, ok)
		}
		got := slices.Sorted(slices.Values(users[id]))
		if wantUsers := slices.Sorted(slices.Values(a.users)); !slices.Equal(got, wantUsers) {
			return fmt.Errorf("account %s (%s) exports users %v, want %v", id, a.name, got, wantUsers)
		}
	}
	return nil
}

// motoOrg drives an AWS Organization on moto_server from its management
// account, and the IAM of its members through OrganizationAccountAccessRole,
// as an administrator would.
type motoOrg struct {
	t    *testing.T
	base aws.Config
	org  *organizations.Client
	// accounts is what each account of the organization holds so far.
	accounts map[string]orgAccount
}

const motoManagementAccount = "123456789012"

func newMotoOrg(ctx context.Context, t *testing.T, endpoint string) *motoOrg {
	t.Helper()
	base := aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(testenv.DummyAccessKeyID, testenv.DummySecretAccessKey, ""),
	}
	orgs, _ := testenv.NewMotoOrganization(ctx, t, endpoint)
	o := &motoOrg{t: t, base: base, org: orgs, accounts: map[string]orgAccount{}}
	out, err := o.org.DescribeAccount(ctx, &organizations.DescribeAccountInput{AccountId: aws.String(motoManagementAccount)})
	if err != nil {
		t.Fatalf("describe the management account: %v", err)
	}
	o.accounts[motoManagementAccount] = orgAccount{name: aws.ToString(out.Account.Name)}
	return o
}

// createMember creates a member account and returns its ID.
func (o *motoOrg) createMember(ctx context.Context, name string) string {
	o.t.Helper()
	id := testenv.CreateMotoAccount(ctx, o.t, o.org, name)
	o.accounts[id] = orgAccount{name: name}
	return id
}

// iam returns an IAM client acting in the account: the management account
// with the base credentials, a member through its
// OrganizationAccountAccessRole.
func (o *motoOrg) iam(id string) *iam.Client {
	if id == motoManagementAccount {
		return iam.NewFromConfig(o.base)
	}
	cfg := o.base.Copy()
	roleARN := "arn:aws:iam::" + id + ":role/OrganizationAccountAccessRole"
	cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(o.base), roleARN))
	return iam.NewFromConfig(cfg)
}

// addUsers creates users, each with an access key, in the account.
func (o *motoOrg) addUsers(ctx context.Context, id string, users ...string) {
	o.t.Helper()
	client := o.iam(id)
	for _, u := range users {
		if _, err := client.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(u)}); err != nil {
			o.t.Fatalf("create user %s in account %s: %v", u, id, err)
		}
		if _, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(u)}); err != nil {
			o.t.Fatalf("create access key of %s in account %s: %v", u, id, err)
		}
	}
	a := o.accounts[id]
	a.users = append(a.users, users...)
	o.accounts[id] = a
}

func (o *motoOrg) setAlias(ctx context.Context, id, alias string) {
	o.t.Helper()
	if _, err := o.iam(id).CreateAccountAlias(ctx, &iam.CreateAccountAliasInput{AccountAlias: aws.String(alias)}); err != nil {
		o.t.Fatalf("create alias of account %s: %v", id, err)
	}
	a := o.accounts[id]
	a.alias = alias
	o.accounts[id] = a
}

// want returns the accounts of the organization except those listed.
func (o *motoOrg) want(except ...string) map[string]orgAccount {
	out := maps.Clone(o.accounts)
	for _, id := range except {
		delete(out, id)
	}
	return out
}

// waitForAccounts polls the exporter until checkAccounts passes. The limit
// bounds a hang: the first refresh of an account waits out moto's STARTED.
func waitForAccounts(t *testing.T, e *exporter, want map[string]orgAccount) map[string]*dto.MetricFamily {
	t.Helper()
	var mfs map[string]*dto.MetricFamily
	waitFor(t, patience, func() error {
		_, mfs = scrape(t, e.URL)
		return checkAccounts(mfs, want)
	})
	return mfs
}

// Organizations discovery against moto_server: an organization of a
// management account and member accounts, each with its own IAM users. The
// exporter reads every ACTIVE account through OrganizationAccountAccessRole
// (the management account with its own credentials), labels each user with
// the right account, names the accounts as Organizations does, and follows
// the organization as accounts are closed, removed and created.
func TestOrganizationMoto(t *testing.T) {
	t.Parallel()
	endpoint := testenv.StartMoto(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	o := newMotoOrg(ctx, t, endpoint)
	o.addUsers(ctx, motoManagementAccount, "org-admin")
	prod := o.createMember(ctx, "production")
	o.addUsers(ctx, prod, "prod-deploy", "prod-backup")
	o.setAlias(ctx, prod, "acme-production")
	staging := o.createMember(ctx, "staging")
	o.addUsers(ctx, staging, "staging-deploy")
	sandbox := o.createMember(ctx, "sandbox")
	o.addUsers(ctx, sandbox, "sandbox-alice", "sandbox-bob", "sandbox-carol")
	env := testenv.AWSEnv(endpoint, t.TempDir())
	discovery := []string{"--aws.organization", "--aws.organization.refresh-interval=1s", "--report.refresh-interval=1s"}

	e := startExporter(t, env, discovery...)
	mfs := waitForAccounts(t, e, o.want())
	if v, ok := sample(mfs, "iam_credential_exporter_account_discovery_success", nil); !ok || v != 1 {
		t.Errorf("account_discovery_success = %v (present %v), want 1", v, ok)
	}

	t.Run("exclude", func(t *testing.T) {
		e := startExporter(t, env, append(discovery, "--aws.account-exclude="+staging)...)
		waitForAccounts(t, e, o.want(staging))
	})

	t.Run("membership changes", func(t *testing.T) {
		if _, err := o.org.CloseAccount(ctx, &organizations.CloseAccountInput{AccountId: aws.String(staging)}); err != nil {
			t.Fatalf("close account: %v", err)
		}
		if _, err := o.org.RemoveAccountFromOrganization(ctx, &organizations.RemoveAccountFromOrganizationInput{AccountId: aws.String(sandbox)}); err != nil {
			t.Fatalf("remove account from organization: %v", err)
		}
		// The closed account stays listed, SUSPENDED: the exporter has to
		// drop it by its state.
		listed, err := o.org.ListAccounts(ctx, &organizations.ListAccountsInput{})
		if err != nil {
			t.Fatalf("list accounts: %v", err)
		}
		states := map[string]orgtypes.AccountState{}
		for _, a := range listed.Accounts {
			states[aws.ToString(a.Id)] = a.State
		}
		if states[staging] != orgtypes.AccountStateSuspended {
			t.Errorf("closed account %s is listed as %q, want SUSPENDED", staging, states[staging])
		}
		if _, ok := states[sandbox]; ok {
			t.Errorf("removed account %s is still listed", sandbox)
		}
		research := o.createMember(ctx, "research")
		o.addUsers(ctx, research, "research-jupyter")
		want := o.want(staging, sandbox)
		waitForAccounts(t, e, want)
		if !strings.Contains(e.Logs(), "accounts removed; their series are no longer exported") {
			t.Errorf("no log line says that accounts were removed")
		}
	})
}

// isolationAccounts are the accounts of TestAccountFailureIsolation, all
// reached through a role, as listed in testdata/accounts/isolation.yml (and
// the last by --aws.role-arn).
var isolationAccounts = []struct {
	id, name string
}{
	{"210000000001", "payments"},
	{"210000000002", "search"},
	{"210000000003", "ledger"}, // good, then broken
	{"210000000004", "locked"}, // AssumeRole denied
	{"210000000005", "busy"},   // throttled on every call
	{"210000000006", ""},       // from --aws.role-arn, so unnamed; report is not CSV
}

// One exporter reading six accounts, three of them broken in different
// ways: a role that cannot be assumed, IAM throttling every call, a report
// that is not CSV. The healthy accounts are read and keep being refreshed;
// each broken one says so in its own health series; an account that breaks
// after a good refresh keeps serving its last good report.
func TestAccountFailureIsolation(t *testing.T) {
	t.Parallel()
	const caller = "200000000000"
	fake := fakeaws.New(caller)
	t.Cleanup(fake.Close)
	generated := time.Now().Add(-time.Hour)
	garbage := []byte("<html><body>this is not a credential report</body></html>\n")
	users := map[string]int{}
	for i, a := range isolationAccounts {
		acct := fake.Account(a.id)
		csv := reportgen.Generate(reportgen.Options{AccountID: a.id, Users: 3 + i, Seed: int64(i)})
		acct.SetReport(csv, generated)
		users[a.id] = 4 + i // and the root row
	}
	locked, busy, corrupt := fake.Account("210000000004"), fake.Account("210000000005"), fake.Account("210000000006")
	locked.DenyAssumeRole(true)
	for _, action := range []string{fakeaws.GenerateCredentialReport, fakeaws.GetCredentialReport, fakeaws.ListAccountAliases} {
		busy.Fail(action, "Throttling", -1)
	}
	corrupt.SetReport(garbage, generated)

	last := isolationAccounts[len(isolationAccounts)-1]
	e := startExporter(t, fake.Environ(),
		"--config.file=testdata/accounts/isolation.yml",
		"--aws.role-arn=arn:aws:iam::"+last.id+":role/iam-reader",
		"--report.refresh-interval=300ms", "--report.timeout=10s", "--aws.concurrency=3")

	healthy := []string{"210000000001", "210000000002", "210000000003"}
	broken := []string{"210000000004", "210000000005", "210000000006"}
	check := func(mfs map[string]*dto.MetricFamily, healthy, broken []string) error {
		for _, a := range isolationAccounts {
			if !slices.Contains(healthy, a.id) && !slices.Contains(broken, a.id) {
				continue
			}
			if _, ok := sample(mfs, "aws_iam_account_info", map[string]string{"account_id": a.id, "name": a.name}); !ok {
				return fmt.Errorf("no aws_iam_account_info for %s named %s", a.id, a.name)
			}
		}
		for _, id := range healthy {
			if v, ok := sample(mfs, "iam_credential_exporter_refresh_success", map[string]string{"account_id": id}); !ok || v != 1 {
				return fmt.Errorf("refresh_success{account_id=%q} = %v (present %v), want 1", id, v, ok)
			}
			// Refreshing again and again shows that the broken accounts
			// do not hold up the healthy ones.
			if v, _ := sample(mfs, "iam_credential_exporter_refreshes_total", map[string]string{"account_id": id}); v < 3 {
				return fmt.Errorf("refreshes_total{account_id=%q} = %v, want >= 3", id, v)
			}
		}
		for _, id := range broken {
			if v, ok := sample(mfs, "iam_credential_exporter_refresh_success", map[string]string{"account_id": id}); !ok || v != 0 {
				return fmt.Errorf("refresh_success{account_id=%q} = %v (present %v), want 0", id, v, ok)
			}
			if v, _ := sample(mfs, "iam_credential_exporter_refresh_failures_total", map[string]string{"account_id": id}); v < 2 {
				return fmt.Errorf("refresh_failures_total{account_id=%q} = %v, want >= 2", id, v)
			}
		}
		return nil
	}
	usersOf := func(mfs map[string]*dto.MetricFamily, id string) int {
		n := 0
		for _, m := range mfs["aws_iam_user_info"].GetMetric() {
			labels := labelMap(m.GetLabel())
			if labels["account_id"] == id {
				if !strings.Contains(labels["arn"], ":iam::"+id+":") {
					t.Errorf("user %s of account %s has arn %s", labels["user"], id, labels["arn"])
				}
				n++
			}
		}
		return n
	}

	var mfs map[string]*dto.MetricFamily
	waitFor(t, patience, func() error {
		_, mfs = scrape(t, e.URL)
		return check(mfs, healthy, broken)
	})
	for _, id := range healthy {
		if got := usersOf(mfs, id); got != users[id] {
			t.Errorf("account %s exports %d users, want %d", id, got, users[id])
		}
	}
	for _, id := range broken {
		if got := usersOf(mfs, id); got != 0 {
			t.Errorf("broken account %s exports %d users, want none (it never had a good report)", id, got)
		}
	}
	if labelledAccounts(mfs)[caller] {
		t.Errorf("the caller's own account %s is exported, but only role accounts were configured", caller)
	}
	for _, c := range []struct{ operation, code string }{
		{"AssumeRole", "AccessDenied"},
		{"GenerateCredentialReport", "Throttling"},
	} {
		if v, _ := sample(mfs, "iam_credential_exporter_aws_request_errors_total", map[string]string{"operation": c.operation, "code": c.code}); v < 1 {
			t.Errorf("aws_request_errors_total{operation=%q,code=%q} = %v, want >= 1", c.operation, c.code, v)
		}
	}
	if v, _ := sample(mfs, "iam_credential_exporter_report_parse_errors_total", map[string]string{"account_id": "210000000006"}); v < 1 {
		t.Errorf("report_parse_errors_total of the corrupt account = %v, want >= 1", v)
	}
	// The fake saw no IAM call acting in the locked account: without the
	// role, there is no way in.
	if n := fake.Requests("210000000004", fakeaws.GenerateCredentialReport); n != 0 {
		t.Errorf("%d GenerateCredentialReport calls acted in the account whose role is denied", n)
	}

	// ledger breaks: its report is garbage from now on.
	ledger := "210000000003"
	fake.Account(ledger).SetReport(garbage, time.Now())
	waitFor(t, patience, func() error {
		_, mfs = scrape(t, e.URL)
		return check(mfs, healthy[:2], append([]string{ledger}, broken...))
	})
	if got := usersOf(mfs, ledger); got != users[ledger] {
		t.Errorf("account %s exports %d users after its report broke, want the last good %d", ledger, got, users[ledger])
	}
	if _, ok := sample(mfs, "iam_credential_exporter_last_refresh_success_timestamp_seconds", map[string]string{"account_id": ledger}); !ok {
		t.Errorf("the account that broke lost its last_refresh_success_timestamp_seconds")
	}
	if _, err := httpGet(e.URL + "/-/ready"); err != nil {
		t.Errorf("/-/ready with some accounts broken: %v", err)
	}
}
