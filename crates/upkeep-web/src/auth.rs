//! Bearer-token authentication and role checks for the admin API.
//!
//! A handler states the role it needs in its signature — `Auth<Admin>`, `Auth<Editor>`,
//! `Auth<Viewer>`, `Auth<AlertHook>`, `Auth<AgentRole>` — and gets the [`Caller`]. No token or an unknown or revoked one → 401 with a
//! `WWW-Authenticate` challenge; a token whose role is too weak → 403 naming the role needed.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use upkeep_domain::role::Role;

use crate::problem::Problem;
use crate::state::AppState;

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token_id: String,
    pub token_name: String,
    pub role: Role,
}

impl Caller {
    /// How the caller appears in the audit log.
    pub fn actor(&self) -> String {
        format!("token:{} ({})", self.token_id, self.token_name)
    }

    /// The caller as the application services know it: an admin token may override a policy
    /// (`force`, `skip_checks`).
    pub fn for_services(&self) -> upkeep_engine::service::Caller {
        upkeep_engine::service::Caller {
            actor: self.actor(),
            may_override: self.role == Role::Admin,
        }
    }
}

/// A role a route requires, as a type.
pub trait RequiredRole: Send + Sync {
    const ROLE: Role;
}

/// Reading: any valid token.
#[derive(Debug)]
pub struct Viewer;
/// Changing runtime facts.
#[derive(Debug)]
pub struct Editor;
/// Tokens, configuration reloads, policy overrides.
#[derive(Debug)]
pub struct Admin;
/// Posting alerts to the Alertmanager hook: a `hook` token (good for nothing else), or an
/// `editor` or `admin` one.
#[derive(Debug)]
pub struct AlertHook;

impl RequiredRole for Viewer {
    const ROLE: Role = Role::Viewer;
}
impl RequiredRole for Editor {
    const ROLE: Role = Role::Editor;
}
impl RequiredRole for Admin {
    const ROLE: Role = Role::Admin;
}
impl RequiredRole for AlertHook {
    const ROLE: Role = Role::Hook;
}
/// A probe agent's own endpoints (assignments, results): an `agent` token, nothing else.
#[derive(Debug)]
pub struct AgentRole;
impl RequiredRole for AgentRole {
    const ROLE: Role = Role::Agent;
}

/// An authenticated caller holding at least role `R`.
#[derive(Debug)]
pub struct Auth<R>(pub Caller, pub PhantomData<R>);

impl<R: RequiredRole> FromRequestParts<AppState> for Auth<R> {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let secret = bearer(parts)?;
        let now = state.clock.now();
        let Some(token) = state.store.authenticate(secret, now).await? else {
            return Err(Problem::unauthorized(
                "the bearer token is unknown or revoked; create one with `upkeep token create`",
            ));
        };
        if let Some(authenticated) = parts.extensions.get::<crate::rate_limit::Authenticated>() {
            authenticated.set();
        }
        if let Err(wait) = state.token_limiter.check_key(&token.id) {
            return Err(crate::rate_limit::over_quota(wait));
        }
        let role = token.role()?;
        if !role.allows(R::ROLE) {
            return Err(Problem::forbidden(format!(
                "this needs a token with the {} role; token `{}` has the {} role",
                R::ROLE,
                token.name,
                role
            )));
        }
        Ok(Auth(
            Caller {
                token_id: token.id,
                token_name: token.name,
                role,
            },
            PhantomData,
        ))
    }
}

fn bearer(parts: &Parts) -> Result<&str, Problem> {
    let Some(value) = parts.headers.get(AUTHORIZATION) else {
        return Err(Problem::unauthorized(
            "send `Authorization: Bearer TOKEN`; create a token with `upkeep token create`",
        ));
    };
    let value = value
        .to_str()
        .map_err(|_| Problem::unauthorized("the Authorization header is not valid text"))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(Problem::unauthorized(
            "the Authorization header must be `Bearer TOKEN`",
        )),
    }
}
