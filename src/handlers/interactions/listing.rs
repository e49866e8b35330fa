//! What `/approvals` and the Home tab share: which entries a person sees (asked of
//! [`crate::permissions`]), the links to their prompts, and the entries as listed.

use super::app::InteractionsApp;
use crate::deadline::Deadline;
use crate::domain::inbound::Actor;
use crate::domain::messages::list::Listed;
use crate::domain::messages::text::escape;
use crate::domain::record::WaitingStep;
use crate::domain::rules::Rules;
use crate::permissions::{Listing, StepFacts};
use crate::store::StoreError;

/// Whether and how `actor` sees `step` listed under the rules, with no AWS call:
/// `None` if not; a link to its prompt if anyone who sees the prompt may decide it,
/// or if nobody may decide it from Slack.
pub(super) async fn listable(
    app: &InteractionsApp,
    actor: &Actor,
    rules: &Rules,
    step: &WaitingStep,
    deadline: &Deadline,
) -> Option<Listing> {
    app.places.serves(&step.place).ok()?;
    let facts = StepFacts {
        place: &step.place,
        runbook: Some(&step.runbook),
        kind: step.kind,
        starter: step.starter.as_ref(),
    };
    app.permissions
        .may_see(&app.slack, actor, rules, facts, deadline)
        .await
}

/// The links to the prompts of the entries listed as links, at once.
pub(super) async fn permalinks(
    app: &InteractionsApp,
    found: &[(WaitingStep, Listing)],
    deadline: &Deadline,
) -> Vec<Option<String>> {
    let links = found.iter().map(|(step, listing)| async move {
        if *listing == Listing::Decidable {
            return None;
        }
        let prompt = step.prompt.as_ref()?;
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
    });
    futures_util::future::join_all(links).await
}

/// The entries as a list shows them.
pub(super) fn to_listed<'a>(
    app: &'a InteractionsApp,
    found: &'a [(WaitingStep, Listing)],
    links: Vec<Option<String>>,
) -> Vec<Listed<'a>> {
    found
        .iter()
        .zip(links)
        .map(|((step, listing), permalink)| {
            let shown = app.shown(&step.place);
            match listing {
                Listing::Decidable => Listed::Decidable {
                    step,
                    shown,
                    style: app.style(&step.place),
                },
                Listing::Link | Listing::Console => Listed::Linked {
                    step,
                    shown,
                    permalink,
                    nobody_from_slack: *listing == Listing::Console,
                },
            }
        })
        .collect()
}

pub(super) fn unreadable(e: &StoreError) -> String {
    tracing::error!(error = %e, "could not read the index of what waits");
    format!(
        "What waits could not be listed right now ({}). Please try again.",
        escape(match e {
            StoreError::OutOfTime { .. } => "no answer in time",
            _ => "the approvals table did not answer",
        })
    )
}
