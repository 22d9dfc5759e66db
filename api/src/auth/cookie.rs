//! The refresh token as an `HttpOnly` cookie, for the web app: a script injected into the page
//! cannot read it, where it could read anything in `localStorage`. A client opts in per request
//! with `X-Refresh-Token-Transport: cookie`; API clients that do not keep the token in the body.

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};

/// The request header by which a client asks for the refresh token as a cookie.
const TRANSPORT_HEADER: &str = "x-refresh-token-transport";
/// The cookie's name.
const NAME: &str = "invoices_refresh";
/// Only the auth endpoints receive it: no other request carries the token.
const PATH: &str = "/api/auth";

/// Whether the client asked for the refresh token as a cookie.
pub(super) fn requested(headers: &HeaderMap) -> bool {
    headers
        .get(TRANSPORT_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("cookie"))
}

/// The refresh token the browser sent as the cookie, if any.
pub(super) fn read(headers: &HeaderMap) -> Option<String> {
    read_named(headers, NAME)
}

/// The value of the cookie `name` the browser sent, if any and not empty.
pub(crate) fn read_named(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(found, value)| *found == name && !value.is_empty())
        .map(|(_, value)| value.to_owned())
}

/// `Set-Cookie` for `token`, living as long as the token. `SameSite=Strict`: no other site's
/// page can make the browser send it (the refresh and logout endpoints need no CSRF token).
pub(super) fn set(headers: &mut HeaderMap, token: &str, max_age_secs: u64) {
    append(headers, token, max_age_secs);
}

/// `Set-Cookie` that deletes the cookie.
pub(super) fn clear(headers: &mut HeaderMap) {
    append(headers, "", 0);
}

fn append(headers: &mut HeaderMap, value: &str, max_age_secs: u64) {
    let cookie = format!(
        "{NAME}={value}; HttpOnly; Secure; SameSite=Strict; Path={PATH}; Max-Age={max_age_secs}"
    );
    // Our tokens are base64url, always a valid header value.
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        headers.append(SET_COOKIE, cookie);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_cookie_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; invoices_refresh=tok-en_1; b=2"));
        assert_eq!(read(&headers).as_deref(), Some("tok-en_1"));
        headers.insert(COOKIE, HeaderValue::from_static("invoices_refresh=; other=x"));
        assert_eq!(read(&headers), None);
    }

    #[test]
    fn set_and_clear_carry_every_attribute() {
        let mut headers = HeaderMap::new();
        set(&mut headers, "abc", 60);
        clear(&mut headers);
        let values: Vec<_> =
            headers.get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect();
        assert_eq!(
            values,
            [
                "invoices_refresh=abc; HttpOnly; Secure; SameSite=Strict; Path=/api/auth; Max-Age=60",
                "invoices_refresh=; HttpOnly; Secure; SameSite=Strict; Path=/api/auth; Max-Age=0",
            ]
        );
    }

    #[test]
    fn only_the_cookie_transport_is_a_request_for_it() {
        let mut headers = HeaderMap::new();
        assert!(!requested(&headers));
        headers.insert(TRANSPORT_HEADER, HeaderValue::from_static("body"));
        assert!(!requested(&headers));
        headers.insert(TRANSPORT_HEADER, HeaderValue::from_static("Cookie"));
        assert!(requested(&headers));
    }
}
