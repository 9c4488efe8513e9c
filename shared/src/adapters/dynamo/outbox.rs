//! The outbox of follow-ups not yet handed to SQS.

use chrono::{DateTime, Utc};

use super::{Store, db_error, decode, key_item, keys};
use peyman_rules::error::ApiError;
use peyman_rules::followup::FollowUp;

impl Store {
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
}
