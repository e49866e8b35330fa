//! Nobody, explicitly: a deployment may say that nobody decides from Slack the steps
//! no rule names (`SLACK_APPROVERS=none`, or the rules document's `"default":
//! {"approvers": ["none"]}`). Their prompts still post, without buttons and saying why;
//! `/approvals` and Home link them for everyone of the workspace; a click on an older
//! button is refused before any AWS call.

mod support;

use approvals::domain::inbound::{APPROVE_ACTION_ID, REJECT_ACTION_ID};
use approvals::handlers::events::EventOutcome;
use serde_json::{Value, json};
use support::*;

const RULES_PARAMETER: &str = "/ssm-slack-approvals/rules";
const WHY: &str = "Nobody may decide this step from Slack (no rule names it, and this \
                   deployment allows nobody else): decide it in the AWS console.";

fn posted(outcomes: &[EventOutcome]) -> usize {
    outcomes
        .iter()
        .filter(|o| matches!(o, EventOutcome::Posted { .. }))
        .count()
}

/// `person`'s `/approvals` list (checked as Block Kit by the Slack stand-in), as text.
async fn approvals_list(h: &Harness, person: &stand_ins::slack::Person) -> (Vec<Value>, String) {
    let command = h
        .slack
        .slash_command(person, "C0ELSEWHERE", "/approvals", "");
    let (status, body) = h
        .invoke_interactions(&command.to_apigw_v2_event(false))
        .await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    h.slack
        .show_ephemeral_answer(person, "C0ELSEWHERE", &answer)
        .expect("valid Block Kit");
    (answer["blocks"].as_array().unwrap().clone(), body)
}

#[tokio::test(flavor = "multi_thread")]
async fn under_none_the_prompt_posts_without_buttons_and_says_where_to_decide() {
    let h = Harness::with(Options {
        approvers: Some("none"),
        ..Options::default()
    })
    .await;
    let id = h.start_runbook(1);
    // Posted (the Slack stand-in refuses blocks Slack would refuse).
    assert_eq!(posted(&h.deliver_events().await), 1);
    let prompt = h.only_prompt();
    let text = text_of(&prompt.blocks);
    assert!(!has_buttons(&prompt.blocks), "{text}");
    assert!(text.contains(WHY), "{text}");
    assert!(
        text.contains("nobody from Slack: decide in the AWS console"),
        "{text}"
    );
    assert!(
        text.contains(&id),
        "the execution and its console link: {text}"
    );

    // Anyone of the workspace sees in /approvals that it waits: only a link to its
    // prompt, never its runbook, account or message, and no buttons.
    for person in [mallory(), alice()] {
        let (blocks, body) = approvals_list(&h, &person).await;
        assert!(!has_buttons(&blocks), "{body}");
        assert!(
            body.contains("A step nobody may decide from Slack (decide it in the AWS console)"),
            "{body}"
        );
        let permalink = format!(
            "https://local.slack.test/archives/{CHANNEL}/p{}",
            prompt.ts.replace('.', "")
        );
        assert!(body.contains(&permalink), "{body}");
        for detail in [
            id.as_str(),
            "Deploy-Payments",
            "123456789012",
            REGION,
            "Roll payments",
        ] {
            assert!(!body.contains(detail), "{detail} shown: {body}");
        }
    }

    // And on Home, alike.
    assert_eq!(h.open_home(&mallory()).await.0, 200);
    let view = h.slack.home_view("U0MALLORY").expect("a Home tab");
    let home = serde_json::to_string(&view["blocks"]).unwrap();
    assert!(
        view["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["type"] != "actions"),
        "{home}"
    );
    assert!(
        home.contains("A step nobody may decide from Slack"),
        "{home}"
    );
    assert!(!home.contains("Deploy-Payments"), "{home}");
    assert_eq!(h.signals_sent(), 0);
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Waiting"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_older_button_is_refused_before_any_aws_call_once_nobody_may_decide() {
    // Prompts and lists drawn while Alice could decide...
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    assert!(has_buttons(&prompt.blocks));
    let (answer, list) = h.approvals_list(&alice(), "C0OPS").await;
    let block = first_buttons_block(&answer);

    // ...clicked after the deployment says nobody from Slack.
    let none = h.interactions_with(&[("SLACK_APPROVERS", "NONE")]).await;
    let mut clicks = vec![];
    for action in [APPROVE_ACTION_ID, REJECT_ACTION_ID] {
        clicks.push(
            h.slack
                .click(CHANNEL, &prompt.ts, &alice(), action)
                .unwrap(),
        );
        clicks.push(
            h.slack
                .click_ephemeral(&list, &alice(), &block, action)
                .unwrap(),
        );
    }
    for click in clicks {
        let before = h.aws_calls();
        let (status, _) = Harness::invoke_on(&none, &click.to_apigw_v2_event(false)).await;
        assert_eq!(status, 200);
        assert_eq!(h.aws_calls(), before, "AWS was called");
        let told = last_ephemeral(&h, "U0ALICE");
        assert!(
            told.contains("nobody from Slack may decide this step"),
            "{told}"
        );
        assert!(told.contains("AWS console"), "{told}");
    }
    assert_eq!(h.signals_sent(), 0);
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Waiting"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rules_documents_default_none_holds_over_star_for_steps_no_rule_names() {
    let document = |default: Option<Value>| {
        let mut rules = json!({"rules": [{"name": "production", "runbooks": ["Prod-"],
            "channel": "C0PROD", "approvers": ["U0ALICE"]}]});
        if let Some(default) = default {
            rules["default"] = default;
        }
        rules.to_string()
    };
    let h = Harness::with(Options {
        approvers: Some("*"),
        env: vec![
            ("SLACK_RULES_PARAMETER", RULES_PARAMETER),
            ("SLACK_RULES_REFRESH_SECONDS", "0"),
        ],
        parameters: vec![(
            RULES_PARAMETER,
            document(Some(json!({"approvers": ["none"]}))),
        )],
        ..Options::default()
    })
    .await;
    // No rule names Deploy-Payments: nobody from Slack, in SLACK_CHANNEL all the same.
    let unnamed = h.start_runbook(1);
    // A rule names Prod-Deploy: its approver decides, as before.
    let mut prod = runbook(1);
    prod.document_name = "Prod-Deploy".into();
    let named = h.ssm.start_automation(prod);
    assert_eq!(posted(&h.deliver_events().await), 2);
    let prompt_in = |channel: &str| {
        let mut found: Vec<_> = h
            .slack
            .messages()
            .into_iter()
            .filter(|m| m.channel == channel && m.thread_ts.is_none())
            .collect();
        assert_eq!(found.len(), 1, "{found:#?}");
        found.remove(0)
    };
    let unnamed_prompt = prompt_in(CHANNEL);
    assert!(text_of(&unnamed_prompt.blocks).contains(&unnamed));
    assert!(!has_buttons(&unnamed_prompt.blocks));
    assert!(text_of(&unnamed_prompt.blocks).contains(WHY));
    let named_prompt = prompt_in("C0PROD");
    assert!(text_of(&named_prompt.blocks).contains(&named));
    assert!(has_buttons(&named_prompt.blocks));
    h.click("C0PROD", &named_prompt.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    assert_eq!(h.signals_sent(), 1);

    // Mallory (anyone, under `*`) sees the unnamed step linked, and cannot decide it.
    let (blocks, body) = approvals_list(&h, &mallory()).await;
    assert!(!has_buttons(&blocks), "{body}");
    assert!(
        body.contains("A step nobody may decide from Slack"),
        "{body}"
    );

    // The default comes from the document in force: without it, `*` applies again.
    h.ssm.put_string_parameter(RULES_PARAMETER, &document(None));
    let later = h.start_runbook(1);
    h.deliver_events().await;
    let later_prompt = h
        .slack
        .messages()
        .into_iter()
        .find(|m| text_of(&m.blocks).contains(&later))
        .expect("a prompt");
    assert!(has_buttons(&later_prompt.blocks));
    assert!(!text_of(&later_prompt.blocks).contains(WHY));
}

#[tokio::test(flavor = "multi_thread")]
async fn none_with_ids_or_a_bad_default_stops_the_functions_naming_it() {
    let error = Harness::try_with(Options {
        approvers: Some("none,U0ALICE"),
        ..Options::default()
    })
    .await
    .err()
    .expect("the start fails");
    assert!(
        error.contains("SLACK_APPROVERS: `none` (nobody may decide from Slack) cannot be combined"),
        "{error}"
    );
    for (default, expected) in [
        (
            json!({"approvers": ["none", "U0ALICE"]}),
            "cannot be combined",
        ),
        (json!({"approvers": []}), "its \"approvers\" list is empty"),
        (json!({"approver": ["none"]}), "unknown field `approver`"),
    ] {
        let rules = json!({"rules": [], "default": default});
        let error = Harness::try_with(Options {
            env: vec![("SLACK_RULES_PARAMETER", RULES_PARAMETER)],
            parameters: vec![(RULES_PARAMETER, rules.to_string())],
            ..Options::default()
        })
        .await
        .err()
        .expect("the start fails");
        assert!(error.contains(RULES_PARAMETER), "{error}");
        assert!(error.contains(expected), "{error}");
        if !expected.starts_with("unknown") {
            assert!(error.contains("\"default\""), "{error}");
        }
    }
}
