//! Configuration from the environment: the public contract documented in docs/configuration.md.
//!
//! Everything is validated at start-up, and every error names the variable, so a
//! misconfigured function fails its init instead of its first request.

use std::collections::BTreeSet;
use std::time::Duration;

mod failed_events;
mod organization;
mod reminders;
mod secret;
mod starters;

pub use failed_events::FAILED_EVENTS_QUEUE_URL;
pub use organization::{
    ACCOUNT_NAMES, DEFAULT_REFRESH, HUB_ACCOUNT_ID, OrganizationSettings, RULES_PARAMETER,
    RULES_REFRESH_SECONDS, RulesSource, SPOKE_APPROVER_ROLE_NAME, SPOKE_ROLE_NAME,
    SPOKE_SIGNER_ROLE_NAME, SpokeRoles,
};
pub use reminders::{
    LAST_CALL_MINUTES, REMIND_AFTER_MINUTES, SWEEP_MAX_LISTINGS, SWEEP_MAX_SSM_READS, SweepSettings,
};
use secret::secret_source;
pub use secret::{Secret, SecretSource};
pub use starters::{NOTIFY_STARTER, SELF_APPROVAL, StarterSettings};

use crate::domain::approvers::{ApproverPolicy, ApproversError};
use crate::domain::routes::{RouteError, Routes, RunbookPrefixes, is_channel_id};

pub const SIGNING_SECRET: &str = "SLACK_SIGNING_SECRET";
pub const BOT_TOKEN: &str = "SLACK_BOT_TOKEN";
pub const CHANNEL: &str = "SLACK_CHANNEL";
pub const APPROVERS: &str = "SLACK_APPROVERS";
pub const API_URL: &str = "SLACK_API_URL";
pub const DEFAULT_API_URL: &str = "https://slack.com/api";
pub const GROUP_CACHE_SECONDS: &str = "SLACK_GROUP_CACHE_SECONDS";
pub const ALLOWED_TEAMS: &str = "SLACK_ALLOWED_TEAMS";
pub const TEAM_ID: &str = "SLACK_TEAM_ID";
pub const TABLE: &str = "APPROVALS_TABLE";
pub const RETENTION_DAYS: &str = "APPROVAL_RETENTION_DAYS";
pub const ROUTES: &str = "SLACK_ROUTES";
pub const RESUME_PREFIXES: &str = "SLACK_RESUME_PREFIXES";
pub const APPROVER_ROLE_ARN: &str = "APPROVER_ROLE_ARN";
/// The interactions function's role: its sessions signal decisions in this account
/// (without per-person approvals), the only ones the audit trail credits to Slack.
pub const INTERACTIONS_ROLE_ARN: &str = "INTERACTIONS_ROLE_ARN";
pub const REJECT_REASON: &str = "REJECT_REASON";
/// How long the table keeps a step's item (its audit trail) after its last change.
pub const DEFAULT_RETENTION_DAYS: u64 = 365;
/// An `aws:approve` step may wait up to 30 days: its item must outlive that.
pub const MIN_RETENTION_DAYS: u64 = 31;
/// User-group membership is trusted for this long before it is read again.
pub const DEFAULT_GROUP_CACHE: Duration = Duration::from_secs(300);
const MAX_GROUP_CACHE: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "{0} is not set (set {0}, or {0}_PARAMETER to the name of an SSM SecureString parameter)"
    )]
    MissingSecret(&'static str),
    #[error("both {0} and {0}_PARAMETER are set; set only one")]
    ContradictorySecret(&'static str),
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{variable}: {reason}")]
    Invalid {
        variable: &'static str,
        reason: String,
    },
    #[error(transparent)]
    Approvers(#[from] ApproversError),
    #[error("SLACK_ROUTES: {0}")]
    Routes(#[from] RouteError),
    #[error("{variable}_PARAMETER: could not read SSM parameter {name:?}: {reason}")]
    Parameter {
        variable: &'static str,
        name: String,
        reason: String,
    },
}

/// Reads one variable; empty counts as unset. Tests pass a map, binaries the process env.
pub trait Env {
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Env for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name).filter(|v| !v.trim().is_empty())
    }
}

/// The process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The approvals table (`APPROVALS_TABLE`) and how long its items are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSettings {
    pub name: String,
    pub retention: Duration,
}

impl TableSettings {
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let name = env
            .get(TABLE)
            .ok_or(ConfigError::Missing(TABLE))?
            .trim()
            .to_owned();
        let valid = (3..=255).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !valid {
            return Err(ConfigError::Invalid {
                variable: TABLE,
                reason: format!(
                    "{:?} is not a DynamoDB table name (3-255 of a-z, A-Z, 0-9, _ - .)",
                    name.chars().take(60).collect::<String>()
                ),
            });
        }
        let days = match env.get(RETENTION_DAYS) {
            None => DEFAULT_RETENTION_DAYS,
            Some(raw) => raw
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|d| (MIN_RETENTION_DAYS..=3650).contains(d))
                .ok_or_else(|| ConfigError::Invalid {
                    variable: RETENTION_DAYS,
                    reason: format!(
                        "{:?} is not a number of days from {MIN_RETENTION_DAYS} (an approval may wait 30 days) to 3650",
                        raw.chars().take(40).collect::<String>()
                    ),
                })?,
        };
        Ok(Self {
            name,
            retention: Duration::from_secs(days * 86_400),
        })
    }
}

#[derive(Debug, Clone)]
pub struct EventsSettings {
    pub slack_api_url: String,
    pub bot_token: SecretSource,
    pub channel: String,
    /// Channels for runbooks by name prefix (`SLACK_ROUTES`); `channel` otherwise.
    pub routes: Routes,
    /// Runbooks whose `aws:pause` steps get a Resume prompt (`SLACK_RESUME_PREFIXES`).
    pub resumable: RunbookPrefixes,
    /// Read only to draw prompts as the interactions function will treat them.
    pub approver_role: Option<String>,
    /// The interactions function's role (`INTERACTIONS_ROLE_ARN`): decisions SSM records
    /// from its sessions are credited to the Slack person their comment names.
    pub interactions_role: Option<String>,
    /// Who may decide where no rule applies (`SLACK_APPROVERS`): the prompt says.
    pub approvers: ApproverPolicy,
    pub reject_reason: ReasonMode,
    pub table: TableSettings,
    pub organization: OrganizationSettings,
    /// Reminders, the last call and the sweep's bounds.
    pub sweep: SweepSettings,
    /// Self-approval, and telling the starter.
    pub starters: StarterSettings,
    /// Where failed events wait to be read back (`FAILED_EVENTS_QUEUE_URL`).
    pub failed_events_queue: Option<String>,
}

/// How a Reject asks for a reason (`REJECT_REASON`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonMode {
    /// A modal asks for a reason, and Reject needs one.
    Required,
    /// A modal asks for a reason; it may stay empty (the default).
    Optional,
    /// No modal: Reject (after its confirm dialog) is sent at once.
    Off,
}

#[derive(Debug, Clone)]
pub struct InteractionsSettings {
    pub slack_api_url: String,
    pub bot_token: SecretSource,
    pub signing_secret: SecretSource,
    pub approvers: ApproverPolicy,
    /// How long user-group membership is cached (`SLACK_GROUP_CACHE_SECONDS`).
    pub group_cache: Duration,
    /// The app's own workspace (`SLACK_TEAM_ID`); read with `auth.test` when unset.
    pub team_id: Option<String>,
    /// Other workspaces whose users may decide (`SLACK_ALLOWED_TEAMS`),
    /// for shared (Slack Connect) channels. Empty: only the app's own workspace.
    pub allowed_teams: BTreeSet<String>,
    /// Decisions are signalled under an STS session of this role named after the
    /// Slack user (`APPROVER_ROLE_ARN`); unset: under the function's own role.
    pub approver_role: Option<String>,
    pub reject_reason: ReasonMode,
    /// Runbooks whose `aws:pause` steps may be resumed from Slack (`SLACK_RESUME_PREFIXES`).
    pub resumable: RunbookPrefixes,
    pub table: TableSettings,
    pub organization: OrganizationSettings,
    /// Self-approval, and telling the starter.
    pub starters: StarterSettings,
}

impl EventsSettings {
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let channel = env
            .get(CHANNEL)
            .ok_or(ConfigError::Missing(CHANNEL))?
            .trim()
            .to_owned();
        if !is_channel_id(&channel) {
            return Err(ConfigError::Invalid {
                variable: CHANNEL,
                reason: format!(
                    "{channel:?} is not a channel ID (like C0123456789); find it under the channel's name → About"
                ),
            });
        }
        Ok(Self {
            slack_api_url: slack_api_url(env)?,
            bot_token: secret_source(env, BOT_TOKEN)?,
            channel,
            routes: Routes::parse(&env.get(ROUTES).unwrap_or_default())?,
            resumable: RunbookPrefixes::parse(&env.get(RESUME_PREFIXES).unwrap_or_default()),
            approver_role: env
                .get(APPROVER_ROLE_ARN)
                .map(|raw| role_arn(&raw))
                .transpose()?,
            interactions_role: env
                .get(INTERACTIONS_ROLE_ARN)
                .map(|raw| role_arn_of(INTERACTIONS_ROLE_ARN, &raw))
                .transpose()?,
            approvers: ApproverPolicy::parse(env.get(APPROVERS).as_deref())?,
            reject_reason: reason_mode(env)?,
            table: TableSettings::from_env(env)?,
            organization: OrganizationSettings::from_env(env)?,
            sweep: SweepSettings::from_env(env)?,
            starters: StarterSettings::from_env(env)?,
            failed_events_queue: failed_events::failed_events_queue(env)?,
        })
    }
}

impl InteractionsSettings {
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        Ok(Self {
            slack_api_url: slack_api_url(env)?,
            bot_token: secret_source(env, BOT_TOKEN)?,
            signing_secret: secret_source(env, SIGNING_SECRET)?,
            approvers: ApproverPolicy::parse(env.get(APPROVERS).as_deref())?,
            group_cache: group_cache(env)?,
            team_id: match env.get(TEAM_ID) {
                None => None,
                Some(raw) => Some(team_ids(TEAM_ID, &raw)?.into_iter().next().ok_or(
                    ConfigError::Invalid {
                        variable: TEAM_ID,
                        reason: "expected one workspace ID like T0123ABCD".into(),
                    },
                )?),
            },
            allowed_teams: env
                .get(ALLOWED_TEAMS)
                .map(|raw| team_ids(ALLOWED_TEAMS, &raw))
                .transpose()?
                .unwrap_or_default(),
            approver_role: env
                .get(APPROVER_ROLE_ARN)
                .map(|raw| role_arn(&raw))
                .transpose()?,
            reject_reason: reason_mode(env)?,
            resumable: RunbookPrefixes::parse(&env.get(RESUME_PREFIXES).unwrap_or_default()),
            table: TableSettings::from_env(env)?,
            organization: OrganizationSettings::from_env(env)?,
            starters: StarterSettings::from_env(env)?,
        })
    }
}

/// An IAM role ARN: `arn:<partition>:iam::<12-digit account>:role/<path/>name`.
fn role_arn(raw: &str) -> Result<String, ConfigError> {
    role_arn_of(APPROVER_ROLE_ARN, raw)
}

fn role_arn_of(variable: &'static str, raw: &str) -> Result<String, ConfigError> {
    let arn = raw.trim();
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let valid = match parts.as_slice() {
        ["arn", partition, "iam", "", account, resource] => {
            partition.starts_with("aws")
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && resource.strip_prefix("role/").is_some_and(|name| {
                    !name.is_empty()
                        && !name.ends_with('/')
                        && name.len() <= 512
                        && name
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b))
                })
        }
        _ => false,
    };
    if valid {
        Ok(arn.to_owned())
    } else {
        Err(ConfigError::Invalid {
            variable,
            reason: format!(
                "{:?} is not an IAM role ARN (like arn:aws:iam::123456789012:role/SlackApprover)",
                arn.chars().take(120).collect::<String>()
            ),
        })
    }
}

fn reason_mode(env: &impl Env) -> Result<ReasonMode, ConfigError> {
    match env
        .get(REJECT_REASON)
        .map(|r| r.trim().to_ascii_lowercase())
    {
        None => Ok(ReasonMode::Optional),
        Some(r) if r == "required" => Ok(ReasonMode::Required),
        Some(r) if r == "optional" => Ok(ReasonMode::Optional),
        Some(r) if r == "off" => Ok(ReasonMode::Off),
        Some(r) => Err(ConfigError::Invalid {
            variable: REJECT_REASON,
            reason: format!(
                "{:?} is not one of required, optional (the default) or off",
                r.chars().take(40).collect::<String>()
            ),
        }),
    }
}

fn group_cache(env: &impl Env) -> Result<Duration, ConfigError> {
    let Some(raw) = env.get(GROUP_CACHE_SECONDS) else {
        return Ok(DEFAULT_GROUP_CACHE);
    };
    match raw.trim().parse::<u64>() {
        Ok(secs) if Duration::from_secs(secs) <= MAX_GROUP_CACHE => Ok(Duration::from_secs(secs)),
        _ => Err(ConfigError::Invalid {
            variable: GROUP_CACHE_SECONDS,
            reason: format!(
                "{:?} is not a number of seconds from 0 (no cache) to {}",
                raw.chars().take(40).collect::<String>(),
                MAX_GROUP_CACHE.as_secs()
            ),
        }),
    }
}

/// Workspace IDs (`T…`), comma-separated.
fn team_ids(variable: &'static str, raw: &str) -> Result<BTreeSet<String>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            let ok = t.len() >= 3
                && t.as_bytes()[0] == b'T'
                && t.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
            if ok {
                Ok(t.to_owned())
            } else {
                Err(ConfigError::Invalid {
                    variable,
                    reason: format!(
                        "{:?} is not a Slack workspace ID (T…)",
                        t.chars().take(40).collect::<String>()
                    ),
                })
            }
        })
        .collect()
}

/// `https://` only; plain `http://` is allowed for local runs: loopback addresses, and
/// `host.docker.internal` (the host, seen from the container of `sam local invoke`).
/// Never for anything that leaves the machine: the bot token travels with every call.
fn slack_api_url(env: &impl Env) -> Result<String, ConfigError> {
    let url = env
        .get(API_URL)
        .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
    let url = url.trim().trim_end_matches('/');
    let invalid = |why: &str| ConfigError::Invalid {
        variable: API_URL,
        reason: format!("{:?} {why}", url.chars().take(100).collect::<String>()),
    };
    if url.contains(char::is_whitespace) {
        return Err(invalid("contains whitespace"));
    }
    if let Some(rest) = url.strip_prefix("https://") {
        return if authority(rest).is_some_and(|a| !a.is_empty()) {
            Ok(url.to_owned())
        } else {
            Err(invalid(&format!("is not a URL like {DEFAULT_API_URL}")))
        };
    }
    match url.strip_prefix("http://").and_then(authority) {
        Some(a) if is_local(a) => Ok(url.to_owned()),
        Some(_) => Err(invalid(
            "must use https:// (http:// is accepted only for 127.0.0.1, [::1], localhost \
             or host.docker.internal, for local runs)",
        )),
        None => Err(invalid(&format!(
            "is not an https URL like {DEFAULT_API_URL}"
        ))),
    }
}

/// The `host[:port]` of a URL after its scheme; `None` when it carries user info.
pub fn authority(after_scheme: &str) -> Option<&str> {
    let authority = after_scheme
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    (!authority.contains('@')).then_some(authority)
}

/// `127.x.y.z`, `[::1]`, `localhost` or `host.docker.internal`, with or without a port.
pub fn is_local(authority: &str) -> bool {
    let host = if let Some(v6) = authority.strip_prefix('[') {
        match v6.split_once(']') {
            Some((host, rest)) if rest.is_empty() || rest.starts_with(':') => host,
            _ => return false,
        }
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    if host.eq_ignore_ascii_case("localhost")
        || host.eq_ignore_ascii_case("host.docker.internal")
        || host == "::1"
    {
        return true;
    }
    host.parse::<std::net::Ipv4Addr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// These variables, and the approvals table (unless given).
    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let mut map: HashMap<String, String> = HashMap::from([(TABLE.into(), "approvals".into())]);
        map.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        move |name: &str| map.get(name).cloned()
    }

    #[test]
    fn events_settings_need_a_channel_id_and_a_token() {
        let ok = EventsSettings::from_env(&env(&[(CHANNEL, "C0APPROVALS"), (BOT_TOKEN, "xoxb-1")]))
            .unwrap();
        assert_eq!(ok.slack_api_url, DEFAULT_API_URL);
        assert_eq!(ok.bot_token, SecretSource::Value(Secret::new("xoxb-1")));
        let err = EventsSettings::from_env(&env(&[(BOT_TOKEN, "xoxb-1")])).unwrap_err();
        assert!(err.to_string().contains(CHANNEL));
        let err = EventsSettings::from_env(&env(&[(CHANNEL, "#approvals"), (BOT_TOKEN, "xoxb-1")]))
            .unwrap_err();
        assert!(err.to_string().starts_with("SLACK_CHANNEL:"));
        let err = EventsSettings::from_env(&env(&[(CHANNEL, "C0APPROVALS")])).unwrap_err();
        assert!(err.to_string().contains("SLACK_BOT_TOKEN is not set"));
    }

    #[test]
    fn secrets_come_from_exactly_one_place() {
        let from_parameter = InteractionsSettings::from_env(&env(&[
            ("SLACK_BOT_TOKEN_PARAMETER", "/approvals/bot-token"),
            (SIGNING_SECRET, "s3cret"),
        ]))
        .unwrap();
        assert_eq!(
            from_parameter.bot_token,
            SecretSource::Parameter {
                variable: BOT_TOKEN,
                name: "/approvals/bot-token".into()
            }
        );
        assert_eq!(from_parameter.approvers, ApproverPolicy::Nobody);
        let both = InteractionsSettings::from_env(&env(&[
            (BOT_TOKEN, "xoxb-1"),
            ("SLACK_BOT_TOKEN_PARAMETER", "/x"),
            (SIGNING_SECRET, "s"),
        ]))
        .unwrap_err();
        assert!(
            both.to_string()
                .contains("both SLACK_BOT_TOKEN and SLACK_BOT_TOKEN_PARAMETER")
        );
        let none =
            InteractionsSettings::from_env(&env(&[(BOT_TOKEN, "xoxb-1"), (SIGNING_SECRET, " ")]))
                .unwrap_err();
        assert!(none.to_string().contains("SLACK_SIGNING_SECRET is not set"));
    }

    #[test]
    fn bad_approvers_and_urls_are_named() {
        let base = [(BOT_TOKEN, "xoxb-1"), (SIGNING_SECRET, "s")];
        let bad = InteractionsSettings::from_env(&env(&[base[0], base[1], (APPROVERS, "alice")]))
            .unwrap_err();
        assert!(bad.to_string().starts_with("SLACK_APPROVERS:"));
        let url =
            InteractionsSettings::from_env(&env(&[base[0], base[1], (API_URL, "slack.com/api")]))
                .unwrap_err();
        assert!(url.to_string().starts_with("SLACK_API_URL:"));
        let local = InteractionsSettings::from_env(&env(&[
            base[0],
            base[1],
            (API_URL, "http://127.0.0.1:9020/api/"),
        ]))
        .unwrap();
        assert_eq!(local.slack_api_url, "http://127.0.0.1:9020/api");
    }

    #[test]
    fn the_slack_api_is_reached_over_https_except_for_local_runs() {
        let with_url = |url: &str| {
            InteractionsSettings::from_env(&env(&[
                (BOT_TOKEN, "xoxb-1"),
                (SIGNING_SECRET, "s"),
                (API_URL, url),
            ]))
        };
        for ok in [
            "https://slack.com/api",
            "https://slack.example.internal:8443/api",
            "http://127.0.0.1:9020/api",
            "http://127.8.9.10/api",
            "http://localhost:9020/api",
            "http://[::1]:9020/api",
            "http://host.docker.internal:9020/api",
        ] {
            assert!(with_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://slack.com/api",
            "http://localhost.evil.example/api",
            "http://host.docker.internal.evil.example/api",
            "http://127.0.0.1@evil.example/api",
            "http://127.0.0.1.nip.io/api",
            "http://[::1].evil/api",
            "ftp://127.0.0.1/api",
            "https://",
            "https://user@slack.com/api",
        ] {
            let err = with_url(bad).unwrap_err();
            assert!(
                err.to_string().starts_with("SLACK_API_URL:"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn group_cache_and_teams_are_validated() {
        let base = [(BOT_TOKEN, "xoxb-1"), (SIGNING_SECRET, "s")];
        let defaults = InteractionsSettings::from_env(&env(&base)).unwrap();
        assert_eq!(defaults.group_cache, DEFAULT_GROUP_CACHE);
        assert!(defaults.allowed_teams.is_empty() && defaults.team_id.is_none());
        let set = InteractionsSettings::from_env(&env(&[
            base[0],
            base[1],
            (GROUP_CACHE_SECONDS, "60"),
            (TEAM_ID, "T0OWN"),
            (ALLOWED_TEAMS, "T0PARTNER, T0OTHER"),
        ]))
        .unwrap();
        assert_eq!(set.group_cache, Duration::from_secs(60));
        assert_eq!(set.team_id.as_deref(), Some("T0OWN"));
        assert_eq!(set.allowed_teams.len(), 2);
        for (variable, bad) in [
            (GROUP_CACHE_SECONDS, "5m"),
            (GROUP_CACHE_SECONDS, "86400"),
            (ALLOWED_TEAMS, "acme"),
            (TEAM_ID, "C0CHANNEL"),
            (ALLOWED_TEAMS, "TÜ"),
            (ALLOWED_TEAMS, "E0ORG"),
        ] {
            let err = InteractionsSettings::from_env(&env(&[base[0], base[1], (variable, bad)]))
                .unwrap_err();
            assert!(err.to_string().starts_with(variable), "{bad}: {err}");
        }
    }

    #[test]
    fn the_table_is_named_and_its_retention_bounded() {
        let base = [(CHANNEL, "C0A"), (BOT_TOKEN, "xoxb-1")];
        let ok = EventsSettings::from_env(&env(&base)).unwrap();
        assert_eq!(ok.table.name, "approvals");
        assert_eq!(ok.table.retention, Duration::from_secs(365 * 86_400));
        let days =
            EventsSettings::from_env(&env(&[base[0], base[1], (RETENTION_DAYS, "31")])).unwrap();
        assert_eq!(days.table.retention, Duration::from_secs(31 * 86_400));
        for (variable, bad) in [
            (TABLE, " "),
            (TABLE, "no spaces"),
            (RETENTION_DAYS, "0"),
            (RETENTION_DAYS, "30"),
            (RETENTION_DAYS, "forever"),
        ] {
            let err =
                EventsSettings::from_env(&env(&[base[0], base[1], (variable, bad)])).unwrap_err();
            assert!(err.to_string().starts_with(variable), "{bad}: {err}");
        }
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("xoxb-very-secret");
        assert!(!format!("{s:?}").contains("very-secret"));
        let settings =
            EventsSettings::from_env(&env(&[(CHANNEL, "C0A"), (BOT_TOKEN, "xoxb-very-secret")]))
                .unwrap();
        assert!(!format!("{settings:?}").contains("very-secret"));
    }

    #[test]
    fn routes_approver_role_and_reject_reason_are_validated() {
        let base = [(CHANNEL, "C0A"), (BOT_TOKEN, "x"), (TABLE, "approvals")];
        let routed = EventsSettings::from_env(&env(&[
            base[0],
            base[1],
            base[2],
            (ROUTES, "Prod-=C0PROD,Prod-Db-=C0DBA"),
        ]))
        .unwrap();
        assert_eq!(
            routed.routes.channel_for("Prod-Db-Failover", "C0A"),
            "C0DBA"
        );
        let err = EventsSettings::from_env(&env(&[base[0], base[1], base[2], (ROUTES, "Prod")]))
            .unwrap_err();
        assert!(err.to_string().starts_with("SLACK_ROUTES:"), "{err}");

        let base = [
            (BOT_TOKEN, "x"),
            (SIGNING_SECRET, "s"),
            (TABLE, "approvals"),
        ];
        let plain = InteractionsSettings::from_env(&env(&base)).unwrap();
        assert_eq!(plain.approver_role, None);
        assert_eq!(plain.reject_reason, ReasonMode::Optional);
        let role = "arn:aws:iam::123456789012:role/ops/SlackApprover";
        let set = InteractionsSettings::from_env(&env(&[
            base[0],
            base[1],
            base[2],
            (APPROVER_ROLE_ARN, role),
            (REJECT_REASON, "Required"),
        ]))
        .unwrap();
        assert_eq!(set.approver_role.as_deref(), Some(role));
        assert_eq!(set.reject_reason, ReasonMode::Required);
        for (variable, bad) in [
            (APPROVER_ROLE_ARN, "SlackApprover"),
            (APPROVER_ROLE_ARN, "arn:aws:iam::123:role/SlackApprover"),
            (
                APPROVER_ROLE_ARN,
                "arn:aws:sts::123456789012:assumed-role/R/s",
            ),
            (REJECT_REASON, "sometimes"),
        ] {
            let err =
                InteractionsSettings::from_env(&env(&[base[0], base[1], base[2], (variable, bad)]))
                    .unwrap_err();
            assert!(err.to_string().starts_with(variable), "{bad}: {err}");
        }
    }
}
