//! Who started a run, in Slack: [`Starters::resolve`] matches SSM's `ExecutedBy`
//! through the rules' identity map and, for a session named after an e-mail address,
//! Slack's `users.lookupByEmail` (answers cached, failures not). The matching itself
//! is pure, in [`crate::domain::starter`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::deadline::Deadline;
use crate::domain::starter::{Identities, Starter, email_in};
use crate::slack::SlackClient;

/// How long an answer from `users.lookupByEmail` is trusted: addresses rarely move
/// between people, and the lookup is rate limited (Tier 3, about 50 a minute).
pub const LOOKUP_CACHE: Duration = Duration::from_secs(15 * 60);

#[derive(Default)]
pub struct Starters {
    /// Address → the Slack person (`None`: nobody) and when Slack said so.
    answers: Mutex<HashMap<String, (Instant, Option<String>)>>,
}

impl Starters {
    /// `principal` as a Slack person (or people). A lookup that fails leaves its
    /// address unchecked on the result: nobody is cleared of having started the run.
    pub async fn resolve(
        &self,
        slack: &SlackClient,
        identities: &Identities,
        principal: &str,
        deadline: &Deadline,
    ) -> Starter {
        let mut starter = Starter {
            people: identities.people_for(principal),
            ..Starter::unmatched(principal)
        };
        let Some(email) = email_in(principal) else {
            return starter;
        };
        let found = match self.cached(&email) {
            Some(found) => Ok(found),
            None => slack.user_by_email(&email, deadline).await,
        };
        match found {
            Ok(found) => {
                self.keep(&email, found.clone());
                if let Some(person) = found
                    && !starter.people.contains(&person)
                {
                    starter.people.push(person);
                }
            }
            Err(e) => {
                if e.api_error() == Some("missing_scope") {
                    tracing::error!(error = %e, "the Slack app lacks users:read.email: reinstall it \
                        from slack-app-manifest.yaml; until then no run started by a session named \
                        after an address can be approved where self-approval is forbidden");
                } else {
                    tracing::warn!(error = %e, "could not match the run's starter to a Slack person");
                }
                starter.unchecked_email = Some(email);
            }
        }
        starter
    }

    fn cached(&self, email: &str) -> Option<Option<String>> {
        let answers = self.answers.lock().unwrap_or_else(|p| p.into_inner());
        answers
            .get(email)
            .filter(|(at, _)| at.elapsed() < LOOKUP_CACHE)
            .map(|(_, found)| found.clone())
    }

    fn keep(&self, email: &str, found: Option<String>) {
        let mut answers = self.answers.lock().unwrap_or_else(|p| p.into_inner());
        answers.insert(email.to_owned(), (Instant::now(), found));
    }
}
