{{/*
Names and labels, as `helm create` writes them, with one addition: a release named after the
start of the chart's name ("okta-hris") is not doubled into "okta-hris-okta-hris-operator".
*/}}
{{- define "okta-hris.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "okta-hris.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if or (contains $name .Release.Name) (hasPrefix (printf "%s-" .Release.Name) $name) -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "okta-hris.selectorLabels" -}}
app.kubernetes.io/name: {{ include "okta-hris.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "okta-hris.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "okta-hris.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "okta-hris.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "okta-hris.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* "true" when the operator watches every namespace (and may read Secrets in all of them). */}}
{{- define "okta-hris.clusterwide" -}}
{{- if .Values.clusterWide -}}
{{- if not (empty .Values.watchNamespaces) -}}
{{- fail "clusterWide=true watches every namespace: leave watchNamespaces empty, or set clusterWide=false" -}}
{{- end -}}
true
{{- end -}}
{{- end -}}

{{/*
"true" when the directory is PostgreSQL (a database URL): the replicas share it and peer
through a KopfPeering object. Otherwise the directory is the embedded SQLite file on the
chart's PersistentVolumeClaim, for exactly one replica, run --standalone.
*/}}
{{- define "okta-hris.postgres" -}}
{{- if or .Values.database.existingSecret.name .Values.database.url -}}
true
{{- end -}}
{{- end -}}

{{/* The metrics Service: a Service name is a DNS label, at most 63 characters with the suffix. */}}
{{- define "okta-hris.metricsService" -}}
{{- include "okta-hris.fullname" . | trunc 55 | trimSuffix "-" -}}-metrics
{{- end -}}

{{/* The event hooks receiver's Service (and the Ingress's backend). */}}
{{- define "okta-hris.hooksService" -}}
{{- include "okta-hris.fullname" . | trunc 57 | trimSuffix "-" -}}-hooks
{{- end -}}

{{/* The claim holding the SQLite directory: the chart's own, or database.sqlite.existingClaim. */}}
{{- define "okta-hris.dataClaim" -}}
{{- .Values.database.sqlite.existingClaim | default (printf "%s-data" (include "okta-hris.fullname" .)) -}}
{{- end -}}

{{/*
Combinations values.schema.json cannot express, refused with one line each. Rendered by the
Deployment, so that `helm install`, `upgrade` and `template` all stop before anything is applied.
*/}}
{{- define "okta-hris.validate" -}}
{{- if and .Values.database.existingSecret.name .Values.database.url -}}
{{- fail "set database.existingSecret.name or database.url, not both" -}}
{{- end -}}
{{- if and (gt (int .Values.replicaCount) 1) (not (include "okta-hris.postgres" .)) -}}
{{- fail (printf "replicaCount=%d needs PostgreSQL: the replicas cannot share the embedded SQLite file (each would keep a directory of its own and invite everyone again after a failover). Set database.existingSecret.name to a Secret holding the PostgreSQL URL, or replicaCount=1" (int .Values.replicaCount)) -}}
{{- end -}}
{{- if and .Values.shard.selector (not (include "okta-hris.postgres" .)) -}}
{{- fail "shard.selector needs PostgreSQL: the shards must share one directory, or an integration moved to another shard would start over in that shard's empty SQLite file (and invite everyone again). Set database.existingSecret.name to a Secret holding the PostgreSQL URL" -}}
{{- end -}}
{{- if and .Values.database.url (regexMatch "://[^/@]*:[^/@]*@" .Values.database.url) -}}
{{- fail "database.url must not hold a password (it would be in the Deployment and Helm's release in plain text): put the URL in a Secret and name it in database.existingSecret.name" -}}
{{- end -}}
{{- if and .Values.livenessPort (eq (int .Values.livenessPort) (int .Values.metrics.port)) -}}
{{- fail "livenessPort and metrics.port must differ" -}}
{{- end -}}
{{- $hooksPort := int .Values.eventHooks.port -}}
{{- if or (eq $hooksPort (int .Values.livenessPort)) (eq $hooksPort (int .Values.metrics.port)) -}}
{{- fail "eventHooks.port must differ from livenessPort and metrics.port" -}}
{{- end -}}
{{- if and .Values.eventHooks.ingress.enabled (not .Values.eventHooks.enabled) -}}
{{- fail "eventHooks.ingress.enabled needs eventHooks.enabled=true (the Service it routes to)" -}}
{{- end -}}
{{- if and .Values.eventHooks.ingress.enabled (not .Values.eventHooks.ingress.host) -}}
{{- fail "eventHooks.ingress.host is required: the public name Okta posts to, e.g. hooks.example.com" -}}
{{- end -}}
{{- if and .Values.metrics.prometheusRule.enabled (not .Values.metrics.port) -}}
{{- fail "metrics.prometheusRule.enabled alerts on the operator's metrics: keep metrics.port set" -}}
{{- end -}}
{{- $kubeApi443 := false -}}
{{- range .Values.networkPolicy.kubeApi.ports -}}{{- if eq (int .) 443 -}}{{- $kubeApi443 = true -}}{{- end -}}{{- end -}}
{{- if and .Values.networkPolicy.enabled .Values.networkPolicy.okta.to (not .Values.networkPolicy.kubeApi.to) $kubeApi443 -}}
{{- fail "networkPolicy.okta.to restricts Okta's port 443, but networkPolicy.kubeApi.to is empty and so allows 443 to anywhere: list the API server's addresses in networkPolicy.kubeApi.to" -}}
{{- end -}}
{{- if and .Values.metrics.serviceMonitor.enabled (not (and .Values.metrics.service.enabled .Values.metrics.port)) -}}
{{- fail "metrics.serviceMonitor.enabled scrapes the metrics Service: keep metrics.service.enabled=true and metrics.port set" -}}
{{- end -}}
{{- end -}}

{{/*
Templates name the watched namespaces, when not cluster-wide, as
  $namespaces := .Values.watchNamespaces | default (list .Release.Namespace)
(a helper can return only text).
*/}}

{{/*
What the operator needs on OktaIntegrations, their Secrets and Events. Secrets are only read,
one by name when a sync needs it: `get`, no list or watch, so the operator never receives the
other Secrets of the namespace (Helm's release Secrets, the database URL). rbac.secretNames
narrows that `get` to the Secrets the integrations name.
*/}}
{{- define "okta-hris.rules" -}}
- apiGroups: ["hris.dev"]
  resources: ["oktaintegrations"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["hris.dev"]
  resources: ["oktaintegrations/status"]
  verbs: ["get", "patch"]
- apiGroups: [""]
  resources: ["secrets"]
  {{- with .Values.rbac.secretNames }}
  resourceNames: {{ toJson . }}
  {{- end }}
  verbs: ["get"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end -}}

{{/* The peering object's name: a shard's own (its replicas must not pause another shard's). */}}
{{- define "okta-hris.peeringName" -}}
{{- if .Values.shard.selector -}}
{{- printf "%s-%s" .Values.peering.name .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- .Values.peering.name -}}
{{- end -}}
{{- end -}}

{{/* Kopf's peering object, by name (get, patch) and watched (list, watch): PostgreSQL only. */}}
{{- define "okta-hris.peeringRules" -}}
{{- if include "okta-hris.postgres" . -}}
{{- $resource := "kopfpeerings" -}}
{{- if include "okta-hris.clusterwide" . -}}
{{- $resource = "clusterkopfpeerings" -}}
{{- end -}}
- apiGroups: ["kopf.dev"]
  resources: [{{ $resource | quote }}]
  resourceNames: [{{ include "okta-hris.peeringName" . | quote }}]
  verbs: ["get", "patch"]
- apiGroups: ["kopf.dev"]
  resources: [{{ $resource | quote }}]
  verbs: ["list", "watch"]
{{- end -}}
{{- end -}}
