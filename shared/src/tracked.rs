//! What requests, offers and orders share: a state moved only by their transition table,
//! a version for optimistic concurrency, and a hash-chained timeline. `record` turns one
//! transition into the writes of one transaction.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::App;
use crate::error::ApiError;
use crate::followup::FollowUp;
use crate::http::{ApiRequest, Reply};
use crate::identity::Caller;
use crate::lifecycle::{self, Actor, Facts, Refusal, Start, Timer, Transition};
use crate::offer::Offer;
use crate::order::Order;
use crate::request::Request;
use crate::store::Commit;
use crate::timeline::{Draft, Event};

pub trait Tracked: Serialize + DeserializeOwned + Clone {
    type State: Copy + Serialize + DeserializeOwned + PartialEq;
    /// The key prefix: `REQUEST`, `OFFER`, `ORDER`.
    const KIND: &'static str;
    /// The word in problem codes and messages.
    const NAME: &'static str;
    fn id(&self) -> &str;
    fn buyer_id(&self) -> &str;
    fn seller_id(&self) -> &str;
    fn state(&self) -> Self::State;
    fn set_state(&mut self, state: Self::State);
    fn deadline(&self) -> Option<DateTime<Utc>>;
    /// When `timer` fires for it, if it has that timer.
    fn timer_at(&self, timer: Timer) -> Option<DateTime<Utc>>;
    /// Revisions used and included (orders only).
    fn revisions(&self) -> (u32, u32);
    fn version(&self) -> u64;
    fn head_hash(&self) -> &str;
    fn set_chain(&mut self, version: u64, head_hash: String, now: DateTime<Utc>);

    fn subject(&self) -> String {
        format!("{}/{}", Self::NAME, self.id())
    }

    /// What the table's guards look at.
    fn facts(&self, now: DateTime<Utc>) -> Facts {
        let (revisions_used, revisions_included) = self.revisions();
        Facts { now, deadline: self.deadline(), revisions_used, revisions_included }
    }

    /// The caller's part in it: buyer, seller, or support (who may read everything).
    fn role_of(&self, caller: &Caller) -> Option<Actor> {
        if caller.user_id == self.buyer_id() {
            Some(Actor::Buyer)
        } else if caller.user_id == self.seller_id() {
            Some(Actor::Seller)
        } else if caller.is_support {
            Some(Actor::Support)
        } else {
            None
        }
    }

    fn party(&self, actor: Actor) -> Option<&str> {
        match actor {
            Actor::Buyer => Some(self.buyer_id()),
            Actor::Seller => Some(self.seller_id()),
            _ => None,
        }
    }
}

/// One transition, as data to record.
pub struct Step<'a, S> {
    pub from: Option<S>,
    pub to: S,
    pub event: &'a str,
    pub actor: Actor,
    pub actor_id: Option<&'a str>,
    pub notify: &'a [Actor],
    pub timers: &'a [Timer],
    pub data: Value,
}

impl<'a, S: Copy> Step<'a, S> {
    /// The step a table row describes.
    pub fn of<A>(t: &'a Transition<S, A>, actor: Actor, actor_id: Option<&'a str>, data: Value) -> Self {
        Step { from: Some(t.from), to: t.to, event: t.event, actor, actor_id, notify: t.notify, timers: t.timers, data }
    }

    /// The step that brings an entity into being.
    pub fn start(start: &'a Start<S>, actor: Actor, actor_id: Option<&'a str>, data: Value) -> Self {
        Step {
            from: None,
            to: start.state,
            event: start.event,
            actor,
            actor_id,
            notify: start.notify,
            timers: start.timers,
            data,
        }
    }
}

/// Moves `entity` and adds to `commit`: the entity under its version condition, the
/// chained event, a follow-up per party to tell, and the timers to start.
pub fn record<T: Tracked>(
    commit: &mut Commit,
    entity: &mut T,
    step: Step<'_, T::State>,
    now: DateTime<Utc>,
) -> Result<Event, ApiError> {
    let expected = entity.version();
    let seq = expected + 1;
    entity.set_state(step.to);
    let state_name =
        |s: T::State| serde_json::to_value(s).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let subject = entity.subject();
    let event = Event::chain(
        Draft {
            subject: &subject,
            at: now,
            actor: step.actor,
            actor_id: step.actor_id,
            event: step.event,
            from_state: step.from.map(state_name),
            to_state: state_name(step.to),
            data: step.data,
        },
        seq,
        entity.head_hash(),
    );
    entity.set_chain(seq, event.hash.clone(), now);
    commit.entity(entity, expected)?;
    commit.event::<T>(entity.id(), &event)?;
    for party in step.notify {
        if let Some(recipient) = entity.party(*party) {
            commit.followup(FollowUp::notify(recipient, &subject, step.event, now))?;
        }
    }
    for timer in step.timers {
        if let Some(due) = entity.timer_at(*timer) {
            commit.timer(due, &timer.subject(&subject))?;
        }
    }
    Ok(event)
}

/// Adds a fact that moves no state (a payment failed, a refund was confirmed, the order
/// is late) to the entity's timeline, in the same way as a transition: under its
/// version, chained, with the parties in `notify` told.
pub fn note<T: Tracked>(
    commit: &mut Commit,
    entity: &mut T,
    event: &str,
    notify: &[Actor],
    data: Value,
    now: DateTime<Utc>,
) -> Result<Event, ApiError> {
    let state = entity.state();
    let step =
        Step { from: Some(state), to: state, event, actor: Actor::System, actor_id: None, notify, timers: &[], data };
    record(commit, entity, step, now)
}

/// The problem for a refused transition.
pub fn refusal<T: Tracked>(refusal: Refusal) -> ApiError {
    let name = T::NAME;
    match refusal {
        Refusal::NotNow => {
            ApiError::conflict("invalid_state", format!("this {name} does not allow that in its current state"))
        }
        Refusal::NotYours => {
            ApiError::forbidden("not_allowed_for_role", format!("that is the other party's decision on this {name}"))
        }
        Refusal::Guard(crate::lifecycle::Guard::BeforeDeadline) => {
            ApiError::conflict("expired", format!("this {name} has expired"))
        }
        Refusal::Guard(_) => ApiError::conflict("invalid_state", format!("this {name} does not allow that now")),
    }
}

/// Loads an entity the caller may see, with their part in it; to anyone else it does not
/// exist.
pub async fn visible<T: Tracked>(app: &App, id: &str, caller: &Caller) -> Result<(T, Actor), ApiError> {
    let entity: T = app.store.tracked(id).await?.ok_or(ApiError::NotFound { what: T::NAME })?;
    let role = entity.role_of(caller).ok_or(ApiError::NotFound { what: T::NAME })?;
    Ok((entity, role))
}

/// A party's transition on an existing entity: ask the table, apply `update`, record
/// the step, commit, and return the entity as it now is.
pub async fn act<T: Tracked, A: Copy + PartialEq>(
    app: &App,
    table: &'static [Transition<T::State, A>],
    id: &str,
    action: A,
    req: &ApiRequest,
    data: Value,
    update: impl FnOnce(&mut T),
) -> Result<T, ApiError> {
    let (caller, now) = (&req.caller, req.now);
    let (mut entity, actor) = visible::<T>(app, id, caller).await?;
    let t = lifecycle::step(table, entity.state(), action, actor, &entity.facts(now)).map_err(refusal::<T>)?;
    update(&mut entity);
    let mut commit = app.store.begin();
    let step = Step::of(t, actor, Some(&caller.user_id), data);
    record(&mut commit, &mut entity, step, now)?;
    app.commit(commit).await?;
    Ok(entity)
}

/// The timeline of `entity` as parties see it, with the result of verifying its chain.
/// The entity is read first and its events after, so events a later transition appended
/// meanwhile (beyond the entity's version) are left for the next read: the view is the
/// timeline as of the entity it names.
pub async fn history<T: Tracked>(app: &App, entity: &T) -> Result<Value, ApiError> {
    let mut events = app.store.timeline::<T>(entity.id()).await?;
    events.retain(|e| e.seq <= entity.version());
    Ok(history_view(&events, entity.head_hash()))
}

fn history_view(events: &[Event], head_hash: &str) -> Value {
    let verified = crate::timeline::verify(events, head_hash);
    serde_json::json!({
        "events": events,
        "head_hash": head_hash,
        "verified": verified.is_ok(),
        "break": verified.err().map(|b| b.to_string()),
    })
}

/// How a kind of entity shows itself to a caller in the given role.
pub type View<T> = fn(&T, Option<Actor>, DateTime<Utc>) -> Value;

/// The caller's entities of one kind, newest first: `?role=buyer|seller` picks the side,
/// `?status=` filters by state, `?limit=` and `?cursor=` page.
pub async fn list<T: Tracked>(app: &App, req: &ApiRequest, view: View<T>) -> Result<Reply, ApiError> {
    let as_seller = req.role_is_seller()?;
    let status = req.status::<T::State>()?;
    let me = &req.caller;
    let page = app
        .store
        .list::<T>(as_seller, &me.user_id, status.as_deref(), req.limit(20, 100)?, req.query("cursor"))
        .await?;
    let items: Vec<_> = page.items.iter().map(|e| view(e, e.role_of(me), req.now)).collect();
    Reply::ok(serde_json::json!({ "items": items, "next_cursor": page.next_cursor }))
}

/// One entity the caller may see, with its timeline and whether the chain verifies.
pub async fn with_history<T: Tracked>(app: &App, req: &ApiRequest, id: &str, view: View<T>) -> Result<Reply, ApiError> {
    let (entity, role) = visible::<T>(app, id, &req.caller).await?;
    let mut body = view(&entity, Some(role), req.now);
    body["history"] = history(app, &entity).await?;
    Reply::ok(body)
}

macro_rules! tracked {
    ($type:ty, $state:ty, $kind:literal, $name:literal, $id:ident, $deadline:expr, $timer_at:expr, $revisions:expr) => {
        impl Tracked for $type {
            type State = $state;
            const KIND: &'static str = $kind;
            const NAME: &'static str = $name;
            fn id(&self) -> &str {
                &self.$id
            }
            fn buyer_id(&self) -> &str {
                &self.buyer_id
            }
            fn seller_id(&self) -> &str {
                &self.seller_id
            }
            fn state(&self) -> Self::State {
                self.state
            }
            fn set_state(&mut self, state: Self::State) {
                self.state = state;
            }
            fn deadline(&self) -> Option<DateTime<Utc>> {
                let deadline: fn(&Self) -> Option<DateTime<Utc>> = $deadline;
                deadline(self)
            }
            fn timer_at(&self, timer: Timer) -> Option<DateTime<Utc>> {
                let timer_at: fn(&Self, Timer) -> Option<DateTime<Utc>> = $timer_at;
                timer_at(self, timer)
            }
            fn revisions(&self) -> (u32, u32) {
                let revisions: fn(&Self) -> (u32, u32) = $revisions;
                revisions(self)
            }
            fn version(&self) -> u64 {
                self.version
            }
            fn head_hash(&self) -> &str {
                &self.head_hash
            }
            fn set_chain(&mut self, version: u64, head_hash: String, now: DateTime<Utc>) {
                self.version = version;
                self.head_hash = head_hash;
                self.updated_at = now;
            }
        }
    };
}

/// Requests and offers have one timer: expiry at their deadline.
fn expiry_only<T: Tracked>(entity: &T, timer: Timer) -> Option<DateTime<Utc>> {
    (timer == Timer::ExpireAtDeadline).then(|| entity.deadline()).flatten()
}

tracked!(
    Request,
    crate::lifecycle::RequestState,
    "REQUEST",
    "request",
    request_id,
    |r| Some(r.expires_at),
    expiry_only,
    |_| (0, 0)
);
tracked!(
    Offer,
    crate::lifecycle::OfferState,
    "OFFER",
    "offer",
    offer_id,
    |o| Some(o.terms.expires_at),
    expiry_only,
    |_| (0, 0)
);
tracked!(
    Order,
    crate::lifecycle::OrderState,
    "ORDER",
    "order",
    order_id,
    Order::current_deadline,
    Order::timer_due,
    |o| (o.revisions_used, o.terms.revisions_included)
);
