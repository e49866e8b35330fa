//! A post of a step's prompt whose outcome is unknown, as the step's item keeps it
//! (`maybe_posted_since`, `maybe_posted_in`, and `post_unknown` while nobody resolves
//! it): written by the claim's holder, cleared when a prompt is recorded.

use super::{ApprovalStore, condition_held, limits, n, s};
use crate::deadline::{Deadline, unix_now};
use crate::domain::execution::ExecutionId;
use crate::domain::record::PostingClaim;

/// When the first claim whose post is in doubt was taken.
pub(super) const MAYBE_POSTED_SINCE: &str = "maybe_posted_since";
/// The channel that post went to.
pub(super) const MAYBE_POSTED_IN: &str = "maybe_posted_in";
/// Present while the claim's holder is done and nobody resolves the doubt.
pub(super) const POST_UNKNOWN: &str = "post_unknown";

impl ApprovalStore {
    /// Records, under `claim`, that its post to `channel` may or may not have taken
    /// effect, so the next delivery looks for it at once instead of waiting out the
    /// lease. An earlier doubt's time and channel are kept. `false` if the claim is
    /// no longer held (or a prompt was recorded meanwhile).
    pub async fn mark_post_unknown(
        &self,
        id: &ExecutionId,
        step_key: &str,
        claim: &PostingClaim,
        channel: &str,
        deadline: &Deadline,
    ) -> Result<bool, super::StoreError> {
        const OPERATION: &str = "UpdateItem";
        let result = self
            .update(id, step_key)
            .update_expression(format!(
                "SET {POST_UNKNOWN} = :now, \
                 {MAYBE_POSTED_SINCE} = if_not_exists({MAYBE_POSTED_SINCE}, :since), \
                 {MAYBE_POSTED_IN} = if_not_exists({MAYBE_POSTED_IN}, :channel)"
            ))
            .condition_expression("claim_token = :claim AND attribute_not_exists(#ts)")
            .expression_attribute_names("#ts", "ts")
            .expression_attribute_values(":now", n(unix_now()))
            .expression_attribute_values(":since", n(claim.at_unix))
            .expression_attribute_values(":channel", s(channel))
            .expression_attribute_values(":claim", s(&claim.token))
            .customize()
            .config_override(limits(OPERATION, deadline)?)
            .send()
            .await;
        condition_held(OPERATION, result)
    }
}
