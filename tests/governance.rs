//! Governance a security team can sign off on: the permission boundary stands on what
//! SSM says of the execution, not on what a button says of it.

mod support;

use serde_json::json;
use support::*;

const RULES_PARAMETER: &str = "/ssm-slack-approvals/rules";

/// Production runbooks are Alice's to decide, development runbooks Bob's.
fn rules() -> String {
    json!({"rules": [
        {"name": "production", "runbooks": ["Prod-"], "channel": "C0PROD", "approvers": ["U0ALICE"]},
        {"name": "development", "runbooks": ["Dev-"], "channel": "C0DEV", "approvers": ["U0BOB"]}
    ]})
    .to_string()
}

/// The functions with `rules` as their rules document.
fn with_rules(rules: String) -> Options {
    Options {
        env: vec![("SLACK_RULES_PARAMETER", RULES_PARAMETER)],
        parameters: vec![(RULES_PARAMETER, rules)],
        ..Options::default()
    }
}

async fn harness() -> Harness {
    Harness::with(with_rules(rules())).await
}

fn prod_runbook() -> stand_ins::ssm::RunbookSpec {
    let mut spec = runbook(1);
    spec.document_name = "Prod-Deploy".into();
    spec
}

/// The prompt of `execution_id` (from the table's record of where it is).
fn prompt_of(h: &Harness, execution_id: &str) -> (String, String) {
    let items = h.step_items(execution_id);
    assert_eq!(items.len(), 1, "{items:#?}");
    (
        items[0]["channel"]["S"].as_str().unwrap().to_owned(),
        items[0]["ts"]["S"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_button_naming_another_runbook_decides_nothing_on_the_step_ssm_reports() {
    let h = harness().await;
    let id = h.ssm.start_automation(prod_runbook());
    h.deliver_events().await;
    let (channel, ts) = prompt_of(&h, &id);
    assert_eq!(channel, "C0PROD");
    // Bob may decide development runbooks: a button forged to name one passes the
    // early check on the button, but the step SSM reports is a production one.
    let click = h.forged_click(&channel, &ts, &bob(), "ssm_approve", |target| {
        assert_eq!(target["runbook"], "Prod-Deploy", "{target}");
        target["runbook"] = json!("Dev-Deploy");
    });
    h.invoke_interactions(&click).await;
    assert_eq!(h.signals_sent(), 0, "nothing signalled");
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Waiting")
    );
    let told = last_ephemeral(&h, "U0BOB");
    assert!(
        told.contains("`Dev-Deploy`") && told.contains("`Prod-Deploy`"),
        "the person is told why: {told}"
    );
    // Alice, whom the production rule names, still decides it.
    h.click(&channel, &ts, &alice(), "ssm_approve").await;
    assert_eq!(h.signals_sent(), 1);
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Success")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reason_form_for_a_button_naming_another_runbook_never_opens() {
    let h = Harness::with(Options {
        reject_reason: Some("required"),
        ..with_rules(rules())
    })
    .await;
    let id = h.ssm.start_automation(prod_runbook());
    h.deliver_events().await;
    let (channel, ts) = prompt_of(&h, &id);
    let click = h.forged_click(&channel, &ts, &bob(), "ssm_reject", |target| {
        target["runbook"] = json!("Dev-Deploy");
    });
    h.invoke_interactions(&click).await;
    assert!(h.slack.open_views().is_empty(), "no form opened");
    assert_eq!(h.signals_sent(), 0);
    let told = last_ephemeral(&h, "U0BOB");
    assert!(told.contains("`Prod-Deploy`"), "{told}");
}

/// An AWS principal of the account that may approve in the console (listed in the
/// step's `Approvers` beside the app's role).
const CONSOLE_ADMIN: &str = "arn:aws:sts::123456789012:assumed-role/Admin/mallory";

#[tokio::test(flavor = "multi_thread")]
async fn a_console_decision_that_reads_like_ours_is_never_credited_to_a_slack_person() {
    let h = Harness::start().await;
    let mut spec = runbook(1);
    if let Some(approvers) = spec.steps[1].inputs.get_mut("Approvers") {
        let mut list: Vec<String> = serde_json::from_str(approvers).unwrap();
        list.push("arn:aws:iam::123456789012:role/Admin".into());
        *approvers = serde_json::to_string(&list).unwrap();
    }
    let id = h.ssm.start_automation(spec);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    // Mallory approves in the console with a comment that reads like the app's.
    h.ssm
        .principals()
        .register("AKIAMALLORY000000001", CONSOLE_ADMIN, None);
    h.ssm_as("AKIAMALLORY000000001")
        .send_automation_signal()
        .automation_execution_id(&id)
        .signal_type(aws_sdk_ssm::types::SignalType::Approve)
        .payload(
            "Comment",
            vec!["Approved in Slack by alice (U0ALICE)".to_owned()],
        )
        .send()
        .await
        .expect("the console's approval");
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Success"));
    h.deliver_events().await;
    h.deliver_events().await;

    // The trail records the decision as taken outside Slack, by the principal SSM names.
    let item = &h.step_items(&id)[0];
    let decisions = item["decisions"]["L"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        decisions
            .iter()
            .all(|d| d["M"]["user_id"]["S"] != "U0ALICE"),
        "credited to alice: {item:#}"
    );
    assert_eq!(decisions.len(), 1, "{item:#}");
    assert_eq!(
        decisions[0]["M"]["principal"]["S"], CONSOLE_ADMIN,
        "{item:#}"
    );
    // The prompt says so, and never names alice.
    let shown = text_of(&h.slack.message(CHANNEL, &prompt.ts).unwrap().blocks);
    assert!(
        !shown.contains("U0ALICE") && !shown.contains("alice"),
        "{shown}"
    );
    assert!(shown.contains("outside Slack"), "{shown}");
    assert!(shown.contains("Admin/mallory"), "{shown}");
}

/// Production needs two different people: the rules say so, whatever the runbook's
/// own `MinRequiredApprovals` (1 here).
fn two_person_rules() -> String {
    json!({"rules": [
        {"name": "production", "runbooks": ["Prod-"], "channel": "C0PROD",
         "approvers": ["U0ALICE", "U0BOB", "U0MALLORY"], "approvals": 2}
    ]})
    .to_string()
}

async fn two_person_harness() -> Harness {
    Harness::with(with_rules(two_person_rules())).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_two_person_rule_approves_in_ssm_only_once_two_different_people_approved() {
    let h = two_person_harness().await;
    let id = h.ssm.start_automation(prod_runbook());
    h.deliver_events().await;
    let (channel, ts) = prompt_of(&h, &id);
    let shown = text_of(&h.slack.message(&channel, &ts).unwrap().blocks);
    assert!(shown.contains("2 different people"), "{shown}");

    // Alice approves: recorded, nothing signalled, the prompt shows 1 of 2.
    h.click(&channel, &ts, &alice(), "ssm_approve").await;
    assert_eq!(h.signals_sent(), 0, "one person is not two");
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Waiting")
    );
    let prompt = h.slack.message(&channel, &ts).unwrap();
    assert!(
        has_buttons(&prompt.blocks),
        "buttons stay for the second approver"
    );
    assert!(
        text_of(&prompt.blocks).contains("1 of 2 approvals"),
        "{}",
        text_of(&prompt.blocks)
    );
    assert!(last_ephemeral(&h, "U0ALICE").contains("waits for 1 more"));

    // Alice again: one person counts once.
    h.click(&channel, &ts, &alice(), "ssm_approve").await;
    assert_eq!(h.signals_sent(), 0);
    assert!(last_ephemeral(&h, "U0ALICE").contains("one person counts once"));

    // Bob approves: the second person, so SSM is signalled, once.
    h.click(&channel, &ts, &bob(), "ssm_approve").await;
    assert_eq!(h.signals_sent(), 1);
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Success")
    );
    let done = text_of(&h.slack.message(&channel, &ts).unwrap().blocks);
    assert!(
        done.contains("<@U0ALICE>") && done.contains("<@U0BOB>"),
        "{done}"
    );
    assert!(!has_buttons(
        &h.slack.message(&channel, &ts).unwrap().blocks
    ));
    // Both approvals are in the trail.
    let item = &h.step_items(&id)[0];
    let users: Vec<&str> = item["decisions"]["L"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["M"]["user_id"]["S"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["U0ALICE", "U0BOB"], "{item:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn under_a_two_person_rule_one_reject_rejects_at_once() {
    let h = two_person_harness().await;
    let id = h.ssm.start_automation(prod_runbook());
    h.deliver_events().await;
    let (channel, ts) = prompt_of(&h, &id);
    h.click(&channel, &ts, &alice(), "ssm_approve").await;
    assert_eq!(h.signals_sent(), 0);
    h.click(&channel, &ts, &bob(), "ssm_reject").await;
    assert_eq!(h.signals_sent(), 1);
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Failed")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rules_document_asking_for_more_approvals_than_ssm_allows_stops_the_function() {
    for approvals in [0, 11] {
        let rules = json!({"rules": [{"name": "production", "runbooks": ["Prod-"],
            "channel": "C0PROD", "approvers": ["U0ALICE"], "approvals": approvals}]});
        let error = match Harness::try_with(with_rules(rules.to_string())).await {
            Ok(_) => panic!("started with approvals: {approvals}"),
            Err(e) => e.to_string(),
        };
        assert!(
            error.contains("production") && error.contains("approvals"),
            "{error}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_two_person_rule_holds_with_per_person_sessions_too() {
    // The runbook asks SSM for one approval; the rule asks for two people. Each
    // person signs as themselves, and SSM sees a signal only once two have approved.
    let mut options = with_rules(two_person_rules());
    options.env.push(("APPROVER_ROLE_ARN", APPROVER_ROLE));
    let h = Harness::with(options).await;
    let mut spec = quorum_runbook(1, &["U0ALICE", "U0BOB"]);
    spec.document_name = "Prod-Deploy".into();
    let id = h.ssm.start_automation(spec);
    h.deliver_events().await;
    let (channel, ts) = prompt_of(&h, &id);
    h.click(&channel, &ts, &alice(), "ssm_approve").await;
    assert_eq!(h.signals_sent(), 0);
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Waiting")
    );
    h.click(&channel, &ts, &bob(), "ssm_approve").await;
    let signals = h.ssm.signals();
    assert_eq!(signals.len(), 1, "{signals:?}");
    assert_eq!(signals[0].principal, session_arn("U0BOB"));
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Success")
    );
    let done = text_of(&h.slack.message(&channel, &ts).unwrap().blocks);
    assert!(
        done.contains("<@U0ALICE>") && done.contains("<@U0BOB>"),
        "{done}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approval_the_rule_counts_that_could_not_be_recorded_can_be_given_again_at_once() {
    let h = two_person_harness().await;
    let id = h.ssm.start_automation(prod_runbook());
    h.deliver_events().await;
    let (channel, ts) = prompt_of(&h, &id);
    // The claim is written; the approval's write fails, all three of the SDK's attempts.
    h.dynamodb.answer_next_normally("UpdateItem");
    for _ in 0..3 {
        h.dynamodb
            .fail_next("UpdateItem", 500, "InternalServerError");
    }
    h.click(&channel, &ts, &alice(), "ssm_approve").await;
    h.dynamodb.clear_faults();
    assert!(last_ephemeral(&h, "U0ALICE").contains("could not be recorded"));
    // Nothing holds the step: her next click is counted, not "being decided".
    h.click(&channel, &ts, &alice(), "ssm_approve").await;
    let told = last_ephemeral(&h, "U0ALICE");
    assert!(told.contains("waits for 1 more"), "{told}");
    assert_eq!(h.signals_sent(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_decision_made_in_slack_is_not_shown_twice_when_its_signer_is_not_configured() {
    // Without INTERACTIONS_ROLE_ARN (a local run, an older stack) SSM's record of the
    // click's own signal cannot be credited: it is the click's, already in the trail.
    let h = Harness::with(Options {
        env: vec![("INTERACTIONS_ROLE_ARN", "")],
        ..Options::default()
    })
    .await;
    let id = h.start_runbook(1);
    h.deliver_events().await;
    let ts = h.prompt_ts(&id);
    h.click(CHANNEL, &ts, &alice(), "ssm_approve").await;
    h.deliver_events().await;
    let text = text_of(&h.slack.message(CHANNEL, &ts).unwrap().blocks);
    assert!(text.contains("*Approved* by <@U0ALICE>"), "{text}");
    assert!(!text.contains("outside Slack"), "{text}");
    let decisions = h.step_items(&id)[0]["decisions"]["L"].clone();
    assert_eq!(decisions.as_array().unwrap().len(), 1, "{decisions:#}");
}
