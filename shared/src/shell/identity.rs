//! The caller, taken from the claims that API Gateway's JWT authorizer verified
//! (`requestContext.authorizer.jwt.claims`). Never from the body.

use std::collections::HashMap;

use peyman_rules::caller::Caller;
use peyman_rules::error::ApiError;
use peyman_rules::validate;

pub const SUPPORT_GROUP: &str = "support";

/// The caller the claims name. `groups_claim` names the claim holding the groups. API
/// Gateway flattens an array claim to a string such as `[support admin]`; a JSON array or
/// a comma list is also accepted so that other authorizers work.
pub fn caller(claims: &HashMap<String, String>, groups_claim: &str) -> Result<Caller, ApiError> {
    let user_id = claims.get("sub").ok_or(ApiError::Unauthenticated)?;
    // A subject we cannot use in keys is not an identity we can serve.
    validate::user_id("sub", user_id).map_err(|_| ApiError::Unauthenticated)?;
    let is_support = claims.get(groups_claim).map(|raw| groups(raw).any(|g| g == SUPPORT_GROUP)).unwrap_or(false);
    Ok(Caller { user_id: user_id.clone(), is_support })
}

fn groups(raw: &str) -> impl Iterator<Item = &str> {
    raw.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split([' ', ','])
        .map(|g| g.trim().trim_matches('"'))
        .filter(|g| !g.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn api_gateway_flattened_groups() {
        let c = caller(&claims(&[("sub", "u1"), ("groups", "[admin support]")]), "groups").unwrap();
        assert!(c.is_support);
    }

    #[test]
    fn json_array_groups() {
        let c = caller(&claims(&[("sub", "u1"), ("groups", r#"["support"]"#)]), "groups").unwrap();
        assert!(c.is_support);
    }

    #[test]
    fn similar_group_is_not_support() {
        let c = caller(&claims(&[("sub", "u1"), ("groups", "[supporters]")]), "groups").unwrap();
        assert!(!c.is_support);
    }

    #[test]
    fn missing_sub_is_unauthenticated() {
        assert!(matches!(caller(&claims(&[]), "groups"), Err(ApiError::Unauthenticated)));
    }

    #[test]
    fn key_breaking_sub_is_unauthenticated() {
        let r = caller(&claims(&[("sub", "a#b")]), "groups");
        assert!(matches!(r, Err(ApiError::Unauthenticated)));
    }
}
