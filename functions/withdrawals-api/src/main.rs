//! Boots the function: logs, config and clients once per cold start, then serves.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    peyman::adapters::telemetry::init();
    let app = peyman::flows::App::from_env().await?;
    lambda_http::run(lambda_http::service_fn(|request| withdrawals_api::handle(&app, request))).await
}
