//! Which account and Region a step lives in, and the clients for it.
//!
//! An `aws:approve` step waits in its execution's own account and Region, so every
//! SSM call about it goes there. The deployment's own account (`HUB_ACCOUNT_ID`) is
//! served in any Region with the function's own credentials; any other account only
//! in organization mode (`SPOKE_ROLE_NAME`), through a session of the role spoke.yaml
//! creates there, `arn:<partition>:iam::<account>:role/<SPOKE_ROLE_NAME>`.
//!
//! Those sessions are kept per account until shortly before they expire, so an
//! execution environment assumes each account's role about once an hour at most,
//! and at most [`KEPT_ACCOUNTS`] are kept. Only one `AssumeRole` per account is in
//! flight at a time: clicks that arrive together for a new account wait for the
//! same one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_sdk_ssm::config::Credentials;
use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata};

use crate::config::SpokeRoles;
use crate::deadline::{Deadline, OutOfTime, sdk_timeouts};
use crate::domain::place::Place;
use crate::ssm::Ssm;

/// How long a spoke session is asked for: one hour, the most a chained role session
/// (the function's own credentials are one) may last.
const SESSION_SECS: i32 = 3600;
/// A kept session is used only while it has at least this long to live.
const REFRESH_BEFORE: Duration = Duration::from_secs(300);
/// The spoke role's sessions are named so; CloudTrail and SSM's `ApproverDecisions`
/// show `assumed-role/<SPOKE_ROLE_NAME>/ssm-slack-approvals`.
pub const SPOKE_SESSION_NAME: &str = "ssm-slack-approvals";
/// The session policy of the events function's spoke sessions: it only reads, so its
/// sessions may only read, whatever the spoke role allows (a session's permissions are
/// the intersection of the role's and this policy's).
pub const READ_ONLY_SESSION_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ssm:GetAutomationExecution","ssm:DescribeAutomationStepExecutions","ssm:DescribeAutomationExecutions"],"Resource":"*"}]}"#;
/// At most this many accounts' sessions are kept (about 1 KB each); past it, the one
/// that expires first makes room.
pub const KEPT_ACCOUNTS: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    #[error("this deployment serves account {home} only, and the step runs in account {account}")]
    NotServed { account: String, home: String },
    #[error("could not assume {role_arn}: {message}")]
    CannotAssume {
        account: String,
        role_arn: String,
        code: Option<String>,
        message: String,
    },
    #[error("STS AssumeRole not started: {0}")]
    OutOfTime(#[from] OutOfTime),
}

impl PlaceError {
    /// The account that could not be reached.
    pub fn account(&self) -> Option<&str> {
        match self {
            Self::NotServed { account, .. } | Self::CannotAssume { account, .. } => Some(account),
            Self::OutOfTime(_) => None,
        }
    }

    /// STS refused (the role is missing, or does not trust this deployment), as
    /// opposed to not answering in time: telling the person which account it is helps.
    pub fn is_refusal(&self) -> bool {
        match self {
            Self::NotServed { .. } => true,
            Self::CannotAssume { code, .. } => matches!(
                code.as_deref(),
                Some(
                    "AccessDenied"
                        | "AccessDeniedException"
                        | "NoSuchEntity"
                        | "InvalidClientTokenId"
                        | "RegionDisabledException"
                )
            ),
            Self::OutOfTime(_) => false,
        }
    }
}

type Kept = Arc<tokio::sync::Mutex<Option<Credentials>>>;

pub struct Places {
    home: Place,
    ssm: Ssm,
    sts: aws_sdk_sts::Client,
    spoke: Option<SpokeRoles>,
    /// The home account's per-person role (`APPROVER_ROLE_ARN`).
    approver_role: Option<String>,
    /// A session policy for every spoke session ([`READ_ONLY_SESSION_POLICY`] for a
    /// function that never signals).
    session_policy: Option<&'static str>,
    kept: Mutex<HashMap<String, Kept>>,
}

impl Places {
    pub fn new(
        home: Place,
        ssm: Ssm,
        sts: aws_sdk_sts::Client,
        spoke: Option<SpokeRoles>,
        approver_role: Option<String>,
    ) -> Self {
        let ssm = ssm.in_account(home.account.as_deref());
        Self {
            home,
            ssm,
            sts,
            spoke,
            approver_role,
            session_policy: None,
            kept: Mutex::default(),
        }
    }

    /// Spoke sessions limited by `policy` (see [`READ_ONLY_SESSION_POLICY`]).
    pub fn with_session_policy(mut self, policy: &'static str) -> Self {
        self.session_policy = Some(policy);
        self
    }

    /// The deployment's own account and Region.
    pub fn home(&self) -> &Place {
        &self.home
    }

    /// SSM in the deployment's own account and Region (Parameter Store, for one).
    pub fn home_ssm(&self) -> &Ssm {
        &self.ssm
    }

    /// The place an event or a button names, filled in from the deployment's own.
    pub fn place_of(&self, account: Option<&str>, region: Option<&str>) -> Place {
        Place {
            account: account
                .map(str::to_owned)
                .or_else(|| self.home.account.clone()),
            region: region.unwrap_or(&self.home.region).to_owned(),
        }
    }

    /// The account is the deployment's own (or the deployment was not told its own,
    /// as in a local run, and serves whatever it is given with its own credentials).
    fn is_home_account(&self, place: &Place) -> bool {
        match (&self.home.account, &place.account) {
            (None, _) | (_, None) => true,
            (Some(home), Some(account)) => home == account,
        }
    }

    /// Whether decisions are signalled per person in `place`.
    pub fn per_person(&self, place: &Place) -> bool {
        self.approver_role_for(place).is_some()
    }

    /// The role whose per-person sessions signal decisions in `place`, if any.
    pub fn approver_role_for(&self, place: &Place) -> Option<String> {
        if self.is_home_account(place) {
            return self.approver_role.clone();
        }
        let name = self.spoke.as_ref()?.approver_role_name.as_deref()?;
        let account = place.account.as_deref()?;
        Some(role_arn(&place.region, account, name))
    }

    /// Whether this deployment acts in `place`'s account at all, without asking STS:
    /// its own account always; any other only in organization mode (where whether a
    /// spoke role is really there is learnt from STS, in [`Self::ssm`]). `Err` names
    /// the account for the person told why nothing was done.
    pub fn serves(&self, place: &Place) -> Result<(), PlaceError> {
        if self.is_home_account(place) || self.spoke.is_some() {
            return Ok(());
        }
        Err(PlaceError::NotServed {
            account: place.account.clone().unwrap_or_default(),
            home: self.home.account.clone().unwrap_or_default(),
        })
    }

    /// SSM in `place`: the function's own credentials in its own account, a kept or
    /// new session of the spoke role in another.
    pub async fn ssm(&self, place: &Place, deadline: &Deadline) -> Result<Ssm, PlaceError> {
        self.serves(place)?;
        if self.is_home_account(place) {
            return Ok(if place.region == self.home.region {
                self.ssm.clone()
            } else {
                self.ssm.there(&place.region, None)
            });
        }
        let (Some(spoke), Some(account)) = (&self.spoke, place.account.as_deref()) else {
            unreachable!("checked above: another account is served only with spoke roles")
        };
        let role = role_arn(&place.region, account, &spoke.role_name);
        let credentials = self
            .session(account, &role, SPOKE_SESSION_NAME, None, deadline)
            .await?;
        Ok(self
            .ssm
            .there(&place.region, Some(credentials))
            .in_account(Some(account)))
    }

    /// How many accounts' sessions are kept now.
    pub fn kept_accounts(&self) -> usize {
        self.kept.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// The kept session of `account`'s role, or a new one (one `AssumeRole` at a time
    /// per account).
    async fn session(
        &self,
        account: &str,
        role: &str,
        session_name: &str,
        source_identity: Option<&str>,
        deadline: &Deadline,
    ) -> Result<Credentials, PlaceError> {
        let slot = self.slot(account);
        let mut kept = slot.lock().await;
        if let Some(credentials) = kept.as_ref().filter(|c| lasts(c)) {
            return Ok(credentials.clone());
        }
        let credentials = assume(
            &self.sts,
            Assume {
                account,
                role,
                session_name,
                source_identity,
                policy: self.session_policy,
            },
            deadline,
            "ssm-slack-approvals-spoke",
        )
        .await?;
        *kept = Some(credentials.clone());
        Ok(credentials)
    }

    fn slot(&self, account: &str) -> Kept {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = kept.get(account) {
            return slot.clone();
        }
        if kept.len() >= KEPT_ACCOUNTS {
            // Make room: drop the session that expires first (an empty slot, or one
            // in use by a call now, counts as expiring first).
            let first = kept
                .iter()
                .min_by_key(|(_, slot)| {
                    slot.try_lock()
                        .ok()
                        .and_then(|c| c.as_ref().and_then(Credentials::expiry))
                        .unwrap_or(SystemTime::UNIX_EPOCH)
                })
                .map(|(account, _)| account.clone());
            if let Some(first) = first {
                kept.remove(&first);
            }
        }
        kept.entry(account.to_owned()).or_default().clone()
    }
}

/// The ARN of role `name` in `account`, in the partition of `region`.
pub fn role_arn(region: &str, account: &str, name: &str) -> String {
    let partition = if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    format!("arn:{partition}:iam::{account}:role/{name}")
}

/// Whether kept credentials may still be used: at least [`REFRESH_BEFORE`] to live.
pub(crate) fn lasts(credentials: &Credentials) -> bool {
    credentials
        .expiry()
        .and_then(|at| at.duration_since(SystemTime::now()).ok())
        .is_some_and(|left| left > REFRESH_BEFORE)
}

/// What one `AssumeRole` asks for.
pub(crate) struct Assume<'a> {
    pub account: &'a str,
    pub role: &'a str,
    pub session_name: &'a str,
    pub source_identity: Option<&'a str>,
    /// A session policy that narrows what the session may do.
    pub policy: Option<&'a str>,
}

/// One `AssumeRole`, inside `deadline`.
pub(crate) async fn assume(
    sts: &aws_sdk_sts::Client,
    asked: Assume<'_>,
    deadline: &Deadline,
    provider: &'static str,
) -> Result<Credentials, PlaceError> {
    let Assume {
        account,
        role,
        session_name,
        source_identity,
        policy,
    } = asked;
    let mut limits = aws_sdk_sts::config::Builder::default();
    limits.set_timeout_config(Some(sdk_timeouts(deadline, Duration::ZERO)?));
    let refused = |code: Option<String>, message: String| {
        crate::metrics::aws_error("STS", account);
        PlaceError::CannotAssume {
            account: account.to_owned(),
            role_arn: role.to_owned(),
            code,
            message,
        }
    };
    let out = sts
        .assume_role()
        .role_arn(role)
        .role_session_name(session_name)
        .set_source_identity(source_identity.map(str::to_owned))
        .set_policy(policy.map(str::to_owned))
        .duration_seconds(SESSION_SECS)
        .customize()
        .config_override(limits)
        .send()
        .await
        .map_err(|e| {
            let code = e.code().map(str::to_owned);
            refused(
                code,
                DisplayErrorContext(aws_sdk_sts::Error::from(e)).to_string(),
            )
        })?;
    let Some(c) = out.credentials() else {
        return Err(refused(None, "the answer carries no credentials".into()));
    };
    Ok(Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        SystemTime::try_from(*c.expiration()).ok(),
        provider,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_read_only_session_policy_allows_exactly_the_reads() {
        let policy: serde_json::Value = serde_json::from_str(READ_ONLY_SESSION_POLICY).unwrap();
        let statements = policy["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 1);
        assert_eq!(statements[0]["Effect"], "Allow");
        assert_eq!(
            statements[0]["Action"],
            serde_json::json!([
                "ssm:GetAutomationExecution",
                "ssm:DescribeAutomationStepExecutions",
                "ssm:DescribeAutomationExecutions"
            ])
        );
    }

    #[test]
    fn role_arns_follow_the_partition_of_the_region() {
        assert_eq!(
            role_arn("eu-west-1", "111122223333", "ssm-slack-approvals-hub"),
            "arn:aws:iam::111122223333:role/ssm-slack-approvals-hub"
        );
        assert_eq!(
            role_arn("cn-north-1", "111122223333", "r"),
            "arn:aws-cn:iam::111122223333:role/r"
        );
        assert_eq!(
            role_arn("us-gov-west-1", "111122223333", "r"),
            "arn:aws-us-gov:iam::111122223333:role/r"
        );
    }
}
