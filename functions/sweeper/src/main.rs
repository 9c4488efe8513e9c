//! Boots the function: logs, config and clients once per cold start, then serves.

use lambda_runtime::LambdaEvent;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    peyman::adapters::telemetry::init();
    // A refund's retry timer calls the provider.
    peyman::adapters::config::require_for_stripe(&["STRIPE_SECRET_KEY"])?;
    let app = peyman::flows::App::from_env().await?;
    lambda_runtime::run(lambda_runtime::service_fn(|event: LambdaEvent<serde_json::Value>| {
        sweeper::handle(&app, event.payload)
    }))
    .await
}
