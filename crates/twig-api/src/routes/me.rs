//! `GET /api/v1/me`: who the calling key is.

use crate::auth::{AnyScope, Authed};
use axum::Json;
use serde::Serialize;
use twig_core::apikey::{Environment, Scope};
use twig_core::id::{KeyId, OrgId, UserId};
use twig_core::user::Role;
use utoipa::ToSchema;

/// The calling key's identity.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// Organisation of the key (needed by semantic search).
    pub org_id: OrgId,
    /// The key's id.
    pub key_id: KeyId,
    /// The key's name.
    pub name: String,
    /// Its scopes.
    pub scopes: Vec<Scope>,
    /// `live` or `test`.
    pub environment: Environment,
    /// The user the key belongs to, if any.
    pub user_id: Option<UserId>,
    /// That user's role, which bounds the key's scopes.
    pub role: Option<Role>,
}

/// Describes the calling API key. Any valid key.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = "4XX", body = crate::error::ErrorBody)))]
pub async fn me(auth: Authed<AnyScope>) -> Json<Me> {
    let k = auth.key;
    Json(Me {
        org_id: k.org_id,
        key_id: k.id,
        name: k.name,
        scopes: k.scopes,
        environment: k.environment,
        user_id: k.user_id,
        role: k.owner_role,
    })
}
