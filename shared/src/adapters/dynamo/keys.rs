//! Every key of the single table, built in one place. Items carry generic `PK`/`SK`, an
//! optional sparse `GSI1PK`/`GSI1SK`, an `entity` attribute and, where they lapse, a `ttl`
//! (epoch seconds) that DynamoDB's TTL deletes.
//!
//! | access pattern                         | index | key condition                                   |
//! |----------------------------------------|-------|-------------------------------------------------|
//! | a user's seller settings               | table | `PK = USER#{user_id}`, `SK = SELLER`             |
//! | a gig by id                            | table | `PK = GIG#{gig_id}`, `SK = GIG`                  |
//! | a seller's gigs, newest first          | GSI1  | `GSI1PK = SELLER#{user_id}#GIGS`, `GSI1SK` desc  |
//! | messages between two users, paginated  | table | `PK = CONV#{lo}#{hi}`, `SK begins_with MSG#`     |
//! | an upload by id                        | table | `PK = UPLOAD#{upload_id}`, `SK = UPLOAD`         |
//! | who may read an upload (owner excepted)| table | `PK = UPLOAD#{upload_id}`, `SK = VIEWER#{user_id}` |
//! | an idempotency record                  | table | `PK = IDEMPOTENCY#{user_id}#{key}`, `SK = IDEMPOTENCY` |
//! | a request / offer / order by id        | table | `PK = {KIND}#{id}`, `SK = {KIND}`                |
//! | its timeline, in order                 | table | `PK = {KIND}#{id}`, `SK begins_with EVENT#`      |
//! | a buyer's requests / offers / orders   | GSI1  | `GSI1PK = BUYER#{user_id}#{KIND}S`, `GSI1SK` desc |
//! | a seller's requests / offers / orders  | GSI2  | `GSI2PK = SELLER#{user_id}#{KIND}S`, `GSI2SK` desc |
//! | an order's deliveries, newest first    | table | `PK = ORDER#{order_id}`, `SK begins_with DELIVERY#` |
//! | an order's reviews (buyer's, seller's) | table | `PK = ORDER#{order_id}`, `SK begins_with REVIEW#` |
//! | a gig's published reviews, newest first| GSI1  | `GSI1PK = GIG#{gig_id}#REVIEWS`, `GSI1SK` desc (`{published_at}#{order_id}`) |
//! | the messages about an order, paginated | GSI1  | `GSI1PK = ORDER#{order_id}#MESSAGES`, `GSI1SK` desc |
//! | did two users communicate before       | table | `PK = CONV#{lo}#{hi}` (any item: a message or a `CONTACT#…` marker) |
//! | follow-ups not yet handed to SQS        | table | `PK = OUTBOX`, `SK < {ulid of now − grace}`       |
//! | timers due                             | table | `PK = TIMERS`, `SK <= {due ms}~`                  |
//! | a user's notifications                 | table | `PK = USER#{user_id}`, `SK begins_with NOTIFICATION#` |
//! | a payment by its provider intent       | table | `PK = PAYMENT#{intent_id}`, `SK = PAYMENT`       |
//! | a payment's refunds                    | table | `PK = PAYMENT#{intent_id}`, `SK begins_with REFUND#` |
//! | an order's payments and refunds        | GSI1  | `GSI1PK = ORDER#{order_id}#PAYMENTS`, `GSI1SK` asc |
//! | support's disputes by state, oldest first | GSI2 | `GSI2PK = DISPUTES#{OPEN|RESOLVED}`, `GSI2SK` asc (`DISPUTE#{ulid}`) |
//! | a dispute's statements, in order       | table | `PK = DISPUTE#{dispute_id}`, `SK begins_with STATEMENT#` |
//! | a dispute export by id                 | table | `PK = EXPORT#{export_id}`, `SK = EXPORT`         |
//! | payments held for review               | GSI2  | `GSI2PK = PAYMENTS#HELD`, `GSI2SK` desc           |
//! | payments the bank is charging back     | GSI2  | `GSI2PK = PAYMENTS#CHARGEBACK`, `GSI2SK` desc     |
//! | refunds the provider kept refusing     | GSI2  | `GSI2PK = REFUNDS#FAILED`, `GSI2SK` desc          |
//! | was a provider event received before   | table | `PK = WEBHOOK#{provider}#{event_id}`, `SK = WEBHOOK` |
//!
//! `{lo}` and `{hi}` are the two user ids in byte order, so both parties name one
//! conversation. User ids never hold `#` (see `validate::user_id`), so no id can
//! forge another's key.

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
pub const GSI2: &str = "GSI2";
pub const GSI2PK: &str = "GSI2PK";
pub const GSI2SK: &str = "GSI2SK";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

fn key(pk: String, sk: impl Into<String>) -> Key {
    Key { pk, sk: sk.into() }
}

pub fn seller_settings(user_id: &str) -> Key {
    key(format!("USER#{user_id}"), "SELLER")
}

pub fn gig(gig_id: &str) -> Key {
    key(format!("GIG#{gig_id}"), "GIG")
}

/// GSI1 partition of a seller's gigs.
pub fn seller_gigs(seller_id: &str) -> String {
    format!("SELLER#{seller_id}#GIGS")
}

/// The partition of the conversation between two users, whoever asks.
pub fn conversation(a: &str, b: &str) -> String {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    format!("CONV#{lo}#{hi}")
}

pub const MESSAGE_PREFIX: &str = "MSG#";

pub fn message(a: &str, b: &str, message_id: &str) -> Key {
    key(conversation(a, b), format!("{MESSAGE_PREFIX}{message_id}"))
}

pub fn upload(upload_id: &str) -> Key {
    key(format!("UPLOAD#{upload_id}"), "UPLOAD")
}

pub fn upload_viewer(upload_id: &str, user_id: &str) -> Key {
    key(format!("UPLOAD#{upload_id}"), format!("VIEWER#{user_id}"))
}

pub fn idempotency(user_id: &str, idempotency_key: &str) -> Key {
    key(format!("IDEMPOTENCY#{user_id}#{idempotency_key}"), "IDEMPOTENCY")
}

/// A request, offer or order: `kind` is `REQUEST`, `OFFER` or `ORDER`.
pub fn tracked(kind: &str, id: &str) -> Key {
    key(format!("{kind}#{id}"), kind)
}

pub const EVENT_PREFIX: &str = "EVENT#";

/// Event `seq` of an entity's timeline; zero-padded so the sort key orders them.
pub fn event(kind: &str, id: &str, seq: u64) -> Key {
    key(format!("{kind}#{id}"), format!("{EVENT_PREFIX}{seq:010}"))
}

pub const DELIVERY_PREFIX: &str = "DELIVERY#";

/// A delivery, under its order.
pub fn delivery(order_id: &str, delivery_id: &str) -> Key {
    key(format!("ORDER#{order_id}"), format!("{DELIVERY_PREFIX}{delivery_id}"))
}

pub const REVIEW_PREFIX: &str = "REVIEW#";

/// A party's review (`by`: `buyer` or `seller`), under its order.
pub fn review(order_id: &str, by: &str) -> Key {
    key(format!("ORDER#{order_id}"), format!("{REVIEW_PREFIX}{by}"))
}

/// The GSI1 partition of a gig's published reviews.
pub fn gig_reviews(gig_id: &str) -> String {
    format!("GIG#{gig_id}#REVIEWS")
}

/// A published review's place in its gig's list: by publication time (fixed-width UTC,
/// so text order is time order), then its order.
pub fn gig_review_sort(published_at: chrono::DateTime<chrono::Utc>, order_id: &str) -> String {
    format!("{}#{order_id}", published_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

/// The GSI1 partition of the messages about one order.
pub fn order_messages(order_id: &str) -> String {
    format!("ORDER#{order_id}#MESSAGES")
}

/// The GSI2 partition of support's queue of one kind in one state (`DISPUTES#OPEN`).
pub fn support_queue(kind: &str, state: impl serde::Serialize) -> String {
    let state = serde_json::to_value(state).ok().and_then(|v| v.as_str().map(str::to_uppercase)).unwrap_or_default();
    format!("{kind}S#{state}")
}

pub const STATEMENT_PREFIX: &str = "STATEMENT#";

/// A dispute's export packet job and its outcome.
pub fn export(export_id: &str) -> Key {
    key(format!("EXPORT#{export_id}"), "EXPORT".to_owned())
}

/// A party's statement, under its dispute.
pub fn statement(dispute_id: &str, statement_id: &str) -> Key {
    key(format!("DISPUTE#{dispute_id}"), format!("{STATEMENT_PREFIX}{statement_id}"))
}

/// The GSI1 (buyer side) and GSI2 (seller side) partitions of one kind's lists.
pub fn buyer_list(kind: &str, buyer_id: &str) -> String {
    format!("BUYER#{buyer_id}#{kind}S")
}

pub fn seller_list(kind: &str, seller_id: &str) -> String {
    format!("SELLER#{seller_id}#{kind}S")
}

/// A marker of contact other than a message (a request, an order) between two users.
pub fn contact(a: &str, b: &str, kind: &str, id: &str) -> Key {
    key(conversation(a, b), format!("{}{id}", contact_prefix(kind)))
}

/// The sort-key prefix of one kind of contact marker.
pub fn contact_prefix(kind: &str) -> String {
    format!("CONTACT#{kind}#")
}

pub const OUTBOX: &str = "OUTBOX";

pub fn outbox(followup_id: &str) -> Key {
    key(OUTBOX.into(), followup_id)
}

pub const TIMERS: &str = "TIMERS";

/// Timers that kept failing, set aside for support (same sort keys as `TIMERS`).
pub const PARKED_TIMERS: &str = "TIMERS#PARKED";

/// Timers sort by due time (milliseconds, zero-padded), then subject.
pub fn timer(due_ms: i64, subject: &str) -> Key {
    key(TIMERS.into(), format!("{due_ms:013}#{subject}"))
}

pub const NOTIFICATION_PREFIX: &str = "NOTIFICATION#";

pub fn notification(user_id: &str, followup_id: &str) -> Key {
    key(format!("USER#{user_id}"), format!("{NOTIFICATION_PREFIX}{followup_id}"))
}

/// A payment, under the provider's id of its intent (PaymentIntent ids hold no `#`).
pub fn payment(intent_id: &str) -> Key {
    key(format!("PAYMENT#{intent_id}"), "PAYMENT")
}

pub const REFUND_PREFIX: &str = "REFUND#";

/// A refund of a payment, under the id its requester chose.
pub fn refund(intent_id: &str, refund_id: &str) -> Key {
    key(format!("PAYMENT#{intent_id}"), format!("{REFUND_PREFIX}{refund_id}"))
}

/// The GSI1 partition of an order's payments and refunds.
pub fn order_payments(order_id: &str) -> String {
    format!("ORDER#{order_id}#PAYMENTS")
}

/// The GSI2 partition of payments held for review.
pub const HELD_PAYMENTS: &str = "PAYMENTS#HELD";

/// The GSI2 partition of payments whose chargeback the bank has not decided yet.
pub const CHARGEBACK_PAYMENTS: &str = "PAYMENTS#CHARGEBACK";

/// Refunds the provider kept refusing, for support (GSI2, newest first).
pub const FAILED_REFUNDS: &str = "REFUNDS#FAILED";

/// Refunds support pays back by hand (a provider without a refund API), for support
/// (GSI2, newest first).
pub const MANUAL_REFUNDS: &str = "REFUNDS#MANUAL";

/// That a provider's event was received (and applied) once.
pub fn received_event(provider: &str, event_id: &str) -> Key {
    key(format!("WEBHOOK#{provider}#{event_id}"), "WEBHOOK")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_parties_name_one_conversation() {
        assert_eq!(conversation("alice", "bob"), conversation("bob", "alice"));
        assert_ne!(conversation("alice", "bob"), conversation("alice", "bobby"));
    }

    proptest::proptest! {
        /// Any two valid user ids name one conversation whichever asks, and no other pair
        /// names the same one.
        #[test]
        fn conversation_keys_are_symmetric_and_distinct(
            a in "[A-Za-z0-9._:@-]{1,40}", b in "[A-Za-z0-9._:@-]{1,40}", c in "[A-Za-z0-9._:@-]{1,40}",
        ) {
            proptest::prop_assert_eq!(conversation(&a, &b), conversation(&b, &a));
            if a != c {
                proptest::prop_assert_ne!(conversation(&a, &b), conversation(&c, &b));
            }
        }
    }
}
