//! A minimal gig: the seller's service that offers name and reviews land under.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{ApiError, Code};
use crate::policy::Policy;
use crate::validate;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum GigStatus {
    #[default]
    Active,
    Paused,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gig {
    pub gig_id: String,
    pub seller_id: String,
    pub title: String,
    pub status: GigStatus,
    /// Review count and the sum of their ratings (1–5); the average is derived.
    pub rating_count: u64,
    pub rating_sum: u64,
    /// How many reviews gave 1, 2, 3, 4 and 5 stars.
    #[serde(default)]
    pub rating_stars: [u64; 5],
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /v1/gigs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewGig {
    pub title: String,
    #[serde(default)]
    pub status: GigStatus,
}

/// `PATCH /v1/gigs/{gig_id}`: the fields to change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GigPatch {
    pub title: Option<String>,
    pub status: Option<GigStatus>,
}

impl NewGig {
    pub fn into_gig(
        self,
        policy: &Policy,
        gig_id: String,
        seller_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Gig, ApiError> {
        validate::line("title", &self.title, policy.gig_title_max)?;
        Ok(Gig {
            gig_id,
            seller_id: seller_id.to_owned(),
            title: self.title,
            status: self.status,
            rating_count: 0,
            rating_sum: 0,
            rating_stars: [0; 5],
            created_at: now,
            updated_at: now,
        })
    }
}

impl GigPatch {
    pub fn check(&self, policy: &Policy) -> Result<(), ApiError> {
        if self.title.is_none() && self.status.is_none() {
            return Err(ApiError::invalid(Code::EmptyPatch, "body", "name at least one of title, status"));
        }
        if let Some(title) = &self.title {
            validate::line("title", title, policy.gig_title_max)?;
        }
        Ok(())
    }
}

impl Gig {
    pub fn view(&self) -> Value {
        // Two decimals, computed in integers: 4.67 for 14 / 3.
        let average = (self.rating_count > 0)
            .then(|| ((self.rating_sum * 100 + self.rating_count / 2) / self.rating_count) as f64 / 100.0);
        json!({
            "gig_id": self.gig_id,
            "seller_id": self.seller_id,
            "title": self.title,
            "status": self.status,
            "rating": {
                "count": self.rating_count,
                "average": average,
                "stars": {
                    "1": self.rating_stars[0],
                    "2": self.rating_stars[1],
                    "3": self.rating_stars[2],
                    "4": self.rating_stars[3],
                    "5": self.rating_stars[4],
                },
            },
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_is_rounded_to_two_decimals() {
        let mut g = NewGig { title: "t".into(), status: GigStatus::Active }
            .into_gig(&Policy::default(), "01GIG".into(), "s", Utc::now())
            .unwrap();
        assert_eq!(g.view()["rating"]["average"], Value::Null);
        g.rating_count = 3;
        g.rating_sum = 14;
        assert_eq!(g.view()["rating"]["average"], json!(4.67));
    }

    #[test]
    fn an_empty_patch_is_refused() {
        let p = GigPatch { title: None, status: None };
        assert!(matches!(p.check(&Policy::default()), Err(ApiError::Invalid { code: Code::EmptyPatch, .. })));
    }
}
