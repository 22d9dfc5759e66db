variable "aws_region" {
  description = "Region of everything (also AWS_REGION for the binaries: S3 and SES)."
  type        = string
  default     = "eu-west-1"
}

variable "environment" {
  description = "The environment's name, part of every resource's name."
  type        = string
  default     = "staging"
}

variable "domain" {
  description = "Host name of the API and hosted invoice pages, e.g. invoices.example.com."
  type        = string
}

variable "email_domain" {
  description = "The SES sending domain, e.g. example.com (EMAIL_FROM's address is at it)."
  type        = string
}

variable "email_from" {
  description = "EMAIL_FROM, e.g. `Example Invoices <invoices@example.com>`."
  type        = string
}

variable "route53_zone_id" {
  description = "Hosted zone of domain and email_domain; empty: publish the certificate and DKIM records by hand (see the outputs)."
  type        = string
  default     = ""
}

variable "api_image" {
  description = "invoice-api image, e.g. <account>.dkr.ecr.<region>.amazonaws.com/invoice-api@sha256:..."
  type        = string
}

variable "worker_image" {
  description = "invoice-worker image."
  type        = string
}

variable "temporal_cli_image" {
  description = "An image with the `temporal` CLI and sh, for registering the search attributes."
  type        = string
}

variable "payment_provider" {
  description = "PAYMENT_PROVIDER: `stripe` or `none`."
  type        = string
  default     = "stripe"

  validation {
    condition     = contains(["stripe", "none"], var.payment_provider)
    error_message = "payment_provider must be `stripe` or `none`; the binaries refuse `test` in production."
  }
}

variable "temporal_address" {
  description = "TEMPORAL_ADDRESS of the Temporal Cloud namespace (or a self-hosted frontend)."
  type        = string
}

variable "temporal_namespace" {
  description = "TEMPORAL_NAMESPACE."
  type        = string
}

variable "temporal_auth" {
  description = "`api_key` (TEMPORAL_API_KEY) or `mtls` (TEMPORAL_TLS_CLIENT_CERT_DATA and _KEY_DATA)."
  type        = string
  default     = "api_key"

  validation {
    condition     = contains(["api_key", "mtls"], var.temporal_auth)
    error_message = "temporal_auth must be `api_key` or `mtls`."
  }
}

variable "alarm_emails" {
  description = "Addresses the CloudWatch alarms are sent to."
  type        = list(string)
  default     = []
}

variable "availability_zones" {
  description = "Availability zones to span (2 or 3), in aws_region."
  type        = list(string)
  default     = ["eu-west-1a", "eu-west-1b"]
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "api_min_count" {
  description = "Fewest API tasks."
  type        = number
  default     = 2
}

variable "api_max_count" {
  description = "Most API tasks."
  type        = number
  default     = 4
}

variable "worker_min_count" {
  description = "Fewest worker tasks."
  type        = number
  default     = 2
}

variable "worker_max_count" {
  description = "Most worker tasks."
  type        = number
  default     = 4
}

variable "log_retention_days" {
  description = "Retention of every log group (a year: enough for an audit looking back over one)."
  type        = number
  default     = 365
}
