variable "name" {
  description = "Prefix of every resource's name, e.g. invoices-production."
  type        = string
}

variable "kms_key_arn" {
  description = "Key that encrypts the alarm topic."
  type        = string
}

variable "alarm_emails" {
  description = "Addresses subscribed to the alarm topic (each confirms by email); a pager can subscribe to the topic too."
  type        = list(string)
  default     = []
}

variable "alb_arn_suffix" {
  description = "The ALB's ARN suffix."
  type        = string
}

variable "target_group_arn_suffix" {
  description = "The API target group's ARN suffix."
  type        = string
}

variable "db_instance_id" {
  description = "The RDS instance identifier."
  type        = string
}

variable "bounce_queue_name" {
  description = "The SES events (bounces, complaints) queue."
  type        = string
}

variable "bounce_dlq_name" {
  description = "Its dead-letter queue."
  type        = string
}

variable "error_rate_percent" {
  description = "Alarm when more than this share of requests answer 5xx over 5 minutes."
  type        = number
  default     = 2
}

variable "p95_latency_seconds" {
  description = "Alarm when the API's p95 response time stays above this."
  type        = number
  default     = 1.5
}

variable "db_cpu_percent" {
  description = "Alarm when the database's CPU stays above this."
  type        = number
  default     = 80
}

variable "db_free_storage_bytes" {
  description = "Alarm when the database's free storage falls below this."
  type        = number
  default     = 10737418240 # 10 GiB
}

variable "bounce_queue_max_age_seconds" {
  description = "Alarm when the oldest bounce or complaint has waited longer than this."
  type        = number
  default     = 3600
}

variable "bounce_queue_max_depth" {
  description = "Alarm when more bounce and complaint events than this are waiting (a bad list, or a spam complaint wave)."
  type        = number
  default     = 100
}
