# One customer-managed key per environment encrypts everything at rest that can take a key of
# ours: the database and its Performance Insights, the PDF bucket, the images, the secrets, the log groups,
# the SNS topics and the SQS queues. One key keeps the policy below in one place; the services
# that use it on our behalf are named in it, each limited to this account.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
}

resource "aws_kms_key" "main" {
  description             = "${var.name}: data at rest (RDS, S3, ECR, Secrets Manager, logs, SNS, SQS)"
  enable_key_rotation     = true
  deletion_window_in_days = 30

  # Inline rather than an aws_iam_policy_document: in a key policy "Resource": "*" means this key
  # only, and the principals are this account and AWS services acting for it.
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # The account's IAM policies decide who administers and uses the key (the default key
        # policy); without it nobody could manage the key.
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        # CloudWatch Logs encrypts the log groups (tasks, VPC flow logs, WAF, ECS Exec).
        Sid       = "CloudWatchLogs"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"
          }
        }
      },
      {
        # Services that publish to the encrypted SNS topics and SQS queues: SES (bounce and
        # complaint events), CloudWatch (alarms), SNS (delivering to the encrypted queue).
        Sid    = "PublishersToEncryptedTopicsAndQueues"
        Effect = "Allow"
        Principal = {
          Service = ["ses.amazonaws.com", "cloudwatch.amazonaws.com", "sns.amazonaws.com"]
        }
        Action   = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
        }
      },
    ]
  })
}

resource "aws_kms_alias" "main" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.main.key_id
}
