//! Reconciliation (issue 26): once a day (the sweeper asks every run; the first run an
//! hour after midnight UTC does it), the ledger's provider account is compared with the
//! provider's records, order by order, for every order that moved money with the
//! provider that day on either side. The report is kept for support, once per day and
//! provider, and its mismatch count is logged for the `ReconciliationMismatches` metric.
//!
//! The provider's records: Stripe's, read from its API (each of the order's
//! PaymentIntents: its amount once it succeeded, less its refunds that succeeded; and the
//! charges of the day, so money the ledger never booked is found). Zarinpal offers no
//! API to list or read a payment without acting on it: a verified payment is asked again
//! (`verify` answers 101, already verified, for the amount it holds), and its refunds are
//! what its refund service answered, as the refund records keep them.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};

use crate::adapters::payments::Payments;
use crate::adapters::zarinpal::Verification;
use crate::flows::App;
use peyman_rules::error::ApiError;
use peyman_rules::ledger::Entry;
use peyman_rules::payment::{Payment, Refund, RefundStatus};
use peyman_rules::reconciliation::{self, Report, bounds, compare};

/// Reconciles yesterday with this deployment's provider, if it is due and not done yet.
pub async fn daily(app: &App, now: DateTime<Utc>) -> Result<Option<Report>, ApiError> {
    let Some(day) = reconciliation::due_day(now) else { return Ok(None) };
    let provider = app.payments.provider();
    if app.store.reconciliation(provider, day).await?.is_some() {
        return Ok(None);
    }
    let report = run(app, day, now).await?;
    match app.store.save_reconciliation(&report).await {
        // A sweep beside this one kept its report first: one per day.
        Err(ApiError::Conflict { .. }) => return Ok(None),
        saved => saved?,
    }
    // The `ReconciliationMismatches` metric is read from this line (the template's filter).
    let (checked, mismatched) = (report.checked, report.mismatched);
    tracing::info!(provider, day = %day, checked, mismatched, "reconciliation ran");
    Ok(Some(report))
}

/// Compares the ledger with the provider for every order that moved money with it on
/// `day`, on either side.
pub async fn run(app: &App, day: NaiveDate, now: DateTime<Utc>) -> Result<Report, ApiError> {
    let provider = app.payments.provider();
    // Each order to check, with the provider's ids of its payments.
    let mut orders: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for entry in app.store.provider_entries(provider, day).await? {
        if let Some(order_id) = entry.order_id {
            orders.entry(order_id).or_default();
        }
    }
    if let Payments::Stripe(stripe) = &app.payments {
        let (from, to) = bounds(day);
        for intent in stripe.charged_intents(from, to).await? {
            let order_id = match app.store.payment(&intent).await? {
                Some(payment) if !payment.order_id.is_empty() => Some(payment.order_id),
                // Never recorded (its webhook is lost): Stripe's metadata names the
                // order, if the intent is ours at all.
                _ => stripe.intent_net(&intent).await?.map(|(order_id, _)| order_id),
            };
            if let Some(order_id) = order_id {
                orders.entry(order_id).or_default().insert(intent);
            }
        }
    }
    let (mut compared, mut unread) = (Vec::new(), Vec::new());
    for (order_id, mut intents) in orders {
        let entries = app.store.order_ledger(&order_id).await?;
        let ledger: i64 = entries.iter().filter(|e| e.provider() == Some(provider)).map(Entry::with_provider).sum();
        let (payments, refunds) = app.store.order_payments(&order_id).await?;
        intents.extend(payments.iter().map(|p| p.intent_id.clone()));
        let mut held = Some(0);
        for intent in &intents {
            let payment = payments.iter().find(|p| &p.intent_id == intent);
            match provider_holds(app, intent, payment, &refunds).await {
                Ok(holds) => held = held.map(|sum| sum + holds),
                // One payment the provider fails on leaves its order to support, not the
                // day unreconciled.
                Err(e) => {
                    tracing::warn!(order_id, intent, error = %e, "a payment's provider records could not be read");
                    held = None;
                }
            }
        }
        let Some(held) = held else {
            unread.push(order_id);
            continue;
        };
        let currency = payments.first().map(|p| p.amount.currency.clone());
        let currency = currency.or_else(|| entries.first().map(|e| e.currency.clone())).unwrap_or_default();
        compared.push(compare(&order_id, &currency, ledger, held, intents.into_iter().collect()));
    }
    Ok(Report::new(provider, day, now, compared, unread))
}

/// What the provider holds of one payment, by its own records.
async fn provider_holds(
    app: &App,
    intent: &str,
    payment: Option<&Payment>,
    refunds: &[Refund],
) -> Result<i64, ApiError> {
    match &app.payments {
        Payments::Stripe(stripe) => Ok(stripe.intent_net(intent).await?.map_or(0, |(_, net)| net)),
        Payments::Zarinpal(zarinpal) => {
            // Only a payment we verified is asked again: asking verifies, which for one
            // not verified yet would take the money (`flows::zarinpal` decides those).
            let Some(payment) = payment.filter(|p| p.receipt.is_some()) else { return Ok(0) };
            let paid = match zarinpal.verify(intent, payment.amount.amount).await? {
                Verification::Verified { .. } | Verification::AlreadyVerified { .. } => payment.amount.amount,
                Verification::Refused { .. } => 0,
            };
            let refunded: i64 = refunds
                .iter()
                .filter(|r| r.intent_id == intent && r.status == RefundStatus::Confirmed)
                .map(|r| r.amount.amount)
                .sum();
            Ok(paid - refunded)
        }
    }
}

/// The latest reports with this deployment's provider, newest first (support only).
pub async fn reports(app: &App, support: &peyman_rules::caller::Caller, limit: i32) -> Result<Vec<Report>, ApiError> {
    support.require_support("reads the reconciliation reports")?;
    app.store.reconciliations(app.payments.provider(), limit).await
}
