//! Who may decide from Slack: the approver policy (`SLACK_APPROVERS`), membership of
//! its user groups (read from Slack, cached), and the workspaces a person may come
//! from (`SLACK_ALLOWED_TEAMS`). Every Slack surface asks here first, before any AWS
//! call: a person who may not decide costs the account nothing.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::deadline::Deadline;
use crate::domain::approvers::{ApproverPolicy, Verdict};
use crate::domain::interaction::Actor;
use crate::domain::render::{escape, mention};
use crate::slack::SlackClient;

type Members = Arc<HashSet<String>>;

pub struct Authorizer {
    approvers: ApproverPolicy,
    /// User-group members and when they were read; trusted for `group_cache`.
    groups: Mutex<HashMap<String, (Instant, Members)>>,
    group_cache: Duration,
    /// The app's own workspace: `SLACK_TEAM_ID`, or `auth.test` on the first click.
    own_team: tokio::sync::OnceCell<String>,
    allowed_teams: BTreeSet<String>,
}

impl Authorizer {
    pub fn new(
        approvers: ApproverPolicy,
        group_cache: Duration,
        team_id: Option<String>,
        allowed_teams: BTreeSet<String>,
    ) -> Self {
        Self {
            approvers,
            groups: Mutex::default(),
            group_cache,
            own_team: tokio::sync::OnceCell::new_with(team_id),
            allowed_teams,
        }
    }

    /// Whether the `/approvals` list may carry buttons. Under `*` ("anyone who can see
    /// the prompt") the list reaches people the prompt does not (a guest, a member
    /// outside the private channel a route sends a runbook to): it links each prompt
    /// instead, and a click from a list decides nothing.
    pub fn decides_from_lists(&self) -> bool {
        self.approvers != ApproverPolicy::Anyone
    }

    /// `Ok` when the person may decide; otherwise the sentence to show them. Slack
    /// may be asked (the app's workspace, user-group members); AWS never is.
    pub async fn authorize(
        &self,
        slack: &SlackClient,
        actor: &Actor,
        deadline: &Deadline,
    ) -> Result<(), String> {
        let user_id = actor.user.id.as_str();
        let groups = match self.approvers.verdict(user_id) {
            Verdict::NoApproversConfigured => {
                return Err(
                    "Nobody can approve or reject from Slack yet: no approvers are configured \
                     for this app. Nothing was done; ask whoever runs it to name the approvers."
                        .into(),
                );
            }
            verdict => verdict,
        };
        self.check_workspace(slack, actor, deadline).await?;
        let groups = match groups {
            Verdict::Allowed => return Ok(()),
            Verdict::CheckGroups(groups) => groups,
            Verdict::NoApproversConfigured => unreachable!("handled above"),
        };
        for group in groups {
            let members = match self.cached_group(group) {
                Some(m) => m,
                None => match slack.usergroup_members(group, deadline).await {
                    Ok(users) => self.cache_group(group, users),
                    Err(e) => {
                        tracing::warn!(group = %group, error = %e, "could not read user-group members");
                        return Err("Your membership in the approver groups could not be checked \
                                    right now (Slack did not answer). Nothing was done; please try again."
                            .into());
                    }
                },
            };
            if members.contains(user_id) {
                return Ok(());
            }
        }
        Err(format!(
            "Sorry {}, only {} can approve or reject these runbooks, so nothing was done. \
             The request still waits for one of them.",
            mention(user_id, actor.user.handle()),
            self.approvers.describe()
        ))
    }

    /// The person must belong to the app's own workspace, or to one allowed by
    /// `SLACK_ALLOWED_TEAMS` (shared Slack Connect channels let other organizations click).
    async fn check_workspace(
        &self,
        slack: &SlackClient,
        actor: &Actor,
        deadline: &Deadline,
    ) -> Result<(), String> {
        let Some(team) = actor.team() else {
            return Err(
                "Slack did not say which workspace you belong to, so nothing was done.".into(),
            );
        };
        if self.allowed_teams.contains(team) {
            return Ok(());
        }
        let own = self
            .own_team
            .get_or_try_init(|| async {
                slack
                    .auth_test(deadline)
                    .await
                    .map(|identity| identity.team_id)
            })
            .await;
        match own {
            Ok(own) if own == team => Ok(()),
            Ok(_) => {
                tracing::warn!(clicker_team = %team, "click refused: from another workspace");
                Err(format!(
                    "Sorry, only people of this app's own Slack workspace can approve or reject \
                     these runbooks; you belong to another one ({}). Nothing was done.",
                    escape(team)
                ))
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not read the app's own workspace (auth.test)");
                Err(
                    "Your workspace could not be checked right now (Slack did not answer). \
                     Nothing was done; please try again."
                        .into(),
                )
            }
        }
    }

    fn cached_group(&self, group: &str) -> Option<Members> {
        let groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        let (read_at, members) = groups.get(group)?;
        (read_at.elapsed() < self.group_cache).then(|| members.clone())
    }

    fn cache_group(&self, group: &str, users: Vec<String>) -> Members {
        let members: Members = Arc::new(users.into_iter().collect());
        self.groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(group.to_owned(), (Instant::now(), members.clone()));
        members
    }
}
