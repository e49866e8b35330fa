//! The rules in force: the document in Parameter Store (`SLACK_RULES_PARAMETER`),
//! read at start-up and again every few minutes, over today's single rule
//! (`SLACK_ROUTES` / `SLACK_CHANNEL` and `SLACK_APPROVERS`).
//!
//! A bad document at start-up stops the function with a message naming the rule. A
//! bad edit later keeps the last good rules and logs why, as does a read that fails:
//! a click is never refused, or allowed, because Parameter Store was slow.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::config::{ConfigError, RulesSource};
use crate::deadline::Deadline;
use crate::domain::place::{AccountNames, Place};
use crate::domain::rules::{AppliedRule, Fallback, Rules};
use crate::ssm::Ssm;

/// A re-read inside a request may take this long at most; past it, the rules in
/// force stay and the next request tries again.
const REFRESH_BUDGET: Duration = Duration::from_millis(400);

pub struct RuleBook {
    fallback: Fallback,
    source: Option<RulesSource>,
    current: Mutex<(Arc<Rules>, Instant)>,
    /// One re-read at a time.
    reading: tokio::sync::Mutex<()>,
}

impl RuleBook {
    /// Today's single rule only.
    pub fn fallback_only(fallback: Fallback) -> Self {
        Self {
            fallback,
            source: None,
            current: Mutex::new((Arc::default(), Instant::now())),
            reading: tokio::sync::Mutex::new(()),
        }
    }

    /// Rules given, never read again: for tests of what depends on the rules.
    #[cfg(test)]
    pub(crate) fn fixed(fallback: Fallback, rules: Rules) -> Self {
        Self {
            fallback,
            source: None,
            current: Mutex::new((Arc::new(rules), Instant::now())),
            reading: tokio::sync::Mutex::new(()),
        }
    }

    /// Reads the document once; a document that cannot be read or is bad stops the
    /// function (the error names the parameter and the rule).
    pub async fn load(
        fallback: Fallback,
        source: Option<RulesSource>,
        ssm: &Ssm,
        deadline: &Deadline,
    ) -> Result<Self, ConfigError> {
        let Some(source) = source else {
            return Ok(Self::fallback_only(fallback));
        };
        let rules = read(ssm, &source.parameter, deadline)
            .await
            .map_err(|reason| ConfigError::Parameter {
                variable: "SLACK_RULES",
                name: source.parameter.clone(),
                reason,
            })?;
        tracing::info!(parameter = %source.parameter, rules = rules.len(), "rules read");
        Ok(Self {
            fallback,
            source: Some(source),
            current: Mutex::new((Arc::new(rules), Instant::now())),
            reading: tokio::sync::Mutex::new(()),
        })
    }

    /// The rules in force, read again first when they are older than the refresh
    /// interval (within a short part of `deadline`).
    pub async fn rules(&self, ssm: &Ssm, deadline: &Deadline) -> Arc<Rules> {
        let Some(source) = &self.source else {
            return self.held().0;
        };
        let (rules, read_at) = self.held();
        if read_at.elapsed() < source.refresh {
            return rules;
        }
        let Ok(_reading) = self.reading.try_lock() else {
            // Another request is reading it now: these rules are still the last good ones.
            return rules;
        };
        let budget = Deadline::after(REFRESH_BUDGET.min(deadline.remaining() / 4));
        match read(ssm, &source.parameter, &budget).await {
            Ok(fresh) => {
                if fresh != *rules {
                    tracing::info!(parameter = %source.parameter, rules = fresh.len(), "rules changed");
                }
                let fresh = Arc::new(fresh);
                *self.current.lock().unwrap_or_else(|p| p.into_inner()) =
                    (fresh.clone(), Instant::now());
                fresh
            }
            Err(reason) => {
                tracing::warn!(parameter = %source.parameter, %reason,
                    "the rules could not be read again; the last good rules stay in force");
                // Try again after a refresh interval, not on every request.
                self.current.lock().unwrap_or_else(|p| p.into_inner()).1 = Instant::now();
                rules
            }
        }
    }

    /// What applies to a step of `runbook` in `place`.
    pub async fn applied(
        &self,
        place: &Place,
        runbook: &str,
        ssm: &Ssm,
        deadline: &Deadline,
    ) -> AppliedRule {
        let rules = self.rules(ssm, deadline).await;
        self.fallback.applied(&rules, place, runbook)
    }

    pub fn fallback(&self) -> &Fallback {
        &self.fallback
    }

    /// The rules as last read, without reading them again (for drawing a message; every
    /// request reads them when it needs a fresh answer).
    pub fn current(&self) -> Arc<Rules> {
        self.held().0
    }

    /// The name a prompt shows for `account`: the rules document's `account_names`,
    /// else `settings` (`ACCOUNT_NAMES`).
    pub fn account_name(&self, settings: &AccountNames, account: &str) -> Option<String> {
        let rules = self.current();
        rules
            .account_names()
            .name_of(account)
            .or_else(|| settings.name_of(account))
            .map(str::to_owned)
    }

    fn held(&self) -> (Arc<Rules>, Instant) {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Reads and checks the document: `Err` says why it cannot be used.
async fn read(ssm: &Ssm, parameter: &str, deadline: &Deadline) -> Result<Rules, String> {
    let text = ssm
        .parameter_text(parameter, deadline)
        .await
        .map_err(|e| e.to_string())?;
    Rules::parse(&text).map_err(|e| e.to_string())
}
