# Streaming on GCP (docs/streaming.md), a module beside the main stack like batch/: messages
# published to the records topic are pushed, one per request, to the stream function
# (functions/gcp/stream.ts, target modelfleetStream); results go to the results topic, poison records
# (with their error) to the dead-letters topic. A message the function keeps failing (store or sink
# down) is retried with backoff and, after max_delivery_attempts, forwarded by Pub/Sub itself to the
# same dead-letters topic.
#
# The subscription is this module's own push subscription, not the one an Eventarc trigger
# (event_trigger) would create: Eventarc manages that one, so Terraform could set neither its
# dead-letter policy nor its retry policy. functions-framework turns the push body (posted to
# /projects/<project>/topics/<topic>) into the same messagePublished CloudEvent Eventarc delivers
# (test/adapters/stream-entries.test.ts sends it that way).

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
  description = "Region of the function."
}

variable "name" {
  type        = string
  default     = "modelfleet-stream"
  description = "Name prefix of every resource of the stream pipeline (topics, subscriptions, function, accounts)."
}

variable "stage" {
  type        = string
  description = "MODELFLEET_STAGE: whose deployment decides the version of a record that names none."
}

variable "sources_bucket" {
  type        = string
  description = "Bucket of function sources (the main stack's google_storage_bucket.sources)."
}

variable "package_zip" {
  type        = string
  description = "The staged function package (npm run stage:gcp) holding dist/functions/gcp/stream.js."
}

variable "build_service_account" {
  type        = string
  default     = ""
  description = "Cloud Build identity of the function (the main stack's: projects/<p>/serviceAccounts/<name>-build@<p>.iam.gserviceaccount.com); empty = the platform's default, which may be the default compute account."
}

variable "models_bucket" {
  type        = string
  description = "Bucket of the model repository (read only here)."
}

variable "model_prefix" {
  type        = string
  default     = "models"
  description = "Prefix of the model repository in its bucket: MODEL_REPOSITORY = gs://<models_bucket>/<model_prefix>."
}

variable "stream_model" {
  type        = string
  default     = ""
  description = "STREAM_MODEL: the model of a record that names none (envelope or attribute); empty = records must name it."
}

variable "stream_format" {
  type        = string
  default     = "auto"
  description = "STREAM_FORMAT: how a message body is read (auto, oip, mlflow, tfserving, row)."
  validation {
    condition     = contains(["auto", "oip", "mlflow", "tfserving", "row"], var.stream_format)
    error_message = "stream_format: one of auto, oip, mlflow, tfserving, row."
  }
}

variable "max_instances" {
  type        = number
  default     = 10
  description = "Ceiling of function instances: bounds the load on the model store and the results topic."
}

variable "concurrency" {
  type        = number
  default     = 4
  description = "Messages scored at once per instance (inference runs on the event loop's thread)."
}

variable "timeout_seconds" {
  type        = number
  default     = 120
  description = "Function timeout, and the subscription's ack deadline (a push not answered by then is retried)."
  validation {
    condition     = var.timeout_seconds >= 10 && var.timeout_seconds <= 600
    error_message = "timeout_seconds: 10 to 600 (Pub/Sub's longest ack deadline)."
  }
}

variable "max_delivery_attempts" {
  type        = number
  default     = 5
  description = "Deliveries of a message before Pub/Sub forwards it to the dead-letters topic."
  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts: 5 to 100 (Pub/Sub's bounds)."
  }
}

variable "retention" {
  type        = string
  default     = "604800s"
  description = "How long unconsumed results and dead letters stay in their subscriptions."
}

data "google_project" "this" {
  project_id = var.project
}

locals {
  repository   = "gs://${var.models_bucket}/${var.model_prefix}"
  pubsub_agent = "service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

# ---- Topics: records in, results and dead letters out ----

resource "google_pubsub_topic" "records" {
  project = var.project
  name    = "${var.name}-records"
}

resource "google_pubsub_topic" "results" {
  project = var.project
  name    = "${var.name}-results"
}

resource "google_pubsub_topic" "dead_letters" {
  project = var.project
  name    = "${var.name}-dead-letters"
}

# A topic keeps nothing by itself: without these, results and dead letters published before a
# consumer subscribes would be dropped.
resource "google_pubsub_subscription" "results" {
  project                    = var.project
  name                       = "${var.name}-results"
  topic                      = google_pubsub_topic.results.id
  message_retention_duration = var.retention
  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription" "dead_letters" {
  project                    = var.project
  name                       = "${var.name}-dead-letters"
  topic                      = google_pubsub_topic.dead_letters.id
  message_retention_duration = var.retention
  expiration_policy {
    ttl = ""
  }
}

# ---- Identities: the function publishes and reads models; the push account only invokes ----

resource "google_service_account" "function" {
  project      = var.project
  account_id   = "${var.name}-fn"
  display_name = "modelfleet stream function (reads models, publishes results and dead letters)"
}

resource "google_service_account" "push" {
  project      = var.project
  account_id   = "${var.name}-push"
  display_name = "Pub/Sub push identity calling the stream function"
}

resource "google_storage_bucket_iam_member" "function_reads_models" {
  bucket = var.models_bucket
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.function.email}"
  condition {
    title = "model-repository-prefix"
    expression = join(" || ", [
      "resource.name.startsWith(\"projects/_/buckets/${var.models_bucket}/objects/${var.model_prefix}/\")",
      "api.getAttribute(\"storage.googleapis.com/objectListPrefix\", \"\").startsWith(\"${var.model_prefix}/\")",
    ])
  }
}

resource "google_pubsub_topic_iam_member" "function_publishes_results" {
  project = var.project
  topic   = google_pubsub_topic.results.name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.function.email}"
}

resource "google_pubsub_topic_iam_member" "function_publishes_dead_letters" {
  project = var.project
  topic   = google_pubsub_topic.dead_letters.name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.function.email}"
}

# Dead-lettering is done by the Pub/Sub service agent: it publishes the message to the dead-letters
# topic and acknowledges it on the records subscription, so it needs both roles, on those two only.
resource "google_pubsub_topic_iam_member" "pubsub_agent_forwards_dead_letters" {
  project = var.project
  topic   = google_pubsub_topic.dead_letters.name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${local.pubsub_agent}"
}

resource "google_pubsub_subscription_iam_member" "pubsub_agent_acknowledges_records" {
  project      = var.project
  subscription = google_pubsub_subscription.records.name
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:${local.pubsub_agent}"
}

# The agent mints the push account's OIDC tokens (granted by default only in newer projects).
resource "google_service_account_iam_member" "pubsub_agent_signs_push" {
  service_account_id = google_service_account.push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${local.pubsub_agent}"
}

# ---- The stream function ----

resource "google_storage_bucket_object" "package" {
  name   = "stream-${filemd5(var.package_zip)}.zip"
  bucket = var.sources_bucket
  source = var.package_zip
}

resource "google_cloudfunctions2_function" "stream" {
  project  = var.project
  name     = var.name
  location = var.region

  build_config {
    runtime         = "nodejs22"
    entry_point     = "modelfleetStream"
    service_account = var.build_service_account == "" ? null : var.build_service_account
    source {
      storage_source {
        bucket = var.sources_bucket
        object = google_storage_bucket_object.package.name
      }
    }
  }

  service_config {
    min_instance_count               = 0
    max_instance_count               = var.max_instances
    max_instance_request_concurrency = var.concurrency
    available_cpu                    = "1"
    available_memory                 = "2Gi"
    timeout_seconds                  = var.timeout_seconds
    service_account_email            = google_service_account.function.email
    # Pub/Sub push from this project is internal traffic; nothing else may reach the function.
    ingress_settings               = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true
    environment_variables = {
      MODELFLEET_STAGE     = var.stage
      MODEL_REPOSITORY     = local.repository
      GOOGLE_CLOUD_PROJECT = var.project
      STREAM_MODEL         = var.stream_model
      STREAM_FORMAT        = var.stream_format
      STREAM_SINK          = "pubsub:${google_pubsub_topic.results.id}"
      STREAM_DEAD_LETTER   = "pubsub:${google_pubsub_topic.dead_letters.id}"
    }
  }

  depends_on = [
    google_storage_bucket_iam_member.function_reads_models,
    google_pubsub_topic_iam_member.function_publishes_results,
    google_pubsub_topic_iam_member.function_publishes_dead_letters,
  ]
}

resource "google_cloud_run_service_iam_member" "push_invokes_function" {
  project  = var.project
  location = var.region
  service  = google_cloudfunctions2_function.stream.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.push.email}"
}

# One message per push request. A 2xx acknowledges (scored, or a poison record written to the
# dead-letters topic with its error); anything else is redelivered with exponential backoff, and
# after max_delivery_attempts Pub/Sub forwards the message itself to the dead-letters topic.
resource "google_pubsub_subscription" "records" {
  project              = var.project
  name                 = "${var.name}-records"
  topic                = google_pubsub_topic.records.id
  ack_deadline_seconds = var.timeout_seconds
  push_config {
    push_endpoint = "${google_cloudfunctions2_function.stream.service_config[0].uri}/${google_pubsub_topic.records.id}"
    oidc_token {
      service_account_email = google_service_account.push.email
      audience              = google_cloudfunctions2_function.stream.service_config[0].uri
    }
  }
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letters.id
    max_delivery_attempts = var.max_delivery_attempts
  }
  expiration_policy {
    ttl = ""
  }
  depends_on = [
    google_cloud_run_service_iam_member.push_invokes_function,
    google_pubsub_topic_iam_member.pubsub_agent_forwards_dead_letters,
  ]
}

output "records_topic" {
  description = "Publish records here (gcloud pubsub topics publish <this> --message=... --attribute=model=iris)."
  value       = google_pubsub_topic.records.id
}

output "results_subscription" {
  description = "Pull results from here (STREAM_SINK's topic)."
  value       = google_pubsub_subscription.results.id
}

output "dead_letters_subscription" {
  description = "Pull dead letters from here: the function's (JSON with the error) and Pub/Sub's (the message as published, after max_delivery_attempts)."
  value       = google_pubsub_subscription.dead_letters.id
}

output "function_url" {
  description = "The stream function's address (internal ingress: only the push subscription reaches it)."
  value       = google_cloudfunctions2_function.stream.service_config[0].uri
}
