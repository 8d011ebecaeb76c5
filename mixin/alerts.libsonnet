// The alerts (prometheusAlerts). What to do when one fires:
// docs/runbook.md, one section per alert, linked from each alert's
// runbook_url. Every alert is unit-tested in alerts/tests/ (with the
// default _config).
//
// Credential alerts (category="credential") are about one user's
// credential, or one account's password policy. Each is written here as a
// `finding`, the condition per exporter target; rules.libsonnet records
// them all, by identity (utils.findings), and the alert reads that record,
// held while its account has no report (utils.heldFindings). So a credential
// alert's labels are what it is about (account_id, user, key or cert,
// policy, access_key_id when known, the owner labels), never job, instance
// or pod: it stays one alert when the exporter restarts, moves to another
// pod or shard, or is down for up to findingHoldWindow, and it ends at the
// first evaluation after a report without it. They have no `for`: the
// report changes every few hours at most, so a condition that is true now
// is already true for hours. Exemptable findings are left out while the
// user has an exemption in force for that policy. Ages are computed inline
// (utils.credential), as the conventions at the top of rules.libsonnet
// say.
//
// Their descriptions name the key (its ID when --aws.access-key-ids knows
// it, else its slot and how to find the ID), the account and its name, the
// owner, the key's creation and last use, and the next step; the `command`
// annotation is the AWS CLI command of that step. Daily facts are read with
// template queries at notification time, never carried as labels.
//
// Audit notices (category="audit") tell the security team that an
// exemption appeared or changed, or that a user's owner labels changed.
// Exporter-health alerts (no category) keep their job and instance.
//
// Summaries and descriptions say the thresholds of _config. They are built
// by concatenation, not jsonnet's %, because the template queries are full
// of Go's %q.
local utils = import 'lib/utils.libsonnet';

{
  local c = $._config,
  local sel(matchers=[]) = utils.selector(c.jobSelector, matchers),
  local keepFiring = { keep_firing_for: c.keepFiringFor },
  local str = std.toString,

  // The per-credential seconds of IAM users (root left out) and of
  // every row (root included, for signing certificates).
  local user = utils.credential(c, ['user!="<root_account>"']),
  local everyone = utils.credential(c),

  // The values that expressions and texts are formatted with.
  local v = c {
    all: sel(),
    // The labels of `on` and `by` that name a target, a job, an account
    // and a user: with showMultiCluster, the cluster first.
    target: utils.clustered(c, 'job, instance'),
    job: utils.clustered(c, 'job'),
    account: utils.clustered(c, 'account_id'),
    accountUser: utils.clustered(c, 'account_id, user'),
    // The template queries of the health alerts' descriptions select the
    // alert's cluster too: the matcher to put first, and its argument.
    tqCluster: if c.showMultiCluster then c.clusterLabel + '=%q,' else '',
    tqClusterArg: if c.showMultiCluster then ' $labels.' + c.clusterLabel else '',
    keyAge: user.keyAge,
    keyIdle: user.keyIdle,
    keyInactiveUnused: user.keyInactiveUnused,
    keyLastUsed: user.keyLastUsed,
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
    scrapesSucceedingRatio: std.format('%g', 1 - c.scrapesFailingRatio),
    scrapesFailingPercent: std.format('%g%%', c.scrapesFailingRatio * 100),
    scrapesFailingWindowText: utils.lastDuration(c.scrapesFailingWindow),
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
    audit: utils.lastDuration(c.auditWindow),
    rotationStarted: 'account_user_key:aws_iam_access_key_rotation_started_timestamp_seconds',
    usedAfterRotation: 'account_user_key:aws_iam_access_key_used_after_rotation_seconds',
    // The old key of an open rotation is still used: after the grace, and
    // within oldKeyStillUsedDays. OldKeyStillUsed fires on it, and
    // RotationIncomplete never beside it.
    oldKeyStillUsed: utils.paren(|||
      (%(usedAfterRotation)s > %(oldKeyGraceDays)s * 86400)
      and
      (time() - %(keyLastUsed)s < %(oldKeyStillUsedDays)s * 86400)
    ||| % self),
  },

  // exempt drops a finding while the user has an exemption in force
  // for policy (start <= now < end; --exemptions.file, or the users'
  // tags with --aws.exemptions).
  local inForce(policy) =
    '(\n    (aws_iam_user_exemption_end_timestamp_seconds%s > time())\n  and\n    (aws_iam_user_exemption_start_timestamp_seconds%s <= time())\n  )' %
    [sel(['policy="%s"' % policy]), sel(['policy="%s"' % policy])],
  local exempt(cond, policy) =
    '(\n' + utils.indent(std.rstripChars(cond, '\n'), 2) + '\n)\nunless on (' + v.target + ', account_id, user)\n  ' + inForce(policy) + '\n',

  local credential(severity) = { severity: severity, category: 'credential' },

  // ---- Template pieces of the descriptions ----
  // q(metric, labels) is a template query of metric for this alert's
  // labels (Go printf %q of each); the first sample answers.
  local q(metric, labels, suffix='') =
    'query (printf `' + metric + '{' + std.join(',', ['%s=%%q' % l for l in labels]) + '}' + suffix + '` ' +
    std.join(' ', ['$labels.' + l for l in labels]) + ')',
  local keyQ(metric, suffix='') = q(metric, ['account_id', 'user', 'key'], suffix),
  local date(t) = '(' + t + ' | toTime).Format "2006-01-02"',
  local dateTime(t) = '(' + t + ' | toTime).Format "2006-01-02 15:04 MST"',
  local days = '{{ printf "%.1f" $value }}',

  // "account 111122223333 (production)"
  local account =
    'account {{ $labels.account_id }}{{ with query (printf `aws_iam_account_info{account_id=%q,name!=""}` $labels.account_id) }} ({{ . | first | label "name" }}){{ end }}',
  // " Owner: alice. Team: payments." from the owner labels.
  local owners = std.join('', [
    local word = std.asciiUpper(l[std.length('tag_')]) + l[std.length('tag_') + 1:];
    '{{ with $labels.' + l + ' }} ' + word + ': {{ . }}.{{ end }}'
    for l in c.ownerLabels
    if std.startsWith(l, 'tag_')
  ]),
  // "Access key AKIA... (slot 1)" or "The access key in slot 1"
  local keyName =
    '{{ with $labels.access_key_id }}Access key {{ . }} (slot {{ $labels.key }}){{ else }}The access key in slot {{ $labels.key }}{{ end }}',
  local keyNameLower =
    '{{ with $labels.access_key_id }}access key {{ . }} (slot {{ $labels.key }}){{ else }}the access key in slot {{ $labels.key }}{{ end }}',
  // The key's ID for a command, or a placeholder that says where to find it.
  local keyID = '{{ with $labels.access_key_id }}{{ . }}{{ else }}<ID>{{ end }}',
  // The facts of a key alert, read with one template query into template
  // variables: every template query runs for every firing alert at every
  // evaluation, and dominates the cost of the key alerts when thousands
  // fire. keyPrelude starts each key alert's description; the pieces below
  // read its variables.
  local keyPrelude =
    '{{ $created := "" }}{{ $used := "" }}{{ $never := false }}{{ $otherUsed := false }}{{ $accountName := "" }}' +
    '{{ range query (printf `{__name__=~"aws_iam_access_key_(last_rotated_timestamp_seconds|last_used_timestamp_seconds|never_used)",account_id=%q,user=%q}' +
    ' or aws_iam_account_info{account_id=%q,name!=""}` $labels.account_id $labels.user $labels.account_id) }}' +
    '{{ if eq .Labels.__name__ "aws_iam_account_info" }}{{ $accountName = .Labels.name }}' +
    '{{ else if ne .Labels.key $labels.key }}{{ if eq .Labels.__name__ "aws_iam_access_key_last_used_timestamp_seconds" }}{{ $otherUsed = true }}{{ end }}' +
    '{{ else if eq .Labels.__name__ "aws_iam_access_key_last_rotated_timestamp_seconds" }}{{ $created = ' + date('.Value') + ' }}' +
    '{{ else if eq .Labels.__name__ "aws_iam_access_key_never_used" }}{{ $never = true }}' +
    '{{ else }}{{ $where := or .Labels.service "no service" }}{{ with .Labels.region }}{{ $where = printf "%s, %s" $where . }}{{ end }}' +
    '{{ $used = printf "%s (%s)" (' + dateTime('.Value') + ') $where }}{{ end }}{{ end }}',
  // "account 111122223333 (production)", from keyPrelude's $accountName.
  local keyAccount = 'account {{ $labels.account_id }}{{ with $accountName }} ({{ . }}){{ end }}',
  local keyFacts =
    ' Created {{ with $created }}{{ . }}{{ else }}on an unknown date{{ end }}; last used {{ with $used }}{{ . }}' +
    '{{ else }}{{ if $never }}never{{ else }}unknown{{ end }}{{ end }}.' + owners,
  // Without a key ID, how to find it.
  local findKey =
    '{{ if not $labels.access_key_id }}{{ with $created }} To find its ID (<ID> in the command):' +
    ' aws iam list-access-keys --user-name {{ $labels.user }} lists the user\'s keys; it is the one created {{ . }}.{{ end }}{{ end }}',
  local keyWhose = 'IAM user {{ $labels.user }} in ' + keyAccount,
  // The key's callers sampled from CloudTrail (--aws.key-callers), most
  // recent first: " CloudTrail (sampled) saw it used by 203.0.113.10 with
  // aws-cli/2.15 (sts.amazonaws.com), last 2024-05-01 10:00 UTC." Empty
  // without the option. matchers narrow the callers (e.g. inside AWS only).
  // Annotations, never labels: callers change between evaluations.
  local callersOf(intro, matchers='') =
    '{{ with query (printf `sort_desc(max by (source_ip, user_agent, event_source, origin) (aws_iam_access_key_caller_last_seen_timestamp_seconds{account_id=%q,user=%q,key=%q' + matchers + '}))`' +
    ' $labels.account_id $labels.user $labels.key) }} ' + intro +
    '{{ range $i, $c := . }}{{ if $i }};{{ end }} {{ .Labels.source_ip }}{{ with .Labels.user_agent }} with {{ . }}{{ end }}' +
    ' ({{ .Labels.event_source }}{{ if ne .Labels.origin "other" }}, inside AWS: {{ .Labels.origin }}{{ end }}), last {{ ' + dateTime('.Value') + ' }}' +
    '{{ end }}.{{ end }}',
  local keyCallers = callersOf('CloudTrail (sampled) saw it used by'),

  local whose = 'IAM user {{ $labels.user }} in ' + account,

  // findings are the credential alerts; each `finding` is its condition.
  local findings = [
    // ---- Access keys (IAM users) ----

    {
      // Value: age in days. Policy: rotated every keyRotationDays or less.
      alert: 'IAMCredentialAccessKeyTooOld',
      finding: exempt(|||
        %(keyAge)s / 86400 > %(keyRotationDays)s
      ||| % v, 'key-rotation'),
      labels: credential('warning'),
      annotations: {
        summary: 'An active IAM access key is older than %(keyRotation)s.' % v,
        description: keyPrelude + keyName + ' of ' + keyWhose + ' is active and ' + days + ' days old.' + keyFacts +
                     ' Policy: rotate access keys every ' + v.keyRotation + ' or less. Next step: create its replacement (the command),' +
                     ' give it to what uses this key, then deactivate this one; the rotation alerts follow each step.' +
                     ' A user holds at most two keys: if it has two, finish or undo that rotation first.' + findKey,
        command: 'aws iam create-access-key --user-name {{ $labels.user }}',
        cis_aws_foundations: 'v3.0.0 1.14',
        security_hub: 'IAM.3',
      },
    },

    {
      // Value: age in days. Fires during the keyRotationWarningDays
      // before the rotation limit.
      alert: 'IAMCredentialAccessKeyRotationDue',
      finding: exempt(|||
        %(keyAge)s / 86400 > %(keyRotationDueDays)s <= %(keyRotationDays)s
      ||| % v, 'key-rotation'),
      labels: credential('info'),
      annotations: {
        summary: 'An active IAM access key passes %(keyRotation)s within %(keyRotationWarning)s.' % v,
        description: keyPrelude + keyName + ' of ' + keyWhose + ' is active and ' + days + ' days old: it passes the ' +
                     str(c.keyRotationDays) + '-day rotation limit within ' + v.keyRotationWarning + '.' + keyFacts +
                     ' Next step: rotate it now, calmly: create its replacement (the command), give it to what uses this key,' +
                     ' then deactivate this one.' + findKey,
        command: 'aws iam create-access-key --user-name {{ $labels.user }}',
        cis_aws_foundations: 'v3.0.0 1.14 (early warning)',
        security_hub: 'IAM.3 (early warning)',
      },
    },

    {
      // Value: days since last use (or since creation, for a key never
      // used).
      alert: 'IAMCredentialAccessKeyUnused',
      finding: exempt(|||
        %(keyIdle)s / 86400 >= %(unusedDays)s
      ||| % v, 'key-unused'),
      labels: credential('warning'),
      annotations: {
        summary: 'An active IAM access key has not been used for %(unused)s or more.' % v,
        description: keyPrelude + keyName + ' of ' + keyWhose + ' is active and has gone unused for ' + days + ' days.' + keyFacts +
                     ' Policy: disable credentials unused for ' + v.unused + ' or more. Next step: deactivate it (the command);' +
                     ' delete it once nothing has asked for it.' + findKey,
        command: 'aws iam update-access-key --user-name {{ $labels.user }} --access-key-id ' + keyID + ' --status Inactive',
        cis_aws_foundations: 'v3.0.0 1.12',
        security_hub: 'IAM.22',
      },
    },

    // ---- The rotation workflow: create a new key, switch what uses the
    // old key to it, deactivate the old key, delete it. An open rotation
    // is an IAM user with two active keys; the older one is the old key
    // (rules.libsonnet records its slot and the rotation's start). Each
    // state of an open rotation maps to one step (docs/runbook.md, "The
    // rotation workflow"):
    // - old key used more than oldKeyGraceDays after the rotation started
    //   and within the last oldKeyStillUsedDays: OldKeyStillUsed (switch
    //   what uses it);
    // - otherwise, once the rotation is older than rotationIncompleteDays:
    //   RotationIncomplete (deactivate the old key);
    // - otherwise nothing yet: the procedure is under way.
    // Once the old key is inactive, InactiveNotDeleted says "delete" after
    // inactiveKeyDays without use. Two keys kept for good are CIS 1.13
    // failures, which account:aws_iam_users_one_active_key:ratio counts
    // from the first day.

    {
      // Value: days since the rotation started.
      alert: 'IAMCredentialAccessKeyOldKeyStillUsed',
      finding: exempt(|||
        (time() - %(rotationStarted)s) / 86400
        and
        %(oldKeyStillUsed)s
      ||| % v, 'two-active-keys'),
      labels: credential('warning'),
      annotations: {
        summary: 'The old key of an access key rotation is still used after its replacement was created.',
        description: keyPrelude + keyWhose + ' has two active access keys: a rotation started ' + days + ' days ago, and its old key, ' +
                     keyNameLower + ', is still used:' + keyFacts + keyCallers +
                     ' Next step: switch what uses the old key to the new one' +
                     '{{ if $otherUsed }}' +
                     '. Both keys are in use: if two systems share this user and keep a key each, this is not a rotation but a' +
                     ' standing CIS 1.13 failure (one active key per user): give each system its own user or, inside AWS, a role{{ end }}.' +
                     ' Once the old key\'s last use stops moving (the command shows it), deactivate it.' + findKey,
        command: 'aws iam get-access-key-last-used --access-key-id ' + keyID,
        cis_aws_foundations: 'v3.0.0 1.13',
      },
    },

    {
      // Value: days since the rotation started. Labels: the old key.
      alert: 'IAMCredentialAccessKeyRotationIncomplete',
      finding: exempt(|||
        (time() - %(rotationStarted)s) / 86400 > %(rotationIncompleteDays)s
        unless
        %(oldKeyStillUsed)s
      ||| % v, 'two-active-keys'),
      labels: credential('warning'),
      annotations: {
        summary: 'An access key rotation was left half-done; the old key is still active.',
        description: keyPrelude + keyWhose + ' has two active access keys: a rotation started ' + days + ' days ago, and its old key, ' +
                     keyNameLower + ', has not been used for ' + str(c.oldKeyStillUsedDays) +
                     ' days or since the rotation started.' + keyFacts + callersOf('Its last callers CloudTrail sampled:') +
                     ' Next step: deactivate the old key (the command), then delete it once nothing has asked for it.' + findKey,
        command: 'aws iam update-access-key --user-name {{ $labels.user }} --access-key-id ' + keyID + ' --status Inactive',
        cis_aws_foundations: 'v3.0.0 1.13',
      },
    },

    {
      // Value: days since a caller inside AWS last used the key. Callers
      // are read for the keys of open rotations only (--aws.key-callers),
      // so this fires while a rotation is open: the moment to replace the
      // key by a role rather than by another key.
      alert: 'IAMCredentialAccessKeyUsedFromInsideAWS',
      finding: |||
        min by (%(target)s, account_id, user, key) (
          time() - aws_iam_access_key_caller_last_seen_timestamp_seconds%(insideAWS)s
        ) / 86400
      ||| % (v { insideAWS: sel(['origin!="other"']) }),
      labels: credential('warning'),
      annotations: {
        summary: 'An IAM access key is used from inside AWS, where a role would do without a stored key.',
        description: keyPrelude + keyName + ' of ' + keyWhose + ' is used from inside AWS.' + keyFacts +
                     callersOf('Callers inside AWS (CloudTrail, sampled):', ',origin!="other"') +
                     ' Code that runs on AWS (EC2, ECS, EKS, Lambda, CodeBuild) or an AWS service acting for the user should use' +
                     ' an IAM role, whose credentials rotate themselves, not a stored access key. Next step: give that workload' +
                     ' a role (instance profile, task role, IRSA or execution role) with the permissions the user has (the command' +
                     ' lists them), remove the key from it, then finish the rotation by deactivating the key it no longer uses.',
        command: 'aws iam list-attached-user-policies --user-name {{ $labels.user }}',
      },
    },

    {
      // Value: days since the inactive key was last used (or created, if
      // never used). An inactive key can be reactivated: delete it once
      // nothing has needed it for inactiveKeyDays.
      alert: 'IAMCredentialAccessKeyInactiveNotDeleted',
      finding: exempt(|||
        %(keyInactiveUnused)s / 86400 > %(inactiveKeyDays)s
      ||| % v, 'inactive-key'),
      labels: credential('info'),
      annotations: {
        summary: 'An inactive access key has gone unused for more than %(inactiveKey)s and was never deleted.' % v,
        description: keyPrelude + keyName + ' of ' + keyWhose + ' is inactive and has gone unused for ' + days + ' days.' + keyFacts +
                     ' Next step: delete it (the command): an inactive key can be activated again.' + findKey,
        command: 'aws iam delete-access-key --user-name {{ $labels.user }} --access-key-id ' + keyID,
      },
    },

    // ---- Console users ----

    {
      // Value: days since the password was last used (or set, or the user
      // created).
      alert: 'IAMCredentialPasswordUnused',
      finding: exempt(|||
        %(passwordIdle)s / 86400 >= %(unusedDays)s
      ||| % v, 'password-unused'),
      labels: credential('warning'),
      annotations: {
        summary: "An IAM user's console password has not been used for %(unused)s or more." % v,
        description: whose + ' has a console password and ' +
                     '{{ with ' + q('aws_iam_user_password_last_used_timestamp_seconds', ['account_id', 'user']) + ' -}}' +
                     'last signed in with it {{ ' + date('. | first | value') + ' }}, ' + days + ' days ago.' +
                     '{{- else -}}has never signed in with it (set ' + days + ' days ago).{{- end }}' + owners +
                     ' Policy: disable credentials unused for ' + v.unused + ' or more. Next step: remove the password (the command);' +
                     ' the user keeps its access keys.',
        command: 'aws iam delete-login-profile --user-name {{ $labels.user }}',
        cis_aws_foundations: 'v3.0.0 1.12',
        security_hub: 'IAM.22',
      },
    },

    {
      alert: 'IAMCredentialConsoleUserWithoutMFA',
      finding: exempt(|||
        aws_iam_user_mfa_active%(notRoot)s == 0
        and
        aws_iam_user_password_enabled%(notRoot)s == 1
      ||| % v, 'console-mfa'),
      labels: credential('warning'),
      annotations: {
        summary: 'An IAM user with a console password has no MFA.',
        description: whose + ' can sign in to the console with a password but has no MFA device.' + owners +
                     ' Policy: MFA for every user with a console password. Next step: the user assigns an MFA device' +
                     ' (IAM console, Users, {{ $labels.user }}, Security credentials); if it needs no console,' +
                     ' remove its password (the command).',
        command: 'aws iam delete-login-profile --user-name {{ $labels.user }}',
        cis_aws_foundations: 'v3.0.0 1.10',
        security_hub: 'IAM.5',
      },
    },

    {
      // --aws.password-policy. No policy, or one below CIS v3.0.0 1.8
      // (minimum length passwordMinLength) or 1.9 (passwordReusePrevention
      // passwords remembered; 24 is IAM's maximum). About an account: its
      // owner is the account's.
      alert: 'IAMCredentialPasswordPolicyWeak',
      finding: |||
        (
            (aws_iam_account_password_policy_exists%(all)s == 0)
          or on (%(target)s, account_id)
            (aws_iam_account_password_policy_minimum_length%(all)s < %(passwordMinLength)s)
          or on (%(target)s, account_id)
            (aws_iam_account_password_policy_reuse_prevention%(all)s < %(passwordReusePrevention)s)
        )
      ||| % v,
      labels: credential('warning'),
      annotations: {
        summary: "An account's IAM password policy is missing or weaker than CIS asks.",
        description: 'The IAM password policy of ' + account +
                     '{{ with query (printf `aws_iam_account_password_policy_exists{account_id=%q} == 1` $labels.account_id) }}' +
                     ' requires a minimum length of {{ with ' + q('aws_iam_account_password_policy_minimum_length', ['account_id']) + ' }}{{ . | first | value }}{{ end }}' +
                     ' and remembers {{ with ' + q('aws_iam_account_password_policy_reuse_prevention', ['account_id']) + ' }}{{ . | first | value }}{{ end }} previous passwords.' +
                     '{{- else }} is missing: IAM\'s defaults apply.{{- end }}' + owners +
                     ' Policy: a minimum length of ' + str(c.passwordMinLength) + ' or more, and the last ' + v.passwordsRemembered + ' remembered.' +
                     ' Next step: set the policy (the command). It replaces the whole policy: add the other settings you keep.',
        command: 'aws iam update-account-password-policy --minimum-password-length ' + str(c.passwordMinLength) +
                 ' --password-reuse-prevention ' + str(c.passwordReusePrevention),
        cis_aws_foundations: 'v3.0.0 1.8, 1.9',
        security_hub: 'IAM.15, IAM.16',
      },
    },

    // ---- Root user (no exemption: root cannot be tagged) ----

    {
      alert: 'IAMCredentialRootAccessKeyActive',
      // Value: the key's age in days; -1 when its creation date is
      // unknown (the key still counts).
      finding: |||
        (
          (time() - aws_iam_access_key_last_rotated_timestamp_seconds%(root)s) / 86400
          and
          (aws_iam_access_key_active%(root)s == 1)
        )
        or
        (aws_iam_access_key_active%(root)s == 1) * 0 - 1
      ||| % v,
      labels: credential('critical'),
      annotations: {
        summary: 'The root user has an active access key.',
        description: keyPrelude + 'The root user of ' + keyAccount + ' has an active access key in slot {{ $labels.key }}{{ if ge $value 0.0 }}, ' + days + ' days old{{ end }}.' + keyFacts +
                     ' Policy: no access keys for the root user. Next step: delete it, signed in as the root user' +
                     ' (Security credentials, Access keys: deactivate, then delete), or from the management account' +
                     ' with centralized root access (the command, then aws iam list-access-keys and aws iam delete-access-key' +
                     ' --access-key-id <ID> with the session\'s credentials).',
        command: 'aws sts assume-root --target-principal {{ $labels.account_id }} --task-policy-arn arn=arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials',
        cis_aws_foundations: 'v3.0.0 1.4',
        security_hub: 'IAM.4',
      },
    },

    {
      // CIS 1.4 and IAM.4 fail on any root key, active or not: an
      // inactive key can be activated again by whoever holds root. An
      // empty slot has no series, so this is a key that exists.
      alert: 'IAMCredentialRootAccessKeyInactive',
      // Value: the key's age in days; -1 when its creation date is
      // unknown (the key still counts).
      finding: |||
        (
          (time() - aws_iam_access_key_last_rotated_timestamp_seconds%(root)s) / 86400
          and
          (aws_iam_access_key_active%(root)s == 0)
        )
        or
        (aws_iam_access_key_active%(root)s == 0) * 0 - 1
      ||| % v,
      labels: credential('warning'),
      annotations: {
        summary: 'The root user has an inactive access key.',
        description: keyPrelude + 'The root user of ' + keyAccount + ' has an inactive access key in slot {{ $labels.key }}{{ if ge $value 0.0 }}, ' + days + ' days old{{ end }}.' + keyFacts +
                     ' It can be activated again. Policy: no access keys for the root user. Next step: delete it, signed in' +
                     ' as the root user (Security credentials, Access keys), or from the management account with centralized' +
                     ' root access (the command, then aws iam list-access-keys and aws iam delete-access-key --access-key-id <ID>).',
        command: 'aws sts assume-root --target-principal {{ $labels.account_id }} --task-policy-arn arn=arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials',
        cis_aws_foundations: 'v3.0.0 1.4',
        security_hub: 'IAM.4',
      },
    },

    {
      alert: 'IAMCredentialRootWithoutMFA',
      finding: |||
        aws_iam_user_mfa_active%(root)s == 0
      ||| % v,
      labels: credential('critical'),
      annotations: {
        summary: 'The root user has no MFA.',
        description: 'The root user of ' + account + ' has no MFA device.' + owners +
                     ' Policy: MFA on the root user. Next step: sign in as the root user and assign an MFA device' +
                     ' (Security credentials, Multi-factor authentication); a hardware key where the account matters most.',
        cis_aws_foundations: 'v3.0.0 1.5',
        security_hub: 'IAM.9',
      },
    },

    {
      // Value: hours since the root user's password or an access key was
      // last used.
      alert: 'IAMCredentialRootRecentlyUsed',
      finding: |||
        account:aws_iam_root_user_last_used_age_seconds / 3600 < %(rootRecentUseHours)s
      ||| % v,
      labels: credential('warning'),
      annotations: {
        summary: 'The root user was used in the last %(rootRecentUse)s.' % v,
        description: 'The root user of ' + account + ' signed in or used an access key {{ printf "%.1f" $value }} hours ago.' + owners +
                     ' Policy: do not use the root user for daily work. Next step: find out who and why in CloudTrail' +
                     ' (the command, in the account, in us-east-1 for console sign-ins).',
        command: 'aws cloudtrail lookup-events --lookup-attributes AttributeKey=Username,AttributeValue=root --max-results 50',
        cis_aws_foundations: 'v3.0.0 1.7',
      },
    },

    // ---- Signing certificates (every row, root included: no other rule
    // covers them) ----

    {
      // Value: age in days.
      alert: 'IAMCredentialSigningCertificateTooOld',
      finding: |||
        %(certAge)s / 86400 > %(signingCertificateDays)s
      ||| % v,
      labels: credential('info'),
      annotations: {
        summary: 'An active X.509 signing certificate is older than %(signingCertificate)s.' % v,
        description: 'Signing certificate {{ $labels.cert }} of user {{ $labels.user }} in ' + account +
                     ' is active and was created or last changed ' + days + ' days ago.' + owners +
                     ' Policy: rotate signing certificates every ' + v.signingCertificate + ' or less. Next step: upload its' +
                     ' replacement, then deactivate this one; the command lists the certificates with their IDs and dates.',
        command: 'aws iam list-signing-certificates --user-name {{ $labels.user }}',
      },
    },

    // ---- Exemptions (docs/exemptions.md) ----

    {
      // Value: days left: exemptionNoticeDays to renew the decision or fix
      // the finding.
      alert: 'IAMCredentialExemptionEnding',
      finding: |||
        (aws_iam_user_exemption_end_timestamp_seconds%(all)s - time()) / 86400 <= %(exemptionNoticeDays)s > 0
        and
        aws_iam_user_exemption_start_timestamp_seconds%(all)s <= time()
      ||| % v,
      labels: credential('info'),
      annotations: {
        summary: 'An exemption from a credential policy ends within %(exemptionNotice)s.' % v,
        description: 'The exemption of ' + whose + ' from the {{ $labels.policy }} policy' +
                     '{{ with ' + q('aws_iam_user_exemption_end_timestamp_seconds', ['account_id', 'user', 'policy']) + ' }}{{ with first . }}' +
                     ' ({{ .Labels.reason }}; source: {{ .Labels.source }}) ends {{ ' + date('.Value') + ' }}{{ end }}{{ end }},' +
                     ' in ' + days + ' days; then its findings alert again.' + owners +
                     ' Next step: fix the credential, or have the security team review and renew the decision.',
      },
    },

    {
      // A malformed exemption tag, per user: it exempts nothing, and the
      // user's team hears so.
      alert: 'IAMCredentialExemptionInvalid',
      finding: |||
        aws_iam_user_exemption_invalid%(all)s == 1
      ||| % v,
      labels: credential('warning'),
      annotations: {
        summary: 'A user has an exemption tag that the exporter does not honour.',
        description: '{{ $problem := "" }}{{ with ' + q('aws_iam_user_exemption_invalid', ['account_id', 'user', 'policy']) + ' }}{{ $problem = . | first | label "problem" }}{{ end }}' +
                     'The iam-credential-exemption:{{ $labels.policy }} tag of ' + whose +
                     '{{ if eq $problem "duplicate" }} repeats, in another case, a tag of the same policy that ends earlier: only that one holds.' +
                     '{{ else }} is malformed{{ with $problem }} ({{ . }}){{ end }} and exempts nothing: its findings alert as usual.{{ end }}' + owners +
                     ' Next step: fix the tag (YYYY-MM-DD/YYYY-MM-DD reason, a known policy, at most ' + str(c.exemptionMaxDays) + ' days),' +
                     ' or remove it (the command; the key as the user\'s tags spell it). The exporter\'s log says what is wrong.',
        command: 'aws iam untag-user --user-name {{ $labels.user }} --tag-keys iam-credential-exemption:{{ $labels.policy }}',
      },
    },
  ],

  // Audit notices for the security team: what changed in the last
  // auditWindow, compared with the same series auditWindow ago. Only for
  // accounts that had those series then, so that an exporter that was
  // down, or a first deployment, does not announce everything at once.
  local audit = { severity: 'info', category: 'audit' },
  local ago = ' offset ' + c.auditWindow,
  local exemptionLabels = 'account_id, user, policy, source, reason',
  local audits = [
    {
      // Value: 1. An exemption that appeared, or whose start, end or
      // reason changed: a renewal is always a change, since the span is
      // capped (--exemptions.max-days).
      alert: 'IAMCredentialExemptionChanged',
      expr: |||
        group by (%(l)s) (
            (
              aws_iam_user_exemption_end_timestamp_seconds%(all)s
              unless on (%(l)s)
              aws_iam_user_exemption_end_timestamp_seconds%(all)s%(ago)s
            )
          or
            (
              aws_iam_user_exemption_end_timestamp_seconds%(all)s
              != on (%(l)s) group_left
              max by (%(l)s) (aws_iam_user_exemption_end_timestamp_seconds%(all)s%(ago)s)
            )
          or
            (
              aws_iam_user_exemption_start_timestamp_seconds%(all)s
              != on (%(l)s) group_left
              max by (%(l)s) (aws_iam_user_exemption_start_timestamp_seconds%(all)s%(ago)s)
            )
        )
        and on (%(account)s)
          group by (%(account)s) (aws_iam_credential_report_generated_timestamp_seconds%(all)s%(ago)s)
      ||| % (v { l: utils.clustered(c, exemptionLabels), ago: ago }),
      labels: audit,
      annotations: {
        summary: 'An exemption from a credential policy appeared or changed.',
        description: 'In the last ' + v.audit + ', ' + whose + ' gained or changed an exemption from the {{ $labels.policy }} policy' +
                     ' (source: {{ $labels.source }}): "{{ $labels.reason }}"' +
                     '{{ with query (printf `aws_iam_user_exemption_start_timestamp_seconds{account_id=%q,user=%q,policy=%q,source=%q}` $labels.account_id $labels.user $labels.policy $labels.source) }}, from {{ ' + date('. | first | value') + ' }}{{ end }}' +
                     '{{ with query (printf `aws_iam_user_exemption_end_timestamp_seconds{account_id=%q,user=%q,policy=%q,source=%q}` $labels.account_id $labels.user $labels.policy $labels.source) }} until the day before {{ ' + date('. | first | value') + ' }}{{ end }}.' +
                     ' While it holds, the user\'s {{ $labels.policy }} findings do not alert. Next step: check that the security team' +
                     ' decided it (a tag set by the user itself is not a decision: remove it, see docs/exemptions.md).',
      },
    },
  ] + (if c.ownerLabels == [] then [] else [
    {
      // Value: 1. A user created more than auditWindow ago whose owner
      // labels (from its own tags, --aws.user-tags) changed or appeared:
      // its findings now go elsewhere. The user may have done it itself.
      alert: 'IAMCredentialOwnerChanged',
      expr: |||
        (
          group by (%(accountUser)s, %(owners)s) (aws_iam_user_tags%(all)s)
          unless on (%(accountUser)s, %(owners)s)
          aws_iam_user_tags%(all)s%(ago)s
        )
        and on (%(accountUser)s)
          (aws_iam_user_creation_timestamp_seconds%(all)s < time() - %(auditSeconds)s)
        and on (%(account)s)
          group by (%(account)s) (aws_iam_user_tags%(all)s%(ago)s)
      ||| % (v { owners: std.join(', ', c.ownerLabels), ago: ago, auditSeconds: utils.seconds(c.auditWindow) }),
      labels: audit,
      annotations: {
        summary: "An IAM user's owner labels changed: its findings are routed elsewhere now.",
        description: 'In the last ' + v.audit + ', the owner tags of ' + whose + ' changed; now:' +
                     std.join(',', [' ' + l + '={{ $labels.' + l + ' }}' for l in c.ownerLabels]) + '; before:' +
                     '{{ with query (printf `aws_iam_user_tags{account_id=%q,user=%q}' + ago + '` $labels.account_id $labels.user) }}{{ with first . }}' +
                     std.join(',', [' ' + l + '={{ .Labels.' + l + ' }}' for l in c.ownerLabels]) + '{{ end }}{{ else }} none{{ end }}.' +
                     ' Next step: check that the change was made by whoever may assign owners (CloudTrail TagUser events);' +
                     ' owner tags that users may set on themselves are not a routing boundary (docs/exemptions.md).',
        command: 'aws cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,AttributeValue=TagUser --max-results 50',
      },
    },
  ]),

  // health: the report and the exporter (no category; job and
  // instance kept).
  local health = [
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
          {{- with printf "time() - iam_credential_exporter_last_refresh_success_timestamp_seconds{%(tqCluster)sinstance=%%q,account_id=%%q}"%(tqClusterArg)s $labels.instance $labels.account_id | query }};
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
        and on (%(target)s)
          (up%(up)s == 1)
        unless on (%(target)s, account_id)
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
        and on (%(target)s)
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

    // An exporter (its build_info, which only this exporter serves) under
    // a job that jobSelector leaves out: no rule reads it, so without this
    // alert a job named otherwise would go silent. None without a job
    // selector, which leaves no job out.
    if c.jobSelector != '' then {
      alert: 'IAMCredentialExporterJobNotSelected',
      expr: |||
        group by (%(target)s) (
          iam_credential_exporter_build_info
          unless
          iam_credential_exporter_build_info%(all)s
        )
      ||| % v,
      'for': c.jobNotSelectedFor,
      labels: { severity: 'warning' },
      annotations: {
        summary: 'An iam_credential_exporter is scraped under a job that the rules do not read.',
        description: |||
          Prometheus scrapes the exporter {{ $labels.instance }} as job {{ $labels.job }}, which the
          mixin's jobSelector (%(jobSelector)s) leaves out: no credential or health alert reads what it
          serves, and the dashboards do not list the job. Set jobSelector in the mixin's _config to match
          the job (or to '', every job) and load the rules again, or rename the scrape job.
        ||| % v,
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
        and on (%(target)s)
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

    {
      // An exporter's targets (its own, the single one, or an account's)
      // whose scrapes fail on and off: more than scrapesFailingRatio of
      // them within scrapesFailingWindow, but not every one, which the
      // two alerts above cover. Each failed scrape marks the target's
      // series stale, and a success in between resets their `for`. One
      // alert per exporter, whose value is the number of such targets, not
      // one per account: refusals (iam_credential_exporter_http_requests_refused_total)
      // hit many accounts' targets at once.
      alert: 'IAMCredentialExporterScrapesFailing',
      expr: |||
        count by (%(target)s) (
            (avg_over_time(up%(up)s[%(scrapesFailingWindow)s]) < %(scrapesSucceedingRatio)s > 0)
          and on (%(target)s)
            (
                max_over_time(iam_credential_exporter_build_info%(all)s[%(exporterSeenWindow)s])
              or
                up%(exporterUp)s
            )
        )
      ||| % v,
      'for': c.scrapesFailingFor,
      labels: { severity: 'warning' },
      annotations: {
        summary: "Scrapes of an iam_credential_exporter's targets keep failing, on and off.",
        description: |||
          {{ $value }} target(s) of {{ $labels.instance }} (job {{ $labels.job }}) failed more than %(scrapesFailingPercent)s of
          their scrapes in the last %(scrapesFailingWindowText)s, though not all of them. Each failed scrape makes the target's
          series stale, and the target-down alerts, which need continuous failure, stay quiet. Look at the
          scrape errors on the Targets page and at iam_credential_exporter_http_requests_refused_total.
        ||| % v,
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
        count by (%(job)s) (
          count_values by (%(job)s) ("total_shards", iam_credential_exporter_total_shards%(all)s)
        ) > 1
      ||| % v,
      'for': c.shardsFor,
      labels: { severity: 'warning' },
      annotations: {
        summary: 'Replicas of an exporter job disagree on the number of shards.',
        description: |||
          The replicas of job {{ $labels.job }} run with {{ $value }} different --total-shards values
          ({{ range $i, $s := printf `count_values ("total_shards", iam_credential_exporter_total_shards{%(tqCluster)sjob=%%q})`%(tqClusterArg)s $labels.job | query | sortByLabel "total_shards" }}{{ if $i }}, {{ end }}--total-shards={{ $s.Labels.total_shards }} on {{ $s.Value }} replica{{ if ne $s.Value 1.0 }}s{{ end }}{{ end }}).
          They split the accounts differently, so some accounts are read twice and others not at all.
        ||| % v,
      },
    },

    {
      // Value: how many shards of the job no up replica serves. A replica
      // that is down has no series (staleness), and two replicas with the
      // same --shard count once.
      alert: 'IAMCredentialExporterShardMissing',
      expr: |||
        (
            max by (%(job)s) (iam_credential_exporter_total_shards%(all)s)
          -
            count by (%(job)s) (
              count_values by (%(job)s) (
                "shard",
                iam_credential_exporter_shard_ordinal%(all)s and on (%(target)s) (up%(up)s == 1)
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
          {{ with printf "max(iam_credential_exporter_total_shards{%(tqCluster)sjob=%%q})"%(tqClusterArg)s $labels.job | query }}{{ . | first | value }}{{ end }}
          shards served by no up replica (shards served:
          {{ range $i, $s := printf `count_values ("shard", iam_credential_exporter_shard_ordinal{%(tqCluster)sjob=%%q} and on (%(target)s) (up == 1))`%(tqClusterArg)s $labels.job | query | sortByLabel "shard" }}{{ if $i }}, {{ end }}{{ $s.Labels.shard }}{{ end }}).
          The accounts that hash to the missing shards are not read, and no credential alert can fire for them.
        ||| % v,
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
          {{- with printf "time() - iam_credential_exporter_account_discovery_last_success_timestamp_seconds{%(tqCluster)sinstance=%%q,job=%%q}"%(tqClusterArg)s $labels.instance $labels.job | query }};
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

    {
      // A SIGHUP reload of --config.file was refused (invalid, or it would
      // drop more than half of the accounts): the exporter keeps its
      // previous configuration, and the file on disk is not what runs.
      alert: 'IAMCredentialExporterConfigReloadFailing',
      expr: |||
        max_over_time(iam_credential_exporter_config_last_reload_successful%(all)s[5m]) == 0
      ||| % v,
      'for': c.configReloadFailingFor,
      labels: { severity: 'warning' },
      annotations: {
        summary: 'The exporter refused to reload its configuration file.',
        description: |||
          The last reload of {{ $labels.instance }}'s --config.file failed or was refused; it keeps reading
          the accounts of its previous configuration, so the file on disk is not what runs. The exporter's
          log says why: an invalid file, or one that would stop reading more than half of the accounts
          (--config.allow-mass-removal lets that through).
        |||,
      },
    },
  ],

  // The credential alerts' conditions, recorded per target by
  // rules.libsonnet (utils.findings).
  instanceFindings:: [
    {
      record: utils.recordNames.instanceFinding,
      expr: f.finding,
      labels: { finding: f.alert },
    }
    for f in findings
  ],

  // Descriptions are written on several lines and are one line of
  // text; every alert links its runbook section.
  //
  // The severity written above is the alert's level; its label is that
  // level's value in _config.severities, or that of the level that
  // _config.alertSeverities gives the alert.
  //
  // With showMultiCluster, descriptions end with the alert's cluster when
  // it has one (rules evaluated in each cluster's Prometheus see no
  // cluster label: their Alertmanager gets it as an external label).
  local inCluster =
    if c.showMultiCluster then '{{ with $labels.%s }} Cluster: {{ . }}.{{ end }}' % c.clusterLabel else '',
  local withLinks(a) =
    local level = std.get(c.alertSeverities, a.alert, a.labels.severity);
    assert std.objectHas(c.severities, level) :
           '%s: severity %s is not one of _config.severities (%s)' % [a.alert, level, std.join(', ', std.objectFields(c.severities))];
    a {
      labels+: { severity: c.severities[level] },
      annotations+: {
        description: utils.fold(a.annotations.description) + inCluster,
        runbook_url: c.runbookURLBase + std.asciiLower(a.alert),
      },
    },

  local unknownSeverityAlerts = std.setDiff(
    std.set(std.objectFields(c.alertSeverities)),
    std.set([a.alert for a in findings + audits + health if a != null]),
  ),

  prometheusAlerts+:: {
    assert unknownSeverityAlerts == [] :
           '_config.alertSeverities names no such alert: ' + std.join(', ', unknownSeverityAlerts),
    groups+: [
      {
        name: c.ruleGroupName + '.alerts',
        rules: [
          withLinks({ [k]: f[k] for k in std.objectFields(f) if k != 'finding' } + { expr: utils.held(f.alert, c) })
          for f in findings
        ] + [withLinks(a) for a in audits + health if a != null],
      },
    ],
  },
}
