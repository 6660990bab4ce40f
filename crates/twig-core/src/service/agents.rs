//! Agent use cases.

use crate::agent::{Agent, AgentInput};
use crate::error::{Error, Result};
use crate::id::{AgentId, OrgId};
use crate::page::{Listed, Page};
use crate::store::Store;

/// Creates an agent after validating every field and its data sources.
pub async fn create(store: &dyn Store, org: &OrgId, input: AgentInput) -> Result<Agent> {
    let agent = Agent::create(org.clone(), input)?;
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

/// Applies a partial update.
pub async fn update(store: &dyn Store, org: &OrgId, id: &str, input: AgentInput) -> Result<Agent> {
    let mut agent = get(store, org, id).await?;
    agent.apply(input)?;
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
