//! Seller settings: the seller's own switch, and the level support sets.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};

use super::{Store, db_error, decode, key_item, keys, s};
use peyman_rules::error::ApiError;
use peyman_rules::policy::Level;
use peyman_rules::seller::SellerSettings;

impl Store {
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
}
