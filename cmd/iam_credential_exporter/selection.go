package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"

	"github.com/iam-credential-exporter/iam_credential_exporter/accounts"
	"github.com/iam-credential-exporter/iam_credential_exporter/collector"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// aliasInterval is how often each account's alias is read again.
const aliasInterval = 24 * time.Hour

// selection is the wiring between the flags, the accounts package (which
// accounts, reached how) and the report scheduler.
type selection struct {
	opts   options
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
}

func newSelection(ctx context.Context, o options, observe func(operation, code string), logger *slog.Logger) (*selection, error) {
	s := &selection{
		opts:   o,
		logger: logger,
		file:   o.reportFile != "",
		filter: accounts.Filter{Include: o.include, Exclude: o.exclude},
		shard:  accounts.Shard{Index: o.shard, Total: o.totalShards},
	}
	if s.file {
		return s, nil
	}
	if o.configFile != "" {
		c, err := accounts.LoadConfig(o.configFile)
		if err != nil {
			return nil, err
		}
		s.configured = c.Accounts
		s.org = c.Organization
		s.filter.Include = append(s.filter.Include, c.Include...)
		s.filter.Exclude = append(s.filter.Exclude, c.Exclude...)
	}
	for _, roleARN := range o.roleARNs {
		partition, id, err := accounts.ParseRoleARN(roleARN)
		if err != nil {
			return nil, fmt.Errorf("--aws.role-arn: %w", err)
		}
		if s.partition != "" && partition != s.partition {
			return nil, fmt.Errorf("--aws.role-arn: %s is in partition %s, others in %s; run one exporter per partition", roleARN, partition, s.partition)
		}
		s.partition = partition
		s.configured = append(s.configured, accounts.Account{ID: id, RoleARN: roleARN, ExternalID: o.externalID})
	}
	for _, a := range s.configured {
		if a.RoleARN != "" && s.partition == "" {
			s.partition, _, _ = accounts.ParseRoleARN(a.RoleARN)
		}
	}
	if o.organization {
		s.org = &accounts.OrgConfig{RoleName: o.orgRoleName, ExternalID: o.externalID}
	}
	if s.org != nil {
		if err := s.org.Validate(); err != nil {
			return nil, err
		}
	}

	cfg, err := report.LoadAWSConfig(ctx, report.ConfigOptions{
		Region:           o.region,
		Partition:        s.partition,
		MaxResponseBytes: o.maxBytes,
	})
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	// Every client built from cfg (IAM, STS for roles, Organizations)
	// counts its attempts.
	cfg.APIOptions = append(cfg.APIOptions, report.ObserveRequests(observe))
	s.base = cfg
	if s.partition == "" {
		s.partition = report.PartitionOfRegion(cfg.Region)
	}

	callCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if self, err := report.CallerAccount(callCtx, cfg); err != nil {
		// Not fatal: the credentials may appear later (IMDS, a rotated
		// secret), and a report names its account.
		logger.Warn("cannot tell which account the credentials belong to", "err", err)
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
	}
	return s, nil
}

// run selects the accounts now and, with Organizations discovery, again
// every --aws.organization.refresh-interval until ctx is cancelled.
func (s *selection) run(ctx context.Context, scheduler *report.Scheduler, discovery *collector.Discovery) {
	s.sync(ctx, scheduler, discovery)
	if s.org == nil {
		return
	}
	ticker := time.NewTicker(s.opts.orgRefreshInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			s.sync(ctx, scheduler, discovery)
		}
	}
}

func (s *selection) sync(ctx context.Context, scheduler *report.Scheduler, discovery *collector.Discovery) {
	if s.file {
		s.logger.Info("reading the credential report from a file", "path", s.opts.reportFile, "refresh_interval", s.opts.refreshInterval)
		source := report.NewFileSource(s.opts.reportFile, s.opts.maxBytes)
		scheduler.Sync(ctx, []report.Target{{Source: source}})
		return
	}
	list, err := s.accounts(ctx)
	if s.org != nil {
		discovery.Observe(err == nil)
	}
	if err != nil {
		// Keep reading the accounts found last time.
		s.logger.Error("account discovery failed; keeping the previous account list", "err", err)
		return
	}
	targets := make([]report.Target, 0, len(list))
	for _, a := range list {
		cfg := s.base
		if a.RoleARN != "" {
			cfg = report.AssumeRole(s.base, a.RoleARN, a.ExternalID)
		}
		targets = append(targets, report.Target{
			AccountID: a.ID,
			Name:      a.Name,
			Source:    report.NewAWSSource(cfg, a.ID, report.AWSOptions{AliasInterval: aliasInterval}, s.logger),
			Key:       a.RoleARN + "\n" + a.ExternalID,
		})
	}
	scheduler.Sync(ctx, targets)
	s.logger.Info("reading credential reports from AWS", "accounts", len(targets), "shard", s.shard.Index, "total_shards", s.shard.Total,
		"refresh_interval", s.opts.refreshInterval)
}

// accounts lists the accounts this replica reads: configured and
// discovered, filtered, and those of its shard.
func (s *selection) accounts(ctx context.Context) ([]accounts.Account, error) {
	list := s.configured
	if s.org != nil {
		ctx, cancel := context.WithTimeout(ctx, s.opts.timeout)
		defer cancel()
		discovered, err := accounts.Discover(ctx, s.orgClient, s.partition, *s.org, s.self)
		if err != nil {
			return nil, err
		}
		list = accounts.Merge(discovered, s.configured)
	}
	var out []accounts.Account
	for _, a := range list {
		if s.filter.Keep(a) && s.shard.Owns(a.ID) {
			out = append(out, a)
		}
	}
	return out, nil
}
