// The recording rules (prometheusRules): the root user's and the report's
// ages, the rotation workflow's dates, and the compliance shares. The
// alerts and the dashboards read them.
//
// Prometheus pays about 2 KB per series, so no rule records a series per
// user, per key or per certificate for every user: the alerts and the
// dashboards compute ages inline (time() - x; utils.credential holds the
// expressions), and the compliance shares average them directly. The two
// per-key rules of the rotation workflow have series only for users with
// two active keys.
//
// Conventions used throughout the rules and alerts:
// - The root user's row (user="<root_account>") is left out of the
//   user-level rules; the IAMCredentialRoot* alerts cover it.
// - A timestamp the report does not hold is not exported at all (never 0),
//   so "never used" is the absence of the last_used series: the rules fall
//   back with `or` to the next best date (creation of the key, last
//   password change, creation of the user).
// - An empty key or certificate slot has no series: `active == 0` is an
//   inactive credential, never a missing one. Inactive keys and
//   certificates never age.
// - The last-used timestamp of a key carries the region and service of
//   that use; every rule takes `max without (region, service)` before it
//   meets another series, so results never carry them.
// - Joins between the exporter's series match on every label (no on()), so
//   the job and instance labels of each exporter, and any target labels
//   added by relabelling, stay on the results, and two exporters never mix
//   their series. Only joins with `up` and with the tag series use on().
// - Rules read series recorded earlier in the same group and evaluation, so
//   a rule comes after the rules it reads.
local utils = import 'lib/utils.libsonnet';

{
  prometheusRules+:: {
    local c = $._config,
    local user = utils.credential(c, ['user!="<root_account>"']),
    local root = utils.credential(c, ['user="<root_account>"']),
    // The hold of a finding (utils.heldFindings) is per account, and per
    // cluster with showMultiCluster: the finding must carry the cluster.
    assert !c.showMultiCluster || std.member(c.findingLabels, c.clusterLabel) :
           '_config.findingLabels must include clusterLabel (%s) with showMultiCluster' % c.clusterLabel,
    local v = {
      all: utils.selector(c.jobSelector),
      notRoot: utils.selector(c.jobSelector, ['user!="<root_account>"']),
      root: utils.selector(c.jobSelector, ['user="<root_account>"']),
      // ALERTS of credential alerts carry no job: no job selector.
      firing: utils.selector('', ['alertstate="firing"', 'category="credential"']),
      owners: std.join(', ', c.ownerLabels),
      ownerGroup: utils.clustered(c, self.owners),
      account: utils.clustered(c, 'account_id'),
      keyRotationDays: c.keyRotationDays,
      unusedDays: c.unusedDays,
      rootKeyLastUsed: root.keyLastUsed,
      lastUsed: utils.credential(c).keyLastUsed,
    },

    // Per credential of an IAM user (root is left out, as in the user-level
    // alerts), 1 if it meets the policy and 0 if not; averaged per account
    // and, with the owner labels of utils.withOwner, per owner.
    local compliance = {
      // Active keys created or rotated within keyRotationDays.
      keysRotated: '%s <= bool %s * 86400' % [user.keyAge, c.keyRotationDays],
      // Console users with MFA.
      consoleMFA: user.consoleUserMFA,
      // IAM users with at most one active access key (CIS 1.13): every
      // user has aws_iam_user_info, so users without keys count as 1.
      oneActiveKey: |||
        (count without (key) (aws_iam_access_key_active%(notRoot)s == 1) <= bool 1)
        or
        group without (arn) (aws_iam_user_info%(notRoot)s)
      ||| % v,
      // Active keys and console passwords (key="password") used, or, never
      // used, created, within unusedDays. Keys whose use the report cannot
      // state are left out.
      credentialsUsed: |||
        (
            %(idle)s < bool %(unusedDays)s * 86400
          or
            label_replace(
              %(passwordIdle)s < bool %(unusedDays)s * 86400,
              "key", "password", "", "")
        )
      ||| % {
        idle: utils.indent(user.keyIdle, 4)[4:],
        passwordIdle: utils.indent(user.passwordIdle, 6)[6:],
        unusedDays: c.unusedDays,
      },
    },
    // avg(grouping, expr) is the share of expr's elements that are 1.
    local avg(grouping, expr) = 'avg %s (\n%s\n)\n' % [grouping, utils.indent(std.rstripChars(expr, '\n'), 2)],
    local perAccount(labels, expr) = avg('without (%s)' % labels, expr),
    local perOwner(expr) = avg('by (%s)' % v.ownerGroup, utils.withOwner(expr, c)),

    groups+: [
      {
        name: c.ruleGroupName + '.rules',
        rules: [
          {
            // Seconds since the root user last used its password or one of
            // its access keys; absent when the report shows no use.
            record: 'account:aws_iam_root_user_last_used_age_seconds',
            expr: |||
              min without (key) (
                  time() - aws_iam_user_password_last_used_timestamp_seconds%(root)s
                or
                  time() - %(rootKeyLastUsed)s
              )
            ||| % v,
          },
          {
            // Age of the cached credential report of each account.
            record: 'account:aws_iam_credential_report_age_seconds',
            expr: 'time() - aws_iam_credential_report_generated_timestamp_seconds%(all)s' % v,
          },
          {
            // 1 for each account that some exporter serves a report of now,
            // whichever target: the credential alerts hold their findings
            // while their account has none (utils.held).
            record: utils.recordNames.reportPresent,
            expr: 'group by (%(account)s) (aws_iam_credential_report_generated_timestamp_seconds%(all)s)' % v,
          },
          {
            // When the newer of a user's two active access keys was created;
            // only users with two active keys (IAM users: root is covered by
            // its own alert) have a series. The rotation workflow alerts read
            // it.
            record: 'account_user:aws_iam_access_key_newer_created_timestamp_seconds',
            expr: |||
              max without (key) (
                aws_iam_access_key_last_rotated_timestamp_seconds%(notRoot)s
                and
                (aws_iam_access_key_active%(all)s == 1)
              )
              and
              (count without (key) (aws_iam_access_key_active%(notRoot)s == 1) == 2)
            ||| % v,
          },
          {
            // An open rotation is an IAM user with two active access keys;
            // the older is the old key. One series per open rotation, on
            // the old key's slot: when the newer key was created, the
            // rotation's start. The rotation alerts and the dashboards read
            // it.
            record: 'account_user_key:aws_iam_access_key_rotation_started_timestamp_seconds',
            expr: |||
              0 * bottomk without (key) (1,
                aws_iam_access_key_last_rotated_timestamp_seconds%(notRoot)s
                and
                (aws_iam_access_key_active%(all)s == 1)
              )
              + ignoring (key) group_left
              account_user:aws_iam_access_key_newer_created_timestamp_seconds
            ||| % v,
          },
          {
            // Seconds the old key of an open rotation was last used after
            // the rotation started (negative: not since). Only old keys that
            // were ever used.
            record: 'account_user_key:aws_iam_access_key_used_after_rotation_seconds',
            expr: |||
              %(lastUsed)s
              - account_user_key:aws_iam_access_key_rotation_started_timestamp_seconds
            ||| % v,
          },

          // ---- Compliance at a glance ----
          // The share of the credentials that comply, per account and per
          // owner (_config.ownerLabels; users without an owner form the
          // group without them). The names do not say the thresholds
          // (_config.keyRotationDays, unusedDays): a policy change keeps the
          // series, and with it their history, and the dashboards' titles
          // and descriptions say the policy in force.
          {
            record: 'account:aws_iam_access_keys_rotated:ratio',
            expr: perAccount('user, key', compliance.keysRotated),
          },
          {
            record: 'owner:aws_iam_access_keys_rotated:ratio',
            expr: perOwner(compliance.keysRotated),
          },
          {
            record: 'account:aws_iam_console_users_mfa:ratio',
            expr: perAccount('user', compliance.consoleMFA),
          },
          {
            record: 'owner:aws_iam_console_users_mfa:ratio',
            expr: perOwner(compliance.consoleMFA),
          },
          // CIS 1.13: users with at most one active key, counted even
          // during a rotation's grace, when the alerts are quiet.
          {
            record: 'account:aws_iam_users_one_active_key:ratio',
            expr: perAccount('user', compliance.oneActiveKey),
          },
          {
            record: 'owner:aws_iam_users_one_active_key:ratio',
            expr: perOwner(compliance.oneActiveKey),
          },
          {
            record: 'account:aws_iam_credentials_used:ratio',
            expr: perAccount('user, key', compliance.credentialsUsed),
          },
          {
            record: 'owner:aws_iam_credentials_used:ratio',
            expr: perOwner(compliance.credentialsUsed),
          },

          // ---- Findings (utils.findings) ----
          // Each credential alert's condition, per target ($.instanceFindings,
          // from alerts.libsonnet), then all of them by identity.
        ] + $.instanceFindings + [
          {
            record: utils.recordNames.finding,
            expr: utils.findings(c),
          },
          {
            record: utils.recordNames.heldFinding,
            expr: utils.heldFindings(c),
          },

          // Firing credential alerts (exempt findings do not fire) by
          // severity. They read the alerts of the previous evaluation.
          // Credential alerts carry no job or instance.
          {
            record: 'account_severity:aws_iam_credential_findings:count',
            expr: 'count by (%(account)s, severity) (ALERTS%(firing)s)' % v,
          },
        ] + (if c.ownerLabels == [] then [] else [
          {
            record: 'owner_severity:aws_iam_credential_findings:count',
            expr: 'count by (%(ownerGroup)s, severity) (ALERTS%(firing)s)' % v,
          },
        ]),
      },
    ],
  },
}
