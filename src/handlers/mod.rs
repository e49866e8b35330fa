//! The two Lambda functions' handlers. Binaries only build these and run them.

pub mod events;
pub mod interactions;

use aws_config::ConfigLoader;

use crate::config::ConfigError;
use crate::ssm::Ssm;

/// Why a function could not start. Every variant names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("could not build the Slack HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// Region for console links when the AWS configuration names none.
const DEFAULT_REGION: &str = "us-east-1";

/// The SSM client, from the standard AWS chain, and the region for console links.
async fn ssm_client(loader: ConfigLoader) -> (Ssm, String) {
    let sdk = loader.load().await;
    let region = sdk
        .region()
        .map_or_else(|| DEFAULT_REGION.to_owned(), |r| r.to_string());
    (Ssm::new(aws_sdk_ssm::Client::new(&sdk)), region)
}
