//! `AssumeRole`: the caller's right to the role checked, then a session issued and registered.

use std::collections::HashMap;

use super::keys::{SECRET_CHARS, fresh_access_key, random_chars};
use super::validation::AssumeRoleInput;
use super::wire::{Refusal, iso8601, xml, xml_escape};
use super::{AssumeRoleCall, NAMESPACE, ROLE_MAX_SESSION, State, role_name};
use crate::{Outgoing, Principals};

impl AssumeRoleCall {
    /// The call as asked for, not yet answered.
    pub(super) fn asked(caller: &str, params: &HashMap<String, String>) -> Self {
        let text = |key: &str| params.get(key).cloned().unwrap_or_default();
        Self {
            caller_access_key: caller.into(),
            role_arn: text("RoleArn"),
            session_name: text("RoleSessionName"),
            source_identity: params.get("SourceIdentity").cloned(),
            duration_seconds: params
                .get("DurationSeconds")
                .map_or(ROLE_MAX_SESSION, |d| d.parse().unwrap_or(0)),
            accepted: false,
        }
    }
}

/// A session STS issued.
#[derive(Debug, Clone)]
pub(super) struct Session {
    arn: String,
    assumed_role_id: String,
    source_identity: Option<String>,
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    expiration: String,
}

impl Session {
    /// The `AssumeRoleResponse` document announcing this session.
    pub(super) fn response(&self) -> Outgoing {
        let request_id = uuid::Uuid::new_v4().to_string();
        let source_identity = self.source_identity.as_deref().map_or(String::new(), |s| {
            format!("<SourceIdentity>{}</SourceIdentity>", xml_escape(s))
        });
        let body = format!(
            "<AssumeRoleResponse xmlns=\"{NAMESPACE}\"><AssumeRoleResult>{source_identity}\
             <AssumedRoleUser><Arn>{}</Arn><AssumedRoleId>{}</AssumedRoleId></AssumedRoleUser>\
             <Credentials><AccessKeyId>{}</AccessKeyId><SecretAccessKey>{}</SecretAccessKey>\
             <SessionToken>{}</SessionToken><Expiration>{}</Expiration></Credentials>\
             <PackedPolicySize>0</PackedPolicySize></AssumeRoleResult>\
             <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>\
             </AssumeRoleResponse>",
            xml_escape(&self.arn),
            xml_escape(&self.assumed_role_id),
            xml_escape(&self.access_key_id),
            xml_escape(&self.secret_access_key),
            xml_escape(&self.session_token),
            xml_escape(&self.expiration),
        );
        xml(200, body, &request_id)
    }
}

/// `AssumeRole`: the input checked, then the caller's right to the role, then a new
/// session issued and registered.
pub(super) fn assume_role(
    state: &mut State,
    principals: &Principals,
    caller: &str,
    params: &HashMap<String, String>,
) -> Result<Session, Refusal> {
    let input = AssumeRoleInput::validated(params)?;
    let caller_arn = principals
        .arn_of(caller)
        .unwrap_or_else(|| caller.to_owned());
    let denied = |action: &str| Refusal::access_denied(&caller_arn, action, input.role_arn);
    let (account, name) = role_name(input.role_arn).ok_or_else(|| denied("sts:AssumeRole"))?;
    let role = state
        .roles
        .get(input.role_arn)
        .filter(|r| r.trusted_access_keys.iter().any(|k| k == caller))
        .cloned()
        .ok_or_else(|| denied("sts:AssumeRole"))?;
    let source_identity =
        session_source_identity(principals.source_identity_of(caller), input.source_identity)
            .filter(|s| s.is_none() || role.allows_source_identity)
            .ok_or_else(|| denied("sts:SetSourceIdentity"))?;
    if input.duration_seconds > ROLE_MAX_SESSION {
        return Err(Refusal::new(
            400,
            "ValidationError",
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    let access_key_id = fresh_access_key(state, principals);
    let session = Session {
        arn: format!(
            "arn:aws:sts::{account}:assumed-role/{name}/{}",
            input.session_name
        ),
        assumed_role_id: format!("{}:{}", role.role_id, input.session_name),
        source_identity,
        access_key_id,
        secret_access_key: random_chars(SECRET_CHARS, 40),
        session_token: format!("IQoJb3JpZ2luX2Vj{}", random_chars(SECRET_CHARS, 340)),
        expiration: iso8601(crate::now_unix_f64() as i64 + i64::from(input.duration_seconds)),
    };
    principals.register(
        &session.access_key_id,
        &session.arn,
        session.source_identity.as_deref(),
    );
    state.issued_secrets.push((
        session.secret_access_key.clone(),
        session.session_token.clone(),
    ));
    Ok(session)
}

/// The source identity of a new session: the caller's own, which a chained session
/// keeps and cannot change, or the one asked for. `None` when the request asks to
/// change it.
fn session_source_identity(
    inherited: Option<String>,
    asked: Option<&str>,
) -> Option<Option<String>> {
    match (inherited, asked) {
        (Some(kept), Some(asked)) if kept != asked => None,
        (Some(kept), _) => Some(Some(kept)),
        (None, asked) => Some(asked.map(str::to_owned)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sts::FORM;
    use crate::sts::test_support::{
        LAMBDA_KEY, ROLE, assume, assume_role_body, element, sts_with_role,
    };
    use crate::test_requests::signed;

    #[tokio::test]
    async fn assume_role_issues_fresh_credentials_for_a_registered_session() {
        let sts = sts_with_role(true).await;
        let asked = [
            ("RoleArn", ROLE),
            ("RoleSessionName", "U0ALICE"),
            ("SourceIdentity", "alice@example.com"),
            ("DurationSeconds", "900"),
        ];
        let before = crate::now_unix_f64() as i64;
        let out = sts.serve(signed(
            LAMBDA_KEY,
            "sts",
            FORM,
            None,
            &assume_role_body(&asked),
        ));
        assert_eq!(out.status, 200);
        assert!(
            out.headers
                .contains(&("content-type".into(), "text/xml".into()))
        );
        let xml = String::from_utf8(out.body).unwrap();
        assert!(xml.starts_with(&format!("<AssumeRoleResponse xmlns=\"{NAMESPACE}\">")));
        let arn = "arn:aws:sts::123456789012:assumed-role/SlackApprover/U0ALICE";
        assert_eq!(element(&xml, "Arn"), Some(arn));
        let role_id = element(&xml, "AssumedRoleId").unwrap();
        assert!(
            role_id.starts_with("AROA") && role_id.ends_with(":U0ALICE"),
            "{role_id}"
        );
        assert_eq!(element(&xml, "SourceIdentity"), Some("alice@example.com"));
        assert_eq!(element(&xml, "PackedPolicySize"), Some("0"));
        assert_eq!(element(&xml, "RequestId").map(str::len), Some(36));
        let key = element(&xml, "AccessKeyId").unwrap();
        assert!(key.starts_with("ASIA") && key.len() == 20, "{key}");
        assert!(
            key.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        );
        assert_eq!(element(&xml, "SecretAccessKey").map(str::len), Some(40));
        assert!(element(&xml, "SessionToken").unwrap().len() > 100);
        let expiration = element(&xml, "Expiration").unwrap();
        let expected = [iso8601(before + 900), iso8601(before + 901)];
        assert!(expected.iter().any(|e| e == expiration), "{expiration}");

        let principals = sts.principals();
        assert_eq!(principals.arn_of(key).as_deref(), Some(arn));
        assert_eq!(
            principals.source_identity_of(key).as_deref(),
            Some("alice@example.com")
        );
        let (_, again) = assume(&sts, LAMBDA_KEY, &asked);
        assert_ne!(element(&again, "AccessKeyId"), Some(key), "fresh each time");
        assert_ne!(
            element(&again, "SessionToken"),
            element(&xml, "SessionToken")
        );
        assert_eq!(
            sts.assume_role_calls()[0],
            AssumeRoleCall {
                caller_access_key: LAMBDA_KEY.into(),
                role_arn: ROLE.into(),
                session_name: "U0ALICE".into(),
                source_identity: Some("alice@example.com".into()),
                duration_seconds: 900,
                accepted: true,
            }
        );
    }

    #[tokio::test]
    async fn the_session_lasts_an_hour_unless_asked_otherwise_and_needs_no_source_identity() {
        let sts = sts_with_role(false).await;
        let before = crate::now_unix_f64() as i64;
        let (status, xml) = assume(
            &sts,
            LAMBDA_KEY,
            &[("RoleArn", ROLE), ("RoleSessionName", "U0BOB")],
        );
        assert_eq!(status, 200, "{xml}");
        assert!(element(&xml, "SourceIdentity").is_none());
        let expiration = element(&xml, "Expiration").unwrap();
        assert!(
            [iso8601(before + 3600), iso8601(before + 3601)]
                .iter()
                .any(|e| e == expiration)
        );
        assert_eq!(sts.assume_role_calls()[0].duration_seconds, 3600);
        let key = element(&xml, "AccessKeyId").unwrap();
        assert_eq!(sts.principals().source_identity_of(key), None);
    }

    #[tokio::test]
    async fn only_callers_the_role_trusts_may_assume_it() {
        let sts = sts_with_role(false).await;
        let denied = |caller: &str, params: &[(&str, &str)]| {
            let (status, xml) = assume(&sts, caller, params);
            assert_eq!(status, 403, "{xml}");
            assert_eq!(element(&xml, "Code"), Some("AccessDenied"));
            element(&xml, "Message").unwrap().to_owned()
        };
        let session = ("RoleSessionName", "U0ALICE");
        assert_eq!(
            denied("AKIASTRANGER00000001", &[("RoleArn", ROLE), session]),
            format!(
                "User: AKIASTRANGER00000001 is not authorized to perform: sts:AssumeRole on resource: {ROLE}"
            )
        );
        sts.principals().register(
            "AKIASTRANGER00000001",
            "arn:aws:iam::123456789012:user/mallory",
            None,
        );
        assert!(
            denied("AKIASTRANGER00000001", &[("RoleArn", ROLE), session])
                .starts_with("User: arn:aws:iam::123456789012:user/mallory is not authorized")
        );
        let unknown = "arn:aws:iam::123456789012:role/Nobody";
        assert!(denied(LAMBDA_KEY, &[("RoleArn", unknown), session]).ends_with(unknown));
        let malformed = "arn:aws:iam::1234:role/SlackApprover";
        assert!(denied(LAMBDA_KEY, &[("RoleArn", malformed), session]).ends_with(malformed));
        assert_eq!(
            denied(
                LAMBDA_KEY,
                &[("RoleArn", ROLE), session, ("SourceIdentity", "alice")]
            ),
            format!(
                "User: {LAMBDA_KEY} is not authorized to perform: sts:SetSourceIdentity on resource: {ROLE}"
            )
        );
        assert!(sts.assume_role_calls().iter().all(|c| !c.accepted));
    }

    #[tokio::test]
    async fn a_session_belongs_to_the_account_of_the_role_assumed() {
        let sts = sts_with_role(false).await;
        let spoke = "arn:aws:iam::210987654321:role/approvals/approvals-SpokeRole";
        sts.add_role(spoke, &[LAMBDA_KEY], false);
        sts.principals().register(
            LAMBDA_KEY,
            "arn:aws:sts::123456789012:assumed-role/approvals-HubRole/hub-function",
            None,
        );
        let (status, xml) = assume(
            &sts,
            LAMBDA_KEY,
            &[("RoleArn", spoke), ("RoleSessionName", "approvals-hub")],
        );
        assert_eq!(status, 200, "{xml}");
        let session = "arn:aws:sts::210987654321:assumed-role/approvals-SpokeRole/approvals-hub";
        assert_eq!(element(&xml, "Arn"), Some(session));
        let key = element(&xml, "AccessKeyId").unwrap();
        let principals = sts.principals();
        assert_eq!(principals.arn_of(key).as_deref(), Some(session));
        assert_eq!(principals.account_of(key).as_deref(), Some("210987654321"));
        assert_eq!(
            principals.account_of(LAMBDA_KEY).as_deref(),
            Some("123456789012"),
            "the caller stays in its own account"
        );
    }

    #[tokio::test]
    async fn a_role_sts_does_not_know_is_refused_as_access_denied() {
        let sts = sts_with_role(false).await;
        let caller = "arn:aws:sts::123456789012:assumed-role/approvals-HubRole/hub-function";
        sts.principals().register(LAMBDA_KEY, caller, None);
        let unknown = "arn:aws:iam::333333333333:role/approvals-SpokeRole";
        let (status, xml) = assume(
            &sts,
            LAMBDA_KEY,
            &[("RoleArn", unknown), ("RoleSessionName", "approvals-hub")],
        );
        assert_eq!(status, 403, "{xml}");
        assert_eq!(element(&xml, "Type"), Some("Sender"));
        assert_eq!(element(&xml, "Code"), Some("AccessDenied"));
        assert_eq!(
            element(&xml, "Message").unwrap(),
            format!(
                "User: {caller} is not authorized to perform: sts:AssumeRole on resource: {unknown}"
            )
        );
        assert_eq!(sts.assume_role_calls().len(), 1);
        assert!(!sts.assume_role_calls()[0].accepted);
    }

    #[tokio::test]
    async fn a_source_identity_stays_with_chained_sessions() {
        let sts = sts_with_role(true).await;
        let (_, first) = assume(
            &sts,
            LAMBDA_KEY,
            &[
                ("RoleArn", ROLE),
                ("RoleSessionName", "U0ALICE"),
                ("SourceIdentity", "alice"),
            ],
        );
        let alice = element(&first, "AccessKeyId").unwrap();
        let next = "arn:aws:iam::123456789012:role/Deployer";
        sts.add_role(next, &[alice], true);
        let (status, chained) = assume(
            &sts,
            alice,
            &[("RoleArn", next), ("RoleSessionName", "chained")],
        );
        assert_eq!(status, 200, "{chained}");
        assert_eq!(element(&chained, "SourceIdentity"), Some("alice"));
        let chained_key = element(&chained, "AccessKeyId").unwrap();
        assert_eq!(
            sts.principals().source_identity_of(chained_key).as_deref(),
            Some("alice")
        );
        let (status, changed) = assume(
            &sts,
            alice,
            &[
                ("RoleArn", next),
                ("RoleSessionName", "chained"),
                ("SourceIdentity", "bob"),
            ],
        );
        assert_eq!(status, 403, "{changed}");
        assert!(
            element(&changed, "Message")
                .unwrap()
                .contains("sts:SetSourceIdentity")
        );
    }
}
