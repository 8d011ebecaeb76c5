package selection

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/collector"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/accounts"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/awsapi"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// Options are the flags that choose the accounts and how each report is
// read, named after them, and where a Selection reports what it did. main
// binds the flags to them; the messages of Validate and New name the flags.
type Options struct {
	// ReportFile reads one report from this file instead of AWS
	// (--report.file); it excludes every AWS option.
	ReportFile string
	// RefreshInterval is --report.refresh-interval, only logged here: the
	// scheduler refreshes.
	RefreshInterval time.Duration
	// Timeout (--report.timeout) bounds each Organizations listing and
	// each reading of the account tags.
	Timeout  time.Duration
	MaxBytes int64 // --report.max-bytes
	MaxUsers int   // --report.max-users

	ConfigFile       string   // --config.file
	AllowMassRemoval bool     // --config.allow-mass-removal
	Region           string   // --aws.region
	RoleARNs         []string // --aws.role-arn
	ExternalID       string   // --aws.external-id

	Organization       bool          // --aws.organization
	OrgRoleName        string        // --aws.organization.role-name
	OrgRefreshInterval time.Duration // --aws.organization.refresh-interval
	Include, Exclude   []string      // --aws.account-include, --aws.account-exclude
	Shard, TotalShards int           // --shard, --total-shards

	UserTags         []string      // --aws.user-tags
	UserTagsInterval time.Duration // --aws.user-tags.refresh-interval
	AccountTags      []string      // --aws.account-tags
	Exemptions       bool          // --aws.exemptions
	ExemptionMaxDays int           // --exemptions.max-days
	AccessKeyIDs     bool          // --aws.access-key-ids
	AccessKeyIDsRate float64       // --aws.access-key-ids.rate
	PasswordPolicy   bool          // --aws.password-policy

	KeyCallers            bool          // --aws.key-callers
	KeyCallersRate        float64       // --aws.key-callers.rate
	KeyCallersWindow      time.Duration // --aws.key-callers.window
	KeyCallersPagesPerDay int           // --aws.key-callers.pages-per-day
	KeyCallersPerKey      int           // --aws.key-callers.per-key
	KeyCallersMaxKeys     int           // --aws.key-callers.max-keys
	KeyCallersInterval    time.Duration // --aws.key-callers.refresh-interval
	// KeyCallersIPRanges is --aws.key-callers.ip-ranges-file's, read once
	// at start; nil without the flag.
	KeyCallersIPRanges *awsapi.IPRanges

	// FileExemptions are --exemptions.file's, read once at start and
	// attached to every report; nil without the flag.
	FileExemptions report.AccountExemptions
	// ObserveRequest is told of every AWS request (see
	// awsapi.ObserveRequests); nil: none is counted.
	ObserveRequest func(operation, code string)
	// Discovery exports the outcome of each Organizations listing and
	// each reading of the account tags; nil: not exported.
	Discovery *collector.Discovery
	// ConfigReload exports the outcome of each reading of --config.file;
	// nil: not exported.
	ConfigReload *collector.ConfigReload
}

// Validate checks the options alone, without reading --config.file or
// asking AWS, so that a mistake in the flags stops the exporter before it
// listens. New finds the rest.
func (o Options) Validate() error {
	if o.RefreshInterval <= 0 {
		return fmt.Errorf("--report.refresh-interval must be positive, got %s", o.RefreshInterval)
	}
	if o.Timeout <= 0 {
		return fmt.Errorf("--report.timeout must be positive, got %s", o.Timeout)
	}
	if o.MaxBytes <= 0 {
		return fmt.Errorf("--report.max-bytes must be positive, got %d", o.MaxBytes)
	}
	if o.MaxUsers <= 0 {
		return fmt.Errorf("--report.max-users must be positive, got %d", o.MaxUsers)
	}
	if o.OrgRefreshInterval <= 0 {
		return fmt.Errorf("--aws.organization.refresh-interval must be positive, got %s", o.OrgRefreshInterval)
	}
	if o.ReportFile != "" && (len(o.RoleARNs) > 0 || o.Organization || o.ConfigFile != "") {
		return errors.New("--report.file reads one report from disk; it excludes --aws.role-arn, --aws.organization and --config.file")
	}
	if o.ReportFile != "" && (len(o.UserTags) > 0 || len(o.AccountTags) > 0 || o.Exemptions || o.AccessKeyIDs || o.PasswordPolicy || o.KeyCallers) {
		return errors.New("--report.file reads one report from disk; --aws.user-tags, --aws.account-tags, --aws.exemptions, --aws.access-key-ids, --aws.password-policy and --aws.key-callers read AWS")
	}
	if err := o.validateKeyCallers(); err != nil {
		return err
	}
	if len(o.AccountTags) > 0 && !o.Organization && o.ConfigFile == "" {
		return errors.New("--aws.account-tags: account tags are read from Organizations; enable discovery with --aws.organization or organization: in --config.file")
	}
	if o.ExemptionMaxDays <= 0 {
		return fmt.Errorf("--exemptions.max-days must be positive, got %d", o.ExemptionMaxDays)
	}
	if o.UserTagsInterval <= 0 {
		return fmt.Errorf("--aws.user-tags.refresh-interval must be positive, got %s", o.UserTagsInterval)
	}
	if !(o.AccessKeyIDsRate > 0) {
		return fmt.Errorf("--aws.access-key-ids.rate must be positive, got %g", o.AccessKeyIDsRate)
	}
	if _, err := (Options{UserTags: o.UserTags, AccountTags: o.AccountTags}).TagKeys(); err != nil {
		return err
	}
	if o.ExternalID != "" && len(o.RoleARNs) == 0 && !o.Organization {
		return errors.New("--aws.external-id needs --aws.role-arn or --aws.organization")
	}
	if _, err := roleAccounts(o.RoleARNs, o.ExternalID); err != nil {
		return err
	}
	if o.Organization {
		if err := (accounts.OrgConfig{RoleName: o.OrgRoleName, ExternalID: o.ExternalID}).Validate(); err != nil {
			return fmt.Errorf("--aws.organization.role-name or --aws.external-id: %w", err)
		}
	}
	if err := (accounts.Shard{Index: o.Shard, Total: o.TotalShards}).Validate(); err != nil {
		return fmt.Errorf("--shard, --total-shards: %w", err)
	}
	if err := (accounts.Filter{Include: o.Include, Exclude: o.Exclude}).Validate(); err != nil {
		return fmt.Errorf("--aws.account-include, --aws.account-exclude: %w", err)
	}
	return nil
}

// TagKeys are the tag allowlists: the flags' and the config file's.
type TagKeys struct {
	User, Account report.TagKeys
}

func (t TagKeys) equal(o TagKeys) bool {
	return slices.Equal(t.User, o.User) && slices.Equal(t.Account, o.Account)
}

// TagKeys merges the allowlists of the flags and of --config.file, and
// checks that each key has a label of its own. They name the labels of the
// metrics handler, which needs them before New.
func (o Options) TagKeys() (TagKeys, error) {
	userValues, accountValues := slices.Clone(o.UserTags), slices.Clone(o.AccountTags)
	if o.ConfigFile != "" {
		c, err := accounts.LoadConfig(o.ConfigFile)
		if err != nil {
			return TagKeys{}, err
		}
		userValues = append(userValues, c.UserTags...)
		accountValues = append(accountValues, c.AccountTags...)
	}
	var t TagKeys
	var err error
	if t.User, err = report.ParseTagKeys(userValues); err != nil {
		return TagKeys{}, fmt.Errorf("--aws.user-tags: %w", err)
	}
	if _, err := collector.TagLabelNames(t.User); err != nil {
		return TagKeys{}, fmt.Errorf("--aws.user-tags: %w", err)
	}
	if t.Account, err = report.ParseTagKeys(accountValues); err != nil {
		return TagKeys{}, fmt.Errorf("--aws.account-tags: %w", err)
	}
	if _, err := collector.TagLabelNames(t.Account); err != nil {
		return TagKeys{}, fmt.Errorf("--aws.account-tags: %w", err)
	}
	return t, nil
}

// roleAccounts turns the repeated --aws.role-arn into accounts, each with
// the one --aws.external-id. The same account twice is refused: only one of
// its roles could be used, and which one would be a guess.
func roleAccounts(roleARNs []string, externalID string) ([]accounts.Account, error) {
	if len(roleARNs) > 0 && externalID != "" {
		if err := accounts.CheckExternalID(externalID); err != nil {
			return nil, fmt.Errorf("--aws.external-id: %w", err)
		}
	}
	var list []accounts.Account
	for _, roleARN := range roleARNs {
		_, id, err := accounts.ParseRoleARN(roleARN)
		if err != nil {
			return nil, fmt.Errorf("--aws.role-arn: %w", err)
		}
		if i := slices.IndexFunc(list, func(a accounts.Account) bool { return a.ID == id }); i >= 0 {
			return nil, fmt.Errorf("--aws.role-arn: account %s is given twice (%s and %s); give one role per account", id, list[i].RoleARN, roleARN)
		}
		list = append(list, accounts.Account{ID: id, RoleARN: roleARN, ExternalID: externalID})
	}
	return list, nil
}

// validateKeyCallers checks the tuning of --aws.key-callers, which matters
// only when it is on.
func (o Options) validateKeyCallers() error {
	switch {
	case !o.KeyCallers:
		return nil
	case !(o.KeyCallersRate > 0):
		return fmt.Errorf("--aws.key-callers.rate must be positive, got %g", o.KeyCallersRate)
	case o.KeyCallersRate > 2:
		return fmt.Errorf("--aws.key-callers.rate must be at most 2, CloudTrail's quota of LookupEvents per account and region, got %g", o.KeyCallersRate)
	case o.KeyCallersWindow <= 0 || o.KeyCallersWindow > 90*24*time.Hour:
		return fmt.Errorf("--aws.key-callers.window must be positive and at most 90 days (2160h), how long CloudTrail keeps event history, got %s", o.KeyCallersWindow)
	case o.KeyCallersPagesPerDay <= 0:
		return fmt.Errorf("--aws.key-callers.pages-per-day must be positive, got %d", o.KeyCallersPagesPerDay)
	case o.KeyCallersPerKey <= 0:
		return fmt.Errorf("--aws.key-callers.per-key must be positive, got %d", o.KeyCallersPerKey)
	case o.KeyCallersMaxKeys <= 0:
		return fmt.Errorf("--aws.key-callers.max-keys must be positive, got %d", o.KeyCallersMaxKeys)
	case o.KeyCallersInterval <= 0:
		return fmt.Errorf("--aws.key-callers.refresh-interval must be positive, got %s", o.KeyCallersInterval)
	}
	return nil
}
