output "image_repositories" {
  description = "Where to push invoice-api, invoice-worker and the Temporal CLI mirror (docs/DEPLOY.md, step 5)."
  value       = module.registry.repository_urls
}
