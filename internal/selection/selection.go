// Package selection chooses the accounts the exporter reads and keeps the
// report scheduler (internal/refresh) in step with them: those of
// --config.file and --aws.role-arn, or the ambient credentials' own, and
// with Organizations discovery those listed by awsapi, through the
// include/exclude lists and the shard (internal/accounts). Each becomes a
// refresh.Target whose source reads its report through internal/awsapi, or
// the one report of --report.file. The list is made again every
// --aws.organization.refresh-interval with discovery, and from a new
// reading of --config.file on SIGHUP.
package selection

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/accounts"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/awsapi"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/refresh"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// aliasInterval is how often each account's alias is read again.
const aliasInterval = 24 * time.Hour

// Selection is one setup of the accounts to read, from Options and the
// config file as New read them. Run replaces it on each SIGHUP that
// reloads the file.
type Selection struct {
	opts   Options
	logger *slog.Logger

	file       bool
	base       aws.Config
	partition  string
	self       string // the ambient credentials' account, "" if unknown
	configured []accounts.Account
	org        *accounts.OrgConfig
	orgClient  *organizations.Client
	filter     accounts.Filter
	shard      accounts.Shard
	tags       TagKeys
	// accountTags reads the accounts' tags when discovery and
	// --aws.account-tags are on; nil otherwise.
	accountTags *awsapi.AccountTags
	// discovered are the accounts of the last completed Organizations
	// listing, before the filters and the shard; kept across reloads that
	// keep discovery.
	discovered []accounts.Account
}

// New sets the accounts up: it reads --config.file, checks it against the
// flags, loads the AWS configuration and asks AWS which account the
// credentials belong to (30 s at most; not knowing is not fatal). With
// --report.file it does none of that.
func New(ctx context.Context, o Options, logger *slog.Logger) (*Selection, error) {
	s := &Selection{
		opts:   o,
		logger: logger,
		file:   o.ReportFile != "",
		filter: accounts.Filter{Include: o.Include, Exclude: o.Exclude},
		shard:  accounts.Shard{Index: o.Shard, Total: o.TotalShards},
	}
	if s.file {
		return s, nil
	}
	if o.ConfigFile != "" {
		c, err := accounts.LoadConfig(o.ConfigFile)
		if err != nil {
			return nil, err
		}
		s.configured = c.Accounts
		s.org = c.Organization
		s.filter.Include = append(s.filter.Include, c.Include...)
		s.filter.Exclude = append(s.filter.Exclude, c.Exclude...)
	}
	flagged, err := roleAccounts(o.RoleARNs, o.ExternalID)
	if err != nil {
		return nil, err
	}
	for _, a := range flagged {
		if i := slices.IndexFunc(s.configured, func(c accounts.Account) bool { return c.ID == a.ID }); i >= 0 {
			return nil, fmt.Errorf("--aws.role-arn: account %s is also listed in --config.file; list it once", a.ID)
		}
	}
	s.configured = append(s.configured, flagged...)
	for _, a := range s.configured {
		if a.RoleARN == "" {
			continue
		}
		partition, _, _ := accounts.ParseRoleARN(a.RoleARN)
		if s.partition != "" && partition != s.partition {
			return nil, fmt.Errorf("role %s is in partition %s, others in %s; run one exporter per partition", a.RoleARN, partition, s.partition)
		}
		s.partition = partition
	}
	if o.Organization {
		if s.org != nil {
			return nil, errors.New("--aws.organization: --config.file configures discovery already (organization:); use one of them")
		}
		s.org = &accounts.OrgConfig{RoleName: o.OrgRoleName, ExternalID: o.ExternalID}
	}
	if s.org != nil {
		if err := s.org.Validate(); err != nil {
			return nil, err
		}
	}
	if s.tags, err = o.TagKeys(); err != nil {
		return nil, err
	}
	if len(s.tags.Account) > 0 && s.org == nil {
		return nil, errors.New("--aws.account-tags: account tags are read from Organizations; enable discovery with --aws.organization or organization: in --config.file")
	}

	partition, _ := report.LookupPartition(s.partition)
	cfg, err := awsapi.LoadConfig(ctx, o.Region, partition, o.MaxBytes, logger)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if o.ObserveRequest != nil {
		// Every client built from cfg (IAM, STS for roles, Organizations)
		// counts its attempts.
		cfg.APIOptions = append(cfg.APIOptions, awsapi.ObserveRequests(o.ObserveRequest))
	}
	s.base = cfg
	if p := report.PartitionOfRegion(cfg.Region).Name; s.partition == "" {
		s.partition = p
	} else if p != s.partition {
		// Every AssumeRole would go to the other partition's STS and fail.
		return nil, fmt.Errorf("the region %s (--aws.region, AWS_REGION or the profile's) is in partition %s, the roles in %s", cfg.Region, p, s.partition)
	}

	callCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if self, err := awsapi.CallerAccount(callCtx, cfg); err != nil {
		// Not fatal: the credentials may appear later (IMDS, a rotated
		// secret), and a report names its account. When ctx is cancelled,
		// the exporter is stopping and the cause is logged elsewhere.
		if ctx.Err() == nil {
			logger.Warn("cannot tell which account the credentials belong to", "err", err)
		}
	} else {
		s.self = self
	}
	for _, a := range s.configured {
		if a.RoleARN == "" && a.ID != "" && s.self != "" && a.ID != s.self {
			return nil, fmt.Errorf("--config.file lists account %s as ambient, but the credentials belong to account %s", a.ID, s.self)
		}
	}
	if len(s.configured) == 0 && s.org == nil {
		s.configured = []accounts.Account{{ID: s.self}}
	}
	if s.org != nil {
		s.orgClient = organizations.NewFromConfig(cfg)
		if len(s.tags.Account) > 0 {
			s.accountTags = awsapi.NewAccountTags(s.orgClient, s.tags.Account, logger)
		}
	}
	return s, nil
}

// Run selects the accounts now; with Organizations discovery, again every
// --aws.organization.refresh-interval; and on each signal from reload
// (SIGHUP), from the flags and --config.file read anew. It hands them to
// scheduler, and returns when ctx is cancelled.
func (s *Selection) Run(ctx context.Context, scheduler *refresh.Scheduler, reload <-chan os.Signal) {
	if s.opts.ConfigFile != "" {
		// The reading at start, New's, is applied.
		s.observeReload(true)
	}
	s.sync(ctx, scheduler)
	ticker := time.NewTicker(s.opts.OrgRefreshInterval)
	defer ticker.Stop()
	for {
		var listing <-chan time.Time
		if s.org != nil {
			listing = ticker.C
		}
		select {
		case <-ctx.Done():
			return
		case <-listing:
			s.sync(ctx, scheduler)
		case <-reload:
			if next := s.reload(ctx); next != nil {
				s = next
				s.sync(ctx, scheduler)
				ticker.Reset(s.opts.OrgRefreshInterval)
			}
		}
	}
}

// reload sets the accounts up anew, as at start, reading --config.file
// again. It returns nil, and the current accounts stay, when there is no
// file to read again or the new setup fails. Accounts that stay reached the
// same way keep their reports (see refresh.Scheduler.Sync).
func (s *Selection) reload(ctx context.Context) *Selection {
	if s.opts.ConfigFile == "" {
		s.logger.Info("received SIGHUP; nothing to reload without --config.file")
		return nil
	}
	s.logger.Info("received SIGHUP; reloading the accounts", "path", s.opts.ConfigFile)
	next, err := New(ctx, s.opts, s.logger)
	if err == nil && !next.tags.equal(s.tags) {
		err = errors.New("user_tags or account_tags changed: they name the labels of series already served; restart the exporter to change them")
	}
	if err == nil {
		if next.org != nil {
			next.discovered = s.discovered
		}
		err = s.checkRemovals(next)
	}
	if err != nil {
		s.logger.Error("cannot reload the accounts; keeping the current ones", "path", s.opts.ConfigFile, "err", err)
		s.observeReload(false)
		return nil
	}
	s.observeReload(true)
	if next.accountTags != nil && s.accountTags != nil {
		// Keep the tags read so far, and the order of the next reads.
		next.accountTags = s.accountTags
	}
	return next
}

// checkRemovals refuses a reload to next that would stop reading more than
// half of the accounts read now, unless --config.allow-mass-removal: a
// config file read while it is being written in place (truncated, then
// written) can be valid YAML that lists fewer accounts, or that has lost
// its organization: or include: lines, and each account it drops loses its
// series, so its alerts resolve.
//
// The accounts counted are those this replica reads (the file's accounts
// and --aws.role-arn, and with discovery those of the last completed
// listing, through the filters and the shard), not only the file's list: a
// file that lists no account and discovers the organization has nothing to
// lose by that measure, yet loses every account when organization: is cut.
// What next reads is predicted from the last listing, without asking AWS:
// accounts that leave the organization are not the reload's doing, and
// the listing after the reload removes them as any listing does.
func (s *Selection) checkRemovals(next *Selection) error {
	now := s.known()
	kept := make(map[string]bool, len(now))
	for _, a := range next.known() {
		kept[a.ID] = true
	}
	var removed []string
	for _, a := range now {
		if !kept[a.ID] {
			removed = append(removed, a.ID)
		}
	}
	if 2*len(removed) <= len(now) || s.opts.AllowMassRemoval {
		return nil
	}
	slices.Sort(removed)
	return fmt.Errorf("the file would stop reading %d of the %d accounts read now (%s), more than half, as a file read while it is being written would: replace the file by rename (mv), then send SIGHUP again; to apply it as it is, restart the exporter, or run it with --config.allow-mass-removal",
		len(removed), len(now), refresh.BoundedList(removed))
}

// known returns the accounts this replica reads as far as is known without
// asking AWS: the configured ones, and those of the last completed listing
// when discovery is on.
func (s *Selection) known() []accounts.Account {
	if s.org == nil {
		return s.keep(s.configured)
	}
	return s.keep(accounts.Merge(s.discovered, s.configured))
}

func (s *Selection) observeReload(ok bool) {
	if s.opts.ConfigReload != nil {
		s.opts.ConfigReload.Observe(ok)
	}
}

func (s *Selection) sync(ctx context.Context, scheduler *refresh.Scheduler) {
	if s.file {
		s.logger.Info("reading the credential report from a file", "path", s.opts.ReportFile, "refresh_interval", s.opts.RefreshInterval)
		source := report.NewFileSource(s.opts.ReportFile, report.Limits{MaxBytes: s.opts.MaxBytes, MaxUsers: s.opts.MaxUsers})
		scheduler.Sync(ctx, []refresh.Target{{Source: s.withExemptions(source)}})
		return
	}
	// Each page of the listing starts its accounts at once, so that the
	// first reports do not wait for the last page; the Sync after the
	// listing removes the accounts that left and applies names and tags.
	list, err := s.accounts(ctx, func(page []accounts.Account) {
		scheduler.Add(ctx, s.targets(page, nil))
	})
	if s.org != nil && s.opts.Discovery != nil {
		s.opts.Discovery.Observe(err == nil)
	}
	if err != nil {
		// Keep reading the accounts found last time, and those that the
		// pages read before the failure started: they are real accounts of
		// the organization, only the list is incomplete, so none can be
		// removed until a listing completes.
		s.logger.Error("account discovery failed; keeping the previous account list", "err", err)
		return
	}
	accountTags := s.readAccountTags(ctx, list)
	targets := s.targets(list, accountTags)
	scheduler.Sync(ctx, targets)
	s.logger.Info("reading credential reports from AWS", "accounts", len(targets), "shard", s.shard.Index, "total_shards", s.shard.Total,
		"refresh_interval", s.opts.RefreshInterval)
}

// targets makes the accounts refresh targets, each with its tags from
// accountTags.
func (s *Selection) targets(list []accounts.Account, accountTags map[string][]report.Tag) []refresh.Target {
	sourceOpts := awsapi.SourceOptions{
		Limits:           report.Limits{MaxBytes: s.opts.MaxBytes, MaxUsers: s.opts.MaxUsers},
		AliasInterval:    aliasInterval,
		UserTags:         s.tags.User,
		UserTagsInterval: s.opts.UserTagsInterval,
		Exemptions:       s.opts.Exemptions,
		ExemptionMaxDays: s.opts.ExemptionMaxDays,
		// The callers are looked up by key ID.
		AccessKeyIDs:     s.opts.AccessKeyIDs || s.opts.KeyCallers,
		AccessKeyIDsRate: s.opts.AccessKeyIDsRate,
		PasswordPolicy:   s.opts.PasswordPolicy,
		KeyCallers:       s.opts.KeyCallers,
		Callers: awsapi.CallerOptions{
			Rate:        s.opts.KeyCallersRate,
			Window:      s.opts.KeyCallersWindow,
			PagesPerDay: s.opts.KeyCallersPagesPerDay,
			PerKey:      s.opts.KeyCallersPerKey,
			MaxKeys:     s.opts.KeyCallersMaxKeys,
			Interval:    s.opts.KeyCallersInterval,
			AWSRanges:   s.opts.KeyCallersIPRanges,
		},
	}
	targets := make([]refresh.Target, 0, len(list))
	for _, a := range list {
		cfg := s.base
		if a.RoleARN != "" {
			cfg = awsapi.AssumeRole(s.base, a.RoleARN, a.ExternalID)
		}
		targets = append(targets, refresh.Target{
			AccountID: a.ID,
			Name:      a.Name,
			Tags:      accountTags[a.ID],
			Source:    s.withExemptions(awsapi.NewReportSource(cfg, a.ID, sourceOpts, s.logger)),
			Key:       a.RoleARN + "\n" + a.ExternalID,
		})
	}
	return targets
}

// withExemptions returns src, attaching --exemptions.file's exemptions to
// each of its reports, as src attaches those of the user tags.
func (s *Selection) withExemptions(src refresh.Source) refresh.Source {
	if len(s.opts.FileExemptions) == 0 {
		return src
	}
	return exemptingSource{src, s.opts.FileExemptions}
}

type exemptingSource struct {
	refresh.Source
	exemptions report.AccountExemptions
}

func (s exemptingSource) Fetch(ctx context.Context) (*report.Report, error) {
	rep, err := s.Source.Fetch(ctx)
	if err != nil {
		return nil, err
	}
	s.exemptions.Attach(rep)
	return rep, nil
}

// readAccountTags reads the tags of the accounts this replica reads, when
// --aws.account-tags asks for them, within --report.timeout.
func (s *Selection) readAccountTags(ctx context.Context, list []accounts.Account) map[string][]report.Tag {
	if s.accountTags == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	ids := make([]string, len(list))
	for i, a := range list {
		ids[i] = a.ID
	}
	tags, ok := s.accountTags.Read(ctx, ids)
	if s.opts.Discovery != nil {
		s.opts.Discovery.ObserveTags(ok)
	}
	return tags
}

// accounts lists the accounts this replica reads: configured and
// discovered, filtered, and those of its shard. With discovery, each page
// of the listing is also handed to page (when not nil) as it arrives: the
// page's accounts that this replica reads, as they appear in the full list.
func (s *Selection) accounts(ctx context.Context, page func([]accounts.Account)) ([]accounts.Account, error) {
	list := s.configured
	if s.org != nil {
		var onPage func([]accounts.Account)
		if page != nil {
			onPage = func(found []accounts.Account) {
				if kept := s.keep(s.merge(found)); len(kept) > 0 {
					page(kept)
				}
			}
		}
		ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
		defer cancel()
		discovered, err := awsapi.DiscoverPages(ctx, s.orgClient, s.partition, *s.org, s.self, onPage)
		if err != nil {
			return nil, err
		}
		s.discovered = discovered
		list = accounts.Merge(discovered, s.configured)
	}
	return s.keep(list), nil
}

// merge returns the accounts of one page of the listing as the full list
// has them: a configured account replaces a discovered one.
func (s *Selection) merge(found []accounts.Account) []accounts.Account {
	listed := make(map[string]bool, len(found))
	for _, a := range found {
		listed[a.ID] = true
	}
	var out []accounts.Account
	for _, a := range accounts.Merge(found, s.configured) {
		if listed[a.ID] {
			out = append(out, a)
		}
	}
	return out
}

// keep returns the accounts of list that pass the filters and belong to
// this replica's shard.
func (s *Selection) keep(list []accounts.Account) []accounts.Account {
	var out []accounts.Account
	for _, a := range list {
		if s.filter.Keep(a) && s.shard.Owns(a.ID) {
			out = append(out, a)
		}
	}
	return out
}
