# The API and the worker on ECS Fargate in the private subnets; the API behind an ALB (ACM
# certificate, HTTP redirected to HTTPS, a WAF web ACL), the worker with no ingress at all. Two
# one-shot task definitions run before a deployment: the database migrations (`invoice-api
# migrate`) and the registration of Temporal's search attributes.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  region    = data.aws_region.current.name
  partition = data.aws_partition.current.partition

  # --- The binaries' environment ----------------------------------------------------------------
  # Every variable the binaries read in production, as plain values or secrets. Literal maps on
  # purpose: scripts/check_terraform_wiring.py reads them (through the task definitions that use
  # them) and fails when a variable the Rust sources read is missing. Tuning values are spelled
  # out even where they equal the binaries' defaults, so that a deployment's settings can be read
  # here.

  # Read by both binaries (invoice_service's EnvironmentArgs and TemporalArgs, invoice_storage's
  # StorageArgs, the Temporal SDK's environment configuration).
  shared_environment = {
    APP_ENV             = var.app_env
    PAYMENT_PROVIDER    = var.payment_provider
    LOG_FORMAT          = "json"
    RUST_LOG            = "info"
    TEMPORAL_ADDRESS    = var.temporal_address
    TEMPORAL_NAMESPACE  = var.temporal_namespace
    TEMPORAL_TASK_QUEUE = var.temporal_task_queue
    # Temporal Cloud is reached over TLS with either credential (an API key implies it anyway).
    TEMPORAL_TLS    = "true"
    STORAGE_BACKEND = "s3"
    S3_BUCKET       = var.pdf_bucket_name
    AWS_REGION      = local.region
    # Traces over OTLP/HTTP to a collector (an ADOT sidecar, say); empty: none.
    OTEL_EXPORTER_OTLP_ENDPOINT = var.otlp_endpoint
  }

  # invoice-api (also the migration task, whose command line parses the same configuration).
  api_environment = {
    API_ADDR = "0.0.0.0:8080"
    # The Temporal UI support staff use (run links, the codec server's CORS origin); https.
    TEMPORAL_UI_URL   = var.temporal_ui_url
    OTEL_SERVICE_NAME = "invoice-api"
    # Its own port, open to nothing outside the task (the security group admits 8080 only).
    API_METRICS_ADDR                     = "0.0.0.0:9464"
    DATABASE_MAX_CONNECTIONS             = "10"
    DATABASE_TURN_CONNECTIONS            = "10"
    API_UPDATE_TURN_WAIT_SECS            = "30"
    API_UPDATE_TIMEOUT_SECS              = "60"
    API_BODY_LIMIT_BYTES                 = "1048576"
    ACCESS_TOKEN_TTL_SECONDS             = "900"
    REFRESH_TOKEN_TTL_SECONDS            = "2592000"
    SESSION_MAX_LIFETIME_SECONDS         = "7776000"
    LOGIN_MAX_FAILURES_PER_ACCOUNT       = "5"
    LOGIN_MAX_FAILURES_PER_IP            = "20"
    LOGIN_THROTTLE_WINDOW_SECONDS        = "900"
    LIVE_MEMBERSHIP_CHECK_SECONDS        = "60"
    # One ALB appends to X-Forwarded-For: the client is the right-most entry.
    TRUSTED_PROXY_COUNT                  = "1"
    PUBLIC_RATE_LIMIT_PER_IP_PER_MINUTE  = "120"
    PAGE_RATE_LIMIT_PER_TOKEN_PER_MINUTE = "60"
    PAY_RATE_LIMIT_PER_TOKEN_PER_MINUTE  = "10"
    REGISTER_RATE_LIMIT_PER_IP_PER_HOUR  = "10"
    WEBHOOK_RATE_LIMIT_PER_IP_PER_MINUTE = "1200"
    INVOICE_EMAILS_ON_DEMAND_PER_DAY     = "5"
    WEB_DIST                             = var.web_dist
  }

  # invoice-worker.
  worker_environment = {
    METRICS_ADDR                    = "0.0.0.0:9465"
    OTEL_SERVICE_NAME               = "invoice-worker"
    TEMPORAL_CONNECT_TIMEOUT_SECS   = "60"
    WORKER_DATABASE_MAX_CONNECTIONS = "10"
    EMAIL_BACKEND                   = "ses"
    EMAIL_FROM                      = var.email_from
    EMAIL_DAILY_QUOTA_PER_ORG       = tostring(var.email_daily_quota_per_org)
    SES_CONFIGURATION_SET           = var.ses_configuration_set
    # Bounces and complaints: the timeline, needs_attention and the suppressed addresses.
    SES_EVENTS_QUEUE_URL = var.ses_events_queue_url
    # The task queue's backlog, printed every minute in CloudWatch's embedded metric format:
    # the awslogs driver ships it and the worker_backlog policy below scales on it.
    BACKLOG_REPORT_SECONDS   = "60"
    CLOUDWATCH_EMF_NAMESPACE = var.worker_backlog_metric.namespace
    # Links in PDFs and emails, and the checkout's return URLs; https is required in production.
    PUBLIC_BASE_URL = "https://${var.domain}"
  }

  # Secrets (environment variable => Secrets Manager ARN); a null is a secret this environment
  # does not have (no Stripe with PAYMENT_PROVIDER=none; the Temporal credential not chosen) and
  # is left out of the task definition.
  shared_secrets = {
    DATABASE_URL                  = var.secret_arns["DATABASE_URL"]
    PAYLOAD_ENCRYPTION_KEYS       = var.secret_arns["PAYLOAD_ENCRYPTION_KEYS"]
    TEMPORAL_API_KEY              = lookup(var.secret_arns, "TEMPORAL_API_KEY", null)
    TEMPORAL_TLS_CLIENT_CERT_DATA = lookup(var.secret_arns, "TEMPORAL_TLS_CLIENT_CERT_DATA", null)
    TEMPORAL_TLS_CLIENT_KEY_DATA  = lookup(var.secret_arns, "TEMPORAL_TLS_CLIENT_KEY_DATA", null)
  }
  api_secrets = {
    JWT_SECRET            = var.secret_arns["JWT_SECRET"]
    STRIPE_WEBHOOK_SECRET = lookup(var.secret_arns, "STRIPE_WEBHOOK_SECRET", null)
  }
  worker_secrets = {
    STRIPE_SECRET_KEY = lookup(var.secret_arns, "STRIPE_SECRET_KEY", null)
  }
  # The Temporal CLI reads the same TEMPORAL_* variables as the SDK.
  temporal_cli_environment = {
    TEMPORAL_ADDRESS   = var.temporal_address
    TEMPORAL_NAMESPACE = var.temporal_namespace
    TEMPORAL_TLS       = "true"
  }

  api_container_environment = [
    for name, value in merge(local.shared_environment, local.api_environment) : { name = name, value = value }
  ]
  api_container_secrets = [
    for name, arn in merge(local.shared_secrets, local.api_secrets) : { name = name, valueFrom = arn } if arn != null
  ]
  worker_container_environment = [
    for name, value in merge(local.shared_environment, local.worker_environment) : { name = name, value = value }
  ]
  worker_container_secrets = [
    for name, arn in merge(local.shared_secrets, local.worker_secrets) : { name = name, valueFrom = arn } if arn != null
  ]
  temporal_cli_container_environment = [
    for name, value in local.temporal_cli_environment : { name = name, value = value }
  ]
  temporal_cli_container_secrets = [
    for name, arn in local.shared_secrets : { name = name, valueFrom = arn } if arn != null && startswith(name, "TEMPORAL_")
  ]

  # The search attributes, read from the file the dev server's flags come from too
  # (temporal/search-attributes.txt: `NAME TYPE` a line, `#` comments).
  search_attribute_lines = [
    for line in split("\n", file("${path.module}/../../../temporal/search-attributes.txt")) :
    split(" ", trimspace(replace(line, "/\\s+/", " ")))
    if trimspace(line) != "" && !startswith(trimspace(line), "#")
  ]
  # Idempotent: creating an attribute that exists fails, so a failure counts only if the
  # attribute is then not listed.
  register_search_attributes = join(" && ", [
    for attribute in local.search_attribute_lines :
    "{ temporal operator search-attribute create --namespace \"$TEMPORAL_NAMESPACE\" --name ${attribute[0]} --type ${attribute[1]} || temporal operator search-attribute list --namespace \"$TEMPORAL_NAMESPACE\" | grep -qw ${attribute[0]}; }"
  ])

  # Read-only root file systems; the binaries' scratch space (PDF rendering, temp files) is a
  # task-local volume at /tmp.
  tmp_volume = "tmp"
  container_hardening = {
    readonlyRootFilesystem = true
    privileged             = false
    user                   = "10001:10001"
    mountPoints            = [{ sourceVolume = local.tmp_volume, containerPath = "/tmp", readOnly = false }]
    linuxParameters        = { initProcessEnabled = true, capabilities = { drop = ["ALL"] } }
  }
}

# --- Logs ------------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "tasks" {
  for_each          = toset(keys(local.tasks))
  name              = "/${var.name}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

# --- Cluster ---------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "exec" {
  name              = "/${var.name}/ecs-exec"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_ecs_cluster" "main" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  # ECS Exec is off in the services; should someone turn it on for a debugging session, its
  # sessions are encrypted and logged.
  configuration {
    execute_command_configuration {
      kms_key_id = var.kms_key_arn
      logging    = "OVERRIDE"
      log_configuration {
        cloud_watch_encryption_enabled = true
        cloud_watch_log_group_name     = aws_cloudwatch_log_group.exec.name
      }
    }
  }
}

# --- IAM ---------------------------------------------------------------------------------------------
# The execution role lets ECS pull the images, write the logs and read the secrets into the
# environment; the task roles are what the binaries themselves may do (the AWS SDK finds them
# through the container credentials endpoint: no access keys exist).

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-ecs-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "execution_secrets" {
  statement {
    sid       = "ReadTheTasksSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = values(var.secret_arns)
  }
  statement {
    sid       = "DecryptTheSecrets"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "execution_secrets" {
  name   = "read-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution_secrets.json
}

resource "aws_iam_role" "api" {
  name               = "${var.name}-api"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

# The API only hands PDFs out (presigned GETs, signed with this role's credentials).
data "aws_iam_policy_document" "api" {
  statement {
    sid       = "ReadPdfs"
    actions   = ["s3:GetObject"]
    resources = ["${var.pdf_bucket_arn}/*"]
  }
  statement {
    # So that a missing PDF is a 404 rather than a 403.
    sid       = "ListPdfs"
    actions   = ["s3:ListBucket"]
    resources = [var.pdf_bucket_arn]
  }
  statement {
    sid       = "DecryptPdfs"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "api" {
  name   = "api"
  role   = aws_iam_role.api.id
  policy = data.aws_iam_policy_document.api.json
}

resource "aws_iam_role" "worker" {
  name               = "${var.name}-worker"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "worker" {
  statement {
    sid       = "WriteAndReadPdfs"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${var.pdf_bucket_arn}/*"]
  }
  statement {
    sid       = "ListPdfs"
    actions   = ["s3:ListBucket"]
    resources = [var.pdf_bucket_arn]
  }
  statement {
    sid       = "EncryptPdfs"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
  statement {
    sid       = "SendEmail"
    actions   = ["ses:SendEmail", "ses:SendRawEmail"]
    resources = [var.ses_identity_arn, var.ses_configuration_set_arn]
  }
  statement {
    sid       = "ReadSesEvents"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
    resources = [var.ses_events_queue_arn]
  }
}

resource "aws_iam_role_policy" "worker" {
  name   = "worker"
  role   = aws_iam_role.worker.id
  policy = data.aws_iam_policy_document.worker.json
}

# The search-attribute task talks to Temporal only.
resource "aws_iam_role" "temporal_cli" {
  name               = "${var.name}-temporal-cli"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

# --- Security groups ---------------------------------------------------------------------------

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "The public load balancer: HTTPS in (HTTP only to redirect), the API tasks out"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from anywhere"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  #checkov:skip=CKV_AWS_260:Port 80 is open only so that the listener can redirect plain-HTTP visitors to HTTPS; it serves nothing.
  security_group_id = aws_security_group.alb.id
  description       = "HTTP from anywhere, redirected to HTTPS"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
}

resource "aws_vpc_security_group_egress_rule" "alb_to_api" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the API tasks"
  referenced_security_group_id = aws_security_group.api.id
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
}

resource "aws_security_group" "api" {
  name        = "${var.name}-api"
  description = "invoice-api tasks: the ALB in; Postgres, Temporal and AWS out"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "api_from_alb" {
  security_group_id            = aws_security_group.api.id
  description                  = "HTTP from the ALB"
  referenced_security_group_id = aws_security_group.alb.id
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
}

# The worker and the one-shot tasks take no connections.
resource "aws_security_group" "worker" {
  name        = "${var.name}-worker"
  description = "invoice-worker and the one-shot tasks: no ingress; Postgres, Temporal and AWS out"
  vpc_id      = var.vpc_id
}

locals {
  # Egress of the tasks: Postgres inside the VPC; HTTPS (AWS APIs, ECR, Stripe) and Temporal
  # Cloud's gRPC port anywhere (through the NAT gateways).
  task_egress = {
    postgres = { cidr = var.vpc_cidr_block, port = 5432, description = "PostgreSQL in the VPC" }
    https    = { cidr = "0.0.0.0/0", port = 443, description = "HTTPS: AWS APIs, ECR, Stripe" }
    temporal = { cidr = "0.0.0.0/0", port = 7233, description = "Temporal (gRPC)" }
  }
  task_security_groups = {
    api    = aws_security_group.api.id
    worker = aws_security_group.worker.id
  }
  task_egress_rules = merge([
    for group, id in local.task_security_groups : {
      for rule, spec in local.task_egress : "${group}-${rule}" => merge(spec, { group_id = id })
    }
  ]...)
}

resource "aws_vpc_security_group_egress_rule" "tasks" {
  for_each          = local.task_egress_rules
  security_group_id = each.value.group_id
  description       = each.value.description
  cidr_ipv4         = each.value.cidr
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
}

# --- Certificate and DNS -----------------------------------------------------------------------

resource "aws_acm_certificate" "main" {
  domain_name       = var.domain
  validation_method = "DNS"
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "certificate_validation" {
  for_each = var.route53_zone_id == "" ? {} : {
    for option in aws_acm_certificate.main.domain_validation_options : option.domain_name => option
  }
  zone_id         = var.route53_zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  records         = [each.value.resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "main" {
  count                   = var.route53_zone_id == "" ? 0 : 1
  certificate_arn         = aws_acm_certificate.main.arn
  validation_record_fqdns = [for record in aws_route53_record.certificate_validation : record.fqdn]
}

resource "aws_route53_record" "alb" {
  count   = var.route53_zone_id == "" ? 0 : 1
  zone_id = var.route53_zone_id
  name    = var.domain
  type    = "A"
  alias {
    name                   = aws_lb.main.dns_name
    zone_id                = aws_lb.main.zone_id
    evaluate_target_health = true
  }
}

# --- Load balancer -----------------------------------------------------------------------------

resource "aws_lb" "main" {
  #checkov:skip=CKV2_AWS_76:The web ACL has the Log4j rules (AWSManagedRulesKnownBadInputsRuleSet); the check also demands AWSManagedRulesAnonymousIpList, which would block clients paying an invoice from a VPN or a corporate proxy.
  name                       = var.name
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = var.public_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = true
  # Open live sockets (/api/ws) stay up between their messages for this long.
  idle_timeout = 120

  access_logs {
    bucket  = var.alb_log_bucket
    prefix  = "alb"
    enabled = true
  }
}

resource "aws_lb_target_group" "api" {
  #checkov:skip=CKV_AWS_378:TLS ends at the ALB; invoice-api serves plain HTTP only, on a hop inside the VPC that only the ALB's security group may reach.
  name                 = "${var.name}-api"
  port                 = 8080
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  # /health says the process is up; /ready (Postgres and Temporal) would take every task out
  # of the ALB at once when a dependency blips.
  health_check {
    path                = "/health"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.main.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  # Without a zone the certificate is validated by hand; this listener waits for that.
  certificate_arn = var.route53_zone_id == "" ? aws_acm_certificate.main.arn : aws_acm_certificate_validation.main[0].certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.main.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

# --- WAF -----------------------------------------------------------------------------------------
# Rate-based rules per client IP in front of the routes anyone can call: login, registration and
# refresh (/api/auth/*), and the hosted invoice pages and their pay/checkout calls
# (/api/public/*, /i/*). The API limits these too (in Postgres, across replicas); WAF stops a
# flood before it reaches the tasks and the database. Plus AWS's managed rule groups.

resource "aws_wafv2_web_acl" "main" {
  name  = var.name
  scope = "REGIONAL"

  default_action {
    allow {}
  }

  rule {
    name     = "rate-limit-auth"
    priority = 1
    action {
      block {}
    }
    statement {
      rate_based_statement {
        limit              = var.waf_auth_requests_per_5_minutes
        aggregate_key_type = "IP"
        scope_down_statement {
          byte_match_statement {
            search_string         = "/api/auth/"
            positional_constraint = "STARTS_WITH"
            field_to_match {
              uri_path {}
            }
            text_transformation {
              priority = 0
              type     = "LOWERCASE"
            }
          }
        }
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-rate-limit-auth"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "rate-limit-public"
    priority = 2
    action {
      block {}
    }
    statement {
      rate_based_statement {
        limit              = var.waf_public_requests_per_5_minutes
        aggregate_key_type = "IP"
        scope_down_statement {
          or_statement {
            statement {
              byte_match_statement {
                search_string         = "/api/public/"
                positional_constraint = "STARTS_WITH"
                field_to_match {
                  uri_path {}
                }
                text_transformation {
                  priority = 0
                  type     = "LOWERCASE"
                }
              }
            }
            statement {
              byte_match_statement {
                search_string         = "/i/"
                positional_constraint = "STARTS_WITH"
                field_to_match {
                  uri_path {}
                }
                text_transformation {
                  priority = 0
                  type     = "LOWERCASE"
                }
              }
            }
          }
        }
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-rate-limit-public"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "aws-ip-reputation"
    priority = 10
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesAmazonIpReputationList"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-aws-ip-reputation"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "aws-common"
    priority = 20
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesCommonRuleSet"
        # The API accepts JSON bodies up to API_BODY_LIMIT_BYTES (1 MiB): an invoice with many
        # lines passes the group's 8 KiB body limit, and the API enforces its own.
        rule_action_override {
          name = "SizeRestrictions_BODY"
          action_to_use {
            count {}
          }
        }
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-aws-common"
      sampled_requests_enabled   = true
    }
  }

  # Known bad inputs, Log4Shell's among them.
  rule {
    name     = "aws-known-bad-inputs"
    priority = 30
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-aws-known-bad-inputs"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = var.name
    sampled_requests_enabled   = true
  }
}

resource "aws_wafv2_web_acl_association" "alb" {
  resource_arn = aws_lb.main.arn
  web_acl_arn  = aws_wafv2_web_acl.main.arn
}

# WAF requires the group's name to start with aws-waf-logs-.
resource "aws_cloudwatch_log_group" "waf" {
  name              = "aws-waf-logs-${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_wafv2_web_acl_logging_configuration" "main" {
  resource_arn            = aws_wafv2_web_acl.main.arn
  log_destination_configs = [aws_cloudwatch_log_group.waf.arn]
  # Credentials stay out of the logs.
  redacted_fields {
    single_header {
      name = "authorization"
    }
  }
  redacted_fields {
    single_header {
      name = "cookie"
    }
  }
}

# --- Task definitions --------------------------------------------------------------------------
# The API and the worker (the services), and two one-shot tasks run before a deployment:
# migrate, `invoice-api migrate` (creates the database if missing, applies pending migrations,
# exits), with the API's image and configuration since its command line parses the API's whole
# configuration (JWT_SECRET included) before it runs the subcommand; and search-attributes, which
# registers temporal/search-attributes.txt on the namespace (idempotent). Each task differs from
# the others only in its entry here; `container` is merged over the common container definition.

locals {
  tasks = {
    api = {
      cpu    = var.api_cpu
      memory = var.api_memory
      role   = aws_iam_role.api.arn
      container = {
        image        = var.api_image
        command      = ["serve"]
        portMappings = [{ containerPort = 8080, protocol = "tcp" }]
        environment  = local.api_container_environment
        secrets      = local.api_container_secrets
        # The API finishes in-flight requests on SIGTERM; the ALB has stopped sending by then.
        stopTimeout = 30
      }
    }
    worker = {
      cpu    = var.worker_cpu
      memory = var.worker_memory
      role   = aws_iam_role.worker.arn
      container = {
        image       = var.worker_image
        environment = local.worker_container_environment
        secrets     = local.worker_container_secrets
        # On SIGTERM the worker stops polling and finishes its in-flight tasks: give it Fargate's
        # longest grace period before SIGKILL.
        stopTimeout = 120
      }
    }
    migrate = {
      cpu    = 256
      memory = 512
      role   = aws_iam_role.api.arn
      container = {
        image       = var.api_image
        command     = ["migrate"]
        environment = local.api_container_environment
        secrets     = local.api_container_secrets
      }
    }
    "search-attributes" = {
      cpu    = 256
      memory = 512
      role   = aws_iam_role.temporal_cli.arn
      container = {
        image       = var.temporal_cli_image
        entryPoint  = ["sh", "-c"]
        command     = [local.register_search_attributes]
        environment = local.temporal_cli_container_environment
        secrets     = local.temporal_cli_container_secrets
      }
    }
  }
}

resource "aws_ecs_task_definition" "tasks" {
  for_each                 = local.tasks
  family                   = "${var.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = each.value.role
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
  volume {
    name = local.tmp_volume
  }

  container_definitions = jsonencode([merge(local.container_hardening, {
    name      = each.key
    essential = true
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.tasks[each.key].name
        awslogs-region        = local.region
        awslogs-stream-prefix = each.key
      }
    }
  }, each.value.container)])
}

# --- Services ------------------------------------------------------------------------------------
# Rolling deployments: new tasks start before old ones stop (100 % healthy minimum), and the
# circuit breaker rolls back to the last good task definition when new tasks keep failing
# (the binaries exit 78 on a configuration they refuse, which trips it quickly).

resource "aws_ecs_service" "api" {
  name                              = "api"
  cluster                           = aws_ecs_cluster.main.id
  task_definition                   = aws_ecs_task_definition.tasks["api"].arn
  desired_count                     = var.api_min_count
  launch_type                       = "FARGATE"
  platform_version                  = "LATEST"
  health_check_grace_period_seconds = 60
  propagate_tags                    = "SERVICE"
  enable_execute_command            = false

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.api.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.api.arn
    container_name   = "api"
    container_port   = 8080
  }

  # Autoscaling owns the count after the first apply.
  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_lb_listener.https]
}

resource "aws_ecs_service" "worker" {
  name                   = "worker"
  cluster                = aws_ecs_cluster.main.id
  task_definition        = aws_ecs_task_definition.tasks["worker"].arn
  desired_count          = var.worker_min_count
  launch_type            = "FARGATE"
  platform_version       = "LATEST"
  propagate_tags         = "SERVICE"
  enable_execute_command = false

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.worker.id]
    assign_public_ip = false
  }

  lifecycle {
    ignore_changes = [desired_count]
  }
}

# --- Autoscaling -----------------------------------------------------------------------------------
# Both services scale on CPU; the API also on ALB requests per task, the worker on its backlog.

locals {
  scaling = {
    api    = { service = aws_ecs_service.api.name, min = var.api_min_count, max = var.api_max_count }
    worker = { service = aws_ecs_service.worker.name, min = var.worker_min_count, max = var.worker_max_count }
  }
}

resource "aws_appautoscaling_target" "services" {
  for_each           = local.scaling
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.main.name}/${each.value.service}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = each.value.min
  max_capacity       = each.value.max
}

resource "aws_appautoscaling_policy" "cpu" {
  for_each           = aws_appautoscaling_target.services
  name               = "${var.name}-${each.key}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = each.value.service_namespace
  resource_id        = each.value.resource_id
  scalable_dimension = each.value.scalable_dimension
  target_tracking_scaling_policy_configuration {
    target_value       = var.cpu_target_percent
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "api_requests" {
  name               = "${var.name}-api-requests"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.services["api"].service_namespace
  resource_id        = aws_appautoscaling_target.services["api"].resource_id
  scalable_dimension = aws_appautoscaling_target.services["api"].scalable_dimension
  target_tracking_scaling_policy_configuration {
    target_value       = var.api_requests_per_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = "${aws_lb.main.arn_suffix}/${aws_lb_target_group.api.arn_suffix}"
    }
  }
}

# Work waiting in the task queue is the signal CPU misses (activities waiting on Stripe or SES
# use little CPU). The workers publish it themselves (worker/src/backlog.rs: DescribeTaskQueue
# every minute, printed in the embedded metric format, dimension TaskQueue).
resource "aws_appautoscaling_policy" "worker_backlog" {
  name               = "${var.name}-worker-backlog"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.services["worker"].service_namespace
  resource_id        = aws_appautoscaling_target.services["worker"].resource_id
  scalable_dimension = aws_appautoscaling_target.services["worker"].scalable_dimension
  target_tracking_scaling_policy_configuration {
    target_value       = var.worker_backlog_metric.target
    scale_in_cooldown  = 600
    scale_out_cooldown = 60
    customized_metric_specification {
      namespace   = var.worker_backlog_metric.namespace
      metric_name = var.worker_backlog_metric.name
      statistic   = var.worker_backlog_metric.statistic
      dynamic "dimensions" {
        for_each = merge({ TaskQueue = var.temporal_task_queue }, var.worker_backlog_metric.dimensions)
        content {
          name  = dimensions.key
          value = dimensions.value
        }
      }
    }
  }
}
