//! `/approvals`: what waits now, for someone who may decide, answered in the HTTP
//! response itself.
//!
//! With approvers named (`SLACK_APPROVERS` of users and groups), each entry carries
//! its own buttons, which decide exactly as the prompt's do. Under `*` ("anyone who can
//! see the prompt") the list would reach people the prompt does not (a guest, someone
//! outside the private channel a route sends the runbook to), so it carries no
//! buttons: each entry links to its prompt (`chat.getPermalink`), where whoever can
//! see it decides. Slack opens the link only for people who can read that channel.

use std::time::Duration;

use lambda_http::{Body, Response};
use serde_json::json;
use tracing::Instrument;

use super::decision::REPLY_RESERVE;
use super::{InteractionsApp, json_response};
use crate::deadline::{Deadline, unix_now};
use crate::domain::execution::{Execution, Step};
use crate::domain::interaction::{APPROVALS_COMMAND, SlashCommand};
use crate::domain::render::{code, escape};
use crate::domain::views::{LISTED_MAX, Listed, ephemeral, waiting_list};
use crate::domain::waiting::{StepKind, waiting_step};

/// Kept back from listing pages for reading the listed executions' steps.
const LIST_READS: Duration = Duration::from_millis(700);

pub(super) async fn answer(
    app: &InteractionsApp,
    command: SlashCommand,
    deadline: &Deadline,
) -> Response<Body> {
    let span = tracing::info_span!("command", command = %command.command, user_id = %command.actor.user.id);
    async {
        if command.command != APPROVALS_COMMAND {
            tracing::warn!("a slash command that is not ours");
            return json_response(&ephemeral(&format!(
                "This app answers {APPROVALS_COMMAND} only."
            )));
        }
        // The list must be answered in the response itself: keep time to send it.
        let listing = deadline.keeping(REPLY_RESERVE);
        if let Err(refusal) = app
            .authorizer
            .authorize(&app.slack, &command.actor, &listing)
            .await
        {
            tracing::info!(%refusal, "list refused");
            return json_response(&ephemeral(&refusal));
        }
        let (waiting, complete) = match app.ssm.waiting_executions(&listing, LIST_READS).await {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(error = %e, "could not list waiting executions");
                return json_response(&ephemeral(&format!(
                    "The waiting runbooks could not be listed ({}). Please try again.",
                    escape(e.code().unwrap_or("no answer in time"))
                )));
            }
        };
        let shown = &waiting[..waiting.len().min(LISTED_MAX)];
        let reads = shown.iter().map(|w| app.ssm.get_execution(&w.id, &listing));
        // Concurrently, each bounded by the deadline; in order.
        let executions = futures_util::future::join_all(reads).await;
        // Each entry: the step a person may decide from Slack, or why it cannot be.
        let entries: Vec<Result<(&Execution, &Step, StepKind), String>> = shown
            .iter()
            .zip(&executions)
            .map(|(summary, read)| {
                let Ok(execution) = read else {
                    return Err("its steps could not be read in time".into());
                };
                match waiting_step(execution) {
                    Some((_, StepKind::Pause))
                        if !app.resumable.matches(&execution.document_name) =>
                    {
                        Err("paused: resume it in the console".into())
                    }
                    Some((step, kind)) => Ok((execution, step, kind)),
                    None => Err(format!(
                        "waits on {}: decide in the console",
                        code(summary.current_action.as_deref().unwrap_or("another step"))
                    )),
                }
            })
            .collect();
        let permalinks = if app.authorizer.decides_from_lists() {
            vec![None; entries.len()]
        } else {
            let links = entries.iter().map(|entry| async move {
                let (execution, step, _) = entry.as_ref().ok()?;
                prompt_link(app, execution, step, &listing).await
            });
            futures_util::future::join_all(links).await
        };
        let listed: Vec<Listed> = shown
            .iter()
            .zip(entries)
            .zip(permalinks)
            .map(|((summary, entry), permalink)| match entry {
                Ok((execution, step, kind)) if app.authorizer.decides_from_lists() => {
                    Listed::Decidable {
                        execution,
                        step,
                        kind,
                    }
                }
                Ok((execution, step, kind)) => Listed::Linked {
                    execution,
                    step,
                    kind,
                    permalink,
                },
                Err(why) => Listed::Elsewhere {
                    execution_id: summary.id.as_str(),
                    document_name: &summary.document_name,
                    why,
                },
            })
            .collect();
        let more = waiting.len() - shown.len();
        let message = waiting_list(
            &listed,
            more,
            complete,
            unix_now(),
            &app.region,
            app.style(),
        );
        tracing::info!(waiting = waiting.len(), complete, "list answered");
        json_response(
            &json!({"response_type": "ephemeral", "text": message.text, "blocks": message.blocks}),
        )
    }
    .instrument(span)
    .await
}

/// The link to a waiting step's prompt, if it was posted and Slack gives one.
async fn prompt_link(
    app: &InteractionsApp,
    execution: &Execution,
    step: &Step,
    deadline: &Deadline,
) -> Option<String> {
    let record = match app.store.get(&execution.id, step.key(), deadline).await {
        Ok(record) => record?,
        Err(e) => {
            tracing::warn!(error = %e, "could not read where the prompt is");
            return None;
        }
    };
    let prompt = record.prompt?;
    match app
        .slack
        .permalink(&prompt.channel, &prompt.ts, deadline)
        .await
    {
        Ok(link) => Some(link),
        Err(e) => {
            tracing::warn!(error = %e, "could not link the prompt");
            None
        }
    }
}
