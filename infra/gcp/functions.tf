# ---- The inference function: Cloud Functions gen2 (a Cloud Run service underneath) ----

resource "google_storage_bucket_object" "package" {
  # A new name per content: a changed package is a new object, hence a new build and revision.
  name   = "modelfleet-${filemd5(var.package_zip)}.zip"
  bucket = google_storage_bucket.sources.name
  source = var.package_zip
}

resource "google_cloudfunctions2_function" "modelfleet" {
  name     = var.name
  location = var.region

  build_config {
    runtime         = "nodejs22"
    entry_point     = "modelfleet"
    service_account = google_service_account.build.id
    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.package.name
      }
    }
  }

  service_config {
    min_instance_count               = var.min_instances
    max_instance_count               = var.max_instances
    max_instance_request_concurrency = var.concurrency
    available_cpu                    = var.cpu
    available_memory                 = var.memory
    timeout_seconds                  = var.timeout_seconds
    service_account_email            = google_service_account.function.email
    ingress_settings                 = "ALLOW_ALL"
    all_traffic_on_latest_revision   = var.promote_on_deploy
    environment_variables = {
      MODELFLEET_STAGE     = var.stage
      MODEL_REPOSITORY     = local.repository
      GOOGLE_CLOUD_PROJECT = var.project
      MAX_BODY_BYTES       = tostring(var.max_body_bytes)
    }
    # Never a plain environment variable: the hashes come from Secret Manager at instance start.
    secret_environment_variables {
      key        = "API_KEYS"
      project_id = var.project
      secret     = google_secret_manager_secret.api_keys.secret_id
      version    = var.api_keys_secret_version
    }
  }

  lifecycle {
    precondition {
      condition     = var.min_instances <= var.max_instances
      error_message = "min_instances must not exceed max_instances."
    }
  }

  depends_on = [
    google_project_service.apis,
    google_secret_manager_secret_iam_member.function_reads_keys,
    google_storage_bucket_iam_member.build_reads_sources,
  ]
}

resource "google_cloud_run_service_iam_member" "invokers" {
  for_each = toset(var.invoker_members)
  location = var.region
  service  = google_cloudfunctions2_function.modelfleet.name
  role     = "roles/run.invoker"
  member   = each.value
}

# ---- The rollout guard (issue 15): functions/gcp/guard.ts, HTTP target modelfleetGuard ----

resource "google_storage_bucket_object" "guard_package" {
  count  = local.guard_enabled ? 1 : 0
  name   = "guard-${filemd5(var.guard_package_zip)}.zip"
  bucket = google_storage_bucket.sources.name
  source = var.guard_package_zip
}

resource "google_cloudfunctions2_function" "guard" {
  count    = local.guard_enabled ? 1 : 0
  name     = "${var.name}-guard"
  location = var.region

  build_config {
    runtime         = "nodejs22"
    entry_point     = "modelfleetGuard"
    service_account = google_service_account.build.id
    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.guard_package[0].name
      }
    }
  }

  service_config {
    # One evaluation at a time: the executor's compare-and-swap makes overlaps safe, not useful.
    min_instance_count               = 0
    max_instance_count               = 1
    max_instance_request_concurrency = 1
    available_memory                 = "512Mi"
    timeout_seconds                  = 120
    service_account_email            = google_service_account.guard.email
    # Cloud Scheduler and Pub/Sub push in this project count as internal traffic.
    ingress_settings               = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true
    environment_variables = {
      MODELFLEET_STAGE     = var.stage
      MODEL_REPOSITORY     = local.repository
      GOOGLE_CLOUD_PROJECT = var.project
      # What the guard's Cloud Monitoring source reads: the log-based metrics of monitoring.tf.
      GUARD_METRIC_PREFIX = "${local.metric_type}/${var.name}_"
    }
  }

  depends_on = [google_project_service.apis, google_storage_bucket_iam_member.build_reads_sources]
}

resource "google_project_iam_member" "guard_reads_metrics" {
  count   = local.guard_enabled ? 1 : 0
  project = var.project
  role    = "roles/monitoring.viewer"
  member  = "serviceAccount:${google_service_account.guard.email}"
}

resource "google_cloud_run_service_iam_member" "invoker_calls_guard" {
  count    = local.guard_enabled ? 1 : 0
  location = var.region
  service  = google_cloudfunctions2_function.guard[0].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.invoker.email}"
}

# Every minute (guard_schedule): the guard evaluates each running model rollout and advances,
# holds or rolls back. The OIDC token is the only credential; the guard accepts no other caller.
resource "google_cloud_scheduler_job" "guard" {
  count            = local.guard_enabled ? 1 : 0
  name             = "${var.name}-guard"
  region           = var.region
  schedule         = var.guard_schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = "120s"
  retry_config {
    retry_count = 0
  }
  http_target {
    uri         = google_cloudfunctions2_function.guard[0].service_config[0].uri
    http_method = "POST"
    headers     = { "Content-Type" = "application/json" }
    body        = base64encode(jsonencode({ source = "schedule", stage = var.stage }))
    oidc_token {
      service_account_email = google_service_account.invoker.email
      audience              = google_cloudfunctions2_function.guard[0].service_config[0].uri
    }
  }
  depends_on = [google_project_service.apis]
}
