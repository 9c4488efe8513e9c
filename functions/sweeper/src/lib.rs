//! The scheduled sweep (`peyman::flows::timers`): re-sends what the outbox still holds
//! and fires due timers. The time of the sweep is the scheduled event's own `time`.

use chrono::{DateTime, Utc};
use lambda_runtime::Error;
use peyman::flows::{App, timers};
use serde_json::Value;

pub async fn handle(app: &App, event: Value) -> Result<Value, Error> {
    let now =
        event["time"].as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map_or_else(Utc::now, |t| t.to_utc());
    Ok(serde_json::to_value(timers::sweep(app, now).await?)?)
}
