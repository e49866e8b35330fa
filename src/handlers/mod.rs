//! The two Lambda functions' handlers. Binaries only build these and run them.

pub mod events;
pub mod interactions;

use aws_config::ConfigLoader;

use crate::config::ConfigError;
use crate::slack::SlackClient;
use crate::ssm::Ssm;

/// Why a function could not start. Every variant names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("could not build the Slack HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// The shared clients: SSM (from the standard AWS chain) and Slack.
async fn clients(
    loader: ConfigLoader,
    slack_api_url: &str,
    bot_token: &crate::config::SecretSource,
) -> Result<(Ssm, SlackClient, Option<String>), StartupError> {
    let sdk = loader.load().await;
    let region = sdk.region().map(|r| r.to_string());
    let ssm = Ssm::new(aws_sdk_ssm::Client::new(&sdk));
    let token = ssm.resolve_secret(bot_token).await?;
    let slack = SlackClient::new(slack_api_url, token)?;
    Ok((ssm, slack, region))
}
