//! A Sheba number: an Iranian IBAN (ISO 13616), `IR` and 24 digits, the first two of them
//! check digits that the rest must match (mod 97). Withdrawals are paid to one (issue 26).

use serde::{Deserialize, Serialize};

use crate::error::{ApiError, Code};

/// A Sheba number that passed its check, in its stored form (`IR` and 24 ASCII digits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sheba(String);

impl Sheba {
    /// Reads a Sheba number as people write it: spaces and dashes between groups, Persian
    /// or Arabic-Indic digits, `ir` in lower case. Anything else, or a wrong length or
    /// check, is `invalid_sheba`.
    pub fn parse(text: &str, field: &str) -> Result<Sheba, ApiError> {
        let refuse = |why: &str| ApiError::invalid(Code::InvalidSheba, field, why.to_owned());
        let mut normal = String::with_capacity(26);
        for c in text.trim().chars() {
            match c {
                ' ' | '-' | '\u{200c}' => {}
                '0'..='9' => normal.push(c),
                '۰'..='۹' => normal.push(char::from(b'0' + (c as u32 - '۰' as u32) as u8)),
                '٠'..='٩' => normal.push(char::from(b'0' + (c as u32 - '٠' as u32) as u8)),
                'I' | 'i' if normal.is_empty() => normal.push('I'),
                'R' | 'r' if normal == "I" => normal.push('R'),
                _ => return Err(refuse("a Sheba number is IR and 24 digits")),
            }
        }
        if normal.len() != 26 || !normal.starts_with("IR") {
            return Err(refuse("a Sheba number is IR and 24 digits"));
        }
        // ISO 13616: the country and check digits move to the end, letters become two
        // digits (I = 18, R = 27), and the whole number is 1 modulo 97.
        let rearranged = format!("{}1827{}", &normal[4..], &normal[2..4]);
        let remainder = rearranged.bytes().fold(0u32, |r, d| (r * 10 + u32::from(d - b'0')) % 97);
        if remainder != 1 {
            return Err(refuse("the Sheba number's check digits do not match it; check it for a typo"));
        }
        Ok(Sheba(normal))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Sheba {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Sheba::parse(&text, "sheba").map_err(|e| e.to_string())
    }
}

impl From<Sheba> for String {
    fn from(sheba: Sheba) -> String {
        sheba.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> Option<String> {
        Sheba::parse(text, "sheba").err().map(|e| e.code().to_owned())
    }

    #[test]
    fn a_sheba_number_is_ir_and_24_digits_that_pass_the_mod_97_check() {
        assert_eq!(Sheba::parse("IR062960000000100324200001", "sheba").unwrap().as_str(), "IR062960000000100324200001");
        assert_eq!(Sheba::parse("IR820540102680020817909002", "sheba").unwrap().as_str(), "IR820540102680020817909002");
        // As people write it: groups, lower case, Persian digits.
        let persian = "ir۰۶ ۲۹۶۰ ۰۰۰۰ ۰۰۱۰ ۰۳۲۴ ۲۰۰۰ ۰۱";
        assert_eq!(Sheba::parse(persian, "sheba").unwrap().as_str(), "IR062960000000100324200001");
        assert_eq!(
            Sheba::parse("IR06-2960-0000-0010-0324-2000-01", "sheba").unwrap().as_str(),
            "IR062960000000100324200001"
        );
    }

    #[test]
    fn a_typo_a_wrong_length_or_another_country_is_refused() {
        for bad in [
            "IR062960000000100324200002",  // one digit off: the check fails
            "IR602960000000100324200001",  // two digits swapped
            "IR06296000000010032420000",   // 23 digits
            "IR0629600000001003242000011", // 25 digits
            "DE89370400440532013000",      // a German IBAN
            "IR06296000000010032420000X",
            "",
            "0062960000000100324200001IR",
        ] {
            assert_eq!(code(bad).as_deref(), Some("invalid_sheba"), "{bad}");
        }
    }
}
