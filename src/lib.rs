//! Approve AWS Systems Manager Automation runbooks from Slack.
//!
//! - [`domain`]: pure logic (signature verification, parsing, rules, rendering).
//! - [`permissions`]: who may decide a step and who may see it, for every Slack surface.
//! - [`starters`]: who started a run, as a Slack person (separation of duties).
//! - [`ssm`], [`store`], [`sessions`] and [`slack`]: the outbound adapters (AWS SDK for
//!   SSM, DynamoDB and STS; the Slack Web API).
//! - [`handlers`]: the two Lambda functions' handlers; the binaries only wire them up.

pub mod ca_bundle;
pub mod config;
pub mod deadline;
pub mod domain;
pub mod handlers;
pub mod logging;
pub mod metrics;
pub mod permissions;
pub mod places;
pub mod queue;
pub mod rules;
pub mod sessions;
pub mod slack;
pub mod ssm;
pub mod starters;
pub mod store;
