//! The one storage module: every read and write of the single DynamoDB table. Keys come
//! from [`crate::keys`]; items are mapped with serde_dynamo.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, KeysAndAttributes, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::followup::FollowUp;
use crate::gig::{Gig, GigPatch};
use crate::keys::{self, Key};
use crate::message::Message;
use crate::payment::{Payment, PaymentStatus, Refund, RefundStatus};
use crate::seller::{Level, SellerSettings};
use crate::timeline::Event;
use crate::tracked::Tracked;
use crate::upload::{Upload, UploadStatus, Verdict};

type Item = HashMap<String, AttributeValue>;

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

/// How far a buyer and a seller have communicated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact {
    /// The buyer wrote to the seller or asked for a custom project, or they share an order.
    BuyerReachedOut,
    /// Only the seller wrote: that is not the buyer's interest.
    SellerOnly,
    None,
}

/// What an idempotency claim found.
#[derive(Debug, PartialEq)]
pub enum IdempotencyClaim {
    /// No live record: the caller runs the request.
    Acquired,
    /// The first request with this key completed: replay its response.
    Completed { status: u16, content_type: String, body: String },
    /// The first request with this key is still running.
    InProgress,
    /// The key was used with another request.
    PayloadMismatch,
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn db_error<E, R>(err: SdkError<E, R>) -> ApiError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    ApiError::internal(format!("dynamodb: {}", DisplayErrorContext(err)))
}

fn is_condition_failure<R>(err: &SdkError<aws_sdk_dynamodb::operation::put_item::PutItemError, R>) -> bool {
    err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception())
}

fn decode<T: DeserializeOwned>(item: Item) -> Result<T, ApiError> {
    from_item(item).map_err(|e| ApiError::internal(format!("stored item does not decode: {e}")))
}

/// The item for `data` under `key`, tagged with its entity type.
fn item<T: Serialize>(key: &Key, entity: &str, data: &T) -> Result<Item, ApiError> {
    let mut item: Item = to_item(data).map_err(|e| ApiError::internal(format!("item does not encode: {e}")))?;
    item.insert(keys::PK.into(), s(&key.pk));
    item.insert(keys::SK.into(), s(&key.sk));
    item.insert("entity".into(), s(entity));
    Ok(item)
}

fn key_item(key: &Key) -> Item {
    HashMap::from([(keys::PK.into(), s(&key.pk)), (keys::SK.into(), s(&key.sk))])
}

fn put(table: &str, item: Item, condition: Option<&str>) -> Result<TransactWriteItem, ApiError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .set_condition_expression(condition.map(str::to_owned))
        .build()
        .map_err(ApiError::internal)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

impl Store {
    pub fn new(db: Client, table: impl Into<String>) -> Self {
        Store { db, table: table.into() }
    }

    async fn get(&self, key: &Key) -> Result<Option<Item>, ApiError> {
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

    async fn get_as<T: DeserializeOwned>(&self, key: &Key) -> Result<Option<T>, ApiError> {
        self.get(key).await?.map(decode).transpose()
    }

    /// Writes a new item; `false` when one already exists under its key.
    async fn insert(&self, item: Item) -> Result<bool, ApiError> {
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

    // ---- seller settings -------------------------------------------------------------

    pub async fn seller_settings(&self, user_id: &str) -> Result<SellerSettings, ApiError> {
        Ok(self.get_as(&keys::seller_settings(user_id)).await?.unwrap_or_else(|| SellerSettings::defaults(user_id)))
    }

    /// Sets the seller's own switch; the level is left as it is (or `new`).
    pub async fn set_custom_projects(
        &self,
        user_id: &str,
        enabled: bool,
        now: DateTime<Utc>,
    ) -> Result<SellerSettings, ApiError> {
        self.update_settings(
            user_id,
            "SET custom_projects_enabled = :enabled, #level = if_not_exists(#level, :new_level)",
            vec![(":enabled", AttributeValue::Bool(enabled)), (":new_level", s("new"))],
            now,
        )
        .await
    }

    /// Support sets a seller's level; who did it is kept with it.
    pub async fn set_level(
        &self,
        user_id: &str,
        level: Level,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<SellerSettings, ApiError> {
        let level = serde_json::to_value(level).map_err(ApiError::internal)?;
        self.update_settings(
            user_id,
            "SET #level = :level, level_set_by = :by, custom_projects_enabled = if_not_exists(custom_projects_enabled, :off)",
            vec![(":level", s(level.as_str().unwrap_or("new"))), (":by", s(by)), (":off", AttributeValue::Bool(false))],
            now,
        )
        .await
    }

    async fn update_settings(
        &self,
        user_id: &str,
        set: &str,
        values: Vec<(&str, AttributeValue)>,
        now: DateTime<Utc>,
    ) -> Result<SellerSettings, ApiError> {
        let mut update = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_item(&keys::seller_settings(user_id))))
            .update_expression(format!("{set}, user_id = :user, updated_at = :now, entity = :entity"))
            .expression_attribute_names("#level", "level")
            .expression_attribute_values(":user", s(user_id))
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .expression_attribute_values(":entity", s("seller_settings"))
            .return_values(ReturnValue::AllNew);
        for (name, value) in values {
            update = update.expression_attribute_values(name, value);
        }
        let out = update.send().await.map_err(db_error)?;
        decode(out.attributes.unwrap_or_default())
    }

    // ---- gigs ------------------------------------------------------------------------

    pub async fn insert_gig(&self, gig: &Gig) -> Result<(), ApiError> {
        let mut item = item(&keys::gig(&gig.gig_id), "gig", gig)?;
        item.insert(keys::GSI1PK.into(), s(keys::seller_gigs(&gig.seller_id)));
        item.insert(keys::GSI1SK.into(), s(format!("GIG#{}", gig.gig_id)));
        if !self.insert(item).await? {
            return Err(ApiError::internal("gig id collision"));
        }
        Ok(())
    }

    pub async fn gig(&self, gig_id: &str) -> Result<Option<Gig>, ApiError> {
        self.get_as(&keys::gig(gig_id)).await
    }

    /// Applies `patch` if `seller_id` owns the gig: 404 when it does not exist, 403 when
    /// it is someone else's (gigs are public, so that says nothing new).
    pub async fn update_gig(
        &self,
        gig_id: &str,
        seller_id: &str,
        patch: &GigPatch,
        now: DateTime<Utc>,
    ) -> Result<Gig, ApiError> {
        let mut sets = vec!["updated_at = :now"];
        let mut update = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_item(&keys::gig(gig_id))))
            .condition_expression("attribute_exists(PK) AND seller_id = :seller")
            .expression_attribute_values(":seller", s(seller_id))
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .return_values(ReturnValue::AllNew);
        if let Some(title) = &patch.title {
            sets.push("title = :title");
            update = update.expression_attribute_values(":title", s(title));
        }
        if let Some(status) = patch.status {
            sets.push("#status = :status");
            let status = serde_json::to_value(status).map_err(ApiError::internal)?;
            update = update
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", s(status.as_str().unwrap_or_default()));
        }
        match update.update_expression(format!("SET {}", sets.join(", "))).send().await {
            Ok(out) => decode(out.attributes.unwrap_or_default()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                match self.gig(gig_id).await? {
                    None => Err(ApiError::NotFound { what: "gig" }),
                    Some(_) => Err(ApiError::forbidden("not_gig_owner", "only the gig's seller may change it")),
                }
            }
            Err(e) => Err(db_error(e)),
        }
    }

    // ---- uploads ---------------------------------------------------------------------

    pub async fn insert_upload(&self, upload: &Upload) -> Result<(), ApiError> {
        if !self.insert(item(&keys::upload(&upload.upload_id), "upload", upload)?).await? {
            return Err(ApiError::internal("upload id collision"));
        }
        Ok(())
    }

    pub async fn upload(&self, upload_id: &str) -> Result<Option<Upload>, ApiError> {
        self.get_as(&keys::upload(upload_id)).await
    }

    /// The uploads among `ids` that exist, in no particular order.
    pub async fn uploads(&self, ids: &[&str]) -> Result<Vec<Upload>, ApiError> {
        let mut found = Vec::new();
        let mut unique: Vec<&str> = ids.to_vec();
        unique.sort_unstable();
        unique.dedup();
        for chunk in unique.chunks(100) {
            let keys: Vec<Item> = chunk.iter().map(|id| key_item(&keys::upload(id))).collect();
            let mut request = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .build()
                    .map_err(ApiError::internal)?,
            );
            while let Some(keys) = request.take() {
                let out = self.db.batch_get_item().request_items(&self.table, keys).send().await.map_err(db_error)?;
                for item in out.responses.unwrap_or_default().remove(&self.table).unwrap_or_default() {
                    found.push(decode(item)?);
                }
                request = out.unprocessed_keys.unwrap_or_default().remove(&self.table);
            }
        }
        Ok(found)
    }

    /// Whether `user_id` was sent the upload in a message.
    pub async fn is_upload_viewer(&self, upload_id: &str, user_id: &str) -> Result<bool, ApiError> {
        Ok(self.get(&keys::upload_viewer(upload_id, user_id)).await?.is_some())
    }

    /// Records the checker's verdict once: only a pending upload moves. `false` when it
    /// was already decided (a redelivered notification).
    pub async fn decide_upload(
        &self,
        upload_id: &str,
        verdict: &Verdict,
        version: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, ApiError> {
        let (status, rejection) = match verdict {
            Verdict::Ready => (UploadStatus::Ready, None),
            Verdict::Rejected(code) => (UploadStatus::Rejected, Some(*code)),
        };
        let status = serde_json::to_value(status).map_err(ApiError::internal)?;
        let result = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_item(&keys::upload(upload_id))))
            .condition_expression("#status = :pending")
            .update_expression(
                "SET #status = :status, rejection = :rejection, checked_version = :version, checked_at = :now",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":status", s(status.as_str().unwrap_or_default()))
            .expression_attribute_values(":rejection", rejection.map_or(AttributeValue::Null(true), s))
            .expression_attribute_values(":version", version.map_or(AttributeValue::Null(true), s))
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(db_error(e)),
        }
    }

    // ---- messages --------------------------------------------------------------------

    /// Stores a message and, in the same transaction, lets the recipient read each of
    /// its files. The sender's ownership of every file is checked inside the
    /// transaction, so no file changes hands between the check and the write.
    pub async fn insert_message(&self, message: &Message) -> Result<(), ApiError> {
        let key = keys::message(&message.sender_id, &message.recipient_id, &message.message_id);
        let item = item(&key, "message", message)?;
        if message.upload_ids().next().is_none() {
            // Nothing to check or share: one write, at half a transaction's cost.
            return match self.insert(item).await? {
                true => Ok(()),
                false => Err(ApiError::internal("message id collision")),
            };
        }
        let mut writes = vec![put(&self.table, item, Some("attribute_not_exists(PK)"))?];
        for upload_id in message.upload_ids() {
            let mut viewer = key_item(&keys::upload_viewer(upload_id, &message.recipient_id));
            viewer.insert("entity".into(), s("upload_viewer"));
            writes.push(put(&self.table, viewer, None)?);
            let check = aws_sdk_dynamodb::types::ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(key_item(&keys::upload(upload_id))))
                .condition_expression("owner_id = :sender AND #status <> :rejected")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":sender", s(&message.sender_id))
                .expression_attribute_values(":rejected", s("rejected"))
                .build()
                .map_err(ApiError::internal)?;
            writes.push(TransactWriteItem::builder().condition_check(check).build());
        }
        match self.db.transact_write_items().set_transact_items(Some(writes)).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_transaction_canceled_exception()) => {
                Err(ApiError::conflict("upload_changed", "an attached file changed while sending; read it and retry"))
            }
            Err(e) => Err(db_error(e)),
        }
    }

    /// The conversation between `a` and `b`, newest first.
    pub async fn messages(
        &self,
        a: &str,
        b: &str,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<Message>, ApiError> {
        let pk = keys::conversation(a, b);
        let start = match cursor {
            None => None,
            Some(cursor) => {
                let sk = decode_cursor(cursor).filter(|sk| sk.starts_with(keys::MESSAGE_PREFIX)).ok_or_else(|| {
                    ApiError::malformed("invalid_cursor", Some("cursor"), "cursor is not one this list gave")
                })?;
                Some(key_item(&Key { pk: pk.clone(), sk }))
            }
        };
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":prefix", s(keys::MESSAGE_PREFIX))
            .scan_index_forward(false)
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(db_error)?;
        let items = out.items.unwrap_or_default().into_iter().map(decode).collect::<Result<Vec<_>, _>>()?;
        let next_cursor = out
            .last_evaluated_key
            .and_then(|k| k.get(keys::SK).and_then(|v| v.as_s().ok()).map(|sk| URL_SAFE_NO_PAD.encode(sk)));
        Ok(Page { items, next_cursor })
    }

    // ---- idempotency -----------------------------------------------------------------

    /// Claims `key` for one request (AWS Lambda Powertools semantics): a record that is
    /// absent, expired, or in progress past its deadline is taken over.
    pub async fn claim_idempotency(
        &self,
        user_id: &str,
        idempotency_key: &str,
        payload_hash: &str,
        now: DateTime<Utc>,
        in_progress_until: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<IdempotencyClaim, ApiError> {
        let key = keys::idempotency(user_id, idempotency_key);
        let mut record = key_item(&key);
        record.insert("entity".into(), s("idempotency"));
        record.insert("status".into(), s("in_progress"));
        record.insert("payload_hash".into(), s(payload_hash));
        record.insert("in_progress_until".into(), n(in_progress_until.timestamp()));
        record.insert("ttl".into(), n(expires_at.timestamp()));
        let result = self
            .db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(record))
            .condition_expression(
                "attribute_not_exists(PK) OR #ttl < :now OR (#status = :in_progress AND in_progress_until < :now)",
            )
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":now", n(now.timestamp()))
            .expression_attribute_values(":in_progress", s("in_progress"))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let existing = match result {
            Ok(_) => return Ok(IdempotencyClaim::Acquired),
            Err(e) if is_condition_failure(&e) => {
                let old = match e.into_service_error() {
                    aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => c.item,
                    _ => None,
                };
                match old {
                    Some(old) => old,
                    None => self.get(&key).await?.unwrap_or_default(),
                }
            }
            Err(e) => return Err(db_error(e)),
        };
        let text = |name: &str| existing.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        if text("payload_hash") != payload_hash {
            return Ok(IdempotencyClaim::PayloadMismatch);
        }
        if text("status") != "completed" {
            return Ok(IdempotencyClaim::InProgress);
        }
        Ok(IdempotencyClaim::Completed {
            status: existing
                .get("response_status")
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(200),
            content_type: text("response_content_type"),
            body: text("response_body"),
        })
    }

    pub async fn complete_idempotency(
        &self,
        user_id: &str,
        idempotency_key: &str,
        payload_hash: &str,
        response: (u16, &str, &str),
        expires_at: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let (status, content_type, body) = response;
        let mut record = key_item(&keys::idempotency(user_id, idempotency_key));
        record.insert("entity".into(), s("idempotency"));
        record.insert("status".into(), s("completed"));
        record.insert("payload_hash".into(), s(payload_hash));
        record.insert("response_status".into(), n(status));
        record.insert("response_content_type".into(), s(content_type));
        record.insert("response_body".into(), s(body));
        record.insert("ttl".into(), n(expires_at.timestamp()));
        self.db.put_item().table_name(&self.table).set_item(Some(record)).send().await.map_err(db_error)?;
        Ok(())
    }

    /// Forgets a claim whose request failed on our side, so a retry runs again.
    pub async fn release_idempotency(&self, user_id: &str, idempotency_key: &str) -> Result<(), ApiError> {
        self.db
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_item(&keys::idempotency(user_id, idempotency_key))))
            .send()
            .await
            .map_err(db_error)?;
        Ok(())
    }
}

fn decode_cursor(cursor: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    String::from_utf8(bytes).ok().filter(|s| s.len() <= 1024)
}

// ---- transitions ---------------------------------------------------------------------

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
        return ApiError::conflict("concurrent_change", "it changed meanwhile; read it again and retry");
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

/// The writes of one transition, committed as one transaction by [`Store::commit`]:
/// entities under version conditions, timeline events, outbox follow-ups, timers.
#[derive(Debug)]
pub struct Commit {
    table: String,
    writes: Vec<TransactWriteItem>,
    followups: Vec<FollowUp>,
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
            if let Some(delete) = write.delete() {
                hash.update(b"DELETE");
                fingerprint_item(delete.key(), &mut hash);
            }
        }
        hex::encode(hash.finalize())[..36].to_owned()
    }

    /// Puts `entity`, which must still be at `expected` version (0: must not exist yet).
    pub fn entity<T: Tracked>(&mut self, entity: &T, expected: u64) -> Result<(), ApiError> {
        let key = keys::tracked(T::KIND, entity.id());
        let mut item = item(&key, T::NAME, entity)?;
        let sort = s(format!("{}#{}", T::KIND, entity.id()));
        item.insert(keys::GSI1PK.into(), s(keys::buyer_list(T::KIND, entity.buyer_id())));
        item.insert(keys::GSI1SK.into(), sort.clone());
        item.insert(keys::GSI2PK.into(), s(keys::seller_list(T::KIND, entity.seller_id())));
        item.insert(keys::GSI2SK.into(), sort);
        self.versioned(item, expected)
    }

    /// Puts `item`, whose stored `version` must still be `expected` (0: must not exist yet).
    fn versioned(&mut self, item: Item, expected: u64) -> Result<(), ApiError> {
        let put = Put::builder().table_name(&self.table).set_item(Some(item));
        let put = if expected == 0 {
            put.condition_expression("attribute_not_exists(PK)")
        } else {
            put.condition_expression("#version = :expected")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":expected", n(expected))
        };
        self.writes.push(TransactWriteItem::builder().put(put.build().map_err(ApiError::internal)?).build());
        Ok(())
    }

    pub fn event<T: Tracked>(&mut self, id: &str, event: &Event) -> Result<(), ApiError> {
        let item = item(&keys::event(T::KIND, id, event.seq), "event", event)?;
        self.writes.push(put(&self.table, item, Some("attribute_not_exists(PK)"))?);
        Ok(())
    }

    pub fn followup(&mut self, followup: FollowUp) -> Result<(), ApiError> {
        let item = item(&keys::outbox(&followup.followup_id), "followup", &followup)?;
        self.writes.push(put(&self.table, item, None)?);
        self.followups.push(followup);
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

fn timer_item(key: &Key, subject: &str, due: DateTime<Utc>) -> Item {
    let mut item = key_item(key);
    item.insert("entity".into(), s("timer"));
    item.insert("subject".into(), s(subject));
    item.insert("due_at".into(), s(due.to_rfc3339()));
    item
}

fn due_timer(item: &Item) -> DueTimer {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    let attempts = item.get("attempts").and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).unwrap_or(0);
    DueTimer { key: Key { pk: text(keys::PK), sk: text(keys::SK) }, subject: text("subject"), attempts }
}

// ---- payments ------------------------------------------------------------------------

/// How long a received provider event is remembered: well past any provider's retries
/// (Stripe retries for three days).
const RECEIVED_EVENT_TTL_DAYS: i64 = 30;

fn payment_item(payment: &Payment) -> Result<Item, ApiError> {
    let mut item = item(&keys::payment(&payment.intent_id), "payment", payment)?;
    if !payment.order_id.is_empty() {
        item.insert(keys::GSI1PK.into(), s(keys::order_payments(&payment.order_id)));
        item.insert(keys::GSI1SK.into(), s(format!("PAYMENT#{}", payment.created_at.to_rfc3339())));
    }
    if payment.status == PaymentStatus::Held {
        item.insert(keys::GSI2PK.into(), s(keys::HELD_PAYMENTS));
        item.insert(keys::GSI2SK.into(), s(payment.updated_at.to_rfc3339()));
    }
    Ok(item)
}

fn refund_item(refund: &Refund) -> Result<Item, ApiError> {
    let mut item = item(&keys::refund(&refund.intent_id, &refund.refund_id), "refund", refund)?;
    if !refund.order_id.is_empty() {
        item.insert(keys::GSI1PK.into(), s(keys::order_payments(&refund.order_id)));
        item.insert(keys::GSI1SK.into(), s(format!("REFUND#{}", refund.created_at.to_rfc3339())));
    }
    if refund.status == RefundStatus::Failed {
        item.insert(keys::GSI2PK.into(), s(keys::FAILED_REFUNDS));
        item.insert(keys::GSI2SK.into(), s(refund.updated_at.to_rfc3339()));
    }
    Ok(item)
}

impl Commit {
    /// Puts `payment`, which must still be at `expected` version (0: must not exist yet).
    pub fn payment(&mut self, payment: &Payment, expected: u64) -> Result<(), ApiError> {
        self.versioned(payment_item(payment)?, expected)
    }

    /// A new refund; one with the same id already recorded makes the commit fail.
    pub fn new_refund(&mut self, refund: &Refund) -> Result<(), ApiError> {
        self.writes.push(put(&self.table, refund_item(refund)?, Some("attribute_not_exists(PK)"))?);
        Ok(())
    }

    /// Puts `refund`, which must still be as it was read: in `from` status after
    /// `attempts` refused attempts (of two deliveries racing, one records its answer).
    pub fn refund(&mut self, refund: &Refund, from: RefundStatus, attempts: u32) -> Result<(), ApiError> {
        let from = serde_json::to_value(from).map_err(ApiError::internal)?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(refund_item(refund)?))
            .condition_expression("#status = :from AND (attempts = :attempts OR attribute_not_exists(attempts))")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":from", s(from.as_str().unwrap_or_default()))
            .expression_attribute_values(":attempts", n(attempts))
            .build()
            .map_err(ApiError::internal)?;
        self.writes.push(TransactWriteItem::builder().put(put).build());
        Ok(())
    }

    /// Records that a provider's event was applied; a second commit of it fails.
    pub fn event_received(&mut self, provider: &str, event_id: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
        let mut item = key_item(&keys::received_event(provider, event_id));
        item.insert("entity".into(), s("received_event"));
        item.insert("received_at".into(), s(now.to_rfc3339()));
        item.insert("ttl".into(), n((now + chrono::Duration::days(RECEIVED_EVENT_TTL_DAYS)).timestamp()));
        self.writes.push(put(&self.table, item, Some("attribute_not_exists(PK)"))?);
        Ok(())
    }
}

impl Store {
    pub async fn payment(&self, intent_id: &str) -> Result<Option<Payment>, ApiError> {
        self.get_as(&keys::payment(intent_id)).await
    }

    pub async fn refund_record(&self, intent_id: &str, refund_id: &str) -> Result<Option<Refund>, ApiError> {
        self.get_as(&keys::refund(intent_id, refund_id)).await
    }

    /// Every refund of a payment.
    pub async fn refunds(&self, intent_id: &str) -> Result<Vec<Refund>, ApiError> {
        self.all_with_prefix(&keys::payment(intent_id).pk, keys::REFUND_PREFIX).await
    }

    pub async fn event_received(&self, provider: &str, event_id: &str) -> Result<bool, ApiError> {
        Ok(self.get(&keys::received_event(provider, event_id)).await?.is_some())
    }

    /// An order's payments and refunds, oldest first (GSI1).
    pub async fn order_payments(&self, order_id: &str) -> Result<(Vec<Payment>, Vec<Refund>), ApiError> {
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("GSI1PK = :pk")
            .expression_attribute_values(":pk", s(keys::order_payments(order_id)))
            .send()
            .await
            .map_err(db_error)?;
        let (mut payments, mut refunds) = (Vec::new(), Vec::new());
        for item in out.items.unwrap_or_default() {
            match item.get("entity").and_then(|e| e.as_s().ok()).map(String::as_str) {
                Some("payment") => payments.push(decode(item)?),
                Some("refund") => refunds.push(decode(item)?),
                _ => {}
            }
        }
        Ok((payments, refunds))
    }
}

impl Store {
    /// One page of a support queue kept in GSI2 (`PAYMENTS#HELD`, `REFUNDS#FAILED`),
    /// newest first. The cursor carries the last item's keys, checked to be of the
    /// queue's own kind before use.
    pub async fn queue_page<T: DeserializeOwned>(
        &self,
        queue: &str,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<T>, ApiError> {
        let start = match cursor {
            None => None,
            Some(cursor) => {
                let keys = decode_cursor(cursor)
                    .and_then(|text| {
                        let mut parts = text.splitn(3, '\n').map(str::to_owned);
                        Some((parts.next()?, parts.next()?, parts.next()?))
                    })
                    .filter(|(_, pk, _)| pk.starts_with("PAYMENT#"))
                    .ok_or_else(|| {
                        ApiError::malformed("invalid_cursor", Some("cursor"), "cursor is not one this list gave")
                    })?;
                let (sort, pk, sk) = keys;
                Some(HashMap::from([
                    (keys::PK.to_owned(), s(pk)),
                    (keys::SK.to_owned(), s(sk)),
                    (keys::GSI2PK.to_owned(), s(queue)),
                    (keys::GSI2SK.to_owned(), s(sort)),
                ]))
            }
        };
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI2)
            .key_condition_expression("GSI2PK = :pk")
            .expression_attribute_values(":pk", s(queue))
            .scan_index_forward(false)
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(db_error)?;
        let items = out.items.unwrap_or_default().into_iter().map(decode).collect::<Result<Vec<T>, _>>()?;
        let next_cursor = out.last_evaluated_key.and_then(|k| {
            let text = |name: &str| k.get(name).and_then(|v| v.as_s().ok()).cloned();
            let joined = [text(keys::GSI2SK)?, text(keys::PK)?, text(keys::SK)?].join("\n");
            Some(URL_SAFE_NO_PAD.encode(joined))
        });
        Ok(Page { items, next_cursor })
    }
}

/// A timer that is due.
#[derive(Debug, Clone)]
pub struct DueTimer {
    pub key: Key,
    pub subject: String,
    /// How often firing it failed so far.
    pub attempts: u32,
}

impl Store {
    pub fn begin(&self) -> Commit {
        Commit { table: self.table.clone(), writes: Vec::new(), followups: Vec::new() }
    }

    /// Commits `commit` as one transaction; returns its follow-ups to send. A lost race
    /// (a condition failed: a version moved meanwhile) is a 409; what DynamoDB says is
    /// worth retrying (throttling, a conflicting transaction) is a 503; anything else a 500.
    ///
    /// The client request token is derived from the writes themselves, so the SDK's own
    /// retry of a commit whose answer was lost is answered as the first (DynamoDB keeps
    /// tokens for ten minutes) instead of failing its own version conditions.
    pub async fn commit(&self, commit: Commit) -> Result<Vec<FollowUp>, ApiError> {
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

    pub async fn tracked<T: Tracked>(&self, id: &str) -> Result<Option<T>, ApiError> {
        self.get_as(&keys::tracked(T::KIND, id)).await
    }

    /// The whole timeline of one entity, in order.
    pub async fn timeline<T: Tracked>(&self, id: &str) -> Result<Vec<Event>, ApiError> {
        self.all_with_prefix(&keys::tracked(T::KIND, id).pk, keys::EVENT_PREFIX).await
    }

    /// Every item of partition `pk` whose sort key begins with `prefix`, in order, read
    /// consistently and across pages.
    async fn all_with_prefix<T: DeserializeOwned>(&self, pk: &str, prefix: &str) -> Result<Vec<T>, ApiError> {
        let items = self.all_where("PK = :pk AND begins_with(SK, :sk)", pk, prefix).await?;
        items.into_iter().map(decode).collect()
    }

    /// Every item of partition `pk` whose sort key meets `condition` (on `:pk` and
    /// `:sk`), in order, read consistently and across pages.
    async fn all_where(&self, condition: &str, pk: &str, sk: &str) -> Result<Vec<Item>, ApiError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .db
                .query()
                .table_name(&self.table)
                .key_condition_expression(condition)
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":sk", s(sk))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(db_error)?;
            found.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(found);
            }
        }
    }

    /// A buyer's (`GSI1`) or seller's (`GSI2`) entities of one kind, newest first,
    /// optionally only those in `state`.
    pub async fn list<T: Tracked>(
        &self,
        as_seller: bool,
        user_id: &str,
        state: Option<&str>,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<T>, ApiError> {
        let (index, pk_name, sk_name, partition) = if as_seller {
            (keys::GSI2, keys::GSI2PK, keys::GSI2SK, keys::seller_list(T::KIND, user_id))
        } else {
            (keys::GSI1, keys::GSI1PK, keys::GSI1SK, keys::buyer_list(T::KIND, user_id))
        };
        let start = match cursor {
            None => None,
            Some(cursor) => {
                let id = decode_cursor(cursor).filter(|id| ulid::Ulid::from_string(id).is_ok()).ok_or_else(|| {
                    ApiError::malformed("invalid_cursor", Some("cursor"), "cursor is not one this list gave")
                })?;
                // The cursor names only an id; the keys are rebuilt in the caller's own partition.
                let key = keys::tracked(T::KIND, &id);
                let sort = s(format!("{}#{id}", T::KIND));
                Some(HashMap::from([
                    (keys::PK.to_owned(), s(key.pk)),
                    (keys::SK.to_owned(), s(key.sk)),
                    (pk_name.to_owned(), s(&partition)),
                    (sk_name.to_owned(), sort),
                ]))
            }
        };
        let mut query = self
            .db
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", pk_name)
            .expression_attribute_values(":pk", s(&partition))
            .scan_index_forward(false)
            .limit(limit)
            .set_exclusive_start_key(start);
        if let Some(state) = state {
            query = query
                .filter_expression("#state = :state")
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":state", s(state));
        }
        let out = query.send().await.map_err(db_error)?;
        let items = out.items.unwrap_or_default().into_iter().map(decode).collect::<Result<Vec<T>, _>>()?;
        let next_cursor = out.last_evaluated_key.and_then(|k| {
            let sort = k.get(sk_name)?.as_s().ok()?;
            sort.split_once('#').map(|(_, id)| URL_SAFE_NO_PAD.encode(id))
        });
        Ok(Page { items, next_cursor })
    }

    /// How far `buyer` and `seller` have communicated, for the prior-communication rule:
    /// the buyer reached out (a message to the seller, a request) or they share an order;
    /// or only the seller wrote; or nothing at all.
    pub async fn contact_between(&self, buyer: &str, seller: &str) -> Result<Contact, ApiError> {
        let pk = keys::conversation(buyer, seller);
        let mut start = None;
        let mut any = false;
        loop {
            // A filter reads every item it passes over, so a conversation the seller
            // filled alone costs its own length; pages stop at the first match.
            let out = self
                .db
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk")
                .filter_expression(
                    "sender_id = :buyer OR from_id = :buyer OR (entity = :contact AND begins_with(SK, :order))",
                )
                .expression_attribute_values(":pk", s(&pk))
                .expression_attribute_values(":buyer", s(buyer))
                .expression_attribute_values(":contact", s("contact"))
                .expression_attribute_values(":order", s(keys::contact_prefix("ORDER")))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(db_error)?;
            if out.count > 0 {
                return Ok(Contact::BuyerReachedOut);
            }
            any |= out.scanned_count > 0;
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(if any { Contact::SellerOnly } else { Contact::None });
            }
        }
    }

    /// A message between `a` and `b`, by its id.
    pub async fn message_between(&self, a: &str, b: &str, message_id: &str) -> Result<Option<Message>, ApiError> {
        self.get_as(&keys::message(a, b, message_id)).await
    }

    /// Every follow-up still in the outbox that was written before `before`.
    pub async fn stale_followups(&self, before: DateTime<Utc>) -> Result<Vec<FollowUp>, ApiError> {
        let bound = ulid::Ulid::from_parts(before.timestamp_millis().max(0) as u64, 0).to_string();
        self.all_where("PK = :pk AND SK < :sk", keys::OUTBOX, &bound).await?.into_iter().map(decode).collect()
    }

    pub async fn forget_followups(&self, followups: &[FollowUp]) -> Result<(), ApiError> {
        for followup in followups {
            self.db
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key_item(&keys::outbox(&followup.followup_id))))
                .send()
                .await
                .map_err(db_error)?;
        }
        Ok(())
    }

    /// Every timer due at `now`, oldest first.
    pub async fn due_timers(&self, now: DateTime<Utc>) -> Result<Vec<DueTimer>, ApiError> {
        let due =
            self.all_where("PK = :pk AND SK <= :sk", keys::TIMERS, &format!("{:013}~", now.timestamp_millis())).await?;
        Ok(due.iter().map(due_timer).collect())
    }

    /// Moves a timer that failed to `next` (a later due time), counting the attempt.
    pub async fn retry_timer(&self, timer: &DueTimer, next: DateTime<Utc>, error: &str) -> Result<(), ApiError> {
        let mut commit = self.begin();
        commit.take(&timer.key)?;
        let mut item = timer_item(&keys::timer(next.timestamp_millis(), &timer.subject), &timer.subject, next);
        item.insert("attempts".into(), n(timer.attempts + 1));
        item.insert("last_error".into(), s(error));
        commit.writes.push(put(&self.table, item, None)?);
        self.commit(commit).await.map(|_| ())
    }

    /// Sets aside a timer that kept failing, where support lists them: it no longer
    /// fires, and nothing behind it waits for it.
    pub async fn park_timer(&self, timer: &DueTimer, error: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
        let mut commit = self.begin();
        commit.take(&timer.key)?;
        let mut item = key_item(&Key { pk: keys::PARKED_TIMERS.into(), sk: timer.key.sk.clone() });
        item.insert("entity".into(), s("parked_timer"));
        item.insert("subject".into(), s(&timer.subject));
        item.insert("attempts".into(), n(timer.attempts + 1));
        item.insert("last_error".into(), s(error));
        item.insert("parked_at".into(), s(now.to_rfc3339()));
        commit.writes.push(put(&self.table, item, None)?);
        self.commit(commit).await.map(|_| ())
    }

    /// Timers set aside after failing too often, oldest first.
    pub async fn parked_timers(&self) -> Result<Vec<DueTimer>, ApiError> {
        Ok(self.all_where("PK = :pk AND SK <= :sk", keys::PARKED_TIMERS, "~").await?.iter().map(due_timer).collect())
    }

    pub async fn delete_key(&self, key: &Key) -> Result<(), ApiError> {
        self.db.delete_item().table_name(&self.table).set_key(Some(key_item(key))).send().await.map_err(db_error)?;
        Ok(())
    }

    /// Applies a follow-up once: `false` when it was already applied.
    pub async fn record_notification(&self, followup: &FollowUp) -> Result<bool, ApiError> {
        let key = keys::notification(&followup.recipient_id, &followup.followup_id);
        self.insert(item(&key, "notification", followup)?).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit_of(items: &[Item]) -> Commit {
        let mut commit = Commit { table: "t".into(), writes: Vec::new(), followups: Vec::new() };
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
        let status = |codes: &[&str]| cancellation(codes).status().as_u16();
        assert_eq!(status(&["None", "ConditionalCheckFailed"]), 409);
        assert_eq!(cancellation(&["ConditionalCheckFailed"]).problem().code, "concurrent_change");
        for retry in ["TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"]
        {
            assert_eq!(status(&["None", retry]), 503, "{retry}");
        }
        // A failed condition wins: someone else moved first, whatever else happened.
        assert_eq!(status(&["TransactionConflict", "ConditionalCheckFailed"]), 409);
        for bug in ["ValidationError", "ItemCollectionSizeLimitExceeded"] {
            assert_eq!(status(&["None", bug]), 500, "{bug}");
        }
        assert_eq!(status(&[]), 500);
    }
}
