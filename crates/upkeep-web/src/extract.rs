//! Extractors that turn every malformed request into a [`Problem`] a person can act on,
//! instead of axum's plain-text rejections.

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::problem::Problem;

/// A JSON body. Wrong content type → 415, unreadable JSON → 400, JSON of the wrong shape → 422,
/// a body over the limit → 413.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_problem(&rejection)),
        }
    }
}

fn json_problem(rejection: &JsonRejection) -> Problem {
    let status = rejection.status();
    let detail = match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            "send the body as JSON with `Content-Type: application/json`".to_owned()
        }
        _ if status == StatusCode::PAYLOAD_TOO_LARGE => {
            "the request body is larger than this server accepts (server.max_body)".to_owned()
        }
        other => other.body_text(),
    };
    Problem::new(status, detail).with_type("invalid-body")
}

/// A query string; a malformed one → 400 naming the problem.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|r: QueryRejection| {
                Problem::bad_request(r.body_text()).with_type("invalid-query")
            })
    }
}

/// Path parameters; a malformed one → 400.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|r: PathRejection| {
                Problem::bad_request(r.body_text()).with_type("invalid-path")
            })
    }
}

/// The problem of a JSON body that does not parse: unreadable JSON → 400, JSON of the wrong
/// shape → 422. `what` ends the sentence "the body is not …".
pub fn body_problem(e: &serde_json::Error, what: &str) -> Problem {
    let status = if e.is_data() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::BAD_REQUEST
    };
    Problem::new(status, format!("the body is not {what}: {e}")).with_type("invalid-body")
}

/// An optional JSON body: empty (or only whitespace) means the defaults; otherwise it must
/// parse ([`body_problem`] with `what` when it does not).
pub fn optional_json<T: DeserializeOwned + Default>(raw: &Bytes, what: &str) -> Result<T, Problem> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(raw).map_err(|e| body_problem(&e, what))
}
