//! The template's functions, by logical id, as the same crates that deploy. A function
//! in the template that is missing here stops the gateway at start.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_http::{Body, Request, Response};
use peyman::flows::App;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

pub const HTTP: &[&str] = &[
    "SellersApiFunction",
    "GigsApiFunction",
    "NotificationsApiFunction",
    "MessagesApiFunction",
    "UploadsApiFunction",
    "RequestsApiFunction",
    "OffersApiFunction",
    "OfferDecisionsFunction",
    "OrdersApiFunction",
    "OrderWorkFunction",
    "ReviewsApiFunction",
    "DisputesApiFunction",
    "SupportPaymentsFunction",
    "WithdrawalsApiFunction",
    "PaymentsWebhookFunction",
];
pub const SQS: &[&str] = &["UploadCheckerFunction", "FollowUpsFunction", "ExportBuilderFunction"];
pub const SCHEDULED: &[&str] = &["SweeperFunction"];
pub const STREAM: &[&str] = &["RelayFunction"];

/// Invocations since the gateway started, by kind (HTTP, SQS, scheduled, stream), and the time
/// they took, for the capacity meter (`GET /_local/meter`): in AWS each is a Lambda
/// request, billed with its duration.
static INVOCATIONS: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];
static INVOKED_MICROS: AtomicU64 = AtomicU64::new(0);

/// `[http, sqs, scheduled, stream]` invocations so far, and their total duration in
/// microseconds.
pub fn invocations() -> ([u64; 4], u64) {
    (INVOCATIONS.each_ref().map(|n| n.load(Ordering::Relaxed)), INVOKED_MICROS.load(Ordering::Relaxed))
}

fn invoked(kind: usize, started: Instant) {
    INVOCATIONS[kind].fetch_add(1, Ordering::Relaxed);
    INVOKED_MICROS.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
}

pub fn is_known(function: &str) -> bool {
    [HTTP, SQS, SCHEDULED, STREAM].iter().any(|kind| kind.contains(&function))
}

pub async fn invoke_http(app: &App, function: &str, request: Request) -> Result<Response<Body>, Error> {
    let started = Instant::now();
    let answer = match function {
        "SellersApiFunction" => sellers_api::handle(app, request).await,
        "GigsApiFunction" => gigs_api::handle(app, request).await,
        "NotificationsApiFunction" => notifications_api::handle(app, request).await,
        "MessagesApiFunction" => messages_api::handle(app, request).await,
        "UploadsApiFunction" => uploads_api::handle(app, request).await,
        "RequestsApiFunction" => requests_api::handle(app, request).await,
        "OffersApiFunction" => offers_api::handle(app, request).await,
        "OfferDecisionsFunction" => offer_decisions::handle(app, request).await,
        "OrdersApiFunction" => orders_api::handle(app, request).await,
        "OrderWorkFunction" => order_work::handle(app, request).await,
        "ReviewsApiFunction" => reviews_api::handle(app, request).await,
        "DisputesApiFunction" => disputes_api::handle(app, request).await,
        "SupportPaymentsFunction" => support_payments::handle(app, request).await,
        "WithdrawalsApiFunction" => withdrawals_api::handle(app, request).await,
        "PaymentsWebhookFunction" => payments_webhook::handle(app, request).await,
        other => Err(format!("{other} is not an HTTP function").into()),
    };
    invoked(0, started);
    answer
}

pub async fn invoke_sqs(app: &App, function: &str, event: SqsEvent) -> Result<SqsBatchResponse, Error> {
    let started = Instant::now();
    let answer = match function {
        "UploadCheckerFunction" => upload_checker::handle(app, event).await,
        "FollowUpsFunction" => followups::handle(app, event).await,
        "ExportBuilderFunction" => export_builder::handle(app, event).await,
        other => Err(format!("{other} is not an SQS function").into()),
    };
    invoked(1, started);
    answer
}

/// Invokes a scheduled function with an EventBridge "Scheduled Event".
pub async fn invoke_schedule(app: &App, function: &str, event: serde_json::Value) -> Result<(), Error> {
    let started = Instant::now();
    let answer = match function {
        "SweeperFunction" => sweeper::handle(app, event).await.map(|_| ()),
        other => Err(format!("{other} is not a scheduled function").into()),
    };
    invoked(2, started);
    answer
}

/// Invokes a stream-fed function with a batch of DynamoDB stream records.
pub async fn invoke_stream(
    app: &App,
    function: &str,
    event: aws_lambda_events::dynamodb::Event,
) -> Result<aws_lambda_events::streams::DynamoDbEventResponse, Error> {
    let started = Instant::now();
    let answer = match function {
        "RelayFunction" => relay::handle(app, event).await,
        other => Err(format!("{other} is not a stream function").into()),
    };
    invoked(3, started);
    answer
}
