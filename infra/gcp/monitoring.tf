# Log-based metrics from the one structured line each request writes (functions/gcp/handler.ts,
# shared/telemetry/metric-formats.ts toCloudLoggingEntry): jsonPayload carries the figures, the
# entry's labels the dimensions. test/infra/gcp.test.ts checks every field named here against it.

locals {
  # The function's Cloud Run service has the function's name.
  request_lines = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${var.name}\" AND jsonPayload.type=\"modelfleet.request\""
  metric_labels = {
    model    = "EXTRACT(labels.model)"
    variant  = "EXTRACT(labels.variant)"
    version  = "EXTRACT(labels.version)"
    stage    = "EXTRACT(labels.stage)"
    revision = "EXTRACT(resource.labels.revision_name)"
  }
  # What the rollout guard splits requests by (shared/control/metric-sources/cloud-monitoring.ts):
  # 2/4/5 from the status, so client errors never count against a canary; cold starts apart.
  request_labels = {
    status_class = "REGEXP_EXTRACT(labels.status, \"^([1-5])[0-9][0-9]$\")"
    cold_start   = "EXTRACT(labels.coldStart)"
  }
  per_variant  = ["metric.label.model", "metric.label.variant", "metric.label.version"]
  per_revision = ["metric.label.revision"]
  metric_type  = "logging.googleapis.com/user"
}

resource "google_logging_metric" "requests" {
  name   = "${var.name}_requests"
  filter = local.request_lines
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    dynamic "labels" {
      for_each = merge(local.metric_labels, local.request_labels)
      content {
        key        = labels.key
        value_type = "STRING"
      }
    }
  }
  label_extractors = merge(local.metric_labels, local.request_labels)
}

locals {
  # Counters of request lines, by what each counts.
  line_counters = {
    # Server errors only (status >= 500 is severity ERROR); 4xx are the client's and never count.
    errors      = "${local.request_lines} AND severity=\"ERROR\""
    cold_starts = "${local.request_lines} AND labels.coldStart=\"true\""
    # One line per variant and drift window carries the largest feature PSI of that window.
    drift_windows = "${local.request_lines} AND jsonPayload.driftPSIMax>=${var.drift_psi_threshold}"
  }
  # Distributions of a number on the line, present only on the lines it describes.
  # - warmLatencyMs: warm requests that succeeded. A cold start's model load says nothing about
  #   the model version, and a fast 4xx would flatter it.
  # - feedbackRows / feedbackCorrect: feedback scored against captured outputs, on a request line
  #   of the variant that served it. A counter would count lines; the guard reads these sums
  #   (mean x count) as rows scored and rows right, i.e. the accuracy.
  line_values = {
    warm_latency     = { field = "warmLatencyMs", unit = "ms", buckets = 64, growth = 1.2 }
    feedback_rows    = { field = "feedbackRows", unit = "1", buckets = 20, growth = 2 }
    feedback_correct = { field = "feedbackCorrect", unit = "1", buckets = 20, growth = 2 }
  }
}

# Metrics of earlier versions of this stack, which had one resource each, keep their state.
moved {
  from = google_logging_metric.errors
  to   = google_logging_metric.lines["errors"]
}
moved {
  from = google_logging_metric.cold_starts
  to   = google_logging_metric.lines["cold_starts"]
}
moved {
  from = google_logging_metric.warm_latency
  to   = google_logging_metric.values["warm_latency"]
}

resource "google_logging_metric" "lines" {
  for_each = local.line_counters
  name     = "${var.name}_${each.key}"
  filter   = each.value
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    dynamic "labels" {
      for_each = local.metric_labels
      content {
        key        = labels.key
        value_type = "STRING"
      }
    }
  }
  label_extractors = local.metric_labels
}

resource "google_logging_metric" "values" {
  for_each        = local.line_values
  name            = "${var.name}_${each.key}"
  filter          = "${local.request_lines} AND jsonPayload.${each.value.field}>=0"
  value_extractor = "EXTRACT(jsonPayload.${each.value.field})"
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = each.value.unit
    dynamic "labels" {
      for_each = local.metric_labels
      content {
        key        = labels.key
        value_type = "STRING"
      }
    }
  }
  label_extractors = local.metric_labels
  bucket_options {
    exponential_buckets {
      num_finite_buckets = each.value.buckets
      growth_factor      = each.value.growth
      scale              = 1
    }
  }
}

# ---- Model rollouts: alert policy → Pub/Sub → the guard rolls the canary back ----

resource "google_pubsub_topic" "rollout_alerts" {
  name       = "${var.name}-rollout-alerts"
  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic_iam_member" "monitoring_publishes" {
  topic  = google_pubsub_topic.rollout_alerts.id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${local.monitoring_agent}"
}

resource "google_monitoring_notification_channel" "rollback" {
  display_name = "${var.name} rollout guard (Pub/Sub)"
  type         = "pubsub"
  labels = {
    topic = google_pubsub_topic.rollout_alerts.id
  }
}

# Pushed to the guard with an OIDC token of the invoker account: the incident names the model,
# variant and version (metric labels), and the guard rolls that canary back without waiting for
# the next scheduled evaluation.
resource "google_pubsub_subscription" "guard_push" {
  count                = local.guard_enabled ? 1 : 0
  name                 = "${var.name}-rollout-alerts-to-guard"
  topic                = google_pubsub_topic.rollout_alerts.id
  ack_deadline_seconds = 120
  push_config {
    push_endpoint = google_cloudfunctions2_function.guard[0].service_config[0].uri
    oidc_token {
      service_account_email = google_service_account.invoker.email
      audience              = google_cloudfunctions2_function.guard[0].service_config[0].uri
    }
  }
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "300s"
  }
  expiration_policy {
    ttl = ""
  }
}

resource "google_service_account_iam_member" "pubsub_signs_push_tokens" {
  service_account_id = google_service_account.invoker.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${local.pubsub_agent}"
}

resource "google_monitoring_alert_policy" "variant_error_rate" {
  display_name = "${var.name} ${var.stage}: variant error rate"
  combiner     = "OR"
  severity     = "CRITICAL"
  conditions {
    display_name = "server errors / requests per model variant > ${var.alert_error_rate}"
    condition_threshold {
      filter             = "metric.type=\"${local.metric_type}/${google_logging_metric.lines["errors"].name}\" AND resource.type=\"cloud_run_revision\""
      denominator_filter = "metric.type=\"${local.metric_type}/${google_logging_metric.requests.name}\" AND resource.type=\"cloud_run_revision\""
      comparison         = "COMPARISON_GT"
      threshold_value    = var.alert_error_rate
      duration           = "${var.alert_window_seconds}s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = local.per_variant
      }
      denominator_aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = local.per_variant
      }
      trigger {
        count = 1
      }
    }
  }
  notification_channels = [google_monitoring_notification_channel.rollback.id]
  alert_strategy {
    auto_close = "1800s"
  }
  documentation {
    mime_type = "text/markdown"
    content   = "A model variant of stage ${var.stage} returns server errors. The rollout guard rolls a running canary back (Pub/Sub ${google_pubsub_topic.rollout_alerts.name}); see infra/gcp/README.md."
  }
}

resource "google_monitoring_alert_policy" "variant_latency_p99" {
  display_name = "${var.name} ${var.stage}: variant warm p99 latency"
  combiner     = "OR"
  severity     = "ERROR"
  conditions {
    display_name = "warm p99 per model variant > ${var.alert_latency_p99_ms} ms"
    condition_threshold {
      filter          = "metric.type=\"${local.metric_type}/${google_logging_metric.values["warm_latency"].name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_latency_p99_ms
      duration        = "${var.alert_window_seconds}s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_PERCENTILE_99"
        group_by_fields      = local.per_variant
      }
      trigger {
        count = 1
      }
    }
  }
  notification_channels = [google_monitoring_notification_channel.rollback.id]
  alert_strategy {
    auto_close = "1800s"
  }
  documentation {
    mime_type = "text/markdown"
    content   = "A model variant of stage ${var.stage} is slow on warm requests. The rollout guard rolls a running canary back; see infra/gcp/README.md."
  }
}

# ---- Code rollouts: per-revision error rate → a person (README.md, "Code rollout") ----

resource "google_monitoring_notification_channel" "operator" {
  display_name = "${var.name} operator"
  type         = "email"
  labels = {
    email_address = var.operator_email
  }
}

resource "google_monitoring_alert_policy" "revision_error_rate" {
  display_name = "${var.name} ${var.stage}: revision error rate"
  combiner     = "OR"
  severity     = "CRITICAL"
  conditions {
    display_name = "server errors / requests per Cloud Run revision > ${var.alert_error_rate}"
    condition_threshold {
      filter             = "metric.type=\"${local.metric_type}/${google_logging_metric.lines["errors"].name}\" AND resource.type=\"cloud_run_revision\""
      denominator_filter = "metric.type=\"${local.metric_type}/${google_logging_metric.requests.name}\" AND resource.type=\"cloud_run_revision\""
      comparison         = "COMPARISON_GT"
      threshold_value    = var.alert_error_rate
      duration           = "${var.alert_window_seconds}s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = local.per_revision
      }
      denominator_aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = local.per_revision
      }
      trigger {
        count = 1
      }
    }
  }
  notification_channels = [google_monitoring_notification_channel.operator.id]
  alert_strategy {
    auto_close = "1800s"
  }
  documentation {
    mime_type = "text/markdown"
    content   = "A revision of ${var.name} returns server errors. During a code canary: send its traffic back to the previous revision (infra/gcp/README.md, step 5)."
  }
}

# ---- Model monitoring (docs/monitoring.md): accuracy from feedback, input drift ----

# Drift is a reason to look (retrain, check the pipeline upstream), not to roll a version back:
# the operator is told, the guard is not.
resource "google_monitoring_alert_policy" "variant_drift" {
  display_name = "${var.name} ${var.stage}: input drift per variant"
  combiner     = "OR"
  severity     = "WARNING"
  conditions {
    display_name = "a drift window with feature PSI >= ${var.drift_psi_threshold}"
    condition_threshold {
      filter          = "metric.type=\"${local.metric_type}/${google_logging_metric.lines["drift_windows"].name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "${var.alert_window_seconds}s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = local.per_variant
      }
      trigger {
        count = 1
      }
    }
  }
  notification_channels = [google_monitoring_notification_channel.operator.id]
  alert_strategy {
    auto_close = "86400s"
  }
  documentation {
    mime_type = "text/markdown"
    content   = "The inputs of a model variant of stage ${var.stage} moved away from its training baseline (PSI >= ${var.drift_psi_threshold}). `modelfleet monitor <model> --stage ${var.stage}` lists the drifting features first; see docs/operations.md."
  }
}

# ---- Dashboard ----

locals {
  variant_chart = {
    for key, chart in {
      requests = { title = "Requests per variant (/min)", metric = google_logging_metric.requests.name, aligner = "ALIGN_DELTA", reducer = "REDUCE_SUM" }
      errors   = { title = "Server errors per variant (/min)", metric = google_logging_metric.lines["errors"].name, aligner = "ALIGN_DELTA", reducer = "REDUCE_SUM" }
      p99      = { title = "Warm p99 latency per variant (ms)", metric = google_logging_metric.values["warm_latency"].name, aligner = "ALIGN_DELTA", reducer = "REDUCE_PERCENTILE_99" }
      cold     = { title = "Cold starts per revision (/min)", metric = google_logging_metric.lines["cold_starts"].name, aligner = "ALIGN_DELTA", reducer = "REDUCE_SUM" }
      feedback = { title = "Feedback rows scored per variant (/min)", metric = google_logging_metric.values["feedback_rows"].name, aligner = "ALIGN_DELTA", reducer = "REDUCE_SUM" }
      drift    = { title = "Drift windows per variant (PSI over threshold)", metric = google_logging_metric.lines["drift_windows"].name, aligner = "ALIGN_DELTA", reducer = "REDUCE_SUM" }
      } : key => {
      title = chart.title
      xyChart = {
        dataSets = [{
          plotType = "LINE"
          timeSeriesQuery = {
            timeSeriesFilter = {
              filter = "metric.type=\"${local.metric_type}/${chart.metric}\" AND resource.type=\"cloud_run_revision\""
              aggregation = {
                alignmentPeriod    = "60s"
                perSeriesAligner   = chart.aligner
                crossSeriesReducer = chart.reducer
                groupByFields      = key == "cold" ? local.per_revision : local.per_variant
              }
            }
          }
        }]
      }
    }
  }
}

resource "google_monitoring_dashboard" "modelfleet" {
  dashboard_json = jsonencode({
    displayName = "${var.name} ${var.stage}"
    mosaicLayout = {
      columns = 12
      tiles = [
        for index, key in ["requests", "errors", "p99", "cold", "feedback", "drift"] : {
          xPos   = (index % 2) * 6
          yPos   = floor(index / 2) * 4
          width  = 6
          height = 4
          widget = local.variant_chart[key]
        }
      ]
    }
  })
}
