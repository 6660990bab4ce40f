//! User use cases. Role changes narrow the user's keys, and removing a user
//! revokes them, in the same store transaction as the change.

use crate::error::{Error, Result};
use crate::id::{OrgId, UserId};
use crate::page::{Listed, Page};
use crate::store::{Store, StoreError};
use crate::time;
use crate::user::{User, UserInput};

/// Maps the store's uniqueness conflict to an error on the `email` field.
fn email_taken(e: StoreError, email: &str) -> Error {
    match e {
        StoreError::Conflict(_) => {
            let mut err = Error::invalid_field(
                "email",
                format!("A user with email {email:?} already exists in this organisation"),
            );
            if let Error::InvalidRequest { details, .. } = &mut err {
                details.insert("email".into(), email.into());
            }
            err
        }
        other => other.into(),
    }
}

/// Creates a user.
pub async fn create(store: &dyn Store, org: &OrgId, input: UserInput) -> Result<User> {
    let user = User::create(org.clone(), input)?;
    store
        .users()
        .create_user(&user)
        .await
        .map_err(|e| email_taken(e, &user.email))?;
    Ok(user)
}

/// Lists the org's users.
pub async fn list(store: &dyn Store, org: &OrgId, page: Page) -> Result<Listed<User>> {
    Ok(store.users().list_users(org, page).await?)
}

/// Reads a user of the org.
pub async fn get(store: &dyn Store, org: &OrgId, id: &str) -> Result<User> {
    let id = UserId::parse(id)?;
    store
        .users()
        .get_user(org, &id)
        .await?
        .ok_or_else(|| Error::not_found("User", id.as_str()))
}

/// Updates a user; a lower role narrows the scopes of the user's keys (keys left with none are revoked).
pub async fn update(store: &dyn Store, org: &OrgId, id: &str, input: UserInput) -> Result<User> {
    let current = get(store, org, id).await?;
    let user = current.apply(input)?;
    let done = store
        .users()
        .update_user(&user, time::now())
        .await
        .map_err(|e| email_taken(e, &user.email))?;
    if done {
        Ok(user)
    } else {
        Err(Error::not_found("User", user.id.as_str()))
    }
}

/// Removes a user and revokes the user's keys.
pub async fn delete(store: &dyn Store, org: &OrgId, id: &str) -> Result<()> {
    let id = UserId::parse(id)?;
    if store.users().delete_user(org, &id, time::now()).await? {
        Ok(())
    } else {
        Err(Error::not_found("User", id.as_str()))
    }
}
