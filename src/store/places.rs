//! The places (account and Region) events came from: the sweep lists the executions
//! waiting in each, so a waiting step whose events were all lost is still found.
//!
//! One small item per place, under a partition key value no execution ID can take
//! (`places`), written once with a conditional `PutItem`; no TTL: a place stays listed.

use aws_sdk_dynamodb::types::AttributeValue;

use super::{ApprovalStore, Item, PARTITION_KEY, SORT_KEY, StoreError, limits, s, text};
use crate::deadline::{Deadline, unix_now};
use crate::domain::place::{Place, is_account_id, is_region_name};

const PLACES_KEY: &str = "places";
/// Stands for the account of a deployment not told its own (a local run).
const NO_ACCOUNT: &str = "-";

fn place_key(place: &Place) -> String {
    format!(
        "{}#{}",
        place.account.as_deref().unwrap_or(NO_ACCOUNT),
        place.region
    )
}

fn place_from(item: &Item) -> Option<Place> {
    let (account, region) = text(item, SORT_KEY)?.split_once('#')?;
    let account = (account != NO_ACCOUNT).then_some(account);
    if account.is_some_and(|a| !is_account_id(a)) || !is_region_name(region) {
        return None;
    }
    Some(Place::new(account, region))
}

impl ApprovalStore {
    /// Records that an event came from `place`; `true` if it is new to the table.
    pub async fn record_place(
        &self,
        place: &Place,
        deadline: &Deadline,
    ) -> Result<bool, StoreError> {
        const OPERATION: &str = "PutItem";
        let item: Item = [
            (PARTITION_KEY.to_owned(), s(PLACES_KEY)),
            (SORT_KEY.to_owned(), s(&place_key(place))),
            (
                "first_seen".to_owned(),
                AttributeValue::N(unix_now().to_string()),
            ),
        ]
        .into();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .customize()
            .config_override(limits(OPERATION, deadline)?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(err) => Err(StoreError::call(OPERATION, err)),
        }
    }

    /// Every place an event came from.
    pub async fn places_seen(&self, deadline: &Deadline) -> Result<Vec<Place>, StoreError> {
        const OPERATION: &str = "Query";
        let mut places = vec![];
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :places")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_values(":places", s(PLACES_KEY))
                .set_exclusive_start_key(start.take())
                .customize()
                .config_override(limits(OPERATION, deadline)?)
                .send()
                .await
                .map_err(|e| StoreError::call(OPERATION, e))?;
            places.extend(out.items().iter().filter_map(place_from));
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(places),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_place_reads_back_as_it_was_recorded_and_nothing_else_passes_for_one() {
        for place in [
            Place::new(Some("111122223333"), "eu-west-1"),
            Place::new(None, "us-east-1"),
        ] {
            let item: Item = [(SORT_KEY.to_owned(), s(&place_key(&place)))].into();
            assert_eq!(place_from(&item), Some(place));
        }
        for bad in ["1234#eu-west-1", "111122223333#Europe", "no-separator"] {
            let item: Item = [(SORT_KEY.to_owned(), s(bad))].into();
            assert_eq!(place_from(&item), None, "{bad}");
        }
    }
}
