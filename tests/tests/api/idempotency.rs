//! `Idempotency-Key` on mutating routes: a retry replays, a changed body is refused.

use peyman_e2e::*;

async fn gig_count(aws: &Aws, seller: &str) -> usize {
    aws.items_where("seller_id", seller).await.len()
}

#[tokio::test]
async fn the_same_key_and_body_gives_the_first_response_once() {
    let api = Api::default();
    let aws = Aws::connect().await;
    let seller = user("seller");
    let t = token(&seller);
    let key = ulid::Ulid::new().to_string();
    let body = r#"{"title":"طراحی بنر"}"#;
    let first = api.send("POST", "/v1/gigs", Some(&t), Some(body), &[("Idempotency-Key", &key)]).await;
    first.ok(201);
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = api.send("POST", "/v1/gigs", Some(&t), Some(body), &[("Idempotency-Key", &key)]).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body, first.body, "the first response, not a second gig");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(gig_count(&aws, &seller).await, 1);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused() {
    let api = Api::default();
    let aws = Aws::connect().await;
    let seller = user("seller");
    let t = token(&seller);
    let key = ulid::Ulid::new().to_string();
    api.send("POST", "/v1/gigs", Some(&t), Some(r#"{"title":"one"}"#), &[("Idempotency-Key", &key)]).await.ok(201);
    let other = api.send("POST", "/v1/gigs", Some(&t), Some(r#"{"title":"two"}"#), &[("Idempotency-Key", &key)]).await;
    assert_eq!(other.problem(422, "idempotency_key_reused")["field"], "Idempotency-Key");
    assert_eq!(gig_count(&aws, &seller).await, 1);
}

#[tokio::test]
async fn keys_belong_to_their_caller() {
    let api = Api::default();
    let key = ulid::Ulid::new().to_string();
    let body = r#"{"title":"same"}"#;
    let a = api.send("POST", "/v1/gigs", Some(&token(&user("a"))), Some(body), &[("Idempotency-Key", &key)]).await;
    let b = api.send("POST", "/v1/gigs", Some(&token(&user("b"))), Some(body), &[("Idempotency-Key", &key)]).await;
    assert_ne!(a.ok(201)["gig_id"], b.ok(201)["gig_id"], "another user's key is not a replay");
}

#[tokio::test]
async fn concurrent_retries_create_one_gig() {
    let api = Api::default();
    let aws = Aws::connect().await;
    let seller = user("seller");
    let t = token(&seller);
    let key = ulid::Ulid::new().to_string();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (api, t, key) = (api.clone(), t.clone(), key.clone());
            tokio::spawn(async move {
                api.send("POST", "/v1/gigs", Some(&t), Some(r#"{"title":"race"}"#), &[("Idempotency-Key", &key)]).await
            })
        })
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    for task in tasks {
        let r = task.await.unwrap();
        match r.status {
            201 => {
                ids.insert(r.body["gig_id"].as_str().unwrap().to_owned());
            }
            409 => {
                r.problem(409, "idempotency_in_progress");
            }
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    assert_eq!(ids.len(), 1, "every success is the same gig");
    assert_eq!(gig_count(&aws, &seller).await, 1);
}

#[tokio::test]
async fn a_refusal_is_replayed_too_and_bad_keys_are_refused() {
    let api = Api::default();
    let t = token(&user("seller"));
    let key = ulid::Ulid::new().to_string();
    let first = api.send("POST", "/v1/gigs", Some(&t), Some(r#"{"title":""}"#), &[("Idempotency-Key", &key)]).await;
    first.problem(422, "empty");
    let again = api.send("POST", "/v1/gigs", Some(&t), Some(r#"{"title":""}"#), &[("Idempotency-Key", &key)]).await;
    again.problem(422, "empty");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let long = "k".repeat(256);
    api.send("POST", "/v1/gigs", Some(&t), Some(r#"{"title":"x"}"#), &[("Idempotency-Key", &long)])
        .await
        .problem(400, "invalid_idempotency_key");
}

/// The record's life cycle in the table, driven by `now` (time is an input).
mod record {
    use chrono::{Duration, Utc};
    use peyman::adapters::dynamo::idempotency::IdempotencyClaim;
    use peyman_e2e::*;

    #[tokio::test]
    async fn completed_records_replay_until_they_expire() {
        let store = Aws::connect().await.app().await.store;
        let (who, key) = (user("u"), ulid::Ulid::new().to_string());
        let t0 = Utc::now();
        let (live, expires) = (t0 + Duration::seconds(60), t0 + Duration::hours(24));
        assert_eq!(
            store.claim_idempotency(&who, &key, "h1", t0, live, expires).await.unwrap(),
            IdempotencyClaim::Acquired
        );
        store.complete_idempotency(&who, &key, "h1", (201, "application/json", "{\"a\":1}"), expires).await.unwrap();
        let replay = store.claim_idempotency(&who, &key, "h1", t0 + Duration::hours(23), live, expires).await.unwrap();
        assert_eq!(
            replay,
            IdempotencyClaim::Completed {
                status: 201,
                content_type: "application/json".into(),
                body: "{\"a\":1}".into()
            }
        );
        let reused = store.claim_idempotency(&who, &key, "h2", t0 + Duration::hours(23), live, expires).await.unwrap();
        assert_eq!(reused, IdempotencyClaim::PayloadMismatch);
        // Past its expiry the key is free again, for any payload.
        let later = t0 + Duration::hours(25);
        let again = store
            .claim_idempotency(&who, &key, "h2", later, later + Duration::seconds(60), later + Duration::hours(24))
            .await;
        assert_eq!(again.unwrap(), IdempotencyClaim::Acquired);
    }

    #[tokio::test]
    async fn an_abandoned_claim_is_taken_over_after_its_deadline() {
        let store = Aws::connect().await.app().await.store;
        let (who, key) = (user("u"), ulid::Ulid::new().to_string());
        let t0 = Utc::now();
        let (live, expires) = (t0 + Duration::seconds(60), t0 + Duration::hours(24));
        assert_eq!(
            store.claim_idempotency(&who, &key, "h", t0, live, expires).await.unwrap(),
            IdempotencyClaim::Acquired
        );
        let during = t0 + Duration::seconds(30);
        assert_eq!(
            store.claim_idempotency(&who, &key, "h", during, live, expires).await.unwrap(),
            IdempotencyClaim::InProgress
        );
        // The first process died: after the in-progress deadline a retry runs.
        let after = t0 + Duration::seconds(61);
        let taken =
            store.claim_idempotency(&who, &key, "h", after, after + Duration::seconds(60), expires).await.unwrap();
        assert_eq!(taken, IdempotencyClaim::Acquired);
    }

    #[tokio::test]
    async fn a_released_claim_runs_again() {
        let store = Aws::connect().await.app().await.store;
        let (who, key) = (user("u"), ulid::Ulid::new().to_string());
        let t0 = Utc::now();
        let (live, expires) = (t0 + Duration::seconds(60), t0 + Duration::hours(24));
        store.claim_idempotency(&who, &key, "h", t0, live, expires).await.unwrap();
        store.release_idempotency(&who, &key).await.unwrap();
        assert_eq!(
            store.claim_idempotency(&who, &key, "h", t0, live, expires).await.unwrap(),
            IdempotencyClaim::Acquired
        );
    }
}

/// Runs the idempotency flow directly against the stack's table, with work of the
/// test's own, counting how often the work runs.
async fn run_once(
    app: &peyman::flows::App,
    user_id: &str,
    key: &str,
    runs: &std::sync::atomic::AtomicUsize,
    answer: impl FnOnce() -> peyman::shell::answer::Outcome,
) -> peyman::shell::answer::Outcome {
    let hash = peyman::shell::idempotency::payload_hash("POST /v1/test", "/v1/test", b"{}");
    peyman::shell::idempotency::run(app, user_id, key, &hash, chrono::Utc::now(), async || {
        runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        answer()
    })
    .await
    .expect("the claim is stored")
}

#[tokio::test]
async fn a_transient_conflict_is_not_the_key_s_final_answer() {
    use peyman::shell::answer::{Outcome, Reply};
    use peyman_rules::error::{ApiError, Code};
    let app = Aws::connect().await.app().await;
    let (user_id, key) = (user("buyer"), ulid::Ulid::new().to_string());
    let runs = std::sync::atomic::AtomicUsize::new(0);
    for transient in [Code::ConcurrentChange, Code::IdempotencyInProgress] {
        let lost =
            run_once(&app, &user_id, &key, &runs, || Outcome::from(Err(ApiError::conflict(transient, "lost")))).await;
        assert_eq!(lost.status, 409);
    }
    // The retry runs the work, and that answer is the one kept.
    let done = run_once(&app, &user_id, &key, &runs, || Outcome::from(Reply::created(json!({ "ok": 1 })))).await;
    assert_eq!((done.status, done.replayed), (201, false));
    let replay = run_once(&app, &user_id, &key, &runs, || unreachable!("a completed key never runs again")).await;
    assert_eq!((replay.status, replay.replayed, replay.body), (201, true, done.body));
    assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 3);
    // A decided 409 is final, as any 4xx.
    let decided = ulid::Ulid::new().to_string();
    run_once(&app, &user_id, &decided, &runs, || Outcome::from(Err(ApiError::conflict(Code::OfferChanged, "x")))).await;
    let again = run_once(&app, &user_id, &decided, &runs, || unreachable!("kept")).await;
    assert_eq!((again.status, again.replayed), (409, true));
}

#[tokio::test]
async fn an_answer_that_cannot_be_stored_is_still_sent_and_the_work_never_runs_twice() {
    use peyman::shell::answer::{Outcome, Reply};
    let app = Aws::connect().await.app().await;
    let (user_id, key) = (user("buyer"), ulid::Ulid::new().to_string());
    let runs = std::sync::atomic::AtomicUsize::new(0);
    // An answer over DynamoDB's 400 KB item limit: the record cannot be completed.
    let huge = "x".repeat(500 * 1024);
    let first = run_once(&app, &user_id, &key, &runs, || Outcome::from(Reply::created(json!({ "big": huge })))).await;
    assert_eq!(first.status, 201, "the work's own answer, not a 500: {}", &first.body[..80]);
    let hash = peyman::shell::idempotency::payload_hash("POST /v1/test", "/v1/test", b"{}");
    let retry = peyman::shell::idempotency::run(&app, &user_id, &key, &hash, chrono::Utc::now(), async || {
        runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Outcome::from(Reply::created(json!({})))
    })
    .await
    .expect_err("the record is still in progress");
    assert_eq!(retry.code(), "idempotency_in_progress", "the retry is told to wait");
    assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1, "the work ran once");
}

#[tokio::test]
async fn a_replayed_accept_keeps_no_client_secret_at_rest() {
    let (api, aws) = (Api::default(), Aws::connect().await);
    let deal = Deal::new(&api).await;
    let offer_id = deal.send_offer(&api, deal.offer()).await;
    let (path, key) = (format!("/v1/offers/{offer_id}/accept"), ulid::Ulid::new().to_string());
    let t = token(&deal.buyer);
    let first = api.send("POST", &path, Some(&t), Some("{}"), &[("Idempotency-Key", &key)]).await;
    let secret = first.ok(201)["order"]["payment"]["client_secret"].as_str().expect("the buyer gets it").to_owned();
    let record = aws.partition(&format!("IDEMPOTENCY#{}#{key}", deal.buyer)).await;
    let stored = record[0]["response_body"].as_s().unwrap();
    assert!(!stored.contains(&secret), "the secret does not rest in the record");
    let replay = api.send("POST", &path, Some(&t), Some("{}"), &[("Idempotency-Key", &key)]).await;
    assert_eq!(replay.ok(201)["order"]["order_id"], first.body["order"]["order_id"]);
    assert_eq!(replay.body["order"]["payment"]["client_secret"], serde_json::Value::Null);
    // The buyer reads it from the order.
    let order_id = first.body["order"]["order_id"].as_str().unwrap();
    let order = api.get(&format!("/v1/orders/{order_id}"), &t).await;
    assert_eq!(order.ok(200)["payment"]["client_secret"], secret.as_str());
}
