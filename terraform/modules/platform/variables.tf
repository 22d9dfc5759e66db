# The inputs of an environment (envs/*). The environments pass the shared ones through from
# their terraform.tfvars (a null there takes the default here) and set the sizes and redundancy.

variable "environment" {
  description = "The environment's name, part of every resource's name."
  type        = string
}

# --- What differs between the environments ----------------------------------------------------

variable "availability_zones" {
  description = "Availability zones to span (2 or 3), in the provider's region."
  type        = list(string)
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper) instead of one per zone."
  type        = bool
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
}

variable "multi_az" {
  description = "A Multi-AZ database (a standby in another zone)."
  type        = bool
}

variable "backup_retention_days" {
  description = "Days of database backups (point-in-time recovery window)."
  type        = number
}

variable "api_min_count" {
  description = "Fewest API tasks."
  type        = number
}

variable "api_max_count" {
  description = "Most API tasks."
  type        = number
}

variable "worker_min_count" {
  description = "Fewest worker tasks."
  type        = number
}

variable "worker_max_count" {
  description = "Most worker tasks."
  type        = number
}

variable "log_retention_days" {
  description = "Retention of every log group."
  type        = number
}

# --- The same in every environment ------------------------------------------------------------

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
  nullable    = false
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
  nullable    = false

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
  nullable    = false

  validation {
    condition     = contains(["api_key", "mtls"], var.temporal_auth)
    error_message = "temporal_auth must be `api_key` or `mtls`."
  }
}

variable "alarm_emails" {
  description = "Addresses the CloudWatch alarms are sent to."
  type        = list(string)
  default     = []
  nullable    = false
}
