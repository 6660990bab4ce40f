//! Agent use cases.

use crate::agent::{Agent, AgentInput};
use crate::error::{Error, Result};
use crate::id::{AgentId, OrgId};
use crate::llm::ModelRegistry;
use crate::page::{Listed, Page};
use crate::store::Store;

/// Refuses a model no configured provider serves, naming the ones that are.
pub fn check_model(models: &dyn ModelRegistry, model: &str) -> Result<()> {
    if models.route(model).is_some() {
        return Ok(());
    }
    let mut configured = models.models();
    configured.sort();
    let mut details = serde_json::Map::new();
    details.insert("field".into(), "model".into());
    details.insert("configured_models".into(), configured.clone().into());
    Err(Error::InvalidRequest {
        message: format!(
            "Model {model:?} has no configured provider; configured models: {}",
            configured.join(", ")
        ),
        details,
    })
}

/// Creates an agent after validating every field, its model and its data sources;
/// without a `model` it gets the registry's default.
pub async fn create(
    store: &dyn Store,
    models: &dyn ModelRegistry,
    org: &OrgId,
    mut input: AgentInput,
) -> Result<Agent> {
    if input.model.is_none() {
        input.model = Some(models.default_model().to_owned());
    }
    let agent = Agent::create(org.clone(), input)?;
    check_model(models, &agent.model)?;
    store.create_agent(&agent).await?;
    Ok(agent)
}

/// Reads one agent of the org.
pub async fn get(store: &dyn Store, org: &OrgId, id: &str) -> Result<Agent> {
    let id = AgentId::parse(id)?;
    store
        .get_agent(org, &id)
        .await?
        .ok_or_else(|| Error::not_found("Agent", id.as_str()))
}

/// Lists the org's agents.
pub async fn list(store: &dyn Store, org: &OrgId, page: Page) -> Result<Listed<Agent>> {
    Ok(store.list_agents(org, page).await?)
}

/// Applies a partial update; a new `model` must have a provider.
pub async fn update(
    store: &dyn Store,
    models: &dyn ModelRegistry,
    org: &OrgId,
    id: &str,
    input: AgentInput,
) -> Result<Agent> {
    let mut agent = get(store, org, id).await?;
    let model_changed = input.model.is_some();
    agent.apply(input)?;
    if model_changed {
        check_model(models, &agent.model)?;
    }
    if store.update_agent(&agent).await? {
        Ok(agent)
    } else {
        // Deleted between our read and write.
        Err(Error::not_found("Agent", agent.id.as_str()))
    }
}

/// Deletes an agent.
pub async fn delete(store: &dyn Store, org: &OrgId, id: &str) -> Result<()> {
    let id = AgentId::parse(id)?;
    if store.delete_agent(org, &id).await? {
        Ok(())
    } else {
        Err(Error::not_found("Agent", id.as_str()))
    }
}
