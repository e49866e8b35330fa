//! Before anything is claimed or asked of the step's account: whether this person may
//! decide this step, and with which AWS identity the decision is signalled there.

use std::time::Duration;

use aws_sdk_ssm::config::Credentials;
use tokio::time::Instant;

use super::DecisionRequest;
use crate::deadline::Deadline;
use crate::domain::approvers::ApproverPolicy;
use crate::domain::inbound::Decision;
use crate::domain::messages::text::{code, escape, truncate};
use crate::handlers::interactions::InteractionsApp;
use crate::places::PlaceError;
use crate::sessions::SessionError;

/// Who may decide, and from where: nothing here asks AWS about the step.
pub(super) async fn may_decide(
    app: &InteractionsApp,
    request: &DecisionRequest<'_>,
    deadline: &Deadline,
) -> Result<(), String> {
    app.places
        .check(&request.place)
        .map_err(|e| cannot_reach(&e))?;
    let applied = app
        .authorizer
        .applied(&request.place, request.target.runbook.as_deref(), deadline)
        .await?;
    app.authorizer
        .authorize(&app.slack, request.actor, &applied.approvers, deadline)
        .await?;
    if request.from_ephemeral && applied.approvers == ApproverPolicy::Anyone {
        tracing::warn!("a click from a list where anyone may decide; nothing done");
        return Err(
            "Nothing was done: decide on its prompt in the channel. With approvers set \
                    to anyone who can see the prompt, a runbook is decided on its prompt only."
                .into(),
        );
    }
    if request.decision == Decision::Resume {
        let refused = match &request.target.runbook {
            _ if app.resumable.is_empty() => true,
            Some(runbook) => !app.resumable.matches(runbook),
            // An older button names no runbook: checked once SSM names it.
            None => false,
        };
        if refused {
            tracing::warn!("resume refused: the runbook is not in SLACK_RESUME_PREFIXES");
            return Err(cannot_resume(request.target.runbook.as_deref()));
        }
    }
    Ok(())
}

/// What a person is told when the step's account cannot be reached.
pub(super) fn cannot_reach(e: &PlaceError) -> String {
    match e.account() {
        Some(account) if e.is_refusal() => format!(
            "Nothing was done: this deployment cannot act in AWS account {} ({}). \
             Ask whoever runs it to deploy the spoke stack there.",
            code(account),
            escape(&truncate(&e.to_string(), 300))
        ),
        Some(account) => format!(
            "Nothing was done: AWS account {} could not be reached in time. \
             The request still waits; please try again.",
            code(account)
        ),
        None => "Nothing was done: the step's AWS account could not be reached in time. \
                 The request still waits; please try again."
            .into(),
    }
}

pub(super) fn cannot_resume(runbook: Option<&str>) -> String {
    let which = runbook.map_or_else(
        || "this runbook".to_owned(),
        |r| format!("runbook {}", code(r)),
    );
    format!("Nothing was done: {which} cannot be resumed from Slack. Resume it in the AWS console.")
}

/// The person's own STS session, when decisions are signalled per person.
pub(super) async fn person_session(
    app: &InteractionsApp,
    request: &DecisionRequest<'_>,
    deadline: &Deadline,
) -> Result<Option<Credentials>, String> {
    let Some(role) = app.places.approver_role_for(&request.place) else {
        return Ok(None);
    };
    let started = Instant::now();
    match app
        .sessions
        .credentials_for(&role, &request.actor.user.id, deadline, Duration::ZERO)
        .await
    {
        Ok((credentials, new)) => {
            tracing::info!(
                new,
                sts_ms = started.elapsed().as_secs_f64() * 1000.0,
                "approver session ready"
            );
            Ok(Some(credentials))
        }
        Err(SessionError::Name(e)) => {
            tracing::warn!(error = %e, "no AWS session can be named after this user");
            Err(format!(
                "Nothing was done: your Slack user ID cannot name an AWS session ({}).",
                escape(&e.to_string())
            ))
        }
        Err(e) => {
            tracing::error!(error = %e, "could not start the person's AWS session");
            Err(format!(
                "Nothing was done: your AWS approver session could not be started ({}). \
                 The request still waits; please try again.",
                escape(e.code().unwrap_or("no answer in time"))
            ))
        }
    }
}
