variable "name" {
  description = "Prefix of every resource's name, e.g. invoices-production."
  type        = string
}
