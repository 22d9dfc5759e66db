# The image repositories of the account, with their own key (an environment's key may be
# scheduled for deletion with it; the images outlive every environment).

module "kms" {
  source = "../../modules/kms"
  name   = "invoices-shared"
}

module "registry" {
  source      = "../../modules/registry"
  kms_key_arn = module.kms.key_arn
  keep_images = var.keep_images
}
