//! Settings both functions share about where runbooks run and which rules apply:
//! the deployment's own account, the spoke roles of organization mode, friendly
//! account names and the rules document.

use std::time::Duration;

use super::{ConfigError, Env};
use crate::domain::place::{AccountNames, is_account_id};

pub const HUB_ACCOUNT_ID: &str = "HUB_ACCOUNT_ID";
pub const SPOKE_ROLE_NAME: &str = "SPOKE_ROLE_NAME";
pub const SPOKE_APPROVER_ROLE_NAME: &str = "SPOKE_APPROVER_ROLE_NAME";
/// The role the interactions function signs with in member accounts, when it is not
/// `SPOKE_ROLE_NAME` (the events function's, which only reads): the audit trail credits
/// decisions signalled by its sessions.
pub const SPOKE_SIGNER_ROLE_NAME: &str = "SPOKE_SIGNER_ROLE_NAME";
pub const ACCOUNT_NAMES: &str = "ACCOUNT_NAMES";
const MAX_REFRESH: Duration = Duration::from_secs(3600);
pub const RULES_PARAMETER: &str = "SLACK_RULES_PARAMETER";
pub const RULES_REFRESH_SECONDS: &str = "SLACK_RULES_REFRESH_SECONDS";
/// How long rules are trusted before the document is read again.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(300);

/// Organization mode: the roles spoke.yaml creates in each member account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpokeRoles {
    /// Read (and, without per-person sessions, signal) there.
    pub role_name: String,
    /// Per-person sessions there; `None` without per-person approvals.
    pub approver_role_name: Option<String>,
    /// The interactions function's role there, when not `role_name`.
    pub signer_role_name: Option<String>,
}

/// Where the document is, and how often it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesSource {
    pub parameter: String,
    pub refresh: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrganizationSettings {
    /// The deployment's own account (`HUB_ACCOUNT_ID`); unknown in local runs.
    pub home_account: Option<String>,
    /// Organization mode (`SPOKE_ROLE_NAME`): other accounts through their spoke roles.
    pub spoke: Option<SpokeRoles>,
    pub account_names: AccountNames,
    pub rules: Option<RulesSource>,
}

impl OrganizationSettings {
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let home_account = env.get(HUB_ACCOUNT_ID).map(|a| a.trim().to_owned());
        if let Some(account) = home_account.as_deref().filter(|a| !is_account_id(a)) {
            return Err(ConfigError::Invalid {
                variable: HUB_ACCOUNT_ID,
                reason: format!("{:?} is not a 12-digit account ID", shorten(account)),
            });
        }
        let spoke = match env.get(SPOKE_ROLE_NAME) {
            None => None,
            Some(name) => Some(SpokeRoles {
                role_name: role_name(SPOKE_ROLE_NAME, &name)?,
                approver_role_name: env
                    .get(SPOKE_APPROVER_ROLE_NAME)
                    .map(|n| role_name(SPOKE_APPROVER_ROLE_NAME, &n))
                    .transpose()?,
                signer_role_name: env
                    .get(SPOKE_SIGNER_ROLE_NAME)
                    .map(|n| role_name(SPOKE_SIGNER_ROLE_NAME, &n))
                    .transpose()?,
            }),
        };
        if spoke.is_some() && home_account.is_none() {
            return Err(ConfigError::Invalid {
                variable: HUB_ACCOUNT_ID,
                reason: format!(
                    "must be set with {SPOKE_ROLE_NAME}: the hub serves its own account with its \
                     own role and the others through theirs"
                ),
            });
        }
        let account_names = AccountNames::parse(&env.get(ACCOUNT_NAMES).unwrap_or_default())
            .map_err(|e| ConfigError::Invalid {
                variable: ACCOUNT_NAMES,
                reason: e.to_string(),
            })?;
        let rules = match env.get(RULES_PARAMETER) {
            None => None,
            Some(parameter) => Some(RulesSource {
                parameter: parameter_name(&parameter)?,
                refresh: refresh(env)?,
            }),
        };
        Ok(Self {
            home_account,
            spoke,
            account_names,
            rules,
        })
    }
}

/// An IAM role name: 1–64 of letters, digits and `+=,.@_-`.
fn role_name(variable: &'static str, raw: &str) -> Result<String, ConfigError> {
    let name = raw.trim();
    let valid = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if valid {
        Ok(name.to_owned())
    } else {
        Err(ConfigError::Invalid {
            variable,
            reason: format!(
                "{:?} is not an IAM role name (1-64 of letters, digits and +=,.@_-)",
                shorten(name)
            ),
        })
    }
}

/// A Parameter Store name: `/path/name` or `name`, of letters, digits and `_.-/`.
fn parameter_name(raw: &str) -> Result<String, ConfigError> {
    let name = raw.trim();
    let valid = (1..=1011).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-/".contains(&b));
    if valid {
        Ok(name.to_owned())
    } else {
        Err(ConfigError::Invalid {
            variable: RULES_PARAMETER,
            reason: format!("{:?} is not a Parameter Store name", shorten(name)),
        })
    }
}

fn refresh(env: &impl Env) -> Result<Duration, ConfigError> {
    let Some(raw) = env.get(RULES_REFRESH_SECONDS) else {
        return Ok(DEFAULT_REFRESH);
    };
    match raw.trim().parse::<u64>() {
        Ok(secs) if Duration::from_secs(secs) <= MAX_REFRESH => Ok(Duration::from_secs(secs)),
        _ => Err(ConfigError::Invalid {
            variable: RULES_REFRESH_SECONDS,
            reason: format!(
                "{:?} is not a number of seconds from 0 (read on every request) to {}",
                shorten(&raw),
                MAX_REFRESH.as_secs()
            ),
        }),
    }
}

fn shorten(text: &str) -> String {
    text.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name: &str| map.get(name).cloned()
    }

    #[test]
    fn single_account_needs_nothing() {
        assert_eq!(
            OrganizationSettings::from_env(&env(&[])).unwrap(),
            OrganizationSettings::default()
        );
    }

    #[test]
    fn organization_mode_is_read_and_checked() {
        let set = OrganizationSettings::from_env(&env(&[
            (HUB_ACCOUNT_ID, "111122223333"),
            (SPOKE_ROLE_NAME, "ssm-slack-approvals-hub"),
            (SPOKE_APPROVER_ROLE_NAME, "ssm-slack-approvals-approver"),
            (ACCOUNT_NAMES, "444455556666=payments-prod"),
            (RULES_PARAMETER, "/ssm-slack-approvals/rules"),
            (RULES_REFRESH_SECONDS, "60"),
        ]))
        .unwrap();
        let spoke = set.spoke.unwrap();
        assert_eq!(spoke.role_name, "ssm-slack-approvals-hub");
        assert_eq!(
            spoke.approver_role_name.as_deref(),
            Some("ssm-slack-approvals-approver")
        );
        assert_eq!(
            set.account_names.name_of("444455556666"),
            Some("payments-prod")
        );
        assert_eq!(set.rules.unwrap().refresh, Duration::from_secs(60));
        for (pairs, variable) in [
            (vec![(SPOKE_ROLE_NAME, "hub")], HUB_ACCOUNT_ID),
            (vec![(HUB_ACCOUNT_ID, "1111")], HUB_ACCOUNT_ID),
            (
                vec![
                    (HUB_ACCOUNT_ID, "111122223333"),
                    (SPOKE_ROLE_NAME, "a role"),
                ],
                SPOKE_ROLE_NAME,
            ),
            (vec![(ACCOUNT_NAMES, "prod")], ACCOUNT_NAMES),
            (vec![(RULES_PARAMETER, "rules doc")], RULES_PARAMETER),
            (
                vec![(RULES_PARAMETER, "/r"), (RULES_REFRESH_SECONDS, "5m")],
                RULES_REFRESH_SECONDS,
            ),
        ] {
            let err = OrganizationSettings::from_env(&env(&pairs)).unwrap_err();
            assert!(err.to_string().starts_with(variable), "{pairs:?}: {err}");
        }
    }
}
