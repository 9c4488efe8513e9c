//! Field checks shared by every route: identifiers and free text. Text is stored exactly
//! as sent (no trimming, no normalisation), so Persian with ZWNJ, Arabic-script digits
//! and emoji round-trip byte for byte; lengths count Unicode scalar values.

use crate::error::{ApiError, Code};

/// A user id (the JWT `sub`): 1–128 characters of `[A-Za-z0-9._:@-]`. `#` is excluded
/// because it separates the parts of our table keys.
pub fn user_id(field: &str, value: &str) -> Result<(), ApiError> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:@-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ApiError::malformed(Code::InvalidId, Some(field), format!("{field} is not a valid user id")))
    }
}

/// An id we minted: a ULID.
pub fn ulid(field: &str, value: &str) -> Result<ulid::Ulid, ApiError> {
    ulid::Ulid::from_string(value)
        .map_err(|_| ApiError::malformed(Code::InvalidId, Some(field), format!("{field} is not a valid id")))
}

/// A payment provider's id (a Stripe PaymentIntent `pi_…`): 1–255 characters of
/// `[A-Za-z0-9_]`.
pub fn provider_id(field: &str, value: &str) -> Result<(), ApiError> {
    let ok = !value.is_empty() && value.len() <= 255 && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::malformed(Code::InvalidId, Some(field), format!("{field} is not a valid payment id")))
    }
}

/// Free text of `1..=max_chars` characters that is not only white space.
pub fn text(field: &str, value: &str, max_chars: usize) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::invalid(Code::Empty, field, format!("{field} must not be empty")));
    }
    if value.chars().count() > max_chars {
        return Err(ApiError::invalid(Code::TooLong, field, format!("{field} must be at most {max_chars} characters")));
    }
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err(ApiError::invalid(Code::ControlCharacter, field, format!("{field} contains a control character")));
    }
    Ok(())
}

/// A single-line name, such as a title or a file name: text without line breaks.
pub fn line(field: &str, value: &str, max_chars: usize) -> Result<(), ApiError> {
    text(field, value, max_chars)?;
    if value.contains(['\n', '\r', '\t']) {
        return Err(ApiError::invalid(Code::ControlCharacter, field, format!("{field} must be one line")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persian_with_zwnj_and_digits_counts_characters_not_bytes() {
        let s = "می‌خواهم ۱۲۳ 🎨";
        assert!(s.len() > 15);
        assert_eq!(s.chars().count(), 14);
        assert!(text("t", s, 14).is_ok());
        assert!(text("t", s, 13).is_err());
    }

    #[test]
    fn blank_is_empty() {
        assert!(matches!(text("t", " \n ", 10), Err(ApiError::Invalid { code: Code::Empty, .. })));
    }

    #[test]
    fn ids() {
        assert!(user_id("u", "auth0|x").is_err());
        assert!(user_id("u", "a#b").is_err());
        assert!(user_id("u", &"a".repeat(129)).is_err());
        assert!(user_id("u", "9f1c-user_42@example.com").is_ok());
        assert!(ulid("id", "not-a-ulid").is_err());
        assert!(ulid("id", &ulid::Ulid::new().to_string()).is_ok());
    }

    #[test]
    fn line_refuses_line_breaks() {
        assert!(line("title", "a\nb", 10).is_err());
        assert!(text("description", "a\nb", 10).is_ok());
    }
}
