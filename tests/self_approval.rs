//! Separation of duties: whoever started a run may reject it, not approve it (unless
//! the deployment or its rule allows it), matched to Slack through the e-mail address
//! their federated session is named after or the rules' identity map; and the starter
//! hears how their run goes.

mod support;

use serde_json::json;
use stand_ins::slack::Person;
use support::*;

const RULES_PARAMETER: &str = "/ssm-slack-approvals/rules";
/// An IAM Identity Center session: its name is the person's e-mail address.
const ALICE_SSO: &str =
    "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Operators_0123abcd/alice@example.com";

fn carol() -> Person {
    Person::new("U0CAROL", "carol")
}

/// The people of the workspace with their addresses (Carol is in `S0OPS`, with Bob).
fn add_addresses(h: &Harness) {
    h.slack.add_person(alice().with_email("Alice@Example.com"));
    h.slack.add_person(bob().with_email("bob@example.com"));
    h.slack.add_person(carol().with_email("carol@example.com"));
}

fn started_by(principal: &str) -> stand_ins::ssm::RunbookSpec {
    let mut spec = runbook(1);
    spec.executed_by = principal.into();
    spec
}

fn with_rules(rules: serde_json::Value, env: Vec<(&'static str, &'static str)>) -> Options {
    let mut env = env;
    env.push(("SLACK_RULES_PARAMETER", RULES_PARAMETER));
    Options {
        env,
        parameters: vec![(RULES_PARAMETER, rules.to_string())],
        ..Options::default()
    }
}

/// The prompt of `execution_id`, as text.
fn prompt_text(h: &Harness, execution_id: &str) -> String {
    let ts = h.prompt_ts(execution_id);
    text_of(&h.slack.message(CHANNEL, &ts).expect("the prompt").blocks)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_person_who_started_a_run_may_reject_it_but_not_approve_it() {
    let h = Harness::start().await;
    add_addresses(&h);
    let id = h.ssm.start_automation(started_by(ALICE_SSO));
    h.deliver_events().await;
    let prompt = h
        .slack
        .messages()
        .into_iter()
        .find(|m| m.channel == CHANNEL)
        .expect("the prompt");
    let text = text_of(&prompt.blocks);
    assert!(
        text.contains("<@U0ALICE>: someone else must approve"),
        "the prompt says who started it: {text}"
    );

    // Alice may decide (SLACK_APPROVERS names her), but she started the run.
    let (status, _) = h.click(CHANNEL, &prompt.ts, &alice(), "ssm_approve").await;
    assert_eq!(status, 200);
    assert_eq!(h.signals_sent(), 0, "nothing signalled");
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Waiting")
    );
    let told = last_ephemeral(&h, "U0ALICE");
    assert!(
        told.contains("you started this run") && told.contains("alice@example.com"),
        "{told}"
    );
    assert!(
        h.step_items(&id)[0].get("decisions").is_none(),
        "nothing is in the trail: {:?}",
        h.step_items(&id)
    );

    // Bob (of S0OPS) approves it.
    h.click(CHANNEL, &prompt.ts, &bob(), "ssm_approve").await;
    assert_eq!(h.signals_sent(), 1);
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Success")
    );

    // The same starter may reject her own run.
    let second = h.ssm.start_automation(started_by(ALICE_SSO));
    h.deliver_events().await;
    let ts = h.prompt_ts(&second);
    h.click(CHANNEL, &ts, &alice(), "ssm_reject").await;
    assert_eq!(
        h.ssm.step_status(&second, "approveRollout").as_deref(),
        Some("Failed")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_starter_hears_that_their_run_waits_and_then_who_decided_it() {
    let h = Harness::start().await;
    add_addresses(&h);
    let id = h.ssm.start_automation(started_by(ALICE_SSO));
    h.deliver_events().await;
    let told = h.slack.direct_messages("U0ALICE");
    assert_eq!(told.len(), 1, "{told:#?}");
    let waits = text_of(&told[0].blocks);
    assert!(
        waits.contains("waits for approval") && waits.contains(&format!("<#{CHANNEL}>")),
        "{waits}"
    );
    assert!(waits.contains("someone else must approve"), "{waits}");

    let ts = h.prompt_ts(&id);
    h.click(CHANNEL, &ts, &bob(), "ssm_approve").await;
    // The step's events bring the outcome, each twice (at least once, in any order).
    let events = h.ssm.take_events();
    for event in events.iter().chain(events.iter().rev()) {
        h.deliver(event).await.expect("event handled");
    }
    let told = h.slack.direct_messages("U0ALICE");
    assert_eq!(told.len(), 2, "told once of each: {told:#?}");
    let decided = text_of(&told[1].blocks);
    assert!(decided.contains("*Approved* by <@U0BOB>"), "{decided}");
    // The prompt, redrawn with the outcome, still names the starter as a person.
    let text = prompt_text(&h, &id);
    assert!(text.contains("*Started by*\\n<@U0ALICE>\""), "{text}");
    assert!(h.slack.direct_messages("U0BOB").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deployment_can_turn_the_starters_messages_off_and_allow_self_approval() {
    let h = Harness::with(Options {
        env: vec![
            ("SLACK_NOTIFY_STARTER", "off"),
            ("SLACK_SELF_APPROVAL", "allowed"),
        ],
        ..Options::default()
    })
    .await;
    add_addresses(&h);
    let id = h.ssm.start_automation(started_by(ALICE_SSO));
    h.deliver_events().await;
    let ts = h.prompt_ts(&id);
    let text = prompt_text(&h, &id);
    assert!(text.contains("*Started by*\\n<@U0ALICE>"), "{text}");
    assert!(!text.contains("someone else must approve"), "{text}");
    h.click(CHANNEL, &ts, &alice(), "ssm_approve").await;
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Success")
    );
    h.deliver_events().await;
    assert!(h.slack.direct_messages("U0ALICE").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_starter_named_in_the_identity_map_is_refused_and_a_rule_may_allow_it() {
    let rules = json!({
        "rules": [
            {"name": "sandbox", "runbooks": ["Sandbox-"], "channel": CHANNEL,
             "approvers": ["U0ALICE", "S0OPS"], "self_approval": "allowed"},
            {"name": "payments", "channel": CHANNEL, "approvers": ["U0ALICE", "S0OPS"]}
        ],
        "identities": {"U0BOB": ["arn:aws:iam::123456789012:user/bob",
                                  "arn:aws:sts::*:assumed-role/Deployer/bob-*"]}
    });
    let h = Harness::with(with_rules(rules, vec![])).await;
    let id = h.ssm.start_automation(started_by(
        "arn:aws:sts::123456789012:assumed-role/Deployer/bob-pipeline",
    ));
    h.deliver_events().await;
    let ts = h.prompt_ts(&id);
    h.click(CHANNEL, &ts, &bob(), "ssm_approve").await;
    assert_eq!(h.signals_sent(), 0);
    let told = last_ephemeral(&h, "U0BOB");
    assert!(
        told.contains("under rule `payments` someone else"),
        "{told}"
    );

    // Under the sandbox rule the starter may approve their own run.
    let mut sandbox = started_by("arn:aws:iam::123456789012:user/bob");
    sandbox.document_name = "Sandbox-Reset".into();
    let own = h.ssm.start_automation(sandbox);
    h.deliver_events().await;
    let ts = h.prompt_ts(&own);
    h.click(CHANNEL, &ts, &bob(), "ssm_approve").await;
    assert_eq!(
        h.ssm.step_status(&own, "approveRollout").as_deref(),
        Some("Success")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_identity_that_matches_several_slack_people_keeps_all_of_them_from_approving() {
    // The address is Alice's in Slack, and the map says the same session is Bob.
    let rules = json!({
        "rules": [{"name": "all", "channel": CHANNEL, "approvers": ["U0ALICE", "S0OPS"]}],
        "identities": {"U0BOB": [ALICE_SSO]}
    });
    let h = Harness::with(with_rules(rules, vec![])).await;
    add_addresses(&h);
    let id = h.ssm.start_automation(started_by(ALICE_SSO));
    h.deliver_events().await;
    let ts = h.prompt_ts(&id);
    let text = prompt_text(&h, &id);
    assert!(text.contains("none of them may approve"), "{text}");
    for person in [alice(), bob()] {
        h.click(CHANNEL, &ts, &person, "ssm_approve").await;
    }
    assert_eq!(h.signals_sent(), 0, "neither may approve");
    assert!(
        h.slack.direct_messages("U0ALICE").is_empty()
            && h.slack.direct_messages("U0BOB").is_empty(),
        "an ambiguous starter is told nothing"
    );
    h.click(CHANNEL, &ts, &carol(), "ssm_approve").await;
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Success")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slack_lookup_that_fails_refuses_the_approval_until_slack_answers() {
    let h = Harness::start().await;
    add_addresses(&h);
    // Slack is rate limited while the prompt is posted and at the first click.
    h.slack.rate_limit_next("users.lookupByEmail", 60);
    let id = h.ssm.start_automation(started_by(ALICE_SSO));
    h.deliver_events().await;
    let ts = h.prompt_ts(&id);
    let text = prompt_text(&h, &id);
    assert!(text.contains("not matched to a Slack person yet"), "{text}");
    assert!(h.slack.direct_messages("U0ALICE").is_empty());

    h.slack.rate_limit_next("users.lookupByEmail", 60);
    h.click(CHANNEL, &ts, &bob(), "ssm_approve").await;
    assert_eq!(h.signals_sent(), 0, "fails closed");
    let told = last_ephemeral(&h, "U0BOB");
    assert!(told.contains("could not be checked with Slack"), "{told}");

    // Slack answers again: Bob is not the starter, and his click goes through.
    h.click(CHANNEL, &ts, &bob(), "ssm_approve").await;
    assert_eq!(h.signals_sent(), 1);
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Success")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_starter_nobody_matches_is_shown_as_their_arn_and_others_decide_as_before() {
    let h = Harness::start().await;
    let id = h
        .ssm
        .start_automation(started_by("arn:aws:iam::123456789012:user/ci-pipeline"));
    h.deliver_events().await;
    let text = prompt_text(&h, &id);
    assert!(
        text.contains("`user/ci-pipeline` (123456789012) (could not be matched to a Slack person)"),
        "{text}"
    );
    let ts = h.prompt_ts(&id);
    h.click(CHANNEL, &ts, &alice(), "ssm_approve").await;
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Success")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_two_person_rule_counts_two_people_other_than_the_starter() {
    let rules = json!({"rules": [
        {"name": "production", "channel": CHANNEL, "approvers": ["U0ALICE", "S0OPS"], "approvals": 2}
    ]});
    let h = Harness::with(with_rules(rules, vec![])).await;
    add_addresses(&h);
    let id = h.ssm.start_automation(started_by(ALICE_SSO));
    h.deliver_events().await;
    let ts = h.prompt_ts(&id);

    // The starter sees it in /approvals as a link to its prompt, not with buttons.
    let (answer, _) = h.approvals_list(&alice(), "C0ELSEWHERE").await;
    assert!(
        !has_buttons(answer["blocks"].as_array().unwrap()),
        "{answer}"
    );
    let (answer, _) = h.approvals_list(&bob(), "C0ELSEWHERE").await;
    assert!(
        has_buttons(answer["blocks"].as_array().unwrap()),
        "{answer}"
    );

    h.click(CHANNEL, &ts, &alice(), "ssm_approve").await;
    h.click(CHANNEL, &ts, &bob(), "ssm_approve").await;
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Waiting"),
        "the starter's approval does not count: one of two"
    );
    let text = prompt_text(&h, &id);
    assert!(text.contains("1 of 2"), "{text}");
    h.click(CHANNEL, &ts, &carol(), "ssm_approve").await;
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Success")
    );
    let decisions = h.step_items(&id)[0]["decisions"]["L"].clone();
    let who: Vec<&str> = decisions
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["M"]["user_id"]["S"].as_str().unwrap())
        .collect();
    assert_eq!(who, ["U0BOB", "U0CAROL"]);
}
