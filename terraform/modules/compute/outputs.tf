output "cluster_name" {
  description = "The ECS cluster."
  value       = aws_ecs_cluster.main.name
}

output "alb_dns_name" {
  description = "The ALB's DNS name (point the domain at it when Route 53 is not used)."
  value       = aws_lb.main.dns_name
}

output "alb_arn_suffix" {
  description = "The ALB's ARN suffix (CloudWatch dimension LoadBalancer)."
  value       = aws_lb.main.arn_suffix
}

output "api_target_group_arn_suffix" {
  description = "The API target group's ARN suffix (CloudWatch dimension TargetGroup)."
  value       = aws_lb_target_group.api.arn_suffix
}

output "task_security_group_ids" {
  description = "Security groups of the API and of the worker and one-shot tasks (the database admits them)."
  value       = [aws_security_group.api.id, aws_security_group.worker.id]
}

output "certificate_validation_records" {
  description = "DNS records that validate the certificate, to publish by hand when Route 53 is not used."
  value = {
    for option in aws_acm_certificate.main.domain_validation_options :
    option.resource_record_name => "${option.resource_record_type} ${option.resource_record_value}"
  }
}

output "one_shot_task_definitions" {
  description = "Task definitions to run before a deployment: the migrations and the search attributes."
  value = {
    migrate           = aws_ecs_task_definition.tasks["migrate"].arn
    search_attributes = aws_ecs_task_definition.tasks["search-attributes"].arn
  }
}

output "one_shot_network" {
  description = "Subnets and security group for `aws ecs run-task` of the one-shot tasks."
  value = {
    subnets         = var.private_subnet_ids
    security_groups = [aws_security_group.worker.id]
  }
}
