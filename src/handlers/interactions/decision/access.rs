//! Before anything is claimed or asked of the step's account: whether the deployment
//! serves it and this person may decide it (asked of [`crate::permissions`]), and with
//! which AWS identity the decision is signalled there.

use std::time::Duration;

use aws_sdk_ssm::config::Credentials;
use tokio::time::Instant;

use super::DecisionRequest;
use crate::deadline::Deadline;
use crate::domain::execution::Execution;
use crate::domain::inbound::Decision;
use crate::domain::messages::text::{code, escape, truncate};
use crate::domain::record::StepRecord;
use crate::domain::rules::AppliedRule;
use crate::domain::starter::SelfApproval;
use crate::handlers::interactions::app::InteractionsApp;
use crate::permissions::{StepFacts, Surface, starter_refused};
use crate::places::PlaceError;
use crate::sessions::SessionError;

/// Who may decide, and from where: nothing here asks AWS about the step. Judged on
/// what the button names, by [`crate::permissions`].
pub(super) async fn may_decide(
    app: &InteractionsApp,
    request: &DecisionRequest<'_>,
    deadline: &Deadline,
) -> Result<(), String> {
    app.places.serves(&request.place).map_err(|e| {
        refused("not_served");
        cannot_reach(&e)
    })?;
    let facts = StepFacts {
        place: &request.place,
        runbook: request.target.runbook.as_deref(),
        kind: request.decision.step_kind(),
        starter: None,
    };
    app.permissions
        .may_decide(&app.slack, request.actor, facts, surface(request), deadline)
        .await
        .map(|_| ())
        .inspect_err(|_| refused("not_allowed"))
}

/// Counts a click refused before anything was signalled, by why.
fn refused(reason: &str) {
    crate::metrics::refusal(reason);
}

/// The permission boundary again, before anything is signalled, on the facts SSM
/// reports: the execution's runbook as SSM names it, in the account and Region where
/// SSM found the execution (an execution ID is found only where it runs). A button is
/// only what this app once wrote, and Slack signs whatever request it forwards: one
/// that names another runbook decides nothing. `Ok`: the rule that applies.
pub(super) async fn may_decide_what_ssm_reports(
    app: &InteractionsApp,
    request: &DecisionRequest<'_>,
    execution: &Execution,
    deadline: &Deadline,
) -> Result<AppliedRule, String> {
    let runbook = execution.document_name.as_str();
    if let Some(named) = request.target.runbook.as_deref()
        && named != runbook
    {
        tracing::warn!(button_runbook = %named, ssm_runbook = %runbook,
            "refused: the button names another runbook than SSM reports; nothing signalled");
        refused("other_runbook");
        return Err(format!(
            "Nothing was done: this button names runbook {}, but the execution runs {}. \
             Decide it from its own prompt, /approvals or the AWS console.",
            code(&truncate(named, 200)),
            code(&truncate(runbook, 200))
        ));
    }
    let facts = StepFacts {
        place: &request.place,
        runbook: Some(runbook),
        kind: request.decision.step_kind(),
        starter: None,
    };
    app.permissions
        .may_decide(&app.slack, request.actor, facts, surface(request), deadline)
        .await
        .inspect_err(|_| refused("not_allowed"))
}

/// Separation of duties, before an Approve is signalled: the run's starter (SSM's
/// `ExecutedBy`) as matched when its prompt was posted, from the record the claim
/// already read; matched now (the identity map, a cached or fresh
/// `users.lookupByEmail`) only when the record has no settled match for that very
/// principal. A lookup that fails refuses the Approve (fail closed).
pub(super) async fn not_the_starter(
    app: &InteractionsApp,
    request: &DecisionRequest<'_>,
    execution: &Execution,
    record: &StepRecord,
    rule: &AppliedRule,
    deadline: &Deadline,
) -> Result<(), String> {
    let Some(principal) = execution.executed_by.as_deref() else {
        return Ok(());
    };
    if request.decision != Decision::Approve || rule.self_approval == SelfApproval::Allowed {
        return Ok(());
    }
    let matched_now;
    let starter = match record.starter.as_ref().filter(|s| s.settled_for(principal)) {
        Some(starter) => starter,
        None => {
            let rules = app.permissions.rules(deadline).await;
            matched_now = app
                .starters
                .resolve(&app.slack, rules.identities(), principal, deadline)
                .await;
            &matched_now
        }
    };
    starter_refused(rule, Some(starter), &request.actor.user.id).inspect_err(|_| {
        refused("self_approval");
        tracing::info!(people = ?starter.people, unchecked = starter.unchecked_email.is_some(),
            "refused: an Approve by the run's starter, or one Slack could not clear; nothing signalled");
    })
}

fn surface(request: &DecisionRequest<'_>) -> Surface {
    if request.from_list {
        Surface::List
    } else {
        Surface::Prompt
    }
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
            refused("no_session");
            Err(format!(
                "Nothing was done: your Slack user ID cannot name an AWS session ({}).",
                escape(&e.to_string())
            ))
        }
        Err(e) => {
            tracing::error!(error = %e, "could not start the person's AWS session");
            refused("no_session");
            Err(format!(
                "Nothing was done: your AWS approver session could not be started ({}). \
                 The request still waits; please try again.",
                escape(e.code().unwrap_or("no answer in time"))
            ))
        }
    }
}
