// alerts/iam_credential_exporter.rules.yml: go tool jsonnet -S render/rules.jsonnet
(import '../render.libsonnet').rulesFile(import '../mixin.libsonnet')
