//! Amendments: records of their own under their order, each written in the transaction of
//! the order's step that proposes, answers or expires it (the order's version condition
//! makes each answer once).

use super::commit::Commit;
use super::{Store, item, keys, put};
use peyman_rules::amendment::{Amendment, AmendmentStatus};
use peyman_rules::error::ApiError;

impl Commit {
    /// An amendment: a new one must not exist; an answered one must (it was proposed).
    pub fn amendment(&mut self, amendment: &Amendment) -> Result<(), ApiError> {
        let key = keys::amendment(&amendment.order_id, &amendment.amendment_id);
        let item = item(&key, "amendment", amendment)?;
        let condition = match amendment.status {
            AmendmentStatus::Proposed => "attribute_not_exists(PK)",
            _ => "attribute_exists(PK)",
        };
        self.writes.push(put(&self.table, item, Some(condition))?);
        Ok(())
    }
}

impl Store {
    /// An order's amendments, in the order they were proposed.
    pub async fn amendments(&self, order_id: &str) -> Result<Vec<Amendment>, ApiError> {
        self.all_with_prefix(&keys::amendment(order_id, "").pk, keys::AMENDMENT_PREFIX).await
    }

    /// One of an order's amendments.
    pub async fn amendment(&self, order_id: &str, amendment_id: &str) -> Result<Option<Amendment>, ApiError> {
        self.get_as(&keys::amendment(order_id, amendment_id)).await
    }
}
