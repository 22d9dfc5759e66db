variable "repositories" {
  description = "Repository names: the two images of the platform and the Temporal CLI mirror."
  type        = list(string)
  default     = ["invoice-api", "invoice-worker", "temporal-admin-tools"]
}

variable "kms_key_arn" {
  description = "Key that encrypts the images."
  type        = string
}

variable "keep_images" {
  description = "Tagged images kept per repository (older ones expire)."
  type        = number
  default     = 50
}
