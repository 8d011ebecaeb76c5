// What the three dashboards share: the values of _config that they say
// (values), the dashboard's frame (dashboard) and the variables
// (variables).
local utils = import '../lib/utils.libsonnet';

// The account picker lists "name (ID)", or the ID alone, from
// aws_iam_account_info; its regex takes the value (the ID) and the text.
local accountDisplay = 'label_replace(label_replace(label_join(max by (account_id, name) (aws_iam_account_info{job=~"$job"}), "display", " (", "name", "account_id"), "display", "$1", "display", " \\\\((.+)"), "display", "$1 ($2)", "display", "(.+) \\\\((.+)")';

{
  // values is _config and what the dashboards derive from it: the queries,
  // colours and texts format their thresholds with it (`'...' % v`).
  values(c):: c {
    local v = self,
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
    panels: panels,
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

    // job lists the jobs of the exporters that jobSelector picks.
    job(v):: {
      local jobs = 'label_values(iam_credential_exporter_build_info%s, job)' % utils.selector(v.jobSelector),
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

    account: {
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

    team: {
      name: 'team',
      label: 'Team',
      type: 'query',
      datasource: { type: 'prometheus', uid: '${datasource}' },
      definition: 'label_values(account_user:aws_iam_user_owner:info{job=~"$job",account_id=~"$account_id"}, tag_team)',
      query: {
        qryType: 1,
        query: 'label_values(account_user:aws_iam_user_owner:info{job=~"$job",account_id=~"$account_id"}, tag_team)',
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
      allValue: '.*',
      current: { selected: true, text: ['All'], value: ['$__all'] },
      description: "Teams: the tag_team label of account_user:aws_iam_user_owner:info, the user's team tag or else its account's (--aws.user-tags, --aws.account-tags). All includes the users without a team; picking teams shows only their users. Filters the per-user panels.",
    },
  },
}
