variable "name" {
  description = "Prefix of every resource's name, e.g. invoices-production; bucket names add the account ID."
  type        = string
}

variable "kms_key_arn" {
  description = "Key that encrypts the PDFs."
  type        = string
}

variable "noncurrent_version_days" {
  description = "Days an overwritten or deleted PDF's old version is kept before it expires."
  type        = number
  default     = 90
}

variable "access_log_days" {
  description = "Days S3 server access logs and ALB access logs are kept."
  type        = number
  default     = 365
}
