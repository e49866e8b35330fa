//! Lambda function `slack-interactions`: Slack button clicks (API Gateway HTTP API,
//! Function URL or REST API events) → `SendAutomationSignal`.

use approvals::config::process_env;
use approvals::handlers::interactions::{InteractionsApp, handle_slack_request};
use approvals::ssm::{CallBudget, config_loader};
use lambda_http::{Error, Request, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let app = InteractionsApp::from_env(&process_env, config_loader(CallBudget::INTERACTIVE))
        .await
        .inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let app = &app;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(handle_slack_request(app, request).await)
    }))
    .await
}
