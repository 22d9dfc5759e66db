# Providers and versions: ../../modules/platform/versions.tf. The state is in S3, locked with
# DynamoDB (terraform/README.md, "Applying"); replace the REPLACE-ME placeholders, or pass
# -backend-config=bucket=... -backend-config=dynamodb_table=... -backend-config=region=... to
# `terraform init`. Backend blocks cannot read variables.
terraform {
  backend "s3" {
    bucket         = "REPLACE-ME-terraform-state"
    key            = "invoices/production/terraform.tfstate"
    region         = "eu-west-1"
    dynamodb_table = "REPLACE-ME-terraform-locks"
    encrypt        = true
  }
}

provider "aws" {
  region = var.aws_region
  default_tags {
    tags = { Project = "invoices", Environment = var.environment, ManagedBy = "terraform" }
  }
}
