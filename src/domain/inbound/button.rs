//! The button value codec: the execution and step a button decides, as JSON, read back checked.

use crate::domain::place::{is_account_id, is_region_name};
use crate::domain::waiting::StepTarget;

/// Why one of our buttons could not be acted on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ButtonError {
    #[error("the button names no step (an older prompt, or not one of ours): {0:?}")]
    NamesNoStep(String),
    #[error("the button's value is not a step of an automation execution: {0}")]
    Malformed(String),
}

/// The value of an Approve / Reject button: the execution and step it decides, as JSON.
pub fn button_value(target: &StepTarget) -> String {
    serde_json::to_string(target).expect("a step target is always JSON")
}

/// Reads a button value written by [`button_value`]. A value that names no step
/// (a bare execution ID from an older prompt) is refused: the click cannot be bound
/// to the step its prompt showed.
pub fn parse_button_value(raw: &str) -> Result<StepTarget, ButtonError> {
    let shown: String = raw.chars().take(80).collect();
    if !raw.trim_start().starts_with('{') {
        return Err(ButtonError::NamesNoStep(shown));
    }
    let target: StepTarget =
        serde_json::from_str(raw).map_err(|e| ButtonError::Malformed(e.to_string()))?;
    let usable = |s: &str| !s.trim().is_empty() && s.len() <= 256;
    if !usable(&target.step_name)
        || target
            .step_execution_id
            .as_deref()
            .is_some_and(|id| !usable(id))
    {
        return Err(ButtonError::Malformed(
            "empty or oversized step name or step execution ID".into(),
        ));
    }
    if target.account.as_deref().is_some_and(|a| !is_account_id(a))
        || target.region.as_deref().is_some_and(|r| !is_region_name(r))
        || target.runbook.as_deref().is_some_and(|r| !usable(r))
    {
        return Err(ButtonError::Malformed(
            "not an account ID, a Region name or a runbook name".into(),
        ));
    }
    Ok(target)
}
