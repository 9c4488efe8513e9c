//! Seller settings: a seller's own switch for custom projects, and the level only
//! support sets.

use chrono::{DateTime, Utc};

use crate::flows::App;
use peyman_rules::caller::Caller;
use peyman_rules::error::{ApiError, Code};
use peyman_rules::seller::{LevelUpdate, SellerSettings, SettingsUpdate};

pub async fn settings(app: &App, caller: &Caller) -> Result<SellerSettings, ApiError> {
    app.store.seller_settings(&caller.user_id).await
}

/// The seller's own switch; naming the level here is refused with its own code.
pub async fn update(
    app: &App,
    caller: &Caller,
    update: SettingsUpdate,
    now: DateTime<Utc>,
) -> Result<SellerSettings, ApiError> {
    if update.level.is_some() {
        return Err(ApiError::invalid(Code::ReadOnlyField, "level", "only support sets a seller's level"));
    }
    app.store.set_custom_projects(&caller.user_id, update.custom_projects_enabled, now).await
}

/// Support sets a seller's level; who did it is kept with it.
pub async fn set_level(
    app: &App,
    caller: &Caller,
    seller_id: &str,
    update: LevelUpdate,
    now: DateTime<Utc>,
) -> Result<SellerSettings, ApiError> {
    caller.require_support("sets a seller's level")?;
    caller.require_not_party([seller_id], "set their own level")?;
    app.store.set_level(seller_id, update.level, &caller.user_id, now).await
}
