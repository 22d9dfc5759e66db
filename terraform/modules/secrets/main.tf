# The binaries' secrets, one Secrets Manager secret each, injected into the task definitions
# as environment variables of the same name (the compute module's `secrets`). Terraform writes
# the values it owns (DATABASE_URL, JWT_SECRET); the others come from outside and are put in
# by an operator once (see terraform/README.md), so they never pass through Terraform's state:
#
#   aws secretsmanager put-secret-value --secret-id <name>/STRIPE_SECRET_KEY --secret-string sk_live_...
#
# ECS refuses to start a task whose secret has no value yet, so a forgotten one stops the
# deployment instead of starting a binary without it.

locals {
  stripe   = var.payment_provider == "stripe"
  mtls     = var.temporal_auth == "mtls"
  api_key  = var.temporal_auth == "api_key"
  # Variable name => description, of the secrets an operator fills in.
  external = merge(
    local.stripe ? {
      STRIPE_SECRET_KEY     = "Stripe secret key (sk_live_...) the worker creates Checkout Sessions with"
      STRIPE_WEBHOOK_SECRET = "Signing secret (whsec_...) of the Stripe webhook endpoint POST /api/webhooks/stripe"
    } : {},
    local.api_key ? {
      TEMPORAL_API_KEY = "Temporal Cloud API key of a service account with access to the namespace"
    } : {},
    local.mtls ? {
      TEMPORAL_TLS_CLIENT_CERT_DATA = "PEM client certificate for Temporal (mTLS)"
      TEMPORAL_TLS_CLIENT_KEY_DATA  = "PEM private key of the Temporal client certificate (mTLS)"
    } : {},
  )
}

resource "aws_secretsmanager_secret" "database_url" {
  #checkov:skip=CKV2_AWS_57:The password is inside a URL the binaries read at start-up; a rotation Lambda would change it under running tasks. Rotate by tainting random_password.master and redeploying (terraform/README.md).
  name        = "${var.name}/DATABASE_URL"
  description = "Postgres connection string (TLS required)"
  kms_key_id  = var.kms_key_arn
}

resource "aws_secretsmanager_secret_version" "database_url" {
  secret_id     = aws_secretsmanager_secret.database_url.id
  secret_string = var.database_url
}

# 64 random characters: well over the 32 bytes the API requires of JWT_SECRET in production.
resource "random_password" "jwt" {
  length  = 64
  special = false
}

resource "aws_secretsmanager_secret" "jwt" {
  #checkov:skip=CKV2_AWS_57:Rotating the HMAC key logs every user out (access tokens stop verifying); it is rotated deliberately by tainting random_password.jwt, not on a schedule.
  name        = "${var.name}/JWT_SECRET"
  description = "HMAC key of the API's access tokens"
  kms_key_id  = var.kms_key_arn
}

resource "aws_secretsmanager_secret_version" "jwt" {
  secret_id     = aws_secretsmanager_secret.jwt.id
  secret_string = random_password.jwt.result
}

# The key sealing every workflow payload (PAYLOAD_ENCRYPTION_KEYS, `<id>:<base64>`), made once.
# Rotation is by hand and keeps the old keys (the runs sealed with them must stay readable):
# put "k2:<new>,k1:<old>" into the secret and redeploy; Terraform leaves the value alone after
# the first apply.
resource "random_bytes" "payload_key" {
  length = 32
}

resource "aws_secretsmanager_secret" "payload_keys" {
  #checkov:skip=CKV2_AWS_57:A rotated payload key must be added in front of the old ones, never replace them (runs sealed with the old key would become unreadable); rotation is the procedure in docs/OPERATIONS.md, not a Lambda.
  name        = "${var.name}/PAYLOAD_ENCRYPTION_KEYS"
  description = "AES-256-GCM keys sealing workflow payloads in Temporal: the first encrypts, all decrypt"
  kms_key_id  = var.kms_key_arn
}

resource "aws_secretsmanager_secret_version" "payload_keys" {
  secret_id     = aws_secretsmanager_secret.payload_keys.id
  secret_string = "k1:${random_bytes.payload_key.base64}"
  lifecycle {
    # Operators rotate it (new key first, old ones kept); a later apply must not undo that.
    ignore_changes = [secret_string]
  }
}

resource "aws_secretsmanager_secret" "external" {
  #checkov:skip=CKV2_AWS_57:These values are issued by Stripe and Temporal Cloud; AWS cannot rotate them, so they are rotated at the issuer and put here by hand.
  for_each    = local.external
  name        = "${var.name}/${each.key}"
  description = each.value
  kms_key_id  = var.kms_key_arn
}
