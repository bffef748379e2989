locals {
  model_bucket     = var.model_bucket != "" ? var.model_bucket : "${var.project}-${var.name}-models"
  repository       = "gs://${local.model_bucket}/${var.model_prefix}"
  guard_enabled    = var.guard_package_zip != ""
  monitoring_agent = "service-${data.google_project.this.number}@gcp-sa-monitoring-notification.iam.gserviceaccount.com"
  pubsub_agent     = "service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  # Reads of the repository only: objects under the prefix, and listings that ask for that prefix
  # (the JSON API checks a listing against the bucket, with the requested prefix as an attribute).
  repository_condition = join(" || ", [
    "resource.name.startsWith(\"projects/_/buckets/${local.model_bucket}/objects/${var.model_prefix}/\")",
    "api.getAttribute(\"storage.googleapis.com/objectListPrefix\", \"\").startsWith(\"${var.model_prefix}/\")",
  ])
}

resource "google_project_service" "apis" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ])
  service            = each.value
  disable_on_destroy = false
}

# ---- Identities: one per job, none with a basic role (the default compute account has Editor) ----

resource "google_service_account" "function" {
  account_id   = "${var.name}-fn"
  display_name = "modelfleet inference function (reads the model repository)"
}

resource "google_service_account" "guard" {
  account_id   = "${var.name}-guard"
  display_name = "modelfleet rollout guard (reads metrics, writes deployment configs)"
}

resource "google_service_account" "invoker" {
  account_id   = "${var.name}-invoker"
  display_name = "Cloud Scheduler and Pub/Sub push identity calling the rollout guard"
}

resource "google_service_account" "build" {
  account_id   = "${var.name}-build"
  display_name = "Cloud Build identity building the functions from the staged source"
}

resource "google_project_iam_member" "build_logs" {
  project = var.project
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.build.email}"
}

resource "google_project_iam_member" "build_images" {
  project = var.project
  role    = "roles/artifactregistry.writer"
  member  = "serviceAccount:${google_service_account.build.email}"
}

resource "google_storage_bucket_iam_member" "build_reads_sources" {
  bucket = google_storage_bucket.sources.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.build.email}"
}

# ---- Storage: the model repository and the staged sources, private and versioned ----

resource "google_storage_bucket" "models" {
  name                        = local.model_bucket
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  versioning {
    enabled = true
  }
  # A deleted or overwritten model file stays restorable for 30 days (docs/operations.md).
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }
  lifecycle {
    prevent_destroy = true
  }
}

resource "google_storage_bucket" "sources" {
  name                        = "${var.project}-${var.name}-sources"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  versioning {
    enabled = true
  }
  lifecycle_rule {
    condition {
      age = 90
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_storage_bucket_iam_member" "function_reads_models" {
  bucket = google_storage_bucket.models.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.function.email}"
  condition {
    title      = "model-repository-prefix"
    expression = local.repository_condition
  }
}

resource "google_storage_bucket_iam_member" "guard_writes_models" {
  bucket = google_storage_bucket.models.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.guard.email}"
  condition {
    title      = "model-repository-prefix"
    expression = local.repository_condition
  }
}

# ---- API key hashes: Secret Manager, mounted as API_KEYS, readable by the two functions only ----

resource "google_secret_manager_secret" "api_keys" {
  secret_id = "${var.name}-api-keys"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "api_keys" {
  count       = var.api_key_hashes == "" ? 0 : 1
  secret      = google_secret_manager_secret.api_keys.id
  secret_data = var.api_key_hashes
}

resource "google_secret_manager_secret_iam_member" "function_reads_keys" {
  secret_id = google_secret_manager_secret.api_keys.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.function.email}"
}
