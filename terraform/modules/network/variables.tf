variable "name" {
  description = "Prefix of every resource's name, e.g. invoices-production."
  type        = string
}

variable "cidr_block" {
  description = "The VPC's address range; split into a public and a private /20 per zone."
  type        = string
  default     = "10.20.0.0/16"
}

variable "availability_zones" {
  description = "Availability zones to span, by name (2 or 3), e.g. [\"eu-west-1a\", \"eu-west-1b\", \"eu-west-1c\"]. Named rather than taken from the region's list, so that the subnets never move when AWS adds a zone."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 3
    error_message = "Give 2 or 3 availability zones: the database's subnet group and the ALB need two at least."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper; egress stops if its zone fails) instead of one per zone."
  type        = bool
  default     = false
}

variable "kms_key_arn" {
  description = "Key that encrypts the flow log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the VPC flow logs."
  type        = number
  default     = 365
}
