# Production: three zones, a NAT gateway per zone, a Multi-AZ database. The platform
# (../../modules/platform) is shared with staging (../staging), which differs only in size and
# redundancy.

module "platform" {
  source      = "../../modules/platform"
  environment = var.environment

  availability_zones    = var.availability_zones
  single_nat_gateway    = false
  db_instance_class     = var.db_instance_class
  multi_az              = true
  backup_retention_days = 30
  api_min_count         = var.api_min_count
  api_max_count         = var.api_max_count
  worker_min_count      = var.worker_min_count
  worker_max_count      = var.worker_max_count

  domain             = var.domain
  email_domain       = var.email_domain
  email_from         = var.email_from
  route53_zone_id    = var.route53_zone_id
  api_image          = var.api_image
  worker_image       = var.worker_image
  temporal_cli_image = var.temporal_cli_image
  payment_provider   = var.payment_provider
  temporal_address   = var.temporal_address
  temporal_namespace = var.temporal_namespace
  temporal_auth      = var.temporal_auth
  alarm_emails       = var.alarm_emails
  log_retention_days = var.log_retention_days
}
