// dashboards/*.json: go tool jsonnet -S -m dashboards render/dashboards.jsonnet
(import '../render.libsonnet').dashboardFiles(import '../mixin.libsonnet')
