// The recording rules (prometheusRules): ages in seconds, owners, and the
// compliance shares. The alerts and the dashboards read them.
//
// Conventions used throughout the rules and alerts:
// - The root user's row (user="<root_account>") is left out of the
//   user-level rules; the IAMCredentialRoot* alerts cover it.
// - A timestamp the report does not hold is not exported at all (never 0),
//   so "never used" is the absence of the last_used series: the rules fall
//   back with `or` to the next best date (creation of the key, last
//   password change, creation of the user).
// - Inactive keys and certificates never alert.
// - Joins between the exporter's series match on every label (no on()), so
//   the job and instance labels of each exporter, and any target labels
//   added by relabelling, stay on the results, and two exporters never mix
//   their series. Only joins with `up` use on (job, instance).
// - Rules read series recorded earlier in the same group and evaluation, so
//   a rule comes after the rules it reads.
local utils = import 'lib/utils.libsonnet';

{
  prometheusRules+:: {
    local c = $._config,
    local names = utils.ruleNames(c),
    local v = {
      all: utils.selector(c.jobSelector),
      notRoot: utils.selector(c.jobSelector, ['user!="<root_account>"']),
      root: utils.selector(c.jobSelector, ['user="<root_account>"']),
      firing: utils.selector(c.jobSelector, ['alertstate="firing"', 'category="credential"']),
      owners: std.join(', ', c.ownerLabels),
      keyRotationDays: c.keyRotationDays,
      unusedDays: c.unusedDays,
    },

    groups+: [
      {
        name: c.ruleGroupName + '.rules',
        rules: [
          {
            // Age of each active access key: seconds since it was created or
            // last rotated. Inactive keys have no series.
            record: 'account_user_key:aws_iam_access_key_age_seconds',
            expr: |||
              (time() - aws_iam_access_key_last_rotated_timestamp_seconds%(all)s)
              and
              (aws_iam_access_key_active%(all)s == 1)
            ||| % v,
          },
          {
            // Seconds each access key, active or not, has gone unused: since
            // its last use, or since its creation when the report says it was
            // never used. A key whose use the report cannot state (the
            // 16-column layout has no last-used column) has no series:
            // unknown is not never.
            record: 'account_user_key:aws_iam_access_key_unused_seconds',
            expr: |||
              (
                  time() - aws_iam_access_key_last_used_timestamp_seconds%(all)s
                or
                  (
                    (time() - aws_iam_access_key_last_rotated_timestamp_seconds%(all)s)
                    and
                    (aws_iam_access_key_never_used%(all)s == 1)
                  )
              )
            ||| % v,
          },
          {
            // The same for active keys only.
            record: 'account_user_key:aws_iam_access_key_idle_seconds',
            expr: |||
              account_user_key:aws_iam_access_key_unused_seconds
              and
              (aws_iam_access_key_active%(all)s == 1)
            ||| % v,
          },
          {
            // Seconds each console password has gone unused: since its last
            // use; if never used, since it was last set; if that is unknown
            // too, since the user was created. Only users with a password
            // have a series.
            record: 'account_user:aws_iam_user_password_idle_seconds',
            expr: |||
              (
                  time() - aws_iam_user_password_last_used_timestamp_seconds%(all)s
                or
                  time() - aws_iam_user_password_last_changed_timestamp_seconds%(all)s
                or
                  time() - aws_iam_user_creation_timestamp_seconds%(all)s
              )
              and
              (aws_iam_user_password_enabled%(all)s == 1)
            ||| % v,
          },
          {
            // Age of each active X.509 signing certificate.
            record: 'account_user_cert:aws_iam_signing_certificate_age_seconds',
            expr: |||
              (time() - aws_iam_signing_certificate_last_rotated_timestamp_seconds%(all)s)
              and
              (aws_iam_signing_certificate_active%(all)s == 1)
            ||| % v,
          },
          {
            // Seconds since the root user last used its password or one of
            // its access keys; absent when the report shows no use.
            record: 'account:aws_iam_root_user_last_used_age_seconds',
            expr: |||
              min without (key) (
                  time() - aws_iam_user_password_last_used_timestamp_seconds%(root)s
                or
                  time() - aws_iam_access_key_last_used_timestamp_seconds%(root)s
              )
            ||| % v,
          },
          {
            // Age of the cached credential report of each account.
            record: 'account:aws_iam_credential_report_age_seconds',
            expr: 'time() - aws_iam_credential_report_generated_timestamp_seconds%(all)s' % v,
          },
          {
            // Who owns each user, for routing: the user's allow-listed tags
            // (--aws.user-tags) when it has any, else its account's
            // (--aws.account-tags), else none. Every user of the report has
            // one series, so joining it onto a finding never drops the
            // finding. The labels are _config.ownerLabels. Joins use on (job,
            // instance, ...): the tag series carry tag labels that the
            // findings lack.
            record: 'account_user:aws_iam_user_owner:info',
            expr: |||
              (
                  group by (job, instance, account_id, user, %(owners)s) (aws_iam_user_tags%(all)s)
                or on (job, instance, account_id, user)
                  group by (job, instance, account_id, user, %(owners)s) (
                      group by (job, instance, account_id, user) (aws_iam_user_info%(all)s)
                    * on (job, instance, account_id) group_left (%(owners)s)
                      aws_iam_account_tags%(all)s
                  )
                or on (job, instance, account_id, user)
                  group by (job, instance, account_id, user) (aws_iam_user_info%(all)s)
              )
            ||| % v,
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
            // Seconds the older of two active keys was used after the newer
            // one was created (negative: not since). Series of the older
            // key's slot.
            record: 'account_user_key:aws_iam_access_key_used_after_rotation_seconds',
            expr: |||
              (
                  (
                    aws_iam_access_key_last_used_timestamp_seconds%(all)s
                    and
                    bottomk without (key) (1,
                      aws_iam_access_key_last_rotated_timestamp_seconds%(notRoot)s
                      and
                      (aws_iam_access_key_active%(all)s == 1)
                    )
                  )
                - ignoring (key) group_left
                  account_user:aws_iam_access_key_newer_created_timestamp_seconds
              )
            ||| % v,
          },

          // ---- Compliance at a glance ----
          // Per credential, 1 if it meets the policy and 0 if not, with its
          // owner's labels; averaged per account and per owner below (the
          // share that complies). Root is left out, as in the user-level
          // alerts. The names say the threshold.
          {
            record: names.keysRotated,
            expr: |||
              (
                  (account_user_key:aws_iam_access_key_age_seconds{user!="<root_account>"} <= bool %(keyRotationDays)s * 86400)
                * on (job, instance, account_id, user) group_left (%(owners)s)
                  account_user:aws_iam_user_owner:info
              )
            ||| % v,
          },
          {
            record: 'account_user:aws_iam_console_user_mfa:bool',
            expr: |||
              (
                  (
                    aws_iam_user_mfa_active%(notRoot)s
                    and
                    (aws_iam_user_password_enabled%(all)s == 1)
                  )
                * on (job, instance, account_id, user) group_left (%(owners)s)
                  account_user:aws_iam_user_owner:info
              )
            ||| % v,
          },
          {
            // Active keys and console passwords used (or, never used,
            // created) within the unused limit. Keys whose use the report
            // cannot state are left out.
            record: names.credentialsUsed,
            expr: |||
              (
                  (
                      (account_user_key:aws_iam_access_key_idle_seconds{user!="<root_account>"} < bool %(unusedDays)s * 86400)
                    or
                      label_replace(
                        account_user:aws_iam_user_password_idle_seconds{user!="<root_account>"} < bool %(unusedDays)s * 86400,
                        "key", "password", "", "")
                  )
                * on (job, instance, account_id, user) group_left (%(owners)s)
                  account_user:aws_iam_user_owner:info
              )
            ||| % v,
          },
          {
            record: names.keysRotatedAccount,
            expr: 'avg without (user, key, %s) (%s)' % [v.owners, names.keysRotated],
          },
          {
            record: names.keysRotatedOwner,
            expr: 'avg by (%s) (%s)' % [v.owners, names.keysRotated],
          },
          {
            record: 'account:aws_iam_console_users_mfa:ratio',
            expr: 'avg without (user, %s) (account_user:aws_iam_console_user_mfa:bool)' % v.owners,
          },
          {
            record: 'owner:aws_iam_console_users_mfa:ratio',
            expr: 'avg by (%s) (account_user:aws_iam_console_user_mfa:bool)' % v.owners,
          },
          {
            record: names.credentialsUsedAccount,
            expr: 'avg without (user, key, %s) (%s)' % [v.owners, names.credentialsUsed],
          },
          {
            record: names.credentialsUsedOwner,
            expr: 'avg by (%s) (%s)' % [v.owners, names.credentialsUsed],
          },

          // Firing credential alerts (exempt findings do not fire) by
          // severity. They read the alerts of the previous evaluation.
          {
            record: 'account_severity:aws_iam_credential_findings:count',
            expr: 'count by (job, instance, account_id, severity) (ALERTS%(firing)s)' % v,
          },
          {
            record: 'owner_severity:aws_iam_credential_findings:count',
            expr: 'count by (%(owners)s, severity) (ALERTS%(firing)s)' % v,
          },
        ],
      },
    ],
  },
}
