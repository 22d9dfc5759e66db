variable "name" {
  description = "Prefix of every secret's name, e.g. invoices-production."
  type        = string
}

variable "kms_key_arn" {
  description = "Key that encrypts the secrets."
  type        = string
}

variable "database_url" {
  description = "DATABASE_URL, from the database module."
  type        = string
  sensitive   = true
}

variable "payment_provider" {
  description = "PAYMENT_PROVIDER: `stripe` creates the Stripe secrets, `none` does not."
  type        = string
}

variable "temporal_auth" {
  description = "How the binaries authenticate to Temporal: `api_key` (Temporal Cloud's default) or `mtls`."
  type        = string
}
