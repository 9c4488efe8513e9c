//! Structured JSON logs for CloudWatch, set up once per cold start.

pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    // A second init (the local gateway hosts many functions) keeps the first.
    let _ =
        tracing_subscriber::fmt().json().with_env_filter(filter).with_current_span(false).with_ansi(false).try_init();
}
