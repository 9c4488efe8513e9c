//! The append-only, hash-chained timeline of a request, offer or order. Each event
//! carries the hash of the one before it and its own hash over its canonical form, and
//! the entity keeps the head hash, so a changed, missing or reordered event is detected.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::canonical;
use crate::lifecycle::Actor;

/// The hash before the first event.
pub const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// `offer/{id}`, `order/{id}`, `request/{id}`.
    pub subject: String,
    /// 1, 2, 3…: the entity's version after this event.
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    /// The user who acted; `None` for the system.
    pub actor_id: Option<String>,
    pub event: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub data: Value,
    pub prev_hash: String,
    pub hash: String,
}

/// An event before it is hashed into the chain.
pub struct Draft<'a> {
    pub subject: &'a str,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub actor_id: Option<&'a str>,
    pub event: &'a str,
    pub from_state: Option<String>,
    pub to_state: String,
    pub data: Value,
}

impl Event {
    /// Appends `draft` after the event numbered `seq - 1` whose hash is `prev_hash`.
    pub fn chain(draft: Draft<'_>, seq: u64, prev_hash: &str) -> Event {
        let mut event = Event {
            subject: draft.subject.to_owned(),
            seq,
            at: draft.at,
            actor: draft.actor,
            actor_id: draft.actor_id.map(str::to_owned),
            event: draft.event.to_owned(),
            from_state: draft.from_state,
            to_state: draft.to_state,
            data: draft.data,
            prev_hash: prev_hash.to_owned(),
            hash: String::new(),
        };
        event.hash = event.computed_hash();
        event
    }

    /// The hash of everything but the hash itself.
    pub fn computed_hash(&self) -> String {
        let mut body = serde_json::to_value(self).expect("events serialize");
        if let Some(fields) = body.as_object_mut() {
            fields.remove("hash");
        }
        canonical::sha256(&body)
    }
}

/// Where a chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Break {
    #[error("event {seq} is missing or out of order")]
    Gap { seq: u64 },
    #[error("event {seq} does not follow the hash of the one before it")]
    Link { seq: u64 },
    #[error("event {seq} was changed after it was written")]
    Altered { seq: u64 },
    #[error("the timeline does not end at the entity's head hash")]
    Head,
}

/// Checks `events` (in order) against the head hash the entity keeps.
pub fn verify(events: &[Event], head_hash: &str) -> Result<(), Break> {
    let mut prev = GENESIS.to_owned();
    for (i, event) in events.iter().enumerate() {
        let expected = i as u64 + 1;
        if event.seq != expected {
            return Err(Break::Gap { seq: expected });
        }
        if event.prev_hash != prev {
            return Err(Break::Link { seq: event.seq });
        }
        if event.computed_hash() != event.hash {
            return Err(Break::Altered { seq: event.seq });
        }
        prev = event.hash.clone();
    }
    if prev != head_hash {
        return Err(Break::Head);
    }
    Ok(())
}

/// The timeline as parties see it: its events, the head hash, and whether the chain
/// verifies (and where it breaks, if it does not).
pub fn view(events: &[Event], head_hash: &str) -> serde_json::Value {
    let verified = verify(events, head_hash);
    serde_json::json!({
        "events": events,
        "head_hash": head_hash,
        "verified": verified.is_ok(),
        "break": verified.err().map(|b| b.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chain(n: u64) -> Vec<Event> {
        let mut events: Vec<Event> = Vec::new();
        for seq in 1..=n {
            let prev = events.last().map_or(GENESIS.to_owned(), |e| e.hash.clone());
            let draft = Draft {
                subject: "offer/1",
                at: Utc::now(),
                actor: Actor::Buyer,
                actor_id: Some("b"),
                event: "e",
                from_state: None,
                to_state: "sent".into(),
                data: json!({ "n": seq, "note": "می‌شود" }),
            };
            events.push(Event::chain(draft, seq, &prev));
        }
        events
    }

    #[test]
    fn an_intact_chain_verifies() {
        let events = chain(4);
        assert_eq!(verify(&events, &events[3].hash), Ok(()));
        assert_eq!(verify(&[], GENESIS), Ok(()));
    }

    #[test]
    fn any_change_deletion_or_reorder_is_detected() {
        let events = chain(4);
        let head = events[3].hash.clone();
        let mut changed = events.clone();
        changed[1].data = json!({ "n": 99 });
        assert_eq!(verify(&changed, &head), Err(Break::Altered { seq: 2 }));
        let mut relinked = events.clone();
        relinked[2].prev_hash = GENESIS.into();
        assert_eq!(verify(&relinked, &head), Err(Break::Link { seq: 3 }));
        let mut missing = events.clone();
        missing.remove(1);
        assert_eq!(verify(&missing, &head), Err(Break::Gap { seq: 2 }));
        let truncated = &events[..3];
        assert_eq!(verify(truncated, &head), Err(Break::Head));
        let mut swapped = events.clone();
        swapped.swap(1, 2);
        assert!(verify(&swapped, &head).is_err());
    }
}
