//! Boots the function: logs, config and clients once per cold start, then serves.

use lambda_runtime::LambdaEvent;
use peyman::adapters::config::{Config, StripeSecret};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    peyman::adapters::telemetry::init();
    let sdk = peyman::adapters::sdk::config().await;
    let config = Config::load(&sdk).await?;
    // A refund's retry timer calls the provider.
    config.require_for_stripe(&[StripeSecret::Key])?;
    let app = peyman::flows::App::with_sdk(config, &sdk).await;
    lambda_runtime::run(lambda_runtime::service_fn(|event: LambdaEvent<serde_json::Value>| {
        sweeper::handle(&app, event.payload)
    }))
    .await
}
