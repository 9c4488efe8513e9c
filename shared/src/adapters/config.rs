//! Typed configuration read once per cold start. A missing or malformed variable fails
//! the init phase, so a misconfigured function never serves a request.

use std::time::Duration;

use crate::adapters::secrets;
use crate::adapters::stripe::StripeConfig;
use crate::adapters::zarinpal::{RefundService, ZarinpalConfig};
use peyman_rules::policy::Policy;

#[derive(Debug, Clone)]
pub struct Config {
    /// The single DynamoDB table (`TABLE_NAME`).
    pub table_name: String,
    /// The bucket for attachments and voice notes (`BUCKET_NAME`).
    pub bucket_name: String,
    /// The queue follow-ups go to (`FOLLOWUPS_QUEUE_URL`).
    pub followups_queue_url: String,
    /// The queue export jobs go to (`EXPORTS_QUEUE_URL`; the relay's).
    pub exports_queue_url: Option<String>,
    /// The EventBridge bus domain events go to (`EVENT_BUS_NAME`; the relay's).
    pub event_bus_name: Option<String>,
    /// The KMS key that signs export packets' seals (`EXPORT_SEAL_KEY_ID`; the builder).
    pub export_seal_key_id: Option<String>,
    /// How many times SQS hands the builder one export job before its DLQ takes it
    /// (`EXPORT_ATTEMPTS`, default 3: the exports queue's `maxReceiveCount`). The last
    /// attempt that fails marks the export failed.
    pub export_attempts: u32,
    /// How long a built packet is kept under S3 Object Lock (`EXPORT_RETENTION_DAYS`,
    /// default 365; the template's `ExportRetentionDays`).
    pub export_retention: chrono::Duration,
    /// How long after a refund is asked for its timer checks that the provider was
    /// asked (`REFUND_CHECK_SECONDS`, default 30): the follow-up normally asks first.
    pub refund_check_after: Duration,
    /// How the sweeper retries a timer or a refund that failed before it parks it for
    /// support (`RETRY_FIRST_SECONDS`, default 30, doubling up to 6 h;
    /// `RETRY_ATTEMPTS`, default 8).
    pub retry: peyman_rules::retry::Backoff,
    /// The JWT claim that lists the caller's groups (`GROUPS_CLAIM`, default `groups`;
    /// Cognito deployments set `cognito:groups`).
    pub groups_claim: String,
    /// How long presigned upload and download links live (`LINK_TTL_SECONDS`, default 900).
    pub link_ttl: Duration,
    /// How long a completed idempotency record is kept (`IDEMPOTENCY_TTL_SECONDS`, default 24 h).
    pub idempotency_ttl: Duration,
    /// How long an in-progress idempotency record blocks a retry before it is presumed
    /// dead (`IDEMPOTENCY_IN_PROGRESS_SECONDS`, default 60: above the function timeout).
    pub idempotency_in_progress: Duration,
    /// S3 path-style addressing (`S3_FORCE_PATH_STYLE`), which moto needs locally.
    pub s3_force_path_style: bool,
    /// Policy defaults from product.md; each window can be set in seconds
    /// (`REQUEST_ANSWER_WINDOW_SECONDS`, `PAYMENT_WINDOW_SECONDS`, `CLEARANCE_SECONDS`,
    /// `AUTO_COMPLETE_SECONDS`, `CANCELLATION_RESPONSE_SECONDS`,
    /// `LATE_CANCELLATION_GRACE_SECONDS`, `REVIEW_WINDOW_SECONDS`, `DISPUTE_RESPONSE_SECONDS`,
    /// `DISPUTE_AFTER_COMPLETION_SECONDS`, `AMENDMENT_RESPONSE_SECONDS`), the marketplace's
    /// currency (`MARKETPLACE_CURRENCY`) and each level's caps (`LEVEL_CAPS`), and the fee
    /// (`PLATFORM_FEE_BASIS_POINTS`, `PLATFORM_FEE_MINIMUM`). Orders copy the policy in
    /// force when placed.
    pub policy: Policy,
    /// Stripe, the payment provider unless `PAYMENT_PROVIDER=zarinpal`
    /// (`STRIPE_API_BASE`, default `https://api.stripe.com`; `STRIPE_SECRET_KEY`;
    /// `STRIPE_WEBHOOK_SECRET`, each from Secrets Manager where its `…_ARN` is given).
    /// The secrets are empty unless the function needs them; those that do call
    /// [`Config::require_for_stripe`] at init.
    pub stripe: StripeConfig,
    /// Zarinpal, when `PAYMENT_PROVIDER=zarinpal`: then `ZARINPAL_MERCHANT_ID`,
    /// `ZARINPAL_CALLBACK_URL` and `PAYMENT_RETURN_URL` are required of every function;
    /// `ZARINPAL_ACCESS_TOKEN` (and `ZARINPAL_GRAPHQL_URL`) where refunds go through its
    /// refund service.
    pub zarinpal: Option<ZarinpalConfig>,
}

/// A Stripe secret some functions cannot work without.
#[derive(Debug, Clone, Copy)]
pub enum StripeSecret {
    /// `STRIPE_SECRET_KEY`: every function that opens, cancels or refunds.
    Key,
    /// `STRIPE_WEBHOOK_SECRET`: the webhook, which verifies signatures with it.
    WebhookSecret,
}

impl Config {
    /// Fails the init phase of a function that cannot work without `secrets` when the
    /// deployment pays through Stripe (a Zarinpal deployment has no Stripe secrets).
    pub fn require_for_stripe(&self, secrets: &[StripeSecret]) -> Result<(), ConfigError> {
        if self.zarinpal.is_some() {
            return Ok(());
        }
        for secret in secrets {
            let (name, value) = match secret {
                StripeSecret::Key => ("STRIPE_SECRET_KEY", &self.stripe.secret_key),
                StripeSecret::WebhookSecret => ("STRIPE_WEBHOOK_SECRET", &self.stripe.webhook_secret),
            };
            if value.is_empty() {
                return Err(ConfigError::Missing(name));
            }
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name} is malformed: {reason}")]
    Malformed { name: &'static str, reason: String },
}

impl Config {
    /// The configuration of a function at init: the process environment, with the
    /// secrets it is given read from Secrets Manager through `sdk` ([`secrets`]).
    pub async fn load(sdk: &aws_types::SdkConfig) -> Result<Self, ConfigError> {
        Self::load_with(sdk, |name| std::env::var(name).ok()).await
    }

    /// [`Config::load`] over `lookup` instead of the process environment (the local
    /// gateway's per-function environments).
    pub async fn load_with(
        sdk: &aws_types::SdkConfig,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let secrets = secrets::fetch(sdk, &lookup)
            .await
            .map_err(|secrets::Unreadable { name, reason }| ConfigError::Malformed { name, reason })?;
        Self::from_lookup(|name| secrets.get(name).cloned().or_else(|| lookup(name)))
    }

    /// Reads the configuration through `lookup`, so the local gateway can feed it the
    /// variables the template gives each function.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| lookup(name).filter(|v| !v.is_empty()).ok_or(ConfigError::Missing(name));
        let seconds = |name: &'static str, default: u64| -> Result<Duration, ConfigError> {
            match lookup(name) {
                None => Ok(Duration::from_secs(default)),
                Some(v) => v
                    .parse::<u64>()
                    .map(Duration::from_secs)
                    .map_err(|e| ConfigError::Malformed { name, reason: e.to_string() }),
            }
        };
        let flag = |name: &'static str| -> Result<bool, ConfigError> {
            match lookup(name).as_deref() {
                None | Some("") | Some("false") | Some("0") => Ok(false),
                Some("true") | Some("1") => Ok(true),
                Some(other) => {
                    Err(ConfigError::Malformed { name, reason: format!("expected true or false, got {other:?}") })
                }
            }
        };
        Ok(Config {
            table_name: required("TABLE_NAME")?,
            bucket_name: required("BUCKET_NAME")?,
            followups_queue_url: required("FOLLOWUPS_QUEUE_URL")?,
            refund_check_after: seconds("REFUND_CHECK_SECONDS", 30)?,
            exports_queue_url: lookup("EXPORTS_QUEUE_URL").filter(|v| !v.is_empty()),
            event_bus_name: lookup("EVENT_BUS_NAME").filter(|v| !v.is_empty()),
            export_seal_key_id: lookup("EXPORT_SEAL_KEY_ID").filter(|v| !v.is_empty()),
            export_attempts: match lookup("EXPORT_ATTEMPTS") {
                None => 3,
                Some(v) => v.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| ConfigError::Malformed {
                    name: "EXPORT_ATTEMPTS",
                    reason: "a whole number of at least 1".into(),
                })?,
            },
            export_retention: match lookup("EXPORT_RETENTION_DAYS") {
                None => chrono::Duration::days(365),
                Some(v) => {
                    v.parse::<i64>().ok().filter(|n| (1..=36_500).contains(n)).map(chrono::Duration::days).ok_or_else(
                        || ConfigError::Malformed {
                            name: "EXPORT_RETENTION_DAYS",
                            reason: "a whole number of days from 1 to 36500".into(),
                        },
                    )?
                }
            },
            groups_claim: lookup("GROUPS_CLAIM").unwrap_or_else(|| "groups".into()),
            link_ttl: seconds("LINK_TTL_SECONDS", 900)?,
            idempotency_ttl: seconds("IDEMPOTENCY_TTL_SECONDS", 24 * 3600)?,
            idempotency_in_progress: seconds("IDEMPOTENCY_IN_PROGRESS_SECONDS", 60)?,
            s3_force_path_style: flag("S3_FORCE_PATH_STYLE")?,
            retry: {
                let defaults = peyman_rules::retry::Backoff::default();
                let attempts = match lookup("RETRY_ATTEMPTS") {
                    None => defaults.attempts,
                    Some(v) => v.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| ConfigError::Malformed {
                        name: "RETRY_ATTEMPTS",
                        reason: "a whole number of at least 1".into(),
                    })?,
                };
                peyman_rules::retry::Backoff {
                    first: seconds("RETRY_FIRST_SECONDS", defaults.first.as_secs())?,
                    attempts,
                    ..defaults
                }
            },
            policy: {
                let defaults = Policy::default();
                let window = |name, default: chrono::Duration| -> Result<chrono::Duration, ConfigError> {
                    let seconds = seconds(name, default.num_seconds().max(0) as u64)?;
                    chrono::Duration::from_std(seconds)
                        .map_err(|e| ConfigError::Malformed { name, reason: e.to_string() })
                };
                let whole = |name: &'static str, default: i64, range: std::ops::RangeInclusive<i64>| match lookup(name)
                {
                    None => Ok(default),
                    Some(v) => {
                        v.parse::<i64>().ok().filter(|n| range.contains(n)).ok_or_else(|| ConfigError::Malformed {
                            name,
                            reason: format!("a whole number from {} to {}", range.start(), range.end()),
                        })
                    }
                };
                Policy {
                    request_answer_window: window("REQUEST_ANSWER_WINDOW_SECONDS", defaults.request_answer_window)?,
                    payment_window: window("PAYMENT_WINDOW_SECONDS", defaults.payment_window)?,
                    clearance: window("CLEARANCE_SECONDS", defaults.clearance)?,
                    auto_complete: window("AUTO_COMPLETE_SECONDS", defaults.auto_complete)?,
                    cancellation_response: window("CANCELLATION_RESPONSE_SECONDS", defaults.cancellation_response)?,
                    late_cancellation_grace: window(
                        "LATE_CANCELLATION_GRACE_SECONDS",
                        defaults.late_cancellation_grace,
                    )?,
                    review_window: window("REVIEW_WINDOW_SECONDS", defaults.review_window)?,
                    dispute_response: window("DISPUTE_RESPONSE_SECONDS", defaults.dispute_response)?,
                    dispute_after_completion: window(
                        "DISPUTE_AFTER_COMPLETION_SECONDS",
                        defaults.dispute_after_completion,
                    )?,
                    amendment_response: window("AMENDMENT_RESPONSE_SECONDS", defaults.amendment_response)?,
                    currency: match lookup("MARKETPLACE_CURRENCY") {
                        None => defaults.currency.clone(),
                        Some(c) if c.len() == 3 && c.chars().all(|c| c.is_ascii_uppercase()) => c,
                        Some(_) => {
                            return Err(ConfigError::Malformed {
                                name: "MARKETPLACE_CURRENCY",
                                reason: "an ISO 4217 code, three capital letters".into(),
                            });
                        }
                    },
                    level_caps: match lookup("LEVEL_CAPS") {
                        None => defaults.level_caps,
                        Some(text) => peyman_rules::policy::parse_level_caps(&text)
                            .map_err(|reason| ConfigError::Malformed { name: "LEVEL_CAPS", reason })?,
                    },
                    fee: peyman_rules::ledger::FeePolicy {
                        basis_points: whole("PLATFORM_FEE_BASIS_POINTS", defaults.fee.basis_points.into(), 0..=10_000)?
                            as u32,
                        minimum: whole("PLATFORM_FEE_MINIMUM", defaults.fee.minimum, 0..=i64::MAX)?,
                    },
                    tip_fee: peyman_rules::ledger::FeePolicy {
                        basis_points: whole("TIP_FEE_BASIS_POINTS", defaults.tip_fee.basis_points.into(), 0..=10_000)?
                            as u32,
                        minimum: 0,
                    },
                    ..defaults
                }
            },
            stripe: StripeConfig {
                api_base: lookup("STRIPE_API_BASE")
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| "https://api.stripe.com".into())
                    .trim_end_matches('/')
                    .to_owned(),
                secret_key: lookup("STRIPE_SECRET_KEY").unwrap_or_default(),
                webhook_secret: lookup("STRIPE_WEBHOOK_SECRET").unwrap_or_default(),
                // The table is one per deployment: the mark that tells our intents from
                // those of another product, or another stage, on the same Stripe account.
                deployment: required("TABLE_NAME")?,
            },
            zarinpal: match lookup("PAYMENT_PROVIDER").as_deref() {
                None | Some("") | Some("stripe") => None,
                Some("zarinpal") => Some(ZarinpalConfig {
                    api_base: lookup("ZARINPAL_API_BASE")
                        .filter(|v| !v.is_empty())
                        .unwrap_or_else(|| "https://payment.zarinpal.com".into())
                        .trim_end_matches('/')
                        .to_owned(),
                    merchant_id: required("ZARINPAL_MERCHANT_ID")?,
                    callback_url: required("ZARINPAL_CALLBACK_URL")?,
                    return_url: required("PAYMENT_RETURN_URL")?,
                    reconcile_after: seconds("RECONCILE_AFTER_SECONDS", 120)?,
                    refunds: lookup("ZARINPAL_ACCESS_TOKEN").filter(|v| !v.is_empty()).map(|access_token| {
                        RefundService {
                            graphql_url: lookup("ZARINPAL_GRAPHQL_URL")
                                .filter(|v| !v.is_empty())
                                .unwrap_or_else(|| "https://next.zarinpal.com/api/v4/graphql/".into()),
                            access_token,
                        }
                    }),
                }),
                Some(other) => {
                    return Err(ConfigError::Malformed {
                        name: "PAYMENT_PROVIDER",
                        reason: format!("stripe or zarinpal, not {other:?}"),
                    });
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// What every function is given.
    const BASE: [(&str, &str); 3] = [("TABLE_NAME", "t"), ("BUCKET_NAME", "b"), ("FOLLOWUPS_QUEUE_URL", "q")];

    /// A whole Zarinpal configuration, without the refund service.
    const ZARINPAL: [(&str, &str); 4] = [
        ("PAYMENT_PROVIDER", "zarinpal"),
        ("ZARINPAL_MERCHANT_ID", "m"),
        ("ZARINPAL_CALLBACK_URL", "https://api.example/v1/payments/zarinpal/callback"),
        ("PAYMENT_RETURN_URL", "https://shop.example/paid"),
    ];

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn missing_table_fails_at_init() {
        let err = Config::from_lookup(lookup(&[("BUCKET_NAME", "b")])).unwrap_err();
        assert!(matches!(err, ConfigError::Missing("TABLE_NAME")));
    }

    #[test]
    fn malformed_duration_fails_at_init() {
        let err = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "t"),
            ("BUCKET_NAME", "b"),
            ("FOLLOWUPS_QUEUE_URL", "q"),
            ("LINK_TTL_SECONDS", "soon"),
        ]))
        .unwrap_err();
        assert!(matches!(err, ConfigError::Malformed { name: "LINK_TTL_SECONDS", .. }));
    }

    #[test]
    fn export_retention_is_whole_days_from_one() {
        let base = [("TABLE_NAME", "t"), ("BUCKET_NAME", "b"), ("FOLLOWUPS_QUEUE_URL", "q")];
        let with = |days: &'static str| {
            let mut pairs = base.to_vec();
            pairs.push(("EXPORT_RETENTION_DAYS", days));
            Config::from_lookup(lookup(&pairs))
        };
        assert_eq!(with("30").unwrap().export_retention, chrono::Duration::days(30));
        for bad in ["0", "-1", "a year", "36501"] {
            assert!(matches!(with(bad), Err(ConfigError::Malformed { name: "EXPORT_RETENTION_DAYS", .. })), "{bad}");
        }
        assert_eq!(Config::from_lookup(lookup(&base)).unwrap().export_retention, chrono::Duration::days(365));
    }

    #[test]
    fn defaults_apply() {
        let c = Config::from_lookup(lookup(&[("TABLE_NAME", "t"), ("BUCKET_NAME", "b"), ("FOLLOWUPS_QUEUE_URL", "q")]))
            .unwrap();
        assert_eq!(c.groups_claim, "groups");
        assert_eq!(c.link_ttl, Duration::from_secs(900));
        assert!(!c.s3_force_path_style);
        assert_eq!(c.policy.request_answer_window, chrono::Duration::days(14));
        assert_eq!(c.policy.payment_window, chrono::Duration::minutes(60));
    }

    #[test]
    fn the_provider_is_stripe_unless_zarinpal_is_configured_whole() {
        let (base, zarinpal) = (BASE, ZARINPAL);
        assert!(Config::from_lookup(lookup(&base)).unwrap().zarinpal.is_none());
        let c = Config::from_lookup(lookup(&[&base[..], &zarinpal[..]].concat())).unwrap();
        let z = c.zarinpal.expect("zarinpal");
        assert_eq!(z.api_base, "https://payment.zarinpal.com");
        assert_eq!(z.reconcile_after, Duration::from_secs(120));
        assert!(z.refunds.is_none(), "without an access token every refund is paid back by hand");
        let with_token = [&base[..], &zarinpal[..], &[("ZARINPAL_ACCESS_TOKEN", "tok")][..]].concat();
        let refunds = Config::from_lookup(lookup(&with_token)).unwrap().zarinpal.unwrap().refunds.unwrap();
        assert_eq!(refunds.graphql_url, "https://next.zarinpal.com/api/v4/graphql/");
        // Each of its three settings is required; an unknown provider is refused.
        for missing in 1..zarinpal.len() {
            let vars: Vec<_> =
                base.iter().chain(&zarinpal).filter(|(k, _)| *k != zarinpal[missing].0).copied().collect();
            let err = Config::from_lookup(lookup(&vars)).unwrap_err();
            assert!(matches!(err, ConfigError::Missing(name) if name == zarinpal[missing].0), "{err:?}");
        }
        let paypal = [&base[..], &[("PAYMENT_PROVIDER", "paypal")][..]].concat();
        assert!(matches!(
            Config::from_lookup(lookup(&paypal)).unwrap_err(),
            ConfigError::Malformed { name: "PAYMENT_PROVIDER", .. }
        ));
    }

    #[test]
    fn stripe_secrets_are_required_only_of_a_stripe_deployment() {
        let base = BASE;
        let both = [StripeSecret::Key, StripeSecret::WebhookSecret];
        let c = Config::from_lookup(lookup(&base)).unwrap();
        assert!(matches!(c.require_for_stripe(&both), Err(ConfigError::Missing("STRIPE_SECRET_KEY"))));
        let key = [&base[..], &[("STRIPE_SECRET_KEY", "sk_test_1")][..]].concat();
        let c = Config::from_lookup(lookup(&key)).unwrap();
        assert!(c.require_for_stripe(&[StripeSecret::Key]).is_ok());
        assert!(matches!(c.require_for_stripe(&both), Err(ConfigError::Missing("STRIPE_WEBHOOK_SECRET"))));
        // The provider comes from the parsed configuration, not from the environment.
        let c = Config::from_lookup(lookup(&[&base[..], &ZARINPAL[..]].concat())).unwrap();
        assert!(c.require_for_stripe(&both).is_ok());
    }

    #[test]
    fn policy_windows_are_configurable() {
        let c = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "t"),
            ("BUCKET_NAME", "b"),
            ("FOLLOWUPS_QUEUE_URL", "q"),
            ("REQUEST_ANSWER_WINDOW_SECONDS", "5"),
            ("PAYMENT_WINDOW_SECONDS", "60"),
        ]))
        .unwrap();
        assert_eq!(c.policy.request_answer_window, chrono::Duration::seconds(5));
        assert_eq!(c.policy.payment_window, chrono::Duration::seconds(60));
        assert_eq!(c.policy.fee, peyman_rules::ledger::FeePolicy::default(), "10 %, at least 50,000");
        assert_eq!(c.policy.auto_complete, chrono::Duration::days(3), "product.md's default");
    }

    #[test]
    fn the_platform_fee_is_configurable_within_bounds() {
        let base = [("TABLE_NAME", "t"), ("BUCKET_NAME", "b"), ("FOLLOWUPS_QUEUE_URL", "q")];
        let with = |extra: &[(&str, &str)]| Config::from_lookup(lookup(&[&base[..], extra].concat()));
        let c = with(&[("PLATFORM_FEE_BASIS_POINTS", "1500"), ("PLATFORM_FEE_MINIMUM", "0")]).unwrap();
        assert_eq!(c.policy.fee, peyman_rules::ledger::FeePolicy { basis_points: 1_500, minimum: 0 });
        assert!(with(&[("PLATFORM_FEE_BASIS_POINTS", "10001")]).is_err(), "more than all of it");
        assert!(with(&[("PLATFORM_FEE_MINIMUM", "-1")]).is_err());
        let windows = [
            ("AUTO_COMPLETE_SECONDS", "7"),
            ("CANCELLATION_RESPONSE_SECONDS", "8"),
            ("LATE_CANCELLATION_GRACE_SECONDS", "9"),
            ("REVIEW_WINDOW_SECONDS", "10"),
            ("DISPUTE_RESPONSE_SECONDS", "11"),
            ("DISPUTE_AFTER_COMPLETION_SECONDS", "12"),
            ("AMENDMENT_RESPONSE_SECONDS", "13"),
        ];
        let p = with(&windows).unwrap().policy;
        let seconds = chrono::Duration::seconds;
        assert_eq!(
            (p.auto_complete, p.cancellation_response, p.late_cancellation_grace, p.review_window),
            (seconds(7), seconds(8), seconds(9), seconds(10))
        );
        assert_eq!(
            (p.dispute_response, p.dispute_after_completion, p.amendment_response),
            (seconds(11), seconds(12), seconds(13))
        );
        let caps = "new=1/2 level_one=3/4 level_two=5/6 top_rated=-/7";
        let p = with(&[("LEVEL_CAPS", caps), ("MARKETPLACE_CURRENCY", "EUR")]).unwrap().policy;
        let limits = p.level_limits(peyman_rules::policy::Level::LevelTwo);
        assert_eq!(
            (limits.max_price.map(|m| (m.amount, m.currency)), limits.max_delivery_days),
            (Some((5, "EUR".into())), 6)
        );
        assert!(with(&[("LEVEL_CAPS", "new=1/2")]).is_err(), "every level");
        assert!(with(&[("MARKETPLACE_CURRENCY", "rial")]).is_err());
        assert!(with(&[("REVIEW_WINDOW_SECONDS", "-1")]).is_err());
    }
}
