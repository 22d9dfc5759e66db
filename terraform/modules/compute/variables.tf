variable "name" {
  description = "Prefix of every resource's name, e.g. invoices-production."
  type        = string
}

variable "app_env" {
  description = "APP_ENV. `production` in every deployed environment (staging included), so that the binaries' production checks apply there too."
  type        = string
  default     = "production"
}

# --- Network -------------------------------------------------------------------------------------

variable "vpc_id" {
  description = "The VPC."
  type        = string
}

variable "vpc_cidr_block" {
  description = "The VPC's range (the tasks' egress to the database and the ALB's to the tasks)."
  type        = string
}

variable "public_subnet_ids" {
  description = "Subnets of the ALB."
  type        = list(string)
}

variable "private_subnet_ids" {
  description = "Subnets of the tasks."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "Key of the log groups and of the secrets and PDFs the tasks read."
  type        = string
}

# --- The public endpoint -------------------------------------------------------------------------

variable "domain" {
  description = "Host name of the API and the hosted invoice pages (PUBLIC_BASE_URL is https://<domain>)."
  type        = string
}

variable "route53_zone_id" {
  description = "Hosted zone of the domain, for the certificate's validation and the ALB's alias record; empty: do both by hand."
  type        = string
  default     = ""
}

variable "alb_log_bucket" {
  description = "Bucket of the ALB's access logs (written under alb/)."
  type        = string
}

variable "waf_auth_requests_per_5_minutes" {
  description = "Requests per client IP per 5 minutes to /api/auth/* before WAF blocks (the API's own login throttles still apply below it)."
  type        = number
  default     = 300
}

variable "waf_public_requests_per_5_minutes" {
  description = "Requests per client IP per 5 minutes to /api/public/* and the hosted pages /i/* before WAF blocks."
  type        = number
  default     = 1500
}

# --- Images and sizes ----------------------------------------------------------------------------

variable "api_image" {
  description = "Image of invoice-api (its entrypoint the binary, the built web app at web_dist), by digest or immutable tag."
  type        = string
}

variable "worker_image" {
  description = "Image of invoice-worker (its entrypoint the binary), by digest or immutable tag."
  type        = string
}

variable "temporal_cli_image" {
  description = "An image with the `temporal` CLI and a POSIX shell, for registering the search attributes."
  type        = string
}

variable "web_dist" {
  description = "WEB_DIST: where the API image holds the built web app (frontend/dist)."
  type        = string
  default     = "/app/web"
}

variable "api_cpu" {
  description = "CPU units of an API task."
  type        = number
  default     = 512
}

variable "api_memory" {
  description = "Memory (MiB) of an API task."
  type        = number
  default     = 1024
}

variable "worker_cpu" {
  description = "CPU units of a worker task (it renders PDFs)."
  type        = number
  default     = 1024
}

variable "worker_memory" {
  description = "Memory (MiB) of a worker task."
  type        = number
  default     = 2048
}

variable "api_min_count" {
  description = "Fewest API tasks (two or more spread them over zones)."
  type        = number
  default     = 2
}

variable "api_max_count" {
  description = "Most API tasks."
  type        = number
  default     = 10
}

variable "worker_min_count" {
  description = "Fewest worker tasks (two or more, for availability)."
  type        = number
  default     = 2
}

variable "worker_max_count" {
  description = "Most worker tasks."
  type        = number
  default     = 10
}

variable "api_requests_per_target" {
  description = "Target of ALBRequestCountPerTarget (requests per API task per minute) for autoscaling."
  type        = number
  default     = 1000
}

variable "cpu_target_percent" {
  description = "Average CPU the API and worker services are scaled to."
  type        = number
  default     = 60
}

variable "worker_backlog_metric" {
  description = "CloudWatch metric of the Temporal task queue's backlog that the worker scales on, and its target value. The workers publish BacklogAgeSeconds (and the counts) in this namespace with the dimension TaskQueue (added here); extra dimensions are merged in."
  type = object({
    namespace  = string
    name       = string
    statistic  = string
    dimensions = map(string)
    target     = number
  })
  default = {
    namespace  = "InvoicePlatform/Temporal"
    name       = "BacklogAgeSeconds"
    statistic  = "Average"
    dimensions = {}
    target     = 5
  }
}

variable "log_retention_days" {
  description = "Retention of the tasks' and WAF's log groups."
  type        = number
  default     = 365
}

# --- What the binaries are configured with -------------------------------------------------------

variable "payment_provider" {
  description = "PAYMENT_PROVIDER: `stripe` or `none` (`test` is refused in production)."
  type        = string
}

variable "temporal_address" {
  description = "TEMPORAL_ADDRESS, e.g. <namespace>.<account>.tmprl.cloud:7233 (mTLS) or <region>.<cloud>.api.temporal.io:7233 (API key)."
  type        = string
}

variable "temporal_namespace" {
  description = "TEMPORAL_NAMESPACE, e.g. invoices-production.<account>."
  type        = string
}

variable "temporal_task_queue" {
  description = "TEMPORAL_TASK_QUEUE."
  type        = string
  default     = "invoices"
}

variable "secret_arns" {
  description = "Secret ARN by environment variable name, from the secrets module."
  type        = map(string)
}

variable "pdf_bucket_name" {
  description = "S3_BUCKET."
  type        = string
}

variable "pdf_bucket_arn" {
  description = "ARN of the PDF bucket."
  type        = string
}

variable "email_from" {
  description = "EMAIL_FROM: `Name <address>` at the SES domain."
  type        = string
}

variable "ses_configuration_set" {
  description = "SES_CONFIGURATION_SET."
  type        = string
}

variable "ses_events_queue_url" {
  description = "SES_EVENTS_QUEUE_URL: the queue of SES bounce and complaint events the worker reads."
  type        = string
}

variable "ses_events_queue_arn" {
  description = "ARN of the SES events queue (the worker receives and deletes its messages)."
  type        = string
}

variable "ses_configuration_set_arn" {
  description = "ARN of the SES configuration set."
  type        = string
}

variable "ses_identity_arn" {
  description = "ARN of the SES domain identity the worker sends from."
  type        = string
}

variable "email_daily_quota_per_org" {
  description = "EMAIL_DAILY_QUOTA_PER_ORG."
  type        = number
  default     = 500
}

variable "otlp_endpoint" {
  description = "OTEL_EXPORTER_OTLP_ENDPOINT: an OpenTelemetry collector's OTLP/HTTP endpoint for traces (e.g. an ADOT sidecar, http://127.0.0.1:4318); empty for none."
  type        = string
  default     = ""
}

variable "temporal_ui_url" {
  description = "TEMPORAL_UI_URL: the Temporal UI support staff read runs in (https, e.g. https://temporal.example.com on the API's site, so the codec cookie reaches it); empty for none."
  type        = string
  default     = ""
}
