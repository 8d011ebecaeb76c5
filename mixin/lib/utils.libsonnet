// Helpers that the rules, the alerts and the dashboards share: selectors
// built from the job selector, and threshold numbers in words.
{
  // selector(jobSelector, ['user!="<root_account>"']) is the label
  // selector of an exporter metric: the job selector and the given
  // matchers, or nothing at all when both are empty, so that an empty job
  // selector leaves `metric` as it is.
  selector(jobSelector, matchers=[])::
    local all = std.filter(function(m) m != '', [jobSelector] + matchers);
    if all == [] then '' else '{%s}' % std.join(', ', all),

  // The names of the compliance recording rules, which say their threshold
  // (rotated_90d, used_45d), so a 60-day policy records rotated_60d.
  ruleNames(c):: {
    keysRotated: 'account_user_key:aws_iam_access_key_rotated_%sd:bool' % c.keyRotationDays,
    keysRotatedAccount: 'account:aws_iam_access_keys_rotated_%sd:ratio' % c.keyRotationDays,
    keysRotatedOwner: 'owner:aws_iam_access_keys_rotated_%sd:ratio' % c.keyRotationDays,
    credentialsUsed: 'account_user_credential:aws_iam_credential_used_%sd:bool' % c.unusedDays,
    credentialsUsedAccount: 'account:aws_iam_credentials_used_%sd:ratio' % c.unusedDays,
    credentialsUsedOwner: 'owner:aws_iam_credentials_used_%sd:ratio' % c.unusedDays,
  },

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
