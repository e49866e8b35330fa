//! One endpoint for several AWS stand-ins, as local AWS emulators offer, for an SDK
//! configuration with a single endpoint URL. The JSON protocols' requests name their
//! service in `X-Amz-Target` (`AmazonSSM.`, `DynamoDB_20120810.`, `AmazonSQS.`); a request without
//! one in a form-encoded body is the Query protocol, which STS speaks. Each stand-in
//! also has its own endpoint, for the per-service variables
//! (`AWS_ENDPOINT_URL_SSM`, `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_STS`).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

mod holds;

pub use holds::Race;

use crate::dynamodb::DynamoDbStandIn;
use crate::sqs::SqsStandIn;
use crate::ssm::SsmStandIn;
use crate::sts::StsStandIn;
use crate::{HttpServer, Incoming, Outgoing};

pub struct AwsEndpoint {
    server: HttpServer,
    holds: holds::Holds,
}

/// The stand-ins behind one endpoint.
struct Services {
    ssm: SsmStandIn,
    dynamodb: DynamoDbStandIn,
    sts: Option<StsStandIn>,
    sqs: Option<SqsStandIn>,
}

impl AwsEndpoint {
    /// SSM and DynamoDB behind one endpoint.
    pub async fn start(
        addr: SocketAddr,
        ssm: SsmStandIn,
        dynamodb: DynamoDbStandIn,
    ) -> std::io::Result<Self> {
        Self::serving(
            addr,
            Services {
                ssm,
                dynamodb,
                sts: None,
                sqs: None,
            },
        )
        .await
    }

    /// SSM, DynamoDB and STS behind one endpoint.
    pub async fn start_with_sts(
        addr: SocketAddr,
        ssm: SsmStandIn,
        dynamodb: DynamoDbStandIn,
        sts: StsStandIn,
    ) -> std::io::Result<Self> {
        let services = Services {
            ssm,
            dynamodb,
            sts: Some(sts),
            sqs: None,
        };
        Self::serving(addr, services).await
    }

    /// SSM, DynamoDB, STS and SQS behind one endpoint.
    pub async fn start_with_sts_and_sqs(
        addr: SocketAddr,
        ssm: SsmStandIn,
        dynamodb: DynamoDbStandIn,
        sts: StsStandIn,
        sqs: SqsStandIn,
    ) -> std::io::Result<Self> {
        let services = Services {
            ssm,
            dynamodb,
            sts: Some(sts),
            sqs: Some(sqs),
        };
        Self::serving(addr, services).await
    }

    async fn serving(addr: SocketAddr, services: Services) -> std::io::Result<Self> {
        let services = Arc::new(services);
        let holds = holds::Holds::default();
        let held = holds.clone();
        let server = HttpServer::start_async(
            addr,
            Arc::new(move |req: Incoming| {
                let (services, held) = (services.clone(), held.clone());
                Box::pin(async move {
                    let target = req.header("x-amz-target").unwrap_or_default();
                    if let Some((_, operation)) = target.split_once('.') {
                        held.wait(operation).await;
                    }
                    services.route(req)
                }) as Pin<Box<dyn Future<Output = Outgoing> + Send>>
            }),
        )
        .await?;
        Ok(Self { server, holds })
    }

    /// Holds the requests for `operation` (a JSON-protocol operation such as
    /// DynamoDB's `UpdateItem`) until `requests` of them have arrived, then lets them
    /// all go on: a race forced, not hoped for. The returned [`Race`] says whether it
    /// happened.
    pub fn hold_until(&self, operation: &str, requests: usize) -> Race {
        self.holds.add(operation, requests, holds::PATIENCE)
    }

    /// Like [`AwsEndpoint::hold_until`], waiting at most `patience` for the rest once
    /// the first request arrived; [`Race::together`] says how many raced.
    pub fn hold_until_within(
        &self,
        operation: &str,
        requests: usize,
        patience: std::time::Duration,
    ) -> Race {
        self.holds.add(operation, requests, patience)
    }

    pub fn url(&self) -> String {
        self.server.url()
    }
}

impl Services {
    /// Hands the request to the stand-in of the service it is for.
    fn route(&self, req: Incoming) -> Outgoing {
        let target = req.header("x-amz-target").unwrap_or_default();
        if target.starts_with("AmazonSSM.") {
            return self.ssm.serve(req);
        }
        if target.starts_with("DynamoDB_20120810.") {
            return self.dynamodb.serve(req);
        }
        if let Some(sqs) = &self.sqs
            && target.starts_with("AmazonSQS.")
        {
            return sqs.serve(req);
        }
        let query_protocol = target.is_empty()
            && req
                .header("content-type")
                .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        match &self.sts {
            Some(sts) if query_protocol => sts.serve(req),
            _ => Outgoing::json(
                400,
                &serde_json::json!({"__type": "UnknownOperationException"}),
                "application/x-amz-json-1.1",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Principals;
    use crate::ssm::RunbookSpec;
    use crate::test_requests::{signed, signed_in};

    const FORM: &str = "application/x-www-form-urlencoded";
    const ROLE: &str = "arn:aws:iam::123456789012:role/approvals-SlackInteractionsRole";
    const LAMBDA_KEY: &str = "AKIALAMBDAROLE000001";

    /// Sends `req` over HTTP/1.1 to `addr`; the status and body of the answer.
    async fn send(addr: SocketAddr, req: Incoming) -> (u16, String) {
        tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let mut stream = std::net::TcpStream::connect(addr).unwrap();
            let mut head = format!(
                "POST / HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
                req.body.len()
            );
            for (name, value) in &req.headers {
                head.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap()));
            }
            head.push_str("\r\n");
            stream.write_all(head.as_bytes()).unwrap();
            stream.write_all(&req.body).unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).unwrap();
            let status = response[9..12].parse().unwrap();
            let (_, body) = response.split_once("\r\n\r\n").unwrap();
            (status, body.to_owned())
        })
        .await
        .unwrap()
    }

    fn assume_role(session_name: &str) -> Incoming {
        let body = format!(
            "Action=AssumeRole&Version=2011-06-15&RoleArn={}&RoleSessionName={session_name}",
            form_urlencoded::byte_serialize(ROLE.as_bytes()).collect::<String>()
        );
        signed(LAMBDA_KEY, "sts", FORM, None, &body)
    }

    fn ssm_call(access_key: &str, operation: &str, input: serde_json::Value) -> Incoming {
        let target = format!("AmazonSSM.{operation}");
        let json = "application/x-amz-json-1.1";
        signed(access_key, "ssm", json, Some(&target), &input.to_string())
    }

    #[tokio::test]
    async fn one_endpoint_serves_sts_ssm_and_dynamodb_sharing_principals() {
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let principals = Principals::default();
        let ssm = SsmStandIn::start_with(any, "us-east-1", principals.clone())
            .await
            .unwrap();
        let dynamodb = DynamoDbStandIn::start(any).await.unwrap();
        let sts = StsStandIn::start(any, principals).await.unwrap();
        sts.add_role(ROLE, &[LAMBDA_KEY], false);
        let endpoint = AwsEndpoint::start_with_sts(any, ssm.clone(), dynamodb, sts.clone())
            .await
            .unwrap();
        let addr = endpoint.server.addr;

        let (status, xml) = send(addr, assume_role("U0ALICE")).await;
        assert_eq!(status, 200, "{xml}");
        let key_at = xml.find("<AccessKeyId>").unwrap() + "<AccessKeyId>".len();
        let key = &xml[key_at..key_at + 20];
        assert_eq!(sts.assume_role_calls().len(), 1);

        let id = ssm.start_automation(RunbookSpec::sample("Ship it?", 1));
        let approve = serde_json::json!({"AutomationExecutionId": id, "SignalType": "Approve"});
        let (status, reply) = send(addr, ssm_call(key, "SendAutomationSignal", approve)).await;
        assert_eq!(status, 200, "{reply}");
        let alice =
            "arn:aws:sts::123456789012:assumed-role/approvals-SlackInteractionsRole/U0ALICE";
        assert_eq!(ssm.signals()[0].principal, alice);
        assert_eq!(ssm.execution_status(&id).as_deref(), Some("Success"));

        let get_item = signed(
            LAMBDA_KEY,
            "dynamodb",
            "application/x-amz-json-1.0",
            Some("DynamoDB_20120810.GetItem"),
            r#"{"TableName": "nowhere", "Key": {"id": {"S": "x"}}}"#,
        );
        let (status, reply) = send(addr, get_item).await;
        assert_eq!(status, 400);
        assert!(reply.contains("ResourceNotFoundException"), "{reply}");
    }

    #[tokio::test]
    async fn a_session_of_a_member_accounts_role_acts_in_that_account_and_its_region() {
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let principals = Principals::default();
        let ssm = SsmStandIn::start_with(any, "us-east-1", principals.clone())
            .await
            .unwrap();
        let dynamodb = DynamoDbStandIn::start(any).await.unwrap();
        let sts = StsStandIn::start(any, principals).await.unwrap();
        let member = "210987654321";
        let spoke = format!("arn:aws:iam::{member}:role/approvals-SpokeRole");
        sts.add_role(&spoke, &[LAMBDA_KEY], false);
        let endpoint = AwsEndpoint::start_with_sts(any, ssm.clone(), dynamodb, sts)
            .await
            .unwrap();
        let addr = endpoint.server.addr;
        let body = format!(
            "Action=AssumeRole&Version=2011-06-15&RoleArn={}&RoleSessionName=approvals-hub",
            form_urlencoded::byte_serialize(spoke.as_bytes()).collect::<String>()
        );
        let (status, xml) = send(addr, signed(LAMBDA_KEY, "sts", FORM, None, &body)).await;
        assert_eq!(status, 200, "{xml}");
        let key_at = xml.find("<AccessKeyId>").unwrap() + "<AccessKeyId>".len();
        let key = xml[key_at..key_at + 20].to_owned();

        let spec = RunbookSpec::sample("Ship it?", 1).in_account(member);
        let id = ssm.start_automation_in(member, "eu-west-1", spec);
        let get = |region: &str| {
            let input = serde_json::json!({"AutomationExecutionId": id});
            let json = "application/x-amz-json-1.1";
            let target = Some("AmazonSSM.GetAutomationExecution");
            signed_in(region, &key, "ssm", json, target, &input.to_string())
        };
        let (status, reply) = send(addr, get("eu-west-1")).await;
        assert_eq!(status, 200, "{reply}");
        let (status, reply) = send(addr, get("us-east-1")).await;
        assert_eq!(status, 400);
        assert!(
            reply.contains("AutomationExecutionNotFoundException"),
            "{reply}"
        );
        let (status, reply) = send(
            addr,
            ssm_call(
                LAMBDA_KEY,
                "GetAutomationExecution",
                serde_json::json!({"AutomationExecutionId": id}),
            ),
        )
        .await;
        assert_eq!(
            status, 400,
            "the hub's own account does not see it: {reply}"
        );
    }

    #[tokio::test]
    async fn without_sts_a_query_protocol_request_is_an_unknown_operation() {
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let ssm = SsmStandIn::start(any, "us-east-1").await.unwrap();
        let dynamodb = DynamoDbStandIn::start(any).await.unwrap();
        let endpoint = AwsEndpoint::start(any, ssm, dynamodb).await.unwrap();
        let (status, reply) = send(endpoint.server.addr, assume_role("U0ALICE")).await;
        assert_eq!(status, 400);
        assert!(reply.contains("UnknownOperationException"));
    }
}
