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
//! | its sealed part (an offer's, order's terms) | table | `PK = {KIND}#{id}`, `SK = {KIND}#SEALED` (read with it: `SK begins_with {KIND}`) |
//! | its timeline, in order                 | table | `PK = {KIND}#{id}`, `SK begins_with EVENT#`      |
//! | a buyer's requests / offers / orders   | GSI1  | `GSI1PK = BUYER#{user_id}#{KIND}S`, `GSI1SK` desc |
//! | a seller's requests / offers / orders  | GSI2  | `GSI2PK = SELLER#{user_id}#{KIND}S`, `GSI2SK` desc |
//! | an order's deliveries, newest first    | table | `PK = ORDER#{order_id}`, `SK begins_with DELIVERY#` |
//! | an order's ledger entries, in order    | table | `PK = ORDER#{order_id}`, `SK begins_with LEDGER#` (`{seq}#{kind}`: the event that caused it) |
//! | a seller's statement, newest first     | GSI1  | `GSI1PK = SELLER#{user_id}#LEDGER`, `GSI1SK` desc (`{at}#{pk}#{seq}#{kind}`) |
//! | a seller's balances, per currency      | table | `PK = USER#{user_id}`, `SK begins_with BALANCE#` |
//! | a seller's releases not yet cleared, soonest first | GSI2 | `GSI2PK = SELLER#{user_id}#CLEARING`, `GSI2SK` asc (`{clears_at}#{pk}#{seq}`) |
//! | an order's reviews (buyer's, seller's) | table | `PK = ORDER#{order_id}`, `SK begins_with REVIEW#` |
//! | a gig's published reviews, newest first| GSI1  | `GSI1PK = GIG#{gig_id}#REVIEWS`, `GSI1SK` desc (`{published_at}#{order_id}`) |
//! | the messages about an order, paginated | GSI1  | `GSI1PK = ORDER#{order_id}#MESSAGES`, `GSI1SK` desc |
//! | did two users communicate before       | table | `PK = CONV#{lo}#{hi}` (any item: a message or a `CONTACT#…` marker) |
//! | follow-ups of a commit without an event | table | `PK = RELAY#{followup_id}`, `SK = RELAY` (read from the stream only) |
//! | timers due                             | table | `PK = TIMERS#{shard}` (each of 64), `SK < {now ms}` |
//! | timers parked after failing            | table | `PK = TIMERS#PARKED#{shard}` (each of 8)         |
//! | a user's notifications                 | table | `PK = USER#{user_id}`, `SK begins_with NOTIFICATION#` |
//! | a payment by its provider intent       | table | `PK = PAYMENT#{intent_id}`, `SK = PAYMENT`       |
//! | a payment's refunds                    | table | `PK = PAYMENT#{intent_id}`, `SK begins_with REFUND#` |
//! | an order's payments and refunds        | GSI1  | `GSI1PK = ORDER#{order_id}#PAYMENTS`, `GSI1SK` asc |
//! | support's disputes by state, oldest first | GSI2 | `GSI2PK = DISPUTES#{OPEN|RESOLVED}#{shard}` (each of 8), `GSI2SK` asc (`DISPUTE#{ulid}`) |
//! | a dispute's statements, in order       | table | `PK = DISPUTE#{dispute_id}`, `SK begins_with STATEMENT#` |
//! | an order's amendments, in order        | table | `PK = ORDER#{order_id}`, `SK begins_with AMENDMENT#` |
//! | a dispute export by id                 | table | `PK = EXPORT#{export_id}`, `SK = EXPORT`         |
//! | payments held for review               | GSI2  | `GSI2PK = PAYMENTS#HELD#{shard}` (each of 8), `GSI2SK` desc           |
//! | payments the bank is charging back     | GSI2  | `GSI2PK = PAYMENTS#CHARGEBACK#{shard}` (each of 8), `GSI2SK` desc     |
//! | refunds the provider kept refusing     | GSI2  | `GSI2PK = REFUNDS#FAILED#{shard}` (each of 8), `GSI2SK` desc          |
//! | a seller's withdrawals, newest first   | GSI1  | `GSI1PK = SELLER#{user_id}#WITHDRAWALS`, `GSI1SK` desc (a withdrawal has no buyer) |
//! | support's withdrawals by state         | GSI2  | `GSI2PK = WITHDRAWALS#{REQUESTED|BATCHED|PAID|RETURNED}#{shard}` (each of 8), `GSI2SK` asc (`WITHDRAWAL#{ulid}`) |
//! | a withdrawal's ledger entries          | table | `PK = WITHDRAWAL#{id}`, `SK begins_with LEDGER#` |
//! | a bank transfer batch                  | table | `PK = WITHDRAWAL_BATCH#{batch_id}`, `SK = BATCH` |
//! | the ledger's movements with a provider on a day | GSI1 | `GSI1PK = LEDGER#{provider}#{day}#{shard}` (each of 8), `GSI1SK` (`{at}#{pk}#{seq}#{kind}`) |
//! | a day's reconciliation with a provider | table | `PK = RECONCILIATION#{provider}`, `SK = DAY#{day}` (newest first: `SK` desc) |
//! | was a provider event received before   | table | `PK = WEBHOOK#{provider}#{event_id}`, `SK = WEBHOOK` |
//!
//! No partition takes every write of a kind. Timers and support's queues are
//! each spread over a fixed number of shards by a hash of what they are about
//! ([`shard`]): every write of one subject lands in one shard, and the readers (the
//! sweeper, support's lists) read the shards one by one. DynamoDB takes about 1,000 write
//! units a second per partition; `make bench`'s partition simulation prints what these
//! counts sustain.
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

/// The sealed part of a request, offer or order (`Tracked::SEALED`), written once beside
/// it; its sort key begins with the entity's, so one query reads both.
pub fn sealed(kind: &str, id: &str) -> Key {
    key(format!("{kind}#{id}"), format!("{kind}#SEALED"))
}

pub const EVENT_PREFIX: &str = "EVENT#";

/// Event `seq` of an entity's timeline; zero-padded so the sort key orders them.
pub fn event(kind: &str, id: &str, seq: u64) -> Key {
    key(format!("{kind}#{id}"), format!("{EVENT_PREFIX}{seq:010}"))
}

pub const LEDGER_PREFIX: &str = "LEDGER#";

/// A ledger entry, in the partition of what caused it (an order's), by the seq of the
/// event that caused it and its kind (one event may cause a release and a refund).
pub fn ledger_entry(pk: &str, seq: u64, kind: &str) -> Key {
    key(pk.to_owned(), format!("{LEDGER_PREFIX}{seq:010}#{kind}"))
}

/// The GSI1 partition of a seller's statement.
pub fn seller_ledger(seller_id: &str) -> String {
    format!("SELLER#{seller_id}#LEDGER")
}

pub const BALANCE_PREFIX: &str = "BALANCE#";

/// A seller's balances (pending, available, withdrawing, paid out) in one currency.
pub fn seller_balance(seller_id: &str, currency: &str) -> Key {
    key(format!("USER#{seller_id}"), format!("{BALANCE_PREFIX}{currency}"))
}

/// The GSI2 partition of a seller's releases that have not cleared yet.
pub fn seller_clearing(seller_id: &str) -> String {
    format!("SELLER#{seller_id}#CLEARING")
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

/// Support's queue of one kind in one state (`DISPUTES#OPEN`), before its shard.
pub fn support_queue(kind: &str, state: impl serde::Serialize) -> String {
    let state = serde_json::to_value(state).ok().and_then(|v| v.as_str().map(str::to_uppercase)).unwrap_or_default();
    format!("{kind}S#{state}")
}

pub const STATEMENT_PREFIX: &str = "STATEMENT#";

/// The GSI1 partition of the ledger entries that moved money with `provider` on `day`,
/// in the shard of the partition `pk` they are booked in (reconciliation reads all).
pub fn provider_ledger(provider: &str, day: chrono::NaiveDate, pk: &str) -> String {
    sharded(&format!("LEDGER#{provider}#{day}"), shard(pk, QUEUE_SHARDS))
}

/// Every GSI1 partition of the ledger entries that moved money with `provider` on `day`.
pub fn provider_ledger_partitions(provider: &str, day: chrono::NaiveDate) -> Vec<String> {
    shards_of(&format!("LEDGER#{provider}#{day}"), QUEUE_SHARDS).collect()
}

/// A day's reconciliation report with a provider (newest last in its partition).
pub fn reconciliation(provider: &str, day: chrono::NaiveDate) -> Key {
    key(format!("RECONCILIATION#{provider}"), format!("DAY#{day}"))
}

/// A bank transfer batch of withdrawals, with its lines.
pub fn withdrawal_batch(batch_id: &str) -> Key {
    key(format!("WITHDRAWAL_BATCH#{batch_id}"), "BATCH")
}

/// A dispute's export packet job and its outcome.
pub fn export(export_id: &str) -> Key {
    key(format!("EXPORT#{export_id}"), "EXPORT".to_owned())
}

pub const AMENDMENT_PREFIX: &str = "AMENDMENT#";

/// An amendment, under its order.
pub fn amendment(order_id: &str, amendment_id: &str) -> Key {
    key(format!("ORDER#{order_id}"), format!("{AMENDMENT_PREFIX}{amendment_id}"))
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

/// The shard of `subject` among `shards`: FNV-1a (32 bits) of its bytes, modulo the
/// count. Fixed here for good: a stored item's key depends on it, so changing the hash or
/// a count strands what was written under the old one.
pub fn shard(subject: &str, shards: u32) -> u32 {
    let hash = subject.bytes().fold(0x811c_9dc5_u32, |hash, byte| (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193));
    hash % shards
}

/// How many partitions the timers spread over. A timer costs its partition about four
/// write units in all (set in its transition, taken by the sweep that fires or drops it)
/// and an order's life sets eight, so timers are about a sixth of all writes; `make
/// bench`'s partition simulation gives 32 shards about 9,700 transitions a second and 64
/// about twice that (the goal is 10,000). A sweep reads each shard once.
pub const TIMER_SHARDS: u32 = 64;

/// How many partitions each of support's queues (and the parked timers) spreads over:
/// few items enter them, and a list reads every shard.
pub const QUEUE_SHARDS: u32 = 8;

fn sharded(base: &str, shard: u32) -> String {
    format!("{base}#{shard:02}")
}

/// Every shard of a sharded partition `base`, in order.
pub fn shards_of(base: &str, shards: u32) -> impl Iterator<Item = String> + '_ {
    (0..shards).map(move |shard| sharded(base, shard))
}

/// The attribute of a timeline event (or a relay item) that holds the follow-ups its
/// transition asked for; the relay reads it from the table's stream.
pub const FOLLOWUPS: &str = "followups";

/// The follow-ups of a commit that wrote no timeline event (an export job, a refund's
/// retry), under the id of its first; gone a day later by TTL.
pub fn relay(followup_id: &str) -> Key {
    key(format!("RELAY#{followup_id}"), "RELAY")
}

pub const TIMERS: &str = "TIMERS";

/// Timers that kept failing, set aside for support (same sort keys as the timers).
pub const PARKED_TIMERS: &str = "TIMERS#PARKED";

/// Timers sort by due time (milliseconds, zero-padded), then subject; the subject picks
/// the shard, so a timer moved later stays in its shard.
pub fn timer(due_ms: i64, subject: &str) -> Key {
    key(sharded(TIMERS, shard(subject, TIMER_SHARDS)), format!("{due_ms:013}#{subject}"))
}

/// Every partition of the timers, which the sweeper reads one by one.
pub fn timer_partitions() -> impl Iterator<Item = String> {
    shards_of(TIMERS, TIMER_SHARDS)
}

/// Where a timer that kept failing is set aside.
pub fn parked_timer(sort: &str, subject: &str) -> Key {
    key(sharded(PARKED_TIMERS, shard(subject, QUEUE_SHARDS)), sort)
}

/// Every partition of the parked timers.
pub fn parked_timer_partitions() -> impl Iterator<Item = String> {
    shards_of(PARKED_TIMERS, QUEUE_SHARDS)
}

/// The GSI2 partition of support's queue `queue` (`PAYMENTS#HELD`, `DISPUTES#OPEN`) that
/// holds the item about `subject` (its own id).
pub fn queue_shard(queue: &str, subject: &str) -> String {
    sharded(queue, shard(subject, QUEUE_SHARDS))
}

/// Every GSI2 partition of support's queue `queue`.
pub fn queue_partitions(queue: &str) -> impl Iterator<Item = String> + '_ {
    shards_of(queue, QUEUE_SHARDS)
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

/// Support's queue (GSI2, sharded) of payments held for review.
pub const HELD_PAYMENTS: &str = "PAYMENTS#HELD";

/// Support's queue (GSI2, sharded) of payments whose chargeback the bank has not decided yet.
pub const CHARGEBACK_PAYMENTS: &str = "PAYMENTS#CHARGEBACK";

/// Refunds the provider kept refusing, for support (GSI2, sharded, newest first).
pub const FAILED_REFUNDS: &str = "REFUNDS#FAILED";

/// Refunds support pays back by hand (a provider without a refund API), for support
/// (GSI2, sharded, newest first).
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

    #[test]
    fn the_shard_hash_is_fnv_1a_and_never_changes() {
        // Stored keys depend on these values: a change here strands every stored timer.
        assert_eq!(shard("", u32::MAX), 0x811c_9dc5);
        assert_eq!(shard("a", u32::MAX), 0xe40c_292c);
        assert_eq!(shard("order/01ORDER", TIMER_SHARDS), shard("order/01ORDER", TIMER_SHARDS));
        assert_eq!(timer(5, "order/01ORDER").pk, format!("TIMERS#{:02}", shard("order/01ORDER", 32)));
    }

    #[test]
    fn no_shared_partition_takes_every_write_of_its_kind() {
        // 64,000 subjects as the flows name them: each shard of each kind gets its share,
        // within a fifth of the even one.
        let subjects: Vec<String> = (0..64_000).map(|i| format!("order/{}", ulid::Ulid::from_parts(i, 7))).collect();
        let spread = |pks: Vec<String>, shards: u32| {
            let mut counts = std::collections::HashMap::<String, usize>::new();
            pks.into_iter().for_each(|pk| *counts.entry(pk).or_default() += 1);
            let even = subjects.len() / shards as usize;
            assert_eq!(counts.len(), shards as usize, "{counts:?}");
            for (pk, count) in counts {
                assert!(count.abs_diff(even) * 5 < even, "{pk} takes {count} of {}", subjects.len());
            }
        };
        spread(subjects.iter().map(|s| timer(1, s).pk).collect(), TIMER_SHARDS);
        spread(subjects.iter().map(|s| queue_shard(HELD_PAYMENTS, s)).collect(), QUEUE_SHARDS);
        spread(subjects.iter().map(|s| parked_timer("1", s).pk).collect(), QUEUE_SHARDS);
        // The readers read exactly the partitions the writers write.
        let all: Vec<String> = timer_partitions().collect();
        assert!(subjects.iter().all(|s| all.contains(&timer(1, s).pk)));
        let all: Vec<String> = queue_partitions(HELD_PAYMENTS).collect();
        assert!(subjects.iter().all(|s| all.contains(&queue_shard(HELD_PAYMENTS, s))));
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
