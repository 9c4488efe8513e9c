//! Boots the function: logs, config and clients once per cold start, then serves.

use aws_lambda_events::dynamodb::Event;
use lambda_runtime::LambdaEvent;
use peyman::adapters::config::Config;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    peyman::adapters::telemetry::init();
    let sdk = peyman::adapters::sdk::config().await;
    let app = peyman::flows::App::with_sdk(Config::load(&sdk).await?, &sdk).await;
    lambda_runtime::run(lambda_runtime::service_fn(|event: LambdaEvent<Event>| relay::handle(&app, event.payload)))
        .await
}
