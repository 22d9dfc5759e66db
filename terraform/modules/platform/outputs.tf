output "alb_dns_name" {
  description = "Point the domain here when Route 53 is not used."
  value       = module.compute.alb_dns_name
}

output "certificate_validation_records" {
  description = "Publish these when Route 53 is not used; the HTTPS listener waits for the certificate."
  value       = module.compute.certificate_validation_records
}

output "dkim_records" {
  description = "SES DKIM CNAMEs, to publish when Route 53 is not used."
  value       = module.email.dkim_records
}

output "secrets_to_fill" {
  description = "Secrets to fill with `aws secretsmanager put-secret-value` before the first deployment."
  value       = module.secrets.external_secret_names
}

output "cluster_name" {
  description = "The ECS cluster."
  value       = module.compute.cluster_name
}

output "one_shot_task_definitions" {
  description = "Run these with `aws ecs run-task` before deploying a new version."
  value       = module.compute.one_shot_task_definitions
}

output "one_shot_network" {
  description = "--network-configuration for the one-shot tasks."
  value       = module.compute.one_shot_network
}

output "pdf_bucket" {
  description = "S3_BUCKET."
  value       = module.storage.pdf_bucket_name
}

output "nat_public_ips" {
  description = "Where the tasks' outbound traffic comes from (for IP allowlists)."
  value       = module.network.nat_public_ips
}

output "alarm_topic_arn" {
  description = "Subscribe a pager here."
  value       = module.monitoring.alarm_topic_arn
}
