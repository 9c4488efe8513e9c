//! Dispute exports: one record each, written queued with the dispute's step that asked
//! for it, and finished (ready or failed) only from queued, so a duplicate build of the
//! same job never overwrites what the first recorded.

use super::commit::Commit;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::{Store, item, keys, put, s};
use peyman_rules::error::ApiError;
use peyman_rules::export::Export;

impl Commit {
    /// A new export; one with the same id makes the commit fail.
    pub fn new_export(&mut self, export: &Export) -> Result<(), ApiError> {
        let item = item(&keys::export(&export.export_id), "export", export)?;
        self.writes.push(put(&self.table, item, Some("attribute_not_exists(PK)"))?);
        Ok(())
    }

    /// The export as built or given up on; the commit fails unless it was still queued.
    pub fn finished_export(&mut self, export: &Export) -> Result<(), ApiError> {
        let item = item(&keys::export(&export.export_id), "export", export)?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("#status = :queued")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":queued", s("queued"))
            .build()
            .map_err(ApiError::internal)?;
        self.writes.push(TransactWriteItem::builder().put(put).build());
        Ok(())
    }
}

impl Store {
    pub async fn export(&self, export_id: &str) -> Result<Option<Export>, ApiError> {
        self.get_as(&keys::export(export_id)).await
    }
}
