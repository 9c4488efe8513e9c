//! The local stack's gateway, as a library so tests share its template reading and its
//! tokens. `main.rs` runs it.

pub mod cors;
pub mod functions;
pub mod poller;
pub mod provision;
pub mod schedule;
pub mod server;
pub mod stream;
pub mod template;
pub mod tokens;

use std::collections::BTreeMap;

use template::{Error, Site, Template};

/// moto's default account; the local stack's name.
pub const ACCOUNT: &str = "123456789012";
pub const STACK: &str = "peyman-local";

/// The site of the local stack, from the same SDK environment the functions use.
pub fn local_site() -> Site {
    Site {
        stack: std::env::var("LOCAL_STACK_NAME").unwrap_or_else(|_| STACK.into()),
        account: ACCOUNT.into(),
        region: std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
        endpoint: std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "http://127.0.0.1:5000".into()),
    }
}

/// The template with the parameters the local stack gives it. The Stripe secrets are
/// localstripe's: any `sk_` key, and the signing secret `stack.sh` registered with it.
/// `PAYMENT_PROVIDER=zarinpal` makes it a Zarinpal deployment against our stand-in,
/// whose payers come back to this gateway (`PEYMAN_API`).
pub fn local_template(path: &str) -> Result<Template, Error> {
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let (key, signing) = (var("STRIPE_SECRET_KEY", "sk_test_local"), var("STRIPE_WEBHOOK_SECRET", "whsec_local"));
    let api = var("PEYMAN_API", "http://127.0.0.1:3000");
    let provider = var("PAYMENT_PROVIDER", "stripe");
    let zarinpal = var("ZARINPAL_API_BASE", "http://127.0.0.1:8430");
    let merchant = var("ZARINPAL_MERCHANT_ID", "00000000-0000-0000-0000-000000000000");
    let refunds = var("ZARINPAL_GRAPHQL_URL", &format!("{zarinpal}/api/v4/graphql/"));
    let access_token = var("ZARINPAL_ACCESS_TOKEN", "");
    // No frontend runs locally: the payer's last stop is a page of ours that does not
    // exist, and the redirect's Location header shows the outcome.
    let return_url = var("PAYMENT_RETURN_URL", &format!("{api}/payment-returned"));
    let (origins, stripe) = (
        var("API_ALLOWED_ORIGINS", "http://127.0.0.1:*,http://localhost:*"),
        var("STRIPE_API_BASE", "http://127.0.0.1:8420"),
    );
    let overrides = var("LOCAL_PARAMETER_OVERRIDES", "");
    let overrides = parameter_overrides(&overrides)?;
    let mut params: Vec<(&str, &str)> = vec![
        // The origins of a frontend on this machine (any port), as a developer runs one.
        ("ApiAllowedOrigins", &origins),
        ("JwtIssuer", tokens::ISSUER),
        ("JwtAudience", tokens::AUDIENCE),
        ("StripeApiBase", &stripe),
        ("StripeSecretKey", &key),
        ("StripeWebhookSecret", &signing),
        ("PaymentProvider", &provider),
        ("PublicApiUrl", &api),
        ("ZarinpalApiBase", &zarinpal),
        ("ZarinpalMerchantId", &merchant),
        ("ZarinpalGraphqlUrl", &refunds),
        ("ZarinpalAccessToken", &access_token),
        ("PaymentReturnUrl", &return_url),
    ];
    params.extend(overrides.iter().copied());
    let template = Template::load(path, local_site(), &params)?;
    match overrides.iter().find(|(name, _)| !template.declares(name)) {
        Some((name, _)) => Err(format!("LOCAL_PARAMETER_OVERRIDES: the template has no parameter {name}").into()),
        None => Ok(template),
    }
}

/// `LOCAL_PARAMETER_OVERRIDES`: `Name=Value` pairs separated by spaces, as
/// `sam deploy --parameter-overrides` takes them; a stack with short policy windows sets
/// them (`stack.sh`'s clock gateway).
fn parameter_overrides(text: &str) -> Result<Vec<(&str, &str)>, Error> {
    text.split_whitespace()
        .map(|pair| {
            pair.split_once('=').ok_or_else(|| format!("LOCAL_PARAMETER_OVERRIDES: {pair:?} is not Name=Value").into())
        })
        .collect()
}

/// The environment every function gets, plus what moto needs. All functions share one
/// process here, so two functions that disagree on a variable cannot both be served.
pub fn local_environment(template: &Template) -> Result<BTreeMap<String, String>, Error> {
    let mut env = BTreeMap::new();
    for id in template.function_ids() {
        for (name, value) in template.function_environment(&id)? {
            if let Some(other) = env.insert(name.clone(), value.clone())
                && other != value
            {
                return Err(format!(
                    "functions disagree on {name} ({other} vs {value}); the local gateway runs them in one process"
                )
                .into());
            }
        }
    }
    env.insert("S3_FORCE_PATH_STYLE".into(), "true".into());
    Ok(env)
}

/// One function's config, as Lambda would give it: its own environment in the template.
/// A variable the template gives no function (the local stack's knobs, such as
/// `STRIPE_API_BASE` or `RETRY_FIRST_SECONDS`) may come from this process; one it gives
/// to some functions never reaches the others, so a function that reads another's
/// secret or setting fails here as it would in AWS.
/// Its secrets are read from Secrets Manager with `sdk`, the function's own credentials.
pub async fn function_config(
    template: &Template,
    id: &str,
    sdk: &aws_types::SdkConfig,
) -> Result<peyman::adapters::config::Config, Error> {
    let mut own = template.function_environment(id)?;
    // Nothing the local stack runs may call out: a parameter left at its AWS default
    // would send a function to the real service.
    if let Some((name, value)) = own.iter().find(|(_, v)| v.contains("://") && !v.contains("://127.0.0.1")) {
        return Err(format!("{id}: {name}={value} leaves this machine; the local stack calls 127.0.0.1 only").into());
    }
    own.insert("S3_FORCE_PATH_STYLE".into(), "true".into());
    let mut declared = std::collections::BTreeSet::new();
    for other in template.function_ids() {
        declared.extend(template.function_environment(&other)?.into_keys());
    }
    let lookup = |name: &str| {
        own.get(name).cloned().or_else(|| (!declared.contains(name)).then(|| std::env::var(name).ok()).flatten())
    };
    Ok(peyman::adapters::config::Config::load_with(sdk, lookup).await?)
}

/// The core's config as the template's functions would read it, all in one (the tests'
/// own use of the flows), its secrets read with the environment's (the administrator's)
/// credentials.
pub async fn local_config(template: &Template) -> Result<peyman::adapters::config::Config, Error> {
    let env = local_environment(template)?;
    let sdk = peyman::adapters::sdk::config().await;
    let lookup = |name: &str| std::env::var(name).ok().or_else(|| env.get(name).cloned());
    Ok(peyman::adapters::config::Config::load_with(&sdk, lookup).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_overrides_are_name_value_pairs_of_parameters_the_template_declares() {
        let pairs = parameter_overrides(" AutoCompleteSeconds=4  LevelCaps=new=1/2 ").unwrap();
        assert_eq!(pairs, [("AutoCompleteSeconds", "4"), ("LevelCaps", "new=1/2")]);
        assert!(parameter_overrides("AutoCompleteSeconds").is_err(), "no value");
        let template =
            Template::parse("Parameters:\n  AutoCompleteSeconds:\n    Type: Number\n", local_site(), &pairs).unwrap();
        assert!(template.declares("AutoCompleteSeconds"));
        assert!(!template.declares("LevelCaps"), "so local_template refuses it");
    }
}
