//! What requests, offers and orders share: a state moved only by their transition table,
//! a version for optimistic concurrency, and a hash-chained timeline. [`advance`] turns
//! one transition into what one transaction must write (the storage adapter writes it).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::caller::Caller;
use crate::error::{ApiError, Code};
use crate::followup::FollowUp;
use crate::lifecycle::{Actor, Facts, Note, Refusal, ReviewFacts, Start, Timer, Transition};
use crate::timeline::{Draft, Event};

pub trait Tracked: Serialize + DeserializeOwned + Clone {
    type State: Copy + Serialize + DeserializeOwned + PartialEq;
    /// The key prefix: `REQUEST`, `OFFER`, `ORDER`.
    const KIND: &'static str;
    /// The word in problem codes and messages.
    const NAME: &'static str;
    /// Its fields fixed when it is made (an offer's or order's sealed terms): stored once,
    /// beside it, and never rewritten by a transition, which then writes only what moves.
    const SEALED: &'static [&'static str] = &[];
    /// Whether it has a buyer, whose list (GSI1) it is in. One without (a withdrawal) is
    /// listed for its seller there instead.
    const HAS_BUYER: bool = true;
    fn id(&self) -> &str;
    fn buyer_id(&self) -> &str;
    fn seller_id(&self) -> &str;
    fn state(&self) -> Self::State;
    fn set_state(&mut self, state: Self::State);
    fn version(&self) -> u64;
    fn head_hash(&self) -> &str;
    fn set_chain(&mut self, version: u64, head_hash: String, now: DateTime<Utc>);

    /// Its deadline, if it has one (a request's answer window, an offer's expiry, an
    /// order's due time).
    fn deadline(&self) -> Option<DateTime<Utc>> {
        None
    }
    /// When `timer` fires for it, if it has that timer.
    fn timer_at(&self, _timer: Timer) -> Option<DateTime<Utc>> {
        None
    }
    /// Revisions used and included (orders only).
    fn revisions(&self) -> (u32, u32) {
        (0, 0)
    }
    /// Stages after the current one (orders only).
    fn stages_left(&self) -> u32 {
        0
    }
    /// When a right opens that a guard waits for (orders only: a late order's
    /// cancellation by its buyer).
    fn right_opens_at(&self) -> Option<DateTime<Utc>> {
        None
    }
    /// An open cancellation request: who made it, until when it may be answered (orders).
    fn open_request(&self) -> Option<(Actor, DateTime<Utc>)> {
        None
    }
    /// Which reviews it has (orders only).
    fn reviews(&self) -> ReviewFacts {
        ReviewFacts::default()
    }
    /// The party who opened it (disputes only).
    fn opener(&self) -> Option<Actor> {
        None
    }
    /// The state it goes back to when its dispute is withdrawn (orders only).
    fn resumes(&self) -> Option<crate::lifecycle::OrderState> {
        None
    }
    /// Until when it may be disputed after completion (orders only).
    fn disputable_until(&self) -> Option<DateTime<Utc>> {
        None
    }
    /// An open amendment (orders only).
    fn open_amendment(&self) -> Option<crate::lifecycle::AmendmentFacts> {
        None
    }
    /// The buyer's tip, once offered (orders only).
    fn tip(&self) -> Option<crate::lifecycle::TipFacts> {
        None
    }

    /// The support queue it is listed in (GSI2), by state, instead of its seller's list
    /// (disputes, withdrawals).
    fn support_queue(&self) -> Option<Self::State> {
        None
    }

    fn subject(&self) -> String {
        format!("{}/{}", Self::NAME, self.id())
    }

    /// What the table's guards look at.
    fn facts(&self, now: DateTime<Utc>) -> Facts {
        let (revisions_used, revisions_included) = self.revisions();
        Facts {
            now,
            deadline: self.deadline(),
            revisions_used,
            revisions_included,
            stages_left: self.stages_left(),
            right_opens_at: self.right_opens_at(),
            request: self.open_request(),
            reviews: self.reviews(),
            opener: self.opener(),
            resumes: self.resumes(),
            disputable_until: self.disputable_until(),
            amendment: self.open_amendment(),
            tip: self.tip(),
        }
    }

    /// The caller's part in it: buyer, seller, or support (who may read everything).
    fn role_of(&self, caller: &Caller) -> Option<Actor> {
        if Self::HAS_BUYER && caller.user_id == self.buyer_id() {
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
            Actor::Buyer => Self::HAS_BUYER.then(|| self.buyer_id()),
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

/// What one transition writes, besides the entity itself: the chained event, a
/// follow-up per party to tell, and the timers to start (when, and their subject).
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// The version the stored entity must still have (0: it must not exist yet).
    pub expected: u64,
    pub event: Event,
    pub followups: Vec<FollowUp>,
    pub timers: Vec<(DateTime<Utc>, String)>,
}

/// Moves `entity` by `step` at `now`: its state, version and chain head, and what the
/// transaction must write with it.
pub fn advance<T: Tracked>(entity: &mut T, step: Step<'_, T::State>, now: DateTime<Utc>) -> Recorded {
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
    let followups = step
        .notify
        .iter()
        .filter_map(|party| entity.party(*party))
        .map(|recipient| FollowUp::notify(recipient, &subject, step.event, now))
        .collect();
    let timers = step
        .timers
        .iter()
        .filter_map(|timer| entity.timer_at(*timer).map(|due| (due, timer.subject(&subject))))
        .collect();
    Recorded { expected, event, followups, timers }
}

impl<'a, S: Copy> Step<'a, S> {
    /// A fact that moves no state (a payment failed, a refund was confirmed, the order
    /// is late), recorded like a transition: under the entity's version, chained, with
    /// the parties the note names told.
    pub fn note(state: S, note: &'a Note, data: Value) -> Self {
        Step {
            from: Some(state),
            to: state,
            event: note.event,
            actor: Actor::System,
            actor_id: None,
            notify: note.notify,
            timers: &[],
            data,
        }
    }
}

/// The problem for a refused transition.
pub fn refusal<T: Tracked>(refusal: Refusal) -> ApiError {
    let name = T::NAME;
    match refusal {
        Refusal::NotNow => {
            ApiError::conflict(Code::InvalidState, format!("this {name} does not allow that in its current state"))
        }
        Refusal::NotYours => {
            ApiError::forbidden(Code::NotAllowedForRole, format!("that is the other party's decision on this {name}"))
        }
        Refusal::Guard(crate::lifecycle::Guard::BeforeDeadline) => {
            ApiError::conflict(Code::Expired, format!("this {name} has expired"))
        }
        Refusal::Guard(crate::lifecycle::Guard::RightOpen) => ApiError::conflict(
            Code::LateCancellationNotOpen,
            format!("this {name} may be cancelled alone only once it is late and its grace period has passed"),
        ),
        Refusal::Guard(crate::lifecycle::Guard::NoRequestOpen) => ApiError::conflict(
            Code::CancellationRequestOpen,
            format!("a cancellation request is already open on this {name}"),
        ),
        Refusal::Guard(crate::lifecycle::Guard::RequestOpenByOther) => {
            ApiError::forbidden(Code::NotAllowedForRole, "the other party answers a cancellation request")
        }
        Refusal::Guard(crate::lifecycle::Guard::RevisionsLeft) => {
            ApiError::conflict(Code::RevisionLimitReached, format!("every revision this {name} includes was used"))
        }
        Refusal::Guard(_) => ApiError::conflict(Code::InvalidState, format!("this {name} does not allow that now")),
    }
}

/// Implements [`Tracked`] for an entity with the usual field names (`buyer_id`,
/// `seller_id`, `state`, `version`, `head_hash`, `updated_at`); the block adds what the
/// entity has beyond the trait's defaults (its deadline, timers, an order's revisions…).
macro_rules! tracked {
    ($type:ty, $state:ty, $kind:literal, $name:literal, $id:ident, { $($own:item)* }) => {
        impl $crate::tracked::Tracked for $type {
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
            fn version(&self) -> u64 {
                self.version
            }
            fn head_hash(&self) -> &str {
                &self.head_hash
            }
            fn set_chain(&mut self, version: u64, head_hash: String, now: chrono::DateTime<chrono::Utc>) {
                self.version = version;
                self.head_hash = head_hash;
                self.updated_at = now;
            }
            $($own)*
        }
    };
}
pub(crate) use tracked;

/// Requests and offers have one timer: expiry at their deadline.
pub fn expiry_only<T: Tracked>(entity: &T, timer: Timer) -> Option<DateTime<Utc>> {
    (timer == Timer::ExpireAtDeadline).then(|| entity.deadline()).flatten()
}
