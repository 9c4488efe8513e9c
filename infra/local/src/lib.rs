//! The local stack's gateway, as a library so tests share its template reading and its
//! tokens. `main.rs` runs it.

pub mod functions;
pub mod poller;
pub mod provision;
pub mod schedule;
pub mod server;
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
pub fn local_template(path: &str) -> Result<Template, Error> {
    let secret = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let (key, signing) = (secret("STRIPE_SECRET_KEY", "sk_test_local"), secret("STRIPE_WEBHOOK_SECRET", "whsec_local"));
    Template::load(
        path,
        local_site(),
        &[
            ("JwtIssuer", tokens::ISSUER),
            ("JwtAudience", tokens::AUDIENCE),
            ("StripeSecretKey", &key),
            ("StripeWebhookSecret", &signing),
        ],
    )
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

/// The core's config as the template's functions would read it.
pub fn local_config(template: &Template) -> Result<peyman::adapters::config::Config, Error> {
    let env = local_environment(template)?;
    Ok(peyman::adapters::config::Config::from_lookup(|name| {
        std::env::var(name).ok().or_else(|| env.get(name).cloned())
    })?)
}
