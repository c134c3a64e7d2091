{{/* Names, labels, derived settings and the validation of contradictory values. */}}

{{- define "nuget-proxy.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "nuget-proxy.fullname" -}}
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

{{- define "nuget-proxy.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "nuget-proxy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nuget-proxy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of a helper pod (test, import Job): never matched by the Service, PDB or NetworkPolicy selectors. */}}
{{- define "nuget-proxy.componentLabels" -}}
app.kubernetes.io/name: {{ include "nuget-proxy.name" .root }}-{{ .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "nuget-proxy.labels" -}}
helm.sh/chart: {{ include "nuget-proxy.chart" . }}
{{ include "nuget-proxy.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "nuget-proxy.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "nuget-proxy.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "nuget-proxy.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The base URL clients use: config.publicUrl, else the first ingress host (https when a TLS entry names it). */}}
{{- define "nuget-proxy.publicUrl" -}}
{{- if .Values.config.publicUrl }}
{{- .Values.config.publicUrl | trimSuffix "/" }}
{{- else if and .Values.ingress.enabled .Values.ingress.hosts }}
{{- $first := first .Values.ingress.hosts }}
{{- $scheme := "http" }}
{{- range .Values.ingress.tls }}
{{- if has $first.host (.hosts | default list) }}{{ $scheme = "https" }}{{ end }}
{{- end }}
{{- $path := "" }}
{{- with $first.paths }}{{ $path = (first .).path | default "/" | trimSuffix "/" }}{{ end }}
{{- printf "%s://%s%s" $scheme $first.host $path }}
{{- end }}
{{- end }}

{{/* "true" when every pod mounts the same claim. */}}
{{- define "nuget-proxy.sharedClaim" -}}
{{- if eq .Values.persistence.type "pvc" }}true{{ end }}
{{- end }}

{{/* "true" when several pods can run at once: a per-pod cache, or a ReadWriteMany claim. */}}
{{- define "nuget-proxy.volumeAllowsReplicas" -}}
{{- if or (ne .Values.persistence.type "pvc") (eq .Values.persistence.accessMode "ReadWriteMany") }}true{{ end }}
{{- end }}

{{- define "nuget-proxy.claimName" -}}
{{- default (printf "%s-cache" (include "nuget-proxy.fullname" .)) .Values.persistence.existingClaim }}
{{- end }}

{{/* The port of an http(s) URL, explicit or implied by the scheme; "" for an empty string. */}}
{{- define "nuget-proxy.urlPort" -}}
{{- if . }}
{{- $hostport := regexReplaceAll "^[A-Za-z][A-Za-z0-9+.-]*://([^@/]*@)?([^/?#]*).*$" . "${2}" }}
{{- $port := regexFind ":[0-9]+$" $hostport | trimPrefix ":" }}
{{- if $port }}{{ $port }}{{ else if hasPrefix "https:" (lower .) }}443{{ else }}80{{ end }}
{{- end }}
{{- end }}

{{- define "nuget-proxy.hasCredentials" -}}
{{- if regexMatch "^[A-Za-z][A-Za-z0-9+.-]*://[^/@]+@" . }}true{{ end }}
{{- end }}

{{/* Secret data the chart manages itself (empty with existingSecret). Keys are environment variable names. */}}
{{- define "nuget-proxy.secretData" -}}
{{- if not .Values.existingSecret }}
{{- with .Values.upstreamCredentials.username }}
NUGET_PROXY_UPSTREAM_USERNAME: {{ . | quote }}
{{- end }}
{{- with .Values.upstreamCredentials.password }}
NUGET_PROXY_UPSTREAM_PASSWORD: {{ . | quote }}
{{- end }}
{{- with .Values.upstreamCredentials.token }}
NUGET_PROXY_UPSTREAM_TOKEN: {{ . | quote }}
{{- end }}
{{- with .Values.upstreamCredentials.header }}
NUGET_PROXY_UPSTREAM_HEADER: {{ . | quote }}
{{- end }}
{{- if .Values.redis.enabled }}
NUGET_PROXY_REDIS_URL: {{ .Values.redis.url | quote }}
{{- end }}
{{- if include "nuget-proxy.hasCredentials" .Values.egress.httpsProxy }}
HTTPS_PROXY: {{ .Values.egress.httpsProxy | quote }}
{{- end }}
{{- if include "nuget-proxy.hasCredentials" .Values.egress.httpProxy }}
HTTP_PROXY: {{ .Values.egress.httpProxy | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* The Secret the pods read: existingSecret, the chart's own, or none. */}}
{{- define "nuget-proxy.secretName" -}}
{{- if .Values.existingSecret }}
{{- .Values.existingSecret }}
{{- else if include "nuget-proxy.secretData" . | trim }}
{{- include "nuget-proxy.fullname" . }}
{{- end }}
{{- end }}

{{/* An option value as the proxy parses it: whole numbers without exponent notation. */}}
{{- define "nuget-proxy.envValue" -}}
{{- if or (kindIs "float64" .) (kindIs "int64" .) (kindIs "int" .) }}
{{- . | int64 | toString }}
{{- else }}
{{- . | toString }}
{{- end }}
{{- end }}

{{- define "nuget-proxy.shutdownSeconds" -}}
{{- $ms := .Values.config.shutdownTimeoutMs | default 20000 | int64 }}
{{- div (add $ms 999) 1000 }}
{{- end }}

{{/* Always larger than the proxy's own drain deadline, so the kubelet never kills a draining pod. */}}
{{- define "nuget-proxy.terminationGracePeriodSeconds" -}}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds }}
{{- add (include "nuget-proxy.shutdownSeconds" . | int64) (.Values.preStopSleepSeconds | int64) 5 }}
{{- else }}
{{- .Values.terminationGracePeriodSeconds | int64 }}
{{- end }}
{{- end }}

{{- define "nuget-proxy.strategy" -}}
{{- if include "nuget-proxy.volumeAllowsReplicas" . }}
type: RollingUpdate
rollingUpdate:
  maxSurge: 25%
  maxUnavailable: 0
{{- else }}
{{- /* One ReadWriteOnce volume: the old pod must release it before the new one can mount it. */}}
type: Recreate
{{- end }}
{{- end }}

{{/*
Contradictory values: every problem is collected and reported at once, like the proxy's own configuration.
*/}}
{{- define "nuget-proxy.validate" -}}
{{- $errors := list }}
{{- $v := .Values }}
{{- $replicasOk := include "nuget-proxy.volumeAllowsReplicas" . }}
{{- if and (gt (int $v.replicaCount) 1) (not $v.autoscaling.enabled) }}
{{- if not $v.redis.enabled }}
{{- $errors = append $errors "replicaCount > 1 needs redis.enabled=true: replicas share metadata through Redis" }}
{{- end }}
{{- if not $replicasOk }}
{{- $errors = append $errors "replicaCount > 1 cannot share a ReadWriteOnce cache volume: use persistence.accessMode=ReadWriteMany (or an RWX existingClaim), or persistence.type=emptyDir/ephemeral for a cache per pod" }}
{{- end }}
{{- end }}
{{- if $v.autoscaling.enabled }}
{{- if not $v.redis.enabled }}
{{- $errors = append $errors "autoscaling.enabled needs redis.enabled=true: replicas share metadata through Redis" }}
{{- end }}
{{- if not $replicasOk }}
{{- $errors = append $errors "autoscaling.enabled cannot share a ReadWriteOnce cache volume: use persistence.accessMode=ReadWriteMany, or persistence.type=emptyDir/ephemeral" }}
{{- end }}
{{- if gt (int $v.autoscaling.minReplicas) (int $v.autoscaling.maxReplicas) }}
{{- $errors = append $errors "autoscaling.minReplicas must not exceed autoscaling.maxReplicas" }}
{{- end }}
{{- if and (not $v.autoscaling.targetCPUUtilizationPercentage) (not $v.autoscaling.targetMemoryUtilizationPercentage) }}
{{- $errors = append $errors "autoscaling.enabled needs targetCPUUtilizationPercentage or targetMemoryUtilizationPercentage" }}
{{- end }}
{{- end }}
{{- if $v.ingress.enabled }}
{{- $hosts := list }}
{{- range $v.ingress.hosts }}{{ $hosts = append $hosts .host }}{{ end }}
{{- if and $v.ingress.tls (not $hosts) }}
{{- $errors = append $errors "ingress.tls needs ingress.hosts: a certificate is selected by host name" }}
{{- end }}
{{- range $i, $t := $v.ingress.tls }}
{{- if not $t.hosts }}
{{- $errors = append $errors (printf "ingress.tls[%d] has no hosts: list the ingress host names its certificate covers" $i) }}
{{- end }}
{{- range $t.hosts }}
{{- if and $hosts (not (has . $hosts)) }}
{{- $errors = append $errors (printf "ingress.tls[%d] names host %s that is not in ingress.hosts" $i .) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- if $v.existingSecret }}
{{- $inline := list }}
{{- range $k := list "username" "password" "token" "header" }}
{{- if index $v.upstreamCredentials $k }}{{ $inline = append $inline (printf "upstreamCredentials.%s" $k) }}{{ end }}
{{- end }}
{{- if $v.redis.url }}{{ $inline = append $inline "redis.url" }}{{ end }}
{{- if include "nuget-proxy.hasCredentials" $v.egress.httpsProxy }}{{ $inline = append $inline "egress.httpsProxy (with user:password)" }}{{ end }}
{{- if include "nuget-proxy.hasCredentials" $v.egress.httpProxy }}{{ $inline = append $inline "egress.httpProxy (with user:password)" }}{{ end }}
{{- if $inline }}
{{- $errors = append $errors (printf "existingSecret=%s and inline credentials (%s) are both set: put them into the existing Secret, or drop existingSecret" $v.existingSecret (join ", " $inline)) }}
{{- end }}
{{- else }}
{{- if and $v.redis.enabled (not $v.redis.url) }}
{{- $errors = append $errors "redis.enabled needs redis.url (or existingSecret with the key NUGET_PROXY_REDIS_URL)" }}
{{- end }}
{{- if and $v.upstreamCredentials.username (not $v.upstreamCredentials.password) }}
{{- $errors = append $errors "upstreamCredentials.username needs upstreamCredentials.password" }}
{{- end }}
{{- if and $v.upstreamCredentials.password (not $v.upstreamCredentials.username) }}
{{- $errors = append $errors "upstreamCredentials.password needs upstreamCredentials.username" }}
{{- end }}
{{- if and $v.upstreamCredentials.token $v.upstreamCredentials.username }}
{{- $errors = append $errors "use either upstreamCredentials.token or upstreamCredentials.username/password, not both" }}
{{- end }}
{{- end }}
{{- if and $v.redis.url (not $v.redis.enabled) }}
{{- $errors = append $errors "redis.url is set but redis.enabled is false" }}
{{- end }}
{{- if and (ne $v.persistence.type "pvc") $v.persistence.existingClaim }}
{{- $errors = append $errors (printf "persistence.existingClaim is set but persistence.type is %s (use type pvc)" $v.persistence.type) }}
{{- end }}
{{- if not (kindIs "invalid" $v.terminationGracePeriodSeconds) }}
{{- $needed := add (include "nuget-proxy.shutdownSeconds" . | int64) ($v.preStopSleepSeconds | int64) }}
{{- if le (int64 $v.terminationGracePeriodSeconds) $needed }}
{{- $errors = append $errors (printf "terminationGracePeriodSeconds=%d must be greater than preStopSleepSeconds + config.shutdownTimeoutMs (%d s), or the kubelet kills the proxy while it drains" (int64 $v.terminationGracePeriodSeconds) $needed) }}
{{- end }}
{{- end }}
{{- if $v.bundleImport.enabled }}
{{- $b := $v.bundleImport }}
{{- if and $b.url $b.volume }}
{{- $errors = append $errors "bundleImport: set either bundleImport.volume or bundleImport.url, not both" }}
{{- else if and (not $b.url) (not $b.volume) }}
{{- $errors = append $errors "bundleImport.enabled needs bundleImport.volume (a volume holding the bundle) or bundleImport.url" }}
{{- end }}
{{- if and (eq $b.mode "job") (ne $v.persistence.type "pvc") }}
{{- $errors = append $errors (printf "bundleImport.mode=job cannot fill a per-pod cache (persistence.type=%s): use bundleImport.mode=initContainer" $v.persistence.type) }}
{{- else if and (eq $b.mode "job") (ne $v.persistence.accessMode "ReadWriteMany") }}
{{- $errors = append $errors "bundleImport.mode=job needs a ReadWriteMany cache volume (the Job and the proxy mount it at once): use bundleImport.mode=initContainer" }}
{{- end }}
{{- end }}
{{- if $v.podDisruptionBudget.enabled }}
{{- $p := $v.podDisruptionBudget }}
{{- if and (not (kindIs "invalid" $p.minAvailable)) (not (kindIs "invalid" $p.maxUnavailable)) }}
{{- $errors = append $errors "podDisruptionBudget: set either minAvailable or maxUnavailable, not both" }}
{{- end }}
{{- $replicas := ternary (int $v.autoscaling.minReplicas) (int $v.replicaCount) (eq $v.autoscaling.enabled true) }}
{{- $blocks := false }}
{{- if and (not (kindIs "invalid" $p.minAvailable)) (not (kindIs "string" $p.minAvailable)) (ge (int $p.minAvailable) $replicas) }}{{ $blocks = true }}{{ end }}
{{- if and (not (kindIs "invalid" $p.maxUnavailable)) (not (kindIs "string" $p.maxUnavailable)) (eq (int $p.maxUnavailable) 0) }}{{ $blocks = true }}{{ end }}
{{- if $blocks }}
{{- $errors = append $errors (printf "podDisruptionBudget would block every voluntary eviction with %d replica(s): lower minAvailable or raise maxUnavailable" $replicas) }}
{{- end }}
{{- end }}
{{- if $errors }}
{{- fail (printf "\n\nnuget-proxy: contradictory values:\n  - %s\n" (join "\n  - " $errors)) }}
{{- end }}
{{- end }}

{{/* Downloads bundleImport.url to /bundles (before the import container). */}}
{{- define "nuget-proxy.downloadContainer" -}}
{{- $b := .Values.bundleImport }}
{{- $file := printf "/bundles/%s" $b.file }}
- name: bundle-download
  image: {{ include "nuget-proxy.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  command: [node, --input-type=module, -e]
  args:
    - |
      // Streams the bundle to a file; fails on any non-2xx answer.
      import { createWriteStream } from 'node:fs';
      import { Readable } from 'node:stream';
      import { pipeline } from 'node:stream/promises';
      const [url, file] = [process.env.BUNDLE_URL, process.env.BUNDLE_FILE];
      const res = await fetch(url);
      if (!res.ok || !res.body) throw new Error(`bundle download ${url}: HTTP ${res.status}`);
      await pipeline(Readable.fromWeb(res.body), createWriteStream(file));
      console.log(JSON.stringify({ msg: 'bundle downloaded', url, file }));
  env:
    - name: BUNDLE_URL
      value: {{ $b.url | quote }}
    - name: BUNDLE_FILE
      value: {{ $file | quote }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  {{- with $b.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumeMounts:
    - name: bundles
      mountPath: /bundles
    - name: tmp
      mountPath: /tmp
{{- end }}

{{/* `nuget-proxy import /bundles/<file>` into the cache volume, with the proxy's own configuration. */}}
{{- define "nuget-proxy.importContainer" -}}
{{- $b := .Values.bundleImport }}
{{- $file := printf "/bundles/%s" $b.file }}
- name: bundle-import
  image: {{ include "nuget-proxy.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args: [import, {{ $file | quote }}]
  envFrom:
    - configMapRef:
        name: {{ include "nuget-proxy.fullname" . }}
    {{- with include "nuget-proxy.secretName" . }}
    - secretRef:
        name: {{ . }}
    {{- end }}
  {{- if .Values.redis.enabled }}
  env:
    - name: NUGET_PROXY_REDIS_URL
      valueFrom:
        secretKeyRef:
          name: {{ include "nuget-proxy.secretName" . }}
          key: NUGET_PROXY_REDIS_URL
  {{- end }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  {{- with $b.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumeMounts:
    - name: cache
      mountPath: /data
    - name: tmp
      mountPath: /tmp
    - name: bundles
      mountPath: /bundles
      readOnly: {{ not $b.url }}
{{- end }}

{{/* The bundle volume: the user's volume source (read-only), or a download area. */}}
{{- define "nuget-proxy.bundleVolume" -}}
- name: bundles
{{- if .Values.bundleImport.url }}
  emptyDir:
    sizeLimit: {{ .Values.bundleImport.downloadSizeLimit }}
{{- else }}
  {{- toYaml .Values.bundleImport.volume | nindent 2 }}
{{- end }}
{{- end }}
