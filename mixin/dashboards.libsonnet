// The Grafana dashboards (grafanaDashboards), by file name. They compute
// ages and owners from the exporter's series, and read the per-account and
// per-team recording rules of rules.libsonnet (compliance shares, findings,
// report and root ages, the rotation workflow), so load those where the
// dashboards' data source reads from.
local common = import 'dashboards/common.libsonnet';

{
  grafanaDashboards+:: {
    local c = $._config,
    local v = common.values(c),

    // The per-user panels and tables join and show these two labels.
    assert std.member(c.ownerLabels, 'tag_team') && std.member(c.ownerLabels, 'tag_owner') :
           'the dashboards read tag_team and tag_owner: keep both in _config.ownerLabels',
    assert std.member(c.dashboardTags, c.dashboardLinkTag) :
           '_config.dashboardLinkTag must be one of _config.dashboardTags, or the dashboards do not link to each other',

    'iam-credentials-overview.json': (import 'dashboards/overview.libsonnet')(v),
    'iam-credentials-access-keys.json': (import 'dashboards/access-keys.libsonnet')(v),
    'iam-credentials-user.json': (import 'dashboards/user.libsonnet')(v),
  },
}
