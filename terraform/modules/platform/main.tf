# The whole platform of one environment: every module, wired together. The environments
# (envs/staging, envs/production) call it with their sizes and redundancy; nothing else differs.

locals {
  name = "invoices-${var.environment}"
}

module "kms" {
  source = "../kms"
  name   = local.name
}

module "network" {
  source             = "../network"
  name               = local.name
  availability_zones = var.availability_zones
  single_nat_gateway = var.single_nat_gateway
  kms_key_arn        = module.kms.key_arn
  log_retention_days = var.log_retention_days
}

module "database" {
  source                    = "../database"
  name                      = local.name
  vpc_id                    = module.network.vpc_id
  subnet_ids                = module.network.private_subnet_ids
  client_security_group_ids = module.compute.task_security_group_ids
  kms_key_arn               = module.kms.key_arn
  instance_class            = var.db_instance_class
  multi_az                  = var.multi_az
  backup_retention_days     = var.backup_retention_days
  log_retention_days        = var.log_retention_days
}

module "storage" {
  source      = "../storage"
  name        = local.name
  kms_key_arn = module.kms.key_arn
}

module "email" {
  source          = "../email"
  name            = local.name
  domain          = var.email_domain
  route53_zone_id = var.route53_zone_id
  kms_key_arn     = module.kms.key_arn
}

module "secrets" {
  source           = "../secrets"
  name             = local.name
  kms_key_arn      = module.kms.key_arn
  database_url     = module.database.database_url
  payment_provider = var.payment_provider
  temporal_auth    = var.temporal_auth
}

module "compute" {
  source = "../compute"
  name   = local.name

  vpc_id             = module.network.vpc_id
  vpc_cidr_block     = module.network.vpc_cidr_block
  public_subnet_ids  = module.network.public_subnet_ids
  private_subnet_ids = module.network.private_subnet_ids
  kms_key_arn        = module.kms.key_arn

  domain          = var.domain
  route53_zone_id = var.route53_zone_id
  alb_log_bucket  = module.storage.log_bucket_name

  api_image          = var.api_image
  worker_image       = var.worker_image
  temporal_cli_image = var.temporal_cli_image
  api_min_count      = var.api_min_count
  api_max_count      = var.api_max_count
  worker_min_count   = var.worker_min_count
  worker_max_count   = var.worker_max_count
  log_retention_days = var.log_retention_days

  payment_provider          = var.payment_provider
  temporal_address          = var.temporal_address
  temporal_namespace        = var.temporal_namespace
  secret_arns               = module.secrets.arns
  pdf_bucket_name           = module.storage.pdf_bucket_name
  pdf_bucket_arn            = module.storage.pdf_bucket_arn
  email_from                = var.email_from
  ses_configuration_set     = module.email.configuration_set_name
  ses_configuration_set_arn = module.email.configuration_set_arn
  ses_events_queue_url      = module.email.events_queue_url
  ses_events_queue_arn      = module.email.events_queue_arn
  ses_identity_arn          = module.email.identity_arn
}

module "monitoring" {
  source                  = "../monitoring"
  name                    = local.name
  kms_key_arn             = module.kms.key_arn
  alarm_emails            = var.alarm_emails
  alb_arn_suffix          = module.compute.alb_arn_suffix
  target_group_arn_suffix = module.compute.api_target_group_arn_suffix
  db_instance_id          = module.database.instance_id
  bounce_queue_name       = module.email.events_queue_name
  bounce_dlq_name         = module.email.events_dlq_name
}
