//! The template's functions, by logical id, as the same crates that deploy. A function
//! in the template that is missing here stops the gateway at start.

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
    "PaymentsWebhookFunction",
];
pub const SQS: &[&str] = &["UploadCheckerFunction", "FollowUpsFunction", "ExportBuilderFunction"];
pub const SCHEDULED: &[&str] = &["SweeperFunction"];

pub fn is_known(function: &str) -> bool {
    HTTP.contains(&function) || SQS.contains(&function) || SCHEDULED.contains(&function)
}

pub async fn invoke_http(app: &App, function: &str, request: Request) -> Result<Response<Body>, Error> {
    match function {
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
        "PaymentsWebhookFunction" => payments_webhook::handle(app, request).await,
        other => Err(format!("{other} is not an HTTP function").into()),
    }
}

pub async fn invoke_sqs(app: &App, function: &str, event: SqsEvent) -> Result<SqsBatchResponse, Error> {
    match function {
        "UploadCheckerFunction" => upload_checker::handle(app, event).await,
        "FollowUpsFunction" => followups::handle(app, event).await,
        "ExportBuilderFunction" => export_builder::handle(app, event).await,
        other => Err(format!("{other} is not an SQS function").into()),
    }
}

/// Invokes a scheduled function with an EventBridge "Scheduled Event".
pub async fn invoke_schedule(app: &App, function: &str, event: serde_json::Value) -> Result<(), Error> {
    match function {
        "SweeperFunction" => sweeper::handle(app, event).await.map(|_| ()),
        other => Err(format!("{other} is not a scheduled function").into()),
    }
}
