//! Local identities: HS256 JWTs signed with a local secret, verified the way API
//! Gateway's JWT authorizer verifies real ones (signature, `iss`, `aud`, `exp`), and the
//! claims flattened into strings as the authorizer passes them to functions.

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};

/// The issuer and audience the local stack gives the template's JwtIssuer/JwtAudience.
pub const ISSUER: &str = "https://peyman.local/issuer";
pub const AUDIENCE: &str = "peyman-local";

/// `LOCAL_JWT_SECRET`, or a fixed development secret: the local stack only listens on
/// 127.0.0.1 and its tokens mean nothing anywhere else.
pub fn secret() -> String {
    std::env::var("LOCAL_JWT_SECRET").unwrap_or_else(|_| "peyman-local-development-secret".into())
}

/// A token for `sub` in `groups`, valid for `ttl_seconds`.
pub fn mint(sub: &str, groups: &[&str], ttl_seconds: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + ttl_seconds });
    if !groups.is_empty() {
        claims["groups"] = json!(groups);
    }
    let key = EncodingKey::from_secret(secret().as_bytes()).expect("any byte string is an HS256 key");
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
        .expect("HS256 signing with an in-memory key cannot fail")
}

/// Verifies an `Authorization` header value (`Bearer` optional, as API Gateway allows).
pub fn verify(header: &str, issuer: &str, audience: &[String]) -> Option<serde_json::Map<String, Value>> {
    let token = header.strip_prefix("Bearer ").unwrap_or(header).trim();
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[issuer]);
    validation.set_audience(audience);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let key = DecodingKey::from_secret(secret().as_bytes()).ok()?;
    jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &key, &validation).ok().map(|data| data.claims)
}

/// Claims as API Gateway hands them to functions: every value a string, arrays as
/// `[a b]`.
pub fn flatten(claims: &serde_json::Map<String, Value>) -> HashMap<String, String> {
    claims
        .iter()
        .map(|(k, v)| {
            let flat = match v {
                Value::String(s) => s.clone(),
                Value::Array(items) => {
                    let parts: Vec<String> =
                        items.iter().map(|i| i.as_str().map(str::to_owned).unwrap_or_else(|| i.to_string())).collect();
                    format!("[{}]", parts.join(" "))
                }
                other => other.to_string(),
            };
            (k.clone(), flat)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_verify_and_flatten_like_api_gateway() {
        let token = mint("u1", &["support", "staff"], 60);
        let claims = verify(&format!("Bearer {token}"), ISSUER, &[AUDIENCE.into()]).unwrap();
        let flat = flatten(&claims);
        assert_eq!(flat["sub"], "u1");
        assert_eq!(flat["groups"], "[support staff]");
    }

    #[test]
    fn wrong_audience_issuer_or_expiry_fail() {
        let token = mint("u1", &[], 60);
        assert!(verify(&token, ISSUER, &["other".into()]).is_none());
        assert!(verify(&token, "https://elsewhere", &[AUDIENCE.into()]).is_none());
        let expired = mint("u1", &[], -3600);
        assert!(verify(&expired, ISSUER, &[AUDIENCE.into()]).is_none());
        let mut tampered = token.clone();
        tampered.pop();
        assert!(verify(&tampered, ISSUER, &[AUDIENCE.into()]).is_none());
    }
}
