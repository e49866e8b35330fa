//! IAM role ARNs and STS assumed-role session ARNs, read apart.

/// The account and name of an IAM role ARN, `arn:aws:iam::<12 digits>:role/<path/>name`.
pub(crate) fn role_name(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let path_and_name = resource.strip_prefix("role/")?;
    let name = path_and_name.rsplit('/').next()?;
    let valid_part = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
    };
    (account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && path_and_name.split('/').all(valid_part))
    .then_some((account, name))
}

/// The account and role name of an assumed-role session ARN,
/// `arn:aws:sts::<account>:assumed-role/<role name>/<session name>`.
pub(crate) fn session_role(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:aws:sts::")?;
    let (account, resource) = rest.split_once(':')?;
    let (role, session) = resource.strip_prefix("assumed-role/")?.split_once('/')?;
    (!role.is_empty() && !session.is_empty()).then_some((account, role))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sts::test_support::ROLE;

    #[test]
    fn role_and_session_arns_are_read_apart() {
        assert_eq!(role_name(ROLE), Some(("123456789012", "SlackApprover")));
        assert_eq!(
            role_name("arn:aws:iam::123456789012:role/R"),
            Some(("123456789012", "R"))
        );
        assert_eq!(role_name("arn:aws:iam::123456789012:role/"), None);
        assert_eq!(role_name("arn:aws:iam::123456789012:user/R"), None);
        assert_eq!(role_name("arn:aws:iam::12345678901x:role/R"), None);
        assert_eq!(
            session_role("arn:aws:sts::123456789012:assumed-role/SlackApprover/U0ALICE"),
            Some(("123456789012", "SlackApprover"))
        );
        assert_eq!(
            session_role("arn:aws:sts::123456789012:assumed-role/SlackApprover"),
            None
        );
    }
}
