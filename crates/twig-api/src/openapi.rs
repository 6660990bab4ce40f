//! The OpenAPI document, assembled from the same route list the router uses,
//! so no route can exist without an entry.

use crate::routes::{
    agents, analytics, api_keys, data_sources, health, ingest, integrations, interactions, kb, me,
    query, search, users, webhooks,
};
use crate::AppState;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "Twig API", description = "Self-hostable Twig: agents answering from your knowledge, with citations."),
    modifiers(&BearerAuth),
    components(schemas(
        crate::error::ErrorBody,
        // Referenced from path and query parameters, which do not collect their schemas.
        twig_core::id::AgentId, twig_core::id::DataSourceId, twig_core::id::DocumentId,
        twig_core::id::KeyId, twig_core::id::UserId, twig_core::id::ArticleId,
        twig_core::id::WebhookId, twig_core::id::DeliveryId, twig_core::id::InteractionId,
        twig_core::id::SessionId, twig_core::id::OrgId,
        twig_core::datasource::DataSourceStatus, twig_core::kb::ArticleStatus,
        interactions::FeedbackFilterName, analytics::GranularityName,
    ))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("twigsk_live_…")
                    .build(),
            ),
        );
    }
}

/// Every documented route.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(me::me))
        .routes(routes!(agents::list, agents::create))
        .routes(routes!(agents::get, agents::update, agents::delete))
        .routes(routes!(data_sources::list, data_sources::create))
        .routes(routes!(
            data_sources::get,
            data_sources::update,
            data_sources::delete
        ))
        .routes(routes!(ingest::sync))
        .routes(routes!(ingest::test))
        .routes(routes!(ingest::status))
        .routes(routes!(ingest::documents))
        .routes(routes!(ingest::delete_document))
        // Uploads stream to disk under their own limits (ingest.max_*_bytes), not the JSON body limit.
        .merge(
            OpenApiRouter::new()
                .routes(routes!(ingest::upload))
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .routes(routes!(api_keys::list, api_keys::create))
        .routes(routes!(api_keys::get, api_keys::update, api_keys::revoke))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::get, users::update, users::delete))
        .routes(routes!(search::semantic_search))
        .routes(routes!(kb::list, kb::create))
        .routes(routes!(kb::get, kb::update, kb::delete))
        .routes(routes!(kb::versions))
        .routes(routes!(kb::version))
        .routes(routes!(webhooks::list, webhooks::create))
        .routes(routes!(webhooks::get, webhooks::update, webhooks::delete))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(webhooks::test))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(webhooks::redeliver))
        .routes(routes!(query::query))
        .routes(routes!(interactions::list))
        .routes(routes!(interactions::get))
        .routes(routes!(interactions::feedback))
        .routes(routes!(analytics::get))
        .routes(routes!(integrations::get_slack, integrations::put_slack))
        .routes(routes!(openapi_json))
}

/// The OpenAPI document of this server (no auth); agent `model`s are those it serves.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
async fn openapi_json(
    axum::extract::State(s): axum::extract::State<AppState>,
) -> axum::Json<serde_json::Value> {
    static DOC: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    let mut doc = DOC.get_or_init(document).clone();
    crate::openapi_refine::restrict_models(&mut doc, &s.models.models());
    axum::Json(doc)
}

/// The OpenAPI document, as served at `/api/v1/openapi.json` but with any agent `model` name
/// (the served one lists the deployment's models).
pub fn document() -> serde_json::Value {
    let doc = routes().split_for_parts().1;
    let mut doc = serde_json::to_value(doc).unwrap_or_default();
    crate::openapi_refine::refine(&mut doc);
    doc
}
