// The alerts (prometheusAlerts). What to do when one fires:
// docs/runbook.md, one section per alert, linked from each alert's
// runbook_url. Every alert is unit-tested in alerts/tests/ (with the
// default _config).
//
// Credential alerts (category="credential") are about one user's
// credential, or one account's password policy. They have no `for`: the
// report changes every few hours at most, so a condition that is true now
// is already true for hours. keep_firing_for rides over a few failed
// scrapes or an exporter restart without resolving and re-notifying. They
// carry the owner labels of utils.withOwner (the user's tags, else its
// account's), and the exemptable ones are quiet while the user has an
// exemption in force from that policy. They compute the credential's age
// inline from the exporter's series (utils.credential), as the conventions
// at the top of rules.libsonnet say: no recording rule holds a series per
// credential.
//
// Summaries and descriptions say the thresholds of _config. In
// descriptions, which are Prometheus templates, a literal % is written %%
// where the text is formatted with jsonnet's %.
local utils = import 'lib/utils.libsonnet';

{
  prometheusAlerts+:: {
    local c = $._config,
    local sel(matchers=[]) = utils.selector(c.jobSelector, matchers),
    local keepFiring = { keep_firing_for: c.keepFiringFor },

    // The per-credential seconds of IAM users (root left out) and of
    // every row (root included, for signing certificates).
    local user = utils.credential(c, ['user!="<root_account>"']),
    local everyone = utils.credential(c),

    // The values that expressions and texts are formatted with.
    local v = c {
      all: sel(),
      keyAge: user.keyAge,
      keyIdle: user.keyIdle,
      keyInactiveUnused: user.keyInactiveUnused,
      passwordIdle: user.passwordIdle,
      certAge: everyone.certAge,
      notRoot: sel(['user!="<root_account>"']),
      root: sel(['user="<root_account>"']),
      up: sel(),
      // The exporter's own target (exporter=true, in per-account mode) or
      // the one target of a single exporter, whose up has no account_id;
      // and the per-account targets, whose up has one.
      exporterTargetUp: sel(['account_id=""']),
      accountTargetUp: sel(['account_id!=""']),
      exporterUp: utils.selector('', [c.exporterUpSelector]),
      keyRotationDueDays: c.keyRotationDays - c.keyRotationWarningDays,
      keyRotation: utils.count(c.keyRotationDays, 'day'),
      keyRotationWarning: utils.count(c.keyRotationWarningDays, 'day'),
      unused: utils.count(c.unusedDays, 'day'),
      inactiveKey: utils.count(c.inactiveKeyDays, 'day'),
      signingCertificate: utils.count(c.signingCertificateDays, 'day'),
      exemptionNotice: utils.count(c.exemptionNoticeDays, 'day'),
      reportAge: utils.count(c.reportAgeHours, 'hour'),
      rootRecentUse: utils.last(c.rootRecentUseHours, 'hour'),
      passwordsRemembered: utils.last(c.passwordReusePrevention, 'password'),
      reportMissing: utils.lastDuration(c.reportMissingWindow),
      refreshFailing: utils.duration(c.refreshFailingFor),
      discoveryFailing: utils.duration(c.discoveryFailingFor),
      lookupFailing: utils.duration(c.lookupFailingFor),
    },

    // withOwner gives a finding its owner's labels, without dropping or
    // repeating any finding.
    local withOwner(cond) = utils.withOwner(cond, c),

    // exempt drops a finding while the user has an exemption in force from
    // policy (--aws.exemptions), and while any of the unless conditions
    // holds.
    local exempt(cond, policy, unless=[]) =
      '(\n' + utils.indent(cond, 2) + ')\n' + std.join('', [
        'unless on (job, instance, account_id, user)\n  %s\n' % u
        for u in unless + ['(aws_iam_user_exemption_end_timestamp_seconds%s > time())' % sel(['policy="%s"' % policy])]
      ]),

    local credential(severity) = { severity: severity, category: 'credential' },

    local alerts = [
      // ---- Access keys (IAM users) ----

      {
        // Value: age in days. Policy: rotated every keyRotationDays or less.
        alert: 'IAMCredentialAccessKeyTooOld',
        expr: withOwner(exempt(|||
          %(keyAge)s / 86400 > %(keyRotationDays)s
        ||| % v, 'key-rotation')),
        labels: credential('warning'),
        annotations: {
          summary: 'An active IAM access key is older than %(keyRotation)s.' % v,
          description: |||
            Access key {{ $labels.key }} of IAM user {{ $labels.user }} in account
            {{ $labels.account_id }} is active and was created or last rotated
            {{ printf "%%.1f" $value }} days ago. Policy: rotate access keys every %(keyRotation)s or less.
          ||| % v,
          cis_aws_foundations: 'v3.0.0 1.14',
          security_hub: 'IAM.3',
        },
      } + keepFiring,

      {
        // Value: age in days. Fires during the keyRotationWarningDays
        // before the rotation limit.
        alert: 'IAMCredentialAccessKeyRotationDue',
        expr: withOwner(exempt(|||
          %(keyAge)s / 86400 > %(keyRotationDueDays)s <= %(keyRotationDays)s
        ||| % v, 'key-rotation')),
        labels: credential('info'),
        annotations: {
          summary: 'An active IAM access key passes %(keyRotation)s within %(keyRotationWarning)s.' % v,
          description: |||
            Access key {{ $labels.key }} of IAM user {{ $labels.user }} in account
            {{ $labels.account_id }} is active and {{ printf "%%.1f" $value }} days old;
            it passes the %(keyRotationDays)s-day rotation limit within %(keyRotationWarning)s. Rotate it now, calmly.
          ||| % v,
          cis_aws_foundations: 'v3.0.0 1.14 (early warning)',
          security_hub: 'IAM.3 (early warning)',
        },
      } + keepFiring,

      {
        // Value: days since last use (or since creation, for a key never
        // used).
        alert: 'IAMCredentialAccessKeyUnused',
        expr: withOwner(exempt(|||
          %(keyIdle)s / 86400 >= %(unusedDays)s
        ||| % v, 'key-unused')),
        labels: credential('warning'),
        annotations: {
          summary: 'An active IAM access key has not been used for %(unused)s or more.' % v,
          description: |||
            Access key {{ $labels.key }} of IAM user {{ $labels.user }} in account
            {{ $labels.account_id }} is active and
            {{ if query (printf "aws_iam_access_key_last_used_timestamp_seconds{instance=%%q,account_id=%%q,user=%%q,key=%%q}" $labels.instance $labels.account_id $labels.user $labels.key) -}}
            was last used {{ printf "%%.1f" $value }} days ago.
            {{- else -}}
            has never been used since it was created {{ printf "%%.1f" $value }} days ago.
            {{- end }}
            Policy: disable credentials unused for %(unused)s or more.
          ||| % v,
          cis_aws_foundations: 'v3.0.0 1.12',
          security_hub: 'IAM.22',
        },
      } + keepFiring,

      // ---- The rotation workflow: create a new key, switch the automation
      // to it, deactivate the old key, delete it. Two active keys for a few
      // days is that procedure working, so it alone does not alert (CIS
      // v3.0.0 1.13 asks for one active key: these two alerts fire when the
      // second key stays, each saying which step stalled).

      {
        // Value: days the older active key was used after the newer key was
        // created. Grace: oldKeyGraceDays for the automation to pick the
        // new key up.
        alert: 'IAMCredentialAccessKeyOldKeyStillUsed',
        expr: withOwner(exempt(|||
          account_user_key:aws_iam_access_key_used_after_rotation_seconds / 86400 > %(oldKeyGraceDays)s
        ||| % v, 'two-active-keys')),
        labels: credential('warning'),
        annotations: {
          summary: 'An old access key is still used after its replacement was created.',
          description: |||
            IAM user {{ $labels.user }} in account {{ $labels.account_id }} has two active access keys,
            and the older one (key {{ $labels.key }}) was still used {{ printf "%.1f" $value }} days after
            the newer one was created. Switch the automation that uses key {{ $labels.key }} to the new key,
            then deactivate the old one.
          |||,
          cis_aws_foundations: 'v3.0.0 1.13',
        },
      } + keepFiring,

      {
        // Value: days since the newer of two active keys was created. Not
        // while the old key is still in use:
        // IAMCredentialAccessKeyOldKeyStillUsed says what to do then.
        alert: 'IAMCredentialAccessKeyRotationIncomplete',
        expr: withOwner(exempt(
          |||
            (time() - account_user:aws_iam_access_key_newer_created_timestamp_seconds) / 86400 > %(rotationIncompleteDays)s
          ||| % v,
          'two-active-keys',
          unless=['(account_user_key:aws_iam_access_key_used_after_rotation_seconds / 86400 > %(oldKeyGraceDays)s)' % v],
        )),
        labels: credential('warning'),
        annotations: {
          summary: 'An access key rotation was left half-done; the old key is still active.',
          description: |||
            IAM user {{ $labels.user }} in account {{ $labels.account_id }} has two active access keys;
            the newer one was created {{ printf "%.1f" $value }} days ago and the older one has not been
            used since. Deactivate the older key, then delete it.
          |||,
          cis_aws_foundations: 'v3.0.0 1.13',
        },
      } + keepFiring,

      {
        // Value: days since the inactive key was last used (or created, if
        // never used). An inactive key can be reactivated: delete it once
        // nothing has needed it for inactiveKeyDays.
        alert: 'IAMCredentialAccessKeyInactiveNotDeleted',
        expr: withOwner(exempt(|||
          %(keyInactiveUnused)s / 86400 > %(inactiveKeyDays)s
        ||| % v, 'inactive-key')),
        labels: credential('info'),
        annotations: {
          summary: 'An inactive access key has gone unused for more than %(inactiveKey)s and was never deleted.' % v,
          description: |||
            Access key {{ $labels.key }} of IAM user {{ $labels.user }} in account {{ $labels.account_id }}
            is inactive and has not been used for {{ printf "%.1f" $value }} days. Delete it: an inactive
            key can be reactivated.
          |||,
        },
      } + keepFiring,

      // ---- Console users ----

      {
        // Value: days since the password was last used (or set, or the user
        // created).
        alert: 'IAMCredentialPasswordUnused',
        expr: withOwner(exempt(|||
          %(passwordIdle)s / 86400 >= %(unusedDays)s
        ||| % v, 'password-unused')),
        labels: credential('warning'),
        annotations: {
          summary: "An IAM user's console password has not been used for %(unused)s or more." % v,
          description: |||
            IAM user {{ $labels.user }} in account {{ $labels.account_id }} has a console password and
            {{ if query (printf "aws_iam_user_password_last_used_timestamp_seconds{instance=%%q,account_id=%%q,user=%%q}" $labels.instance $labels.account_id $labels.user) -}}
            last signed in {{ printf "%%.1f" $value }} days ago.
            {{- else -}}
            has never signed in with it; it was set {{ printf "%%.1f" $value }} days ago.
            {{- end }}
            Policy: disable credentials unused for %(unused)s or more.
          ||| % v,
          cis_aws_foundations: 'v3.0.0 1.12',
          security_hub: 'IAM.22',
        },
      } + keepFiring,

      {
        alert: 'IAMCredentialConsoleUserWithoutMFA',
        expr: withOwner(exempt(|||
          aws_iam_user_mfa_active%(notRoot)s == 0
          and
          aws_iam_user_password_enabled%(notRoot)s == 1
        ||| % v, 'console-mfa')),
        labels: credential('warning'),
        annotations: {
          summary: 'An IAM user with a console password has no MFA.',
          description: |||
            IAM user {{ $labels.user }} in account {{ $labels.account_id }} can sign in
            to the console with a password but has no MFA device.
            Policy: MFA for every user with a console password.
          |||,
          cis_aws_foundations: 'v3.0.0 1.10',
          security_hub: 'IAM.5',
        },
      } + keepFiring,

      {
        // --aws.password-policy. No policy, or one below CIS v3.0.0 1.8
        // (minimum length passwordMinLength) or 1.9 (passwordReusePrevention
        // passwords remembered; 24 is IAM's maximum). About an account, so
        // no owner.
        alert: 'IAMCredentialPasswordPolicyWeak',
        expr: |||
          (
              (aws_iam_account_password_policy_exists%(all)s == 0)
            or on (job, instance, account_id)
              (aws_iam_account_password_policy_minimum_length%(all)s < %(passwordMinLength)s)
            or on (job, instance, account_id)
              (aws_iam_account_password_policy_reuse_prevention%(all)s < %(passwordReusePrevention)s)
          )
        ||| % v,
        labels: credential('warning'),
        annotations: {
          summary: "An account's IAM password policy is missing or weaker than CIS asks.",
          description: |||
            Account {{ $labels.account_id }}
            {{- with printf "aws_iam_account_password_policy_exists{instance=%%q,account_id=%%q} == 1" $labels.instance $labels.account_id | query }}
            has a password policy that requires a minimum length of
            {{ with printf "aws_iam_account_password_policy_minimum_length{instance=%%q,account_id=%%q}" $labels.instance $labels.account_id | query }}{{ . | first | value }}{{ end }}
            and remembers
            {{ with printf "aws_iam_account_password_policy_reuse_prevention{instance=%%q,account_id=%%q}" $labels.instance $labels.account_id | query }}{{ . | first | value }}{{ end }}
            previous passwords.
            {{- else }} has no IAM password policy: IAM's defaults apply.
            {{- end }} Policy: a minimum length of %(passwordMinLength)s or more, and the last %(passwordsRemembered)s remembered.
          ||| % v,
          cis_aws_foundations: 'v3.0.0 1.8, 1.9',
          security_hub: 'IAM.15, IAM.16',
        },
      } + keepFiring,

      // ---- Root user ----

      {
        alert: 'IAMCredentialRootAccessKeyActive',
        expr: withOwner(|||
          aws_iam_access_key_active%(root)s == 1
        ||| % v),
        labels: credential('critical'),
        annotations: {
          summary: 'The root user has an active access key.',
          description: |||
            The root user of account {{ $labels.account_id }} has an active access key in slot {{ $labels.key }}
            {{- with printf "(time() - aws_iam_access_key_last_rotated_timestamp_seconds{instance=%q,account_id=%q,user=%q,key=%q}) / 86400" $labels.instance $labels.account_id $labels.user $labels.key | query }},
            created or last rotated {{ . | first | value | printf "%.1f" }} days ago{{ end }}.
            Policy: no access keys for the root user.
          |||,
          cis_aws_foundations: 'v3.0.0 1.4',
          security_hub: 'IAM.4',
        },
      } + keepFiring,

      {
        // CIS 1.4 and IAM.4 fail on any root key, active or not: an
        // inactive key can be activated again by whoever holds root. An
        // empty slot has no series, so this is a key that exists.
        alert: 'IAMCredentialRootAccessKeyInactive',
        expr: withOwner(|||
          aws_iam_access_key_active%(root)s == 0
        ||| % v),
        labels: credential('warning'),
        annotations: {
          summary: 'The root user has an inactive access key.',
          description: |||
            The root user of account {{ $labels.account_id }} has an inactive access key in slot {{ $labels.key }}
            {{- with printf "(time() - aws_iam_access_key_last_rotated_timestamp_seconds{instance=%q,account_id=%q,user=%q,key=%q}) / 86400" $labels.instance $labels.account_id $labels.user $labels.key | query }},
            created {{ . | first | value | printf "%.1f" }} days ago{{ end }}.
            It can be activated again: delete it. Policy: no access keys for the root user.
          |||,
          cis_aws_foundations: 'v3.0.0 1.4',
          security_hub: 'IAM.4',
        },
      } + keepFiring,

      {
        alert: 'IAMCredentialRootWithoutMFA',
        expr: withOwner(|||
          aws_iam_user_mfa_active%(root)s == 0
        ||| % v),
        labels: credential('critical'),
        annotations: {
          summary: 'The root user has no MFA.',
          description: |||
            The root user of account {{ $labels.account_id }} has no MFA device.
            Policy: MFA on the root user.
          |||,
          cis_aws_foundations: 'v3.0.0 1.5',
          security_hub: 'IAM.9',
        },
      } + keepFiring,

      {
        // Value: hours since the root user's password or an access key was
        // last used.
        alert: 'IAMCredentialRootRecentlyUsed',
        expr: withOwner(|||
          account:aws_iam_root_user_last_used_age_seconds / 3600 < %(rootRecentUseHours)s
        ||| % v),
        labels: credential('warning'),
        annotations: {
          summary: 'The root user was used in the last %(rootRecentUse)s.' % v,
          description: |||
            The root user of account {{ $labels.account_id }} signed in or used an access key
            {{ printf "%.1f" $value }} hours ago. Policy: do not use the root user for daily work.
          |||,
          cis_aws_foundations: 'v3.0.0 1.7',
        },
      } + keepFiring,

      // ---- Signing certificates (every row, root included: no other rule
      // covers them) ----

      {
        // Value: age in days.
        alert: 'IAMCredentialSigningCertificateTooOld',
        expr: withOwner(|||
          %(certAge)s / 86400 > %(signingCertificateDays)s
        ||| % v),
        labels: credential('info'),
        annotations: {
          summary: 'An active X.509 signing certificate is older than %(signingCertificate)s.' % v,
          description: |||
            Signing certificate {{ $labels.cert }} of user {{ $labels.user }} in account
            {{ $labels.account_id }} is active and was created or last changed
            {{ printf "%%.1f" $value }} days ago. Policy: rotate signing certificates every %(signingCertificate)s or less.
          ||| % v,
        },
      } + keepFiring,

      // ---- Exemptions (--aws.exemptions: iam-credential-exemption:<policy>
      // user tags) ----

      {
        // Value: days left: exemptionNoticeDays to renew the decision or fix
        // the finding. No keep_firing_for: it ends when the exemption does,
        // and the findings take over.
        alert: 'IAMCredentialExemptionEnding',
        expr: withOwner(|||
          (aws_iam_user_exemption_end_timestamp_seconds%(all)s - time()) / 86400 <= %(exemptionNoticeDays)s > 0
        ||| % v),
        labels: credential('info'),
        annotations: {
          summary: 'An exemption from a credential policy ends within %(exemptionNotice)s.' % v,
          description: |||
            The exemption of IAM user {{ $labels.user }} in account {{ $labels.account_id }} from the
            {{ $labels.policy }} policy ("{{ $labels.reason }}") ends in {{ printf "%.1f" $value }} days;
            then its findings alert again. Fix the credential, or renew the decision in the user's
            iam-credential-exemption:{{ $labels.policy }} tag.
          |||,
        },
      },

      {
        // Value: malformed exemption tags in the account. They exempt
        // nothing.
        alert: 'IAMCredentialExemptionInvalid',
        expr: |||
          iam_credential_exporter_invalid_exemptions%(all)s > 0
        ||| % v,
        labels: { severity: 'warning' },
        annotations: {
          summary: 'An account has malformed exemption tags, which exempt nothing.',
          description: |||
            {{ $value }} iam-credential-exemption:* user tag(s) in account {{ $labels.account_id }}
            ({{ $labels.instance }}) are malformed and exempt nothing; their findings alert as usual.
            The exporter's log names each user and tag, and what is wrong.
          |||,
        },
      },

      // ---- The report and the exporter ----

      {
        // Value: age of the cached report in hours. AWS rebuilds the report
        // at most every 4 hours and the exporter refreshes every 30 minutes
        // by default, so a healthy report is at most about 4.5 hours old.
        alert: 'IAMCredentialReportStale',
        expr: |||
          account:aws_iam_credential_report_age_seconds / 3600 > %(reportAgeHours)s
        ||| % v,
        labels: { severity: 'warning' },
        annotations: {
          summary: 'The IAM credential report of an account is older than %(reportAge)s.' % v,
          description: |||
            The credential report that the exporter serves for account {{ $labels.account_id }}
            ({{ $labels.instance }}) was generated {{ printf "%.1f" $value }} hours ago.
            Every credential alert for this account is based on data that old.
          |||,
        },
      } + keepFiring,

      {
        alert: 'IAMCredentialRefreshFailing',
        expr: |||
          iam_credential_exporter_refresh_success%(all)s == 0
        ||| % v,
        'for': c.refreshFailingFor,
        labels: { severity: 'warning' },
        annotations: {
          summary: "The exporter has failed to refresh an account's credential report for %(refreshFailing)s." % v,
          description: |||
            Every refresh of the credential report of account {{ $labels.account_id }} by
            {{ $labels.instance }} has failed for at least %(refreshFailing)s
            {{- with printf "time() - iam_credential_exporter_last_refresh_success_timestamp_seconds{instance=%%q,account_id=%%q}" $labels.instance $labels.account_id | query }};
            the last success was {{ . | first | value | humanizeDuration }} ago{{ else }};
            it has not succeeded since the exporter started{{ end }}.
            The exporter's log says why.
          ||| % v,
        },
      },

      {
        // An account that had a report in the last reportMissingWindow, or
        // that the exporter is refreshing, has no report now although its
        // exporter is up. Not while the account's own target is down, in
        // per-account mode (IAMCredentialAccountTargetDown says so); a
        // single exporter's up has no account_id, so that unless never
        // matches there.
        alert: 'IAMCredentialReportMissing',
        expr: |||
          (
              max_over_time(aws_iam_credential_report_generated_timestamp_seconds%(all)s[%(reportMissingWindow)s])
            or
              iam_credential_exporter_refresh_success%(all)s
          )
          unless
            aws_iam_credential_report_generated_timestamp_seconds%(all)s
          and on (job, instance)
            (up%(up)s == 1)
          unless on (job, instance, account_id)
            (up%(accountTargetUp)s == 0)
        ||| % v,
        'for': c.reportMissingFor,
        labels: { severity: 'warning' },
        annotations: {
          summary: 'The exporter serves no credential report for an account.',
          description: |||
            The exporter {{ $labels.instance }} is up but serves no credential report for account
            {{ $labels.account_id }}, which it reported in the last %(reportMissing)s or is still refreshing.
            No credential alert can fire for this account.
          ||| % v,
        },
      },

      {
        // A target is down that served the exporter's build_info in the
        // last exporterSeenWindow, or that exporterUpSelector picks (by
        // default, a job name that looks like this exporter's). Only the
        // target without account_id: a single exporter's, or in
        // per-account mode the exporter's own (exporter=true), which
        // serves build_info and shares job and instance with the accounts'
        // targets. One alert per exporter, not one per account.
        alert: 'IAMCredentialExporterDown',
        expr: |||
          up%(exporterTargetUp)s == 0
          and on (job, instance)
          (
              max_over_time(iam_credential_exporter_build_info%(all)s[%(exporterSeenWindow)s])
            or
              up%(exporterUp)s
          )
        ||| % v,
        'for': c.exporterDownFor,
        labels: { severity: 'warning' },
        annotations: {
          summary: 'An iam_credential_exporter target is down.',
          description: |||
            Prometheus cannot scrape {{ $labels.instance }} (job {{ $labels.job }}).
            While it is down, no IAM credential alert can fire for the accounts it serves.
          |||,
        },
      },

      {
        // Per-account targets (/sd, /metrics?account_id=): one account's
        // target is down while the exporter's own target at the same job
        // and instance is up, which build_info shows: only the own target
        // serves it, and it goes stale at the own target's first failed
        // scrape. So when the whole exporter is down only
        // IAMCredentialExporterDown fires; `for` rides over the scrape or
        // two between an account's target and the own target failing, and
        // over the service discovery refresh after an account leaves.
        alert: 'IAMCredentialAccountTargetDown',
        expr: |||
          up%(accountTargetUp)s == 0
          and on (job, instance)
            iam_credential_exporter_build_info%(all)s
        ||| % v,
        'for': c.accountTargetDownFor,
        labels: { severity: 'warning' },
        annotations: {
          summary: "Prometheus cannot scrape one account's target of an up exporter.",
          description: |||
            Prometheus cannot scrape the target of account {{ $labels.account_id }} on
            {{ $labels.instance }} (job {{ $labels.job }}), while the exporter's own target there is up.
            No credential alert can fire for this account. The scrape error on the Targets page says why:
            404 (the exporter does not read the account: it left the organization, is excluded, or belongs
            to another shard), a sample_limit or body_size_limit exceeded, or a scrape timeout.
          |||,
        },
      },

      // ---- Many accounts: shards and Organizations discovery ----
      // Replicas that split the accounts (--shard/--total-shards) are
      // targets of one job. A single exporter without sharding exports
      // shard_ordinal 0 and total_shards 1, and no discovery series without
      // --aws.organization, so none of these fire for it.

      {
        // Value: how many different --total-shards values the job's
        // replicas use. `for` rides over a rolling update that changes
        // --total-shards.
        alert: 'IAMCredentialExporterShardsDisagree',
        expr: |||
          count by (job) (
            count_values by (job) ("total_shards", iam_credential_exporter_total_shards%(all)s)
          ) > 1
        ||| % v,
        'for': c.shardsFor,
        labels: { severity: 'warning' },
        annotations: {
          summary: 'Replicas of an exporter job disagree on the number of shards.',
          description: |||
            The replicas of job {{ $labels.job }} run with {{ $value }} different --total-shards values
            ({{ range $i, $s := printf `count_values ("total_shards", iam_credential_exporter_total_shards{job=%q})` $labels.job | query | sortByLabel "total_shards" }}{{ if $i }}, {{ end }}--total-shards={{ $s.Labels.total_shards }} on {{ $s.Value }} replica{{ if ne $s.Value 1.0 }}s{{ end }}{{ end }}).
            They split the accounts differently, so some accounts are read twice and others not at all.
          |||,
        },
      },

      {
        // Value: how many shards of the job no up replica serves. A replica
        // that is down has no series (staleness), and two replicas with the
        // same --shard count once.
        alert: 'IAMCredentialExporterShardMissing',
        expr: |||
          (
              max by (job) (iam_credential_exporter_total_shards%(all)s)
            -
              count by (job) (
                count_values by (job) (
                  "shard",
                  iam_credential_exporter_shard_ordinal%(all)s and on (job, instance) (up%(up)s == 1)
                )
              )
          ) > 0
        ||| % v,
        'for': c.shardsFor,
        labels: { severity: 'warning' },
        annotations: {
          summary: 'A shard of a sharded exporter job is not served.',
          description: |||
            Job {{ $labels.job }} has {{ $value }} of its
            {{ with printf "max(iam_credential_exporter_total_shards{job=%q})" $labels.job | query }}{{ . | first | value }}{{ end }}
            shards served by no up replica (shards served:
            {{ range $i, $s := printf `count_values ("shard", iam_credential_exporter_shard_ordinal{job=%q} and on (job, instance) (up == 1))` $labels.job | query | sortByLabel "shard" }}{{ if $i }}, {{ end }}{{ $s.Labels.shard }}{{ end }}).
            The accounts that hash to the missing shards are not read, and no credential alert can fire for them.
          |||,
        },
      },

      {
        // The exporter lists the organization's accounts every
        // --aws.organization.refresh-interval (1h by default) and holds the
        // outcome until the next listing, so with `for: 1h` alone one failed
        // listing would fire whenever the next, good, one is scraped a
        // moment after the hour. The outcomeWindow gives that listing
        // (bounded by --report.timeout, 5m by default) time to be scraped.
        // With hourly listings it fires when two listings in a row fail.
        alert: 'IAMCredentialAccountDiscoveryFailing',
        expr: |||
          max_over_time(iam_credential_exporter_account_discovery_success%(all)s[%(outcomeWindow)s]) == 0
        ||| % v,
        'for': c.discoveryFailingFor,
        labels: { severity: 'warning' },
        annotations: {
          summary: "The exporter has failed to list the organization's accounts for %(discoveryFailing)s." % v,
          description: |||
            Every listing of the AWS Organization's accounts (organizations:ListAccounts) by
            {{ $labels.instance }} has failed for more than %(discoveryFailing)s
            {{- with printf "time() - iam_credential_exporter_account_discovery_last_success_timestamp_seconds{instance=%%q,job=%%q}" $labels.instance $labels.job | query }};
            the last success was {{ . | first | value | humanizeDuration }} ago{{ else }};
            it has not succeeded since the exporter started{{ end }}.
            The exporter keeps reading the accounts it found last time: new accounts are not read
            and closed ones are still tried. The exporter's log says why.
          ||| % v,
        },
      },

      {
        // The opt-in lookups (--aws.user-tags, --aws.access-key-ids,
        // --aws.password-policy per account; --aws.account-tags per
        // exporter) each keep their last good data when they fail. A lookup
        // holds its outcome until its next attempt (the next refresh or
        // discovery), hence the outcomeWindow, as for discovery.
        alert: 'IAMCredentialLookupFailing',
        expr: |||
          (
              max_over_time(iam_credential_exporter_lookup_success%(all)s[%(outcomeWindow)s]) == 0
            or
              max_over_time(iam_credential_exporter_account_tags_success%(all)s[%(outcomeWindow)s]) == 0
          )
        ||| % v,
        'for': c.lookupFailingFor,
        labels: { severity: 'warning' },
        annotations: {
          summary: 'An owner, key ID or password policy lookup of the exporter has failed for %(lookupFailing)s.' % v,
          description: |||
            The {{ with $labels.lookup }}{{ . }}{{ else }}account_tags{{ end }} lookup of
            {{ with $labels.account_id }}account {{ . }}{{ else }}the organization's accounts{{ end }} by
            {{ $labels.instance }} has failed for more than %(lookupFailing)s. The credential report is still read;
            the lookup's last good data is served (its age is
            iam_credential_exporter_lookup_last_success_timestamp_seconds), or none if it never
            succeeded. The exporter's log says why, and names the missing permission if one is missing.
          ||| % v,
        },
      },
    ],

    groups+: [
      {
        name: c.ruleGroupName + '.alerts',
        // Descriptions are written on several lines and are one line of
        // text; every alert links its runbook section.
        rules: [
          a {
            annotations+: {
              description: utils.fold(a.annotations.description),
              runbook_url: c.runbookURLBase + std.asciiLower(a.alert),
            },
          }
          for a in alerts
        ],
      },
    ],
  },
}
