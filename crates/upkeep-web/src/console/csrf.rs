//! Cross-site request forgery: every unsafe request under `/admin` (anything but GET, HEAD and
//! OPTIONS) must come from upkeep's own pages.
//!
//! Browsers say where a request comes from in `Sec-Fetch-Site` (Fetch Metadata): `same-origin`
//! and `none` (typed or bookmarked by the person) pass; `same-site` and `cross-site` are
//! refused. A browser that sends no `Sec-Fetch-Site` (older ones, or plain-HTTP origins other
//! than localhost) still sends `Origin` with a form post: it must be the configured page URL's
//! origin or the origin of the request's own `Host`. A request with neither is refused: every
//! browser that can sign in sends one of them. The session cookie's `SameSite=Strict` is a
//! second wall.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::problem::Problem;
use crate::state::AppState;

/// Whether an unsafe request with `headers` may proceed; `page_url` is the configured public
/// URL of the page.
pub fn same_origin(headers: &HeaderMap, page_url: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return false;
    };
    let origin = origin.trim_end_matches('/');
    if let Ok(page) = url::Url::parse(page_url)
        && page.origin().is_tuple()
        && page.origin().ascii_serialization() == origin
    {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match (origin.split_once("://"), host) {
        (Some(("http" | "https", origin_host)), Some(host)) => {
            !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
        }
        _ => false,
    }
}

/// Middleware of the console's routes: refuses a cross-site unsafe request with 403.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if safe {
        return next.run(request).await;
    }
    let page_url = state.config.current().config.page.url.clone();
    if same_origin(request.headers(), &page_url) {
        next.run(request).await
    } else {
        Problem::forbidden(
            "this request did not come from upkeep's own pages (cross-site requests to the \
             console are refused); open the console and submit the form there",
        )
        .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn fetch_metadata_decides_then_origin_then_refusal() {
        let page = "https://status.example.com";
        assert!(same_origin(
            &headers(&[("sec-fetch-site", "same-origin")]),
            page
        ));
        assert!(same_origin(&headers(&[("sec-fetch-site", "none")]), page));
        assert!(!same_origin(
            &headers(&[("sec-fetch-site", "cross-site")]),
            page
        ));
        assert!(!same_origin(
            &headers(&[("sec-fetch-site", "same-site")]),
            page
        ));
        // Sec-Fetch-Site wins over a matching Origin.
        assert!(!same_origin(
            &headers(&[
                ("sec-fetch-site", "cross-site"),
                ("origin", "https://status.example.com")
            ]),
            page
        ));
        assert!(same_origin(
            &headers(&[("origin", "https://status.example.com")]),
            page
        ));
        assert!(same_origin(
            &headers(&[
                ("origin", "http://127.0.0.1:8080"),
                ("host", "127.0.0.1:8080")
            ]),
            page
        ));
        assert!(!same_origin(
            &headers(&[
                ("origin", "http://evil.example"),
                ("host", "127.0.0.1:8080")
            ]),
            page
        ));
        assert!(!same_origin(
            &headers(&[("origin", "null"), ("host", "null")]),
            page
        ));
        assert!(!same_origin(&headers(&[("host", "127.0.0.1:8080")]), page));
        assert!(!same_origin(&headers(&[]), page));
    }
}
