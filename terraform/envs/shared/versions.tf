# What the account holds once for every environment: the image repositories. Applied before the
# environments (docs/DEPLOY.md, step 4). The state is in S3, locked with DynamoDB, like theirs.
terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.70"
    }
  }

  backend "s3" {
    bucket         = "REPLACE-ME-terraform-state"
    key            = "invoices/shared/terraform.tfstate"
    region         = "eu-west-1"
    dynamodb_table = "REPLACE-ME-terraform-locks"
    encrypt        = true
  }
}

provider "aws" {
  region = var.aws_region
  default_tags {
    tags = { Project = "invoices", Environment = "shared", ManagedBy = "terraform" }
  }
}
