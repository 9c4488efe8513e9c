//! Boots the function: logs, config and clients once per cold start, then serves.

use peyman::adapters::config::{Config, StripeSecret};
#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    peyman::adapters::telemetry::init();
    let sdk = peyman::adapters::sdk::config().await;
    let config = Config::load(&sdk).await?;
    config.require_for_stripe(&[StripeSecret::Key])?;
    let app = peyman::flows::App::with_sdk(config, &sdk).await;
    lambda_http::run(lambda_http::service_fn(|request| offer_decisions::handle(&app, request))).await
}
