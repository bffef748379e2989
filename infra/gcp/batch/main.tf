# Batch scoring on GCP (docs/batch.md), a module beside the main stack: objects finalized under
# incoming/ of the batch bucket start a Cloud Workflow (Eventarc) that calls the batch function
# (functions/gcp/batch.ts, target modelfleetBatch) step by step: small objects whole, large ones
# plan → a parallel for over the chunks (each the CLI's chunk worker) → finish. Predictions go to
# predictions/<name>/ of the same bucket.

terraform {
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0"
    }
  }
}

variable "project" {
  type        = string
  description = "GCP project id."
}

variable "region" {
  type        = string
  description = "Region of the function, the workflow and the bucket."
}

variable "name" {
  type        = string
  default     = "modelfleet-batch"
  description = "Name prefix of every resource of the batch pipeline."
}

variable "stage" {
  type        = string
  description = "MODELFLEET_STAGE: whose deployment decides the version (its primary)."
}

variable "sources_bucket" {
  type        = string
  description = "Bucket of function sources (the main stack's google_storage_bucket.sources)."
}

variable "package_zip" {
  type        = string
  description = "The staged function package (npm run stage:gcp) holding dist/functions/gcp/batch.js."
}

variable "models_bucket" {
  type        = string
  description = "Bucket of the model repository (read only here)."
}

variable "model_repository" {
  type        = string
  description = "MODEL_REPOSITORY, gs://<models_bucket>/<prefix>."
}

variable "batch_model" {
  type        = string
  description = "BATCH_MODEL: the model that scores every input."
}

variable "small_object_bytes" {
  type        = number
  default     = 67108864
  description = "Inputs smaller than this are scored by one call; larger ones are fanned out."
}

variable "chunk_bytes" {
  type        = number
  default     = 8388608
  description = "Input bytes per chunk (BATCH_CHUNK_BYTES)."
}

variable "max_parallel" {
  type        = number
  default     = 50
  description = "Chunks scored at once by the workflow's parallel for."
}

data "google_storage_project_service_account" "gcs" {
  project = var.project
}

resource "google_storage_bucket" "batch" {
  name                        = "${var.project}-${var.name}"
  project                     = var.project
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
}

resource "google_service_account" "function" {
  project      = var.project
  account_id   = "${var.name}-fn"
  display_name = "modelfleet batch function"
}

resource "google_service_account" "workflow" {
  project      = var.project
  account_id   = "${var.name}-wf"
  display_name = "modelfleet batch workflow"
}

resource "google_service_account" "trigger" {
  project      = var.project
  account_id   = "${var.name}-tr"
  display_name = "modelfleet batch Eventarc trigger"
}

# The function reads models and reads/writes objects of the batch bucket, nothing else.
resource "google_storage_bucket_iam_member" "function_reads_models" {
  bucket = var.models_bucket
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.function.email}"
}

resource "google_storage_bucket_iam_member" "function_uses_batch" {
  bucket = google_storage_bucket.batch.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.function.email}"
}

resource "google_storage_bucket_object" "package" {
  name   = "batch-${filemd5(var.package_zip)}.zip"
  bucket = var.sources_bucket
  source = var.package_zip
}

resource "google_cloudfunctions2_function" "batch" {
  project  = var.project
  name     = var.name
  location = var.region

  build_config {
    runtime     = "nodejs22"
    entry_point = "modelfleetBatch"
    source {
      storage_source {
        bucket = var.sources_bucket
        object = google_storage_bucket_object.package.name
      }
    }
  }

  service_config {
    max_instance_count    = var.max_parallel
    available_memory      = "2Gi"
    available_cpu         = "1"
    timeout_seconds       = 3600
    service_account_email = google_service_account.function.email
    ingress_settings      = "ALLOW_INTERNAL_ONLY"
    environment_variables = {
      MODELFLEET_STAGE         = var.stage
      MODEL_REPOSITORY         = var.model_repository
      BATCH_MODEL              = var.batch_model
      BATCH_OUTPUT             = "gs://${google_storage_bucket.batch.name}/predictions"
      BATCH_CHUNK_BYTES        = tostring(var.chunk_bytes)
      BATCH_SMALL_OBJECT_BYTES = tostring(var.small_object_bytes)
    }
  }
}

# Only the workflow may call the function.
resource "google_cloud_run_service_iam_member" "workflow_invokes_function" {
  project  = var.project
  location = var.region
  service  = google_cloudfunctions2_function.batch.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.workflow.email}"
}

resource "google_workflows_workflow" "batch" {
  project         = var.project
  name            = var.name
  region          = var.region
  service_account = google_service_account.workflow.id
  source_contents = <<-YAML
    main:
      params: [event]
      steps:
        - init:
            assign:
              - bucket: $${event.data.bucket}
              - name: $${event.data.name}
              - size: $${int(event.data.size)}
              - url: "${google_cloudfunctions2_function.batch.service_config[0].uri}"
        - route:
            switch:
              - condition: $${not text.match_regex(name, "^incoming/")}
                next: end
              - condition: $${size < ${var.small_object_bytes}}
                next: whole
        - plan:
            call: http.post
            args:
              url: $${url}
              auth: { type: OIDC }
              body: { step: plan, bucket: $${bucket}, name: $${name} }
            result: planned
        - chunks:
            parallel:
              concurrency_limit: ${var.max_parallel}
              for:
                value: index
                range: $${[0, planned.body.chunks - 1]}
                steps:
                  - chunk:
                      call: http.post
                      args:
                        url: $${url}
                        auth: { type: OIDC }
                        body: { step: chunk, out: $${planned.body.out}, index: $${index} }
                        timeout: 1800
                      retry: $${http.default_retry}
        - finish:
            call: http.post
            args:
              url: $${url}
              auth: { type: OIDC }
              body: { step: finish, out: $${planned.body.out} }
            result: finished
            next: done
        - whole:
            call: http.post
            args:
              url: $${url}
              auth: { type: OIDC }
              body: { step: whole, bucket: $${bucket}, name: $${name} }
              timeout: 1800
            result: finished
        - done:
            return: $${finished.body}
  YAML
}

# Eventarc delivers GCS events through Pub/Sub: the GCS service agent publishes them.
resource "google_project_iam_member" "gcs_publishes_events" {
  project = var.project
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
}

resource "google_project_iam_member" "trigger_receives_events" {
  project = var.project
  role    = "roles/eventarc.eventReceiver"
  member  = "serviceAccount:${google_service_account.trigger.email}"
}

# Workflows has no per-workflow IAM resource: the invoker role is granted on the project, to an
# account that does nothing else.
resource "google_project_iam_member" "trigger_starts_workflow" {
  project = var.project
  role    = "roles/workflows.invoker"
  member  = "serviceAccount:${google_service_account.trigger.email}"
}

resource "google_eventarc_trigger" "object_finalized" {
  project         = var.project
  name            = var.name
  location        = var.region
  service_account = google_service_account.trigger.email
  matching_criteria {
    attribute = "type"
    value     = "google.cloud.storage.object.v1.finalized"
  }
  matching_criteria {
    attribute = "bucket"
    value     = google_storage_bucket.batch.name
  }
  destination {
    workflow = google_workflows_workflow.batch.id
  }
  depends_on = [google_project_iam_member.gcs_publishes_events]
}

output "batch_input" {
  description = "Put .csv, .jsonl or .parquet objects here to score them."
  value       = "gs://${google_storage_bucket.batch.name}/incoming/"
}
