//! The permission boundary: may this person decide this step, and may they see this
//! entry, for every surface (a prompt's buttons, the reason form, `/approvals`, Home).
//!
//! Both questions are answered here from one set of facts, [`StepFacts`] (the step's
//! account and Region, its runbook, its kind), through one rule: the rules document's
//! rule for that account, Region and runbook, else the document's `default`, else
//! `SLACK_APPROVERS` (who reminders mention comes from the same rule,
//! [`RuleBook::applied`]). A person is checked against it by user ID, by membership of
//! its user groups (read from Slack, cached) and by the workspace they come from
//! (`SLACK_ALLOWED_TEAMS`). Under `none` nobody may decide from Slack: every surface
//! refuses, and the lists show such a step to everyone of the workspace as a link. Every surface asks
//! here first, before any call about the step: a person who may not decide costs the
//! account nothing. (The rules document is read again every few minutes; see
//! [`RuleBook`].) Whether the deployment can act in the step's account at all is the
//! other policy, [`crate::places::Places::serves`].

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::deadline::Deadline;
use crate::domain::approvers::{ApproverPolicy, Verdict};
use crate::domain::inbound::Actor;
use crate::domain::messages::text::{code, escape, mention, truncate};
use crate::domain::place::Place;
use crate::domain::routes::RunbookPrefixes;
use crate::domain::rules::{AppliedRule, Fallback, Rules};
use crate::domain::starter::{Starter, StarterCheck};
use crate::domain::waiting::StepKind;
use crate::rules::RuleBook;
use crate::slack::SlackClient;
use crate::ssm::Ssm;

/// The facts every permission is judged on.
#[derive(Debug, Clone, Copy)]
pub struct StepFacts<'a> {
    /// The account and Region the step runs in.
    pub place: &'a Place,
    /// The runbook's name; `None` only for a button from before buttons named it.
    pub runbook: Option<&'a str>,
    /// Approve / Reject (`aws:approve`) or Resume (`aws:pause`).
    pub kind: StepKind,
    /// Who started the run, as matched to Slack, when the step's record is at hand.
    pub starter: Option<&'a Starter>,
}

/// Where a person decides or sees a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// The prompt in its channel (its buttons, or a reason form opened from them).
    Prompt,
    /// A list: `/approvals` or the Home tab (or a reason form opened from one).
    List,
}

/// How a list shows an entry to a person who may see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// With its own buttons: the person may decide it from the list.
    Decidable,
    /// As a link to its prompt: anyone who can see the prompt may decide it there.
    Link,
    /// As a link to its prompt, for everyone in the workspace: nobody may decide it
    /// from Slack (`none`), so it is decided in the AWS console, but people see that it
    /// waits.
    Console,
}

type Members = Arc<HashSet<String>>;

pub struct Permissions {
    rules: RuleBook,
    /// Runbooks whose pauses may be resumed from Slack (`SLACK_RESUME_PREFIXES`).
    resumable: RunbookPrefixes,
    /// Parameter Store, for re-reading the rules.
    home_ssm: Ssm,
    /// User-group members and when they were read; trusted for `group_cache`.
    groups: Mutex<HashMap<String, (Instant, Members)>>,
    group_cache: Duration,
    /// The app's own workspace: `SLACK_TEAM_ID`, or `auth.test` on the first click.
    own_team: tokio::sync::OnceCell<String>,
    allowed_teams: BTreeSet<String>,
}

impl Permissions {
    pub fn new(
        rules: RuleBook,
        resumable: RunbookPrefixes,
        home_ssm: Ssm,
        group_cache: Duration,
        team_id: Option<String>,
        allowed_teams: BTreeSet<String>,
    ) -> Self {
        Self {
            rules,
            resumable,
            home_ssm,
            groups: Mutex::default(),
            group_cache,
            own_team: tokio::sync::OnceCell::new_with(team_id),
            allowed_teams,
        }
    }

    /// May `actor` decide `step` from `surface`? `Ok` with the rule that applies (how
    /// many people must approve, for one) if so; otherwise the sentence to show them. Slack may be asked (the app's workspace, user-group members); AWS
    /// never is, so a refusal costs the step's account nothing. Asked twice for every
    /// decision: on what the button names, before anything else, and again on what SSM
    /// says of the execution, before the signal.
    pub async fn may_decide(
        &self,
        slack: &SlackClient,
        actor: &Actor,
        step: StepFacts<'_>,
        surface: Surface,
        deadline: &Deadline,
    ) -> Result<AppliedRule, String> {
        let rules = self.rules.rules(&self.home_ssm, deadline).await;
        let applied = rule_for(&rules, self.rules.fallback(), step)?;
        self.authorize(slack, actor, &applied.approvers, deadline)
            .await?;
        decidable_on(surface, &applied.approvers)?;
        resumable(&self.resumable, step)?;
        Ok(applied)
    }

    /// May `actor` see `step` in a list (`/approvals`, Home), and how: `None` if not.
    /// `rules` are the rules in force for the whole list ([`Permissions::rules`]); the
    /// step's runbook comes from the index, so it is always known.
    pub async fn may_see(
        &self,
        slack: &SlackClient,
        actor: &Actor,
        rules: &Rules,
        step: StepFacts<'_>,
        deadline: &Deadline,
    ) -> Option<Listing> {
        if resumable(&self.resumable, step).is_err() {
            return None;
        }
        let applied = rule_for(rules, self.rules.fallback(), step).ok()?;
        if applied.approvers == ApproverPolicy::NobodyFromSlack {
            // Nobody decides it from Slack: anyone of the workspace may see that it waits
            // (as a link, like a step anyone may decide).
            self.check_workspace(slack, actor, deadline).await.ok()?;
            return Some(Listing::Console);
        }
        self.authorize(slack, actor, &applied.approvers, deadline)
            .await
            .ok()?;
        Some(match decidable_on(Surface::List, &applied.approvers) {
            // Its starter may not approve it: listed as a link to its prompt, which
            // says someone else must (they may still reject it there).
            Ok(()) if starter_refused(&applied, step.starter, &actor.user.id).is_err() => {
                Listing::Link
            }
            Ok(()) => Listing::Decidable,
            Err(_) => Listing::Link,
        })
    }

    /// The rules in force, for a list that checks many steps with [`Self::may_see`].
    /// The rules, as read for the requests.
    pub fn rule_book(&self) -> &RuleBook {
        &self.rules
    }

    pub async fn rules(&self, deadline: &Deadline) -> Arc<Rules> {
        self.rules.rules(&self.home_ssm, deadline).await
    }

    /// `Ok` when the person is one of `approvers`; otherwise the sentence to show
    /// them. Slack may be asked (the app's workspace, user-group members); AWS never is.
    async fn authorize(
        &self,
        slack: &SlackClient,
        actor: &Actor,
        approvers: &ApproverPolicy,
        deadline: &Deadline,
    ) -> Result<(), String> {
        let user_id = actor.user.id.as_str();
        let groups = match approvers.verdict(user_id) {
            Verdict::NoApproversConfigured => {
                return Err(
                    "Nobody can approve or reject from Slack yet: no approvers are configured \
                     for this app. Nothing was done; ask whoever runs it to name the approvers."
                        .into(),
                );
            }
            Verdict::NotFromSlack => {
                tracing::warn!("a click on a step nobody may decide from Slack; nothing done");
                return Err(NOBODY_FROM_SLACK.into());
            }
            verdict => verdict,
        };
        self.check_workspace(slack, actor, deadline).await?;
        let groups = match groups {
            Verdict::Allowed => return Ok(()),
            Verdict::CheckGroups(groups) => groups,
            Verdict::NoApproversConfigured | Verdict::NotFromSlack => {
                unreachable!("handled above")
            }
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
            approvers.describe()
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

/// What a person is told when nobody may decide a step from Slack (`none`).
pub const NOBODY_FROM_SLACK: &str = "Nothing was done: nobody from Slack may decide this step \
    (no rule names it, and this deployment allows nobody else). Decide it in the AWS console.";

/// The rule that applies to `step`. A button from before buttons named their runbook
/// is refused when a rule could depend on the runbook.
fn rule_for(
    rules: &Rules,
    fallback: &Fallback,
    step: StepFacts<'_>,
) -> Result<AppliedRule, String> {
    let Some(runbook) = step.runbook.or((!rules.names_runbooks()).then_some("")) else {
        return Err(
            "Nothing was done: this prompt was posted before rules named runbooks, so who \
             may decide it cannot be told from it. Decide it from /approvals or the AWS console."
                .into(),
        );
    };
    Ok(fallback.applied(rules, step.place, runbook))
}

/// Where anyone who sees the prompt may decide, a step is decided on its prompt only: a
/// list (which anyone in the workspace can open) only links to it.
fn decidable_on(surface: Surface, approvers: &ApproverPolicy) -> Result<(), String> {
    if surface == Surface::List && *approvers == ApproverPolicy::Anyone {
        tracing::warn!("a click from a list where anyone may decide; nothing done");
        return Err(
            "Nothing was done: decide on its prompt in the channel. With approvers set \
                    to anyone who can see the prompt, a runbook is decided on its prompt only."
                .into(),
        );
    }
    Ok(())
}

/// A pause is resumed from Slack only for runbooks in `SLACK_RESUME_PREFIXES`. A button
/// that names no runbook is let through here and checked once SSM names it.
fn resumable(prefixes: &RunbookPrefixes, step: StepFacts<'_>) -> Result<(), String> {
    if step.kind != StepKind::Pause {
        return Ok(());
    }
    let refused = match step.runbook {
        _ if prefixes.is_empty() => true,
        Some(runbook) => !prefixes.matches(runbook),
        None => false,
    };
    if refused {
        tracing::warn!("resume refused: the runbook is not in SLACK_RESUME_PREFIXES");
        return Err(cannot_resume(step.runbook));
    }
    Ok(())
}

/// Separation of duties: `Ok` unless `user_id` started the run and `rule` forbids
/// approving one's own run, or Slack could not say who started it (fail closed).
/// Asked only of an Approve: a starter may always reject their own run.
pub fn starter_refused(
    rule: &AppliedRule,
    starter: Option<&Starter>,
    user_id: &str,
) -> Result<(), String> {
    let Some(starter) = starter else {
        return Ok(());
    };
    let under = match &rule.rule {
        Some(name) => format!("rule {}", code(name)),
        None => "this deployment".to_owned(),
    };
    match starter.check(rule.self_approval, user_id) {
        StarterCheck::Clear => Ok(()),
        StarterCheck::StartedIt => Err(format!(
            "Nothing was done: you started this run (as {}), and under {under} someone else must approve it. You may still reject it.",
            code(&truncate(&starter.principal, 200))
        )),
        StarterCheck::Unknown => Err(format!(
            "Nothing was done: whether you started this run (as {}) could not be checked with Slack just now, and under {under} its starter may not approve it. Please try again in a minute.",
            code(&truncate(&starter.principal, 200))
        )),
    }
}

/// What a person is told when a runbook's pauses may not be resumed from Slack.
pub fn cannot_resume(runbook: Option<&str>) -> String {
    let which = runbook.map_or_else(
        || "this runbook".to_owned(),
        |r| format!("runbook {}", code(r)),
    );
    format!("Nothing was done: {which} cannot be resumed from Slack. Resume it in the AWS console.")
}

#[cfg(test)]
mod tests {
    //! One table for every surface: the same facts give the same answer whether the
    //! person clicks a prompt, submits its reason form, clicks or reads `/approvals`
    //! or Home, or is mentioned by a reminder.

    use super::*;
    use crate::config::Secret;
    use crate::domain::inbound::SlackUser;

    const TEAM: &str = "T0OURS";
    const RULES: &str = r#"{"rules": [
        {"name": "prod", "runbooks": ["Prod-"], "channel": "C0PROD", "approvers": ["U0PROD"]},
        {"name": "dev", "runbooks": ["Dev-"], "channel": "C0DEV", "approvers": ["*"]}
    ]}"#;
    /// The same rules, and nobody from Slack for steps they do not name.
    const RULES_DEFAULT_NONE: &str = r#"{"rules": [
        {"name": "prod", "runbooks": ["Prod-"], "channel": "C0PROD", "approvers": ["U0PROD"]},
        {"name": "dev", "runbooks": ["Dev-"], "channel": "C0DEV", "approvers": ["*"]}
    ], "default": {"approvers": ["none"]}}"#;

    fn permissions(rules: &str, fallback: &str) -> Permissions {
        let fallback = Fallback {
            channel: None,
            routes: Default::default(),
            approvers: ApproverPolicy::parse(Some(fallback)).unwrap(),
            self_approval: crate::domain::starter::SelfApproval::Forbidden,
        };
        let rules = RuleBook::fixed(fallback, Rules::parse(rules).unwrap());
        let config = aws_sdk_ssm::Config::builder()
            .behavior_version(aws_sdk_ssm::config::BehaviorVersion::latest())
            .region(aws_sdk_ssm::config::Region::new("eu-west-1"))
            .build();
        Permissions::new(
            rules,
            RunbookPrefixes::parse("Prod-Resumable-"),
            Ssm::new(aws_sdk_ssm::Client::from_conf(config)),
            Duration::from_secs(60),
            // The app's own workspace is known: no Slack call is needed to check it.
            Some(TEAM.into()),
            BTreeSet::new(),
        )
    }

    fn actor(user_id: &str) -> Actor {
        Actor {
            user: SlackUser {
                id: user_id.into(),
                username: Some(user_id.to_lowercase()),
                name: None,
                team_id: Some(TEAM.into()),
            },
            team_id: Some(TEAM.into()),
        }
    }

    /// Why, the rules document, the fallback's approvers, the person, the runbook, the
    /// kind, the answers.
    type Row = (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        Option<&'static str>,
        StepKind,
        Answers,
    );

    /// What each surface says for one person and one step.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct Answers {
        /// A prompt's button, or the reason form it opened.
        prompt: bool,
        /// A button in `/approvals` or Home, or the reason form it opened.
        list: bool,
        /// How `/approvals` and Home list it.
        seen: Option<Listing>,
        /// Whether a reminder about it mentions this person.
        mentioned: bool,
    }

    #[tokio::test]
    async fn every_surface_answers_alike_from_the_same_facts() {
        // No call reaches Slack (the workspace is known, no user groups) or AWS (the
        // rules are fixed): a refusal here costs nothing.
        let slack = SlackClient::new("http://127.0.0.1:9/api", Secret::new("xoxb-test")).unwrap();
        let place = Place::new(Some("111122223333"), "eu-west-1");
        let approval = StepKind::Approval;
        let pause = StepKind::Pause;
        let yes = |seen| Answers {
            prompt: true,
            list: true,
            seen: Some(seen),
            mentioned: true,
        };
        let no = Answers {
            prompt: false,
            list: false,
            seen: None,
            mentioned: false,
        };
        let nobody_from_slack = Answers {
            seen: Some(Listing::Console),
            ..no
        };
        #[rustfmt::skip]
        let table: [Row; 15] = [
            // (why, rules document, fallback approvers, person, runbook, kind, answers)
            ("a named approver of the rule", RULES, "U0OPS", "U0PROD", Some("Prod-Deploy"), approval,
                yes(Listing::Decidable)),
            ("someone the rule does not name", RULES, "U0OPS", "U0DEV", Some("Prod-Deploy"), approval, no),
            ("the fallback's approver, where a rule names others", RULES, "U0OPS", "U0OPS",
                Some("Prod-Deploy"), approval, no),
            ("anyone who sees the prompt: decided there, linked from lists", RULES, "U0OPS", "U0DEV",
                Some("Dev-Build"), approval,
                Answers { prompt: true, list: false, seen: Some(Listing::Link), mentioned: false }),
            ("no rule: the fallback's approver", RULES, "U0OPS", "U0OPS", Some("Other-Job"), approval,
                yes(Listing::Decidable)),
            ("no rule and nobody configured", RULES, "", "U0OPS", Some("Other-Job"), approval, no),
            ("a pause of a runbook that may be resumed", RULES, "U0OPS", "U0PROD",
                Some("Prod-Resumable-Fix"), pause, yes(Listing::Decidable)),
            ("a pause of a runbook that may not be resumed", RULES, "U0OPS", "U0PROD",
                Some("Prod-Deploy"), pause,
                Answers { prompt: false, list: false, seen: None, mentioned: true }),
            ("a button from before buttons named runbooks, under rules that name them", RULES,
                "U0OPS", "U0PROD", None, approval,
                Answers { prompt: false, list: false, seen: None, mentioned: false }),
            // Nobody from Slack, on purpose (`none`): listed for everyone of the workspace
            // as a link to its prompt, decided from no surface, mentioned to nobody.
            ("no rule, and SLACK_APPROVERS=none", RULES, "none", "U0OPS", Some("Other-Job"),
                approval, nobody_from_slack),
            ("no rule, SLACK_APPROVERS=none: not even a rule's approver", RULES, "none",
                "U0PROD", Some("Other-Job"), approval, nobody_from_slack),
            ("a rule's approver, where SLACK_APPROVERS=none", RULES, "none", "U0PROD",
                Some("Prod-Deploy"), approval, yes(Listing::Decidable)),
            ("no rule, and the document's default is none, over SLACK_APPROVERS=*",
                RULES_DEFAULT_NONE, "*", "U0DEV", Some("Other-Job"), approval, nobody_from_slack),
            ("no rule, the document's default none, over the fallback's approver",
                RULES_DEFAULT_NONE, "U0OPS", "U0OPS", Some("Other-Job"), approval,
                nobody_from_slack),
            ("a rule's approver, where the document's default is none", RULES_DEFAULT_NONE,
                "U0OPS", "U0PROD", Some("Prod-Deploy"), approval, yes(Listing::Decidable)),
        ];
        let deadline = Deadline::after(Duration::from_secs(5));
        for (why, rules, fallback, person, runbook, kind, expected) in table {
            let permissions = permissions(rules, fallback);
            let facts = StepFacts {
                place: &place,
                runbook,
                kind,
                starter: None,
            };
            let actor = actor(person);
            let decide =
                |surface| permissions.may_decide(&slack, &actor, facts, surface, &deadline);
            let prompt = decide(Surface::Prompt).await.is_ok();
            let list = decide(Surface::List).await.is_ok();
            // A list entry always knows its runbook (from the index).
            let rules = permissions.rules(&deadline).await;
            let seen = match runbook {
                Some(_) => {
                    permissions
                        .may_see(&slack, &actor, &rules, facts, &deadline)
                        .await
                }
                None => None,
            };
            let mentioned = match runbook {
                Some(runbook) => permissions
                    .rules
                    .applied(&place, runbook, &permissions.home_ssm, &deadline)
                    .await
                    .approvers
                    .describe()
                    .contains(&format!("<@{person}>")),
                None => false,
            };
            let answers = Answers {
                prompt,
                list,
                seen,
                mentioned,
            };
            assert_eq!(answers, expected, "{why}");
        }
    }

    /// What a refused person reads is one sentence after another, with no run of spaces
    /// (a string broken over lines without its `\` keeps the next line's indentation).
    #[tokio::test]
    async fn a_refusal_a_person_reads_has_no_run_of_spaces() {
        let slack = SlackClient::new("http://127.0.0.1:9/api", Secret::new("xoxb-test")).unwrap();
        let place = Place::new(Some("111122223333"), "eu-west-1");
        let deadline = Deadline::after(Duration::from_secs(5));
        let facts = |runbook| StepFacts {
            place: &place,
            runbook,
            kind: StepKind::Approval,
            starter: None,
        };
        let ask =
            |rules: &'static str, fallback: &'static str, user: &'static str, runbook, surface| {
                let permissions = permissions(rules, fallback);
                let slack = &slack;
                let deadline = &deadline;
                async move {
                    permissions
                        .may_decide(slack, &actor(user), facts(runbook), surface, deadline)
                        .await
                        .expect_err("refused")
                }
            };
        let refusals = [
            ask(
                RULES,
                "U0ALICE",
                "U0MALLORY",
                Some("Other-"),
                Surface::Prompt,
            )
            .await,
            ask(RULES, "*", "U0ALICE", Some("Dev-1"), Surface::List).await,
            ask(RULES, "U0ALICE", "U0ALICE", None, Surface::Prompt).await,
            ask(
                RULES_DEFAULT_NONE,
                "U0ALICE",
                "U0ALICE",
                Some("Other-"),
                Surface::Prompt,
            )
            .await,
            ask(
                r#"{"rules": []}"#,
                "",
                "U0ALICE",
                Some("Other-"),
                Surface::Prompt,
            )
            .await,
            cannot_resume(Some("Prod-1")),
            NOBODY_FROM_SLACK.to_owned(),
        ];
        for text in refusals {
            assert!(!text.contains("  "), "a run of spaces in: {text:?}");
            assert!(text.starts_with(|c: char| c.is_uppercase()), "{text:?}");
        }
    }
}
