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
    self, CHARGEBACK_CLOSED, CHARGEBACK_OPENED, DISPUTE, DISPUTE_START, LATE_CANCELLATION_AVAILABLE, Note, OFFER,
    OFFER_START, ORDER, ORDER_LATE, ORDER_START, PAYMENT, REFUND, REFUND_START, REFUNDS_CONFIRMED, REQUEST,
    REQUEST_START, Transition,
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

fn snake(name: impl std::fmt::Debug) -> String {
    serde_json::to_value(format!("{name:?}"))
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .map(|s| {
            let mut out = String::new();
            for (i, c) in s.chars().enumerate() {
                if c.is_ascii_uppercase() {
                    if i > 0 {
                        out.push('_');
                    }
                    out.push(c.to_ascii_lowercase());
                } else {
                    out.push(c);
                }
            }
            out
        })
        .unwrap_or_default()
}

const ALL_ACTORS: [&str; 4] = ["buyer", "seller", "support", "system"];

/// Every event a timeline can hold, by name.
pub fn catalogue() -> BTreeMap<&'static str, Published> {
    let mut all: BTreeMap<&'static str, Published> = BTreeMap::new();
    fn rows<S: std::fmt::Debug + Copy, A>(
        all: &mut BTreeMap<&'static str, Published>,
        kind: &'static str,
        table: &[Transition<S, A>],
        own: bool,
    ) {
        for row in table {
            let entry = all.entry(row.event).or_default();
            entry.kinds.insert(kind);
            if own {
                entry.to_states.insert(snake(row.to));
            } else {
                entry.any_state = true;
            }
            entry.actors.extend(row.by.iter().map(|a| snake(*a)));
        }
    }
    fn start<S: std::fmt::Debug + Copy>(
        all: &mut BTreeMap<&'static str, Published>,
        kind: &'static str,
        start: &lifecycle::Start<S>,
        own: bool,
    ) {
        let entry = all.entry(start.event).or_default();
        entry.kinds.insert(kind);
        if own {
            entry.to_states.insert(snake(start.state));
        } else {
            entry.any_state = true;
        }
        entry.actors.extend(ALL_ACTORS.map(str::to_owned));
    }
    fn note(all: &mut BTreeMap<&'static str, Published>, kind: &'static str, note: &Note) {
        let entry = all.entry(note.event).or_default();
        entry.kinds.insert(kind);
        entry.any_state = true;
        entry.actors.extend(ALL_ACTORS.map(str::to_owned));
    }
    rows(&mut all, "request", REQUEST, true);
    start(&mut all, "request", &REQUEST_START, true);
    rows(&mut all, "offer", OFFER, true);
    start(&mut all, "offer", &OFFER_START, true);
    rows(&mut all, "order", ORDER, true);
    start(&mut all, "order", &ORDER_START, true);
    rows(&mut all, "dispute", DISPUTE, true);
    start(&mut all, "dispute", &DISPUTE_START, true);
    // A payment's and a refund's moves are noted on their order's timeline.
    rows(&mut all, "order", PAYMENT, false);
    rows(&mut all, "order", REFUND, false);
    start(&mut all, "order", &REFUND_START, false);
    for n in [&ORDER_LATE, &LATE_CANCELLATION_AVAILABLE, &CHARGEBACK_OPENED, &CHARGEBACK_CLOSED, &REFUNDS_CONFIRMED] {
        note(&mut all, "order", n);
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
