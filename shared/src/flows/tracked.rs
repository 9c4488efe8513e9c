//! What the request, offer and order flows share: loading one the caller may see, a
//! party's transition on it, its verified timeline, and the caller's list of them.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::adapters::dynamo::Page;
use crate::flows::App;
use peyman_rules::caller::Caller;
use peyman_rules::error::ApiError;
use peyman_rules::lifecycle::{self, Actor, Transition};
use peyman_rules::timeline;
use peyman_rules::tracked::{Step, Tracked, refusal};

/// Loads an entity the caller may see, with their part in it; to anyone else it does not
/// exist.
pub async fn visible<T: Tracked>(app: &App, id: &str, caller: &Caller) -> Result<(T, Actor), ApiError> {
    let entity: T = app.store.tracked(id).await?.ok_or(ApiError::NotFound { what: T::NAME })?;
    let role = entity.role_of(caller).ok_or(ApiError::NotFound { what: T::NAME })?;
    Ok((entity, role))
}

/// A party's action on an existing entity: ask the table, apply `update`, record the
/// step, commit, and return the entity as it now is.
#[allow(clippy::too_many_arguments)]
pub async fn act<T: Tracked, A: Copy + PartialEq>(
    app: &App,
    table: &'static [Transition<T::State, A>],
    id: &str,
    action: A,
    caller: &Caller,
    now: DateTime<Utc>,
    data: Value,
    update: impl FnOnce(&mut T),
) -> Result<T, ApiError> {
    let (mut entity, actor) = visible::<T>(app, id, caller).await?;
    let t = lifecycle::step(table, entity.state(), action, actor, &entity.facts(now)).map_err(refusal::<T>)?;
    update(&mut entity);
    let mut commit = app.store.begin();
    commit.record(&mut entity, Step::of(t, actor, Some(&caller.user_id), data), now)?;
    app.commit(commit).await?;
    Ok(entity)
}

/// The timeline of `entity` as parties see it, with the result of verifying its chain.
/// The entity is read first and its events after, so events a later transition appended
/// meanwhile (beyond the entity's version) are left for the next read: the view is the
/// timeline as of the entity it names.
pub async fn history<T: Tracked>(app: &App, entity: &T) -> Result<Value, ApiError> {
    Ok(timeline::view(&events_as_of(app, entity).await?, entity.head_hash()))
}

/// The events of `entity`'s timeline up to its version, so they end at the head it names.
pub async fn events_as_of<T: Tracked>(app: &App, entity: &T) -> Result<Vec<timeline::Event>, ApiError> {
    let mut events = app.store.timeline::<T>(entity.id()).await?;
    events.retain(|e| e.seq <= entity.version());
    Ok(events)
}

/// Which of the caller's entities to list.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// The seller's side (`true`) or the buyer's.
    pub as_seller: bool,
    /// Only those in this state (its serialized name).
    pub status: Option<String>,
    pub limit: i32,
    pub cursor: Option<String>,
}

/// The caller's entities of one kind, newest first, one page.
pub async fn list<T: Tracked>(app: &App, caller: &Caller, query: &ListQuery) -> Result<Page<T>, ApiError> {
    let status = query.status.as_deref();
    app.store.list::<T>(query.as_seller, &caller.user_id, status, query.limit, query.cursor.as_deref()).await
}
