//! Seller settings and levels over HTTP.

use peyman::adapters::dynamo::keys;
use peyman_e2e::*;

#[tokio::test]
async fn a_new_seller_has_custom_projects_off_at_level_new() {
    let api = Api::default();
    let seller = user("seller");
    let r = api.get("/v1/me/seller-settings", &token(&seller)).await;
    let body = r.ok(200);
    assert_eq!(body["user_id"], seller);
    assert_eq!(body["custom_projects_enabled"], false);
    assert_eq!(body["level"], "new");
    assert_eq!(
        body["level_limits"],
        json!({ "max_price": { "amount": 50_000_000, "currency": "IRR" }, "max_delivery_days": 30 })
    );
}

#[tokio::test]
async fn a_seller_enables_custom_projects_and_reads_them_back() {
    let api = Api::default();
    let seller = user("seller");
    let t = token(&seller);
    api.put("/v1/me/seller-settings", &t, json!({ "custom_projects_enabled": true })).await.ok(200);
    assert_eq!(api.get("/v1/me/seller-settings", &t).await.ok(200)["custom_projects_enabled"], true);
    api.put("/v1/me/seller-settings", &t, json!({ "custom_projects_enabled": false })).await.ok(200);
    assert_eq!(api.get("/v1/me/seller-settings", &t).await.ok(200)["custom_projects_enabled"], false);
}

#[tokio::test]
async fn the_level_is_read_only_for_the_seller() {
    let api = Api::default();
    let aws = Aws::connect().await;
    let seller = user("seller");
    let r = api
        .put(
            "/v1/me/seller-settings",
            &token(&seller),
            json!({ "custom_projects_enabled": true, "level": "top_rated" }),
        )
        .await;
    assert_eq!(r.problem(422, "read_only_field")["field"], "level");
    assert!(aws.partition(&keys::seller_settings(&seller).pk).await.is_empty(), "nothing stored");
}

#[tokio::test]
async fn support_sets_a_level_and_the_limits_follow() {
    let api = Api::default();
    let seller = user("seller");
    let agent = user("agent");
    let r = api
        .put(&format!("/v1/support/sellers/{seller}/level"), &support_token(&agent), json!({ "level": "top_rated" }))
        .await;
    assert_eq!(r.ok(200)["level"], "top_rated");
    let body = api.get("/v1/me/seller-settings", &token(&seller)).await.ok(200).clone();
    assert_eq!(body["level"], "top_rated");
    assert_eq!(body["level_limits"], json!({ "max_price": null, "max_delivery_days": 180 }));
    // The seller's own switch is untouched by support and vice versa.
    assert_eq!(body["custom_projects_enabled"], false);
    api.put("/v1/me/seller-settings", &token(&seller), json!({ "custom_projects_enabled": true })).await.ok(200);
    assert_eq!(api.get("/v1/me/seller-settings", &token(&seller)).await.ok(200)["level"], "top_rated");
}

#[tokio::test]
async fn only_support_sets_levels_and_never_their_own() {
    let api = Api::default();
    let aws = Aws::connect().await;
    let seller = user("seller");
    let path = format!("/v1/support/sellers/{seller}/level");
    api.put(&path, &token(&seller), json!({ "level": "top_rated" })).await.problem(403, "support_only");
    api.put(&path, &token(&user("other")), json!({ "level": "level_two" })).await.problem(403, "support_only");
    // A support user who is the seller may not set their own level (separation of duties).
    api.put(&path, &support_token(&seller), json!({ "level": "top_rated" })).await.problem(403, "conflict_of_interest");
    assert_eq!(api.send("PUT", &path, None, Some(r#"{"level":"top_rated"}"#), &[]).await.status, 401);
    assert!(aws.partition(&keys::seller_settings(&seller).pk).await.is_empty(), "nothing stored");
}

#[tokio::test]
async fn bad_settings_input_is_refused_and_changes_nothing() {
    let api = Api::default();
    let aws = Aws::connect().await;
    let seller = user("seller");
    let t = token(&seller);
    let cases: &[(&str, u16, &str, Option<&str>)] = &[
        ("{", 400, "malformed_json", None),
        ("", 400, "malformed_json", None),
        ("[]", 422, "invalid_type", Some("body")),
        (r#"{"custom_projects_enabled":"yes"}"#, 422, "invalid_type", Some("custom_projects_enabled")),
        (r#"{}"#, 422, "missing_field", Some("custom_projects_enabled")),
        (r#"{"custom_projects_enabled":true,"colour":"red"}"#, 422, "unknown_field", Some("colour")),
    ];
    for (body, status, code, field) in cases {
        let r = api.send("PUT", "/v1/me/seller-settings", Some(&t), Some(body), &[]).await;
        let problem = r.problem(*status, code);
        assert_eq!(problem["field"].as_str(), *field, "{body}");
    }
    let agent = support_token(&user("agent"));
    let r = api.put(&format!("/v1/support/sellers/{seller}/level"), &agent, json!({ "level": "legend" })).await;
    assert_eq!(r.problem(422, "invalid_value")["field"], "level");
    let r = api.put("/v1/support/sellers/bad%23id/level", &agent, json!({ "level": "new" })).await;
    assert_eq!(r.problem(400, "invalid_id")["field"], "user_id");
    assert!(aws.partition(&keys::seller_settings(&seller).pk).await.is_empty(), "nothing stored");
}
