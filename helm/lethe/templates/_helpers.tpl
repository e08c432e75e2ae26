{{/* Names, labels and the pieces both Deployments share. */}}

{{- define "lethe.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name; component names add a suffix, so leave room for it. */}}
{{- define "lethe.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "lethe.gateway.fullname" -}}{{ include "lethe.fullname" . }}-gateway{{- end -}}
{{- define "lethe.worker.fullname" -}}{{ include "lethe.fullname" . }}-worker{{- end -}}
{{- define "lethe.config.fullname" -}}{{ include "lethe.fullname" . }}-config{{- end -}}
{{- define "lethe.secret.fullname" -}}{{ include "lethe.fullname" . }}-secret{{- end -}}
{{- define "lethe.checkpoints.claimName" -}}
{{- default (printf "%s-checkpoints" (include "lethe.fullname" .)) .Values.checkpoints.pvc.existingClaim -}}
{{- end -}}

{{- define "lethe.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "lethe.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "lethe.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "lethe.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: lethe
{{- end -}}

{{/* Selector labels of one component: call with (dict "root" $ "component" "gateway"). */}}
{{- define "lethe.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lethe.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "lethe.componentLabels" -}}
{{ include "lethe.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "lethe.image" -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) -}}
{{- end -}}

{{- define "lethe.kafka.tlsEnabled" -}}
{{- if has .Values.kafka.securityProtocol (list "SSL" "SASL_SSL") }}true{{ end -}}
{{- end -}}

{{- define "lethe.kafka.saslEnabled" -}}
{{- if has .Values.kafka.securityProtocol (list "SASL_PLAINTEXT" "SASL_SSL") }}true{{ end -}}
{{- end -}}

{{/* Where the SASL password lives: the user's Secret, or the chart's. */}}
{{- define "lethe.kafka.saslPasswordRef" -}}
{{- if .Values.kafka.sasl.existingSecret -}}
name: {{ .Values.kafka.sasl.existingSecret }}
key: {{ .Values.kafka.sasl.passwordKey }}
{{- else -}}
name: {{ include "lethe.secret.fullname" . }}
key: kafka-sasl-password
{{- end -}}
{{- end -}}

{{- define "lethe.kafka.truststoreMountPath" -}}/etc/lethe/kafka-tls{{- end -}}

{{/*
Checks of combinations of values that values.schema.json cannot express clearly. Each failure names the
values to change.
*/}}
{{- define "lethe.validate" -}}
{{- $k := .Values.kafka -}}
{{- if include "lethe.kafka.saslEnabled" . -}}
  {{- if not $k.sasl.mechanism -}}
    {{- fail (printf "kafka.sasl.mechanism must be set (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512) when kafka.securityProtocol is %s" $k.securityProtocol) -}}
  {{- end -}}
  {{- if not $k.sasl.username -}}
    {{- fail (printf "kafka.sasl.username must be set when kafka.securityProtocol is %s" $k.securityProtocol) -}}
  {{- end -}}
  {{- if and (not $k.sasl.password) (not $k.sasl.existingSecret) -}}
    {{- fail "kafka.sasl.password or kafka.sasl.existingSecret must be set for SASL authentication" -}}
  {{- end -}}
  {{- if contains "\"" $k.sasl.username -}}
    {{- fail "kafka.sasl.username must not contain a double quote (it is written into sasl.jaas.config)" -}}
  {{- end -}}
{{- else if $k.sasl.mechanism -}}
  {{- fail (printf "kafka.sasl.mechanism is %s but kafka.securityProtocol %s uses no SASL: choose SASL_PLAINTEXT or SASL_SSL" $k.sasl.mechanism $k.securityProtocol) -}}
{{- end -}}
{{- if and $k.tls.truststore.secretName (not (include "lethe.kafka.tlsEnabled" .)) -}}
  {{- fail (printf "kafka.tls.truststore.secretName is set but kafka.securityProtocol %s uses no TLS: choose SSL or SASL_SSL" $k.securityProtocol) -}}
{{- end -}}
{{- if and $k.topics.strimzi.enabled (not $k.topics.strimzi.clusterName) -}}
  {{- fail "kafka.topics.strimzi.clusterName must name the Strimzi Kafka cluster when kafka.topics.strimzi.enabled is true" -}}
{{- end -}}
{{- range $i, $t := .Values.gateway.tenants -}}
  {{- if and (empty $t.apiKeys) (empty $t.apiKeySha256) -}}
    {{- fail (printf "gateway.tenants[%d] (%s) has no key: give apiKeySha256 or apiKeys" $i $t.name) -}}
  {{- end -}}
{{- end -}}
{{- $a := .Values.worker.autoscaling -}}
{{- if $a.enabled -}}
  {{- if gt (int $a.minReplicas) (int $a.maxReplicas) -}}
    {{- fail (printf "worker.autoscaling.minReplicas (%d) exceeds worker.autoscaling.maxReplicas (%d)" (int $a.minReplicas) (int $a.maxReplicas)) -}}
  {{- end -}}
  {{- if gt (int $a.maxReplicas) (int $k.topics.partitions) -}}
    {{- fail (printf "worker.autoscaling.maxReplicas (%d) exceeds kafka.topics.partitions (%d): a worker beyond the partition count of lethe.requests gets no jobs" (int $a.maxReplicas) (int $k.topics.partitions)) -}}
  {{- end -}}
{{- end -}}
{{- $w := .Values.worker -}}
{{- if lt (int $w.terminationGracePeriodSeconds) (add (int $w.preStopSleepSeconds) 20) -}}
  {{- fail (printf "worker.terminationGracePeriodSeconds (%d) must be at least worker.preStopSleepSeconds + 20 (%d): the rest is the time a stopping worker has to checkpoint its jobs" (int $w.terminationGracePeriodSeconds) (add (int $w.preStopSleepSeconds) 20)) -}}
{{- end -}}
{{- $g := .Values.gateway -}}
{{- if le (int $g.terminationGracePeriodSeconds) (int $g.preStopSleepSeconds) -}}
  {{- fail (printf "gateway.terminationGracePeriodSeconds (%d) must exceed gateway.preStopSleepSeconds (%d)" (int $g.terminationGracePeriodSeconds) (int $g.preStopSleepSeconds)) -}}
{{- end -}}
{{- $s3 := .Values.checkpoints.s3 -}}
{{- if eq .Values.checkpoints.store "s3" -}}
  {{- if not $s3.bucket -}}
    {{- fail "checkpoints.s3.bucket must be set when checkpoints.store is s3" -}}
  {{- end -}}
  {{- if ne (empty $s3.credentials.accessKeyId) (empty $s3.credentials.secretAccessKey) -}}
    {{- fail "checkpoints.s3.credentials: give both accessKeyId and secretAccessKey, or neither" -}}
  {{- end -}}
  {{- if and $s3.credentials.existingSecret $s3.credentials.accessKeyId -}}
    {{- fail "checkpoints.s3.credentials: give existingSecret or the key pair, not both" -}}
  {{- end -}}
{{- end -}}
{{- end -}}

{{/* Spring Kafka settings shared by both services, as flat Spring property names. */}}
{{- define "lethe.kafkaProperties" -}}
{{- $k := .Values.kafka -}}
{{- $p := dict "spring.kafka.bootstrap-servers" $k.bootstrapServers "spring.kafka.properties.security.protocol" $k.securityProtocol -}}
{{- if include "lethe.kafka.saslEnabled" . -}}
  {{- $module := "org.apache.kafka.common.security.plain.PlainLoginModule" -}}
  {{- if hasPrefix "SCRAM-" $k.sasl.mechanism -}}
    {{- $module = "org.apache.kafka.common.security.scram.ScramLoginModule" -}}
  {{- end -}}
  {{- $_ := set $p "spring.kafka.properties.sasl.mechanism" $k.sasl.mechanism -}}
  {{- /* The password stays in a Secret: Spring fills the placeholder from the environment. */ -}}
  {{- $_ := set $p "spring.kafka.properties.sasl.jaas.config" (printf "%s required username=\"%s\" password=\"${LETHE_KAFKA_SASL_PASSWORD}\";" $module $k.sasl.username) -}}
{{- end -}}
{{- if and (include "lethe.kafka.tlsEnabled" .) $k.tls.truststore.secretName -}}
  {{- $ts := $k.tls.truststore -}}
  {{- $_ := set $p "spring.kafka.properties.ssl.truststore.location" (printf "%s/%s" (include "lethe.kafka.truststoreMountPath" .) $ts.key) -}}
  {{- $_ := set $p "spring.kafka.properties.ssl.truststore.type" $ts.type -}}
  {{- if and (ne $ts.type "PEM") $ts.passwordKey -}}
    {{- $_ := set $p "spring.kafka.properties.ssl.truststore.password" "${LETHE_KAFKA_TRUSTSTORE_PASSWORD}" -}}
  {{- end -}}
{{- end -}}
{{- range $name, $value := $k.properties -}}
  {{- $_ := set $p (printf "spring.kafka.properties.%s" $name) (toString $value) -}}
{{- end -}}
{{- toYaml $p -}}
{{- end -}}

{{/* Settings both Spring Boot services share: probes, metrics, graceful shutdown. */}}
{{- define "lethe.commonProperties" -}}
management.endpoints.web.exposure.include: health,info,prometheus
management.endpoint.health.probes.enabled: true
server.shutdown: graceful
{{- end -}}

{{/* Environment both containers share: JVM options and the secrets Spring's placeholders refer to. */}}
{{- define "lethe.commonEnv" -}}
{{- $root := .root -}}
- name: JDK_JAVA_OPTIONS
  value: {{ .javaOptions | quote }}
- name: SPRING_CONFIG_ADDITIONAL_LOCATION
  value: {{ .configLocations | quote }}
{{- if include "lethe.kafka.saslEnabled" $root }}
- name: LETHE_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      {{- include "lethe.kafka.saslPasswordRef" $root | nindent 6 }}
{{- end }}
{{- $ts := $root.Values.kafka.tls.truststore }}
{{- if and (include "lethe.kafka.tlsEnabled" $root) $ts.secretName (ne $ts.type "PEM") $ts.passwordKey }}
- name: LETHE_KAFKA_TRUSTSTORE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $ts.secretName }}
      key: {{ $ts.passwordKey }}
{{- end }}
{{- end -}}

{{/* Volumes both pods share: config, writable /tmp, the Kafka trust store. */}}
{{- define "lethe.commonVolumes" -}}
- name: config
  configMap:
    name: {{ include "lethe.config.fullname" . }}
- name: tmp
  emptyDir: {}
{{- if and (include "lethe.kafka.tlsEnabled" .) .Values.kafka.tls.truststore.secretName }}
- name: kafka-tls
  secret:
    secretName: {{ .Values.kafka.tls.truststore.secretName }}
{{- end }}
{{- end -}}

{{- define "lethe.commonVolumeMounts" -}}
- name: config
  mountPath: /etc/lethe/config
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- if and (include "lethe.kafka.tlsEnabled" .) .Values.kafka.tls.truststore.secretName }}
- name: kafka-tls
  mountPath: {{ include "lethe.kafka.truststoreMountPath" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{/* Startup, liveness and readiness probes on Spring Boot's health groups. */}}
{{- define "lethe.probes" -}}
startupProbe:
  httpGet:
    path: /actuator/health/liveness
    port: http
  periodSeconds: {{ .probes.startup.periodSeconds }}
  timeoutSeconds: {{ .probes.startup.timeoutSeconds }}
  failureThreshold: {{ .probes.startup.failureThreshold }}
livenessProbe:
  httpGet:
    path: /actuator/health/liveness
    port: http
  periodSeconds: {{ .probes.liveness.periodSeconds }}
  timeoutSeconds: {{ .probes.liveness.timeoutSeconds }}
  failureThreshold: {{ .probes.liveness.failureThreshold }}
readinessProbe:
  httpGet:
    path: /actuator/health/readiness
    port: http
  periodSeconds: {{ .probes.readiness.periodSeconds }}
  timeoutSeconds: {{ .probes.readiness.timeoutSeconds }}
  failureThreshold: {{ .probes.readiness.failureThreshold }}
{{- end -}}

{{/*
Pod annotations. The checksums cover only what the component reads, so that a change restarts only the
pods it concerns: rotating an API key must not stop workers (which would move every running job).
*/}}
{{- define "lethe.podAnnotations" -}}
checksum/config: {{ .config | sha256sum }}
{{- if .secret }}
checksum/secret: {{ .secret | sha256sum }}
{{- end }}
{{- if .root.Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/path: /actuator/prometheus
prometheus.io/port: {{ .port | quote }}
{{- end }}
{{- with .extra }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* What both components read from Secrets (the values, or the names of the user's Secrets). */}}
{{- define "lethe.sharedSecretInputs" -}}
{{ toJson .Values.kafka.sasl }}{{ toJson .Values.kafka.tls }}
{{- end -}}

{{/* The gateway's own settings (gateway.yaml), as flat Spring property names. */}}
{{- define "lethe.gatewayProperties" -}}
{{- $k := .Values.kafka -}}
{{- $createTopics := and $k.topics.createAtStartup (not $k.topics.strimzi.enabled) -}}
{{- $g := .Values.gateway -}}
{{- $gateway := dict
      "server.port" (int $g.port)
      "lethe.gateway.models" (list .Values.model.name)
      "lethe.gateway.rate-limit.limit-for-period" (int $g.rateLimit.limitForPeriod)
      "lethe.gateway.rate-limit.refresh-period" $g.rateLimit.refreshPeriod
      "lethe.gateway.kafka.create-topics" $createTopics
      "lethe.gateway.kafka.partitions" (int $k.topics.partitions)
      "lethe.gateway.kafka.replication-factor" (int $k.topics.replicationFactor)
      "spring.lifecycle.timeout-per-shutdown-phase" (printf "%ds" (sub (int $g.terminationGracePeriodSeconds) (int $g.preStopSleepSeconds)))
-}}
{{- range $key, $value := $g.config -}}{{- $_ := set $gateway $key $value -}}{{- end -}}
{{- toYaml $gateway -}}
{{- end -}}

{{/* The worker's own settings (worker.yaml), as flat Spring property names. */}}
{{- define "lethe.workerProperties" -}}
{{- $k := .Values.kafka -}}
{{- $createTopics := and $k.topics.createAtStartup (not $k.topics.strimzi.enabled) -}}
{{- $w := .Values.worker -}}
{{- $worker := dict
      "server.port" (int $w.port)
      "spring.kafka.consumer.group-id" $k.consumerGroup
      "lethe.worker.model" (printf "%s/%s" (trimSuffix "/" .Values.model.mountPath) .Values.model.file)
      "lethe.worker.model-name" .Values.model.name
      "lethe.worker.max-active-jobs" (int $w.maxActiveJobs)
      "lethe.worker.queue-capacity" (int $w.queueCapacity)
      "lethe.worker.kv.policy" $w.kvPolicy
      "lethe.worker.backend" (ternary "gpu" "cpu" $w.gpu.enabled)
      "lethe.worker.topics.create" $createTopics
      "lethe.worker.topics.partitions" (int $k.topics.partitions)
      "lethe.worker.topics.replication-factor" (int $k.topics.replicationFactor)
      "spring.lifecycle.timeout-per-shutdown-phase" (printf "%ds" (sub (sub (int $w.terminationGracePeriodSeconds) (int $w.preStopSleepSeconds)) 10))
-}}
{{- if eq .Values.checkpoints.store "s3" -}}
  {{- $s3 := .Values.checkpoints.s3 -}}
  {{- $_ := set $worker "lethe.worker.checkpoint.store" "s3" -}}
  {{- $_ := set $worker "lethe.worker.checkpoint.s3.bucket" $s3.bucket -}}
  {{- $_ := set $worker "lethe.worker.checkpoint.s3.prefix" $s3.prefix -}}
  {{- $_ := set $worker "lethe.worker.checkpoint.s3.region" $s3.region -}}
  {{- $_ := set $worker "lethe.worker.checkpoint.s3.path-style-access" $s3.pathStyleAccess -}}
  {{- if $s3.endpoint -}}{{- $_ := set $worker "lethe.worker.checkpoint.s3.endpoint" $s3.endpoint -}}{{- end -}}
{{- else -}}
  {{- $_ := set $worker "lethe.worker.checkpoint.store" "directory" -}}
  {{- $_ := set $worker "lethe.worker.checkpoint.directory" .Values.checkpoints.pvc.mountPath -}}
{{- end -}}
{{- range $key, $value := $w.config -}}{{- $_ := set $worker $key $value -}}{{- end -}}
{{- toYaml $worker -}}
{{- end -}}

{{/* The gateway's tenants with the SHA-256 digests of their API keys (lethe.gateway.tenants). */}}
{{- define "lethe.tenantsProperties" -}}
{{- $tenants := list -}}
{{- range .Values.gateway.tenants -}}
  {{- $hashes := list -}}
  {{- range .apiKeySha256 -}}{{- $hashes = append $hashes (lower .) -}}{{- end -}}
  {{- /* Plain keys are hashed here and never written anywhere. */ -}}
  {{- range .apiKeys -}}{{- $hashes = append $hashes (sha256sum .) -}}{{- end -}}
  {{- $tenant := dict "name" .name "api-key-sha256" $hashes -}}
  {{- with .rateLimit -}}
    {{- $_ := set $tenant "rate-limit" (dict "limit-for-period" (int .limitForPeriod) "refresh-period" .refreshPeriod) -}}
  {{- end -}}
  {{- $tenants = append $tenants $tenant -}}
{{- end -}}
{{- toYaml (dict "lethe.gateway.tenants" $tenants) -}}
{{- end -}}
