//! Boots the function: logs, config and clients once per cold start, then serves.

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::LambdaEvent;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    peyman::adapters::telemetry::init();
    peyman::adapters::config::require_for_stripe(&["STRIPE_SECRET_KEY"])?;
    let app = peyman::flows::App::from_env().await?;
    lambda_runtime::run(lambda_runtime::service_fn(|event: LambdaEvent<SqsEvent>| {
        followups::handle(&app, event.payload)
    }))
    .await
}
