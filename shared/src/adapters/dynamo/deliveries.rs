//! Deliveries: records of their own under their order, newest first.

use super::commit::Commit;
use super::keys::Key;
use super::{Page, Store, decode_cursor, encode_cursor, invalid_cursor, item, key_item, keys, put, s};
use crate::rules::delivery::Delivery;
use crate::rules::error::ApiError;

impl Commit {
    /// A new delivery; one with the same id makes the commit fail.
    pub fn delivery(&mut self, delivery: &Delivery) -> Result<(), ApiError> {
        let item = item(&keys::delivery(&delivery.order_id, &delivery.delivery_id), "delivery", delivery)?;
        self.writes.push(put(&self.table, item, Some("attribute_not_exists(PK)"))?);
        Ok(())
    }
}

impl Store {
    /// One page of an order's deliveries, newest first.
    pub async fn deliveries(
        &self,
        order_id: &str,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<Delivery>, ApiError> {
        let pk = keys::delivery(order_id, "").pk;
        let start = match cursor {
            None => None,
            Some(cursor) => {
                let sk = decode_cursor(cursor)
                    .filter(|sk| sk.starts_with(keys::DELIVERY_PREFIX))
                    .ok_or_else(invalid_cursor)?;
                Some(key_item(&Key { pk: pk.clone(), sk }))
            }
        };
        let query = self
            .db
            .query()
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":prefix", s(keys::DELIVERY_PREFIX));
        self.newest_first(query, limit, start, |k| k.get(keys::SK).and_then(|v| v.as_s().ok()).map(encode_cursor)).await
    }
}
