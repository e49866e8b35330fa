//! A person's own AWS identity: the STS session name (and source identity) a Slack
//! user signals under, and the session ARN an `aws:approve` step lists as approver.

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
}
