# Environment variable name => secret ARN, for the task definitions' `secrets`.
output "arns" {
  description = "Secret ARN by the environment variable it fills."
  value = merge(
    {
      DATABASE_URL = aws_secretsmanager_secret.database_url.arn
      JWT_SECRET   = aws_secretsmanager_secret.jwt.arn
      # The API, the worker and the migrate task (which reads the API's whole configuration).
      PAYLOAD_ENCRYPTION_KEYS = aws_secretsmanager_secret.payload_keys.arn
    },
    { for name, secret in aws_secretsmanager_secret.external : name => secret.arn },
  )
}

output "external_secret_names" {
  description = "Secrets an operator must fill in with `aws secretsmanager put-secret-value` before the first deployment."
  value       = [for secret in aws_secretsmanager_secret.external : secret.name]
}
