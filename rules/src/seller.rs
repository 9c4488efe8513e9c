//! A seller's settings: whether they take custom projects, and their level, which only
//! support changes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::policy::{Level, Policy};

/// The stored settings of one user as a seller. A user who never saved any has the
/// defaults: custom projects off, level `new`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SellerSettings {
    pub user_id: String,
    pub custom_projects_enabled: bool,
    pub level: Level,
    pub level_set_by: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl SellerSettings {
    pub fn defaults(user_id: &str) -> Self {
        SellerSettings {
            user_id: user_id.to_owned(),
            custom_projects_enabled: false,
            level: Level::New,
            level_set_by: None,
            updated_at: None,
        }
    }
}

/// `PUT /v1/me/seller-settings`. The level is support's to set; naming it here is refused
/// with its own code rather than as an unknown field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsUpdate {
    pub custom_projects_enabled: bool,
    #[serde(default)]
    pub level: Option<serde::de::IgnoredAny>,
}

/// `PUT /v1/support/sellers/{user_id}/level`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelUpdate {
    pub level: Level,
}

impl SellerSettings {
    pub fn view(&self, policy: &Policy) -> serde_json::Value {
        serde_json::json!({
            "user_id": self.user_id,
            "custom_projects_enabled": self.custom_projects_enabled,
            "level": self.level,
            "level_limits": policy.level_limits(self.level),
            "updated_at": self.updated_at,
        })
    }
}
