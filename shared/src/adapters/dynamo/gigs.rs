//! Gigs, listed under their seller (GSI1).

use aws_sdk_dynamodb::types::ReturnValue;
use chrono::{DateTime, Utc};

use super::{Store, db_error, decode, item, key_item, keys, s};
use peyman_rules::error::{ApiError, Code};
use peyman_rules::gig::{Gig, GigPatch};

impl Store {
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
                    Some(_) => Err(ApiError::forbidden(Code::NotGigOwner, "only the gig's seller may change it")),
                }
            }
            Err(e) => Err(db_error(e)),
        }
    }
}
