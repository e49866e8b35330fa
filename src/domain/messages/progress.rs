//! Quorum progress: the clicked prompt while more approvals are needed.

use serde_json::Value;

use super::blocks::{STATUS_BLOCK, SlackMessage, block_id, notification, status_block, verbatim};
use super::text::mentions;
use crate::domain::record::DecisionRecord;

/// The clicked prompt while a quorum is being gathered: the approvals so far in its
/// status, the buttons kept for the next approver.
pub fn render_progress(
    clicked_blocks: &[Value],
    approvals: &[DecisionRecord],
    needed: u32,
) -> Option<SlackMessage> {
    if !clicked_blocks
        .iter()
        .any(|b| block_id(b) == Some(STATUS_BLOCK))
    {
        return None;
    }
    let line = progress_line(approvals, needed);
    let blocks = clicked_blocks
        .iter()
        .map(|b| match block_id(b) {
            Some(STATUS_BLOCK) => status_block(line.clone()),
            _ => verbatim(b.clone()),
        })
        .collect();
    Some(SlackMessage {
        text: notification(&format!("{} of {needed} approvals so far", approvals.len())),
        blocks,
    })
}

/// The prompt's status while a quorum is gathered: "Waiting for approval: 1 of 2 …".
pub fn progress_line(approvals: &[DecisionRecord], needed: u32) -> String {
    format!(
        ":hourglass_flowing_sand: *Waiting for approval*: {}",
        progress(approvals, needed)
    )
}

/// "1 of 2 approvals: @alice".
pub fn progress(approvals: &[DecisionRecord], needed: u32) -> String {
    format!(
        "{} of {needed} approvals: {}",
        approvals.len(),
        mentions(approvals)
    )
}
