//! Deliveries: records of their own under their order, newest first.

use super::commit::Commit;
use super::{Page, Store, item, keys, put};
use peyman_rules::delivery::Delivery;
use peyman_rules::error::ApiError;

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
        self.prefix_page(&keys::delivery(order_id, "").pk, keys::DELIVERY_PREFIX, limit, cursor).await
    }

    /// Every delivery of `order_id`, oldest first (a dispute's packet holds them all).
    pub async fn all_deliveries(&self, order_id: &str) -> Result<Vec<Delivery>, ApiError> {
        self.all_with_prefix(&keys::delivery(order_id, "").pk, keys::DELIVERY_PREFIX).await
    }
}
