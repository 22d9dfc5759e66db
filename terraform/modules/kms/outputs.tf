output "key_arn" {
  description = "ARN of the environment's customer-managed key."
  value       = aws_kms_key.main.arn
}

output "key_id" {
  description = "ID of the environment's customer-managed key."
  value       = aws_kms_key.main.key_id
}
