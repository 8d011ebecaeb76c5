// How the mixin becomes the files of alerts/ and dashboards/. `make mixin`
// runs render/rules.jsonnet and render/dashboards.jsonnet; to render with
// your own settings, pass these functions the mixin with your _config:
//
//   local render = import 'render.libsonnet';
//   render.rulesFile((import 'mixin.libsonnet') + { _config+:: { keyRotationDays: 60 } })
//
// Both write with the standard library only (std.manifestYamlDoc,
// std.manifestJsonEx), so that go-jsonnet and Debian's jsonnet 0.18 give
// the same bytes; e2e/mixin_test.go compares them.

{
  // rulesFile is the rule file alerts/iam_credential_exporter.rules.yml:
  // one group with the recording rules and then the alerts. Rules read
  // what earlier rules recorded in the same evaluation, so the recording
  // rules come first; alerts that read them see this evaluation's values.
  rulesFile(mixin)::
    local c = mixin._config;
    local rules = std.flattenArrays([g.rules for g in mixin.prometheusRules.groups]);
    local alerts = std.flattenArrays([g.rules for g in mixin.prometheusAlerts.groups]);
    |||
      # Recording and alerting rules for iam_credential_exporter.
      #
      # Generated from mixin/ by `make mixin`: do not edit by hand. The
      # thresholds are in mixin/config.libsonnet; the rules, with comments
      # that say why, in mixin/rules.libsonnet and mixin/alerts.libsonnet.
      #
      # Plain Prometheus rule file. The `groups:` list below can also be pasted
      # as-is under `spec:` of a prometheus-operator PrometheusRule.
      # How to load this file: alerts/README.md. What to do when an alert
      # fires: docs/runbook.md (one section per alert).
    ||| + std.manifestYamlDoc(
      { groups: [{ name: c.ruleGroupName, rules: rules + alerts }] },
      indent_array_in_object=true,
      quote_keys=false,
    ) + '\n',

  // dashboardFiles maps each file name of dashboards/ to its JSON text.
  dashboardFiles(mixin):: {
    [name]: std.manifestJsonEx(mixin.grafanaDashboards[name], '  ') + '\n'
    for name in std.objectFields(mixin.grafanaDashboards)
  },
}
