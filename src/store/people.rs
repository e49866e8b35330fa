//! What the Home tab needs beyond the index of what waits: each person's last
//! decisions (a copy of the audit trail's entries, under the person), and the Events
//! API deliveries already handled (Slack redelivers one it saw no 2xx for in 3 s).
//!
//! Both live in the approvals table, under partition key values no execution ID can
//! take (`person#…`, `slack-event#…`), with the table's TTL.

use super::{
    ApprovalStore, Item, PARTITION_KEY, SORT_KEY, StoreError, TTL_ATTRIBUTE, limits, n, number, s,
    text,
};
use crate::deadline::{Deadline, unix_now};
use crate::domain::inbound::Decision;
use crate::domain::place::Place;
use crate::domain::record::RecentDecision;

/// How long a handled delivery is remembered: Slack redelivers within minutes
/// (three times, the last about 5 minutes after the first).
const DELIVERY_MEMORY_SECS: i64 = 60 * 60;

fn person_key(user_id: &str) -> String {
    format!("person#{user_id}")
}

impl ApprovalStore {
    /// Keeps `decision` among `user_id`'s last decisions (sorted by time).
    pub async fn remember_decision(
        &self,
        user_id: &str,
        decision: &RecentDecision,
        deadline: &Deadline,
    ) -> Result<(), StoreError> {
        let mut item = Item::new();
        item.insert(PARTITION_KEY.into(), s(&person_key(user_id)));
        item.insert(
            SORT_KEY.into(),
            s(&format!(
                "decided#{:012}#{}#{}",
                decision.at_unix, decision.execution_id, decision.step_name
            )),
        );
        item.insert("decision".into(), s(decision.decision.signal_type()));
        item.insert("runbook".into(), s(&decision.runbook));
        item.insert("step_name".into(), s(&decision.step_name));
        item.insert("decided_execution".into(), s(&decision.execution_id));
        item.insert("region".into(), s(&decision.place.region));
        if let Some(account) = &decision.place.account {
            item.insert("account".into(), s(account));
        }
        item.insert("at".into(), n(decision.at_unix));
        item.insert(TTL_ATTRIBUTE.into(), self.expires_at());
        self.put_plain(item, deadline).await
    }

    /// `user_id`'s last `limit` decisions, newest first.
    pub async fn recent_decisions(
        &self,
        user_id: &str,
        limit: i32,
        deadline: &Deadline,
    ) -> Result<Vec<RecentDecision>, StoreError> {
        const OPERATION: &str = "Query";
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :person AND begins_with(#sk, :decided)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#sk", SORT_KEY)
            .expression_attribute_values(":person", s(&person_key(user_id)))
            .expression_attribute_values(":decided", s("decided#"))
            .scan_index_forward(false)
            .limit(limit)
            .customize()
            .config_override(limits(OPERATION, deadline)?)
            .send()
            .await
            .map_err(|e| StoreError::call(OPERATION, e))?;
        Ok(out.items().iter().filter_map(recent_from).collect())
    }

    /// Whether the Events API delivery `event_id` was handled already (a redelivery,
    /// or the same delivery in another environment), read consistently.
    pub async fn delivery_handled(
        &self,
        event_id: &str,
        deadline: &Deadline,
    ) -> Result<bool, StoreError> {
        const OPERATION: &str = "GetItem";
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(delivery_key(event_id)))
            .consistent_read(true)
            .customize()
            .config_override(limits(OPERATION, deadline)?)
            .send()
            .await
            .map_err(|e| StoreError::call(OPERATION, e))?;
        Ok(out.item().is_some())
    }

    /// Marks the Events API delivery `event_id` as handled: only once it was, so that
    /// Slack's redelivery of one that failed is handled again. Marking twice (two
    /// environments at once) is harmless.
    pub async fn mark_delivery_handled(
        &self,
        event_id: &str,
        deadline: &Deadline,
    ) -> Result<(), StoreError> {
        let now = unix_now();
        let mut item = delivery_key(event_id);
        item.insert("at".into(), n(now));
        item.insert(TTL_ATTRIBUTE.into(), n(now + DELIVERY_MEMORY_SECS));
        self.put_plain(item, deadline).await
    }
}

fn delivery_key(event_id: &str) -> Item {
    let mut key = Item::new();
    key.insert(PARTITION_KEY.into(), s(&format!("slack-event#{event_id}")));
    key.insert(SORT_KEY.into(), s("delivery"));
    key
}

fn recent_from(item: &Item) -> Option<RecentDecision> {
    Some(RecentDecision {
        decision: Decision::parse_signal_type(text(item, "decision")?)?,
        runbook: text(item, "runbook")?.to_owned(),
        step_name: text(item, "step_name")?.to_owned(),
        execution_id: text(item, "decided_execution")?.to_owned(),
        place: Place::new(text(item, "account"), text(item, "region")?),
        at_unix: number(item, "at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_decision_reads_back() {
        let item: Item = [
            ("decision", s("Approve")),
            ("runbook", s("Deploy")),
            ("step_name", s("approve")),
            (
                "decided_execution",
                s("5c3e9b1a-7d2f-4e8a-9b6c-1f0a2d3e4b5c"),
            ),
            ("region", s("eu-west-1")),
            ("at", n(100)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let read = recent_from(&item).unwrap();
        assert_eq!(read.decision, Decision::Approve);
        assert_eq!(read.place, Place::new(None, "eu-west-1"));
        let mut no_time = item.clone();
        no_time.remove("at");
        assert_eq!(recent_from(&no_time), None);
    }
}
