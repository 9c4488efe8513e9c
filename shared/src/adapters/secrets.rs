//! The payment secrets, from AWS Secrets Manager, read once at init. A function is given
//! the ARN of each secret it uses (`STRIPE_SECRET_KEY_ARN`, `STRIPE_WEBHOOK_SECRET_ARN`,
//! `ZARINPAL_ACCESS_TOKEN_ARN`) and `secretsmanager:GetSecretValue` on those alone, so a
//! secret never sits in a function's configuration and no function can read another's.
//! Each secret holds `{"value": "…"}` (the template writes it so, and an empty value,
//! an unused provider's, is still a valid secret). A function with no secret ARN builds
//! no client and makes no call.

use std::collections::HashMap;

use aws_types::SdkConfig;

/// A secret that could not be read: the variable it was for, and why.
#[derive(Debug)]
pub struct Unreadable {
    pub name: &'static str,
    pub reason: String,
}

/// The secrets a function may be given, by the variable [`crate::adapters::config`]
/// reads each from.
pub const SECRETS: [&str; 3] = ["STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "ZARINPAL_ACCESS_TOKEN"];

/// The variable that names a secret's ARN.
pub fn arn_variable(secret: &str) -> String {
    format!("{secret}_ARN")
}

/// Reads every secret whose ARN `lookup` gives, through the SDK configuration's
/// credentials: the value of each, by its variable's name. A secret that cannot be read
/// fails the init phase.
pub async fn fetch(
    sdk: &SdkConfig,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<HashMap<&'static str, String>, Unreadable> {
    let wanted: Vec<(&'static str, String)> = SECRETS
        .iter()
        .filter_map(|name| lookup(&arn_variable(name)).filter(|arn| !arn.is_empty()).map(|arn| (*name, arn)))
        .collect();
    let mut values = HashMap::new();
    if wanted.is_empty() {
        return Ok(values);
    }
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    for (name, arn) in wanted {
        let unreadable = |reason: String| Unreadable { name, reason };
        let out = client.get_secret_value().secret_id(&arn).send().await.map_err(|e| {
            unreadable(format!("secret {arn}: {}", aws_sdk_secretsmanager::error::DisplayErrorContext(e)))
        })?;
        let text = out.secret_string().ok_or_else(|| unreadable(format!("secret {arn} holds no text")))?;
        values.insert(name, value_of(text).map_err(|e| unreadable(format!("secret {arn}: {e}")))?);
    }
    Ok(values)
}

/// The value a secret's text `{"value": "…"}` holds.
fn value_of(text: &str) -> Result<String, String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Secret {
        value: String,
    }
    serde_json::from_str::<Secret>(text).map(|s| s.value).map_err(|e| format!("not {{\"value\": \"...\"}}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_its_value_field_and_nothing_else() {
        assert_eq!(value_of(r#"{"value":"sk_test_1"}"#).unwrap(), "sk_test_1");
        assert_eq!(value_of(r#"{"value":""}"#).unwrap(), "", "an unused provider's secret is empty");
        for bad in ["sk_test_1", r#"{"value":1}"#, r#"{"value":"a","other":"b"}"#, "{}"] {
            assert!(value_of(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_function_with_no_secret_makes_no_call() {
        // No region, no credentials, no endpoint: any call would fail.
        let sdk = SdkConfig::builder().build();
        assert!(fetch(&sdk, |_| None).await.unwrap().is_empty());
        assert!(fetch(&sdk, |name| (name == "STRIPE_SECRET_KEY_ARN").then(String::new)).await.unwrap().is_empty());
    }
}
