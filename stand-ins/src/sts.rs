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

const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
const VERSION: &str = "2011-06-15";
const FORM: &str = "application/x-www-form-urlencoded";
/// The shortest session STS issues (15 minutes).
const MIN_DURATION: u32 = 900;
/// A role's `MaxSessionDuration` unless set otherwise (one hour), and the session
/// length when none is asked for.
const ROLE_MAX_SESSION: u32 = 3600;
/// The longest `MaxSessionDuration` a role can have (12 hours): a longer request is
/// invalid whatever the role.
const DURATION_LIMIT: u32 = 43_200;
/// Characters of the ID parts STS makes up (access key IDs, role IDs).
const ID_CHARS: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// Characters of secret access keys and session tokens.
const SECRET_CHARS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

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

/// An STS error: HTTP status, error code, message.
#[derive(Debug, Clone, PartialEq)]
struct Refusal {
    status: u16,
    code: String,
    message: String,
}

impl Refusal {
    fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    fn access_denied(caller: &str, action: &str, role_arn: &str) -> Self {
        Self::new(
            403,
            "AccessDenied",
            format!(
                "User: {caller} is not authorized to perform: {action} on resource: {role_arn}"
            ),
        )
    }

    /// The error document STS sends: `Sender` faults for 4xx, `Receiver` for 5xx.
    fn into_response(self) -> Outgoing {
        let request_id = uuid::Uuid::new_v4().to_string();
        let fault = if self.status >= 500 {
            "Receiver"
        } else {
            "Sender"
        };
        let body = format!(
            "<ErrorResponse xmlns=\"{NAMESPACE}\"><Error><Type>{fault}</Type><Code>{}</Code>\
             <Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
            xml_escape(&self.code),
            xml_escape(&self.message)
        );
        xml(self.status, body, &request_id)
    }
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

/// The parameters of a Query-protocol request: the form-encoded body of a POST, or
/// the query string of a GET.
fn query_params(req: &Incoming) -> Result<HashMap<String, String>, Refusal> {
    if req.path != "/" {
        return Err(Refusal::new(
            404,
            "NotFound",
            format!("{} not found", req.path),
        ));
    }
    let encoded: &[u8] = match req.method.as_str() {
        "GET" => req.query.as_bytes(),
        "POST"
            if req
                .header("content-type")
                .is_some_and(|c| c.starts_with(FORM)) =>
        {
            &req.body
        }
        "POST" => b"",
        other => {
            return Err(Refusal::new(
                405,
                "MethodNotAllowed",
                format!("{other} is not supported"),
            ));
        }
    };
    Ok(form_urlencoded::parse(encoded).into_owned().collect())
}

/// The access key a request is signed with, or the error STS sends when it is not.
fn caller_access_key(req: &Incoming) -> Result<String, Refusal> {
    if req.header("authorization").is_none() {
        return Err(Refusal::new(
            403,
            "MissingAuthenticationToken",
            "Request is missing Authentication Token",
        ));
    }
    crate::sigv4_access_key(req, "sts").ok_or_else(|| {
        Refusal::new(
            403,
            "IncompleteSignature",
            "The request signature does not conform to AWS standards: it must be SigV4, scoped to sts, with X-Amz-Date",
        )
    })
}

impl AssumeRoleCall {
    /// The call as asked for, not yet answered.
    fn asked(caller: &str, params: &HashMap<String, String>) -> Self {
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
struct Session {
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
    fn response(&self) -> Outgoing {
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
fn assume_role(
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

/// `AssumeRole`'s input, once it satisfies STS's constraints.
struct AssumeRoleInput<'a> {
    role_arn: &'a str,
    session_name: &'a str,
    source_identity: Option<&'a str>,
    duration_seconds: u32,
}

impl<'a> AssumeRoleInput<'a> {
    /// The input, or a `ValidationError` listing every constraint it breaks, worded
    /// as STS words them.
    fn validated(params: &'a HashMap<String, String>) -> Result<Self, Refusal> {
        let mut problems = vec![];
        let role_arn = params.get("RoleArn").map(String::as_str);
        match role_arn {
            None => problems.push(not_null("roleArn")),
            Some(arn) => check_length("roleArn", arn, 20, 2048, &mut problems),
        }
        let session_name = params.get("RoleSessionName").map(String::as_str);
        match session_name {
            None => problems.push(not_null("roleSessionName")),
            Some(name) => check_name("roleSessionName", name, &mut problems),
        }
        let source_identity = params.get("SourceIdentity").map(String::as_str);
        if let Some(identity) = source_identity {
            check_name("sourceIdentity", identity, &mut problems);
            if identity.starts_with("aws:") {
                problems.push(format!(
                    "Value '{identity}' at 'sourceIdentity' failed to satisfy constraint: \
                     Member must not begin with the prefix aws:, which is reserved for AWS"
                ));
            }
        }
        let duration_seconds = match params.get("DurationSeconds") {
            None => ROLE_MAX_SESSION,
            Some(text) => check_duration(text, &mut problems),
        };
        match (role_arn, session_name) {
            (Some(role_arn), Some(session_name)) if problems.is_empty() => Ok(Self {
                role_arn,
                session_name,
                source_identity,
                duration_seconds,
            }),
            _ => Err(validation_error(&problems)),
        }
    }
}

/// STS's report of broken constraints: "N validation error(s) detected: …; …".
fn validation_error(problems: &[String]) -> Refusal {
    let plural = if problems.len() == 1 { "" } else { "s" };
    Refusal::new(
        400,
        "ValidationError",
        format!(
            "{} validation error{plural} detected: {}",
            problems.len(),
            problems.join("; ")
        ),
    )
}

fn not_null(member: &str) -> String {
    format!("Value null at '{member}' failed to satisfy constraint: Member must not be null")
}

fn check_length(member: &str, value: &str, min: usize, max: usize, problems: &mut Vec<String>) {
    let length = value.chars().count();
    if length < min {
        problems.push(format!(
            "Value '{value}' at '{member}' failed to satisfy constraint: \
             Member must have length greater than or equal to {min}"
        ));
    }
    if length > max {
        problems.push(format!(
            "Value '{value}' at '{member}' failed to satisfy constraint: \
             Member must have length less than or equal to {max}"
        ));
    }
}

/// Session names and source identities: 2 to 64 characters of `[\w+=,.@-]`.
fn check_name(member: &str, value: &str, problems: &mut Vec<String>) {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    if !value.chars().all(allowed) {
        problems.push(format!(
            "Value '{value}' at '{member}' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        ));
    }
    check_length(member, value, 2, 64, problems);
}

/// `DurationSeconds`: a number from 900 to 43200 (the role's own maximum is checked
/// once the role is known).
fn check_duration(text: &str, problems: &mut Vec<String>) -> u32 {
    let Ok(seconds) = text.parse::<i64>() else {
        problems.push(format!(
            "Value '{text}' at 'durationSeconds' failed to satisfy constraint: Member must be a number"
        ));
        return 0;
    };
    if seconds < i64::from(MIN_DURATION) {
        problems.push(format!(
            "Value '{seconds}' at 'durationSeconds' failed to satisfy constraint: \
             Member must have value greater than or equal to {MIN_DURATION}"
        ));
    }
    if seconds > i64::from(DURATION_LIMIT) {
        problems.push(format!(
            "Value '{seconds}' at 'durationSeconds' failed to satisfy constraint: \
             Member must have value less than or equal to {DURATION_LIMIT}"
        ));
    }
    u32::try_from(seconds).unwrap_or(0)
}

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

/// An access key ID never issued before: `ASIA` and 16 characters, as STS's are.
fn fresh_access_key(state: &mut State, principals: &Principals) -> String {
    loop {
        let key = format!("ASIA{}", random_chars(ID_CHARS, 16));
        if principals.arn_of(&key).is_none() && state.issued_access_keys.insert(key.clone()) {
            return key;
        }
    }
}

/// `n` random characters of `alphabet` (whose length divides 256, so none is
/// likelier than another), from version 4 UUIDs' random bytes.
fn random_chars(alphabet: &[u8], n: usize) -> String {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        let uuid = uuid::Uuid::new_v4();
        // Bytes 6 and 8 carry the UUID's version and variant bits.
        for (_, byte) in uuid
            .as_bytes()
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 6 && *i != 8)
        {
            if out.len() < n {
                out.push(char::from(alphabet[usize::from(*byte) % alphabet.len()]));
            }
        }
    }
    out
}

/// A Unix time as STS writes times: `YYYY-MM-DDTHH:MM:SSZ`.
fn iso8601(unix_secs: i64) -> String {
    let (days, secs) = (unix_secs.div_euclid(86_400), unix_secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month as u32, day as u32)
}

/// `value` safe as the text of an XML element.
fn xml_escape(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn xml(status: u16, body: String, request_id: &str) -> Outgoing {
    Outgoing {
        status,
        headers: vec![
            ("content-type".into(), "text/xml".into()),
            ("x-amzn-RequestId".into(), request_id.into()),
        ],
        body: body.into_bytes(),
        delay: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_requests::{signed, unsigned};

    const ROLE: &str = "arn:aws:iam::123456789012:role/approvers/SlackApprover";
    const LAMBDA_KEY: &str = "AKIALAMBDAROLE000001";

    async fn sts_with_role(allows_source_identity: bool) -> StsStandIn {
        let sts = StsStandIn::start("127.0.0.1:0".parse().unwrap(), Principals::default())
            .await
            .unwrap();
        sts.add_role(ROLE, &[LAMBDA_KEY], allows_source_identity);
        sts
    }

    fn assume_role_body(params: &[(&str, &str)]) -> String {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("Action", "AssumeRole")
            .append_pair("Version", VERSION);
        for (key, value) in params {
            form.append_pair(key, value);
        }
        form.finish()
    }

    fn assume(sts: &StsStandIn, caller: &str, params: &[(&str, &str)]) -> (u16, String) {
        let out = sts.serve(signed(caller, "sts", FORM, None, &assume_role_body(params)));
        (out.status, String::from_utf8(out.body).unwrap())
    }

    /// The text of the first `<name>` element of `xml`.
    fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
        let start = xml.find(&format!("<{name}>"))? + name.len() + 2;
        let end = start + xml[start..].find(&format!("</{name}>"))?;
        Some(&xml[start..end])
    }

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
    async fn input_that_breaks_sts_constraints_is_a_validation_error() {
        let sts = sts_with_role(true).await;
        let refused = |params: &[(&str, &str)]| {
            let (status, xml) = assume(&sts, LAMBDA_KEY, params);
            assert_eq!(status, 400, "{xml}");
            assert_eq!(element(&xml, "Type"), Some("Sender"));
            assert_eq!(element(&xml, "Code"), Some("ValidationError"));
            element(&xml, "Message").unwrap().to_owned()
        };
        assert_eq!(
            refused(&[("RoleArn", ROLE), ("RoleSessionName", "U0 ALICE")]),
            "1 validation error detected: Value 'U0 ALICE' at 'roleSessionName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        );
        assert_eq!(
            refused(&[("RoleArn", ROLE), ("RoleSessionName", "U")]),
            "1 validation error detected: Value 'U' at 'roleSessionName' failed to satisfy \
             constraint: Member must have length greater than or equal to 2"
        );
        assert!(
            refused(&[("RoleArn", ROLE), ("RoleSessionName", &"U".repeat(65))])
                .ends_with("Member must have length less than or equal to 64")
        );
        assert!(refused(&[("RoleArn", ROLE)]).contains(
            "Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null"
        ));
        let session = ("RoleSessionName", "U0ALICE");
        assert!(
            refused(&[("RoleArn", ROLE), session, ("SourceIdentity", "aws:alice")])
                .contains("at 'sourceIdentity' failed to satisfy constraint: Member must not begin with the prefix aws:")
        );
        assert!(
            refused(&[("RoleArn", ROLE), session, ("SourceIdentity", "alice smith")])
                .contains("at 'sourceIdentity' failed to satisfy constraint: Member must satisfy regular expression pattern")
        );
        assert!(refused(&[("RoleArn", ROLE), session, ("DurationSeconds", "899")]).ends_with(
            "Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"
        ));
        assert!(
            refused(&[("RoleArn", ROLE), session, ("DurationSeconds", "43201")])
                .ends_with("Member must have value less than or equal to 43200")
        );
        assert_eq!(
            refused(&[("RoleArn", ROLE), session, ("DurationSeconds", "7200")]),
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
        );
        assert!(
            refused(&[("RoleArn", ROLE), session, ("DurationSeconds", "soon")])
                .contains("Member must be a number")
        );
        let both = refused(&[
            ("RoleArn", ROLE),
            ("RoleSessionName", "a b"),
            ("SourceIdentity", "x"),
            ("DurationSeconds", "60"),
        ]);
        assert!(both.starts_with("3 validation errors detected: "), "{both}");
        assert_eq!(both.matches("; ").count(), 2);
        assert!(sts.assume_role_calls().iter().all(|c| !c.accepted));
        assert_eq!(sts.assume_role_calls().len(), 11);
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

    #[test]
    fn times_are_written_as_sts_writes_them() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(-1), "1969-12-31T23:59:59Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_795_350_881), "2026-11-22T12:34:41Z");
        assert_eq!(iso8601(4_102_444_799), "2099-12-31T23:59:59Z");
        assert_eq!(iso8601(253_402_300_799), "9999-12-31T23:59:59Z");
    }

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
