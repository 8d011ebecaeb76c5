// The monitoring mixin of iam_credential_exporter: _config (config.libsonnet),
// prometheusRules, prometheusAlerts and grafanaDashboards built from it.
// alerts/ and dashboards/ at the top of the repository are its rendered
// output (`make mixin`; render.libsonnet says how).
(import 'config.libsonnet') +
(import 'rules.libsonnet') +
(import 'alerts.libsonnet') +
(import 'dashboards.libsonnet')
