//! Boots the function: logs, config and clients once per cold start, then serves. It
//! cannot verify anything without the signing secret, so it refuses to start without it;
//! it holds no Stripe API key (it never calls Stripe: what it decides to refund or cancel
//! goes out through the follow-ups).

use peyman::adapters::config::{Config, StripeSecret};
#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    peyman::adapters::telemetry::init();
    let sdk = peyman::adapters::sdk::config().await;
    let config = Config::load(&sdk).await?;
    config.require_for_stripe(&[StripeSecret::WebhookSecret])?;
    let app = peyman::flows::App::with_sdk(config, &sdk).await;
    lambda_http::run(lambda_http::service_fn(|request| payments_webhook::handle(&app, request))).await
}
