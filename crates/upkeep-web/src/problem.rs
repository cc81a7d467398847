//! Errors as RFC 9457 `application/problem+json`: the one user-facing error type of the HTTP
//! side. Every handler returns `Result<_, Problem>`; storage and internal failures become a 500
//! whose detail says nothing about internals (the cause is logged once, here).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// A problem document. `errors` lists individual findings when there are several (for example
/// every configuration problem of a failed reload).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:upkeep:problem:SLUG`); `about:blank` when the
    /// status says it all.
    #[serde(rename = "type", serialize_with = "type_uri")]
    #[schema(value_type = String)]
    pub kind: Option<&'static str>,
    /// Short summary of the kind of problem.
    pub title: &'static str,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this case and what to do about it.
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// Seconds to wait before retrying (also sent as `Retry-After`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// The `WWW-Authenticate` challenge to send with a 401.
    #[serde(skip)]
    challenge: Option<&'static str>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            kind: None,
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
            challenge: None,
        }
    }

    /// Names the kind of problem with a slug, e.g. `invalid-body`.
    pub fn with_type(mut self, slug: &'static str) -> Self {
        self.kind = Some(slug);
        self
    }

    pub fn with_errors(mut self, errors: Vec<String>) -> Self {
        self.errors = errors;
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        let mut p = Self::new(StatusCode::UNAUTHORIZED, detail).with_type("unauthorized");
        p.challenge = Some("Bearer realm=\"upkeep\"");
        p
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, detail).with_type("forbidden")
    }

    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        let mut p = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many requests from your address; retry in {retry_after_secs} s"),
        )
        .with_type("rate-limited");
        p.retry_after = Some(retry_after_secs);
        p
    }

    /// An internal failure. The cause is logged here, once; the client gets no internals.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "upkeep could not complete the request; the cause is in the server log",
        )
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

fn type_uri<S: serde::Serializer>(kind: &Option<&'static str>, s: S) -> Result<S::Ok, S::Error> {
    match kind {
        Some(slug) => s.collect_str(&format_args!("urn:upkeep:problem:{slug}")),
        None => s.serialize_str("about:blank"),
    }
}

impl From<upkeep_store::StoreError> for Problem {
    fn from(e: upkeep_store::StoreError) -> Self {
        match e {
            upkeep_store::StoreError::Conflict(detail) => {
                Problem::new(StatusCode::CONFLICT, detail).with_type("conflict")
            }
            other => Problem::internal(&other),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut resp = (status, body).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(challenge) = self.challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        resp
    }
}
