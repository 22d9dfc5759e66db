variable "name" {
  description = "Prefix of every resource's name, e.g. invoices-production."
  type        = string
}

variable "domain" {
  description = "The sending domain (EMAIL_FROM's address must be at it), verified with DKIM."
  type        = string
}

variable "route53_zone_id" {
  description = "Hosted zone of the domain, to publish the DKIM records; empty: publish the dkim_records output by hand."
  type        = string
  default     = ""
}

variable "kms_key_arn" {
  description = "Key that encrypts the SNS topic and the SQS queues."
  type        = string
}
