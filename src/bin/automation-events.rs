//! Lambda function `automation-events`: EventBridge (`aws.ssm`) → Slack prompt.

use approvals::config::process_env;
use approvals::handlers::events::{EventsApp, handle_automation_event};
use approvals::ssm::{CallBudget, config_loader};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let app = EventsApp::from_env(&process_env, config_loader(CallBudget::BACKGROUND))
        .await
        .inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handle_automation_event(app, &event.payload).await
    }))
    .await
}
