//! The transaction builder: the writes of one transition, committed as one transaction.

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::keys::Key;
use super::{Item, Store, db_error, item, key_item, keys, n, put, s, timer_item};
use peyman_rules::error::{ApiError, Code};
use peyman_rules::followup::FollowUp;
use peyman_rules::lifecycle::Note;
use peyman_rules::timeline::Event;
use peyman_rules::tracked::{self, Recorded, Step, Tracked};

/// Storage that asks to be retried: the caller's retry (the client's, SQS's, the
/// provider's) will find it able.
fn unavailable(cause: String) -> ApiError {
    tracing::warn!(cause, "dynamodb asks for a retry");
    ApiError::Unavailable { what: "storage", cause }
}

/// What a cancelled transaction means, from its cancellation reasons (one code per
/// write, `None` for those that were fine). A failed condition is a lost race: someone
/// else moved first (409). Throttling and a conflict with another transaction in flight
/// are worth retrying (503). Anything else (a validation error, an item or collection
/// too large) is our bug and is logged with the codes (500).
pub fn cancellation(codes: &[&str]) -> ApiError {
    if codes.contains(&"ConditionalCheckFailed") {
        return ApiError::conflict(Code::ConcurrentChange, "it changed meanwhile; read it again and retry");
    }
    const RETRYABLE: [&str; 4] =
        ["TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"];
    if codes.iter().any(|code| RETRYABLE.contains(code)) {
        return unavailable(format!("transaction cancelled: {codes:?}"));
    }
    ApiError::internal(format!("transaction cancelled: {codes:?}"))
}

/// Feeds one attribute value into `hash` in a form that does not depend on map order.
fn fingerprint(value: &AttributeValue, hash: &mut Sha256) {
    let mut field = |tag: &[u8], bytes: &[u8]| {
        hash.update(tag);
        hash.update((bytes.len() as u64).to_be_bytes());
        hash.update(bytes);
    };
    match value {
        AttributeValue::S(v) => field(b"S", v.as_bytes()),
        AttributeValue::N(v) => field(b"N", v.as_bytes()),
        AttributeValue::B(v) => field(b"B", v.as_ref()),
        AttributeValue::Bool(v) => field(b"BOOL", &[u8::from(*v)]),
        AttributeValue::Null(_) => field(b"NULL", &[]),
        AttributeValue::Ss(v) | AttributeValue::Ns(v) => {
            let mut sorted: Vec<&String> = v.iter().collect();
            sorted.sort();
            field(b"SET", &(sorted.len() as u64).to_be_bytes());
            sorted.into_iter().for_each(|v| field(b"E", v.as_bytes()));
        }
        AttributeValue::Bs(v) => {
            field(b"BS", &(v.len() as u64).to_be_bytes());
            v.iter().for_each(|v| field(b"E", v.as_ref()));
        }
        AttributeValue::L(list) => {
            field(b"L", &(list.len() as u64).to_be_bytes());
            list.iter().for_each(|v| fingerprint(v, hash));
        }
        AttributeValue::M(map) => fingerprint_item(map, hash),
        _ => field(b"?", format!("{value:?}").as_bytes()),
    }
}

fn fingerprint_item(item: &Item, hash: &mut Sha256) {
    let mut names: Vec<&String> = item.keys().collect();
    names.sort();
    hash.update(b"M");
    hash.update((names.len() as u64).to_be_bytes());
    for name in names {
        hash.update((name.len() as u64).to_be_bytes());
        hash.update(name.as_bytes());
        fingerprint(&item[name], hash);
    }
}

/// What a transaction's ledger entries move on each seller's balances, per seller and
/// currency: the change of pending, available, withdrawing and paid out
/// (`Commit::ledger`, `Entry::for_seller`).
pub type Balances = BTreeMap<(String, String), [i64; 4]>;

/// A seller's balance attributes, in the order [`Balances`] keeps them.
pub const BALANCE_ACCOUNTS: [&str; 4] = ["pending", "available", "withdrawing", "paid_out"];

/// The writes of one transition, committed as one transaction by [`Store::commit`]:
/// entities under version conditions, timeline events, timers, and the follow-ups,
/// which ride on the last event written (or, in a commit without one, on an item of
/// their own) to the table's stream, where the relay hands them to SQS.
#[derive(Debug, Default)]
pub struct Commit {
    pub(super) table: String,
    pub(super) writes: Vec<TransactWriteItem>,
    pub(super) followups: Vec<FollowUp>,
    /// Which of `writes` is the last timeline event (it carries the follow-ups).
    pub(super) last_event: Option<usize>,
    /// What the ledger entries written so far move on sellers' balances
    /// ([`Commit::ledger`]), written as one update each when sealed.
    pub(super) balances: Balances,
}

impl Commit {
    /// The transaction's idempotency token: a digest of every write (each item carries
    /// its new version, event hash and time, so two transitions never share one), in the
    /// 36 characters DynamoDB allows.
    pub fn request_token(&self) -> String {
        let mut hash = Sha256::new();
        for write in &self.writes {
            if let Some(put) = write.put() {
                hash.update(b"PUT");
                fingerprint_item(put.item(), &mut hash);
                hash.update(put.condition_expression().unwrap_or_default().as_bytes());
            }
            if let Some(update) = write.update() {
                hash.update(b"UPDATE");
                fingerprint_item(update.key(), &mut hash);
                hash.update(update.update_expression().as_bytes());
                if let Some(values) = update.expression_attribute_values() {
                    fingerprint_item(values, &mut hash);
                }
            }
            if let Some(delete) = write.delete() {
                hash.update(b"DELETE");
                fingerprint_item(delete.key(), &mut hash);
            }
        }
        hex::encode(hash.finalize())[..36].to_owned()
    }

    /// Moves `entity` by `step` ([`tracked::advance`]) and adds what the transition
    /// writes: the entity under its version condition, the chained event, a follow-up per
    /// party told, and the timers it starts.
    pub fn record<T: Tracked>(
        &mut self,
        entity: &mut T,
        step: Step<'_, T::State>,
        now: DateTime<Utc>,
    ) -> Result<Event, ApiError> {
        let Recorded { expected, event, followups, timers } = tracked::advance(entity, step, now);
        self.entity(entity, expected)?;
        self.event::<T>(entity.id(), &event)?;
        for followup in followups {
            self.followup(followup)?;
        }
        for (due, subject) in timers {
            self.timer(due, &subject)?;
        }
        Ok(event)
    }

    /// Adds `note` (a fact that moves no state) to the entity's timeline, as
    /// [`Commit::record`] does a transition.
    pub fn note<T: Tracked>(
        &mut self,
        entity: &mut T,
        note: &Note,
        data: Value,
        now: DateTime<Utc>,
    ) -> Result<Event, ApiError> {
        let step = Step::note(entity.state(), note, data);
        self.record(entity, step, now)
    }

    /// Puts `entity`, which must still be at `expected` version (0: must not exist yet).
    /// Its sealed fields (`Tracked::SEALED`) are written once, on an item beside it, when
    /// it is made, and left out of every later put: a transition writes only what moves.
    pub fn entity<T: Tracked>(&mut self, entity: &T, expected: u64) -> Result<(), ApiError> {
        let key = keys::tracked(T::KIND, entity.id());
        let mut item = item(&key, T::NAME, entity)?;
        let sealed: Item = T::SEALED.iter().filter_map(|name| item.remove_entry(*name)).collect();
        let sort = s(format!("{}#{}", T::KIND, entity.id()));
        let second = match entity.support_queue() {
            Some(state) => keys::queue_shard(&keys::support_queue(T::KIND, state), &key.pk),
            None => keys::seller_list(T::KIND, entity.seller_id()),
        };
        let first = match T::HAS_BUYER {
            true => keys::buyer_list(T::KIND, entity.buyer_id()),
            false => keys::seller_list(T::KIND, entity.seller_id()),
        };
        item.insert(keys::GSI1PK.into(), s(first));
        item.insert(keys::GSI1SK.into(), sort.clone());
        item.insert(keys::GSI2PK.into(), s(second));
        item.insert(keys::GSI2SK.into(), sort);
        // An item stored before its sealed fields moved beside it still holds them; a put
        // would drop them, so it is refused instead (the decision record on lean items
        // says how such a table is upgraded first).
        self.versioned(item, expected, T::SEALED.first().copied())?;
        if expected == 0 && !sealed.is_empty() {
            let mut sealed_item = key_item(&keys::sealed(T::KIND, entity.id()));
            sealed_item.insert("entity".into(), s(format!("{}_sealed", T::NAME)));
            sealed_item.extend(sealed);
            self.writes.push(put(&self.table, sealed_item, Some("attribute_not_exists(PK)"))?);
        }
        Ok(())
    }

    /// Puts `item`, whose stored `version` must still be `expected` (0: must not exist
    /// yet) and which must not hold the attribute `absent`, if named.
    pub(super) fn versioned(&mut self, item: Item, expected: u64, absent: Option<&str>) -> Result<(), ApiError> {
        let put = Put::builder().table_name(&self.table).set_item(Some(item));
        let put = match (expected, absent) {
            (0, _) => put.condition_expression("attribute_not_exists(PK)"),
            (_, None) => put.condition_expression("#version = :expected"),
            (_, Some(absent)) => put
                .condition_expression("#version = :expected AND attribute_not_exists(#absent)")
                .expression_attribute_names("#absent", absent),
        };
        let put = match expected {
            0 => put,
            _ => put
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":expected", n(expected)),
        };
        self.writes.push(TransactWriteItem::builder().put(put.build().map_err(ApiError::internal)?).build());
        Ok(())
    }

    pub fn event<T: Tracked>(&mut self, id: &str, event: &Event) -> Result<(), ApiError> {
        let item = item(&keys::event(T::KIND, id, event.seq), "event", event)?;
        self.last_event = Some(self.writes.len());
        self.writes.push(put(&self.table, item, Some("attribute_not_exists(PK)"))?);
        Ok(())
    }

    /// Asks for `followup` once this commit is committed: it is written with the commit
    /// (see [`Commit::seal`]), so it happens if and only if the transition did.
    pub fn followup(&mut self, followup: FollowUp) -> Result<(), ApiError> {
        self.followups.push(followup);
        Ok(())
    }

    /// Writes the follow-ups into the transaction: on the last timeline event it writes
    /// (an attribute the timeline does not read), or on a relay item of their own that
    /// DynamoDB's TTL removes a day later. Either insert reaches the table's stream once
    /// the transaction commits, and never if it does not.
    pub(super) fn seal(&mut self) -> Result<(), ApiError> {
        let Some(first) = self.followups.first() else { return Ok(()) };
        let (relay_key, written_at) = (keys::relay(&first.followup_id), first.created_at);
        let followups = serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value(&self.followups)
            .map_err(|e| ApiError::internal(format!("follow-ups do not encode: {e}")))?;
        match self.last_event.and_then(|at| self.writes[at].put().map(|p| (at, p.item().clone()))) {
            Some((at, mut event)) => {
                event.insert(keys::FOLLOWUPS.into(), followups);
                self.writes[at] = put(&self.table, event, Some("attribute_not_exists(PK)"))?;
            }
            None => {
                let mut item = key_item(&relay_key);
                item.insert("entity".into(), s("relay"));
                item.insert(keys::FOLLOWUPS.into(), followups);
                item.insert("ttl".into(), n((written_at + chrono::Duration::days(1)).timestamp()));
                self.writes.push(put(&self.table, item, Some("attribute_not_exists(PK)"))?);
            }
        }
        Ok(())
    }

    /// Writes the balances the transaction's entries moved: one update per seller and
    /// currency, each account that goes down conditioned on holding enough.
    pub(super) fn seal_balances(&mut self) -> Result<(), ApiError> {
        for ((seller, currency), changes) in std::mem::take(&mut self.balances) {
            let mut update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key_item(&keys::seller_balance(&seller, &currency))))
                .expression_attribute_values(":entity", s("balance"))
                .expression_attribute_values(":currency", s(&currency));
            let mut adds = Vec::new();
            let mut conditions = Vec::new();
            for (i, change) in changes.iter().enumerate().filter(|(_, c)| **c != 0) {
                let name = BALANCE_ACCOUNTS[i];
                adds.push(format!("{name} :{name}"));
                update = update.expression_attribute_values(format!(":{name}"), n(change));
                if *change < 0 {
                    conditions.push(format!("{name} >= :need_{name}"));
                    update = update.expression_attribute_values(format!(":need_{name}"), n(-change));
                }
            }
            if adds.is_empty() {
                continue;
            }
            update =
                update.update_expression(format!("SET entity = :entity, currency = :currency ADD {}", adds.join(", ")));
            if !conditions.is_empty() {
                update = update.condition_expression(conditions.join(" AND "));
            }
            self.writes.push(TransactWriteItem::builder().update(update.build().map_err(ApiError::internal)?).build());
        }
        Ok(())
    }

    pub fn timer(&mut self, due: DateTime<Utc>, subject: &str) -> Result<(), ApiError> {
        let item = timer_item(&keys::timer(due.timestamp_millis(), subject), subject, due);
        self.writes.push(put(&self.table, item, None)?);
        Ok(())
    }

    pub fn delete(&mut self, key: &Key) -> Result<(), ApiError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key_item(key)))
            .build()
            .map_err(ApiError::internal)?;
        self.writes.push(TransactWriteItem::builder().delete(delete).build());
        Ok(())
    }

    /// Deletes the item at `key`, which must still be there: of two sweeps moving the
    /// same timer, one wins and the other's commit is a lost race (409).
    pub fn take(&mut self, key: &Key) -> Result<(), ApiError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key_item(key)))
            .condition_expression("attribute_exists(PK)")
            .build()
            .map_err(ApiError::internal)?;
        self.writes.push(TransactWriteItem::builder().delete(delete).build());
        Ok(())
    }

    /// Lets `user_id` read an upload (it was sent to them).
    pub fn share_upload(&mut self, upload_id: &str, user_id: &str) -> Result<(), ApiError> {
        let mut item = key_item(&keys::upload_viewer(upload_id, user_id));
        item.insert("entity".into(), s("upload_viewer"));
        self.writes.push(put(&self.table, item, None)?);
        Ok(())
    }

    /// Marks that `from` reached `to` (a request `from` a buyer, an order between them),
    /// for the prior-communication rule.
    pub fn contact(&mut self, from: &str, to: &str, kind: &str, id: &str) -> Result<(), ApiError> {
        let mut item = key_item(&keys::contact(from, to, kind, id));
        item.insert("entity".into(), s("contact"));
        item.insert("from_id".into(), s(from));
        self.writes.push(put(&self.table, item, None)?);
        Ok(())
    }
}

impl Store {
    pub fn begin(&self) -> Commit {
        Commit { table: self.table.clone(), ..Commit::default() }
    }

    /// Commits `commit` as one transaction; returns the follow-ups it wrote (the relay
    /// sends them from the table's stream). A lost race
    /// (a condition failed: a version moved meanwhile) is a 409; what DynamoDB says is
    /// worth retrying (throttling, a conflicting transaction) is a 503; anything else a 500.
    ///
    /// The client request token is derived from the writes themselves, so the SDK's own
    /// retry of a commit whose answer was lost is answered as the first (DynamoDB keeps
    /// tokens for ten minutes) instead of failing its own version conditions.
    pub async fn commit(&self, mut commit: Commit) -> Result<Vec<FollowUp>, ApiError> {
        commit.seal_balances()?;
        commit.seal()?;
        let token = commit.request_token();
        let sent =
            self.db.transact_write_items().set_transact_items(Some(commit.writes)).client_request_token(token).send();
        match sent.await {
            Ok(_) => Ok(commit.followups),
            Err(e) => Err(match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    let codes: Vec<&str> = cancelled.cancellation_reasons().iter().filter_map(|r| r.code()).collect();
                    cancellation(&codes)
                }
                Some(
                    TransactWriteItemsError::TransactionInProgressException(_)
                    | TransactWriteItemsError::ProvisionedThroughputExceededException(_)
                    | TransactWriteItemsError::RequestLimitExceeded(_)
                    | TransactWriteItemsError::ThrottlingException(_),
                ) => unavailable(DisplayErrorContext(&e).to_string()),
                _ => db_error(e),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn commit_of(items: &[Item]) -> Commit {
        let mut commit = Commit { table: "t".into(), ..Commit::default() };
        for item in items {
            commit.writes.push(put("t", item.clone(), Some("attribute_not_exists(PK)")).unwrap());
        }
        commit
    }

    fn entity(version: u64) -> Item {
        let nested = HashMap::from([("b".to_owned(), s("2")), ("a".to_owned(), n(1))]);
        HashMap::from([
            ("PK".to_owned(), s("ORDER#1")),
            ("SK".to_owned(), s("ORDER")),
            ("version".to_owned(), n(version)),
            ("terms".to_owned(), AttributeValue::M(nested)),
        ])
    }

    #[test]
    fn a_commit_s_token_is_its_writes_and_nothing_else() {
        let token = commit_of(&[entity(2)]).request_token();
        assert_eq!(token.len(), 36, "DynamoDB takes at most 36 characters");
        // The same writes, however their maps were built, give the same token: the SDK's
        // retry of a lost answer is recognised.
        for _ in 0..20 {
            assert_eq!(commit_of(&[entity(2)]).request_token(), token);
        }
        // Another transition (another version, another item, another order) does not.
        assert_ne!(commit_of(&[entity(3)]).request_token(), token);
        assert_ne!(
            commit_of(&[entity(2), entity(3)]).request_token(),
            commit_of(&[entity(3), entity(2)]).request_token()
        );
        let mut moved = entity(2);
        moved.insert("state".into(), s("in_progress"));
        assert_ne!(commit_of(&[moved]).request_token(), token);
    }

    #[test]
    fn cancellation_reasons_tell_a_lost_race_from_a_retry_from_a_bug() {
        // 409 (a lost race), 503 (retry) or 500 (our bug), as the shell maps them.
        let kind = |codes: &[&str]| match cancellation(codes) {
            ApiError::Conflict { code, .. } => code.as_str(),
            ApiError::Unavailable { .. } => "retry",
            ApiError::Internal(_) => "bug",
            other => panic!("{other:?}"),
        };
        assert_eq!(kind(&["None", "ConditionalCheckFailed"]), "concurrent_change");
        for retry in ["TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"]
        {
            assert_eq!(kind(&["None", retry]), "retry", "{retry}");
        }
        // A failed condition wins: someone else moved first, whatever else happened.
        assert_eq!(kind(&["TransactionConflict", "ConditionalCheckFailed"]), "concurrent_change");
        for bug in ["ValidationError", "ItemCollectionSizeLimitExceeded"] {
            assert_eq!(kind(&["None", bug]), "bug", "{bug}");
        }
        assert_eq!(kind(&[]), "bug");
    }

    // ---- the transaction builder, write by write ----------------------------------

    use peyman_rules::lifecycle::{Actor, ORDER_LATE, ORDER_START, OrderState};
    use peyman_rules::order::{Order, example as order};

    fn puts(commit: &Commit) -> Vec<(&Item, Option<&str>)> {
        commit.writes.iter().filter_map(|w| w.put()).map(|p| (p.item(), p.condition_expression())).collect()
    }

    fn text<'a>(item: &'a Item, name: &str) -> &'a str {
        item.get(name).and_then(|v| v.as_s().ok()).map_or("", String::as_str)
    }

    #[test]
    fn a_new_entity_s_transition_writes_it_its_event_its_followups_and_its_timers() {
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut order = order(now);
        let mut commit = Commit { table: "t".into(), ..Commit::default() };
        let step = Step::start(&ORDER_START, Actor::Buyer, Some("buyer"), serde_json::json!({ "offer_id": "01OFFER" }));
        let event = commit.record(&mut order, step, now).unwrap();

        assert_eq!((order.version, order.state), (1, OrderState::AwaitingPayment));
        assert_eq!(order.head_hash, event.hash);
        let puts = puts(&commit);
        assert_eq!(
            puts.len(),
            4,
            "the order, its sealed part, its event, one timer (the follow-up rides on the event)"
        );
        // The entity: new (no item may exist under its key), listed for both parties,
        // its Persian text and emoji stored as they are.
        let (entity, condition) = puts[0];
        assert_eq!(condition, Some("attribute_not_exists(PK)"));
        assert_eq!(
            (text(entity, "PK"), text(entity, "SK"), text(entity, "entity")),
            ("ORDER#01ORDER", "ORDER", "order")
        );
        assert_eq!(text(entity, "GSI1PK"), "BUYER#buyer#ORDERS");
        assert_eq!(text(entity, "GSI2PK"), "SELLER#seller#ORDERS");
        assert_eq!(text(entity, "GSI1SK"), "ORDER#01ORDER");
        // Its sealed part beside it, written once and in no list; the two are the order.
        let (sealed, condition) = puts[1];
        assert_eq!(condition, Some("attribute_not_exists(PK)"));
        assert_eq!((text(sealed, "PK"), text(sealed, "SK")), ("ORDER#01ORDER", "ORDER#SEALED"));
        assert!(!sealed.contains_key("GSI1PK") && !sealed.contains_key("GSI2PK"));
        assert!(Order::SEALED.iter().all(|name| sealed.contains_key(*name) && !entity.contains_key(*name)));
        let mut whole = entity.clone();
        whole.extend(
            sealed
                .iter()
                .filter(|(name, _)| Order::SEALED.contains(&name.as_str()))
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        let stored: Order = serde_dynamo::aws_sdk_dynamodb_1::from_item(whole).unwrap();
        assert_eq!(stored, order, "the items decode to the entity they were made from");
        // The event: the first of the chain, never overwritten.
        let (event_item, condition) = puts[2];
        assert_eq!(condition, Some("attribute_not_exists(PK)"));
        assert_eq!(text(event_item, "SK"), "EVENT#0000000001");
        assert_eq!(text(event_item, "event"), "order_placed");
        // The follow-up to the seller, kept until the commit seals it onto the event.
        assert_eq!(commit.followups.len(), 1);
        assert_eq!(commit.followups[0].recipient_id, "seller");
        // The payment window's timer, keyed by its due time.
        let timer = puts[3].0;
        let due = order.payment_due_at;
        assert_eq!(text(timer, "SK"), format!("{:013}#order/01ORDER", due.timestamp_millis()));
        assert_eq!(text(timer, "PK"), keys::timer(0, "order/01ORDER").pk, "in its subject's shard");
        assert_eq!(text(timer, "subject"), "order/01ORDER");
    }

    #[test]
    fn sealed_follow_ups_ride_on_the_last_event_or_on_a_relay_item_of_their_own() {
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut order = order(now);
        let mut commit = Commit { table: "t".into(), ..Commit::default() };
        let step = Step::start(&ORDER_START, Actor::Buyer, Some("buyer"), serde_json::json!({}));
        commit.record(&mut order, step, now).unwrap();
        commit.followup(FollowUp::cancel_payment("pi_1", now)).unwrap();
        commit.seal().unwrap();
        let written = puts(&commit);
        assert_eq!(written.len(), 4, "no item of their own");
        let (event, condition) = written[2];
        assert_eq!((text(event, "entity"), condition), ("event", Some("attribute_not_exists(PK)")));
        let carried: Vec<FollowUp> =
            serde_dynamo::aws_sdk_dynamodb_1::from_attribute_value(event[keys::FOLLOWUPS].clone()).unwrap();
        assert_eq!(carried, commit.followups, "the seller told, and the intent cancelled");
        // The timeline reads the event as it was: the attribute is not part of it.
        let decoded: Event = serde_dynamo::aws_sdk_dynamodb_1::from_item(event.clone()).unwrap();
        assert_eq!(decoded.event, "order_placed");

        // A commit with no event: the follow-ups get an item that lapses after a day.
        let mut lone = Commit { table: "t".into(), ..Commit::default() };
        lone.followup(FollowUp::build_export("01EXPORT", now)).unwrap();
        lone.seal().unwrap();
        let written = puts(&lone);
        assert_eq!(written.len(), 1);
        let (relay, condition) = written[0];
        assert_eq!(text(relay, "PK"), keys::relay(&lone.followups[0].followup_id).pk);
        assert_eq!((text(relay, "entity"), condition), ("relay", Some("attribute_not_exists(PK)")));
        assert_eq!(relay["ttl"].as_n().unwrap(), &(1_800_000_000 + 86_400).to_string());
        // Nothing to send, nothing written.
        let mut empty = Commit { table: "t".into(), ..Commit::default() };
        empty.seal().unwrap();
        assert!(empty.writes.is_empty());
    }

    #[test]
    fn a_later_transition_is_conditioned_on_the_version_it_read() {
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut order = order(now);
        let mut first = Commit { table: "t".into(), ..Commit::default() };
        first.record(&mut order, Step::start(&ORDER_START, Actor::Buyer, None, serde_json::json!({})), now).unwrap();
        let mut commit = Commit { table: "t".into(), ..Commit::default() };
        commit.note(&mut order, &ORDER_LATE, serde_json::json!({}), now).unwrap();
        let put = commit.writes[0].put().unwrap();
        assert_eq!(put.condition_expression(), Some("#version = :expected AND attribute_not_exists(#absent)"));
        assert_eq!(put.expression_attribute_names().and_then(|n| n.get("#absent")).map(String::as_str), Some("terms"));
        let expected = put.expression_attribute_values().and_then(|v| v.get(":expected")).and_then(|v| v.as_n().ok());
        assert_eq!(expected.map(String::as_str), Some("1"));
        assert_eq!(put.item().get("version").and_then(|v| v.as_n().ok()).map(String::as_str), Some("2"));
        // What moves is written; the sealed part is not written again.
        assert!(Order::SEALED.iter().all(|name| !put.item().contains_key(*name)), "no sealed field rewritten");
        assert!(commit.writes.iter().filter_map(|w| w.put()).all(|p| text(p.item(), "SK") != "ORDER#SEALED"));
        // A note moves no state and tells both parties.
        assert_eq!(order.state, OrderState::AwaitingPayment);
        assert_eq!(commit.followups.iter().map(|f| f.recipient_id.as_str()).collect::<Vec<_>>(), ["buyer", "seller"]);
        assert_eq!(commit.writes[1].put().map(|p| text(p.item(), "SK").to_owned()), Some("EVENT#0000000002".into()));
    }
}
