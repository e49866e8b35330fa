//! Local stand-ins for SSM, STS, DynamoDB, Slack and the Lambda Runtime API that speak
//! the real wire protocols, for the tests, the demo and local runs of
//! ssm-slack-approvals. A crate of its own: never part of a Lambda build, and
//! independent of the product's code, so it plays the services as they behave, not as
//! the product expects.
//!
//! They are small but real implementations of the behaviour this project relies
//! on: state that changes, errors the way the services send them, limits that the
//! services enforce. Nothing in them is a one-shot canned reply.
//!
//! The AWS stand-ins know who signs a request by its SigV4 access key. STS issues
//! session credentials and records whose they are in a [`Principals`] registry, which
//! SSM consults to tell approvers apart, as AWS tells principals apart.

pub mod aws;
pub mod block_kit_text;
pub mod dynamodb;
pub mod runtime_api;
pub mod slack;
pub mod sqs;
pub mod ssm;
pub mod sts;

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A request as a stand-in sees it.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Incoming {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Who signs with which access key: the AWS principal (an IAM user or role session
/// ARN) behind each SigV4 access key, and the source identity its session carries.
/// Shared by the AWS stand-ins: STS registers the sessions it issues, SSM looks up
/// who signed. A key registered nowhere is a principal of its own, known only by
/// the key.
#[derive(Clone, Default)]
pub struct Principals(Arc<Mutex<HashMap<String, Principal>>>);

#[derive(Debug, Clone)]
struct Principal {
    arn: String,
    source_identity: Option<String>,
}

impl Principals {
    /// Records that `access_key` signs as `arn` (replacing what was known of it).
    pub fn register(&self, access_key: &str, arn: &str, source_identity: Option<&str>) {
        let principal = Principal {
            arn: arn.into(),
            source_identity: source_identity.map(str::to_owned),
        };
        self.lock().insert(access_key.into(), principal);
    }

    /// The ARN of the principal that signs with `access_key`, if it is registered.
    pub fn arn_of(&self, access_key: &str) -> Option<String> {
        self.lock().get(access_key).map(|p| p.arn.clone())
    }

    /// The account of the principal that signs with `access_key`, if it is registered
    /// with an IAM or STS ARN (`arn:aws:iam::<account>:…`, `arn:aws:sts::<account>:…`).
    pub fn account_of(&self, access_key: &str) -> Option<String> {
        let arn = self.arn_of(access_key)?;
        principal_account(&arn).map(str::to_owned)
    }

    /// The source identity of the session `access_key` belongs to, if it has one.
    pub fn source_identity_of(&self, access_key: &str) -> Option<String> {
        self.lock()
            .get(access_key)
            .and_then(|p| p.source_identity.clone())
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Principal>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A response from a stand-in.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Held back this long before it is sent: a service that acted at once but
    /// answers late (the caller may have given up by then).
    pub delay: Option<std::time::Duration>,
}

impl Outgoing {
    pub fn json(status: u16, body: &serde_json::Value, content_type: &str) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.to_string().into_bytes(),
            delay: None,
        }
    }

    pub fn answered_after(mut self, delay: Option<std::time::Duration>) -> Self {
        self.delay = delay;
        self
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// An HTTP/1.1 server on loopback that hands every request to `handler`.
pub struct HttpServer {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

type AsyncHandler =
    Arc<dyn Fn(Incoming) -> Pin<Box<dyn Future<Output = Outgoing> + Send>> + Send + Sync>;

impl HttpServer {
    /// Binds `addr` (port 0 picks a free port) and serves until dropped.
    pub async fn start<H>(addr: SocketAddr, handler: H) -> std::io::Result<Self>
    where
        H: Fn(Incoming) -> Outgoing + Send + Sync + 'static,
    {
        let handler = Arc::new(handler);
        Self::start_async(
            addr,
            Arc::new(move |req| {
                let out = handler(req);
                Box::pin(async move { out }) as Pin<Box<dyn Future<Output = Outgoing> + Send>>
            }),
        )
        .await
    }

    /// Like [`HttpServer::start`], for handlers that wait (long polls).
    pub async fn start_async(addr: SocketAddr, handler: AsyncHandler) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let handler = handler.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let handler = handler.clone();
                            async move {
                                let (parts, body) = req.into_parts();
                                let body = body
                                    .collect()
                                    .await
                                    .map(|c| c.to_bytes())
                                    .unwrap_or_default();
                                let incoming = Incoming {
                                    method: parts.method.to_string(),
                                    path: parts.uri.path().to_owned(),
                                    query: parts.uri.query().unwrap_or("").to_owned(),
                                    headers: parts.headers,
                                    body,
                                };
                                let out = handler(incoming).await;
                                if let Some(delay) = out.delay {
                                    tokio::time::sleep(delay).await;
                                }
                                let mut response = hyper::Response::builder().status(out.status);
                                for (name, value) in &out.headers {
                                    response = response.header(name, value);
                                }
                                Ok::<_, Infallible>(
                                    response
                                        .body(Full::new(Bytes::from(out.body)))
                                        .expect("valid response"),
                                )
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { addr, task })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A request in one of AWS's JSON protocols (`POST /`, `X-Amz-Target:
/// <prefix><Operation>`, the protocol's content type, SigV4 for the service).
struct AwsJsonCall {
    operation: String,
    access_key: String,
    /// The Region of the signature's credential scope: the Region the request is for.
    region: String,
    input: serde_json::Value,
}

/// An AWS error to answer with: HTTP status, error type, message.
type AwsRefusal = (u16, &'static str, String);

/// Reads an AWS JSON-protocol request as the service would, or says why it refuses it
/// (`unsigned` is the service's error type for a request without a valid signature).
fn aws_json_call(
    req: &Incoming,
    target_prefix: &str,
    content_type: &str,
    service: &str,
    unsigned: &'static str,
) -> Result<AwsJsonCall, AwsRefusal> {
    if req.method != "POST" || req.path != "/" {
        return Err((404, "UnknownOperationException", "not found".into()));
    }
    let operation = req
        .header("x-amz-target")
        .and_then(|t| t.strip_prefix(target_prefix))
        .map(str::to_owned)
        .ok_or((
            400,
            "UnknownOperationException",
            "missing X-Amz-Target".into(),
        ))?;
    if !req
        .header("content-type")
        .is_some_and(|c| c.starts_with(content_type))
    {
        return Err((
            400,
            "SerializationException",
            format!("expected {content_type}"),
        ));
    }
    let credential = sigv4_credential(req, service).ok_or((
        400,
        unsigned,
        format!("the request is not SigV4-signed for {service}"),
    ))?;
    let input = serde_json::from_slice(&req.body)
        .map_err(|e| (400, "SerializationException", e.to_string()))?;
    Ok(AwsJsonCall {
        operation,
        access_key: credential.access_key,
        region: credential.region,
        input,
    })
}

/// Who signed a SigV4 request and for where: its `Authorization` header's
/// `Credential=<access key>/<date>/<Region>/<service>/aws4_request`.
struct Sigv4Credential {
    access_key: String,
    region: String,
}

/// The credential of a request SigV4-signed for `service`, if it is one.
fn sigv4_credential(req: &Incoming, service: &str) -> Option<Sigv4Credential> {
    let credential = req
        .header("authorization")?
        .strip_prefix("AWS4-HMAC-SHA256 ")?
        .split(',')
        .find_map(|p| p.trim().strip_prefix("Credential="))?;
    let parts: Vec<&str> = credential.split('/').collect();
    (parts.len() == 5
        && !parts[0].is_empty()
        && !parts[2].is_empty()
        && parts[3] == service
        && parts[4] == "aws4_request"
        && req.header("x-amz-date").is_some())
    .then(|| Sigv4Credential {
        access_key: parts[0].to_owned(),
        region: parts[2].to_owned(),
    })
}

/// The access key of a request SigV4-signed for `service`, if it is one.
fn sigv4_access_key(req: &Incoming, service: &str) -> Option<String> {
    sigv4_credential(req, service).map(|c| c.access_key)
}

/// The account of an IAM or STS principal ARN: `arn:<partition>:iam::<account>:…`
/// (users, roles) or `arn:<partition>:sts::<account>:assumed-role/…` (sessions).
pub fn principal_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (prefix, partition, service, region, account) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let resource = parts.next()?;
    (prefix == "arn"
        && partition.starts_with("aws")
        && matches!(service, "iam" | "sts")
        && region.is_empty()
        && is_account_id(account)
        && !resource.is_empty())
    .then_some(account)
}

/// Whether `account` is an AWS account ID: 12 digits.
pub(crate) fn is_account_id(account: &str) -> bool {
    account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())
}

fn now_unix_f64() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_requests::{signed_in, unsigned};

    #[test]
    fn a_principals_account_is_read_from_its_arn() {
        let cases = [
            (
                "arn:aws:iam::210987654321:user/ops/dave",
                Some("210987654321"),
            ),
            (
                "arn:aws:iam::210987654321:role/approvals/SlackApprover",
                Some("210987654321"),
            ),
            (
                "arn:aws:sts::210987654321:assumed-role/SlackApprover/U0ALICE",
                Some("210987654321"),
            ),
            (
                "arn:aws-us-gov:sts::210987654321:assumed-role/R/s",
                Some("210987654321"),
            ),
            ("arn:aws:iam::21098765432:user/dave", None),
            ("arn:aws:iam::2109876543xx:user/dave", None),
            ("arn:aws:ssm:us-east-1:210987654321:parameter/x", None),
            ("arn:aws:iam::210987654321:", None),
            ("AKIAUNREGISTERED0001", None),
        ];
        for (arn, account) in cases {
            assert_eq!(principal_account(arn), account, "{arn}");
        }
        let principals = Principals::default();
        principals.register("ASIAMEMBER0000000001", cases[2].0, None);
        principals.register("AKIAODD0000000000001", "somebody", None);
        assert_eq!(
            principals.account_of("ASIAMEMBER0000000001").as_deref(),
            Some("210987654321")
        );
        assert_eq!(principals.account_of("AKIAODD0000000000001"), None);
        assert_eq!(principals.account_of("AKIANOBODY0000000001"), None);
    }

    #[test]
    fn a_requests_region_is_its_credential_scopes() {
        let json = "application/x-amz-json-1.1";
        let req = signed_in(
            "eu-west-1",
            "AKIDEXAMPLE",
            "ssm",
            json,
            Some("AmazonSSM.GetParameter"),
            "{}",
        );
        let call = aws_json_call(
            &req,
            "AmazonSSM.",
            json,
            "ssm",
            "IncompleteSignatureException",
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            (call.access_key.as_str(), call.region.as_str()),
            ("AKIDEXAMPLE", "eu-west-1")
        );
        let scoped_elsewhere = signed_in(
            "eu-west-1",
            "AKIDEXAMPLE",
            "sts",
            json,
            Some("AmazonSSM.GetParameter"),
            "{}",
        );
        assert!(
            aws_json_call(
                &scoped_elsewhere,
                "AmazonSSM.",
                json,
                "ssm",
                "IncompleteSignatureException"
            )
            .is_err()
        );
        let mut no_region = unsigned(json, Some("AmazonSSM.GetParameter"), "{}");
        no_region.headers.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122//ssm/aws4_request, \
             SignedHeaders=host, Signature=00"
                .parse()
                .unwrap(),
        );
        assert!(sigv4_credential(&no_region, "ssm").is_none());
    }
}

/// Requests as an AWS SDK sends them, for the stand-ins' own tests.
#[cfg(test)]
mod test_requests {
    use super::Incoming;

    /// A `POST /` with this body, SigV4-signed by `access_key` for `service` in
    /// us-east-1 (the signature itself is not checked by the stand-ins, only its
    /// scope).
    pub fn signed(
        access_key: &str,
        service: &str,
        content_type: &str,
        target: Option<&str>,
        body: &str,
    ) -> Incoming {
        signed_in("us-east-1", access_key, service, content_type, target, body)
    }

    /// Like [`signed`], with `region` in the credential scope.
    pub fn signed_in(
        region: &str,
        access_key: &str,
        service: &str,
        content_type: &str,
        target: Option<&str>,
        body: &str,
    ) -> Incoming {
        let mut request = unsigned(content_type, target, body);
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={access_key}/20261122/{region}/{service}/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, Signature=00"
        );
        request.headers.insert(
            "authorization",
            authorization.parse().expect("header value"),
        );
        request
    }

    pub fn unsigned(content_type: &str, target: Option<&str>, body: &str) -> Incoming {
        let mut headers = hyper::HeaderMap::new();
        headers.insert("content-type", content_type.parse().expect("header value"));
        headers.insert(
            "x-amz-date",
            "20261122T123441Z".parse().expect("header value"),
        );
        if let Some(target) = target {
            headers.insert("x-amz-target", target.parse().expect("header value"));
        }
        Incoming {
            method: "POST".into(),
            path: "/".into(),
            query: String::new(),
            headers,
            body: body.to_owned().into(),
        }
    }
}
