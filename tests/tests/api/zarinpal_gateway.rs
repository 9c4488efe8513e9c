//! The Zarinpal client (`adapters::zarinpal`) against the local stand-in
//! (`infra/local/zarinpal_server.py`): a payment requested, paid on the StartPay page and
//! sent back to the callback with `Status=OK`, verified once (100) and the same success
//! after (101), never for another amount; a cancelled one comes back `NOK` and does not
//! verify; unknown authorities are refused; paid-but-unverified ones are listed for
//! reconciliation; the refund service refunds a verified payment up to what was paid, for
//! the merchant's access token only. Checkout, the callback, reconciliation and refunds
//! through it: `zarinpal.rs`.

use peyman::adapters::zarinpal::{RefundService, Verification, Zarinpal, ZarinpalConfig};
use peyman_rules::payment::Answer;

const CALLBACK: &str = "http://127.0.0.1:1/v1/payments/zarinpal/callback";

fn gateway(merchant_id: &str) -> Zarinpal {
    gateway_back_to(merchant_id, CALLBACK)
}

fn gateway_back_to(merchant_id: &str, callback_url: &str) -> Zarinpal {
    Zarinpal::new(ZarinpalConfig {
        api_base: std::env::var("ZARINPAL_API_BASE").expect("run inside infra/local/stack.sh"),
        merchant_id: merchant_id.to_owned(),
        callback_url: callback_url.into(),
        return_url: "http://127.0.0.1:1/paid".into(),
        reconcile_after: std::time::Duration::ZERO,
        refunds: Some(refund_service(&std::env::var("ZARINPAL_ACCESS_TOKEN").expect("the stand-in's token"))),
    })
}

fn refund_service(access_token: &str) -> RefundService {
    RefundService {
        graphql_url: std::env::var("ZARINPAL_GRAPHQL_URL").expect("run inside infra/local/stack.sh"),
        access_token: access_token.to_owned(),
    }
}

/// What the stand-in recorded of `AddRefund` calls for a transaction: (amount, method).
async fn refunds_recorded(session_id: &str) -> Vec<(i64, String)> {
    let base = std::env::var("ZARINPAL_API_BASE").unwrap();
    let body: serde_json::Value =
        reqwest::get(format!("{base}/_stand-in/refunds/{session_id}")).await.unwrap().json().await.unwrap();
    body["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["amount"].as_i64().unwrap(), r["method"].as_str().unwrap().to_owned()))
        .collect()
}

/// The payer's click on the StartPay page: where the browser is sent back.
async fn payer(zarinpal: &Zarinpal, authority: &str, button: &str) -> String {
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = browser.get(zarinpal.start_pay_url(authority)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains(&format!("/pg/StartPay/{authority}/{button}")));
    let clicked = browser.post(format!("{}/{button}", zarinpal.start_pay_url(authority))).send().await.unwrap();
    assert_eq!(clicked.status(), 302);
    clicked.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_paid_authority_verifies_once_for_its_amount_and_then_says_so_again() {
    let merchant = format!("{:0>36}", ulid::Ulid::new().to_string());
    let zarinpal = gateway(&merchant);
    let callback = CALLBACK;
    let authority = zarinpal.request(12_000_000, "سفارش ۱", "01ORDER").await.expect("requested");
    assert!(authority.starts_with('A') && authority.len() == 36, "{authority}");

    // Not paid yet: nothing to verify, nothing to reconcile.
    assert!(matches!(zarinpal.verify(&authority, 12_000_000).await.unwrap(), Verification::Refused { code: -51, .. }));
    assert!(zarinpal.unverified().await.unwrap().is_empty());

    let back = payer(&zarinpal, &authority, "pay").await;
    assert_eq!(back, format!("{callback}?Authority={authority}&Status=OK"));
    // Paid, not verified: listed for reconciliation.
    assert_eq!(zarinpal.unverified().await.unwrap(), vec![(authority.clone(), 12_000_000)]);
    // Another amount never verifies it.
    let wrong = zarinpal.verify(&authority, 1_000).await.unwrap();
    assert!(matches!(wrong, Verification::Refused { code: -50, .. }), "{wrong:?}");
    let first = zarinpal.verify(&authority, 12_000_000).await.unwrap();
    let Verification::Verified { ref_id, card_pan } = first else { panic!("{first:?}") };
    assert!(card_pan.contains('*'));
    assert_eq!(
        zarinpal.verify(&authority, 12_000_000).await.unwrap(),
        Verification::AlreadyVerified { ref_id, card_pan },
        "101: the same success again"
    );
    assert!(zarinpal.unverified().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_cancelled_or_unknown_authority_never_verifies() {
    let merchant = format!("{:0>36}", ulid::Ulid::new().to_string());
    // A callback that carries a query of its own gets the gateway's after an `&`.
    let callback = "http://127.0.0.1:1/cb?from=zarinpal";
    let zarinpal = gateway_back_to(&merchant, callback);
    let authority = zarinpal.request(5_000_000, "سفارش ۲", "01ORDER2").await.unwrap();
    let back = payer(&zarinpal, &authority, "cancel").await;
    assert_eq!(back, format!("{callback}&Authority={authority}&Status=NOK"));
    assert!(matches!(zarinpal.verify(&authority, 5_000_000).await.unwrap(), Verification::Refused { code: -51, .. }));
    let unknown = zarinpal.verify(&format!("A{:0>35}", 7), 5_000_000).await.unwrap();
    assert!(matches!(unknown, Verification::Refused { code: -54, .. }), "{unknown:?}");
    // Another merchant cannot verify this one's payment.
    let other = gateway(&format!("{:0>36}", ulid::Ulid::new().to_string()));
    assert!(matches!(other.verify(&authority, 5_000_000).await.unwrap(), Verification::Refused { code: -11, .. }));
    // A request the gateway refuses is an error, not an authority.
    assert!(zarinpal.request(0, "x", "01ORDER3").await.is_err());
}

#[tokio::test]
async fn the_refund_service_refunds_a_verified_payment_up_to_what_was_paid_for_the_token_only() {
    let merchant = format!("{:0>36}", ulid::Ulid::new().to_string());
    let zarinpal = gateway(&merchant);
    let service = zarinpal.config().refunds.clone().expect("configured");
    let authority = zarinpal.request(5_000_000, "سفارش ۳", "01ORDER3").await.unwrap();
    payer(&zarinpal, &authority, "pay").await;
    let Verification::Verified { ref_id, .. } = zarinpal.verify(&authority, 5_000_000).await.unwrap() else {
        panic!("verified")
    };
    let session = ref_id.to_string();

    let first = zarinpal.add_refund(&service, &session, 3_000_000, "بازگشت بخشی").await.unwrap();
    assert!(matches!(&first, Answer::Done((id, _)) if *id == session), "{first:?}");
    // More than is left, a stranger's token, an unknown transaction: refused, nothing refunded.
    let too_much = zarinpal.add_refund(&service, &session, 2_000_001, "too much").await.unwrap();
    assert!(matches!(too_much, Answer::Refused(_)), "{too_much:?}");
    let stranger = zarinpal.add_refund(&refund_service("not-the-token"), &session, 20_000, "x").await.unwrap();
    assert!(matches!(stranger, Answer::Refused(_)), "{stranger:?}");
    let unknown = zarinpal.add_refund(&service, "999", 20_000, "x").await.unwrap();
    assert!(matches!(unknown, Answer::Refused(_)), "{unknown:?}");
    let rest = zarinpal.add_refund(&service, &session, 2_000_000, "the rest").await.unwrap();
    assert!(matches!(rest, Answer::Done(_)), "{rest:?}");
    assert_eq!(refunds_recorded(&session).await, vec![(3_000_000, "CARD".into()), (2_000_000, "CARD".into())]);
}
