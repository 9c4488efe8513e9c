//! The Zarinpal client (`adapters::zarinpal`) against the local stand-in
//! (`infra/local/zarinpal_server.py`): a payment requested, paid on the StartPay page and
//! sent back to the callback with `Status=OK`, verified once (100) and the same success
//! after (101), never for another amount; a cancelled one comes back `NOK` and does not
//! verify; unknown authorities are refused; paid-but-unverified ones are listed for
//! reconciliation. Checkout, the callback and reconciliation through it: `zarinpal.rs`.

use peyman::adapters::zarinpal::{Verification, Zarinpal, ZarinpalConfig};

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
    })
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
