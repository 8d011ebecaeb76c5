// Helpers that the rules, the alerts and the dashboards share: selectors
// built from the job selector, the per-credential quantities and the owner
// join of the rules and alerts, and threshold numbers in words.
{
  // selector(jobSelector, ['user!="<root_account>"']) is the label
  // selector of an exporter metric: the job selector and the given
  // matchers, or nothing at all when both are empty, so that an empty job
  // selector leaves `metric` as it is.
  selector(jobSelector, matchers=[])::
    local all = std.filter(function(m) m != '', [jobSelector] + matchers);
    if all == [] then '' else '{%s}' % std.join(', ', all),

  // clustered(c, 'job, instance') is the labels of a `by` or `on (...)`
  // clause, with c.clusterLabel first when c.showMultiCluster: the rules
  // and alerts that aggregate or join keep the clusters apart.
  clustered(c, labels)::
    if !c.showMultiCluster then labels
    else if labels == '' then c.clusterLabel
    else c.clusterLabel + ', ' + labels,

  // paren('a\nb') is '(\n  a\n  b\n)': a multi-line expression as one
  // operand, whatever the operators around it. An expression already in
  // parentheses stays as it is.
  paren(expr)::
    local e = std.rstripChars(expr, '\n');
    if $.parenthesized(e) then e else '(\n' + $.indent(e, 2) + '\n)',

  // parenthesized(e): the first character of e opens a parenthesis that
  // the last one closes, i.e. the depth stays above 0 from the first
  // character to the one before the last. The fold keeps a number, which
  // jsonnet evaluates at each step, and stays at 0 once the depth reaches
  // it.
  parenthesized(e)::
    local n = std.length(e);
    local step(depth, ch) =
      if depth <= 0 then 0 else depth + (if ch == '(' then 1 else if ch == ')' then -1 else 0);
    n > 1 && e[0] == '(' && std.foldl(step, std.stringChars(e[1:n - 1]), 1) > 0,

  // credential(c, matchers) holds, as PromQL over the exporter's series
  // selected by the job selector and matchers, the seconds that the rules
  // and the alerts compare with their thresholds, one element per
  // credential. No recording rule keeps them: a series per key or per user
  // for every user would cost Prometheus about 2 KB each, and time() - x is
  // cheap to compute where it is compared.
  //
  // The exporter exports no series for an empty key or certificate slot,
  // so `active == 1` is an active one and `active == 0` an inactive one;
  // never_used and password_enabled exist only with value 1 (the `== 1`
  // costs nothing and reads as what is meant). The last-used timestamp
  // carries the region and service of that use, which are aggregated away
  // before it meets another series: a key used from another region is the
  // same key, and alerts must not change identity with it.
  credential(c, matchers=[])::
    local s = $.selector(c.jobSelector, matchers);
    local v = { s: s };
    local keyLastUsed = 'max without (region, service) (aws_iam_access_key_last_used_timestamp_seconds%(s)s)' % v;
    // Keys, active or not: see keyUnused below.
    local keyUnused = std.rstripChars(|||
      (
          time() - %(lastUsed)s
        or
          (
            (time() - aws_iam_access_key_last_rotated_timestamp_seconds%(s)s)
            and
            (aws_iam_access_key_never_used%(s)s == 1)
          )
      )
    ||| % (v { lastUsed: keyLastUsed }), '\n');
    {
      // When each key was last used.
      keyLastUsed: keyLastUsed,

      // Seconds since each active key was created or last rotated.
      keyAge: $.paren(|||
        (time() - aws_iam_access_key_last_rotated_timestamp_seconds%(s)s)
        and
        (aws_iam_access_key_active%(s)s == 1)
      ||| % v),

      // Seconds each key, active or not, has gone unused: since its last
      // use, or since its creation when the report says it was never used.
      // A key whose use the report cannot state (the 16-column layout has
      // no last-used column) has no element: unknown is not never.
      keyUnused: keyUnused,

      // The same for active keys ...
      keyIdle: $.paren(|||
        %(unused)s
        and
        (aws_iam_access_key_active%(s)s == 1)
      ||| % (v { unused: keyUnused })),

      // ... and for inactive ones.
      keyInactiveUnused: $.paren(|||
        %(unused)s
        and
        (aws_iam_access_key_active%(s)s == 0)
      ||| % (v { unused: keyUnused })),

      // Seconds each console password has gone unused: since its last use;
      // if never used, since it was last set; if that is unknown too, since
      // the user was created. Console users only.
      passwordIdle: $.paren(|||
        (
            time() - aws_iam_user_password_last_used_timestamp_seconds%(s)s
          or
            time() - aws_iam_user_password_last_changed_timestamp_seconds%(s)s
          or
            time() - aws_iam_user_creation_timestamp_seconds%(s)s
        )
        and
        (aws_iam_user_password_enabled%(s)s == 1)
      ||| % v),

      // Whether each console user has MFA (1) or not (0).
      consoleUserMFA: $.paren(|||
        aws_iam_user_mfa_active%(s)s
        and
        (aws_iam_user_password_enabled%(s)s == 1)
      ||| % v),

      // Seconds since each active signing certificate was created or
      // changed.
      certAge: $.paren(|||
        (time() - aws_iam_signing_certificate_last_rotated_timestamp_seconds%(s)s)
        and
        (aws_iam_signing_certificate_active%(s)s == 1)
      ||| % v),
    },

  // withOwner(expr, c) is expr, a finding per credential or user, with the
  // owner labels (c.ownerLabels, for routing) of its user's allow-listed
  // tags when the user has an aws_iam_user_tags series, else of its
  // account's aws_iam_account_tags, else none. Each element of expr comes
  // out exactly once, with its value: the first branch keeps the users
  // with tags, each `or ignoring (owners)` adds only the elements that no
  // earlier branch has, and the last adds expr's remaining elements as
  // they are. The joins match on (job, instance, account_id[, user]): the
  // tag series carry other tag labels that the findings lack. group by
  // makes the tags one series of value 1 per user or account, so that
  // they neither multiply a value nor match twice.
  withOwner(expr, c)::
    if c.ownerLabels == [] then expr else
      local v = {
        x: $.paren(expr),
        owners: std.join(', ', c.ownerLabels),
        all: $.selector(c.jobSelector),
        target: $.clustered(c, 'job, instance'),
      };
      |||
        %(x)s
        * on (%(target)s, account_id, user) group_left (%(owners)s)
          group by (%(target)s, account_id, user, %(owners)s) (aws_iam_user_tags%(all)s)
        or ignoring (%(owners)s)
        %(x)s
        * on (%(target)s, account_id) group_left (%(owners)s)
          group by (%(target)s, account_id, %(owners)s) (aws_iam_account_tags%(all)s)
        or ignoring (%(owners)s)
        %(x)s
      ||| % v,

  // ---- Findings: what a credential alert is about, held by identity ----
  //
  // Every credential alert X is three rules. instanceFinding records X's
  // condition, per exporter target (with job and instance), labelled
  // finding="X". finding records all of them at once by their identity
  // (c.findingLabels) alone, after giving each its access key ID and owner
  // labels: a finding served by two replicas, or by one exporter and then
  // another, is one series. heldFinding is that series or, while its
  // account has no report at all (reportPresent: the exporter restarting,
  // moving or down), what it held at the previous evaluation, for up to
  // c.findingHoldWindow; the alert (held) reads it.
  recordNames:: {
    instanceFinding: 'instance_finding:aws_iam_credentials:value',
    finding: 'finding:aws_iam_credentials:value',
    heldFinding: 'finding:aws_iam_credentials:held',
    reportPresent: 'account:aws_iam_credential_report:present',
  },

  // findings(c) is the expression of the finding rule: every per-target
  // finding with its key's ID (when --aws.access-key-ids knows it) and its
  // owner labels, by identity. max merges replicas that serve the same
  // account.
  findings(c)::
    local v = {
      raw: $.recordNames.instanceFinding,
      all: $.selector(c.jobSelector),
      target: $.clustered(c, 'job, instance'),
    };
    local withID = |||
      %(raw)s
      * on (%(target)s, account_id, user, key) group_left (access_key_id)
        group by (%(target)s, account_id, user, key, access_key_id) (aws_iam_access_key_info%(all)s)
      or ignoring (access_key_id)
      %(raw)s
    ||| % v;
    'max by (%s) (\n%s\n)\n' % [
      std.join(', ', ['finding'] + c.findingLabels),
      $.indent(std.rstripChars($.withOwner(withID, c), '\n'), 2),
    ],

  // heldFindings(c) is the expression of the held record: every finding
  // by identity now, or, while its account has no report anywhere, the
  // findings held at the previous evaluation, for as long as the account
  // had a report within c.findingHoldWindow. It reads its own previous
  // value, so it holds exactly what was firing when the report went away:
  // a finding fixed before an outage does not come back during it. (The
  // previous value must be within the 5-minute lookback: evaluate the group
  // at least every 4 minutes.)
  //
  // The findings of this evaluation do not count where the report's
  // presence changed during it: where the reportPresent record (evaluated
  // earlier in the group) and the report read again here disagree. A
  // scrape that commits while the group evaluates (a failed one marks the
  // exporter's series stale, a first one adds them) gives the rules between
  // the two reads different views of the data: some findings gone, some
  // computed from half the series. Such an evaluation keeps what was held,
  // instead of ending the alerts or firing one that is not true.
  heldFindings(c)::
    local v = {
      f: $.recordNames.finding,
      held: $.recordNames.heldFinding,
      present: $.recordNames.reportPresent,
      hold: c.findingHoldWindow,
      account: $.clustered(c, 'account_id'),
      now: 'group by (%s) (aws_iam_credential_report_generated_timestamp_seconds%s)' % [self.account, $.selector(c.jobSelector)],
    };
    |||
      (
          %(f)s
        unless on (%(account)s)
          (
            (%(present)s unless on (%(account)s) %(now)s)
            or
            (%(now)s unless on (%(account)s) %(present)s)
          )
      )
      or
      (
          %(held)s
        unless on (%(account)s)
          (%(present)s and on (%(account)s) %(now)s)
        and on (%(account)s)
          max_over_time(%(present)s[%(hold)s])
      )
    ||| % v,

  // held(name, c) is the expression of credential alert `name`.
  held(name, c)::
    'max without (finding) (%s{finding="%s"})\n' % [$.recordNames.heldFinding, name],

  // count(1, 'day') is '1 day', count(90, 'day') '90 days'.
  count(n, unit):: '%s %s%s' % [n, unit, if n == 1 then '' else 's'],

  // last(1, 'hour') is 'hour' ("in the last hour"), last(24, 'hour'),
  // '24 hours'.
  last(n, unit):: if n == 1 then unit else $.count(n, unit),

  // parseDuration('15m') is [15, 'minute']: the simple durations of the
  // config, one number and one unit of s, m, h, d or w.
  parseDuration(d)::
    local units = { s: 'second', m: 'minute', h: 'hour', d: 'day', w: 'week' };
    local unit = d[std.length(d) - 1];
    assert std.objectHas(units, unit) : 'duration %s: want a number and one of s, m, h, d, w' % d;
    [std.parseInt(d[0:std.length(d) - 1]), units[unit]],

  // seconds('1d') is 86400.
  seconds(d)::
    local p = $.parseDuration(d);
    p[0] * { second: 1, minute: 60, hour: 3600, day: 86400, week: 604800 }[p[1]],

  // duration('1h') is 'an hour', duration('6h') '6 hours'.
  duration(d)::
    local p = $.parseDuration(d);
    if p[0] == 1 then (if p[1] == 'hour' then 'an hour' else 'a ' + p[1]) else $.count(p[0], p[1]),

  // lastDuration('1h') is 'hour' ("in the last hour"), lastDuration('6h')
  // '6 hours'.
  lastDuration(d)::
    local p = $.parseDuration(d);
    $.last(p[0], p[1]),

  // indent prefixes each non-empty line of s with n spaces.
  indent(s, n)::
    local pad = std.repeat(' ', n);
    std.join('\n', [if l == '' then l else pad + l for l in std.split(s, '\n')]),

  // fold joins the lines of a text block with single spaces, as a YAML
  // folded scalar (>-) does: descriptions are written on several lines
  // and are one line of text.
  fold(s):: std.join(' ', std.filter(function(l) l != '', std.split(s, '\n'))),
}
