package selection

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/iam-credential-exporter/iam_credential_exporter/collector"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/accounts"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/fakeaws"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/refresh"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/testenv"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// callerAccount is the account of the fake endpoint's ambient credentials.
const callerAccount = "123456789012"

// concurrency is --aws.concurrency's default, for the tests' schedulers.
const concurrency = 5

// defaultOptions are the options that main parses from no flags.
func defaultOptions() Options {
	return Options{
		RefreshInterval:    30 * time.Minute,
		Timeout:            5 * time.Minute,
		MaxBytes:           report.DefaultMaxBytes,
		MaxUsers:           report.DefaultMaxUsers,
		OrgRoleName:        accounts.DefaultOrgRoleName,
		OrgRefreshInterval: time.Hour,
		Shard:              0,
		TotalShards:        1,
		UserTagsInterval:   6 * time.Hour,
		AccessKeyIDsRate:   5,
		ExemptionMaxDays:   report.DefaultExemptionMaxDays,
	}
}

// isolateAWS points the SDK's default chain at env only: no shared config
// of the machine, no profile, no instance metadata.
func isolateAWS(t testing.TB, env []string) {
	t.Helper()
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_IAM", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_ORGANIZATIONS",
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_DEFAULT_REGION", "AWS_CA_BUNDLE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "aws-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "aws-credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// startFakeAWS starts the fake IAM/STS endpoint and points the SDK at it.
// Any other service goes to it too, and fails there, never to AWS.
func startFakeAWS(t testing.TB) *fakeaws.Server {
	t.Helper()
	s := fakeaws.New(callerAccount)
	t.Cleanup(s.Close)
	isolateAWS(t, append(s.Environ(), "AWS_ENDPOINT_URL="+s.URL()))
	return s
}

// requestLog records what Options.ObserveRequest is told: each
// AWS request as "Operation", or "Operation:ErrorCode" when it failed.
type requestLog struct {
	mu       sync.Mutex
	requests []string
}

func (l *requestLog) observe(operation, code string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if code != "" {
		operation += ":" + code
	}
	l.requests = append(l.requests, operation)
}

func (l *requestLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.requests)
}

func roleARN(id, roleName string) string { return accounts.RoleARN("aws", id, roleName) }

// byID sorts a copy of list. Without discovery the order of accounts() is
// that of the file and the flags; the scheduler sorts them for display.
func byID(list []accounts.Account) []accounts.Account {
	list = slices.Clone(list)
	slices.SortFunc(list, func(a, b accounts.Account) int { return cmp.Compare(a.ID, b.ID) })
	return list
}

// The accounts of testdata/accounts-mixed.yml.
var (
	security     = accounts.Account{ID: callerAccount, Name: "security"}
	production   = accounts.Account{ID: "111122223333", Name: "production", RoleARN: roleARN("111122223333", "audit/iam-reader"), ExternalID: "file-secret"}
	sandboxAlice = accounts.Account{ID: "222233334444", Name: "sandbox-alice", RoleARN: roleARN("222233334444", "iam-reader")}
)

func TestSelectionAccounts(t *testing.T) {
	const mixed = "testdata/accounts-mixed.yml"
	tests := []struct {
		name   string
		change func(*Options)
		setup  func(*fakeaws.Server)
		want   []accounts.Account
		// wantRequests is what New asks AWS; nil means only
		// who the credentials are. Roles are assumed later, per refresh.
		wantRequests []string
		wantLog      string
	}{
		{
			name:   "no roles: the credentials' account",
			change: func(*Options) {},
			want:   []accounts.Account{{ID: callerAccount}},
		},
		{
			// Not fatal: the report names its account.
			name:         "no roles, identity unknown",
			change:       func(*Options) {},
			setup:        func(s *fakeaws.Server) { s.DefaultAccount().Fail(fakeaws.GetCallerIdentity, "AccessDenied", -1) },
			want:         []accounts.Account{{ID: ""}},
			wantRequests: []string{"GetCallerIdentity:AccessDenied"},
			wantLog:      "cannot tell which account the credentials belong to",
		},
		{
			name: "roles with the external ID",
			change: func(o *Options) {
				o.RoleARNs = []string{roleARN("222233334444", "iam-reader"), roleARN("111122223333", "audit/iam-reader")}
				o.ExternalID = "shared-secret"
			},
			want: []accounts.Account{
				{ID: "111122223333", RoleARN: roleARN("111122223333", "audit/iam-reader"), ExternalID: "shared-secret"},
				{ID: "222233334444", RoleARN: roleARN("222233334444", "iam-reader"), ExternalID: "shared-secret"},
			},
		},
		{
			name:   "role without an external ID",
			change: func(o *Options) { o.RoleARNs = []string{roleARN("111122223333", "iam-reader")} },
			want:   []accounts.Account{{ID: "111122223333", RoleARN: roleARN("111122223333", "iam-reader")}},
		},
		{
			name:   "config file: ambient and role accounts",
			change: func(o *Options) { o.ConfigFile = mixed },
			want:   []accounts.Account{security, production, sandboxAlice},
		},
		{
			// --aws.external-id goes with the flag's roles; the file's
			// accounts keep their own.
			name: "config file and a role flag",
			change: func(o *Options) {
				o.ConfigFile = mixed
				o.RoleARNs = []string{roleARN("333344445555", "iam-reader")}
				o.ExternalID = "flag-secret"
			},
			want: []accounts.Account{security, production, sandboxAlice,
				{ID: "333344445555", RoleARN: roleARN("333344445555", "iam-reader"), ExternalID: "flag-secret"}},
		},
		// The flags' filters apply to the accounts; how a filter matches
		// IDs, names and globs is accounts' TestFilterKeep.
		{
			name:   "include by ID",
			change: func(o *Options) { o.ConfigFile, o.Include = mixed, []string{"111122223333"} },
			want:   []accounts.Account{production},
		},
		{
			name:   "exclude by ID wins over include",
			change: func(o *Options) { o.ConfigFile, o.Include, o.Exclude = mixed, []string{"*"}, []string{"111122223333"} },
			want:   []accounts.Account{security, sandboxAlice},
		},
		{
			name:   "filter of the config file",
			change: func(o *Options) { o.ConfigFile = "testdata/accounts-filtered.yml" },
			want:   []accounts.Account{security, production},
		},
		{
			name:   "filters of the config file and the flags add up",
			change: func(o *Options) { o.ConfigFile, o.Exclude = "testdata/accounts-filtered.yml", []string{"security"} },
			want:   []accounts.Account{production},
		},
		{
			name:   "include that matches no account",
			change: func(o *Options) { o.ConfigFile, o.Include = mixed, []string{"staging"} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := startFakeAWS(t)
			if tt.setup != nil {
				tt.setup(fake)
			}
			o := defaultOptions()
			tt.change(&o)
			if err := o.Validate(); err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			var logs bytes.Buffer
			requests := &requestLog{}
			o.ObserveRequest = requests.observe
			s, err := New(t.Context(), o, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			got, err := s.accounts(t.Context(), nil)
			if err != nil {
				t.Fatalf("accounts: %v", err)
			}
			if !slices.Equal(byID(got), byID(tt.want)) {
				t.Errorf("accounts() =\n%+v\nwant\n%+v", byID(got), byID(tt.want))
			}
			wantRequests := tt.wantRequests
			if wantRequests == nil {
				wantRequests = []string{"GetCallerIdentity"}
			}
			if got := requests.get(); !slices.Equal(got, wantRequests) {
				t.Errorf("AWS requests = %q, want %q", got, wantRequests)
			}
			if !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("logs:\n%s\nwant them to contain %q", logs.String(), tt.wantLog)
			}
		})
	}
}

// TestNewSelectionRefuses checks the mistakes that stop the exporter at
// start, with a message that names the flag or the file. Those in the flags
// alone are found by Options.Validate, before the server starts (exit
// status 2); all but one are found before any AWS request.
func TestNewSelectionRefuses(t *testing.T) {
	const mixed = "testdata/accounts-mixed.yml"
	prod := roleARN("111122223333", "iam-reader")
	tests := []struct {
		name     string
		change   func(*Options)
		wantErr  string // a part of the error
		needsAWS bool   // found only after asking who the credentials are
		flags    bool   // found by Options.Validate
	}{
		{
			name:    "external ID too short",
			change:  func(o *Options) { o.RoleARNs, o.ExternalID = []string{prod}, "a" },
			wantErr: "--aws.external-id: external ID must be 2 to 1224 of letters, digits and +=,.@:/-",
			flags:   true,
		},
		{
			// The ARN of the caller identity instead of the role.
			name:    "not a role ARN",
			change:  func(o *Options) { o.RoleARNs = []string{"arn:aws:sts::111122223333:assumed-role/iam-reader/session"} },
			wantErr: `--aws.role-arn: "arn:aws:sts::111122223333:assumed-role/iam-reader/session" is not an IAM role ARN`,
			flags:   true,
		},
		{
			name: "two roles in one account",
			change: func(o *Options) {
				o.RoleARNs = []string{prod, roleARN("222233334444", "a"), roleARN("111122223333", "audit/b")}
			},
			wantErr: "--aws.role-arn: account 111122223333 is given twice",
			flags:   true,
		},
		{
			name:    "account in the config file and a role flag",
			change:  func(o *Options) { o.ConfigFile, o.RoleARNs = mixed, []string{roleARN("111122223333", "other")} },
			wantErr: "--aws.role-arn: account 111122223333 is also listed in --config.file",
		},
		{
			name:    "ambient account of the config file as a role flag",
			change:  func(o *Options) { o.ConfigFile, o.RoleARNs = mixed, []string{roleARN(callerAccount, "iam-reader")} },
			wantErr: "--aws.role-arn: account " + callerAccount + " is also listed in --config.file",
		},
		{
			name:    "account tags without discovery in the config file",
			change:  func(o *Options) { o.ConfigFile, o.AccountTags = mixed, []string{"owner"} },
			wantErr: "--aws.account-tags: account tags are read from Organizations",
		},
		{
			// The flag's key and the file's give the same label.
			name:    "user tags of the flags and the file sharing a label",
			change:  func(o *Options) { o.ConfigFile, o.UserTags = "testdata/accounts-tags.yml", []string{"cost_center"} },
			wantErr: `--aws.user-tags: tag keys "cost_center" and "cost-center" would both be exported as label tag_cost_center`,
		},
		{
			name:    "roles in two partitions",
			change:  func(o *Options) { o.RoleARNs = []string{prod, "arn:aws-cn:iam::222233334444:role/iam-reader"} },
			wantErr: "role arn:aws-cn:iam::222233334444:role/iam-reader is in partition aws-cn, others in aws; run one exporter per partition",
		},
		{
			name: "config file and role flag in two partitions",
			change: func(o *Options) {
				o.ConfigFile, o.RoleARNs = mixed, []string{"arn:aws-us-gov:iam::333344445555:role/iam-reader"}
			},
			wantErr: "is in partition aws-us-gov, others in aws",
		},
		{
			name:    "discovery role name",
			change:  func(o *Options) { o.Organization, o.OrgRoleName = true, "iam reader" },
			wantErr: `role name "iam reader" is not 1 to 64 of letters`,
			flags:   true,
		},
		{
			name:    "discovery external ID",
			change:  func(o *Options) { o.Organization, o.ExternalID = true, "a" },
			wantErr: "external ID must be 2 to 1224",
			flags:   true,
		},
		{
			name:    "discovery in the flags and in the config file",
			change:  func(o *Options) { o.Organization, o.ConfigFile = true, "testdata/accounts-discovery.yml" },
			wantErr: "--aws.organization: --config.file configures discovery already",
		},
		{
			// Every AssumeRole would go to the commercial partition's STS.
			name: "region of another partition than the roles",
			change: func(o *Options) {
				o.Region, o.RoleARNs = "us-east-1", []string{"arn:aws-cn:iam::222233334444:role/iam-reader"}
			},
			wantErr: "the region us-east-1 (--aws.region, AWS_REGION or the profile's) is in partition aws, the roles in aws-cn",
		},
		{
			name:    "missing config file",
			change:  func(o *Options) { o.ConfigFile = "testdata/no-such-file.yml" },
			wantErr: "read config file: open testdata/no-such-file.yml",
		},
		{
			name:    "config file with an unknown field",
			change:  func(o *Options) { o.ConfigFile = "testdata/accounts-unknown-field.yml" },
			wantErr: "line 3: field externalid not found in type accounts.accountEntry",
		},
		{
			name:     "ambient account of the config file is not the credentials'",
			change:   func(o *Options) { o.ConfigFile = "testdata/accounts-other-ambient.yml" },
			wantErr:  "--config.file lists account 444455556666 as ambient, but the credentials belong to account " + callerAccount,
			needsAWS: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := startFakeAWS(t)
			o := defaultOptions()
			tt.change(&o)
			err := o.Validate()
			if (err != nil) != tt.flags {
				t.Fatalf("Validate() = %v, want an error: %v", err, tt.flags)
			}
			if err == nil {
				_, err = New(t.Context(), o, slog.New(slog.DiscardHandler))
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v\nwant one containing %q", err, tt.wantErr)
			}
			if n := fake.TotalRequests(); !tt.needsAWS && n != 0 {
				t.Errorf("%d AWS requests before the mistake was found, want 0", n)
			}
		})
	}
}

// The tag allowlists name the labels of series already served, so a
// SIGHUP that changes them is refused and the accounts stay; one that
// leaves them alone reloads.
func TestReloadKeepsTagAllowlists(t *testing.T) {
	startFakeAWS(t)
	path := filepath.Join(t.TempDir(), "accounts.yml")
	write := func(userTags string) {
		t.Helper()
		config := "accounts:\n  - role_arn: arn:aws:iam::111122223333:role/iam-reader\nuser_tags: " + userTags + "\n"
		if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("[owner]")
	o := defaultOptions()
	o.ConfigFile, o.UserTags = path, []string{"team"}
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	s, err := New(t.Context(), o, logger)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(s.tags.User); got != "[team owner]" {
		t.Errorf("user tags = %s, want the flag's and the file's: [team owner]", got)
	}
	write("[owner, cost-center]")
	if next := s.reload(t.Context()); next != nil {
		t.Errorf("a reload that changes user_tags was accepted")
	}
	if !strings.Contains(logs.String(), "restart the exporter to change them") {
		t.Errorf("the refusal is not logged:\n%s", logs.String())
	}
	write("[owner]")
	if next := s.reload(t.Context()); next == nil {
		t.Errorf("a reload with the same user_tags was refused:\n%s", logs.String())
	}
}

// A SIGHUP that would stop reading more than half of the accounts read now
// is refused, as a file read while it is being written in place looks; the
// previous accounts stay, the refusal is logged and exported, and
// --config.allow-mass-removal lets it through. With discovery, the
// accounts of the last listing count, so that losing organization: or an
// include line is caught too.
func TestReloadRefusesMassRemoval(t *testing.T) {
	ids := []string{"111111111111", "222222222222", "333333333333", "444444444444"}
	listed := func(n int) string {
		out := "accounts:\n"
		for _, id := range ids[:n] {
			out += "  - role_arn: " + roleARN(id, "iam-reader") + "\n"
		}
		return out
	}
	var discovered []accounts.Account
	for _, id := range ids {
		discovered = append(discovered, accounts.Account{ID: id, Name: "team-" + id[:1], RoleARN: roleARN(id, accounts.DefaultOrgRoleName)})
	}
	tests := []struct {
		name          string
		before, after string
		allow         bool
		refused       bool
	}{
		{name: "one of four listed accounts left", before: listed(4), after: listed(1), refused: true},
		{name: "three of four removed, allowed by the flag", before: listed(4), after: listed(1), allow: true},
		{name: "half removed", before: listed(4), after: listed(2)},
		{name: "the only account replaced", before: listed(1), after: "accounts:\n  - role_arn: " + roleARN("555555555555", "iam-reader") + "\n", refused: true},
		{name: "accounts added", before: listed(2), after: listed(4)},
		{name: "organization: cut", before: listed(1) + "organization: {}\n", after: listed(1), refused: true},
		{name: "an include line cut", before: "organization: {}\ninclude: [team-1, team-2, team-3]\n", after: "organization: {}\ninclude: [team-1]\n", refused: true},
		{name: "exclude grown to three of four", before: "organization: {}\n", after: "organization: {}\nexclude: [team-1, team-2, team-3]\n", refused: true},
		{name: "a listed account left to discovery", before: listed(4) + "organization: {}\n", after: "organization: {}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			startFakeAWS(t)
			path := filepath.Join(t.TempDir(), "accounts.yml")
			write := func(config string) {
				t.Helper()
				if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			write(tt.before)
			configReload := collector.NewConfigReload()
			o := defaultOptions()
			o.ConfigFile, o.AllowMassRemoval, o.ConfigReload = path, tt.allow, configReload
			var logs strings.Builder
			s, err := New(t.Context(), o, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			if s.org != nil {
				// As after a completed listing.
				s.discovered = discovered
			}
			configReload.Observe(true) // as Run does at start

			write(tt.after)
			next := s.reload(t.Context())
			if refused := next == nil; refused != tt.refused {
				t.Fatalf("reload refused: %v, want %v\nlogs:\n%s", refused, tt.refused, logs.String())
			}
			const refusal = "replace the file by rename (mv), then send SIGHUP again; to apply it as it is, restart the exporter, or run it with --config.allow-mass-removal"
			if got := strings.Contains(logs.String(), refusal); got != tt.refused {
				t.Errorf("the refusal is logged: %v, want %v\nlogs:\n%s", got, tt.refused, logs.String())
			}
			want := "1"
			if tt.refused {
				want = "0"
				if !strings.Contains(logs.String(), "level=ERROR msg=\"cannot reload the accounts; keeping the current ones\"") {
					t.Errorf("the refusal is not an error:\n%s", logs.String())
				}
			}
			if err := testutil.CollectAndCompare(configReload, strings.NewReader(`
# HELP iam_credential_exporter_config_last_reload_successful 1 if the last reading of --config.file (at start, then on SIGHUP) was applied, 0 if it was refused and the previous accounts are kept: a file that does not parse, or one that would stop reading more than half of the accounts (see --config.allow-mass-removal). Absent without --config.file.
# TYPE iam_credential_exporter_config_last_reload_successful gauge
iam_credential_exporter_config_last_reload_successful `+want+`
`), "iam_credential_exporter_config_last_reload_successful"); err != nil {
				t.Error(err)
			}
			if next != nil && next.opts.ConfigReload != configReload {
				t.Errorf("the reload metric is not kept across the reload")
			}
		})
	}
}

// Run records that the config file New read at start was applied: the
// reload metric's first value, which main used to set. Without a config
// file the metric stays absent.
func TestRunRecordsTheConfigFileReadAtStart(t *testing.T) {
	const metric = "iam_credential_exporter_config_last_reload_successful"
	for _, configFile := range []string{"testdata/accounts-mixed.yml", ""} {
		t.Run("config file "+strconv.Quote(configFile), func(t *testing.T) {
			startFakeAWS(t)
			configReload := collector.NewConfigReload()
			o := defaultOptions()
			o.ConfigFile, o.ConfigReload = configFile, configReload
			s, err := New(t.Context(), o, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			// Cancelled, so that Run returns after its first selection.
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			scheduler := refresh.NewScheduler(o.RefreshInterval, o.Timeout, concurrency, slog.New(slog.DiscardHandler), nil)
			s.Run(ctx, scheduler, nil)
			scheduler.Wait()

			if configFile == "" {
				if n := testutil.CollectAndCount(configReload, metric); n != 0 {
					t.Errorf("%d %s series without a config file, want none", n, metric)
				}
				return
			}
			if err := testutil.CollectAndCompare(configReload, strings.NewReader(`
# HELP iam_credential_exporter_config_last_reload_successful 1 if the last reading of --config.file (at start, then on SIGHUP) was applied, 0 if it was refused and the previous accounts are kept: a file that does not parse, or one that would stop reading more than half of the accounts (see --config.allow-mass-removal). Absent without --config.file.
# TYPE iam_credential_exporter_config_last_reload_successful gauge
iam_credential_exporter_config_last_reload_successful 1
`), metric); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestRoleAccounts(t *testing.T) {
	tests := []struct {
		name       string
		roleARNs   []string
		externalID string
		want       []accounts.Account
	}{
		{name: "none"},
		{
			// With --aws.organization the external ID is checked as part of
			// the discovery settings.
			name:       "external ID without roles is not checked here",
			externalID: "a",
		},
		{
			name:       "in the order given, role paths kept",
			roleARNs:   []string{"arn:aws:iam::222233334444:role/iam-reader", "arn:aws-us-gov:iam::111122223333:role/audit/team/iam-reader"},
			externalID: "a:b/c=d,e.f@g-h_i+j",
			want: []accounts.Account{
				{ID: "222233334444", RoleARN: "arn:aws:iam::222233334444:role/iam-reader", ExternalID: "a:b/c=d,e.f@g-h_i+j"},
				{ID: "111122223333", RoleARN: "arn:aws-us-gov:iam::111122223333:role/audit/team/iam-reader", ExternalID: "a:b/c=d,e.f@g-h_i+j"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := roleAccounts(tt.roleARNs, tt.externalID)
			if err != nil {
				t.Fatalf("roleAccounts: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("roleAccounts =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

// shardAccounts returns what each of total replicas reads with options o.
func shardAccounts(t *testing.T, o Options, total int) [][]accounts.Account {
	t.Helper()
	out := make([][]accounts.Account, total)
	for i := range total {
		o.Shard, o.TotalShards = i, total
		if err := o.Validate(); err != nil {
			t.Fatalf("Validate() = %v", err)
		}
		s, err := New(t.Context(), o, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("New of shard %d/%d: %v", i, total, err)
		}
		if out[i], err = s.accounts(t.Context(), nil); err != nil {
			t.Fatalf("accounts of shard %d/%d: %v", i, total, err)
		}
	}
	return out
}

// checkShards checks that the replicas split all between them: each account
// read by exactly one.
func checkShards(t *testing.T, shards [][]accounts.Account, all []accounts.Account) {
	t.Helper()
	owner := map[string]int{}
	var union []accounts.Account
	for i, list := range shards {
		for _, a := range list {
			if j, dup := owner[a.ID]; dup {
				t.Errorf("account %s is read by shards %d and %d of %d", a.ID, j, i, len(shards))
			}
			owner[a.ID] = i
		}
		union = append(union, list...)
	}
	if !slices.Equal(byID(union), byID(all)) {
		t.Errorf("shards of %d read\n%+v\nwant\n%+v", len(shards), byID(union), byID(all))
	}
}

func TestSelectionShards(t *testing.T) {
	startFakeAWS(t)

	var roles []string
	var all []accounts.Account
	for i := range 12 {
		id := fmt.Sprintf("1000%08d", i*7919)
		roles = append(roles, roleARN(id, "iam-reader"))
		all = append(all, accounts.Account{ID: id, RoleARN: roleARN(id, "iam-reader")})
	}
	o := defaultOptions()
	o.RoleARNs = roles
	// How accounts spread over any number of shards, and that a restarted
	// replica reads the same ones, is accounts' TestShard*.
	t.Run(fmt.Sprintf("%d roles in 2 shards", len(roles)), func(t *testing.T) {
		shards := shardAccounts(t, o, 2)
		checkShards(t, shards, all)
		for i, list := range shards {
			if len(list) == 0 {
				t.Errorf("shard %d of 2 reads no account of %d", i, len(all))
			}
		}
	})
	t.Run("ambient account in 2 shards", func(t *testing.T) {
		checkShards(t, shardAccounts(t, defaultOptions(), 2), []accounts.Account{{ID: callerAccount}})
	})
}

// TestSelectionReportFileNeedsNoAWS checks that --report.file starts
// without credentials or network.
func TestSelectionReportFileNeedsNoAWS(t *testing.T) {
	fake := startFakeAWS(t)
	o := defaultOptions()
	o.ReportFile = "report.csv"
	if _, err := New(t.Context(), o, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("New: %v", err)
	}
	if n := fake.TotalRequests(); n != 0 {
		t.Errorf("%d AWS requests with --report.file, want 0", n)
	}
}

// TestSelectionOrganizationAgainstMoto runs Organizations discovery through
// the flags and a config file against moto_server, a third-party AWS
// emulator: ACTIVE accounts only, the management account read with the
// exporter's own credentials, the others through
// --aws.organization.role-name, a config file account replacing the
// discovered one, the filters and the shards.
func TestSelectionOrganizationAgainstMoto(t *testing.T) {
	endpoint := testenv.StartMoto(t)
	isolateAWS(t, testenv.AWSEnv(endpoint, t.TempDir()))
	// The deadline bounds a hang; it does not measure speed.
	ctx, cancel := context.WithTimeout(t.Context(), testenv.Patience)
	defer cancel()

	orgs, mgmt := testenv.NewMotoOrganization(ctx, t, endpoint)
	ids := map[string]string{}
	for _, name := range []string{"prod", "staging", "sandbox-alice", "retired"} {
		ids[name] = testenv.CreateMotoAccount(ctx, t, orgs, name)
	}
	if _, err := orgs.CloseAccount(ctx, &organizations.CloseAccountInput{AccountId: aws.String(ids["retired"])}); err != nil {
		t.Fatalf("close account: %v", err)
	}

	// The file gives staging another role and external ID, and no name:
	// the discovered name stays.
	configFile := filepath.Join(t.TempDir(), "accounts.yml")
	config := fmt.Sprintf("accounts:\n  - role_arn: %s\n    external_id: staging-secret\nexclude: [sandbox-*]\n", roleARN(ids["staging"], "custom-reader"))
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	o := defaultOptions()
	o.Organization = true
	o.OrgRoleName = "audit/iam-reader"
	o.ExternalID = "org-secret"
	o.ConfigFile = configFile

	want := accounts.Merge(nil, []accounts.Account{ // Merge sorts by ID
		// moto names the management account "master".
		{ID: mgmt, Name: "master"},
		{ID: ids["prod"], Name: "prod", RoleARN: roleARN(ids["prod"], "audit/iam-reader"), ExternalID: "org-secret"},
		{ID: ids["staging"], Name: "staging", RoleARN: roleARN(ids["staging"], "custom-reader"), ExternalID: "staging-secret"},
	})

	requests := &requestLog{}
	o.ObserveRequest = requests.observe
	s, err := New(ctx, o, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	got, err := s.accounts(ctx, nil)
	if err != nil {
		t.Fatalf("accounts: %v", err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("accounts() =\n%+v\nwant\n%+v", got, want)
	}
	if got, want := requests.get(), []string{"GetCallerIdentity", "ListAccounts"}; !slices.Equal(got, want) {
		t.Errorf("AWS requests = %q, want %q", got, want)
	}

	t.Run("2 shards", func(t *testing.T) {
		checkShards(t, shardAccounts(t, o, 2), want)
	})
}
