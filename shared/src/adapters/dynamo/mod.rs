//! The DynamoDB adapter: every read and write of the single table. Keys come from
//! [`keys`]; items are mapped with serde_dynamo ([`item`], [`decode`]); one transition
//! is one transaction, built by [`commit::Commit`]. One module per aggregate's queries.

pub mod amendments;
pub mod commit;
pub mod deliveries;
pub mod disputes;
pub mod exports;
pub mod gigs;
pub mod idempotency;
pub mod keys;
pub mod ledger;
pub mod messages;
pub mod notifications;
pub mod payments;
pub mod queues;
pub mod reviews;
pub mod sellers;
pub mod timers;
pub mod tracked;
pub mod uploads;
pub mod withdrawals;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};

use crate::adapters::dynamo::keys::Key;
use crate::adapters::meter::{DynamoDbMeter, IndexKeys};
use peyman_rules::error::{ApiError, Code};

pub type Item = HashMap<String, AttributeValue>;

/// How long INIT waits for the warm-up read: a connection to DynamoDB takes milliseconds;
/// one that takes longer is left to the first request.
const WARM_UP_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

#[derive(Debug, Clone)]
pub struct Store {
    db: Client,
    table: String,
}

/// One page of a list and the opaque cursor of the next, if any.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub fn db_error<E, R>(err: SdkError<E, R>) -> ApiError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    ApiError::internal(format!("dynamodb: {}", DisplayErrorContext(err)))
}

pub fn is_condition_failure<R>(err: &SdkError<aws_sdk_dynamodb::operation::put_item::PutItemError, R>) -> bool {
    err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception())
}

pub fn decode<T: DeserializeOwned>(item: Item) -> Result<T, ApiError> {
    from_item(item).map_err(|e| ApiError::internal(format!("stored item does not decode: {e}")))
}

/// The item for `data` under `key`, tagged with its entity type.
pub fn item<T: Serialize>(key: &Key, entity: &str, data: &T) -> Result<Item, ApiError> {
    let mut item: Item = to_item(data).map_err(|e| ApiError::internal(format!("item does not encode: {e}")))?;
    item.insert(keys::PK.into(), s(&key.pk));
    item.insert(keys::SK.into(), s(&key.sk));
    item.insert("entity".into(), s(entity));
    Ok(item)
}

/// Whether `item` still has every key its index `entry` shows (its table key and the
/// index's).
pub fn still_indexed(entry: &Item, item: &Item) -> bool {
    entry.iter().all(|(name, value)| item.get(name) == Some(value))
}

/// The table key of `item` (an index's entry, or the item itself).
pub fn table_key(item: &Item) -> Item {
    [keys::PK, keys::SK].iter().filter_map(|name| Some(((*name).to_owned(), item.get(*name)?.clone()))).collect()
}

pub fn key_item(key: &Key) -> Item {
    HashMap::from([(keys::PK.into(), s(&key.pk)), (keys::SK.into(), s(&key.sk))])
}

pub fn put(table: &str, item: Item, condition: Option<&str>) -> Result<TransactWriteItem, ApiError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .set_condition_expression(condition.map(str::to_owned))
        .build()
        .map_err(ApiError::internal)?;
    Ok(TransactWriteItem::builder().put(put).build())
}
/// A timer's item: when it is due and what it fires for.
pub fn timer_item(key: &Key, subject: &str, due: chrono::DateTime<chrono::Utc>) -> Item {
    let mut item = key_item(key);
    item.insert("entity".into(), s("timer"));
    item.insert("subject".into(), s(subject));
    item.insert("due_at".into(), s(due.to_rfc3339()));
    item
}

/// The table's indexes, as the meter needs them.
const INDEXES: &[IndexKeys] = &[
    IndexKeys { partition: keys::GSI1PK, sort: keys::GSI1SK },
    IndexKeys { partition: keys::GSI2PK, sort: keys::GSI2SK },
];

impl Store {
    /// The table `table`, through the SDK configured from the environment.
    pub fn connect(sdk: &aws_types::SdkConfig, table: &str) -> Self {
        let metered = aws_sdk_dynamodb::config::Builder::from(sdk)
            .interceptor(DynamoDbMeter { table_key: [keys::PK, keys::SK], indexes: INDEXES });
        Store::new(Client::from_conf(metered.build()), table)
    }

    pub fn new(db: Client, table: impl Into<String>) -> Self {
        Store { db, table: table.into() }
    }

    /// Opens the connection to DynamoDB (DNS, TCP, TLS, the SDK's first-use setup) with a
    /// read of a key that never exists, so that a function's first request does not pay
    /// for it (issue 12). Called in INIT and bounded there; a failure is only logged,
    /// because the first request connects again.
    pub async fn warm_up(&self) {
        let read = self.db.get_item().table_name(&self.table).key(keys::PK, s("WARM-UP")).key(keys::SK, s("WARM-UP"));
        match tokio::time::timeout(WARM_UP_LIMIT, read.send()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %DisplayErrorContext(e), "the warm-up read failed; the first request connects")
            }
            Err(_) => tracing::warn!("the warm-up read took too long; the first request connects"),
        }
    }

    pub async fn get(&self, key: &Key) -> Result<Option<Item>, ApiError> {
        let out = self
            .db
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_item(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(db_error)?;
        Ok(out.item)
    }

    pub async fn get_as<T: DeserializeOwned>(&self, key: &Key) -> Result<Option<T>, ApiError> {
        self.get(key).await?.map(decode).transpose()
    }

    /// Writes a new item; `false` when one already exists under its key.
    pub async fn insert(&self, item: Item) -> Result<bool, ApiError> {
        match self
            .db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(db_error(e)),
        }
    }

    /// One page of `query`, newest first, from `start`: its items decoded, and the next
    /// page's cursor made by `cursor_of` from the last key read (none on the last page).
    pub async fn newest_first<T: DeserializeOwned>(
        &self,
        query: QueryFluentBuilder,
        limit: i32,
        start: Option<Item>,
        cursor_of: impl FnOnce(&Item) -> Option<String>,
    ) -> Result<Page<T>, ApiError> {
        self.in_order(query, false, limit, start, cursor_of).await
    }

    /// One page of `query` in sort-key order (`ascending`, or descending), as
    /// [`Store::newest_first`] pages.
    pub async fn in_order<T: DeserializeOwned>(
        &self,
        query: QueryFluentBuilder,
        ascending: bool,
        limit: i32,
        start: Option<Item>,
        cursor_of: impl FnOnce(&Item) -> Option<String>,
    ) -> Result<Page<T>, ApiError> {
        let (items, last) = self.page_items(query, ascending, limit, start).await?;
        let items = items.into_iter().map(decode).collect::<Result<Vec<T>, _>>()?;
        Ok(Page { items, next_cursor: last.as_ref().and_then(cursor_of) })
    }

    /// One page of `query`'s items in sort-key order, whole, and the last key read (none
    /// on the last page). The indexes project keys only (a write that leaves an item's
    /// index keys alone then writes no index), so the items an index query names are read
    /// from the table ([`Store::read_many`]).
    pub async fn page_items(
        &self,
        query: QueryFluentBuilder,
        ascending: bool,
        limit: i32,
        start: Option<Item>,
    ) -> Result<(Vec<Item>, Option<Item>), ApiError> {
        let on_index = query.get_index_name().is_some();
        let query = query.table_name(&self.table).scan_index_forward(ascending).limit(limit);
        let out = query.set_exclusive_start_key(start).send().await.map_err(db_error)?;
        let items = out.items.unwrap_or_default();
        let items = if on_index { self.indexed(items).await? } else { items };
        Ok((items, out.last_evaluated_key))
    }

    /// The items an index's `entries` name, read from the table as they are now: those
    /// still where the entry put them (an item that left the list or queue, or moved in
    /// it, between the two reads is not in this page). The indexes project keys only.
    pub async fn indexed(&self, entries: Vec<Item>) -> Result<Vec<Item>, ApiError> {
        let items = self.read_many(entries.iter().map(table_key).collect(), false).await?;
        let mut items = items.into_iter().peekable();
        let mut kept = Vec::new();
        for entry in &entries {
            // `read_many` keeps the order asked and drops what is gone.
            if items.peek().is_some_and(|item| table_key(item) == table_key(entry)) {
                let item = items.next().unwrap_or_default();
                if still_indexed(entry, &item) {
                    kept.push(item);
                }
            }
        }
        Ok(kept)
    }

    /// The items at `keys` (each a table key), in the order asked, those that exist; a
    /// read of an index's entries reads consistently only if `consistent`, as the index
    /// itself is read eventually.
    pub async fn read_many(&self, keys: Vec<Item>, consistent: bool) -> Result<Vec<Item>, ApiError> {
        let mut found: HashMap<(String, String), Item> = HashMap::new();
        let text = |item: &Item, name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        for chunk in keys.chunks(100) {
            let mut request = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(consistent)
                    .build()
                    .map_err(ApiError::internal)?,
            );
            while let Some(keys) = request.take() {
                let out = self.db.batch_get_item().request_items(&self.table, keys).send().await.map_err(db_error)?;
                for item in out.responses.unwrap_or_default().remove(&self.table).unwrap_or_default() {
                    found.insert((text(&item, keys::PK), text(&item, keys::SK)), item);
                }
                request = out.unprocessed_keys.unwrap_or_default().remove(&self.table);
            }
        }
        Ok(keys.iter().filter_map(|key| found.remove(&(text(key, keys::PK), text(key, keys::SK)))).collect())
    }

    /// One page of the items of partition `pk` whose sort keys begin with `prefix`, newest
    /// first. The cursor is the last sort key read, taken back only with that prefix.
    pub async fn prefix_page<T: DeserializeOwned>(
        &self,
        pk: &str,
        prefix: &str,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<T>, ApiError> {
        let start = match cursor {
            None => None,
            Some(cursor) => {
                let sk = decode_cursor(cursor).filter(|sk| sk.starts_with(prefix)).ok_or_else(invalid_cursor)?;
                Some(key_item(&Key { pk: pk.to_owned(), sk }))
            }
        };
        let query = self
            .db
            .query()
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(prefix));
        self.newest_first(query, limit, start, |k| k.get(keys::SK).and_then(|v| v.as_s().ok()).map(encode_cursor)).await
    }

    /// One page of GSI1 partition `partition`, newest first. The cursor is the last GSI1
    /// sort key read; `table_key` rebuilds from it the item's own key, which the index
    /// needs to resume (`None`: not a cursor this list gave).
    pub async fn gsi1_page<T: DeserializeOwned>(
        &self,
        partition: &str,
        limit: i32,
        cursor: Option<&str>,
        table_key: impl FnOnce(&str) -> Option<Key>,
    ) -> Result<Page<T>, ApiError> {
        let start = match cursor {
            None => None,
            Some(cursor) => {
                let sort = decode_cursor(cursor).ok_or_else(invalid_cursor)?;
                let mut start = key_item(&table_key(&sort).ok_or_else(invalid_cursor)?);
                start.insert(keys::GSI1PK.into(), s(partition));
                start.insert(keys::GSI1SK.into(), s(sort));
                Some(start)
            }
        };
        let query = self
            .db
            .query()
            .index_name(keys::GSI1)
            .key_condition_expression("GSI1PK = :pk")
            .expression_attribute_values(":pk", s(partition));
        self.newest_first(query, limit, start, |k| k.get(keys::GSI1SK).and_then(|v| v.as_s().ok()).map(encode_cursor))
            .await
    }

    /// Every item listed in GSI1 partition `partition`, in its order, across pages. The
    /// index holds keys only: the items are read from the table.
    pub async fn all_in_gsi1(&self, partition: &str) -> Result<Vec<Item>, ApiError> {
        let query = self
            .db
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("GSI1PK = :pk")
            .expression_attribute_values(":pk", s(partition));
        self.indexed(all_pages(query).await?).await
    }

    /// Every item of partition `pk` whose sort key begins with `prefix`, in order, read
    /// consistently and across pages.
    pub async fn all_with_prefix<T: DeserializeOwned>(&self, pk: &str, prefix: &str) -> Result<Vec<T>, ApiError> {
        let items = self.all_where("PK = :pk AND begins_with(SK, :sk)", pk, prefix).await?;
        items.into_iter().map(decode).collect()
    }

    /// Every item of partition `pk` whose sort key meets `condition` (on `:pk` and
    /// `:sk`), in order, read consistently and across pages.
    pub async fn all_where(&self, condition: &str, pk: &str, sk: &str) -> Result<Vec<Item>, ApiError> {
        let query = self
            .db
            .query()
            .table_name(&self.table)
            .key_condition_expression(condition)
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":sk", s(sk))
            .consistent_read(true);
        all_pages(query).await
    }
}

/// A cursor this adapter handed out, decoded; `None` for anything else.
pub fn decode_cursor(cursor: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    String::from_utf8(bytes).ok().filter(|s| s.len() <= 1024)
}

/// A cursor naming `text`.
pub fn encode_cursor(text: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(text)
}

/// The problem for a cursor that is not one this list gave.
pub fn invalid_cursor() -> ApiError {
    ApiError::malformed(Code::InvalidCursor, Some("cursor"), "cursor is not one this list gave")
}

/// Every item `query` finds, page after page.
async fn all_pages(query: QueryFluentBuilder) -> Result<Vec<Item>, ApiError> {
    let mut found = Vec::new();
    let mut start = None;
    loop {
        let out = query.clone().set_exclusive_start_key(start).send().await.map_err(db_error)?;
        found.extend(out.items.unwrap_or_default());
        start = out.last_evaluated_key;
        if start.is_none() {
            return Ok(found);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::dynamo::keys;
    use peyman_rules::message::Message;

    #[test]
    fn an_item_carries_its_key_and_entity_and_decodes_to_what_was_stored() {
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let message = Message {
            message_id: "01MSG".into(),
            sender_id: "buyer".into(),
            recipient_id: "seller".into(),
            // ZWNJ, Arabic-script digits and an emoji survive the round trip.
            text: Some("می\u{200c}خواهم ۱۲۳ تومان 🎨".into()),
            attachment_upload_ids: vec!["01UP".into()],
            voice_note_upload_id: None,
            order_id: None,
            sent_at: now,
        };
        let key = keys::message("buyer", "seller", "01MSG");
        let stored = item(&key, "message", &message).unwrap();
        assert_eq!(stored["PK"].as_s().unwrap(), &key.pk);
        assert_eq!(stored["SK"].as_s().unwrap(), &key.sk);
        assert_eq!(stored["entity"].as_s().unwrap(), "message");
        assert_eq!(decode::<Message>(stored).unwrap(), message);
        assert!(decode::<Message>(key_item(&key)).is_err(), "an item that is not one says so");
    }

    #[test]
    fn a_cursor_is_only_one_this_adapter_made() {
        assert_eq!(decode_cursor(&encode_cursor("MSG#01")), Some("MSG#01".to_owned()));
        assert_eq!(decode_cursor("not base64!"), None);
        assert_eq!(decode_cursor(&encode_cursor("x".repeat(2000))), None, "no cursor is that long");
    }
}
