//! A seller's earnings (issue 26): their balances per currency with the next clearance,
//! and their statement, a line per ledger entry that moved their money. Each reads only
//! their own: the keys are theirs.

use chrono::{DateTime, Utc};

use crate::adapters::dynamo::Page;
use crate::adapters::dynamo::ledger::SellerBalance;
use crate::flows::App;
use peyman_rules::caller::Caller;
use peyman_rules::error::ApiError;
use peyman_rules::ledger::Entry;

/// The caller's balances in every currency they earned in, and when their soonest
/// release not yet cleared clears.
pub async fn balances(app: &App, caller: &Caller) -> Result<(Vec<SellerBalance>, Option<DateTime<Utc>>), ApiError> {
    let balances = app.store.seller_balances(&caller.user_id).await?;
    let next = app.store.next_clearance(&caller.user_id).await?;
    Ok((balances, next))
}

/// One page of the caller's statement, newest first.
pub async fn statement(app: &App, caller: &Caller, limit: i32, cursor: Option<&str>) -> Result<Page<Entry>, ApiError> {
    app.store.seller_ledger(&caller.user_id, limit, cursor).await
}
