//! Domain events: every timeline event, as the relay publishes it on the EventBridge bus
//! for other services (e-mail, SMS, push, search, payouts) to subscribe to. The envelope
//! is EventBridge's: `source` [`SOURCE`], `detail-type` the event's name, `detail` the
//! timeline event itself (`timeline::Event`, hash-chained: a subscriber may check the
//! chain, and drops a repeat by its `hash`).
//!
//! The catalogue is read from the lifecycle tables, so a new row is a new event with its
//! own JSON Schema in `events/schemas/` (`make docs` writes them; a test fails when one
//! differs from the tables).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::lifecycle::{
    Actor, CHARGEBACK_CLOSED, CHARGEBACK_OPENED, DISPUTE, DISPUTE_START, LATE_CANCELLATION_AVAILABLE, OFFER,
    OFFER_START, ORDER, ORDER_LATE, ORDER_START, PAYMENT, REFUND, REFUND_START, REFUNDS_CONFIRMED, REQUEST,
    REQUEST_START, Transition, WITHDRAWAL, WITHDRAWAL_START, snake,
};

/// The `source` of every event Peyman publishes.
pub const SOURCE: &str = "peyman";

/// One event as subscribers see it: which timelines it is on and the states it leaves
/// its entity in (none where it moves no state of that entity: a payment's or a
/// refund's move, noted on its order's timeline).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Published {
    /// `request`, `offer`, `order`, `dispute`: the subjects' kinds.
    pub kinds: BTreeSet<&'static str>,
    /// The states the entity is in after it, where it moves its own entity.
    pub to_states: BTreeSet<String>,
    /// Whether it is also noted with its entity left where it was (any state).
    pub any_state: bool,
    /// Who may cause it.
    pub actors: BTreeSet<String>,
}

const ALL_ACTORS: [&str; 4] = ["buyer", "seller", "support", "system"];

/// Every event a timeline can hold, by name.
pub fn catalogue() -> BTreeMap<&'static str, Published> {
    let mut all: BTreeMap<&'static str, Published> = BTreeMap::new();
    // One event on a `kind`'s timeline: `to` is the state it leaves its own entity in,
    // `None` where it is noted on another's (its entity left in any state).
    let mut add = |kind: &'static str, event: &'static str, to: Option<String>, actors: Vec<String>| {
        let entry = all.entry(event).or_default();
        entry.kinds.insert(kind);
        match to {
            Some(state) => _ = entry.to_states.insert(state),
            None => entry.any_state = true,
        }
        entry.actors.extend(actors);
    };
    let anyone = || ALL_ACTORS.map(str::to_owned).to_vec();
    fn by<S, A>(row: &Transition<S, A>) -> Vec<String> {
        row.by.iter().map(|a| snake(*a)).collect()
    }
    for row in REQUEST {
        add("request", row.event, Some(snake(row.to)), by(row));
    }
    for row in OFFER {
        add("offer", row.event, Some(snake(row.to)), by(row));
    }
    for row in ORDER {
        add("order", row.event, Some(snake(row.to)), by(row));
    }
    for row in DISPUTE {
        add("dispute", row.event, Some(snake(row.to)), by(row));
    }
    add("request", REQUEST_START.event, Some(snake(REQUEST_START.state)), anyone());
    add("offer", OFFER_START.event, Some(snake(OFFER_START.state)), anyone());
    add("order", ORDER_START.event, Some(snake(ORDER_START.state)), anyone());
    add("dispute", DISPUTE_START.event, Some(snake(DISPUTE_START.state)), anyone());
    for row in WITHDRAWAL {
        add("withdrawal", row.event, Some(snake(row.to)), by(row));
    }
    add("withdrawal", WITHDRAWAL_START.event, Some(snake(WITHDRAWAL_START.state)), vec![snake(Actor::Seller)]);
    // A payment's and a refund's moves, and the notes, are on their order's timeline.
    for row in PAYMENT {
        add("order", row.event, None, by(row));
    }
    for row in REFUND {
        add("order", row.event, None, by(row));
    }
    add("order", REFUND_START.event, None, anyone());
    for n in [&ORDER_LATE, &LATE_CANCELLATION_AVAILABLE, &CHARGEBACK_OPENED, &CHARGEBACK_CLOSED, &REFUNDS_CONFIRMED] {
        add("order", n.event, None, anyone());
    }
    all
}

/// The JSON Schema (draft 2020-12) of the event named `name` as the bus delivers it.
pub fn schema(name: &str, published: &Published) -> Value {
    let kinds: Vec<&str> = published.kinds.iter().copied().collect();
    let subject = format!("^({})/[0-9A-HJKMNP-TV-Z]{{26}}$", kinds.join("|"));
    let to_state = if published.any_state || published.to_states.is_empty() {
        json!({ "type": "string" })
    } else {
        json!({ "enum": published.to_states })
    };
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("https://peyman.example/events/{name}.json"),
        "title": name,
        "description": format!(
            "`{name}`, on the timeline of its {}: EventBridge's envelope, with the timeline event as its detail.",
            kinds.join(" or ")
        ),
        "type": "object",
        "required": ["source", "detail-type", "detail", "time"],
        "properties": {
            "source": { "const": SOURCE },
            "detail-type": { "const": name },
            "time": { "type": "string" },
            "detail": {
                "type": "object",
                "additionalProperties": false,
                "required": ["subject", "seq", "at", "actor", "actor_id", "event", "from_state", "to_state", "data", "prev_hash", "hash"],
                "properties": {
                    "subject": { "type": "string", "pattern": subject },
                    "seq": { "type": "integer", "minimum": 1 },
                    "at": { "type": "string", "format": "date-time" },
                    "actor": { "enum": published.actors },
                    "actor_id": { "type": ["string", "null"] },
                    "event": { "const": name },
                    "from_state": { "type": ["string", "null"] },
                    "to_state": to_state,
                    "data": { "type": "object" },
                    "prev_hash": { "type": "string", "pattern": "^sha256:[0-9a-f]{64}$" },
                    "hash": { "type": "string", "pattern": "^sha256:[0-9a-f]{64}$" }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_start_and_note_is_an_event_with_its_kinds_and_states() {
        let all = catalogue();
        assert_eq!(all["order_placed"].kinds, BTreeSet::from(["order"]));
        assert_eq!(all["order_placed"].to_states, BTreeSet::from(["awaiting_payment".to_owned()]));
        assert!(all["order_late"].any_state, "a note leaves its order in any state");
        assert!(!all["order_placed"].any_state);
        assert!(all.contains_key("refund_confirmed") && all.contains_key("dispute_opened"));
        for table_event in ORDER.iter().map(|r| r.event).chain(DISPUTE.iter().map(|r| r.event)) {
            assert!(all.contains_key(table_event), "{table_event}");
        }
    }

    /// `events/schemas/` holds exactly one schema per event, as `schema` draws it.
    #[test]
    fn the_event_schemas_are_the_tables_drawn() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/schemas");
        let all = catalogue();
        if std::env::var_os("UPDATE_DOCS").is_some() {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            for (name, published) in &all {
                let text = serde_json::to_string_pretty(&schema(name, published)).unwrap() + "\n";
                std::fs::write(dir.join(format!("{name}.json")), text).unwrap();
            }
        }
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        on_disk.sort();
        let expected: Vec<String> = all.keys().map(|n| format!("{n}.json")).collect();
        assert_eq!(on_disk, expected, "events/schemas/ differs from the tables: run `make docs`");
        for (name, published) in &all {
            let text = std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap();
            let committed: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(committed, schema(name, published), "events/schemas/{name}.json: run `make docs`");
        }
    }
}
