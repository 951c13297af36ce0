{{/* Name of one workload: <release>-<service>, or the service name for a release named callpipe. */}}
{{- define "callpipe.name" -}}
{{- $root := index . 0 -}}{{- $svc := index . 1 -}}
{{- if eq $root.Release.Name "callpipe" -}}callpipe-{{ $svc }}{{- else -}}{{ printf "%s-callpipe-%s" $root.Release.Name $svc | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "callpipe.selectorLabels" -}}
{{- $root := index . 0 -}}{{- $svc := index . 1 -}}
app.kubernetes.io/name: callpipe
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ $svc }}
{{- end -}}

{{- define "callpipe.labels" -}}
{{- $root := index . 0 -}}
{{ include "callpipe.selectorLabels" . }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" $root.Chart.Name $root.Chart.Version }}
{{- end -}}

{{- define "callpipe.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ default (ternary "callpipe" (printf "%s-callpipe" .Release.Name) (eq .Release.Name "callpipe")) .Values.serviceAccount.name }}{{- else -}}{{ default "default" .Values.serviceAccount.name }}{{- end -}}
{{- end -}}

{{- define "callpipe.image" -}}
{{- $root := index . 0 -}}{{- $spec := index . 1 -}}
{{- $tag := default $root.Chart.AppVersion $root.Values.image.tag -}}
{{- if $root.Values.image.registry -}}{{ printf "%s/%s:%s" $root.Values.image.registry $spec.image $tag }}{{- else -}}{{ printf "%s:%s" $spec.image $tag }}{{- end -}}
{{- end -}}

{{/* A consumer stage runs as a StatefulSet when static membership is on. */}}
{{- define "callpipe.workloadKind" -}}
{{- $root := index . 0 -}}{{- $spec := index . 1 -}}
{{- if and (eq $spec.kind "consumer") $root.Values.staticMembership -}}StatefulSet{{- else -}}Deployment{{- end -}}
{{- end -}}

{{/* A probe for a server bound to 127.0.0.1 (the kubelet probes the pod IP): the image's Python
     asks it from inside the container, as docker-compose.yml's healthcheck does. Args: port, path. */}}
{{- define "callpipe.localProbe" -}}
{{- $port := index . 0 -}}{{- $path := index . 1 -}}
exec:
  command:
    - python
    - -c
    - {{ printf "import urllib.request; urllib.request.urlopen('http://127.0.0.1:%v%s', timeout=4)" $port $path | quote }}
{{- end -}}
