//! Reconciliation (issue 26): once a day, what the ledger says each payment provider
//! holds for us is compared, order by order, with what the provider's own records say;
//! every order where the two differ is listed for support. An order is checked when the
//! ledger booked a movement with the provider for it that day, or the provider took money
//! for it that day: so money the ledger never booked is found too.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// How long after a day ends its reconciliation waits: a webhook of the day's last minute
/// has arrived by then (Stripe delivers within seconds, and retries for three days; one
/// still missing after this is worth support's look).
pub const GRACE: Duration = Duration::hours(1);

/// The most mismatches a report lists (its item stays far under DynamoDB's 400 KB); the
/// count is kept beyond it.
pub const LISTED: usize = 200;

/// One order whose books and whose provider disagree: the provider's account on the
/// ledger (paid in, less refunds confirmed and chargebacks) against the provider's net
/// (its payments that succeeded, less its refunds that did).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    pub order_id: String,
    pub currency: String,
    pub ledger: i64,
    pub provider: i64,
    /// The provider's ids of the order's payments.
    pub payments: Vec<String>,
}

/// A day's reconciliation with one provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub provider: String,
    pub day: NaiveDate,
    pub ran_at: DateTime<Utc>,
    /// Orders compared.
    pub checked: usize,
    /// Orders that differ (all of them, though at most [`LISTED`] are listed).
    pub mismatched: usize,
    pub mismatches: Vec<Mismatch>,
    /// Orders whose provider records could not be read (the provider failed on them):
    /// support checks them by hand; the rest of the day is still reconciled.
    #[serde(default)]
    pub unread: Vec<String>,
}

impl Report {
    pub fn new(
        provider: &str,
        day: NaiveDate,
        ran_at: DateTime<Utc>,
        compared: Vec<Option<Mismatch>>,
        unread: Vec<String>,
    ) -> Report {
        let checked = compared.len();
        let mut mismatches: Vec<Mismatch> = compared.into_iter().flatten().collect();
        let mismatched = mismatches.len();
        mismatches.sort_by(|a, b| a.order_id.cmp(&b.order_id));
        mismatches.truncate(LISTED);
        Report { provider: provider.to_owned(), day, ran_at, checked, mismatched, mismatches, unread }
    }
}

/// The order's two sides, as a mismatch if they differ.
pub fn compare(order_id: &str, currency: &str, ledger: i64, provider: i64, payments: Vec<String>) -> Option<Mismatch> {
    (ledger != provider).then(|| Mismatch {
        order_id: order_id.to_owned(),
        currency: currency.to_owned(),
        ledger,
        provider,
        payments,
    })
}

/// The day to reconcile at `now`: yesterday (UTC), once its grace has passed.
pub fn due_day(now: DateTime<Utc>) -> Option<NaiveDate> {
    let yesterday = (now - Duration::days(1)).date_naive();
    let ended = yesterday.succ_opt()?.and_hms_opt(0, 0, 0)?.and_utc();
    (now >= ended + GRACE).then_some(yesterday)
}

/// Where `day` begins and ends (UTC).
pub fn bounds(day: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    (start, start + Duration::days(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn yesterday_is_reconciled_once_its_grace_has_passed() {
        assert_eq!(due_day(at("2026-12-07T00:59:59Z")), None, "its last webhooks may still come");
        assert_eq!(due_day(at("2026-12-07T01:00:00Z")), NaiveDate::from_ymd_opt(2026, 12, 6));
        assert_eq!(due_day(at("2026-12-07T23:59:59Z")), NaiveDate::from_ymd_opt(2026, 12, 6));
        let (start, end) = bounds(NaiveDate::from_ymd_opt(2026, 12, 6).unwrap());
        assert_eq!((start, end), (at("2026-12-06T00:00:00Z"), at("2026-12-07T00:00:00Z")));
    }

    #[test]
    fn only_orders_whose_sides_differ_are_listed_and_counted() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        let compared = vec![
            compare("o1", "IRR", 5, 5, vec![]),
            compare("o3", "IRR", 12_000_000, 7_000_000, vec!["pi_3".into()]),
            compare("o2", "IRR", 0, 9, vec!["pi_2".into()]),
        ];
        let report = Report::new("stripe", day, at("2026-12-07T01:00:00Z"), compared, vec!["o4".into()]);
        assert_eq!((report.checked, report.mismatched), (3, 2));
        assert_eq!(report.mismatches.iter().map(|m| m.order_id.as_str()).collect::<Vec<_>>(), ["o2", "o3"]);
    }
}
