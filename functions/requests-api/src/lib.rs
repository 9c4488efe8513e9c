//! Custom-project requests: a buyer asks a seller who takes custom projects; the seller
//! declines (or answers with an offer, in offers-api); the buyer withdraws.

use lambda_http::{Body, Error, Request, Response};
use peyman::error::ApiError;
use peyman::gig::GigStatus;
use peyman::http::{ApiRequest, Reply, serve, unknown_route};
use peyman::lifecycle::{Actor, REQUEST, REQUEST_START, RequestAction};
use peyman::request::{NewRequest, Reason, Request as CustomRequest};
use peyman::tracked::{self, Step, Tracked, act, record};
use peyman::{App, timeline, upload};
use serde_json::json;

pub async fn handle(app: &App, request: Request) -> Result<Response<Body>, Error> {
    Ok(serve(app, request, route).await)
}

async fn route(app: &App, req: &ApiRequest) -> Result<Reply, ApiError> {
    let me = &req.caller;
    let policy = &app.config.policy;
    match req.route.as_str() {
        "POST /v1/custom-project-requests" => {
            let new: NewRequest = req.json()?;
            new.check(policy, &me.user_id)?;
            if !app.store.seller_settings(&new.seller_id).await?.custom_projects_enabled {
                return Err(ApiError::invalid(
                    "custom_projects_disabled",
                    "seller_id",
                    "this seller does not take custom projects",
                ));
            }
            if let Some(gig_id) = &new.gig_id {
                let gig = app.store.gig(gig_id).await?;
                let gig = gig
                    .filter(|g| g.seller_id == new.seller_id)
                    .ok_or_else(|| ApiError::invalid("gig_not_found", "gig_id", "the seller has no such gig"))?;
                if gig.status != GigStatus::Active {
                    return Err(ApiError::invalid("gig_not_active", "gig_id", "this gig is paused"));
                }
            }
            let ids: Vec<&str> =
                new.attachment_upload_ids.iter().chain(new.voice_note_upload_id.iter()).map(String::as_str).collect();
            let uploads = app.store.uploads(&ids).await?;
            upload::check_references(
                &uploads,
                &me.user_id,
                &new.attachment_upload_ids,
                new.voice_note_upload_id.as_ref(),
                true,
            )?;

            let mut request = CustomRequest {
                request_id: ulid::Ulid::new().to_string(),
                buyer_id: me.user_id.clone(),
                seller_id: new.seller_id,
                gig_id: new.gig_id,
                description: new.description,
                desired_price: new.desired_price,
                desired_delivery_days: new.desired_delivery_days,
                attachment_upload_ids: new.attachment_upload_ids,
                voice_note_upload_id: new.voice_note_upload_id,
                state: REQUEST_START.state,
                decline_reason: None,
                offer_id: None,
                expires_at: req.now + policy.request_answer_window,
                created_at: req.now,
                updated_at: req.now,
                version: 0,
                head_hash: timeline::GENESIS.into(),
            };
            let mut commit = app.store.begin();
            let step = Step::start(&REQUEST_START, Actor::Buyer, Some(&me.user_id), json!({}));
            record(&mut commit, &mut request, step, req.now)?;
            // A request is prior communication, and its files are the seller's to read.
            commit.contact(&request.buyer_id, &request.seller_id, "REQUEST", &request.request_id)?;
            for upload_id in request.upload_ids() {
                commit.share_upload(upload_id, &request.seller_id)?;
            }
            app.commit(commit).await?;
            Reply::created(request.view(Some(Actor::Buyer), req.now))
        }
        "GET /v1/custom-project-requests" => tracked::list(app, req, CustomRequest::view).await,
        "GET /v1/custom-project-requests/{request_id}" => {
            tracked::with_history(app, req, &req.path_id("request_id")?, CustomRequest::view).await
        }
        "POST /v1/custom-project-requests/{request_id}/decline" => {
            let id = req.path_id("request_id")?;
            let reason: Reason = req.json()?;
            reason.check(policy)?;
            let data = json!({ "reason": reason.reason });
            let request = act::<CustomRequest, _>(app, REQUEST, &id, RequestAction::Decline, req, data, |r| {
                r.decline_reason = Some(reason.reason.clone())
            })
            .await?;
            Reply::ok(request.view(request.role_of(me), req.now))
        }
        "POST /v1/custom-project-requests/{request_id}/withdraw" => {
            let id = req.path_id("request_id")?;
            req.no_body()?;
            let request =
                act::<CustomRequest, _>(app, REQUEST, &id, RequestAction::Withdraw, req, json!({}), |_| {}).await?;
            Reply::ok(request.view(request.role_of(me), req.now))
        }
        _ => unknown_route(req),
    }
}
