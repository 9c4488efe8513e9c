//! Boots the function: logs, config and clients once per cold start, then serves. It
//! cannot verify anything without the signing secret, so it refuses to start without it.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    peyman::adapters::telemetry::init();
    peyman::adapters::config::require_for_stripe(&["STRIPE_WEBHOOK_SECRET", "STRIPE_SECRET_KEY"])?;
    let app = peyman::flows::App::from_env().await?;
    lambda_http::run(lambda_http::service_fn(|request| payments_webhook::handle(&app, request))).await
}
