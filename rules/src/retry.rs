//! When to try again something that failed (a timer, a refund the provider refused or
//! never answered), and when to stop and set it aside for people: a poison item must
//! never block the ones behind it, and nothing is retried for ever or dropped silently.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Exponential backoff: `first` after the first failure, doubling, at most `longest`;
/// after `attempts` failures the item is parked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub longest: Duration,
    pub attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { first: Duration::from_secs(30), longest: Duration::from_secs(6 * 3600), attempts: 8 }
    }
}

/// What to do after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Try again at this time.
    RetryAt(DateTime<Utc>),
    /// Enough: set it aside where support sees it.
    Park,
}

impl Backoff {
    /// After `failures` failures in all (the one just seen included).
    pub fn after(&self, failures: u32, now: DateTime<Utc>) -> Next {
        if failures >= self.attempts {
            return Next::Park;
        }
        let factor = 1u32.checked_shl(failures.saturating_sub(1)).unwrap_or(u32::MAX);
        let wait = self.first.saturating_mul(factor).min(self.longest);
        Next::RetryAt(now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_longest_then_the_item_is_parked() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let backoff = Backoff { first: Duration::from_secs(30), longest: Duration::from_secs(100), attempts: 5 };
        let waits: Vec<Next> = (1..=5).map(|n| backoff.after(n, now)).collect();
        let at = |s| Next::RetryAt(now + chrono::Duration::seconds(s));
        assert_eq!(waits, [at(30), at(60), at(100), at(100), Next::Park]);
        // A zero wait (the tests' stacks) retries at the next sweep.
        let eager = Backoff { first: Duration::ZERO, ..backoff };
        assert_eq!(eager.after(1, now), Next::RetryAt(now));
        // Far past any sensible count nothing overflows.
        let long = Backoff { attempts: u32::MAX, ..backoff };
        assert_eq!(long.after(200, now), at(100));
    }
}
