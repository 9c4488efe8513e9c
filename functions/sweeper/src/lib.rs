//! The scheduled sweep (`peyman::flows::timers`): re-sends what the outbox still holds
//! and fires due timers; where the deployment pays through Zarinpal, it also verifies
//! our paid authorities whose payer never came back (`peyman::flows::zarinpal`). The
//! time of the sweep is the scheduled event's own `time`.

use chrono::{DateTime, Utc};
use lambda_runtime::Error;
use peyman::flows::{App, reconciliation, timers, zarinpal};
use serde_json::Value;

pub async fn handle(app: &App, event: Value) -> Result<Value, Error> {
    let now =
        event["time"].as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map_or_else(Utc::now, |t| t.to_utc());
    let mut swept = serde_json::to_value(timers::sweep(app, now).await?)?;
    // A gateway that cannot be reached fails only this part; the next sweep tries again.
    swept["reconciled"] = match zarinpal::reconcile(app, now).await {
        Ok(reconciled) => serde_json::to_value(reconciled)?,
        Err(e) => {
            tracing::warn!(error = %e, "reconciliation with the gateway failed");
            Value::Null
        }
    };
    // Yesterday's books against the provider's, once a day.
    swept["reconciliation"] = match reconciliation::daily(app, now).await {
        Ok(report) => serde_json::to_value(report.map(|r| (r.day, r.checked, r.mismatched)))?,
        Err(e) => {
            tracing::warn!(error = %e, "reconciliation with the provider's records failed; the next sweep tries again");
            Value::Null
        }
    };
    Ok(swept)
}
