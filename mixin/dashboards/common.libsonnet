// What the three dashboards share: the values of _config that they say
// (values), the PromQL of ages and owners (promql), the dashboard's frame
// (dashboard) and the variables (variables).
local utils = import '../lib/utils.libsonnet';

// The PromQL that several panels share, for the values v (values below).
// The recording rules keep no series per user, key or certificate (each
// would cost Prometheus about 2 KB), so the panels compute ages and owners
// from the exporter's series. m is the matchers of a selector, without
// braces; every expression is parenthesized, an operand as it stands.
local promql(v) = {
  // The picked cluster (with showMultiCluster), jobs and accounts, and the
  // same without the root user.
  sel: v.jobSel + ',account_id=~"$account_id"',
  notRoot: self.sel + ',user!="<root_account>"',

  // The seconds and flags per credential that the alerts compare
  // (utils.credential), over the selector with matchers m ...
  local credential(m) = utils.credential({ jobSelector: '' }, [m]),
  keyAge(m):: credential(m).keyAge,
  keyUnused(m):: utils.paren(credential(m).keyUnused),
  keyIdle(m):: credential(m).keyIdle,
  passwordIdle(m):: credential(m).passwordIdle,
  consoleUserMFA(m):: credential(m).consoleUserMFA,

  // ... and the compliance of each, 1 if it meets the policy and 0 if not,
  // as the account:*:ratio and owner:*:ratio rules average it: active
  // access keys created or rotated within days, and active access keys and
  // console passwords used (or, never used, created) within days
  // (key="password" for a password). Keys whose use the report cannot state
  // are left out.
  keyRotated(m, days):: '(%s <= bool %s * 86400)' % [self.keyAge(m), days],
  credentialUsed(m, days):: '(%s < bool %s * 86400 or label_replace(%s < bool %s * 86400, "key", "password", "", ""))' % [self.keyIdle(m), days, self.passwordIdle(m), days],

  // owners(m) is one series of value 1 per user of the report, labelled
  // with its tag_owner and tag_team: the user's tags (--aws.user-tags) when
  // it has an aws_iam_user_tags series, else its account's
  // (--aws.account-tags), else none, as the alerts' owner labels. With team
  // (the default), only the users whose team the team variable picks: its
  // All (.*) also matches the users without one, whose missing tag_team
  // is empty to a matcher. The three cases are disjoint, so a user is
  // never counted twice; the matchers of user go on the per-user series
  // only (aws_iam_account_tags has no user).
  owners(m, user='', team=true)::
    local um = if user == '' then m else m + ',' + user;
    local t = if team then ',tag_team=~"$team"' else '';
    local w = { um: um, m: m, t: t, target: v.target };
    std.join(' ', [
      '(group by (%(target)s, account_id, user, tag_owner, tag_team) (aws_iam_user_tags{%(um)s%(t)s})' % w,
      'or group by (%(target)s, account_id, user) (aws_iam_user_info{%(um)s} unless on (%(target)s, account_id, user) aws_iam_user_tags{%(um)s}) * on (%(target)s, account_id) group_left (tag_owner, tag_team) aws_iam_account_tags{%(m)s%(t)s}' % w,
      'or group by (%(target)s, account_id, user) (aws_iam_user_info{%(um)s%(t)s} unless on (%(target)s, account_id, user) aws_iam_user_tags{%(um)s} unless on (%(target)s, account_id) aws_iam_account_tags{%(m)s}))' % w,
    ]),

  // inTeam(m) keeps the series of an expression about users (with
  // account_id and user) whose team the team variable picks.
  inTeam(m):: 'and on (account_id, user) %s' % self.owners(m),

  // withOwner(m) adds the tag_owner and tag_team columns to an expression
  // about users, and keeps those of the picked teams; topk picks one owner
  // series when two exporters read the same account.
  withOwner(m):: '* on (account_id, user) group_left (tag_owner, tag_team) topk by (account_id, user) (1, %s)' % self.owners(m),
};

// The account picker lists "name (ID)", or the ID alone, from
// aws_iam_account_info; its regex takes the value (the ID) and the text.
local accountDisplayOf(v) = 'label_replace(label_replace(label_join(max by (account_id, name) (aws_iam_account_info{%s}), "display", " (", "name", "account_id"), "display", "$1", "display", " \\\\((.+)"), "display", "$1 ($2)", "display", "(.+) \\\\((.+)")' % v.jobSel;

{
  promql:: promql,

  // values is _config and what the dashboards derive from it: the queries,
  // colours and texts format their thresholds with it (`'...' % v`).
  values(c):: c {
    local v = self,
    // With showMultiCluster, the cluster variable's matcher, first in every
    // selector of the exporter's series, of ALERTS and of the recorded
    // series; and the target labels that the joins on a target match on.
    clusterSel: if c.showMultiCluster then '%s=~"$cluster",' % c.clusterLabel else '',
    jobSel: self.clusterSel + 'job=~"$job"',
    target: utils.clustered(c, 'job, instance'),
    jobBy: utils.clustered(c, 'job'),
    // The URL parameters that carry the picked cluster and jobs to a
    // linked dashboard.
    urlVars: (if c.showMultiCluster then '&${cluster:queryparam}' else '') + '&${job:queryparam}',
    keyRotationDueDays: c.keyRotationDays - c.keyRotationWarningDays,
    // The key-age distribution: 0 to keyAgeFirstBucketDays, then from the
    // next day to the start of the warning period, then the warning
    // period, then over the limit.
    keyAgeMiddleFirstDay: c.keyAgeFirstBucketDays + 1,
    keyAgeDueFirstDay: v.keyRotationDueDays + 1,
    oldKeyGraceSeconds: c.oldKeyGraceDays * 86400,
    rootRecentUseSeconds: c.rootRecentUseHours * 3600,
    reportAgeSeconds: c.reportAgeHours * 3600,
    uidPrefix: c.dashboardUIDPrefix,
    keyRotation: utils.count(c.keyRotationDays, 'day'),
    keyRotationWarning: utils.count(c.keyRotationWarningDays, 'day'),
    unused: utils.count(c.unusedDays, 'day'),
    exemptionNotice: utils.count(c.exemptionNoticeDays, 'day'),
    reportAge: utils.count(c.reportAgeHours, 'hour'),
    discoveryFailing: utils.duration(c.discoveryFailingFor),
  },

  // dashboard is a whole dashboard: importable as is (id null, no
  // __inputs; the data source is a variable), linked to the others by the
  // link tag.
  dashboard(v, uid, title, description, variables, panels):: {
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
      ],
    },
    description: description,
    editable: true,
    fiscalYearStartMonth: 0,
    graphTooltip: 1,
    id: null,
    links: [
      {
        type: 'dashboards',
        tags: [v.dashboardLinkTag],
        asDropdown: false,
        includeVars: true,
        keepTime: true,
        targetBlank: false,
        title: v.dashboardTitlePrefix,
        icon: 'external link',
        tooltip: '',
      },
    ],
    // Tables hide the job and instance columns; with showMultiCluster, the
    // cluster's too.
    local hideCluster(t) =
      if v.showMultiCluster && t.id == 'organize' && std.objectHas(t.options.excludeByName, 'job')
      then t { options+: { excludeByName+: { [v.clusterLabel]: true } } }
      else t,
    panels: [
      p + (if std.objectHas(p, 'transformations') then { transformations: std.map(hideCluster, p.transformations) } else {})
      for p in panels
    ],
    refresh: v.dashboardRefresh,
    schemaVersion: 42,
    tags: v.dashboardTags,
    templating: { list: variables },
    time: { from: 'now-7d', to: 'now' },
    timepicker: {},
    timezone: v.dashboardTimezone,
    title: v.dashboardTitlePrefix + ' / ' + title,
    uid: v.dashboardUIDPrefix + uid,
    version: 1,
    weekStart: '',
  },

  variables:: {
    datasource: {
      name: 'datasource',
      label: 'Data source',
      type: 'datasource',
      query: 'prometheus',
      current: {},
      hide: 0,
      includeAll: false,
      multi: false,
      options: [],
      refresh: 1,
      regex: '',
      skipUrlSync: false,
    },

    // cluster lists the values of clusterLabel on the exporters that
    // jobSelector picks. Shown with showMultiCluster, and then in every
    // selector; hidden, and read by no query, without. All (.*) also
    // matches series without the label.
    cluster(v):: {
      local clusters = 'label_values(iam_credential_exporter_build_info%s, %s)' % [utils.selector(v.jobSelector), v.clusterLabel],
      name: 'cluster',
      label: 'Cluster',
      type: 'query',
      datasource: { type: 'prometheus', uid: '${datasource}' },
      definition: clusters,
      query: {
        qryType: 1,
        query: clusters,
        refId: 'PrometheusVariableQueryEditor-VariableQuery',
      },
      refresh: 2,
      regex: '',
      sort: 1,
      hide: if v.showMultiCluster then 0 else 2,
      options: [],
      skipUrlSync: false,
      multi: true,
      includeAll: true,
      allValue: '.*',
      current: { selected: true, text: ['All'], value: ['$__all'] },
      description: 'The clusters (label %s) whose exporters the dashboard reads.' % v.clusterLabel,
    },

    // job lists the jobs of the exporters that jobSelector picks (in the
    // picked clusters).
    job(v):: {
      local jobs = 'label_values(iam_credential_exporter_build_info%s, job)' %
                   utils.selector(v.jobSelector, if v.showMultiCluster then ['%s=~"$cluster"' % v.clusterLabel] else []),
      name: 'job',
      label: 'Job',
      type: 'query',
      datasource: { type: 'prometheus', uid: '${datasource}' },
      definition: jobs,
      query: {
        qryType: 1,
        query: jobs,
        refId: 'PrometheusVariableQueryEditor-VariableQuery',
      },
      refresh: 2,
      regex: '',
      sort: 1,
      hide: 0,
      options: [],
      skipUrlSync: false,
      multi: true,
      includeAll: true,
      allValue: '.+',
      current: { selected: true, text: ['All'], value: ['$__all'] },
    },

    account(v):: {
      local accountDisplay = accountDisplayOf(v),
      name: 'account_id',
      label: 'Account',
      type: 'query',
      datasource: { type: 'prometheus', uid: '${datasource}' },
      definition: 'query_result(%s)' % accountDisplay,
      query: {
        qryType: 3,
        query: 'query_result(%s)' % accountDisplay,
        varQuery: accountDisplay,
        refId: 'PrometheusVariableQueryEditor-VariableQuery',
      },
      refresh: 2,
      regex: '/account_id="(?<value>[^"]+)".*display="(?<text>[^"]+)"/',
      sort: 1,
      hide: 0,
      options: [],
      skipUrlSync: false,
      multi: true,
      includeAll: true,
      allValue: '.+',
      current: { selected: true, text: ['All'], value: ['$__all'] },
      description: 'AWS accounts by name (from AWS Organizations or the config file) and ID; accounts without a name show their ID. Filters on account_id.',
    },

    // team lists the teams of the users of the picked accounts, as the
    // panels join them (promql.owners); its regex drops the users without
    // a team, whom All (.*) keeps.
    team(v):: {
      local q = promql(v),
      local teams = 'group by (tag_team) %s' % q.owners(q.sel, team=false),
      name: 'team',
      label: 'Team',
      type: 'query',
      datasource: { type: 'prometheus', uid: '${datasource}' },
      definition: 'query_result(%s)' % teams,
      query: {
        qryType: 3,
        query: 'query_result(%s)' % teams,
        varQuery: teams,
        refId: 'PrometheusVariableQueryEditor-VariableQuery',
      },
      refresh: 2,
      regex: '/tag_team="([^"]+)"/',
      sort: 1,
      hide: 0,
      options: [],
      skipUrlSync: false,
      multi: true,
      includeAll: true,
      allValue: '.*',
      current: { selected: true, text: ['All'], value: ['$__all'] },
      description: "Teams: the tag_team label of the users' tags, else of their account's tags (--aws.user-tags, --aws.account-tags), as the alerts carry it. All includes the users without a team; picking teams shows only their users. Filters the per-user panels.",
    },
  },
}
