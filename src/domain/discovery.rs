//! Finding waiting steps no event announced (EventBridge delivers SSM's events best
//! effort): which places the sweep lists for executions waiting, and which of those
//! it prompts for. Pure: the listing and the prompting are `handlers::events::discover`.

use std::collections::BTreeSet;

use super::place::Place;
use super::routes::RunbookPrefixes;
use super::sweep::ExecutionSummary;

/// What the deployment knows of where runbooks run.
#[derive(Debug, Clone, Default)]
pub struct KnownPlaces {
    /// Places an event came from before (recorded once per place in the table).
    pub seen: Vec<Place>,
    /// Accounts named in the rules document or in `ACCOUNT_NAMES`.
    pub accounts: BTreeSet<String>,
    /// Regions named in the rules document.
    pub regions: BTreeSet<String>,
}

/// Every place to list, the hub's own first: the hub's account and Region, each place
/// an event came from, and each account named (rules, `ACCOUNT_NAMES`, the hub's own)
/// in each Region known (the hub's, the rules', those events came from). No duplicates.
pub fn places_to_list(home: &Place, known: &KnownPlaces) -> Vec<Place> {
    let mut regions: BTreeSet<String> = known.regions.clone();
    regions.insert(home.region.clone());
    regions.extend(known.seen.iter().map(|p| p.region.clone()));
    let mut accounts: BTreeSet<Option<String>> = known.accounts.iter().cloned().map(Some).collect();
    accounts.insert(home.account.clone());
    let mut places: BTreeSet<Place> = known.seen.iter().cloned().collect();
    for account in &accounts {
        for region in &regions {
            places.insert(Place {
                account: account.clone(),
                region: region.clone(),
            });
        }
    }
    places.remove(home);
    std::iter::once(home.clone()).chain(places).collect()
}

/// The places in the order this sweep lists them: from the `turn`-th on, round, so that
/// sweeps whose listing budget runs out before the last place still reach every place
/// in turn.
pub fn in_turn(places: Vec<Place>, turn: usize) -> Vec<Place> {
    if places.is_empty() {
        return places;
    }
    let start = turn % places.len();
    let (before, after) = places.split_at(start);
    after.iter().chain(before).cloned().collect()
}

/// Whether an execution listed as waiting waits at a step the events function prompts
/// for: an approval, or a pause of a runbook in `SLACK_RESUME_PREFIXES`.
pub fn waits_for_a_prompt(summary: &ExecutionSummary, resumable: &RunbookPrefixes) -> bool {
    match summary.current_action.as_deref() {
        Some("aws:approve") => true,
        Some("aws:pause") => resumable.matches(&summary.document_name),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::execution::{ExecutionId, Status};

    fn place(account: &str, region: &str) -> Place {
        Place::new(Some(account), region)
    }

    #[test]
    fn the_hub_the_places_seen_and_each_named_account_in_each_known_region_are_listed() {
        let home = place("123456789012", "us-east-1");
        let known = KnownPlaces {
            seen: vec![place("111122223333", "eu-west-1"), home.clone()],
            accounts: ["444455556666".to_owned()].into(),
            regions: ["eu-central-1".to_owned()].into(),
        };
        let listed = places_to_list(&home, &known);
        assert_eq!(listed[0], home, "the hub's own place first");
        let mut expected = vec![place("111122223333", "eu-west-1")];
        for account in ["123456789012", "444455556666"] {
            for region in ["eu-central-1", "eu-west-1", "us-east-1"] {
                expected.push(place(account, region));
            }
        }
        expected.sort();
        expected.retain(|p| *p != home);
        assert_eq!(listed[1..], expected[..]);
        let alone = places_to_list(&home, &KnownPlaces::default());
        assert_eq!(alone, [home]);
    }

    #[test]
    fn each_sweep_starts_its_listing_one_place_further() {
        let places = vec![place("1", "a-1"), place("2", "a-1"), place("3", "a-1")];
        assert_eq!(in_turn(places.clone(), 0), places);
        assert_eq!(
            in_turn(places.clone(), 4),
            [places[1].clone(), places[2].clone(), places[0].clone()]
        );
        assert!(in_turn(vec![], 3).is_empty());
    }

    #[test]
    fn approvals_are_prompted_and_pauses_only_of_resumable_runbooks() {
        let summary = |action: &str, runbook: &str| ExecutionSummary {
            id: ExecutionId::parse("5c3e9b1a-7d2f-4e8a-9b6c-1f0a2d3e4b5c").unwrap(),
            document_name: runbook.into(),
            status: Status::Waiting,
            current_step: Some("step".into()),
            current_action: Some(action.into()),
        };
        let resumable = RunbookPrefixes::parse("Ops-");
        assert!(waits_for_a_prompt(
            &summary("aws:approve", "Deploy"),
            &resumable
        ));
        assert!(waits_for_a_prompt(
            &summary("aws:pause", "Ops-Restart"),
            &resumable
        ));
        assert!(!waits_for_a_prompt(
            &summary("aws:pause", "Deploy"),
            &resumable
        ));
        assert!(!waits_for_a_prompt(
            &summary("aws:sleep", "Ops-Restart"),
            &resumable
        ));
    }
}
