//! Lambda function `automation-events`: EventBridge (`aws.ssm`) → Slack prompt.

use approvals::config::process_env;
use approvals::deadline::Deadline;
use approvals::handlers::events::{EventsApp, handle_automation_event};
use approvals::ssm::{SdkRetries, config_loader};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

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
    let app = EventsApp::from_env(&process_env, config_loader(SdkRetries::BACKGROUND))
        .await
        .inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = Deadline::for_event(Some(event.context.deadline));
        handle_automation_event(app, &event.payload, &deadline).await
    }))
    .await
}
