//! Withdrawals (issue 26): a seller withdraws available IRR to a Sheba account and reads
//! their withdrawals; support works the queue, batches withdrawals into the bank's
//! transfer file, and marks each paid (with the bank's reference) or returns it.

use lambda_http::{Body, Error, Request, Response};
use peyman::flows::App;
use peyman::flows::withdrawals::{self, Decision};
use peyman::shell::answer::Reply;
use peyman::shell::http::{ApiRequest, serve, unknown_route, with_history};
use peyman_rules::error::ApiError;
use peyman_rules::withdrawal::Withdrawal;
use serde::Deserialize;
use serde_json::json;

pub async fn handle(app: &App, request: Request) -> Result<Response<Body>, Error> {
    Ok(serve(app, request, route).await)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBatch {
    limit: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BankPaid {
    bank_reference: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Returned {
    reason: String,
}

async fn route(app: &App, req: &ApiRequest) -> Result<Reply, ApiError> {
    let (me, now, cursor) = (&req.caller, req.now, req.query("cursor"));
    match req.route.as_str() {
        "POST /v1/me/withdrawals" => Reply::created(withdrawals::request(app, me, req.json()?, now).await?.view()),
        "GET /v1/me/withdrawals" => {
            let mine = withdrawals::mine(app, me, req.limit(20, 100)?, cursor).await?;
            page(&mine.items, mine.next_cursor)
        }
        "GET /v1/me/withdrawals/{withdrawal_id}" => {
            with_history::<Withdrawal>(app, req, &req.path_id("withdrawal_id")?, |w, _, _| w.view()).await
        }
        "GET /v1/support/withdrawals" => {
            // Support only, before anything of the request is read.
            me.require_support("works the withdrawal queue")?;
            let queue = withdrawals::queue(app, me, req.state()?, req.limit(20, 100)?, cursor).await?;
            page(&queue.items, queue.next_cursor)
        }
        "POST /v1/support/withdrawal-batches" => {
            // No body is the default batch.
            let NewBatch { limit } = if req.no_body().is_ok() { NewBatch::default() } else { req.json()? };
            Reply::created(withdrawals::batch(app, me, limit, now).await?.view())
        }
        "GET /v1/support/withdrawal-batches/{batch_id}" => {
            let batch = withdrawals::batch_file(app, me, &req.path_id("batch_id")?).await?;
            Reply::file("text/csv; charset=utf-8", batch.csv()?)
        }
        "POST /v1/support/withdrawals/{withdrawal_id}/paid" => {
            let BankPaid { bank_reference } = req.json()?;
            let paid = Decision::Paid { bank_reference: &bank_reference };
            Reply::ok(withdrawals::decide(app, me, &req.path_id("withdrawal_id")?, paid, now).await?.view())
        }
        "POST /v1/support/withdrawals/{withdrawal_id}/return" => {
            let Returned { reason } = req.json()?;
            let returned = Decision::Returned { reason: &reason };
            Reply::ok(withdrawals::decide(app, me, &req.path_id("withdrawal_id")?, returned, now).await?.view())
        }
        _ => unknown_route(req),
    }
}

fn page(items: &[Withdrawal], next_cursor: Option<String>) -> Result<Reply, ApiError> {
    let items: Vec<_> = items.iter().map(Withdrawal::view).collect();
    Reply::ok(json!({ "items": items, "next_cursor": next_cursor }))
}
