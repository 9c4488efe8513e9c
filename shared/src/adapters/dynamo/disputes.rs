//! Disputes: the dispute itself is tracked (`tracked.rs`), listed in support's queue by
//! state (GSI2, oldest first); its statements are records of their own under it.

use super::commit::Commit;
use super::{Page, Store, item, keys, put};
use peyman_rules::dispute::{Dispute, Statement};
use peyman_rules::error::ApiError;
use peyman_rules::lifecycle::DisputeState;
use peyman_rules::tracked::Tracked;

impl Commit {
    /// A new statement; one with the same id makes the commit fail.
    pub fn statement(&mut self, statement: &Statement) -> Result<(), ApiError> {
        let key = keys::statement(&statement.dispute_id, &statement.statement_id);
        let item = item(&key, "statement", statement)?;
        self.writes.push(put(&self.table, item, Some("attribute_not_exists(PK)"))?);
        Ok(())
    }
}

impl Store {
    /// A dispute's statements, in the order they were made.
    pub async fn statements(&self, dispute_id: &str) -> Result<Vec<Statement>, ApiError> {
        self.all_with_prefix(&keys::statement(dispute_id, "").pk, keys::STATEMENT_PREFIX).await
    }

    /// One page of support's disputes in `state`: open ones oldest first (the longest
    /// waiting on top), resolved ones newest first.
    pub async fn dispute_queue(
        &self,
        state: DisputeState,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<Dispute>, ApiError> {
        let queue = keys::support_queue(Dispute::KIND, state);
        let oldest_first = state == DisputeState::Open;
        self.queue_page(&queue, "DISPUTE#", oldest_first, limit, cursor).await
    }
}
