output "repository_urls" {
  description = "Where to push each image, by repository name."
  value       = { for name, repository in aws_ecr_repository.images : name => repository.repository_url }
}
