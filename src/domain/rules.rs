//! The rules document: which channel a step's prompt goes to, and who may decide it,
//! by the step's account, Region and runbook. Pure: parsing, checks and matching.
//!
//! ```json
//! {"rules": [
//!   {"name": "payments production", "accounts": ["111122223333"], "regions": ["eu-west-1"],
//!    "runbooks": ["Payments-"], "channel": "C0PAYMENTS", "approvers": ["U0123ABCD", "S0456EFGH"]}
//! ],
//!  "default": {"approvers": ["none"]},
//!  "identities": {"U0CAROL": ["arn:aws:iam::111122223333:user/carol"]},
//!  "account_names": {"111122223333": "payments-prod"}}
//! ```
//!
//! A rule may also ask for several different people (`"approvals": 2`) and say
//! whether a run's starter may approve it (`"self_approval": "allowed"` or
//! `"forbidden"`; by default `SLACK_SELF_APPROVAL`). `identities` maps Slack people to
//! the AWS principals that are them (see [`super::starter`]); `account_names` names
//! accounts for the prompts, beyond what `ACCOUNT_NAMES` can hold.
//!
//! Rules are tried in order and the first that matches wins; an omitted `accounts`,
//! `regions` or `runbooks` (name prefixes) matches any. A step no rule matches falls
//! back to `SLACK_ROUTES` / `SLACK_CHANNEL` and `SLACK_APPROVERS`: with no document at
//! all, that is today's single rule. The optional `default` replaces `SLACK_APPROVERS`
//! there (its channel stays `SLACK_ROUTES` / `SLACK_CHANNEL`'s): `["none"]` says that
//! nobody may decide from Slack a step no rule names, whatever `SLACK_APPROVERS` says.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::approvers::ApproverPolicy;
use super::place::{AccountNames, Place, is_account_id, is_region_name};
use super::routes::{Routes, is_channel_id};
use super::starter::{Identities, SelfApproval};

/// A document holds at most this many rules (Parameter Store's String parameters
/// hold 4 KB, or 8 KB in the advanced tier: a few dozen rules).
pub const MAX_RULES: usize = 200;

/// A rule may ask for at most this many different people (`approvals`): SSM's own
/// limit on an approval step's approvers.
pub const MAX_APPROVALS: i64 = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub name: String,
    accounts: Vec<String>,
    regions: Vec<String>,
    runbooks: Vec<String>,
    pub channel: String,
    pub approvers: ApproverPolicy,
    /// How many different Slack people must approve (`approvals`, 1 to 10): the step
    /// is approved in SSM only once that many have, whatever the runbook asks.
    pub approvals: u32,
    /// Whether the run's starter may approve it (`self_approval`); `None`: the
    /// deployment's `SLACK_SELF_APPROVAL`.
    pub self_approval: Option<SelfApproval>,
}

impl Rule {
    fn matches(&self, place: &Place, runbook: &str) -> bool {
        let any_or =
            |list: &[String], ok: &dyn Fn(&String) -> bool| list.is_empty() || list.iter().any(ok);
        any_or(&self.accounts, &|a| place.account.as_deref() == Some(a))
            && any_or(&self.regions, &|r| *r == place.region)
            && any_or(&self.runbooks, &|p| runbook.starts_with(p.as_str()))
    }

    /// Whether the rule depends on the runbook's name (so a click must name it).
    pub fn names_runbooks(&self) -> bool {
        !self.runbooks.is_empty()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    rules: Vec<Rule>,
    /// The document's `default`: who may decide a step no rule matches, instead of
    /// `SLACK_APPROVERS`.
    default_approvers: Option<ApproverPolicy>,
    /// Slack person → the AWS principals that are them (`identities`): who started a
    /// run, beyond sessions named after an e-mail address.
    identities: Identities,
    /// Account ID → the name prompts show (`account_names`), beside `ACCOUNT_NAMES`:
    /// as many as the document holds (`ACCOUNT_NAMES` fits about 100–125 accounts).
    account_names: AccountNames,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error("the rules document is not JSON of the documented shape: {0}")]
    Shape(String),
    #[error("rule {rule}: {reason}")]
    Rule { rule: String, reason: String },
    #[error("the rules document's \"default\": {0}")]
    Default(String),
    #[error("the rules document's \"identities\": {0}")]
    Identities(String),
    #[error("the rules document's \"account_names\": {0}")]
    AccountNames(String),
    #[error("the rules document has {0} rules; at most {MAX_RULES} are allowed")]
    TooMany(usize),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    rules: Vec<RawRule>,
    default: Option<RawDefault>,
    #[serde(default)]
    identities: std::collections::BTreeMap<String, Vec<String>>,
    #[serde(default)]
    account_names: std::collections::BTreeMap<String, String>,
}

/// `"default": {"approvers": [...]}`: who may decide a step no rule matches.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefault {
    approvers: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Option<String>,
    #[serde(default)]
    accounts: Vec<String>,
    #[serde(default)]
    regions: Vec<String>,
    #[serde(default)]
    runbooks: Vec<String>,
    channel: Option<String>,
    approvers: Option<Vec<String>>,
    approvals: Option<i64>,
    self_approval: Option<String>,
}

impl Rules {
    /// Reads and checks a document. Every error names the rule (by its `name`, or
    /// its position) and what is wrong with it.
    pub fn parse(raw: &str) -> Result<Self, RulesError> {
        let document: Document =
            serde_json::from_str(raw).map_err(|e| RulesError::Shape(e.to_string()))?;
        if document.rules.len() > MAX_RULES {
            return Err(RulesError::TooMany(document.rules.len()));
        }
        let mut rules: Vec<Rule> = vec![];
        for (n, raw) in document.rules.into_iter().enumerate() {
            let label = match raw.name.as_deref().map(str::trim) {
                Some(name) if !name.is_empty() => format!("{} ({:?})", n + 1, shorten(name)),
                _ => (n + 1).to_string(),
            };
            let bad = |reason: String| RulesError::Rule {
                rule: label.clone(),
                reason,
            };
            let name = raw
                .name
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| format!("rule {}", n + 1));
            if let Some(other) = rules.iter().find(|r| r.name == name) {
                return Err(bad(format!(
                    "the name {:?} is used twice",
                    shorten(&other.name)
                )));
            }
            let accounts = trimmed(raw.accounts);
            if let Some(a) = accounts.iter().find(|a| !is_account_id(a)) {
                return Err(bad(format!(
                    "{:?} is not a 12-digit account ID",
                    shorten(a)
                )));
            }
            let regions = trimmed(raw.regions);
            if let Some(r) = regions.iter().find(|r| !is_region_name(r)) {
                return Err(bad(format!(
                    "{:?} is not a Region name like eu-west-1",
                    shorten(r)
                )));
            }
            let runbooks = trimmed(raw.runbooks);
            if runbooks.iter().any(String::is_empty) {
                return Err(bad(
                    "a runbook name prefix is empty (omit \"runbooks\" to match any runbook)"
                        .into(),
                ));
            }
            let channel = raw
                .channel
                .map(|c| c.trim().to_owned())
                .ok_or_else(|| bad("it names no \"channel\"".into()))?;
            if !is_channel_id(&channel) {
                return Err(bad(format!(
                    "{:?} is not a channel ID (like C0123456789)",
                    shorten(&channel)
                )));
            }
            let listed = raw
                .approvers
                .ok_or_else(|| bad("it names no \"approvers\"".into()))?;
            let approvers = approvers(&listed).map_err(bad)?;
            if approvers == ApproverPolicy::NobodyFromSlack {
                return Err(bad(
                    "\"none\" belongs in the document's \"default\" (for steps no rule names): \
                     a rule names who may decide its steps"
                        .into(),
                ));
            }
            let approvals = match raw.approvals {
                None => 1,
                Some(n @ 1..=MAX_APPROVALS) => n as u32,
                Some(n) => {
                    return Err(bad(format!(
                        "\"approvals\" is {n}: it takes 1 to {MAX_APPROVALS} different people \
                         (SSM's limit on an approval step's approvers)"
                    )));
                }
            };
            let self_approval = raw
                .self_approval
                .as_deref()
                .map(|raw| {
                    SelfApproval::parse(raw).map_err(|e| bad(format!("\"self_approval\": {e}")))
                })
                .transpose()?;
            rules.push(Rule {
                name,
                accounts,
                regions,
                runbooks,
                channel,
                approvers,
                approvals,
                self_approval,
            });
        }
        let default_approvers = match document.default {
            None => None,
            Some(RawDefault { approvers: None }) => {
                return Err(RulesError::Default("it names no \"approvers\"".into()));
            }
            Some(RawDefault {
                approvers: Some(listed),
            }) => Some(approvers(&listed).map_err(RulesError::Default)?),
        };
        let identities = Identities::parse(document.identities).map_err(RulesError::Identities)?;
        let account_names = AccountNames::from_map(document.account_names)
            .map_err(|e| RulesError::AccountNames(e.to_string()))?;
        Ok(Self {
            rules,
            default_approvers,
            identities,
            account_names,
        })
    }

    /// The document's identity map (empty without one).
    pub fn identities(&self) -> &Identities {
        &self.identities
    }

    /// The names the document gives accounts (empty without any).
    pub fn account_names(&self) -> &AccountNames {
        &self.account_names
    }

    /// The document's `default` approvers, if it has one.
    pub fn default_approvers(&self) -> Option<&ApproverPolicy> {
        self.default_approvers.as_ref()
    }

    /// The first rule that matches the step's place and runbook.
    pub fn first_match(&self, place: &Place, runbook: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.matches(place, runbook))
    }

    /// The accounts and the Regions the rules name (the places the sweep lists).
    pub fn places_named(&self) -> (BTreeSet<String>, BTreeSet<String>) {
        let accounts = self
            .rules
            .iter()
            .flat_map(|r| r.accounts.iter().cloned())
            .chain(self.account_names.accounts().map(str::to_owned));
        let regions = self.rules.iter().flat_map(|r| r.regions.iter().cloned());
        (accounts.collect(), regions.collect())
    }

    /// Whether which rule applies can depend on the runbook's name.
    pub fn names_runbooks(&self) -> bool {
        self.rules.iter().any(Rule::names_runbooks)
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

/// What applies to one step: the rule's channel and approvers, or the fallback's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedRule {
    /// Where its prompt goes (events function only: the fallback of the interactions
    /// function knows no channel).
    pub channel: Option<String>,
    pub approvers: ApproverPolicy,
    /// The rule's name; `None` for the fallback.
    pub rule: Option<String>,
    /// How many different Slack people must approve (the rule's `approvals`; 1 for the
    /// fallback).
    pub approvals: u32,
    /// Whether the run's starter may approve it.
    pub self_approval: SelfApproval,
}

/// Today's one rule: `SLACK_ROUTES` / `SLACK_CHANNEL` and `SLACK_APPROVERS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    /// Only the events function posts, so only it knows a channel.
    pub channel: Option<String>,
    pub routes: Routes,
    pub approvers: ApproverPolicy,
    /// `SLACK_SELF_APPROVAL`: for every step whose rule does not say.
    pub self_approval: SelfApproval,
}

impl Fallback {
    pub fn applied(&self, rules: &Rules, place: &Place, runbook: &str) -> AppliedRule {
        match rules.first_match(place, runbook) {
            Some(rule) => AppliedRule {
                channel: Some(rule.channel.clone()),
                approvers: rule.approvers.clone(),
                rule: Some(rule.name.clone()),
                approvals: rule.approvals,
                self_approval: rule.self_approval.unwrap_or(self.self_approval),
            },
            None => AppliedRule {
                channel: self
                    .channel
                    .as_deref()
                    .map(|default| self.routes.channel_for(runbook, default).to_owned()),
                // The document in force may say who instead of `SLACK_APPROVERS`.
                approvers: rules.default_approvers().unwrap_or(&self.approvers).clone(),
                rule: None,
                approvals: 1,
                self_approval: self.self_approval,
            },
        }
    }
}

/// A rule's (or the default's) `approvers`, checked as `SLACK_APPROVERS` is; `Err`
/// says why not. An empty list is refused: a document says who.
fn approvers(listed: &[String]) -> Result<ApproverPolicy, String> {
    let approvers = ApproverPolicy::parse(Some(&listed.join(","))).map_err(|e| {
        e.to_string()
            .trim_start_matches("SLACK_APPROVERS: ")
            .to_owned()
    })?;
    if approvers == ApproverPolicy::Nobody {
        return Err("its \"approvers\" list is empty".into());
    }
    Ok(approvers)
}

fn trimmed(list: Vec<String>) -> Vec<String> {
    list.into_iter().map(|s| s.trim().to_owned()).collect()
}

fn shorten(text: &str) -> String {
    text.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"{"rules": [
        {"name": "payments production", "accounts": ["111122223333"], "regions": ["eu-west-1", "eu-central-1"],
         "runbooks": ["Payments-"], "channel": "C0PAYMENTS", "approvers": ["U0123ABCD", "S0456EFGH"]},
        {"name": "staging", "accounts": ["444455556666"], "channel": "C0STAGING", "approvers": ["*"]}
    ]}"#;

    fn at(account: &str, region: &str) -> Place {
        Place::new(Some(account), region)
    }

    fn fallback() -> Fallback {
        Fallback {
            channel: Some("C0DEFAULT".into()),
            routes: Routes::parse("Db-=C0DBA").unwrap(),
            approvers: ApproverPolicy::parse(Some("U0OPS")).unwrap(),
            self_approval: SelfApproval::Forbidden,
        }
    }

    #[test]
    fn the_first_matching_rule_decides_channel_and_approvers() {
        let rules = Rules::parse(EXAMPLE).unwrap();
        let fallback = fallback();
        let payments = fallback.applied(
            &rules,
            &at("111122223333", "eu-central-1"),
            "Payments-Refund",
        );
        assert_eq!(payments.channel.as_deref(), Some("C0PAYMENTS"));
        assert_eq!(payments.rule.as_deref(), Some("payments production"));
        assert!(matches!(payments.approvers, ApproverPolicy::Listed { .. }));
        // Same account, another Region or runbook: not this rule.
        for (place, runbook) in [
            (at("111122223333", "us-east-1"), "Payments-Refund"),
            (at("111122223333", "eu-west-1"), "Db-Failover"),
        ] {
            let other = fallback.applied(&rules, &place, runbook);
            assert_eq!(other.rule, None);
            assert_eq!(&other.approvers, &fallback.approvers);
        }
        let routed = fallback.applied(&rules, &at("111122223333", "us-east-1"), "Db-Failover");
        assert_eq!(routed.channel.as_deref(), Some("C0DBA"));
        let staging = fallback.applied(&rules, &at("444455556666", "ap-south-1"), "Anything");
        assert_eq!(
            (staging.channel.as_deref(), &staging.approvers),
            (Some("C0STAGING"), &ApproverPolicy::Anyone)
        );
        // A place whose account is unknown matches only rules that name no account.
        let unknown = fallback.applied(&rules, &Place::new(None, "eu-west-1"), "Payments-X");
        assert_eq!(unknown.rule, None);
    }

    #[test]
    fn a_bad_document_is_refused_naming_the_rule() {
        let cases = [
            (
                r#"{"rules": [{"name": "a", "accounts": ["1234"], "channel": "C0A", "approvers": ["U0A"]}]}"#,
                "rule 1 (\"a\"): \"1234\" is not a 12-digit account ID",
            ),
            (
                r#"{"rules": [{"channel": "C0A", "approvers": ["U0A"]}, {"channel": "ops", "approvers": ["U0A"]}]}"#,
                "rule 2: \"ops\" is not a channel ID",
            ),
            (
                r#"{"rules": [{"name": "x", "approvers": ["U0A"]}]}"#,
                "rule 1 (\"x\"): it names no \"channel\"",
            ),
            (
                r#"{"rules": [{"name": "x", "channel": "C0A"}]}"#,
                "rule 1 (\"x\"): it names no \"approvers\"",
            ),
            (
                r#"{"rules": [{"name": "x", "channel": "C0A", "approvers": []}]}"#,
                "its \"approvers\" list is empty",
            ),
            (
                r#"{"rules": [{"name": "x", "channel": "C0A", "approvers": ["alice"]}]}"#,
                "rule 1 (\"x\"): \"alice\" is not a Slack user ID",
            ),
            (
                r#"{"rules": [{"name": "x", "regions": ["Europe"], "channel": "C0A", "approvers": ["*"]}]}"#,
                "\"Europe\" is not a Region name",
            ),
            (
                r#"{"rules": [{"name": "x", "runbooks": [""], "channel": "C0A", "approvers": ["*"]}]}"#,
                "a runbook name prefix is empty",
            ),
            (
                r#"{"rules": [{"name": "x", "channel": "C0A", "approvers": ["*"]}, {"name": "x", "channel": "C0B", "approvers": ["*"]}]}"#,
                "rule 2 (\"x\"): the name \"x\" is used twice",
            ),
            (
                r#"{"rules": [{"name": "x", "chanel": "C0A", "approvers": ["*"]}]}"#,
                "unknown field `chanel`",
            ),
            (
                r#"{"rules": [{"name": "x", "channel": "C0A", "approvers": ["none"]}]}"#,
                "rule 1 (\"x\"): \"none\" belongs in the document's \"default\"",
            ),
            (
                r#"{"rules": [], "default": {"approvers": ["none", "U0A"]}}"#,
                "the rules document's \"default\": `none` (nobody may decide from Slack) cannot be combined",
            ),
            (
                r#"{"rules": [], "default": {"approvers": []}}"#,
                "the rules document's \"default\": its \"approvers\" list is empty",
            ),
            (
                r#"{"rules": [], "default": {}}"#,
                "the rules document's \"default\": it names no \"approvers\"",
            ),
            (
                r#"{"rules": [], "default": {"approvers": ["alice"]}}"#,
                "the rules document's \"default\": \"alice\" is not a Slack user ID",
            ),
            (
                r#"{"rules": [], "default": {"approvers": ["none"], "channel": "C0A"}}"#,
                "unknown field `channel`",
            ),
            (
                r#"{"rules": [], "default": {"approvers": "none"}}"#,
                "not JSON of the documented shape",
            ),
            (r#"{"rule": []}"#, "not JSON of the documented shape"),
            ("not json", "not JSON of the documented shape"),
        ];
        for (raw, expected) in cases {
            let err = Rules::parse(raw).unwrap_err().to_string();
            assert!(err.contains(expected), "{raw}: {err}");
        }
    }

    #[test]
    fn the_documents_default_replaces_slack_approvers_for_steps_no_rule_names() {
        let document = EXAMPLE.replacen(
            r#"{"rules": ["#,
            r#"{"default": {"approvers": ["NONE"]}, "rules": ["#,
            1,
        );
        let rules = Rules::parse(&document).unwrap();
        assert_eq!(
            rules.default_approvers(),
            Some(&ApproverPolicy::NobodyFromSlack)
        );
        let fallback = fallback();
        // No rule names it: nobody from Slack, in the fallback's channel (routes apply).
        let unnamed = fallback.applied(&rules, &at("999988887777", "eu-west-1"), "Db-Failover");
        assert_eq!(unnamed.rule, None);
        assert_eq!(unnamed.approvers, ApproverPolicy::NobodyFromSlack);
        assert_eq!(unnamed.channel.as_deref(), Some("C0DBA"));
        // A rule that names it still decides.
        let staging = fallback.applied(&rules, &at("444455556666", "eu-west-1"), "Anything");
        assert_eq!(staging.approvers, ApproverPolicy::Anyone);
        // Any approvers may be the default; without one, SLACK_APPROVERS stays.
        let listed = Rules::parse(r#"{"rules": [], "default": {"approvers": ["U0SEC"]}}"#).unwrap();
        assert_eq!(
            fallback
                .applied(&listed, &at("999988887777", "eu-west-1"), "X")
                .approvers
                .describe(),
            "<@U0SEC>"
        );
        let without = Rules::parse(EXAMPLE).unwrap();
        assert_eq!(without.default_approvers(), None);
        assert_ne!(without, rules, "a changed default is a change of the rules");
    }

    #[test]
    fn a_rule_may_allow_or_forbid_self_approval_and_the_document_map_identities() {
        let document = r#"{"rules": [
            {"name": "sandbox", "accounts": ["444455556666"], "channel": "C0SANDBOX", "approvers": ["*"],
             "self_approval": "Allowed"},
            {"name": "prod", "channel": "C0PROD", "approvers": ["*"], "approvals": 2}],
         "identities": {"U0CAROL": ["arn:aws:iam::111122223333:user/carol"]}}"#;
        let rules = Rules::parse(document).unwrap();
        let fallback = fallback();
        let sandbox = fallback.applied(&rules, &at("444455556666", "eu-west-1"), "X");
        assert_eq!(sandbox.self_approval, SelfApproval::Allowed);
        // A rule that does not say takes the deployment's setting.
        let prod = fallback.applied(&rules, &at("111122223333", "eu-west-1"), "X");
        assert_eq!(prod.self_approval, SelfApproval::Forbidden);
        assert_eq!(
            rules
                .identities()
                .people_for("arn:aws:iam::111122223333:user/carol"),
            ["U0CAROL"]
        );
        for (raw, expected) in [
            (
                r#"{"rules": [{"name": "x", "channel": "C0A", "approvers": ["*"], "self_approval": "sometimes"}]}"#,
                "rule 1 (\"x\"): \"self_approval\": \"sometimes\" is not",
            ),
            (
                r#"{"rules": [], "identities": {"U0C": ["carol"]}}"#,
                "the rules document's \"identities\": U0C: \"carol\" is not an AWS principal",
            ),
            (
                r#"{"rules": [], "identities": ["U0C"]}"#,
                "not JSON of the documented shape",
            ),
        ] {
            let err = Rules::parse(raw).unwrap_err().to_string();
            assert!(err.contains(expected), "{raw}: {err}");
        }
    }

    #[test]
    fn an_empty_document_leaves_the_fallback_alone() {
        let rules = Rules::parse(r#"{"rules": []}"#).unwrap();
        assert!(rules.is_empty() && !rules.names_runbooks());
        let fallback = fallback();
        let applied = fallback.applied(&rules, &at("111122223333", "eu-west-1"), "Anything");
        assert_eq!(applied.channel.as_deref(), Some("C0DEFAULT"));
        assert!(Rules::parse(EXAMPLE).unwrap().names_runbooks());
    }
}
