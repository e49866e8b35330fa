//! The two Lambda functions' handlers. Binaries only build these and run them.

mod adopt;
pub mod events;
mod events_app;
pub mod interactions;
pub mod redrive;
mod refresh;
pub mod sweep;

use aws_config::ConfigLoader;

use crate::config::{ConfigError, OrganizationSettings, TableSettings};
use crate::domain::place::Place;
use crate::places::Places;
use crate::ssm::Ssm;
use crate::store::ApprovalStore;

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

/// The AWS clients, from one standard AWS configuration chain (each service's
/// endpoint can be set on its own: `AWS_ENDPOINT_URL_SSM`, `AWS_ENDPOINT_URL_DYNAMODB`,
/// `AWS_ENDPOINT_URL_STS`).
struct Aws {
    /// The shared AWS configuration, for clients only one function needs.
    sdk: aws_config::SdkConfig,
    store: ApprovalStore,
    /// SSM in the step's own account and Region.
    places: Places,
}

async fn aws_clients(
    loader: ConfigLoader,
    table: &TableSettings,
    organization: &OrganizationSettings,
    approver_role: Option<String>,
) -> Aws {
    let sdk = loader.load().await;
    let region = sdk
        .region()
        .map_or_else(|| DEFAULT_REGION.to_owned(), |r| r.to_string());
    let home = Place::new(organization.home_account.as_deref(), &region);
    Aws {
        store: ApprovalStore::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            &table.name,
            table.retention,
        ),
        places: Places::new(
            home,
            Ssm::new(aws_sdk_ssm::Client::new(&sdk)),
            aws_sdk_sts::Client::new(&sdk),
            organization.spoke.clone(),
            approver_role,
        ),
        sdk,
    }
}
