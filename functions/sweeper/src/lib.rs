//! The scheduled sweep: re-sends follow-ups a dead process left in the outbox, and fires
//! due timers (an unanswered request or an unaccepted offer expires). A timer whose
//! entity has moved on is refused by the transition table and dropped. The time of the
//! sweep is the scheduled event's own `time`.

use chrono::{DateTime, Utc};
use lambda_runtime::Error;
use peyman::App;
use peyman::error::ApiError;
use peyman::lifecycle::{self, Actor, OFFER, OfferAction, REQUEST, Refusal, RequestAction, Transition};
use peyman::offer::Offer;
use peyman::request::Request;
use peyman::store::DueTimer;
use peyman::tracked::{Step, Tracked, record};
use serde_json::{Value, json};

pub async fn handle(app: &App, event: Value) -> Result<Value, Error> {
    let now =
        event["time"].as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map_or_else(Utc::now, |t| t.to_utc());
    let resent = resend_outbox(app, now).await?;
    let mut fired = 0;
    for timer in app.store.due_timers(now).await? {
        match fire(app, &timer, now).await {
            Ok(true) => fired += 1,
            Ok(false) => {}
            Err(e) => tracing::error!(subject = timer.subject, error = %e, "timer failed; the next sweep retries it"),
        }
    }
    tracing::info!(resent, fired, "sweep");
    Ok(json!({ "resent": resent, "fired": fired }))
}

async fn resend_outbox(app: &App, now: DateTime<Utc>) -> Result<usize, ApiError> {
    let stale = app.store.stale_followups(now - app.config.outbox_grace).await?;
    if stale.is_empty() {
        return Ok(0);
    }
    let sent = app.queues.send(&stale).await?;
    app.store.forget_followups(&sent).await?;
    Ok(sent.len())
}

/// Fires one timer; `true` when it moved its entity.
pub async fn fire(app: &App, timer: &DueTimer, now: DateTime<Utc>) -> Result<bool, ApiError> {
    match timer.subject.split_once('/') {
        Some(("offer", id)) => expire::<Offer, _>(app, OFFER, OfferAction::Expire, id, timer, now).await,
        Some(("request", id)) => expire::<Request, _>(app, REQUEST, RequestAction::Expire, id, timer, now).await,
        _ => {
            tracing::warn!(subject = timer.subject, "a timer for nothing we know; dropped");
            app.store.delete_key(&timer.key).await?;
            Ok(false)
        }
    }
}

async fn expire<T: Tracked, A: Copy + PartialEq>(
    app: &App,
    table: &'static [Transition<T::State, A>],
    action: A,
    id: &str,
    timer: &DueTimer,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let Some(mut entity) = app.store.tracked::<T>(id).await? else {
        app.store.delete_key(&timer.key).await?;
        return Ok(false);
    };
    let t = match lifecycle::step(table, entity.state(), action, Actor::System, &entity.facts(now)) {
        Ok(t) => t,
        // Not due yet (a clock ahead of the deadline): keep the timer for a later sweep.
        Err(Refusal::Guard(_)) => return Ok(false),
        // The state moved on (accepted, declined…): the timer dies with it.
        Err(_) => {
            app.store.delete_key(&timer.key).await?;
            return Ok(false);
        }
    };
    let mut commit = app.store.begin();
    let step = Step::of(t, Actor::System, None, json!({}));
    record(&mut commit, &mut entity, step, now)?;
    commit.delete(&timer.key)?;
    app.commit(commit).await?;
    Ok(true)
}
