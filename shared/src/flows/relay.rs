//! The relay: what each committed transition did and asked for, read from the table's
//! stream and handed on. Every timeline event goes on the EventBridge bus as a domain
//! event. A transaction's follow-ups are written on its last timeline event (or on a
//! relay item of its own, see `Commit::seal`): the relay writes the notifications itself
//! (a conditional put each, so a record read twice tells no one twice) and sends the
//! rest, which call a provider or build an export, to SQS. The stream carries an insert
//! once its transaction commits, and never one that did not, so every transition, and
//! only those, is published and followed up, at least once.

use peyman_rules::error::ApiError;
use peyman_rules::followup::{FollowUp, FollowUpKind};
use peyman_rules::timeline::Event;

use crate::adapters::dynamo::keys;
use crate::flows::App;

/// Relays stream records (at most ten at once; the shell hands them so): the new
/// timeline events among them are published in one request, the notifications the
/// inserts carry are written, and their other follow-ups are sent in batches. Anything
/// else (an update, a removal by TTL, another item) is not ours to relay. An error leaves
/// the caller to relay them all again.
pub async fn records(app: &App, records: &[(String, serde_dynamo::Item)]) -> Result<(), ApiError> {
    let mut events = Vec::new();
    let mut followups = Vec::new();
    for (_, image) in records.iter().filter(|(name, _)| name == "INSERT") {
        if image.get("entity") == Some(&serde_dynamo::AttributeValue::S("event".into())) {
            let event: Event = serde_dynamo::from_item(image.clone())
                .map_err(|e| ApiError::internal(format!("an event on the stream does not decode: {e}")))?;
            events.push(event);
        }
        if let Some(carried) = image.get(keys::FOLLOWUPS) {
            let carried: Vec<FollowUp> = serde_dynamo::from_attribute_value(carried.clone())
                .map_err(|e| ApiError::internal(format!("follow-ups on the stream do not decode: {e}")))?;
            followups.extend(carried);
        }
    }
    app.bus.publish(&events).await?;
    let (notifications, others): (Vec<FollowUp>, Vec<FollowUp>) =
        followups.into_iter().partition(|f| f.kind == FollowUpKind::Notify);
    // A notification is one small write: SQS and a second function would cost more than
    // it. A window's ten records tell at most a few parties each, so all at once.
    futures_util::future::try_join_all(notifications.iter().map(|n| app.store.record_notification(n))).await?;
    app.queues.send(&others).await
}
