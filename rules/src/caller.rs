//! Who is asking: the verified user and whether they are support staff. The HTTP shell
//! builds it from the authorizer's claims (`http::identity`); rules decide with it.

use crate::error::{ApiError, Code};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
    pub is_support: bool,
}

impl Caller {
    /// Support staff only; `what` says what they alone may do.
    pub fn require_support(&self, what: &str) -> Result<(), ApiError> {
        if !self.is_support {
            return Err(ApiError::forbidden(Code::SupportOnly, format!("only support {what}")));
        }
        Ok(())
    }

    /// Support acts only where they are not a party (separation of duties): a support
    /// user who is the buyer or the seller of an order may not resolve its dispute, decide
    /// its payment, mark its refund paid, or set their own level. `parties` are the user
    /// ids of the case; `what` says what was refused.
    pub fn require_not_party<'a>(
        &self,
        parties: impl IntoIterator<Item = &'a str>,
        what: &str,
    ) -> Result<(), ApiError> {
        if parties.into_iter().any(|party| party == self.user_id) {
            return Err(ApiError::forbidden(
                Code::ConflictOfInterest,
                format!("support may not {what} where they are a party; another support user must"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn support(id: &str) -> Caller {
        Caller { user_id: id.into(), is_support: true }
    }

    #[test]
    fn support_may_not_act_where_they_are_a_party() {
        let err = support("s1").require_not_party(["buyer", "s1"], "resolve this dispute").unwrap_err();
        assert_eq!((err.status(), err.problem_code()), (403, Code::ConflictOfInterest));
        assert!(support("s1").require_not_party(["buyer", "seller"], "resolve this dispute").is_ok());
        assert!(support("s1").require_not_party([], "decide this payment").is_ok());
    }
}
