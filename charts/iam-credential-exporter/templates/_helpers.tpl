{{/* Names, labels and the pod template shared by the Deployment and the StatefulSet. */}}

{{- define "iam-credential-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name: the release name, with the chart's name added unless the
release name already holds it. Kubernetes names are at most 63 characters.
*/}}
{{- define "iam-credential-exporter.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "iam-credential-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "iam-credential-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "iam-credential-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "iam-credential-exporter.labels" -}}
helm.sh/chart: {{ include "iam-credential-exporter.chart" . }}
{{ include "iam-credential-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ include "iam-credential-exporter.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/component: exporter
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The labels of the objects of `helm test`: the release's, without the name
that, with the instance, makes the exporter's selector (a Deployment would
adopt the pod, a ServiceMonitor select the Service).
*/}}
{{- define "iam-credential-exporter.testSelectorLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: test
{{- end }}

{{- define "iam-credential-exporter.testLabels" -}}
helm.sh/chart: {{ include "iam-credential-exporter.chart" . }}
{{ include "iam-credential-exporter.testSelectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "iam-credential-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "iam-credential-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "iam-credential-exporter.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "iam-credential-exporter.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "iam-credential-exporter.imageTag" .) }}
{{- end }}
{{- end }}

{{/* More than one shard runs a StatefulSet. */}}
{{- define "iam-credential-exporter.sharded" -}}
{{- if gt (int .Values.shards) 1 }}true{{ end }}
{{- end }}

{{/* Where the files from ConfigMaps and Secrets are mounted. */}}
{{- define "iam-credential-exporter.configDir" -}}/etc/iam-credential-exporter/config{{- end }}
{{- define "iam-credential-exporter.webDir" -}}/etc/iam-credential-exporter/web{{- end }}
{{- define "iam-credential-exporter.tlsDir" -}}/etc/iam-credential-exporter/tls{{- end }}
{{- define "iam-credential-exporter.exemptionsDir" -}}/etc/iam-credential-exporter/exemptions{{- end }}

{{/*
The ConfigMap that holds the exemptions file under exemptions.key: the
chart's own, rendered from exemptions.entries, or exemptions.existingConfigMap;
empty when there is no exemptions file.
*/}}
{{- define "iam-credential-exporter.exemptionsConfigMap" -}}
{{- $e := .Values.exemptions }}
{{- if and $e.entries $e.existingConfigMap }}
{{- fail "exemptions.entries and exemptions.existingConfigMap: choose one, the exporter reads one exemptions file" }}
{{- end }}
{{- if $e.entries }}
{{- printf "%s-exemptions" (include "iam-credential-exporter.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $e.existingConfigMap }}
{{- end }}
{{- end }}

{{/* The pod template of the Deployment or the StatefulSet. */}}
{{- define "iam-credential-exporter.podTemplate" -}}
{{- $sharded := include "iam-credential-exporter.sharded" . }}
{{- $exemptions := include "iam-credential-exporter.exemptionsConfigMap" . -}}
metadata:
  labels:
    {{- include "iam-credential-exporter.labels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- if or .Values.config .Values.exemptions.entries .Values.podAnnotations }}
  annotations:
    {{- if .Values.config }}
    # Rolls the pods when the config file changes.
    checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
    {{- end }}
    {{- if .Values.exemptions.entries }}
    # Rolls the pods when the exemptions change: the exporter reads its
    # exemptions file only at start. An existingConfigMap has no checksum here.
    checksum/exemptions: {{ include (print $.Template.BasePath "/exemptions-configmap.yaml") . | sha256sum }}
    {{- end }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
spec:
  serviceAccountName: {{ include "iam-credential-exporter.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.serviceAccount.automountToken }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with .Values.podSecurityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  containers:
    - name: exporter
      image: {{ include "iam-credential-exporter.image" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        - --web.listen-address=:9860
        - --web.health-listen-address=:9861
        {{- if .Values.config }}
        - --config.file={{ include "iam-credential-exporter.configDir" . }}/config.yml
        {{- end }}
        {{- if $exemptions }}
        - --exemptions.file={{ include "iam-credential-exporter.exemptionsDir" . }}/{{ .Values.exemptions.key }}
        {{- end }}
        {{- with .Values.exemptions.maxDays }}
        - --exemptions.max-days={{ int . }}
        {{- end }}
        {{- if .Values.webConfig.secretName }}
        - --web.config.file={{ include "iam-credential-exporter.webDir" . }}/{{ .Values.webConfig.key }}
        {{- end }}
        {{- if $sharded }}
        - --shard=$(SHARD)
        - --total-shards={{ int .Values.shards }}
        {{- end }}
        {{- with .Values.awsRegion }}
        - --aws.region={{ . }}
        {{- end }}
        {{- /* The exporter reads the memory limit from its cgroup, whatever unit the limit was given in. */}}
        {{- if gt (int .Values.goMemLimitPercent) 0 }}
        - --auto-gomemlimit.ratio={{ divf (int .Values.goMemLimitPercent) 100 }}
        {{- else }}
        - --no-auto-gomemlimit
        {{- end }}
        - --log.level={{ .Values.logLevel }}
        - --log.format={{ .Values.logFormat }}
        {{- with .Values.extraArgs }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- if or $sharded .Values.extraEnv }}
      env:
        {{- if $sharded }}
        # The pod's ordinal in the StatefulSet, 0 to shards - 1.
        - name: SHARD
          valueFrom:
            fieldRef:
              fieldPath: metadata.labels['apps.kubernetes.io/pod-index']
        {{- end }}
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
      {{- with .Values.extraEnvFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      ports:
        - name: metrics
          containerPort: 9860
          protocol: TCP
        - name: health
          containerPort: 9861
          protocol: TCP
      {{- with .Values.livenessProbe }}
      livenessProbe:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.readinessProbe }}
      readinessProbe:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.securityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if or .Values.config $exemptions .Values.webConfig.secretName .Values.webConfig.tlsSecretName .Values.extraVolumeMounts }}
      volumeMounts:
        {{- if .Values.config }}
        - name: config
          mountPath: {{ include "iam-credential-exporter.configDir" . }}
          readOnly: true
        {{- end }}
        {{- if $exemptions }}
        - name: exemptions
          mountPath: {{ include "iam-credential-exporter.exemptionsDir" . }}
          readOnly: true
        {{- end }}
        {{- if .Values.webConfig.secretName }}
        - name: web-config
          mountPath: {{ include "iam-credential-exporter.webDir" . }}
          readOnly: true
        {{- end }}
        {{- if .Values.webConfig.tlsSecretName }}
        - name: tls
          mountPath: {{ include "iam-credential-exporter.tlsDir" . }}
          readOnly: true
        {{- end }}
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
  {{- if or .Values.config $exemptions .Values.webConfig.secretName .Values.webConfig.tlsSecretName .Values.extraVolumes }}
  volumes:
    {{- if .Values.config }}
    - name: config
      configMap:
        name: {{ include "iam-credential-exporter.fullname" . }}
    {{- end }}
    {{- if $exemptions }}
    - name: exemptions
      configMap:
        name: {{ $exemptions }}
    {{- end }}
    {{- if .Values.webConfig.secretName }}
    - name: web-config
      secret:
        secretName: {{ .Values.webConfig.secretName }}
    {{- end }}
    {{- if .Values.webConfig.tlsSecretName }}
    - name: tls
      secret:
        secretName: {{ .Values.webConfig.tlsSecretName }}
    {{- end }}
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/*
The scrape settings shared by the ServiceMonitor's endpoint and the
PodMonitor's podMetricsEndpoint; called with the monitor's values.
*/}}
{{- define "iam-credential-exporter.scrapeEndpoint" -}}
port: metrics
path: /metrics
{{- with .interval }}
interval: {{ . }}
{{- end }}
{{- with .scrapeTimeout }}
scrapeTimeout: {{ . }}
{{- end }}
{{- with .scheme }}
scheme: {{ . }}
{{- end }}
{{- with .tlsConfig }}
tlsConfig:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .basicAuth }}
basicAuth:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .relabelings }}
relabelings:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .metricRelabelings }}
metricRelabelings:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
TLS and basic auth of the ScrapeConfig, for its scrapes and for each of its
httpSDConfigs; called with the scrapeConfig values.
*/}}
{{- define "iam-credential-exporter.scrapeAuth" -}}
{{- with .tlsConfig }}
tlsConfig:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .basicAuth }}
basicAuth:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
