//! The web app's side of the API: the built single-page app served from the binary's host (so
//! one process serves app and API in production), and `/api/app-config`, the few settings the
//! app needs before anyone logs in.

use std::path::Path;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(app_config))
}

/// Settings the web app reads at start.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppConfig {
    /// Every currency invoices may be in, with the digits of its minor unit (ISO 4217): the
    /// one table the server computes with, so the web app shows amounts the way they are stored.
    pub currencies: Vec<CurrencyInfo>,
}

/// A currency and its minor unit.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CurrencyInfo {
    #[schema(example = "HUF")]
    pub code: &'static str,
    /// Digits after the decimal point: 2 for HUF and EUR, 0 for JPY, 3 for KWD.
    #[schema(example = 2)]
    pub exponent: u8,
}

/// The web app's settings (public: no secrets).
#[utoipa::path(get, path = "/api/app-config", tag = "health",
    responses((status = 200, body = AppConfig)))]
pub(crate) async fn app_config() -> Json<AppConfig> {
    let currencies = invoice_domain::Currency::all()
        .map(|c| CurrencyInfo { code: c.code(), exponent: c.exponent() })
        .collect();
    Json(AppConfig { currencies })
}

/// Paths that belong to the API: never answered with the app's `index.html`.
fn is_api_path(path: &str) -> bool {
    ["/api/", "/api-docs", "/i/", "/codec/"].iter().any(|p| path.starts_with(p)) || path == "/api"
}

/// What answers every request no route matched: a file of the built app, the app's
/// `index.html` for its own client-side routes, or the API's JSON 404.
pub async fn fallback(State(state): State<AppState>, request: Request<Body>) -> Response {
    let path = request.uri().path();
    let method = request.method();
    let Some(dist) = state.web.dist.as_deref() else { return not_found() };
    if is_api_path(path) || (method != Method::GET && method != Method::HEAD) {
        return not_found();
    }
    serve_app(dist, request).await
}

async fn serve_app(dist: &Path, request: Request<Body>) -> Response {
    let hashed_asset = request.uri().path().starts_with("/assets/");
    // A missing asset is a 404, never the index page (which would then be cached as a script).
    let served = if hashed_asset {
        ServeDir::new(dist).oneshot(request).await
    } else {
        ServeDir::new(dist).fallback(ServeFile::new(dist.join("index.html"))).oneshot(request).await
    };
    let mut response = match served {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    };
    // Vite names built assets by content hash: cache them forever. Everything else (index.html
    // above all) is revalidated, so a deploy is picked up on the next load.
    let cache = if hashed_asset && response.status() == StatusCode::OK {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

fn not_found() -> Response {
    ApiError::NotFound { message: "No such route.".into() }.into_response()
}

/// The Content-Security-Policy of everything the API serves but its API docs: scripts only from
/// the API's own origin (the built app's bundles; no inline script, no eval), styles from it or
/// inline (the hosted page's own), nothing embeds it. Text a client or seller typed can reach
/// a page only escaped; this is the second line.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// Security headers on every response: no framing (clickjacking of Pay), no content sniffing,
/// no Referer (hosted page URLs carry the invoice's token), and the CSP above. The API docs
/// (Swagger UI) run their own inline setup script, so they get every header but the CSP.
pub async fn security_headers(request: Request<Body>, next: axum::middleware::Next) -> Response {
    let docs = request.uri().path().starts_with("/api-docs");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !docs {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::is_api_path;

    #[test]
    fn api_paths_never_get_the_app() {
        for path in ["/api", "/api/invoices", "/api/unknown", "/api-docs/x", "/i/abc"] {
            assert!(is_api_path(path), "{path}");
        }
        for path in ["/", "/invoices", "/invoices/123", "/assets/index-abc.js", "/apis"] {
            assert!(!is_api_path(path), "{path}");
        }
    }
}
