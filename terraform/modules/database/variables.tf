variable "name" {
  description = "Prefix of every resource's name, e.g. invoices-production."
  type        = string
}

variable "vpc_id" {
  description = "The VPC the database lives in."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets, two zones at least."
  type        = list(string)
}

variable "client_security_group_ids" {
  description = "Security groups allowed to connect on 5432 (the API's, the worker's, the one-shot tasks')."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "Key that encrypts the storage, Performance Insights and the log groups."
  type        = string
}

variable "engine_version" {
  description = "PostgreSQL major version; minor versions are applied in the maintenance window."
  type        = string
  default     = "16"
}

variable "instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "allocated_storage_gb" {
  description = "Initial storage; grows on its own up to max_allocated_storage_gb."
  type        = number
  default     = 50
}

variable "max_allocated_storage_gb" {
  description = "Ceiling of storage autoscaling."
  type        = number
  default     = 500
}

variable "multi_az" {
  description = "A synchronous standby in another zone with automatic failover. Production: true."
  type        = bool
  default     = true
}

variable "backup_retention_days" {
  description = "Days of automated backups, i.e. how far back point-in-time recovery reaches."
  type        = number
  default     = 14
}

variable "database_name" {
  description = "The database the binaries use."
  type        = string
  default     = "invoices"
}

variable "username" {
  description = "The master user (the binaries connect as it: `invoice-api migrate` needs DDL)."
  type        = string
  default     = "invoices"
}

variable "log_retention_days" {
  description = "Retention of the exported PostgreSQL logs."
  type        = number
  default     = 365
}
