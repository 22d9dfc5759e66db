variable "aws_region" {
  description = "Region of the repositories (the environments' region: pulls stay in-region)."
  type        = string
  default     = "eu-west-1"
}

variable "keep_images" {
  description = "Tagged images kept per repository; enough to roll back to any recent release."
  type        = number
  default     = 50
}
