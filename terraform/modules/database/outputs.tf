output "address" {
  description = "The database's host name."
  value       = aws_db_instance.main.address
}

output "instance_id" {
  description = "The RDS instance identifier (for the CloudWatch alarms)."
  value       = aws_db_instance.main.identifier
}

output "security_group_id" {
  description = "The database's security group."
  value       = aws_security_group.db.id
}

output "database_url" {
  description = "DATABASE_URL for the binaries: TLS with the certificate and host name verified against RDS's CA bundle, which the images carry."
  value       = "postgres://${var.username}:${random_password.master.result}@${aws_db_instance.main.address}:${aws_db_instance.main.port}/${var.database_name}?sslmode=verify-full&sslrootcert=/etc/ssl/certs/rds-global-bundle.pem"
  sensitive   = true
}
