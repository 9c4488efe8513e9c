//! Messages between two users, and how far a buyer and a seller have communicated.

use aws_sdk_dynamodb::types::TransactWriteItem;

use super::keys::Key;
use super::{Page, Store, db_error, item, key_item, keys, put, s};
use peyman_rules::error::{ApiError, Code};
use peyman_rules::message::Message;
use peyman_rules::placement::Contact;

impl Store {
    /// Stores a message and, in the same transaction, lets the recipient read each of
    /// its files. The sender's ownership of every file is checked inside the
    /// transaction, so no file changes hands between the check and the write. A message
    /// about an order is also listed under it (GSI1).
    pub async fn insert_message(&self, message: &Message) -> Result<(), ApiError> {
        let key = keys::message(&message.sender_id, &message.recipient_id, &message.message_id);
        let mut item = item(&key, "message", message)?;
        if let Some(order_id) = &message.order_id {
            item.insert(keys::GSI1PK.into(), s(keys::order_messages(order_id)));
            item.insert(keys::GSI1SK.into(), s(&key.sk));
        }
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
            Err(e) if e.as_service_error().is_some_and(|e| e.is_transaction_canceled_exception()) => Err(
                ApiError::conflict(Code::UploadChanged, "an attached file changed while sending; read it and retry"),
            ),
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
        self.prefix_page(&keys::conversation(a, b), keys::MESSAGE_PREFIX, limit, cursor).await
    }

    /// Up to `limit` messages between `a` and `b` in id order (a ULID: the order they
    /// were sent in, to the millisecond), after the message `after` (from the first when
    /// `None`), read consistently; and whether more may follow. A dispute's packet reads
    /// the whole conversation this way, a page at a time.
    pub async fn messages_after(
        &self,
        a: &str,
        b: &str,
        after: Option<&str>,
        limit: i32,
    ) -> Result<(Vec<Message>, bool), ApiError> {
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :sk)")
            .expression_attribute_values(":pk", s(keys::conversation(a, b)))
            .expression_attribute_values(":sk", s(keys::MESSAGE_PREFIX))
            .consistent_read(true)
            .limit(limit)
            .set_exclusive_start_key(after.map(|id| key_item(&keys::message(a, b, id))))
            .send()
            .await
            .map_err(db_error)?;
        let more = out.last_evaluated_key.is_some();
        let messages = out.items.unwrap_or_default().into_iter().map(super::decode).collect::<Result<_, _>>()?;
        Ok((messages, more))
    }

    /// The messages between `a` and `b` about `order_id`, newest first.
    pub async fn order_messages(
        &self,
        a: &str,
        b: &str,
        order_id: &str,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<Message>, ApiError> {
        // The index's sort key is the message's own; its partition is the parties'.
        self.gsi1_page(&keys::order_messages(order_id), limit, cursor, |sk| {
            sk.starts_with(keys::MESSAGE_PREFIX).then(|| Key { pk: keys::conversation(a, b), sk: sk.to_owned() })
        })
        .await
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
}
