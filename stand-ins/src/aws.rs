//! One endpoint for several AWS stand-ins, told apart by `X-Amz-Target` (as local AWS
//! emulators do), for an SDK configuration with a single endpoint URL. Each stand-in
//! also has its own endpoint, for the per-service variables
//! (`AWS_ENDPOINT_URL_SSM`, `AWS_ENDPOINT_URL_DYNAMODB`).

use std::net::SocketAddr;

use crate::dynamodb::DynamoDbStandIn;
use crate::ssm::SsmStandIn;
use crate::{HttpServer, Outgoing};

pub struct AwsEndpoint {
    server: HttpServer,
}

impl AwsEndpoint {
    pub async fn start(
        addr: SocketAddr,
        ssm: SsmStandIn,
        dynamodb: DynamoDbStandIn,
    ) -> std::io::Result<Self> {
        let server = HttpServer::start(addr, move |req| {
            let target = req.header("x-amz-target").unwrap_or_default();
            if target.starts_with("AmazonSSM.") {
                ssm.serve(req)
            } else if target.starts_with("DynamoDB_20120810.") {
                dynamodb.serve(req)
            } else {
                Outgoing::json(
                    400,
                    &serde_json::json!({"__type": "UnknownOperationException"}),
                    "application/x-amz-json-1.1",
                )
            }
        })
        .await?;
        Ok(Self { server })
    }

    pub fn url(&self) -> String {
        self.server.url()
    }
}
