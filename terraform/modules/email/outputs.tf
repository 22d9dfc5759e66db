output "configuration_set_name" {
  description = "SES_CONFIGURATION_SET for the worker."
  value       = aws_sesv2_configuration_set.main.configuration_set_name
}

output "configuration_set_arn" {
  description = "ARN of the configuration set (for the worker's ses:SendEmail permission)."
  value       = aws_sesv2_configuration_set.main.arn
}

output "identity_arn" {
  description = "ARN of the domain identity (for the worker's ses:SendEmail permission)."
  value       = aws_sesv2_email_identity.domain.arn
}

output "dkim_records" {
  description = "CNAME records to publish when no Route 53 zone is given: name => value."
  value = {
    for token in aws_sesv2_email_identity.domain.dkim_signing_attributes[0].tokens :
    "${token}._domainkey.${var.domain}" => "${token}.dkim.amazonses.com"
  }
}

output "events_queue_name" {
  description = "The queue of bounce and complaint events (for the alarms)."
  value       = aws_sqs_queue.events.name
}

output "events_queue_url" {
  description = "SES_EVENTS_QUEUE_URL for the worker, which reads the bounces and complaints."
  value       = aws_sqs_queue.events.url
}

output "events_queue_arn" {
  description = "ARN of the events queue (for the worker's sqs:ReceiveMessage permission)."
  value       = aws_sqs_queue.events.arn
}

output "events_dlq_name" {
  description = "The dead-letter queue of the events queue (for the alarms)."
  value       = aws_sqs_queue.events_dlq.name
}
