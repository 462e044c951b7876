{{/* Names and labels. */}}
{{- define "okta-hris.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "okta-hris.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
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

{{/* "true" when the operator watches every namespace (and reads every Secret). */}}
{{- define "okta-hris.clusterwide" -}}
{{- if .Values.clusterWide -}}
{{- if not (empty .Values.watchNamespaces) -}}
{{- fail "clusterWide=true watches every namespace: leave watchNamespaces empty, or set clusterWide=false" -}}
{{- end -}}
true
{{- end -}}
{{- end -}}

{{/*
Templates name the watched namespaces, when not cluster-wide, as
  $namespaces := .Values.watchNamespaces | default (list .Release.Namespace)
(a helper can return only text).
*/}}

{{/*
The permissions the operator needs on OktaIntegrations, their Secrets and Events. Secrets are
only read: get (the token at sync time), list and watch (to notice a created or rotated one).
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
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end -}}
