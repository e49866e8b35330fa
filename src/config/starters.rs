//! Separation of duties: whether a run's starter may approve it, and whether they hear
//! how their run was decided (both functions read the same two variables).

use super::{ConfigError, Env};
use crate::domain::starter::SelfApproval;

pub const SELF_APPROVAL: &str = "SLACK_SELF_APPROVAL";
pub const NOTIFY_STARTER: &str = "SLACK_NOTIFY_STARTER";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StarterSettings {
    /// For every step whose rule does not say (`SLACK_SELF_APPROVAL`; forbidden by
    /// default).
    pub self_approval: SelfApproval,
    /// A starter matched to a Slack person gets a direct message when their run waits
    /// and when it is decided (`SLACK_NOTIFY_STARTER`; on by default).
    pub notify: bool,
}

impl StarterSettings {
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let self_approval = match env.get(SELF_APPROVAL) {
            None => SelfApproval::Forbidden,
            Some(raw) => SelfApproval::parse(&raw).map_err(|reason| ConfigError::Invalid {
                variable: SELF_APPROVAL,
                reason,
            })?,
        };
        let notify = match env
            .get(NOTIFY_STARTER)
            .map(|r| r.trim().to_ascii_lowercase())
        {
            None => true,
            Some(r) if r == "on" || r == "true" => true,
            Some(r) if r == "off" || r == "false" => false,
            Some(r) => {
                return Err(ConfigError::Invalid {
                    variable: NOTIFY_STARTER,
                    reason: format!(
                        "{:?} is not on (the default) or off",
                        r.chars().take(40).collect::<String>()
                    ),
                });
            }
        };
        Ok(Self {
            self_approval,
            notify,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_approval_is_forbidden_and_starters_told_unless_a_deployment_says_otherwise() {
        let none = |_: &str| None;
        assert_eq!(
            StarterSettings::from_env(&none).unwrap(),
            StarterSettings {
                self_approval: SelfApproval::Forbidden,
                notify: true
            }
        );
        let set = |name: &str| match name {
            SELF_APPROVAL => Some("ALLOWED".to_owned()),
            NOTIFY_STARTER => Some("off".to_owned()),
            _ => None,
        };
        assert_eq!(
            StarterSettings::from_env(&set).unwrap(),
            StarterSettings {
                self_approval: SelfApproval::Allowed,
                notify: false
            }
        );
        let bad = |name: &str| (name == SELF_APPROVAL).then(|| "nope".to_owned());
        let err = StarterSettings::from_env(&bad).unwrap_err().to_string();
        assert!(err.starts_with("SLACK_SELF_APPROVAL: \"nope\""), "{err}");
        let bad = |name: &str| (name == NOTIFY_STARTER).then(|| "loud".to_owned());
        let err = StarterSettings::from_env(&bad).unwrap_err().to_string();
        assert!(err.starts_with("SLACK_NOTIFY_STARTER"), "{err}");
    }
}
