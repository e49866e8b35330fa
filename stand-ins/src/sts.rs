//! An STS stand-in: the AWS Query protocol (`POST /`, a form-encoded body
//! `Action=AssumeRole&Version=2011-06-15&…`, SigV4 for `sts`, XML answers) for
//! `AssumeRole`, as the AWS SDKs send it.
//!
//! Roles are registered with the access keys their trust policy admits and whether
//! it allows `sts:SetSourceIdentity`. `AssumeRole` checks its input as STS does (the
//! same constraints, reported the same way), then whether the caller may assume the
//! role, then issues fresh temporary credentials for a session of it, and records in
//! the shared [`Principals`] that the new access key signs as that session: SSM then
//! tells approvers apart by it. A session belongs to the account of the role assumed
//! (`arn:aws:sts::<role's account>:assumed-role/<role>/<session>`), so a hub that
//! assumes a role in a member account then acts in that account. A role the stand-in
//! does not know is refused as STS refuses a role whose trust policy does not admit
//! the caller (`AccessDenied`). A source identity, once set, stays with the session
//! and with the sessions chained from it, and cannot be changed.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::{HttpServer, Incoming, Outgoing, Principals};

mod arns;
mod keys;
mod sessions;
mod validation;
mod wire;

pub(crate) use arns::{role_name, session_role};
use keys::{ID_CHARS, random_chars};
use sessions::assume_role;
use wire::{Refusal, caller_access_key, query_params};

const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
const VERSION: &str = "2011-06-15";
const FORM: &str = "application/x-www-form-urlencoded";
/// A role's `MaxSessionDuration` unless set otherwise (one hour), and the session
/// length when none is asked for.
const ROLE_MAX_SESSION: u32 = 3600;

/// An `AssumeRole` call the stand-in answered, granted or refused.
#[derive(Debug, Clone, PartialEq)]
pub struct AssumeRoleCall {
    pub caller_access_key: String,
    pub role_arn: String,
    pub session_name: String,
    pub source_identity: Option<String>,
    /// As asked for (3600 when not given, 0 when not a number).
    pub duration_seconds: u32,
    pub accepted: bool,
}

/// A role that can be assumed: who its trust policy admits, and its unique ID.
#[derive(Debug, Clone)]
struct Role {
    trusted_access_keys: Vec<String>,
    allows_source_identity: bool,
    role_id: String,
}

#[derive(Default)]
struct State {
    roles: HashMap<String, Role>,
    calls: Vec<AssumeRoleCall>,
    faults: VecDeque<Fault>,
    issued_access_keys: HashSet<String>,
    /// The secret parts of every session issued: (secret access key, session token).
    issued_secrets: Vec<(String, String)>,
}

/// Something going wrong with the next `AssumeRole`.
#[derive(Debug, Clone)]
enum Fault {
    /// Answered with this error, and not acted on.
    Error { status: u16, code: String },
    /// Acted on, but answered only after this long.
    LateAnswer(Duration),
}

/// The STS stand-in: an HTTP server plus in-process control of its roles.
#[derive(Clone)]
pub struct StsStandIn {
    state: Arc<Mutex<State>>,
    principals: Principals,
    server: Arc<HttpServer>,
}

impl StsStandIn {
    /// Serves on `addr`, registering the sessions it issues in `principals`.
    pub async fn start(addr: SocketAddr, principals: Principals) -> std::io::Result<Self> {
        let state: Arc<Mutex<State>> = Arc::default();
        let (handler_state, handler_principals) = (state.clone(), principals.clone());
        let server = HttpServer::start(addr, move |req| {
            handle(&handler_state, &handler_principals, &req)
        })
        .await?;
        Ok(Self {
            state,
            principals,
            server: Arc::new(server),
        })
    }

    /// The endpoint to give the SDK (`AWS_ENDPOINT_URL_STS`).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Answers one request (for an endpoint shared with other services).
    pub fn serve(&self, req: Incoming) -> Outgoing {
        handle(&self.state, &self.principals, &req)
    }

    /// The registry the sessions this stand-in issues are recorded in.
    pub fn principals(&self) -> Principals {
        self.principals.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates (or replaces) the role `role_arn`, whose trust policy admits callers
    /// signing with `trusted_access_keys`, and allows `sts:SetSourceIdentity` when
    /// `allows_source_identity`. Its maximum session is one hour.
    ///
    /// Panics if `role_arn` is not an IAM role ARN: a mistake in the test.
    pub fn add_role(
        &self,
        role_arn: &str,
        trusted_access_keys: &[&str],
        allows_source_identity: bool,
    ) {
        assert!(
            role_name(role_arn).is_some(),
            "{role_arn} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)"
        );
        let role = Role {
            trusted_access_keys: trusted_access_keys
                .iter()
                .map(|k| (*k).to_owned())
                .collect(),
            allows_source_identity,
            role_id: format!("AROA{}", random_chars(ID_CHARS, 17)),
        };
        self.lock().roles.insert(role_arn.into(), role);
    }

    /// The secret access key and session token of every session issued so far (to
    /// check that they never reach a log).
    pub fn issued_secrets(&self) -> Vec<(String, String)> {
        self.lock().issued_secrets.clone()
    }

    /// Every `AssumeRole` call answered so far, oldest first.
    pub fn assume_role_calls(&self) -> Vec<AssumeRoleCall> {
        self.lock().calls.clone()
    }

    /// The next `AssumeRole` is answered with this error (e.g. 400 `Throttling`, 500
    /// `InternalFailure`) and not acted on; queue several for several calls.
    pub fn fail_next(&self, status: u16, code: &str) {
        self.lock().faults.push_back(Fault::Error {
            status,
            code: code.into(),
        });
    }

    /// The next `AssumeRole` is acted on (the session exists), but answered only
    /// after `delay`.
    pub fn answer_late(&self, delay: Duration) {
        self.lock().faults.push_back(Fault::LateAnswer(delay));
    }
}

/// The answer to a request, held back when a late answer was asked for.
fn handle(state: &Mutex<State>, principals: &Principals, req: &Incoming) -> Outgoing {
    let mut delay = None;
    let out = match answer(state, principals, req, &mut delay) {
        Ok(out) => out,
        Err(refusal) => refusal.into_response(),
    };
    out.answered_after(delay)
}

fn answer(
    state: &Mutex<State>,
    principals: &Principals,
    req: &Incoming,
    delay: &mut Option<Duration>,
) -> Result<Outgoing, Refusal> {
    let params = query_params(req)?;
    let caller = caller_access_key(req)?;
    let action = params
        .get("Action")
        .ok_or_else(|| Refusal::new(400, "MissingAction", "Missing Action"))?;
    let version = params.get("Version").map_or("", String::as_str);
    if action != "AssumeRole" || version != VERSION {
        return Err(Refusal::new(
            400,
            "InvalidAction",
            format!("Could not find operation {action} for version {version}"),
        ));
    }
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    let mut call = AssumeRoleCall::asked(&caller, &params);
    match state.faults.pop_front() {
        Some(Fault::Error { status, code }) => {
            state.calls.push(call);
            return Err(Refusal::new(status, &code, "injected by the stand-in"));
        }
        Some(Fault::LateAnswer(late)) => *delay = Some(late),
        None => {}
    }
    let granted = assume_role(&mut state, principals, &caller, &params);
    call.accepted = granted.is_ok();
    state.calls.push(call);
    granted.map(|session| session.response())
}

#[cfg(test)]
mod test_support;

#[cfg(test)]
mod tests {
    use super::test_support::{LAMBDA_KEY, ROLE, assume, assume_role_body, element, sts_with_role};
    use super::*;
    use crate::test_requests::{signed, unsigned};

    #[tokio::test]
    async fn requests_sts_cannot_read_are_refused_as_sts_refuses_them() {
        let sts = sts_with_role(true).await;
        let body = assume_role_body(&[("RoleArn", ROLE), ("RoleSessionName", "U0ALICE")]);
        let code = |out: Outgoing| {
            let xml = String::from_utf8(out.body).unwrap();
            (out.status, element(&xml, "Code").unwrap().to_owned())
        };
        assert_eq!(
            code(sts.serve(unsigned(FORM, None, &body))),
            (403, "MissingAuthenticationToken".into())
        );
        assert_eq!(
            code(sts.serve(signed(LAMBDA_KEY, "ssm", FORM, None, &body))),
            (403, "IncompleteSignature".into())
        );
        let other = body.replace("AssumeRole", "GetCallerIdentity");
        assert_eq!(
            code(sts.serve(signed(LAMBDA_KEY, "sts", FORM, None, &other))),
            (400, "InvalidAction".into())
        );
        let old = body.replace(VERSION, "2010-01-01");
        assert_eq!(
            code(sts.serve(signed(LAMBDA_KEY, "sts", FORM, None, &old))),
            (400, "InvalidAction".into())
        );
        let json = signed(LAMBDA_KEY, "sts", "application/json", None, &body);
        assert_eq!(code(sts.serve(json)), (400, "MissingAction".into()));
        assert!(sts.assume_role_calls().is_empty());
        let (_, xml) = assume(
            &sts,
            LAMBDA_KEY,
            &[("RoleArn", ROLE), ("RoleSessionName", "<b>&'")],
        );
        assert!(
            xml.contains("Value '&lt;b&gt;&amp;'' at 'roleSessionName'"),
            "{xml}"
        );
    }

    #[tokio::test]
    async fn injected_failures_are_not_acted_on_and_late_answers_are() {
        let sts = sts_with_role(false).await;
        let params = [("RoleArn", ROLE), ("RoleSessionName", "U0ALICE")];
        sts.fail_next(400, "Throttling");
        sts.fail_next(500, "InternalFailure");
        let (status, xml) = assume(&sts, LAMBDA_KEY, &params);
        assert_eq!((status, element(&xml, "Code")), (400, Some("Throttling")));
        let (status, xml) = assume(&sts, LAMBDA_KEY, &params);
        assert_eq!((status, element(&xml, "Type")), (500, Some("Receiver")));
        sts.answer_late(Duration::from_millis(1500));
        let body = assume_role_body(&params);
        let late = sts.serve(signed(LAMBDA_KEY, "sts", FORM, None, &body));
        assert_eq!(late.delay, Some(Duration::from_millis(1500)));
        let key = element(std::str::from_utf8(&late.body).unwrap(), "AccessKeyId")
            .unwrap()
            .to_owned();
        assert!(sts.principals().arn_of(&key).is_some(), "acted on");
        let accepted: Vec<bool> = sts.assume_role_calls().iter().map(|c| c.accepted).collect();
        assert_eq!(accepted, [false, false, true]);
        let (status, _) = assume(&sts, LAMBDA_KEY, &params);
        assert_eq!(status, 200);
    }
}
