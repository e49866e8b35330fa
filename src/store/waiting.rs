//! The table as the index of what waits: a sparse global secondary index
//! (`WaitingSteps`, template.yaml) over the items of steps waiting now.
//!
//! The events function marks a step's item when its prompt is recorded (`waits`, the
//! index's partition key, and `waiting_since`, its sort key) and clears the mark
//! in the same write that records what an ended step's prompt shows; a decision that
//! ends the step run from Slack clears it too. Only marked items are in the index,
//! so `/approvals` reads what waits, newest first, in one paged `Query`, whatever the
//! number of accounts, Regions and runbooks.
//!
//! All marked items share one partition key value: the index holds only what waits
//! now (a few thousand items at most), each written twice in its life (marked and
//! cleared), well inside one partition's 1,000 writes and 3,000 reads a second. A
//! global secondary index is eventually consistent: an entry may show for a moment
//! after its step ended, which the step check before every signal makes harmless.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::{ApprovalStore, Item, PARTITION_KEY, SORT_KEY, StoreError, limits, n, number, s, text};
use crate::deadline::Deadline;
use crate::domain::execution::ExecutionId;
use crate::domain::place::Place;
use crate::domain::record::{PromptRef, Reminded, WaitingStep};
use crate::domain::waiting::{StepKind, StepTarget};

pub const WAITING_INDEX: &str = "WaitingSteps";
/// The index's partition key: present (always [`WAITING`]) only while the step waits.
pub const WAITS: &str = "waits";
/// The index's sort key: when the step started waiting (Unix seconds).
pub const WAITING_SINCE: &str = "waiting_since";
const WAITING: &str = "waiting";
/// When the sweep last reminded who may decide (Unix seconds).
const REMINDED_AT: &str = "reminded_at";
/// When the sweep sent the last call before the step's timeout.
const LAST_CALL_AT: &str = "last_call_at";

/// Where a listing stopped: the index's `LastEvaluatedKey`, as a button can carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "e")]
    execution_id: String,
    #[serde(rename = "k")]
    step_key: String,
    #[serde(rename = "t")]
    since_unix: i64,
    /// How many entries the pages before it showed (a "More" button's count).
    #[serde(rename = "n", default, skip_serializing_if = "is_zero")]
    pub shown_before: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Cursor {
    /// Where a listing that stopped after `step` goes on from.
    pub fn after(step: &WaitingStep) -> Self {
        Self {
            execution_id: step.target.execution_id.as_str().to_owned(),
            step_key: step.step_key.clone(),
            since_unix: step.since_unix,
            shown_before: 0,
        }
    }

    /// The same place, after `shown` entries were shown in all.
    pub fn having_shown(self, shown: usize) -> Self {
        Self {
            shown_before: shown,
            ..self
        }
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("a cursor is JSON")
    }

    /// A cursor from a "More" button; `None` if it is not one this version wrote.
    pub fn decode(raw: &str) -> Option<Self> {
        let cursor: Self = serde_json::from_str(raw).ok()?;
        let ok = ExecutionId::parse(&cursor.execution_id).is_ok()
            && !cursor.step_key.is_empty()
            && cursor.step_key.len() <= 256;
        ok.then_some(cursor)
    }

    fn key(&self) -> Item {
        HashMap::from([
            (PARTITION_KEY.to_owned(), s(&self.execution_id)),
            (SORT_KEY.to_owned(), s(&self.step_key)),
            (WAITS.to_owned(), s(WAITING)),
            (WAITING_SINCE.to_owned(), n(self.since_unix)),
        ])
    }

    fn from_key(key: &Item) -> Option<Self> {
        Some(Self {
            execution_id: text(key, PARTITION_KEY)?.to_owned(),
            step_key: text(key, SORT_KEY)?.to_owned(),
            since_unix: number(key, WAITING_SINCE)?,
            shown_before: 0,
        })
    }
}

/// One page of the index: entries newest first, and where to go on from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingPage {
    pub steps: Vec<WaitingStep>,
    /// Entries that could not be read (written by another version): skipped.
    pub unreadable: usize,
    pub next: Option<Cursor>,
}

/// The update clause that marks a step's item as waiting: the clause, and its names
/// and values (every attribute aliased: `region` is one of DynamoDB's reserved words).
pub(super) struct MarkClause {
    pub clause: String,
    pub names: Vec<(String, &'static str)>,
    pub values: Vec<(String, AttributeValue)>,
}

pub(super) fn mark_clause(step: &WaitingStep) -> MarkClause {
    let mut sets: Vec<(&'static str, AttributeValue)> = vec![
        (WAITS, s(WAITING)),
        (WAITING_SINCE, n(step.since_unix)),
        ("runbook", s(&step.runbook)),
        ("step_kind", s(step.kind.action())),
        ("region", s(&step.place.region)),
    ];
    if let Some(account) = &step.place.account {
        sets.push(("account", s(account)));
    }
    if let Some(id) = &step.target.step_execution_id {
        sets.push(("step_execution_id", s(id)));
    }
    if let Some(message) = &step.message {
        sets.push(("message", s(message)));
    }
    if let Some(at) = step.times_out_at_unix {
        sets.push(("times_out_at", n(at)));
    }
    if let Some(starter) = &step.starter {
        sets.extend(super::starter_attributes(starter));
    }
    let mut mark = MarkClause {
        clause: String::new(),
        names: vec![],
        values: vec![],
    };
    for (i, (name, value)) in sets.into_iter().enumerate() {
        if i > 0 {
            mark.clause.push_str(", ");
        }
        mark.clause.push_str(&format!("#w{i} = :w{i}"));
        mark.names.push((format!("#w{i}"), name));
        mark.values.push((format!(":w{i}"), value));
    }
    mark
}

/// The attributes whose removal takes a step's item out of the index.
pub(super) const WAITING_ATTRIBUTES: [&str; 2] = [WAITS, WAITING_SINCE];

/// Where the sweep goes on from, on an item of its own.
const SWEEP_KEY: &str = "sweep#waiting-steps";

impl ApprovalStore {
    /// One page of what waits, newest first: up to `limit` entries read, from
    /// `after` (a previous page's `next`) on.
    pub async fn waiting_steps(
        &self,
        after: Option<&Cursor>,
        limit: i32,
        deadline: &Deadline,
    ) -> Result<WaitingPage, StoreError> {
        self.query_waiting(after, limit, false, deadline).await
    }

    /// One page of what waits, oldest first (the Home tab, the sweep).
    pub async fn waiting_steps_oldest_first(
        &self,
        after: Option<&Cursor>,
        limit: i32,
        deadline: &Deadline,
    ) -> Result<WaitingPage, StoreError> {
        self.query_waiting(after, limit, true, deadline).await
    }

    async fn query_waiting(
        &self,
        after: Option<&Cursor>,
        limit: i32,
        oldest_first: bool,
        deadline: &Deadline,
    ) -> Result<WaitingPage, StoreError> {
        const OPERATION: &str = "Query";
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(WAITING_INDEX)
            .key_condition_expression("#waits = :waiting")
            .expression_attribute_names("#waits", WAITS)
            .expression_attribute_values(":waiting", s(WAITING))
            .scan_index_forward(oldest_first)
            .limit(limit)
            .set_exclusive_start_key(after.map(Cursor::key))
            .customize()
            .config_override(limits(OPERATION, deadline)?)
            .send()
            .await
            .map_err(|e| StoreError::call(OPERATION, e))?;
        let mut steps = vec![];
        let mut unreadable = 0;
        for item in out.items() {
            match waiting_from(item) {
                Some(step) => steps.push(step),
                None => unreadable += 1,
            }
        }
        Ok(WaitingPage {
            steps,
            unreadable,
            next: out
                .last_evaluated_key()
                .filter(|k| !k.is_empty())
                .and_then(Cursor::from_key),
        })
    }

    /// Records that a reminder about `step` goes out now: `false` if the step no
    /// longer waits, or another sweep reminded of it since `step` was read. Recorded
    /// before it is posted, so a step is reminded of at most once per interval.
    pub async fn claim_reminder(
        &self,
        step: &WaitingStep,
        last_call: bool,
        now_unix: i64,
        deadline: &Deadline,
    ) -> Result<bool, StoreError> {
        const OPERATION: &str = "UpdateItem";
        let mut request = self
            .update(&step.target.execution_id, &step.step_key)
            .expression_attribute_names("#waits", WAITS)
            .expression_attribute_names("#reminded", REMINDED_AT)
            .expression_attribute_values(":now", n(now_unix));
        request = if last_call {
            request
                .update_expression("SET #reminded = :now, #last = :now")
                .condition_expression("attribute_exists(#waits) AND attribute_not_exists(#last)")
                .expression_attribute_names("#last", LAST_CALL_AT)
        } else {
            match step.reminded.last_at_unix {
                Some(seen) => request
                    .update_expression("SET #reminded = :now")
                    .condition_expression("attribute_exists(#waits) AND #reminded = :seen")
                    .expression_attribute_values(":seen", n(seen)),
                None => request
                    .update_expression("SET #reminded = :now")
                    .condition_expression(
                        "attribute_exists(#waits) AND attribute_not_exists(#reminded)",
                    ),
            }
        };
        let result = request
            .customize()
            .config_override(limits(OPERATION, deadline)?)
            .send()
            .await;
        super::condition_held(OPERATION, result)
    }

    /// Where the last sweep stopped (`None`: from the oldest waiting step).
    pub async fn sweep_cursor(&self, deadline: &Deadline) -> Result<Option<Cursor>, StoreError> {
        const OPERATION: &str = "GetItem";
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(SWEEP_KEY))
            .key(SORT_KEY, s("cursor"))
            .consistent_read(true)
            .customize()
            .config_override(limits(OPERATION, deadline)?)
            .send()
            .await
            .map_err(|e| StoreError::call(OPERATION, e))?;
        Ok(out
            .item()
            .and_then(|item| text(item, "cursor"))
            .and_then(Cursor::decode))
    }

    /// Keeps where this sweep stopped, for the next (`None`: it got to the end).
    pub async fn set_sweep_cursor(
        &self,
        cursor: Option<&Cursor>,
        deadline: &Deadline,
    ) -> Result<(), StoreError> {
        let mut item: Item = HashMap::from([
            (PARTITION_KEY.to_owned(), s(SWEEP_KEY)),
            (SORT_KEY.to_owned(), s("cursor")),
            ("at".to_owned(), n(crate::deadline::unix_now())),
        ]);
        if let Some(cursor) = cursor {
            item.insert("cursor".into(), s(&cursor.encode()));
        }
        self.put_plain(item, deadline).await
    }
}

fn waiting_from(item: &Item) -> Option<WaitingStep> {
    let execution_id = ExecutionId::parse(text(item, PARTITION_KEY)?).ok()?;
    let step_key = text(item, SORT_KEY)?.to_owned();
    let kind = match text(item, "step_kind")? {
        k if k == StepKind::Approval.action() => StepKind::Approval,
        k if k == StepKind::Pause.action() => StepKind::Pause,
        _ => return None,
    };
    let place = Place::new(text(item, "account"), text(item, "region")?);
    let runbook = text(item, "runbook")?.to_owned();
    let prompt = match (text(item, "channel"), text(item, "ts")) {
        (Some(channel), Some(ts)) => Some(PromptRef {
            channel: channel.to_owned(),
            ts: ts.to_owned(),
        }),
        _ => None,
    };
    Some(WaitingStep {
        target: StepTarget {
            execution_id,
            step_name: text(item, "step_name")?.to_owned(),
            step_execution_id: text(item, "step_execution_id").map(str::to_owned),
            runbook: Some(runbook.clone()),
            account: place.account.clone(),
            region: Some(place.region.clone()),
        },
        step_key,
        kind,
        place,
        runbook,
        message: text(item, "message").map(str::to_owned),
        since_unix: number(item, WAITING_SINCE)?,
        times_out_at_unix: number(item, "times_out_at"),
        prompt,
        reminded: Reminded {
            last_at_unix: number(item, REMINDED_AT),
            last_call: item.contains_key(LAST_CALL_AT),
        },
        starter: super::starter_from(item),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_survives_a_button_and_refuses_what_it_did_not_write() {
        let cursor = Cursor {
            execution_id: "5c3e9b1a-7d2f-4e8a-9b6c-1f0a2d3e4b5c".into(),
            step_key: "0b2c8a5e-1111-4222-8333-444455556666".into(),
            since_unix: 1_764_590_000,
            shown_before: 0,
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor.clone()));
        let later = cursor.clone().having_shown(20);
        assert_eq!(Cursor::decode(&later.encode()), Some(later));
        assert_eq!(Cursor::from_key(&cursor.key()), Some(cursor));
        for bad in ["", "{}", r#"{"e":"x","k":"y","t":1}"#, "[1,2]"] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_index_item_reads_back_as_the_step_it_marks() {
        let item: Item = HashMap::from([
            (
                PARTITION_KEY.into(),
                s("5c3e9b1a-7d2f-4e8a-9b6c-1f0a2d3e4b5c"),
            ),
            (SORT_KEY.into(), s("run-1")),
            ("step_name".into(), s("approve")),
            ("step_execution_id".into(), s("run-1")),
            ("step_kind".into(), s("aws:approve")),
            ("runbook".into(), s("Payments-Refund")),
            ("account".into(), s("111122223333")),
            ("region".into(), s("eu-west-1")),
            (WAITS.into(), s(WAITING)),
            (WAITING_SINCE.into(), n(100)),
            ("channel".into(), s("C0A")),
            ("ts".into(), s("1.2")),
        ]);
        let step = waiting_from(&item).unwrap();
        assert_eq!(step.place, Place::new(Some("111122223333"), "eu-west-1"));
        assert_eq!(step.target.runbook.as_deref(), Some("Payments-Refund"));
        assert_eq!(step.kind, StepKind::Approval);
        assert_eq!(step.since_unix, 100);
        let mut no_region = item.clone();
        no_region.remove("region");
        assert_eq!(waiting_from(&no_region), None);
    }
}
