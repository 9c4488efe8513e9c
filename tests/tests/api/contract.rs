//! The OpenAPI document and the SAM template describe the same routes, and every
//! operation documents its problem responses.

use std::collections::BTreeSet;

use peyman_e2e::template_path;
use serde_norway::Value;

fn openapi() -> Value {
    let path = format!("{}/../infra/openapi.yaml", env!("CARGO_MANIFEST_DIR"));
    serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

const METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

fn openapi_routes(doc: &Value) -> BTreeSet<String> {
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_mapping().unwrap() {
        for method in METHODS {
            if item.get(method).is_some() {
                routes.insert(format!("{} {}", method.to_uppercase(), path.as_str().unwrap()));
            }
        }
    }
    routes
}

#[test]
fn every_template_route_is_documented_and_every_documented_route_is_deployed() {
    let template = peyman_local::local_template(&template_path()).unwrap();
    let deployed: BTreeSet<String> = template.routes().iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    let documented = openapi_routes(&openapi());
    let undocumented: Vec<_> = deployed.difference(&documented).collect();
    let undeployed: Vec<_> = documented.difference(&deployed).collect();
    assert!(
        undocumented.is_empty() && undeployed.is_empty(),
        "in the template only: {undocumented:?}; in openapi.yaml only: {undeployed:?}"
    );
}

/// Operations that take no JWT (`security: []`): the Stripe webhook, authenticated by
/// signature, and Zarinpal's callback, which trusts nothing but what the gateway verifies.
fn unauthenticated(doc: &Value) -> BTreeSet<String> {
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_mapping().unwrap() {
        for method in METHODS {
            if item
                .get(method)
                .and_then(|op| op.get("security"))
                .and_then(Value::as_sequence)
                .is_some_and(Vec::is_empty)
            {
                routes.insert(format!("{} {}", method.to_uppercase(), path.as_str().unwrap()));
            }
        }
    }
    routes
}

#[test]
fn the_same_routes_skip_the_authorizer_in_both() {
    let template = peyman_local::local_template(&template_path()).unwrap();
    let open: BTreeSet<String> =
        template.routes().iter().filter(|r| !r.authorized).map(|r| format!("{} {}", r.method, r.path)).collect();
    assert_eq!(open, unauthenticated(&openapi()));
    assert_eq!(
        open,
        BTreeSet::from([
            "GET /v1/payments/zarinpal/callback".to_owned(),
            "POST /v1/webhooks/payments/{provider}".to_owned()
        ])
    );
}

#[test]
fn every_operation_documents_problems_and_the_authorizer() {
    let doc = openapi();
    assert_eq!(doc["openapi"].as_str(), Some("3.1.0"));
    let open = unauthenticated(&doc);
    for (path, item) in doc["paths"].as_mapping().unwrap() {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let responses = op["responses"].as_mapping().unwrap();
            let codes: Vec<&str> = responses.keys().filter_map(Value::as_str).collect();
            if open.contains(&format!("{} {}", method.to_uppercase(), path.as_str().unwrap())) {
                // Signed by the provider (a bad signature is 400), or verified with it (a
                // query naming no authority is 422), and applied once instead.
                assert!(
                    codes.contains(&"400") || codes.contains(&"422"),
                    "{method} {path:?} must refuse what it cannot trust"
                );
                continue;
            }
            assert!(codes.contains(&"401"), "{method} {path:?} lacks 401");
            let takes_input =
                op.get("requestBody").is_some() || op.get("parameters").is_some() || item.get("parameters").is_some();
            if takes_input {
                assert!(
                    codes.iter().any(|c| c.starts_with('4') && *c != "401"),
                    "{method} {path:?} takes input but documents no problem response"
                );
            }
            if method != "get" {
                let params = serde_norway::to_string(&op["parameters"]).unwrap();
                assert!(params.contains("IdempotencyKey"), "{method} {path:?} does not take Idempotency-Key");
            }
        }
    }
}

#[test]
fn a_call_to_the_payment_provider_ends_before_the_function_that_makes_it() {
    let path = template_path();
    let template: Value = serde_norway::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let default = template["Globals"]["Function"]["Timeout"].as_u64().expect("a default timeout");
    let mut callers = 0;
    for (id, resource) in template["Resources"].as_mapping().unwrap() {
        let properties = &resource["Properties"];
        let calls_stripe = properties["Environment"]["Variables"].get("STRIPE_SECRET_KEY_ARN").is_some();
        if resource["Type"] == "AWS::Serverless::Function" && calls_stripe {
            callers += 1;
            let timeout = properties.get("Timeout").and_then(Value::as_u64).unwrap_or(default);
            assert!(
                peyman::adapters::provider_http::CALL_TIMEOUT.as_secs() < timeout,
                "{id:?}: a Stripe call may take {:?}, the function only {timeout} s",
                peyman::adapters::provider_http::CALL_TIMEOUT
            );
        }
    }
    assert!(callers >= 3, "accept, the follow-ups and the sweeper (refund retries) call Stripe");
}

#[test]
fn a_deployed_payment_provider_is_called_over_tls_only() {
    // The providers' client also speaks plain HTTP, for the local stand-ins (they are set
    // through the environment); a deployment's addresses come from these parameters.
    let template: Value = serde_norway::from_str(&std::fs::read_to_string(template_path()).unwrap()).unwrap();
    for name in ["StripeApiBase", "ZarinpalApiBase", "ZarinpalGraphqlUrl"] {
        let parameter = &template["Parameters"][name];
        let pattern = regex_lite::Regex::new(parameter["AllowedPattern"].as_str().expect(name)).unwrap();
        assert!(pattern.is_match(parameter["Default"].as_str().unwrap()), "{name}: its default must be allowed");
        assert!(!pattern.is_match("http://api.stripe.com"), "{name} allows plain HTTP");
        assert!(!pattern.is_match(""), "{name} allows no address");
    }
}
