terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.70"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  # State in S3, locked with DynamoDB. The bucket and the table exist before this environment
  # (terraform/README.md, "State"); replace the REPLACE-ME placeholders, or leave them and pass
  # -backend-config=bucket=... -backend-config=dynamodb_table=... -backend-config=region=... to
  # `terraform init`. Backend blocks cannot read variables.
  backend "s3" {
    bucket         = "REPLACE-ME-terraform-state"
    key            = "invoices/staging/terraform.tfstate"
    region         = "eu-west-1"
    dynamodb_table = "REPLACE-ME-terraform-locks"
    encrypt        = true
  }
}

provider "aws" {
  region = var.aws_region
  default_tags {
    tags = {
      Project     = "invoices"
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}
