// Command iam_credential_exporter exports the AWS IAM credential report as
// Prometheus metrics. It only parses flags and wires the parts together:
// internal/selection chooses the accounts, internal/awsapi fetches their
// reports, internal/refresh keeps the latest good one of each, and the
// collector package turns them into metrics served over HTTP.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/iam-credential-exporter/iam_credential_exporter/collector"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/accounts"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/awsapi"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/refresh"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/selection"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

const name = "iam_credential_exporter"

// defaultAddress is the exporter's port. The 9100-9999 range of the
// Prometheus port allocation page is full, so pick with --web.listen-address.
const defaultAddress = ":9860"

type options struct {
	telemetryPath          string
	disableExporterMetrics bool
	maxRequests            int
	readTimeout            time.Duration
	writeTimeout           time.Duration
	writeStall             time.Duration // not a flag: defaultWriteStall; tests set their own
	idleTimeout            time.Duration
	healthAddress          string
	externalAddress        string

	concurrency    int
	exemptionsFile string
	ipRangesFile   string
	autoMemLimit   bool
	memLimitRatio  float64
	// selection holds the flags of the accounts and of how each report is
	// read; the scheduler and the exemptions file use a few of them.
	selection selection.Options
}

func main() { os.Exit(run()) }

func run() int {
	opts := options{writeStall: defaultWriteStall}
	app, webFlags, logConfig := newApp(&opts)
	if _, err := app.Parse(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 2
	}
	logger := promslog.New(logConfig)
	if err := opts.validate(); err != nil {
		logger.Error("invalid flags", "err", err)
		return 2
	}
	// Checked before anything listens: the toolkit reads the file only when
	// it serves, after logging "Listening on".
	if path := *webFlags.WebConfigFile; path != "" {
		if err := web.Validate(path); err != nil {
			logger.Error("invalid --web.config.file", "path", path, "err", fmt.Errorf("%s: %w", path, err))
			return 1
		}
	}
	var exemptions report.AccountExemptions
	if path := opts.exemptionsFile; path != "" {
		var err error
		if exemptions, err = accounts.LoadExemptions(path, opts.selection.ExemptionMaxDays); err != nil {
			logger.Error("invalid --exemptions.file", "path", path, "err", err)
			return 1
		}
	}
	if path := opts.ipRangesFile; path != "" {
		ranges, err := awsapi.LoadIPRanges(path)
		if err != nil {
			logger.Error("invalid --aws.key-callers.ip-ranges-file", "path", path, "err", err)
			return 1
		}
		opts.selection.KeyCallersIPRanges = ranges
	}
	logger.Info("starting "+name, "version", version.Info())
	logger.Info("build context", "build_context", version.BuildContext())
	if opts.autoMemLimit {
		setMemoryLimit(opts.memLimitRatio, memlimit.FromCgroup, logger)
	}
	if opts.exemptionsFile != "" {
		logger.Info("read the exemptions file; restart to apply a change to it", "path", opts.exemptionsFile,
			"exemptions", exemptions.Len(), "accounts", len(exemptions))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	reload := make(chan os.Signal, 1)
	signal.Notify(reload, syscall.SIGHUP)
	defer signal.Stop(reload)

	// TagKeys reads --config.file first: say which of the two is wrong.
	if path := opts.selection.ConfigFile; path != "" {
		if _, err := accounts.LoadConfig(path); err != nil {
			logger.Error("invalid --config.file", "path", path, "err", err)
			return 2
		}
	}
	// The tag allowlists name labels, which the handler needs from the start.
	tags, err := opts.selection.TagKeys()
	if err != nil {
		logger.Error("invalid tag keys", "err", err)
		return 2
	}
	awsRequests := collector.NewAWSRequests()
	discovery := collector.NewDiscovery()
	configReload := collector.NewConfigReload()
	metrics, err := collector.NewHandler(collector.HandlerOpts{
		ExporterMetrics: !opts.disableExporterMetrics,
		Live: []prometheus.Collector{
			awsRequests,
			discovery,
			configReload,
			collector.NewShard(opts.selection.Shard, opts.selection.TotalShards),
			versioncollector.NewCollector(name),
		},
		MaxRequestsInFlight: opts.maxRequests,
		ErrorLog:            slog.NewLogLogger(logger.Handler(), slog.LevelError),
		UserTags:            tags.User,
		AccountTags:         tags.Account,
	})
	if err != nil {
		logger.Error("cannot build the metrics handler", "err", err)
		return 1
	}
	// Each account's metrics are encoded when its report changes, not when
	// Prometheus asks for them.
	scheduler := refresh.NewScheduler(opts.selection.RefreshInterval, opts.selection.Timeout, opts.concurrency, logger, metrics.Update)
	handler, err := newHandler(opts, metrics)
	if err != nil {
		logger.Error("cannot build the HTTP handler", "err", err)
		return 1
	}
	httpServers := &servers{main: newServer(opts, handler, logger), flags: webFlags}
	if opts.healthAddress != "" {
		if httpServers.healthListener, err = net.Listen("tcp", opts.healthAddress); err != nil {
			logger.Error("cannot listen on --web.health-listen-address", "err", err)
			return 1
		}
		httpServers.health = newServer(opts, newHealthHandler(metrics.States), logger)
	}
	served := make(chan error, 1)
	go func() { served <- httpServers.serve(ctx, logger) }()

	opts.selection.FileExemptions = exemptions
	opts.selection.ObserveRequest = awsRequests.Observe
	opts.selection.Discovery, opts.selection.ConfigReload = discovery, configReload
	// Asking AWS who we are can take seconds (30 at most). It runs while the
	// servers bind, so that /-/healthy answers from the start and a busy
	// address ends the process at once.
	type selected struct {
		s   *selection.Selection
		err error
	}
	selectedc := make(chan selected, 1)
	go func() {
		s, err := selection.New(ctx, opts.selection, logger)
		selectedc <- selected{s, err}
	}()
	var sel selected
	select {
	case err := <-served:
		// A server failed, or a signal came, before the accounts were set up.
		stop()
		<-selectedc
		return exitCode(err, logger)
	case sel = <-selectedc:
	}
	if sel.err != nil {
		if ctx.Err() != nil {
			// A signal came while the accounts were set up: a normal stop.
			return exitCode(<-served, logger)
		}
		logger.Error("cannot set up the accounts to read", "err", sel.err)
		stop()
		<-served
		return 1
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sel.s.Run(ctx, scheduler, reload)
		scheduler.Wait()
	}()

	err = <-served
	stop()
	<-done
	return exitCode(err, logger)
}

// newApp defines the flags, bound to opts, with the toolkit's web flags and
// promslog's logging flags beside them.
func newApp(opts *options) (*kingpin.Application, *web.FlagConfig, *promslog.Config) {
	app := kingpin.New(name, "Exports the AWS IAM credential report (access key age and use, MFA, passwords, root credentials) as Prometheus metrics.")
	webFlags := kingpinflag.AddFlags(app, defaultAddress)
	app.Flag("web.telemetry-path", "Path under which to expose metrics: a clean path (no //, /./, /../ or trailing /) that starts with / and is not /, /sd, /-/healthy or /-/ready.").
		Default("/metrics").StringVar(&opts.telemetryPath)
	app.Flag("web.disable-exporter-metrics", "Exclude the exporter's own go_*, process_* and promhttp_* metrics from the telemetry path.").
		BoolVar(&opts.disableExporterMetrics)
	app.Flag("web.external-address", "The host:port at which Prometheus reaches this exporter, advertised as the address of every /sd target, whatever Host a request to /sd sends. Unset: the Host of each request to /sd.").
		PlaceHolder("HOST:PORT").StringVar(&opts.externalAddress)
	app.Flag("web.max-requests", "Maximum number of concurrent requests to the telemetry path and /sd; more get 503. Full pages (no ?account_id= or ?exporter=true) may take half of them, at least 1, so that the rest always serve per-account and exporter targets and /sd. 0 disables the limit.").
		Default("40").IntVar(&opts.maxRequests)
	app.Flag("web.read-timeout", "Maximum duration of reading a whole request, headers included; requests carry no body.").
		Default("10s").DurationVar(&opts.readTimeout)
	app.Flag("web.write-timeout", "Maximum duration from the end of a request to the end of its response: a client that reads too slowly gets a cut response, and its --web.max-requests slot is freed. Each write of a response must also complete within 5s.").
		Default("30s").DurationVar(&opts.writeTimeout)
	app.Flag("web.idle-timeout", "Maximum duration a keep-alive connection waits for its next request before it is closed.").
		Default("2m").DurationVar(&opts.idleTimeout)
	app.Flag("web.health-listen-address", "Also serve /-/healthy and /-/ready, and nothing else, over plain HTTP (without --web.config.file's TLS and basic auth) on this address, for probes that cannot authenticate such as Kubernetes httpGet probes. Unset: off.").
		PlaceHolder("ADDRESS").StringVar(&opts.healthAddress)
	app.Flag("report.file", "Read the credential report from this local file instead of AWS: the CSV (what `aws iam get-credential-report --query Content --output text | base64 -d` writes), its base64 text, or the JSON output of `aws iam get-credential-report`. Re-read every --report.refresh-interval. Unset: use AWS.").
		PlaceHolder("PATH").StringVar(&opts.selection.ReportFile)
	app.Flag("report.refresh-interval", "How often to refresh the credential report in the background; AWS rebuilds it at most every 4 hours.").
		Default("30m").DurationVar(&opts.selection.RefreshInterval)
	app.Flag("report.timeout", "Deadline of one refresh: generating, polling and downloading the report.").
		Default("5m").DurationVar(&opts.selection.Timeout)
	app.Flag("report.max-bytes", "Largest credential report file (CSV, base64 or CLI JSON) or AWS response accepted, in bytes; a larger one is rejected. The default holds 10,000 rows (--report.max-users) of about 1.2 KB as base64, five times a typical row.").
		Default("16777216").Int64Var(&opts.selection.MaxBytes)
	app.Flag("report.max-users", "Most user rows (root included) accepted in one credential report; a report with more is rejected, and reading stops there so that memory stays bounded. IAM allows 5,000 users per account.").
		Default("10000").IntVar(&opts.selection.MaxUsers)
	app.Flag("config.file", "YAML file listing accounts (role ARNs, external IDs, names), Organizations discovery and include/exclude lists; see docs/multi-account.md.").
		PlaceHolder("PATH").StringVar(&opts.selection.ConfigFile)
	app.Flag("config.allow-mass-removal", "Apply a SIGHUP reload of --config.file that stops reading more than half of the accounts read now; without it such a reload is refused and the current accounts are kept, since a file caught half-written looks the same. A restart applies any valid file.").
		BoolVar(&opts.selection.AllowMassRemoval)
	app.Flag("aws.region", "AWS region whose partition holds the accounts (IAM is global within a partition). Unset: the SDK's (AWS_REGION, profile), else us-east-1.").
		StringVar(&opts.selection.Region)
	app.Flag("aws.role-arn", "ARN of an IAM role to assume to read one account's report; repeat for several accounts. Unset: read the account of the ambient credentials.").
		PlaceHolder("ARN").StringsVar(&opts.selection.RoleARNs)
	app.Flag("aws.external-id", "External ID passed when assuming every --aws.role-arn and discovered role.").
		StringVar(&opts.selection.ExternalID)
	app.Flag("aws.organization", "Discover the ACTIVE accounts of the AWS Organization (organizations:ListAccounts, from the management or a delegated administrator account) and read each through --aws.organization.role-name.").
		BoolVar(&opts.selection.Organization)
	app.Flag("aws.organization.role-name", "Role (name, optionally with a path) assumed in each discovered account.").
		Default(accounts.DefaultOrgRoleName).StringVar(&opts.selection.OrgRoleName)
	app.Flag("aws.organization.refresh-interval", "How often the account list is read again from Organizations, so that joining accounts appear and leaving or suspended ones disappear.").
		Default("1h").DurationVar(&opts.selection.OrgRefreshInterval)
	app.Flag("aws.account-include", "Only read these accounts (ID, or name with * wildcards); repeatable. Unset: all.").
		StringsVar(&opts.selection.Include)
	app.Flag("aws.account-exclude", "Never read these accounts (ID, or name with * wildcards); repeatable; wins over includes. Unset: none.").
		StringsVar(&opts.selection.Exclude)
	app.Flag("aws.concurrency", "Accounts refreshed at the same time at most.").
		Default("5").IntVar(&opts.concurrency)
	app.Flag("aws.user-tags", "IAM user tag keys to export as labels of aws_iam_user_tags, read with iam:GetAccountAuthorizationDetails; repeatable or comma-separated; added to the config file's user_tags. Unset: none (no tags read).").
		PlaceHolder("KEY,...").StringsVar(&opts.selection.UserTags)
	app.Flag("aws.user-tags.refresh-interval", "How often each account's user tags (and exemptions) are read again; a failed read is retried at the next refresh.").
		Default("6h").DurationVar(&opts.selection.UserTagsInterval)
	app.Flag("aws.account-tags", "Account tag keys to export as labels of aws_iam_account_tags, read with organizations:ListTagsForResource at each discovery; needs Organizations discovery; repeatable or comma-separated; added to the config file's account_tags. Unset: none.").
		PlaceHolder("KEY,...").StringsVar(&opts.selection.AccountTags)
	app.Flag("aws.exemptions", "Also read exemptions from the users' iam-credential-exemption:<policy> tags, value YYYY-MM-DD/YYYY-MM-DD reason (with iam:GetAccountAuthorizationDetails, on --aws.user-tags.refresh-interval). Anyone allowed iam:TagUser can set them: see docs/exemptions.md for the SCP that makes them safe.").
		BoolVar(&opts.selection.Exemptions)
	app.Flag("exemptions.file", "YAML file of the exemptions the security team decided (account_id, user, policy, start, end, reason each; see docs/exemptions.md), exported with source=\"file\". Read once at start: restart the exporter to apply a change.").
		PlaceHolder("PATH").StringVar(&opts.exemptionsFile)
	app.Flag("exemptions.max-days", "Longest span of an exemption, first and last day included, in days: a longer exemption tag is malformed, a longer --exemptions.file entry stops the exporter at start.").
		Default(strconv.Itoa(report.DefaultExemptionMaxDays)).IntVar(&opts.selection.ExemptionMaxDays)
	app.Flag("aws.access-key-ids", "Export aws_iam_access_key_info with each key's ID, looked up with iam:ListAccessKeys for the users whose keys changed since their last lookup.").
		BoolVar(&opts.selection.AccessKeyIDs)
	app.Flag("aws.access-key-ids.rate", "Most iam:ListAccessKeys calls per second per account.").
		Default("5").Float64Var(&opts.selection.AccessKeyIDsRate)
	app.Flag("aws.password-policy", "Export the account password policy (aws_iam_account_password_policy_*), read with iam:GetAccountPasswordPolicy at every refresh.").
		BoolVar(&opts.selection.PasswordPolicy)
	app.Flag("aws.key-callers", "Export the callers (source address, user agent, event source, last seen, sampled count) of both keys of every open rotation (an IAM user with two active keys) as aws_iam_access_key_caller_*, read with cloudtrail:LookupEvents in the key's last-used region and the partition's home region, sampled a day at a time; turns on --aws.access-key-ids. A key not in a rotation costs no call.").
		BoolVar(&opts.selection.KeyCallers)
	app.Flag("aws.key-callers.rate", "Most cloudtrail:LookupEvents calls per second per account and region; CloudTrail allows 2, shared with every other tool in the account.").
		Default("1").Float64Var(&opts.selection.KeyCallersRate)
	app.Flag("aws.key-callers.window", "How far back the events of each key are sampled, a duration of at most 2160h (event history keeps 90 days).").
		Default("168h").DurationVar(&opts.selection.KeyCallersWindow)
	app.Flag("aws.key-callers.pages-per-day", "Pages of 50 events read for each day of the window, key and region: the sample of a busy key's day.").
		Default("1").IntVar(&opts.selection.KeyCallersPagesPerDay)
	app.Flag("aws.key-callers.per-key", "Callers exported per key, those with the most sampled events; each is two series.").
		Default("3").IntVar(&opts.selection.KeyCallersPerKey)
	app.Flag("aws.key-callers.max-keys", "Most keys whose callers one account reads per refresh; the others wait for the next refreshes, least recently read first.").
		Default("10").IntVar(&opts.selection.KeyCallersMaxKeys)
	app.Flag("aws.key-callers.refresh-interval", "How long a key's callers are served before they are read again.").
		Default("6h").DurationVar(&opts.selection.KeyCallersInterval)
	app.Flag("aws.key-callers.ip-ranges-file", "AWS's ip-ranges.json (from https://ip-ranges.amazonaws.com/ip-ranges.json), read once at start: a caller whose address is in it has origin=\"aws_ip_range\". Unset: addresses are not classified.").
		PlaceHolder("PATH").StringVar(&opts.ipRangesFile)
	app.Flag("shard", "This replica's shard, 0 to --total-shards - 1: it reads only the accounts whose ID hashes to it.").
		Default("0").IntVar(&opts.selection.Shard)
	app.Flag("total-shards", "Number of replicas that split the accounts between them.").
		Default("1").IntVar(&opts.selection.TotalShards)
	app.Flag("auto-gomemlimit", "Set the Go runtime's soft memory limit (GOMEMLIMIT) to --auto-gomemlimit.ratio of the memory limit of the process's Linux cgroup (a container's memory limit), so that the garbage collector works harder before the kernel kills the process. Does nothing when GOMEMLIMIT is set in the environment or the cgroup has no limit.").
		Default("true").BoolVar(&opts.autoMemLimit)
	app.Flag("auto-gomemlimit.ratio", "Fraction of the cgroup's memory limit that --auto-gomemlimit sets as GOMEMLIMIT, above 0 and at most 1.").
		Default("0.9").Float64Var(&opts.memLimitRatio)
	logConfig := &promslog.Config{}
	flag.AddFlags(app, logConfig)
	app.Version(version.Print(name))
	app.HelpFlag.Short('h')
	return app, webFlags, logConfig
}

// exitCode logs how the servers ended and returns the process's exit code:
// 0 after a signal, 1 when a server failed.
func exitCode(err error, logger *slog.Logger) int {
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Error("HTTP server failed", "err", err)
		return 1
	}
	logger.Info("stopped")
	return 0
}

func (o options) validate() error {
	if err := checkTelemetryPath(o.telemetryPath); err != nil {
		return fmt.Errorf("--web.telemetry-path: %w", err)
	}
	if o.externalAddress != "" {
		if err := collector.CheckSDAddress(o.externalAddress); err != nil {
			return fmt.Errorf("--web.external-address: %w", err)
		}
	}
	if o.autoMemLimit && !(o.memLimitRatio > 0 && o.memLimitRatio <= 1) {
		return fmt.Errorf("--auto-gomemlimit.ratio must be above 0 and at most 1, got %g", o.memLimitRatio)
	}
	if o.maxRequests < 0 {
		return fmt.Errorf("--web.max-requests must be 0 (no limit) or more, got %d", o.maxRequests)
	}
	for _, t := range []struct {
		flag  string
		value time.Duration
	}{{"--web.read-timeout", o.readTimeout}, {"--web.write-timeout", o.writeTimeout}, {"--web.idle-timeout", o.idleTimeout}} {
		if t.value <= 0 {
			return fmt.Errorf("%s must be positive, got %s", t.flag, t.value)
		}
	}
	if o.concurrency <= 0 {
		return fmt.Errorf("--aws.concurrency must be positive, got %d", o.concurrency)
	}
	return o.selection.Validate()
}
