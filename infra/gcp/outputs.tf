output "url" {
  description = "HTTPS address of the inference function."
  value       = google_cloudfunctions2_function.modelfleet.service_config[0].uri
}

output "service" {
  description = "The Cloud Run service under the function: where revisions and traffic are managed."
  value       = google_cloudfunctions2_function.modelfleet.name
}

output "model_repository" {
  description = "MODEL_REPOSITORY for the CLI (modelfleet publish/canary/rollout)."
  value       = local.repository
}

output "api_keys_secret" {
  description = "Add key-hash versions with: gcloud secrets versions add <this> --data-file=-"
  value       = google_secret_manager_secret.api_keys.secret_id
}

output "guard_url" {
  description = "The rollout guard (internal ingress), empty without it."
  value       = local.guard_enabled ? google_cloudfunctions2_function.guard[0].service_config[0].uri : ""
}
