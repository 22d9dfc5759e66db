# This environment's inputs (terraform.tfvars). The sizes and retention have their defaults
# here; the rest go to ../../modules/platform as they are, whose variables.tf describes,
# types and validates them (a null default here means the platform's default).

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

# Required.
variable "domain" { type = string }
variable "email_domain" { type = string }
variable "email_from" { type = string }
variable "api_image" { type = string }
variable "worker_image" { type = string }
variable "temporal_cli_image" { type = string }
variable "temporal_address" { type = string }
variable "temporal_namespace" { type = string }

# Optional.
variable "route53_zone_id" { default = null }
variable "payment_provider" { default = null }
variable "temporal_auth" { default = null }
variable "alarm_emails" { default = null }
