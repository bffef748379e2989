variable "project" {
  description = "Google Cloud project id."
  type        = string
}

variable "region" {
  description = "Region of the functions, the buckets and the scheduler job."
  type        = string
  default     = "us-central1"
}

variable "name" {
  description = "Prefix of every resource name (service accounts: at most 16 characters with a suffix)."
  type        = string
  default     = "modelfleet"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,14}$", var.name))
    error_message = "name: 3-15 lower-case letters, digits or '-', starting with a letter."
  }
}

variable "stage" {
  description = "MODELFLEET_STAGE: which deployments/<stage>.json the functions serve."
  type        = string
  default     = "prod"
}

variable "package_zip" {
  description = "The staged inference package (npm run stage:gcp)."
  type        = string
  default     = "../../.stage/gcp/modelfleet.zip"
}

variable "guard_package_zip" {
  description = "The staged rollout-guard package (functions/gcp/guard.ts, target modelfleetGuard); empty: no guard, no scheduler, no alert push."
  type        = string
  default     = "../../.stage/gcp/guard.zip"
}

variable "model_bucket" {
  description = "Name of the models bucket the stack creates; empty: <project>-<name>-models."
  type        = string
  default     = ""
}

variable "model_prefix" {
  description = "Object prefix of the model repository in the bucket."
  type        = string
  default     = "models"
  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._-]*$", var.model_prefix))
    error_message = "model_prefix: one path segment, no '/'."
  }
}

variable "min_instances" {
  description = "Instances kept warm (Cloud Run min instances): the floor, billed while idle."
  type        = number
  default     = 1
}

variable "max_instances" {
  description = "Hard ceiling of instances: the cost and blast-radius bound."
  type        = number
  default     = 50
  validation {
    condition     = var.max_instances >= 1 && var.max_instances <= 1000
    error_message = "max_instances: 1-1000."
  }
}

variable "concurrency" {
  description = "Requests one instance serves at once. onnxruntime runs on the calling thread, so more than a few per vCPU only queues."
  type        = number
  default     = 4
  validation {
    condition     = var.concurrency >= 1 && var.concurrency <= 80
    error_message = "concurrency: 1-80."
  }
}

variable "cpu" {
  description = "vCPUs per instance (concurrency above 1 needs at least 1)."
  type        = string
  default     = "1"
}

variable "memory" {
  description = "Memory per instance: the loaded models plus the artifact cache in /tmp (in memory on Cloud Run)."
  type        = string
  default     = "2Gi"
}

variable "timeout_seconds" {
  description = "Request timeout of the inference function."
  type        = number
  default     = 60
}

variable "max_body_bytes" {
  description = "MAX_BODY_BYTES of the core (Cloud Run accepts 32 MiB)."
  type        = number
  default     = 6291456
}

variable "promote_on_deploy" {
  description = "true: a deploy sends all traffic to the new revision at once. false (prod): traffic stays where it was pinned and the new revision is rolled out by the canary procedure in README.md."
  type        = bool
  default     = false
}

variable "invoker_members" {
  description = "Who may call the inference function. allUsers: the core's API keys are the authentication (as with Azure's anonymous trigger); use service accounts to keep it private."
  type        = list(string)
  default     = ["allUsers"]
}

variable "api_keys_secret_version" {
  description = "Secret Manager version of the API key hashes the functions read (pin a number in prod)."
  type        = string
  default     = "latest"
}

variable "api_key_hashes" {
  description = "Optional first value of the key-hash secret (name:scopes:sha256,...); leave empty and add versions with gcloud to keep it out of the state."
  type        = string
  default     = ""
  sensitive   = true
}

variable "guard_schedule" {
  description = "Cron of the rollout guard's evaluations (Cloud Scheduler, UTC)."
  type        = string
  default     = "* * * * *"
}

variable "alert_error_rate" {
  description = "Per-variant share of server errors (0-1) above which a model rollout is rolled back. Keep it below the canary weight."
  type        = number
  default     = 0.05
  validation {
    condition     = var.alert_error_rate > 0 && var.alert_error_rate < 1
    error_message = "alert_error_rate: a fraction between 0 and 1."
  }
}

variable "alert_latency_p99_ms" {
  description = "Per-variant p99 of warm requests, in ms, above which a model rollout is rolled back."
  type        = number
  default     = 1000
}

variable "alert_window_seconds" {
  description = "How long a condition must hold before the alert fires."
  type        = number
  default     = 120
}

variable "drift_psi_threshold" {
  description = "Population stability index of a feature (the largest per variant and drift window) at or above which the operator is told the inputs drifted. Serving computes PSI against the package's baseline (DRIFT_PSI_THRESHOLD on the function should match)."
  type        = number
  default     = 0.2
  validation {
    condition     = var.drift_psi_threshold > 0
    error_message = "drift_psi_threshold: a positive number (0.1 moderate, 0.2 significant, 0.25+ large shift)."
  }
}

variable "operator_email" {
  description = "Who is told when a code rollout (a new revision) fails: a person rolls it back (README.md)."
  type        = string
  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+$", var.operator_email))
    error_message = "operator_email: an e-mail address."
  }
}
