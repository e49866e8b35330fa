//! Lambda function `slack-interactions`: Slack button clicks (API Gateway HTTP API,
//! Function URL or REST API events) → `SendAutomationSignal`.

use approvals::config::process_env;
use approvals::handlers::interactions::{InteractionsApp, handle_slack_request};
use approvals::ssm::{SdkRetries, config_loader};
use lambda_http::{Error, Request, service_fn};

fn main() -> Result<(), Error> {
    // Before any thread: one CA bundle file instead of a directory of certificates.
    let bundle = approvals::ca_bundle::prefer_one_bundle();
    run(bundle)
}

#[tokio::main(flavor = "current_thread")]
async fn run(bundle: Option<&'static str>) -> Result<(), Error> {
    approvals::logging::init();
    if let Some(bundle) = bundle {
        tracing::debug!(bundle, "root certificates from this CA bundle");
    }
    let app = InteractionsApp::from_env(&process_env, config_loader(SdkRetries::INTERACTIVE))
        .await
        .inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let app = &app;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(handle_slack_request(app, request).await)
    }))
    .await
}
