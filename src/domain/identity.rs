//! AWS identities: the STS session name (and source identity) a Slack user signals
//! under, the session ARN an `aws:approve` step lists as approver, and the identities
//! this deployment signs with ([`Signers`]), the only ones whose decisions the audit
//! trail credits to a Slack person.

/// Why a Slack user ID cannot name an STS session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{shown:?} cannot name an AWS session: STS takes 2 to 64 of A-Z a-z 0-9 _ + = , . @ -")]
pub struct SessionNameError {
    shown: String,
}

/// `RoleSessionName` and `SourceIdentity` for `user_id`: the Slack user ID itself,
/// when it meets STS's rules (2-64 of `[\w+=,.@-]`; Slack's IDs always do).
pub fn session_name(user_id: &str) -> Result<&str, SessionNameError> {
    let valid = (2..=64).contains(&user_id.len())
        && user_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
        && !user_id.to_ascii_lowercase().starts_with("aws:");
    if valid {
        Ok(user_id)
    } else {
        Err(SessionNameError {
            shown: user_id.chars().take(80).collect(),
        })
    }
}

/// The principal SSM sees for `user_id` deciding through `role_arn`:
/// `arn:aws:sts::<account>:assumed-role/<role name>/<user id>`, the entry a runbook's
/// `Approvers` lists. `None` when `role_arn` is not a role ARN.
pub fn session_arn(role_arn: &str, user_id: &str) -> Option<String> {
    let parts: Vec<&str> = role_arn.splitn(6, ':').collect();
    let ["arn", partition, "iam", "", account, resource] = parts.as_slice() else {
        return None;
    };
    // A role's path is not part of its session ARN.
    let name = resource.strip_prefix("role/")?.rsplit('/').next()?;
    Some(format!(
        "arn:{partition}:sts::{account}:assumed-role/{name}/{user_id}"
    ))
}

/// The AWS identities this deployment signs decisions with. SSM records who signalled
/// each decision (`ApproverDecisions`' `Approver`); a decision is credited to the Slack
/// person its comment names only when one of these signed it, so a comment that reads
/// like ours, written by anyone else, credits nobody.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signers {
    /// The interactions function's own role (`INTERACTIONS_ROLE_ARN`), whose sessions
    /// signal in this account without per-person approvals. Only Lambda assumes it.
    pub own_role: Option<String>,
    /// Per-person sessions in this account (`APPROVER_ROLE_ARN`), named after the user.
    pub approver_role: Option<String>,
    /// Organization mode: the role the interactions function signs with in a member
    /// account (`SPOKE_SIGNER_ROLE_NAME`, else `SPOKE_ROLE_NAME`).
    pub spoke_role: Option<String>,
    /// Organization mode, per person: `SPOKE_APPROVER_ROLE_NAME`.
    pub spoke_approver_role: Option<String>,
}

impl Signers {
    /// Whether `approver` (as SSM names it) is this deployment signing for `user_id`,
    /// for a step in `account` (`None`: the deployment's own account, unknown locally).
    pub fn credits(&self, approver: &str, account: Option<&str>, user_id: &str) -> bool {
        let Some(session) = AssumedRole::parse(approver) else {
            return false;
        };
        let role_is = |arn: &Option<String>| {
            arn.as_deref()
                .and_then(RoleArn::parse)
                .is_some_and(|r| r.account == session.account && r.name == session.role)
        };
        let in_member = |name: &Option<String>| {
            name.as_deref() == Some(session.role) && account.is_some_and(|a| a == session.account)
        };
        role_is(&self.own_role)
            || (role_is(&self.approver_role) && session.name == user_id)
            || in_member(&self.spoke_role)
            || (in_member(&self.spoke_approver_role) && session.name == user_id)
    }
}

/// `arn:<partition>:sts::<account>:assumed-role/<role>/<session>`.
struct AssumedRole<'a> {
    account: &'a str,
    role: &'a str,
    name: &'a str,
}

impl<'a> AssumedRole<'a> {
    fn parse(arn: &'a str) -> Option<Self> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let ["arn", _, "sts", "", account, resource] = parts.as_slice() else {
            return None;
        };
        let (role, name) = resource.strip_prefix("assumed-role/")?.split_once('/')?;
        (!role.is_empty() && !name.is_empty() && !name.contains('/')).then_some(Self {
            account,
            role,
            name,
        })
    }
}

/// `arn:<partition>:iam::<account>:role/<path/>name`.
struct RoleArn<'a> {
    account: &'a str,
    name: &'a str,
}

impl<'a> RoleArn<'a> {
    fn parse(arn: &'a str) -> Option<Self> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let ["arn", _, "iam", "", account, resource] = parts.as_slice() else {
            return None;
        };
        let name = resource.strip_prefix("role/")?.rsplit('/').next()?;
        Some(Self { account, name })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_user_ids_name_sessions() {
        assert_eq!(session_name("U0ALICE"), Ok("U0ALICE"));
        assert_eq!(session_name("W012A3CDE"), Ok("W012A3CDE"));
        for refused in [
            "U",
            "",
            "U0 ALICE",
            "U0/ALICE",
            "aws:U1",
            &"U".repeat(65),
            "U0ÄLICE",
        ] {
            assert!(session_name(refused).is_err(), "{refused}");
        }
        assert!(
            session_name("U0 ALICE")
                .unwrap_err()
                .to_string()
                .contains("2 to 64")
        );
    }

    #[test]
    fn the_session_arn_is_what_approvers_list() {
        assert_eq!(
            session_arn(
                "arn:aws:iam::123456789012:role/ops/SlackApprover",
                "U0ALICE"
            )
            .as_deref(),
            Some("arn:aws:sts::123456789012:assumed-role/SlackApprover/U0ALICE")
        );
        assert_eq!(session_arn("not-an-arn", "U0ALICE"), None);
    }

    #[test]
    fn only_this_deployments_own_sessions_are_credited() {
        let signers = Signers {
            own_role: Some("arn:aws:iam::123456789012:role/app-SlackInteractionsRole".into()),
            approver_role: Some("arn:aws:iam::123456789012:role/ops/app-SlackApprover".into()),
            spoke_role: Some("ssm-slack-approvals-signer".into()),
            spoke_approver_role: Some("ssm-slack-approvals-approver".into()),
        };
        let hub = "123456789012";
        let member = Some("111111111111");
        #[rustfmt::skip]
        let cases = [
            ("arn:aws:sts::123456789012:assumed-role/app-SlackInteractionsRole/fn", None, true),
            ("arn:aws:sts::123456789012:assumed-role/app-SlackApprover/U0ALICE", None, true),
            // Another person's session, or another role, or another account.
            ("arn:aws:sts::123456789012:assumed-role/app-SlackApprover/U0BOB", None, false),
            ("arn:aws:sts::123456789012:assumed-role/Admin/mallory", None, false),
            ("arn:aws:sts::999999999999:assumed-role/app-SlackInteractionsRole/fn", None, false),
            ("arn:aws:iam::123456789012:user/alice", None, false),
            ("AKIDCONSOLE", None, false),
            ("", None, false),
            // In a member account: that account's own signer and approver roles only.
            ("arn:aws:sts::111111111111:assumed-role/ssm-slack-approvals-signer/ssm-slack-approvals", member, true),
            ("arn:aws:sts::111111111111:assumed-role/ssm-slack-approvals-approver/U0ALICE", member, true),
            ("arn:aws:sts::111111111111:assumed-role/ssm-slack-approvals-approver/U0BOB", member, false),
            ("arn:aws:sts::222222222222:assumed-role/ssm-slack-approvals-signer/ssm-slack-approvals", member, false),
            ("arn:aws:sts::111111111111:assumed-role/ssm-slack-approvals-hub/ssm-slack-approvals", member, false),
        ];
        for (approver, account, credited) in cases {
            assert_eq!(
                signers.credits(approver, account, "U0ALICE"),
                credited,
                "{approver}"
            );
        }
        assert!(!Signers::default().credits(
            &format!("arn:aws:sts::{hub}:assumed-role/app-SlackInteractionsRole/fn"),
            None,
            "U0ALICE"
        ));
    }
}
