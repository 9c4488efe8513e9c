//! Gigs: a seller lists one, anyone signed in reads it, its seller pauses or renames it.

use chrono::{DateTime, Utc};

use crate::flows::App;
use peyman_rules::caller::Caller;
use peyman_rules::error::ApiError;
use peyman_rules::gig::{Gig, GigPatch, NewGig};

pub async fn create(app: &App, seller: &Caller, new: NewGig, now: DateTime<Utc>) -> Result<Gig, ApiError> {
    let gig = new.into_gig(&app.config.policy, ulid::Ulid::new().to_string(), &seller.user_id, now)?;
    app.store.insert_gig(&gig).await?;
    Ok(gig)
}

pub async fn read(app: &App, gig_id: &str) -> Result<Gig, ApiError> {
    app.store.gig(gig_id).await?.ok_or(ApiError::NotFound { what: "gig" })
}

/// Only the gig's seller changes it.
pub async fn update(
    app: &App,
    caller: &Caller,
    gig_id: &str,
    patch: GigPatch,
    now: DateTime<Utc>,
) -> Result<Gig, ApiError> {
    patch.check(&app.config.policy)?;
    app.store.update_gig(gig_id, &caller.user_id, &patch, now).await
}
