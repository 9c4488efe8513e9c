//! The payment secrets live in Secrets Manager (moto locally), and each function reads
//! only its own, under its own IAM user: what the gateway's functions read at init is in
//! moto's record of authorizations, and the webhook's user is refused the Stripe API key.

use serde_json::Value;

/// moto's record of authorizations: `[principal, action, resource, allowed, denied]`.
async fn calls() -> Vec<(String, String, String, u64, u64)> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("the stack's endpoint");
    let all: Vec<Value> = reqwest::get(format!("{endpoint}/_peyman/calls")).await.unwrap().json().await.unwrap();
    all.iter()
        .map(|c| {
            let text = |i: usize| c[i].as_str().unwrap().to_owned();
            (text(0), text(1), text(2), c[3].as_u64().unwrap(), c[4].as_u64().unwrap())
        })
        .collect()
}

/// The secrets `function` read from Secrets Manager at init (their resource names).
fn secrets_read(calls: &[(String, String, String, u64, u64)], function: &str) -> Vec<String> {
    let principal = format!("peyman-local-{function}");
    let mut read: Vec<String> = calls
        .iter()
        .filter(|(who, action, _, allowed, _)| {
            *who == principal && action == "secretsmanager:GetSecretValue" && *allowed > 0
        })
        .map(|(_, _, arn, _, _)| arn.rsplit(':').next().unwrap().rsplit_once('-').unwrap().0.to_owned())
        .collect();
    read.sort();
    read.dedup();
    read
}

#[tokio::test]
async fn each_function_reads_its_own_secrets_at_init_and_no_other() {
    let calls = calls().await;
    assert_eq!(secrets_read(&calls, "PaymentsWebhookFunction"), ["peyman-local-stripewebhooksecretsecret"]);
    assert_eq!(secrets_read(&calls, "OfferDecisionsFunction"), ["peyman-local-stripesecretkeysecret"]);
    assert_eq!(
        secrets_read(&calls, "FollowUpsFunction"),
        ["peyman-local-stripesecretkeysecret", "peyman-local-zarinpalaccesstokensecret"]
    );
    assert!(secrets_read(&calls, "OrdersApiFunction").is_empty(), "a function without secrets reads none");
    let refused: Vec<_> = calls
        .iter()
        .filter(|(who, action, _, _, denied)| {
            who.ends_with("Function") && action.starts_with("secretsmanager:") && *denied > 0
        })
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
}

/// A key of a probe: an IAM user given exactly the webhook's inline policies, made by the
/// administrator (boto3 in moto's venv). Its refusals are the probe's, not a function's,
/// so `make calls` still sees every function stay within its policy.
fn webhook_credentials() -> aws_sdk_secretsmanager::config::Credentials {
    let python = format!("{}/../.venv/moto/bin/python", env!("CARGO_MANIFEST_DIR"));
    let script = r#"
import boto3, json, os, uuid
iam = boto3.client("iam", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
webhook, probe = "peyman-local-PaymentsWebhookFunction", f"webhook-probe-{uuid.uuid4().hex[:8]}"
iam.create_user(UserName=probe)
for name in iam.list_user_policies(UserName=webhook)["PolicyNames"]:
    document = iam.get_user_policy(UserName=webhook, PolicyName=name)["PolicyDocument"]
    document = document if isinstance(document, str) else json.dumps(document)
    iam.put_user_policy(UserName=probe, PolicyName=name, PolicyDocument=document)
key = iam.create_access_key(UserName=probe)["AccessKey"]
print(json.dumps([key["AccessKeyId"], key["SecretAccessKey"]]))
"#;
    let out = std::process::Command::new(python).args(["-c", script]).output().expect("moto's python");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key: (String, String) = serde_json::from_slice(&out.stdout).unwrap();
    aws_sdk_secretsmanager::config::Credentials::new(key.0, key.1, None, None, "webhook probe")
}

#[tokio::test]
async fn the_webhook_may_read_its_signing_secret_and_not_the_stripe_key() {
    let sdk = peyman::adapters::sdk::config().await.into_builder();
    let sdk =
        sdk.credentials_provider(aws_sdk_secretsmanager::config::SharedCredentialsProvider::new(webhook_credentials()));
    let webhook = aws_sdk_secretsmanager::Client::new(&sdk.build());
    let own = webhook.get_secret_value().secret_id("peyman-local-stripewebhooksecretsecret").send().await;
    assert!(own.expect("its own secret").secret_string().unwrap().starts_with("{\"value\":\"whsec_"));
    let other = webhook.get_secret_value().secret_id("peyman-local-stripesecretkeysecret").send().await.unwrap_err();
    let status = other.raw_response().map(|r| r.status().as_u16());
    assert!(
        matches!(status, Some(400 | 403)),
        "refused: {:?}",
        aws_sdk_secretsmanager::error::DisplayErrorContext(&other)
    );
    assert!(format!("{}", aws_sdk_secretsmanager::error::DisplayErrorContext(&other)).contains("AccessDenied"));
}
