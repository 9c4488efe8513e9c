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
}
