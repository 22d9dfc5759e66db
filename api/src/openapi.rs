//! The OpenAPI 3.1 document, generated from the handlers' annotations, and the interactive docs
//! at `/api-docs` (Swagger UI, served from the binary: no CDN).

use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::state::AppState;
use crate::{analytics, auth, customers, health, invoices, live, ops, org, payments, support, web};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Invoice platform API",
        description = "Invoices whose whole life runs as durable Temporal workflows. \
            Errors always have the shape `{\"error\":{\"code\",\"message\",\"details\"}}`.",
        license(name = "AGPL-3.0-only")
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Accounts, sessions and tokens"),
        (name = "organization", description = "The organisation, its members and API keys"),
        (name = "customers", description = "Customers that invoices are sent to"),
        (name = "invoices", description = "Invoices and their lifecycle"),
        (name = "payments", description = "Paying invoices: checkout from the hosted page, payment provider webhooks"),
        (name = "analytics", description = "The dashboard's figures, aggregated in SQL"),
        (name = "ops", description = "Stuck invoices and failed runs, and retrying them"),
        (name = "support", description = "Platform support staff: any organisation's invoices and runs, read-only and audited"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT access token or API key (inv_sk_...)".to_owned());
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// Documents on every operation the errors every operation of its kind can answer, beside the
/// ones its handler names: 401 where a token is required, 400/415/422 where there is a body
/// (malformed JSON, no JSON content type, the wrong shape), 400/422 where there is a query.
/// All in the one error shape, so clients and fuzzers can rely on the document.
fn document_common_errors(openapi: &mut OpenApiDoc) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let error = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
                )
                .build(),
        )
    };
    for (path, item) in openapi.paths.paths.iter_mut() {
        // The endpoints a stranger can reach (crate::limits) and the emails sent on demand.
        let limited = path.starts_with("/api/public/")
            || path.starts_with("/api/auth/")
            || path == "/api/webhooks/stripe"
            || path.ends_with("/resend")
            || path.ends_with("/remind");
        let hashing = path == "/api/auth/login"
            || path == "/api/auth/register"
            || path == "/api/auth/password-reset";
        for op in [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch]
            .into_iter()
            .flatten()
        {
            let mut add = |status: &str, description: &str| {
                op.responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| error(description));
            };
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let body = op.request_body.is_some();
            let query =
                op.parameters.iter().flatten().any(
                    |p| matches!(p, RefOr::T(p) if matches!(p.parameter_in, ParameterIn::Query)),
                );
            if secured {
                add("401", "No token, or a token that is invalid or expired");
            }
            if body || query {
                add("400", "Malformed JSON or query string");
                add("422", "Input that does not validate (field errors in `details`)");
            }
            if body {
                add("415", "The body is not sent as application/json");
            }
            if limited {
                add("429", "Too many requests; `Retry-After` says when to try again");
            }
            if hashing {
                add(
                    "503",
                    "Too many sign-ins at once (`password_hashing_busy`); try again shortly",
                );
            }
        }
    }
}

/// Every documented route.
pub fn routes() -> OpenApiRouter<AppState> {
    let mut routes = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::router())
        .merge(auth::routes::router())
        .merge(auth::sessions::router())
        .merge(auth::account_email::router())
        .merge(org::router())
        .merge(customers::router())
        .merge(invoices::router())
        .merge(ops::router())
        .merge(support::router())
        .merge(payments::router())
        .merge(live::router())
        .merge(analytics::router())
        .merge(web::router());
    document_common_errors(routes.get_openapi_mut());
    routes
}

/// The document as JSON (for `invoice-api openapi` and client generation).
pub fn document() -> OpenApiDoc {
    routes().split_for_parts().1
}

pub fn docs(openapi: OpenApiDoc) -> SwaggerUi {
    SwaggerUi::new("/api-docs").url("/api-docs/openapi.json", openapi)
}
