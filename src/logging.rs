//! Logging for both functions, as Lambda's advanced logging controls configure it
//! (`AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`; JSON when `AWS_LAMBDA_LOG_FORMAT=JSON`),
//! with one difference from the runtime's default subscriber: other crates never log
//! below INFO, whatever the level. At TRACE the Lambda runtime writes each raw event
//! (a Slack click holds its `response_url` and signature headers), and HTTP and SDK
//! internals write requests; those lines are never produced. This crate's own
//! logging goes as low as asked, and never carries a secret at any level.

use lambda_runtime::tracing::subscriber::filter::{EnvFilter, LevelFilter, filter_fn};
use lambda_runtime::tracing::subscriber::layer::SubscriberExt;
use lambda_runtime::tracing::subscriber::util::SubscriberInitExt;
use tracing::{Level, Metadata};

/// Targets whose events may go below INFO: this crate and its two binaries.
const OWN_TARGETS: &[&str] = &["approvals", "automation_events", "slack_interactions"];

/// Whether an event or span may be recorded at all (before the level filter).
pub fn allowed(metadata: &Metadata<'_>) -> bool {
    *metadata.level() <= Level::INFO || is_own(metadata.target())
}

fn is_own(target: &str) -> bool {
    OWN_TARGETS.iter().any(|own| {
        target
            .strip_prefix(own)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

/// Installs the subscriber for a Lambda function (call once, first thing in `main`).
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy();
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = lambda_runtime::tracing::subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(filter);
    let capped = filter_fn(allowed);
    if json {
        builder.json().finish().with(capped).init();
    } else {
        builder.finish().with(capped).init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_crate_logs_below_info() {
        assert!(is_own("approvals"));
        assert!(is_own("approvals::handlers::interactions"));
        assert!(is_own("slack_interactions"));
        assert!(!is_own("approvals_fork"));
        assert!(!is_own("lambda_runtime::layers::api_response"));
        assert!(!is_own("aws_smithy_runtime::client::orchestrator"));
        assert!(!is_own("hyper_util"));
    }
}
