//! Canonical JSON for hashing, per RFC 8785 (JCS) for the values we hash: object members
//! sorted by key, no insignificant white space, strings escaped as ECMAScript does
//! (serde_json agrees: `\"`, `\\`, `\b\f\n\r\t`, other controls as `\u00xx`, everything
//! else literal UTF-8). Our hashed values hold only integers, strings, booleans, null,
//! arrays and objects with ASCII keys, where serde_json's sorted map matches JCS's
//! UTF-16 key order; floats, which JCS formats specially, never occur.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The canonical form of `value`.
pub fn to_string<T: Serialize>(value: &T) -> String {
    // Going through `Value` sorts every object's members (serde_json's map is ordered).
    let value = serde_json::to_value(value).expect("our hashed types always serialize");
    debug_assert!(!has_float(&value), "floats are not hashed");
    value.to_string()
}

/// `sha256:` and the hex SHA-256 of the canonical form.
pub fn sha256<T: Serialize>(value: &T) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(to_string(value).as_bytes())))
}

fn has_float(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Number(n) => n.is_f64(),
        serde_json::Value::Array(a) => a.iter().any(has_float),
        serde_json::Value::Object(o) => o.values().any(has_float),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn members_are_sorted_and_whitespace_dropped() {
        let v = json!({ "b": [1, { "z": null, "a": true }], "a": "x" });
        assert_eq!(to_string(&v), r#"{"a":"x","b":[1,{"a":true,"z":null}]}"#);
    }

    #[test]
    fn strings_escape_like_jcs() {
        // RFC 8785 §3.2.2.2: controls as short escapes or \u00xx (lowercase), the rest literal.
        let v = json!({ "s": "\u{0008}\u{000c}\n\r\t\u{001f}\"\\/ می‌کنم €" });
        assert_eq!(to_string(&v), "{\"s\":\"\\b\\f\\n\\r\\t\\u001f\\\"\\\\/ می‌کنم €\"}");
    }

    #[test]
    fn the_hash_is_stable_across_field_order() {
        let a: serde_json::Value = serde_json::from_str(r#"{"x":1,"y":"۲"}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{ "y" : "۲", "x" : 1 }"#).unwrap();
        assert_eq!(sha256(&a), sha256(&b));
        assert_eq!(sha256(&json!({})), "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
    }
}
