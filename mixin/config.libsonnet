// The settings of the mixin: which series the rules read, the clusters,
// the policy thresholds, the severities, the owner labels, the runbook and
// the dashboards' tags. The rules, the alerts (their expressions,
// summaries and descriptions) and the dashboards (their queries, colours
// and titles) are all built from these. Override them in your own jsonnet
// (mixin/README.md, "Using it from your own jsonnet"):
//
//   (import 'github.com/iam-credential-exporter/iam_credential_exporter/mixin/mixin.libsonnet') + {
//     _config+:: { keyRotationDays: 60, keyRotationWarningDays: 10 },
//   }
//
// or edit them here and run `make mixin` to re-render alerts/ and
// dashboards/.
{
  _config+:: {
    // ---- Which series ----

    // Several clusters in one Prometheus, Thanos or Mimir, told apart by
    // clusterLabel (an external label, or a target label). With
    // showMultiCluster, every rule and alert that aggregates or joins keeps
    // clusterLabel, a finding's identity includes it (findingLabels), and
    // the dashboards show a cluster variable and filter every query by it.
    // Without, the rules and alerts ignore it and the variable is hidden.
    showMultiCluster: false,
    clusterLabel: 'cluster',

    // Label matchers, without braces, added to every selector of an
    // exporter metric in the rules, and to the dashboards' job list. The
    // default matches the job names that this repository's configurations
    // give: `iam-credential-exporter` (the static jobs of the README and
    // docs/multi-account.md); the Helm chart's ServiceMonitor and
    // ScrapeConfig, whose job is the Service's name
    // (`<release>-iam-credential-exporter`, or the release's name when it
    // holds the chart's), and its PodMonitor (`<namespace>/<that name>`);
    // and the program's name, `iam_credential_exporter`. A job named
    // otherwise is read by no rule: set this to match it (or to '', every
    // job, which the metric names already single out);
    // IAMCredentialExporterJobNotSelected fires for an exporter whose job
    // it leaves out.
    jobSelector: 'job=~".*iam[-_]credential[-_]exporter.*"',

    // IAMCredentialExporterDown recognises the exporter's targets by their
    // iam_credential_exporter_build_info in the last exporterSeenWindow, or
    // by this selector on `up`, which finds a target that has never been up.
    // By default the job selector when one is set, else a job name that
    // looks like this exporter's.
    exporterUpSelector:
      if self.jobSelector != '' then self.jobSelector
      else 'job=~"(?i).*iam.?credential.*"',
    exporterSeenWindow: '1d',
    exporterDownFor: '5m',
    // IAMCredentialExporterJobNotSelected: an exporter scraped under a job
    // that jobSelector leaves out, for this long (rides over a rename).
    jobNotSelectedFor: '15m',
    // Per-account targets (/sd): one account's target down while the
    // exporter's own target is up, for this long. Longer than a scrape
    // interval (the own target notices a dead exporter a scrape later) and
    // than the http_sd refresh_interval (1m by default: an account that
    // leaves answers 404 until Prometheus drops its target).
    accountTargetDownFor: '5m',
    // IAMCredentialExporterScrapesFailing: the exporter's targets that
    // failed more than this share of their scrapes within the window,
    // without failing all of them, for this long. The two alerts above
    // need continuous failure, and a success between failures (a client
    // that takes the request slots, a flaky network) resets their `for`.
    scrapesFailingRatio: 0.1,
    scrapesFailingWindow: '10m',
    scrapesFailingFor: '10m',

    // The name of the rule group of the rendered file, which holds the
    // recording rules and then the alerts. prometheusRules and
    // prometheusAlerts, used apart, are groups named this plus '.rules'
    // and '.alerts'.
    ruleGroupName: 'iam-credential-exporter',

    // ---- Access keys (IAM users) ----

    // An active access key created or last rotated more than this many
    // days ago is too old (CIS AWS Foundations 1.14).
    keyRotationDays: 90,
    // IAMCredentialAccessKeyRotationDue fires during this many days before
    // the rotation limit.
    keyRotationWarningDays: 14,
    // An active key or a console password unused for this many days or
    // more is unused (CIS 1.12).
    unusedDays: 45,
    // The rotation workflow. A rotation is open while an IAM user has two
    // active access keys; the older is the old key. The old key may still
    // be used this long after the new key was created (for the automation
    // to switch) ...
    oldKeyGraceDays: 1,
    // ... and counts as still used (IAMCredentialAccessKeyOldKeyStillUsed:
    // switch what uses it) while its last use is at most this many days
    // old. Eight days, so that a weekly job that still holds the old key
    // counts as a user until a week and a day have passed without it; then
    // the step becomes "deactivate the old key".
    oldKeyStillUsedDays: 8,
    // The new key may live this long next to an old key that nothing uses
    // any more, before the rotation counts as left half-done.
    rotationIncompleteDays: 7,
    // An inactive key unused for more than this many days should be deleted.
    inactiveKeyDays: 30,
    // The key-age distribution of the overview dashboard: its first bucket
    // ends here (0 to this many days); then up to the warning, the warning
    // period, and over the limit.
    keyAgeFirstBucketDays: 30,

    // ---- Console users, root, certificates ----

    // The account password policy (CIS 1.8, 1.9): minimum length, and
    // passwords remembered (24 is IAM's maximum).
    passwordMinLength: 14,
    passwordReusePrevention: 24,
    // Root used (password or access key) less than this many hours ago.
    rootRecentUseHours: 24,
    // An active X.509 signing certificate older than this many days.
    signingCertificateDays: 90,

    // ---- Exemptions ----

    // IAMCredentialExemptionEnding fires this many days before an
    // exemption ends.
    exemptionNoticeDays: 14,
    // The exporter's --exemptions.max-days, for the alerts' texts.
    exemptionMaxDays: 90,

    // ---- The report and the exporter ----

    // The cached report of an account older than this many hours. AWS
    // rebuilds it at most every 4 hours and the exporter refreshes every 30
    // minutes by default, so a healthy report is at most about 4.5 hours
    // old (the dashboards colour it yellow from there).
    reportAgeHours: 6,
    // An account reported within this window, or still refreshed, whose
    // report is gone while its exporter is up; for this long.
    reportMissingWindow: '6h',
    reportMissingFor: '15m',
    // Every refresh of an account's report failing for this long.
    refreshFailingFor: '1h',
    // Organizations discovery and the opt-in lookups hold their last
    // outcome until their next attempt: they alert once only failures were
    // seen for outcomeWindow (longer than an attempt takes, --report.timeout,
    // plus a scrape interval), and that for this long.
    outcomeWindow: '10m',
    discoveryFailingFor: '1h',
    lookupFailingFor: '1h',
    // A refused reload of --config.file, for this long.
    configReloadFailingFor: '10m',
    // Replicas of a sharded job that disagree, or a shard that no up
    // replica serves, for this long (rides over a rolling update).
    shardsFor: '15m',

    // Credential alerts have no `for` (the report changes every few hours at
    // most, so a condition true now has been true for hours). Their labels
    // are the finding's identity (findingLabels), never the path that
    // scraped it (job, instance, pod), and a finding is held this long while
    // its account has no report at all (the exporter restarting, moving to
    // another pod or shard, or down): it stays one alert. A report without
    // the finding ends it at the next evaluation.
    findingHoldWindow: '6h',
    // The labels that make a finding's identity: with showMultiCluster the
    // cluster (exporters in two clusters that read one account make two
    // alerts, as two Prometheus servers would), the account, the user, the
    // key or certificate slot, the exemption policy, the access key's ID
    // when --aws.access-key-ids knows it, and the owner labels below.
    // Facts that change (age, last use, region, service) are in the
    // annotations, never here.
    findingLabels: (if self.showMultiCluster then [self.clusterLabel] else []) +
                   ['account_id', 'user', 'key', 'cert', 'policy', 'access_key_id'] + self.ownerLabels,

    // IAMCredentialReportStale keeps firing this long after its condition
    // ends, over a few failed scrapes.
    keepFiringFor: '10m',

    // Audit notices (category="audit", for the security team): an
    // exemption that appeared or changed, a user whose owner labels
    // changed, compared with this long ago; the notice fires for as long.
    auditWindow: '1d',

    // ---- Owners ----

    // The labels that every credential alert and the owner: compliance
    // shares take from the user's tags (--aws.user-tags), else from its
    // account's (--aws.account-tags) (utils.withOwner), for routing. A tag
    // key `team` is exported as the label tag_team. The dashboards read
    // tag_team and tag_owner, so keep both in the list.
    ownerLabels: ['tag_owner', 'tag_team'],

    // ---- Severities ----

    // Every alert has a level, critical, warning or info (alerts/README.md
    // lists them); its severity label is the level's value here. Change a
    // value to fit your routing (e.g. info: 'none'); the overview
    // dashboard's severity panels read these values too.
    severities: { critical: 'critical', warning: 'warning', info: 'info' },
    // Another level for single alerts, by name, e.g.
    // { IAMCredentialAccessKeyTooOld: 'critical' }.
    alertSeverities: {},

    // ---- Links and dashboards ----

    // Each alert's runbook_url is this followed by its name in lower case.
    runbookURLBase: 'https://github.com/iam-credential-exporter/iam_credential_exporter/blob/main/docs/runbook.md#',

    // Every dashboard carries these tags; their links menu lists the
    // dashboards with dashboardLinkTag, which must be one of them.
    dashboardTags: ['aws', 'iam', 'security', 'iam_credential_exporter'],
    dashboardLinkTag: 'iam_credential_exporter',
    // The dashboards' uids are this followed by overview, keys and user.
    dashboardUIDPrefix: 'iamcred-',
    // Titles are this, ' / ', and Overview, Access keys or User.
    dashboardTitlePrefix: 'IAM credentials',
    dashboardRefresh: '5m',
    dashboardTimezone: 'utc',
  },
}
