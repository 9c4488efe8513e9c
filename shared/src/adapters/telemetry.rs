//! Structured JSON logs for CloudWatch, set up once per cold start.
//!
//! `RUST_LOG` names one level (`error`, `warn`, `info`, `debug`, `trace` or `off`; the
//! template sets `info`). Per-module directives would need tracing-subscriber's
//! env-filter, whose regex automata made every zip a few hundred KB larger (issue 12).

use tracing_subscriber::filter::LevelFilter;

pub fn init() {
    let level = level(std::env::var("RUST_LOG").ok().as_deref());
    // A second init (the local gateway hosts many functions) keeps the first.
    let _ = tracing_subscriber::fmt().json().with_max_level(level).with_current_span(false).with_ansi(false).try_init();
}

/// The level `RUST_LOG` names; `info` when it is unset or names no level.
fn level(setting: Option<&str>) -> LevelFilter {
    setting.and_then(|s| s.trim().parse().ok()).unwrap_or(LevelFilter::INFO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_names_one_level_and_anything_else_is_info() {
        assert_eq!(level(Some("debug")), LevelFilter::DEBUG);
        assert_eq!(level(Some("WARN")), LevelFilter::WARN);
        assert_eq!(level(Some("off")), LevelFilter::OFF);
        assert_eq!(level(None), LevelFilter::INFO);
        assert_eq!(level(Some("peyman=debug")), LevelFilter::INFO);
    }
}
