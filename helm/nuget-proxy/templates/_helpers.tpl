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

{{/*
What /data is: pvc (one claim every pod mounts), emptyDir or ephemeral (per pod). With object storage the
packages live in the bucket and /data only holds spooled downloads: never a claim of its own.
*/}}
{{- define "nuget-proxy.cacheVolumeType" -}}
{{- if and .Values.objectStorage.enabled (eq .Values.persistence.type "pvc") }}emptyDir
{{- else }}{{ .Values.persistence.type }}
{{- end }}
{{- end }}

{{/* "true" when several pods can run at once: object storage, a per-pod cache, or a ReadWriteMany claim. */}}
{{- define "nuget-proxy.volumeAllowsReplicas" -}}
{{- if or (ne (include "nuget-proxy.cacheVolumeType" .) "pvc") (eq .Values.persistence.accessMode "ReadWriteMany") }}true{{ end }}
{{- end }}

{{/* "true" when every replica sees the same package files: object storage or one ReadWriteMany claim. */}}
{{- define "nuget-proxy.sharedPackages" -}}
{{- if or .Values.objectStorage.enabled (and (eq .Values.persistence.type "pvc") (eq .Values.persistence.accessMode "ReadWriteMany")) }}true{{ end }}
{{- end }}

{{/* NUGET_PROXY_BLOB_STORE: s3://bucket or s3://bucket/prefix. */}}
{{- define "nuget-proxy.blobStoreUrl" -}}
{{- $prefix := .Values.objectStorage.prefix | trimAll "/" }}
{{- if $prefix }}{{ printf "s3://%s/%s" .Values.objectStorage.bucket $prefix }}{{ else }}{{ printf "s3://%s" .Values.objectStorage.bucket }}{{ end }}
{{- end }}

{{/* "true" when objectStorage has static keys (inline or from a Secret) rather than the pod's identity. */}}
{{- define "nuget-proxy.objectStorageKeys" -}}
{{- $o := .Values.objectStorage }}
{{- if and $o.enabled (or $o.existingSecret $o.accessKeyId $o.secretAccessKey $o.sessionToken) }}true{{ end }}
{{- end }}

{{/*
A size in bytes (as a float) from a Kubernetes quantity (20Gi, 500M) or a quota (50GB, 1.5TB). Quota
units KB…TB count as KiB…TiB here: the larger reading, so a headroom check never passes by rounding.
*/}}
{{- define "nuget-proxy.bytes" -}}
{{- $s := toString . | trim }}
{{- $num := regexFind "^[0-9]+(\\.[0-9]+)?" $s }}
{{- $unit := trimPrefix $num $s | trim }}
{{- $m := 1.0 }}
{{- if eq $unit "k" }}{{ $m = 1000.0 }}
{{- else if eq $unit "M" }}{{ $m = 1000000.0 }}
{{- else if eq $unit "G" }}{{ $m = 1000000000.0 }}
{{- else if eq $unit "T" }}{{ $m = 1000000000000.0 }}
{{- else if eq $unit "P" }}{{ $m = 1000000000000000.0 }}
{{- else if eq $unit "Ki" "KiB" "KB" }}{{ $m = 1024.0 }}
{{- else if eq $unit "Mi" "MiB" "MB" }}{{ $m = 1048576.0 }}
{{- else if eq $unit "Gi" "GiB" "GB" }}{{ $m = 1073741824.0 }}
{{- else if eq $unit "Ti" "TiB" "TB" }}{{ $m = 1099511627776.0 }}
{{- else if eq $unit "Pi" }}{{ $m = 1125899906842624.0 }}
{{- end }}
{{- mulf (float64 (default "0" $num)) $m }}
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
{{- with .Values.webPage.token }}
NUGET_PROXY_UI_TOKEN: {{ . | quote }}
{{- end }}
{{- if include "nuget-proxy.hasCredentials" .Values.egress.httpsProxy }}
HTTPS_PROXY: {{ .Values.egress.httpsProxy | quote }}
{{- end }}
{{- if include "nuget-proxy.hasCredentials" .Values.egress.httpProxy }}
HTTP_PROXY: {{ .Values.egress.httpProxy | quote }}
{{- end }}
{{- if and .Values.objectStorage.enabled (not .Values.objectStorage.existingSecret) }}
{{- with .Values.objectStorage.accessKeyId }}
AWS_ACCESS_KEY_ID: {{ . | quote }}
{{- end }}
{{- with .Values.objectStorage.secretAccessKey }}
AWS_SECRET_ACCESS_KEY: {{ . | quote }}
{{- end }}
{{- with .Values.objectStorage.sessionToken }}
AWS_SESSION_TOKEN: {{ . | quote }}
{{- end }}
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

{{/*
The ConfigMap's data: every non-secret variable of `serve` and `import`. Also the list of names extraEnv
must not override.
*/}}
{{- define "nuget-proxy.configData" -}}
NUGET_PROXY_HOST: "0.0.0.0"
NUGET_PROXY_PORT: {{ .Values.containerPort | int64 | toString | quote }}
NUGET_PROXY_CACHE_DIR: /data
NUGET_PROXY_LOG_FORMAT: json
{{- /* The chart scales by pods; one process per pod keeps CPU requests and the HPA meaningful. */}}
NUGET_PROXY_WORKERS: "1"
{{- /* A configuration file that lists its upstreams (or takes them from a nuget.config) replaces config.upstream. */}}
{{- $file := fromYaml (.Values.configFile | default "") | default dict }}
{{- $fileUpstreams := or (hasKey $file "upstreams") (hasKey $file "nugetConfig") }}
{{- range $key, $value := .Values.config }}
{{- if and (ne $key "publicUrl") (ne (include "nuget-proxy.envValue" $value) "") (not (and $fileUpstreams (eq $key "upstream"))) }}
NUGET_PROXY_{{ $key | snakecase | upper }}: {{ include "nuget-proxy.envValue" $value | quote }}
{{- end }}
{{- end }}
{{- with include "nuget-proxy.publicUrl" . }}
NUGET_PROXY_PUBLIC_URL: {{ . | quote }}
{{- end }}
{{- if .Values.objectStorage.enabled }}
NUGET_PROXY_BLOB_STORE: {{ include "nuget-proxy.blobStoreUrl" . | quote }}
{{- with .Values.objectStorage.endpoint }}
NUGET_PROXY_S3_ENDPOINT: {{ . | quote }}
{{- end }}
{{- with .Values.objectStorage.region }}
NUGET_PROXY_S3_REGION: {{ . | quote }}
{{- end }}
NUGET_PROXY_S3_FORCE_PATH_STYLE: {{ .Values.objectStorage.forcePathStyle | toString | quote }}
{{- end }}
{{- with .Values.retention.maxCacheSize }}
NUGET_PROXY_MAX_CACHE_SIZE: {{ . | quote }}
{{- end }}
{{- if gt (int64 .Values.retention.evictUnusedDays) 0 }}
NUGET_PROXY_EVICT_UNUSED_DAYS: {{ .Values.retention.evictUnusedDays | int64 | toString | quote }}
{{- end }}
{{- if .Values.upstreamCaBundle }}
NUGET_PROXY_UPSTREAM_CA_FILE: /etc/nuget-proxy/upstream-ca.pem
{{- end }}
{{- if and .Values.egress.httpsProxy (not (include "nuget-proxy.hasCredentials" .Values.egress.httpsProxy)) }}
HTTPS_PROXY: {{ .Values.egress.httpsProxy | quote }}
{{- end }}
{{- if and .Values.egress.httpProxy (not (include "nuget-proxy.hasCredentials" .Values.egress.httpProxy)) }}
HTTP_PROXY: {{ .Values.egress.httpProxy | quote }}
{{- end }}
{{- with .Values.egress.noProxy }}
NO_PROXY: {{ . | quote }}
{{- end }}
{{- end }}

{{/*
The env entries of every container that runs nuget-proxy (serve and import): the Redis URL and the object
storage keys from their Secrets, then extraEnv. Empty when there are none.
*/}}
{{- define "nuget-proxy.env" -}}
{{- $secretName := include "nuget-proxy.secretName" . }}
{{- if .Values.redis.enabled }}
# Explicit so that a Secret without the key stops the pod instead of running unshared.
- name: NUGET_PROXY_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secretName }}
      key: NUGET_PROXY_REDIS_URL
{{- end }}
{{- $o := .Values.objectStorage }}
{{- if and $o.enabled $o.existingSecret }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ $o.existingSecret }}
      key: {{ $o.existingSecretKeys.accessKeyId }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $o.existingSecret }}
      key: {{ $o.existingSecretKeys.secretAccessKey }}
{{- with $o.existingSecretKeys.sessionToken }}
- name: AWS_SESSION_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $o.existingSecret }}
      key: {{ . }}
{{- end }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* envFrom of every container that runs nuget-proxy: the ConfigMap, the Secret, then the user's envFrom. */}}
{{- define "nuget-proxy.envFrom" -}}
- configMapRef:
    name: {{ include "nuget-proxy.fullname" . }}
{{- with include "nuget-proxy.secretName" . }}
- secretRef:
    name: {{ . }}
{{- end }}
{{- with .Values.envFrom }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The /data volume of the proxy pods and the import Job. */}}
{{- define "nuget-proxy.cacheVolume" -}}
{{- $type := include "nuget-proxy.cacheVolumeType" . }}
- name: cache
{{- if eq $type "pvc" }}
  persistentVolumeClaim:
    claimName: {{ include "nuget-proxy.claimName" . }}
{{- else if eq $type "emptyDir" }}
  emptyDir:
    {{- with .Values.persistence.emptyDir.sizeLimit }}
    sizeLimit: {{ . }}
    {{- end }}
{{- else }}
  ephemeral:
    volumeClaimTemplate:
      metadata:
        labels:
          {{- include "nuget-proxy.selectorLabels" . | nindent 10 }}
      spec:
        accessModes: [ReadWriteOnce]
        {{- if eq .Values.persistence.storageClass "-" }}
        storageClassName: ""
        {{- else if .Values.persistence.storageClass }}
        storageClassName: {{ .Values.persistence.storageClass | quote }}
        {{- end }}
        resources:
          requests:
            storage: {{ .Values.persistence.size | quote }}
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
{{- $shared := include "nuget-proxy.sharedPackages" . }}
{{- $o := $v.objectStorage }}
{{- /* Several pods: each needs a volume it can mount, and they must agree on what the cache holds. */}}
{{- $several := list }}
{{- if and (gt (int $v.replicaCount) 1) (not $v.autoscaling.enabled) }}{{ $several = append $several "replicaCount > 1" }}{{ end }}
{{- if $v.autoscaling.enabled }}{{ $several = append $several "autoscaling.enabled" }}{{ end }}
{{- range $several }}
{{- if not $replicasOk }}
{{- $errors = append $errors (printf "%s cannot share a ReadWriteOnce cache volume: use objectStorage.enabled, persistence.accessMode=ReadWriteMany (or an RWX existingClaim), or persistence.type=emptyDir/ephemeral for a cache per pod (with Redis)" .) }}
{{- else if and (not $shared) (not $v.redis.enabled) }}
{{- $errors = append $errors (printf "%s needs redis.enabled=true with a cache per pod (persistence.type=%s): otherwise each replica knows only its own packages; or keep packages where every replica sees them (objectStorage.enabled, or a ReadWriteMany claim)" . $v.persistence.type) }}
{{- end }}
{{- end }}
{{- if $v.autoscaling.enabled }}
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
{{- if $v.webPage.token }}{{ $inline = append $inline "webPage.token" }}{{ end }}
{{- if not $o.existingSecret }}
{{- range $k := list "accessKeyId" "secretAccessKey" "sessionToken" }}
{{- if index $o $k }}{{ $inline = append $inline (printf "objectStorage.%s" $k) }}{{ end }}
{{- end }}
{{- end }}
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
{{- if or (ne $b.mode "job") $o.enabled }}
{{- /* An import Job writes where every pod reads: the bucket, or one ReadWriteMany claim. */}}
{{- else if ne $v.persistence.type "pvc" }}
{{- $errors = append $errors (printf "bundleImport.mode=job cannot fill a per-pod cache (persistence.type=%s): use bundleImport.mode=initContainer" $v.persistence.type) }}
{{- else if ne $v.persistence.accessMode "ReadWriteMany" }}
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
{{- /* Object storage. */}}
{{- if $o.enabled }}
{{- if not $o.bucket }}
{{- $errors = append $errors "objectStorage.enabled needs objectStorage.bucket (packages go to s3://bucket/prefix)" }}
{{- end }}
{{- if $v.persistence.existingClaim }}
{{- $errors = append $errors (printf "persistence.existingClaim=%s is unused with objectStorage.enabled: packages live in the bucket and /data is scratch space (an emptyDir); drop existingClaim" $v.persistence.existingClaim) }}
{{- end }}
{{- $inlineKeys := list }}
{{- range $k := list "accessKeyId" "secretAccessKey" "sessionToken" }}
{{- if index $o $k }}{{ $inlineKeys = append $inlineKeys (printf "objectStorage.%s" $k) }}{{ end }}
{{- end }}
{{- if and $o.existingSecret $inlineKeys }}
{{- $errors = append $errors (printf "objectStorage.existingSecret=%s and inline keys (%s) are both set: keep the keys in the Secret, or drop existingSecret" $o.existingSecret (join ", " $inlineKeys)) }}
{{- else if not $o.existingSecret }}
{{- if and $o.accessKeyId (not $o.secretAccessKey) }}
{{- $errors = append $errors "objectStorage.accessKeyId needs objectStorage.secretAccessKey" }}
{{- end }}
{{- if and $o.secretAccessKey (not $o.accessKeyId) }}
{{- $errors = append $errors "objectStorage.secretAccessKey needs objectStorage.accessKeyId" }}
{{- end }}
{{- if and $o.sessionToken (not $o.accessKeyId) }}
{{- $errors = append $errors "objectStorage.sessionToken needs objectStorage.accessKeyId and objectStorage.secretAccessKey (a session token belongs to temporary keys)" }}
{{- end }}
{{- end }}
{{- $role := index ($v.serviceAccount.annotations | default dict) "eks.amazonaws.com/role-arn" }}
{{- if and $role (include "nuget-proxy.objectStorageKeys" .) }}
{{- $errors = append $errors "objectStorage has static keys and serviceAccount.annotations names an IRSA role (eks.amazonaws.com/role-arn): the AWS SDK would use the keys and ignore the role; drop one of them" }}
{{- end }}
{{- else }}
{{- $set := list }}
{{- range $k := list "bucket" "prefix" "endpoint" "region" "existingSecret" "accessKeyId" "secretAccessKey" "sessionToken" }}
{{- if index $o $k }}{{ $set = append $set (printf "objectStorage.%s" $k) }}{{ end }}
{{- end }}
{{- if $o.forcePathStyle }}{{ $set = append $set "objectStorage.forcePathStyle" }}{{ end }}
{{- if $set }}
{{- $errors = append $errors (printf "%s set but objectStorage.enabled is false: packages would stay on the cache volume" (join ", " $set)) }}
{{- end }}
{{- end }}
{{- if and $v.serviceAccount.annotations (not $v.serviceAccount.create) }}
{{- $errors = append $errors (printf "serviceAccount.annotations only apply to a service account the chart creates (serviceAccount.create=true): annotate %s yourself, or drop them" (include "nuget-proxy.serviceAccountName" .)) }}
{{- end }}
{{- /* Retention: a quota on a local volume needs headroom (eviction runs in sweeps; downloads spool there too). */}}
{{- if and $v.retention.maxCacheSize (not $o.enabled) }}
{{- $volume := "" }}
{{- $volumeName := "" }}
{{- if and (eq $v.persistence.type "pvc") (not $v.persistence.existingClaim) }}{{ $volume = $v.persistence.size }}{{ $volumeName = "persistence.size" }}
{{- else if eq $v.persistence.type "ephemeral" }}{{ $volume = $v.persistence.size }}{{ $volumeName = "persistence.size" }}
{{- else if eq $v.persistence.type "emptyDir" }}{{ $volume = $v.persistence.emptyDir.sizeLimit | default "" }}{{ $volumeName = "persistence.emptyDir.sizeLimit" }}
{{- end }}
{{- if $volume }}
{{- $quota := include "nuget-proxy.bytes" $v.retention.maxCacheSize | float64 }}
{{- $limit := mulf (include "nuget-proxy.bytes" $volume | float64) 0.9 }}
{{- if gt $quota $limit }}
{{- $errors = append $errors (printf "retention.maxCacheSize=%s leaves no headroom on the cache volume (%s=%s): keep it at most 90%% of the volume, since eviction runs in sweeps and downloads spool on the same disk" $v.retention.maxCacheSize $volumeName $volume) }}
{{- end }}
{{- end }}
{{- end }}
{{- /* Extension points must not replace what the chart itself relies on. */}}
{{- $ownVolumes := list "cache" "tmp" "upstream-ca" "config-file" "bundles" }}
{{- $extraVolumes := list }}
{{- range $i, $vol := $v.extraVolumes }}
{{- if has $vol.name $ownVolumes }}
{{- $errors = append $errors (printf "extraVolumes[%d] is named %s, a volume of the chart: pick another name" $i $vol.name) }}
{{- end }}
{{- $extraVolumes = append $extraVolumes $vol.name }}
{{- end }}
{{- range $i, $m := $v.extraVolumeMounts }}
{{- $path := $m.mountPath | trimSuffix "/" }}
{{- range $own := list "/data" "/tmp" "/etc/nuget-proxy" "/etc/nuget-proxy-config" "/bundles" }}
{{- if or (eq $path $own) (hasPrefix (printf "%s/" $own) $path) (hasPrefix (printf "%s/" $path) $own) }}
{{- $errors = append $errors (printf "extraVolumeMounts[%d] mounts at %s, which overlaps the chart's %s: pick another path" $i $m.mountPath $own) }}
{{- end }}
{{- end }}
{{- if not (has $m.name $extraVolumes) }}
{{- $errors = append $errors (printf "extraVolumeMounts[%d] mounts volume %s, which extraVolumes does not define" $i $m.name) }}
{{- end }}
{{- end }}
{{- $managedEnv := keys (include "nuget-proxy.configData" . | fromYaml) }}
{{- $managedEnv = concat $managedEnv (keys (include "nuget-proxy.secretData" . | fromYaml | default dict)) }}
{{- if $v.redis.enabled }}{{ $managedEnv = append $managedEnv "NUGET_PROXY_REDIS_URL" }}{{ end }}
{{- if $v.configFile }}{{ $managedEnv = append $managedEnv "NUGET_PROXY_CONFIG" }}{{ end }}
{{- if include "nuget-proxy.objectStorageKeys" . }}{{ $managedEnv = concat $managedEnv (list "AWS_ACCESS_KEY_ID" "AWS_SECRET_ACCESS_KEY" "AWS_SESSION_TOKEN") }}{{ end }}
{{- range $i, $e := $v.extraEnv }}
{{- if has $e.name $managedEnv }}
{{- $errors = append $errors (printf "extraEnv[%d] sets %s, which the chart sets itself: use the chart's value for it (config.*, objectStorage.*, redis.*, …)" $i $e.name) }}
{{- end }}
{{- end }}
{{- $ownLabels := include "nuget-proxy.labels" . | fromYaml }}
{{- range $k, $_ := $v.podLabels }}
{{- if hasKey $ownLabels $k }}
{{- $errors = append $errors (printf "podLabels sets %s, a label the chart sets (the Service and Deployment select pods by these)" $k) }}
{{- end }}
{{- end }}
{{- range $k, $_ := $v.podAnnotations }}
{{- if hasPrefix "checksum/" $k }}
{{- $errors = append $errors (printf "podAnnotations sets %s, which the chart uses to roll pods on configuration changes" $k) }}
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
    {{- include "nuget-proxy.envFrom" . | trim | nindent 4 }}
  {{- with include "nuget-proxy.env" . | trim }}
  env:
    {{- . | nindent 4 }}
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
    {{- with .Values.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
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
