//! `Schedule` events, fired as EventBridge would fire them: a "Scheduled Event" every
//! period. `LOCAL_SCHEDULE_SECONDS` fires every schedule that often instead, so a rule of
//! `rate(1 hour)` can be watched in seconds; cron rules need it (default 60 s).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::functions;
use crate::server::Gateway;
use crate::template::{ScheduleSource, rate_period};

pub fn period(source: &ScheduleSource) -> Duration {
    let local = std::env::var("LOCAL_SCHEDULE_SECONDS").ok().and_then(|s| s.parse().ok()).map(Duration::from_secs);
    local.or_else(|| rate_period(&source.expression)).unwrap_or(Duration::from_secs(60))
}

pub async fn run(gateway: Arc<Gateway>, source: ScheduleSource, region: String) {
    let mut ticks = tokio::time::interval(period(&source));
    ticks.tick().await; // the first tick is immediate; EventBridge waits a period
    loop {
        ticks.tick().await;
        let event = json!({
            "version": "0",
            "id": ulid::Ulid::new().to_string(),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": gateway.account,
            "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "region": region,
            "resources": [format!("arn:aws:events:{region}:{}:rule/{}-{}", gateway.account, source.function, source.event)],
            "detail": {},
        });
        if let Err(e) = functions::invoke_schedule(gateway.app(&source.function), &source.function, event).await {
            tracing::error!(function = source.function, error = %e, "scheduled invocation failed");
        }
    }
}
