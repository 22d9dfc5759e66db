# The image repositories, once per account and shared by the environments, so that staging and
# production run the very same digests: invoice-api and invoice-worker (built from the one
# Dockerfile, docs/DEPLOY.md) and a mirror of an image with the `temporal` CLI for the
# search-attribute task. Tags are immutable, so a deployed digest never changes under a running
# service; images are scanned on push and encrypted with a key of ours.

resource "aws_ecr_repository" "images" {
  for_each             = toset(var.repositories)
  name                 = each.key
  image_tag_mutability = "IMMUTABLE"
  force_delete         = false

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }
}

# Untagged layers go after a day; of the tagged releases the newest keep_images stay, enough to
# roll back to any recent release (docs/DEPLOY.md, "Rollback").
resource "aws_ecr_lifecycle_policy" "images" {
  for_each   = aws_ecr_repository.images
  repository = each.value.name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Untagged images after a day"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = 1
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Keep the newest releases"
        selection = {
          tagStatus   = "any"
          countType   = "imageCountMoreThan"
          countNumber = var.keep_images
        }
        action = { type = "expire" }
      },
    ]
  })
}
