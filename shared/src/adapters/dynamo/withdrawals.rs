//! Withdrawals: each is tracked (`tracked.rs`), listed for its seller (GSI1) and in
//! support's queue by state (GSI2, sharded); its ledger entries are under it. A bank
//! transfer batch is one item holding its lines, written with its withdrawals' moves.

use super::commit::Commit;
use super::{Page, Store, item, keys, put};
use peyman_rules::error::ApiError;
use peyman_rules::lifecycle::WithdrawalState;
use peyman_rules::tracked::Tracked;
use peyman_rules::withdrawal::{Batch, Withdrawal};

impl Commit {
    /// A new batch; one with the same id makes the commit fail.
    pub fn withdrawal_batch(&mut self, batch: &Batch) -> Result<(), ApiError> {
        let item = item(&keys::withdrawal_batch(&batch.batch_id), "withdrawal_batch", batch)?;
        self.writes.push(put(&self.table, item, Some("attribute_not_exists(PK)"))?);
        Ok(())
    }
}

impl Store {
    pub async fn withdrawal_batch(&self, batch_id: &str) -> Result<Option<Batch>, ApiError> {
        self.get_as(&keys::withdrawal_batch(batch_id)).await
    }

    /// One page of support's withdrawals in `state`: those waiting (requested, batched)
    /// oldest first, the longest waiting on top; decided ones newest first.
    pub async fn withdrawal_queue(
        &self,
        state: WithdrawalState,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<Withdrawal>, ApiError> {
        let queue = keys::support_queue(Withdrawal::KIND, state);
        let oldest_first = matches!(state, WithdrawalState::Requested | WithdrawalState::Batched);
        self.queue_page(&queue, "WITHDRAWAL#", oldest_first, limit, cursor).await
    }
}
