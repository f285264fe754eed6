{{- define "stream-align.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "stream-align.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
{{- end -}}

{{- define "stream-align.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The image reference: by digest when one is given (reproducible), else by tag. */}}
{{- define "stream-align.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/*
One TOML value. Tables nested inside a section (e.g. codec.schema_ids) become inline tables with
quoted keys (avro names hold dots), lists become arrays, strings JSON-escaped basic strings
(valid TOML); null settings are left out by the caller (TOML has no null).
*/}}
{{- define "stream-align.toml" -}}
{{- $kind := kindOf . -}}
{{- if eq $kind "map" -}}
{{ "{" }}{{ range $i, $k := keys . | sortAlpha }}{{ if $i }}, {{ end }}{{ $k | toJson }} = {{ include "stream-align.toml" (index $ $k) }}{{ end }}{{ "}" }}
{{- else if eq $kind "slice" -}}
[{{ range $i, $v := . }}{{ if $i }}, {{ end }}{{ include "stream-align.toml" $v }}{{ end }}]
{{- else if eq $kind "string" -}}
{{ . | toJson }}
{{- else if eq $kind "bool" -}}
{{ ternary "true" "false" . }}
{{- else if or (eq $kind "float64") (eq $kind "int64") (eq $kind "int") -}}
{{- if and (eq $kind "float64") (eq (floor .) .) (lt (float64 .) 9007199254740992.0) (gt (float64 .) -9007199254740992.0) -}}
{{ int64 . }}
{{- else -}}
{{ . | toJson }}
{{- end -}}
{{- else -}}
{{ fail (printf "config: cannot render a %s as TOML" $kind) }}
{{- end -}}
{{- end -}}

{{/* Refuse what cannot work, with a message that says what to do. */}}
{{- define "stream-align.validate" -}}
{{- if not (or .Values.model.existingClaim .Values.model.volume) -}}
{{- fail "model.existingClaim (or model.volume) is required: stream-align needs a trained model (`stream-align train`) mounted read-only; see README, Operations" -}}
{{- end -}}
{{- if gt (int .Values.replicas) 1 -}}
{{- fail (printf "replicas: %d is not supported: one replica aligns the whole pair of graphs (one global matching, both graphs in memory); more would split the input partitions and so the graphs. Use replicas: 1 (0 pauses the service); see docs/decisions/0009" (int .Values.replicas)) -}}
{{- end -}}
{{- end -}}

{{/* The environment of every container: settings the chart owns, then the user's. */}}
{{- define "stream-align.env" -}}
env:
  - name: STREAM_ALIGN_STORE__PATH
    value: {{ .Values.state.mountPath | quote }}
  - name: STREAM_ALIGN_RUNNER__MODEL_PATH
    value: {{ .Values.model.mountPath | quote }}
  # Static membership: a restarted pod takes its partitions back without a rebalance.
  - name: STREAM_ALIGN_KAFKA__GROUP_INSTANCE_ID
    valueFrom: {fieldRef: {fieldPath: metadata.name}}
  {{- with .Values.env }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- if .Values.existingSecret }}
envFrom:
  - secretRef: {name: {{ .Values.existingSecret | quote }}}
{{- end }}
{{- end -}}
