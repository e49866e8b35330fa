//! Trust, round two, on the click side: refusals that cost no AWS call, Slack's
//! certificate check, the `/approvals` list under `*`, reasons longer than SSM's
//! 512 characters, and clicks that race each other.

mod support;

use std::time::Duration;

use approvals::domain::inbound::view_submission::{REASON_BLOCK_ID, REASON_INPUT_ID};
use approvals::domain::inbound::{APPROVE_ACTION_ID, REJECT_ACTION_ID, RESUME_ACTION_ID};
use serde_json::Value;
use stand_ins::slack::{Person, ViewAnswer};
use stand_ins::ssm::{RunbookSpec, StepSpec};
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn slacks_certificate_check_gets_an_empty_200_and_nothing_else() {
    let h = Harness::start().await;
    let check = h.slack.ssl_check();
    let mut unsigned = check.to_apigw_v2_event(false);
    let headers = unsigned["headers"].as_object_mut().unwrap();
    headers.remove("x-slack-signature");
    headers.remove("x-slack-request-timestamp");
    let (aws, slack) = (h.aws_calls(), h.slack.calls().len());
    for event in [
        check.to_apigw_v2_event(false),
        check.to_apigw_v2_event(true),
        unsigned,
    ] {
        let (status, body) = h.invoke_interactions(&event).await;
        assert_eq!((status, body.as_str()), (200, ""));
    }
    assert_eq!(h.aws_calls(), aws, "no AWS call");
    assert_eq!(h.slack.calls().len(), slack, "no Slack call");
}

/// A paused runbook whose prompt the events function posts (`Pause-` runbooks resume).
fn paused_runbook() -> RunbookSpec {
    let mut spec = runbook(1);
    spec.document_name = "Pause-Maintenance".into();
    spec.steps = vec![
        StepSpec::pause("waitForGo"),
        StepSpec::run("go", "aws:sleep"),
    ];
    spec
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_who_may_not_decide_is_answered_without_any_aws_call() {
    let h = Harness::with(Options {
        env: vec![("SLACK_RESUME_PREFIXES", "Pause-")],
        ..Options::default()
    })
    .await;
    let id = h.start_runbook(1);
    let paused = h.ssm.start_automation(paused_runbook());
    h.deliver_events().await;
    let ts_of = |execution: &str| {
        h.step_items(execution)[0]["ts"]["S"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (approval, pause) = (ts_of(&id), ts_of(&paused));
    let nobody = h.interactions_with(&[("SLACK_APPROVERS", "")]).await;
    let no_resume_here = h
        .interactions_with(&[("SLACK_RESUME_PREFIXES", "Other-")])
        .await;
    let no_resume_at_all = h.interactions_with(&[("SLACK_RESUME_PREFIXES", "")]).await;
    let outsider = Person::of_team("U0ALICE", "alice", "T0ELSEWHERE");
    h.slack.add_person(outsider.clone());
    let cases: Vec<(
        &str,
        &approvals::handlers::interactions::InteractionsApp,
        &str,
        Person,
        &str,
        &str,
    )> = vec![
        (
            "not an approver (groups looked up)",
            &h.interactions,
            &approval,
            mallory(),
            APPROVE_ACTION_ID,
            "only <@U0ALICE>",
        ),
        (
            "not an approver, rejecting",
            &h.interactions,
            &approval,
            mallory(),
            REJECT_ACTION_ID,
            "only <@U0ALICE>",
        ),
        (
            "nobody configured",
            &nobody,
            &approval,
            alice(),
            APPROVE_ACTION_ID,
            "no approvers are configured",
        ),
        (
            "another workspace",
            &h.interactions,
            &approval,
            outsider,
            APPROVE_ACTION_ID,
            "another one (T0ELSEWHERE)",
        ),
        (
            "a runbook not opted in for Resume",
            &no_resume_here,
            &pause,
            alice(),
            RESUME_ACTION_ID,
            "cannot be resumed from Slack",
        ),
        (
            "Resume opted in for no runbook",
            &no_resume_at_all,
            &pause,
            alice(),
            RESUME_ACTION_ID,
            "cannot be resumed from Slack",
        ),
    ];
    for (name, app, ts, person, action, expected) in cases {
        let click = h.slack.click(CHANNEL, ts, &person, action).unwrap();
        let before = h.aws_calls();
        let (status, _) = Harness::invoke_on(app, &click.to_apigw_v2_event(false)).await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(h.aws_calls(), before, "{name}: an AWS call was made");
        let told = last_ephemeral(&h, &person.id);
        assert!(told.contains(expected), "{name}: {told}");
    }
    assert_eq!(h.signals_sent(), 0);
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Waiting"));
}

#[tokio::test(flavor = "multi_thread")]
async fn under_star_the_list_links_each_prompt_and_gives_nobody_buttons() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    let anyone = h.interactions_with(&[("SLACK_APPROVERS", "*")]).await;

    // Mallory may see the list (anyone may decide from a prompt they can see), but
    // not decide from it: no buttons, a link to the prompt instead.
    let command = h
        .slack
        .slash_command(&mallory(), "C0ELSEWHERE", "/approvals", "");
    let (status, body) = Harness::invoke_on(&anyone, &command.to_apigw_v2_event(false)).await;
    assert_eq!(status, 200);
    let answer: Value = serde_json::from_str(&body).unwrap();
    h.slack
        .show_ephemeral_answer(&mallory(), "C0ELSEWHERE", &answer)
        .expect("valid Block Kit");
    let blocks = answer["blocks"].as_array().unwrap();
    assert!(!has_buttons(blocks), "{body}");
    let permalink = format!(
        "https://local.slack.test/archives/{CHANNEL}/p{}",
        prompt.ts.replace('.', "")
    );
    assert!(body.contains(&permalink), "{body}");
    // Only the link: Mallory may not be able to read the prompt's channel, so the list
    // names neither the execution, nor its runbook, account, Region or message.
    for detail in [
        id.as_str(),
        "Deploy-Payments",
        "123456789012",
        REGION,
        "Roll payments",
    ] {
        assert!(!body.contains(detail), "{detail} shown: {body}");
    }

    // A list with buttons from before (explicit approvers) does not decide under `*`.
    let (answer, list) = h.approvals_list(&alice(), "C0OPS").await;
    let block = first_buttons_block(&answer);
    let click = h
        .slack
        .click_ephemeral(&list, &alice(), &block, APPROVE_ACTION_ID)
        .unwrap();
    let before = h.aws_calls();
    Harness::invoke_on(&anyone, &click.to_apigw_v2_event(false)).await;
    assert_eq!(h.aws_calls(), before);
    assert_eq!(h.signals_sent(), 0);
    assert!(last_ephemeral(&h, "U0ALICE").contains("on its prompt"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reason_of_a_thousand_characters_rejects_and_is_kept_whole() {
    let h = Harness::with(Options {
        reject_reason: None,
        ..Options::default()
    })
    .await;
    let id = h.start_runbook(1);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    h.click(CHANNEL, &prompt.ts, &bob(), REJECT_ACTION_ID).await;
    let views = h.slack.open_views();
    let reason = format!("{}END", "The canary error rate doubled. ".repeat(31));
    assert!(reason.chars().count() > 960 && reason.chars().count() <= 1000);
    let submit = h
        .slack
        .submit_view(
            &views[0].id,
            &bob(),
            &[(REASON_BLOCK_ID, REASON_INPUT_ID, &reason)],
        )
        .unwrap();
    let (status, body) = h
        .invoke_interactions(&submit.to_apigw_v2_event(false))
        .await;
    assert_eq!(
        h.slack.view_answer(&views[0].id, status, &body).unwrap(),
        ViewAnswer::Closed,
        "{body}"
    );
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Failed"));
    let signals = h.ssm.signals();
    assert_eq!(signals.len(), 1);
    assert!(signals[0].accepted);
    let comment = signals[0].payload["Comment"][0].as_str().unwrap();
    assert!(comment.chars().count() <= 512, "{}", comment.len());
    assert!(comment.starts_with("Rejected in Slack by bob (U0BOB): The canary"));
    // The audit trail and the prompt keep the whole reason.
    assert_eq!(
        h.step_items(&id)[0]["decisions"]["L"][0]["M"]["reason"]["S"],
        reason.as_str()
    );
    assert!(text_of(&h.only_prompt().blocks).contains("doubled. END"));
}

#[tokio::test(flavor = "multi_thread")]
async fn racing_clicks_on_the_first_of_two_approvals_never_decide_the_second() {
    let h = Harness::with(Options {
        approvers: Some("*"),
        ..Options::default()
    })
    .await;
    let id = h.ssm.start_automation(two_approvals());
    h.deliver_events().await;
    let prompt = h.only_prompt();
    let people: Vec<Person> = (0..6)
        .map(|n| Person::new(&format!("U0R{n:02}"), &format!("racer{n}")))
        .collect();
    let mut environments = vec![];
    for _ in 0..4 {
        environments.push(h.another_interactions_environment().await);
    }
    // Twelve clicks: six people, each on two devices, all from the prompt as shown.
    let mut clicks = vec![];
    for person in &people {
        h.slack.add_person(person.clone());
        for _ in 0..2 {
            clicks.push(
                h.slack
                    .click(CHANNEL, &prompt.ts, person, APPROVE_ACTION_ID)
                    .unwrap(),
            );
        }
    }
    // Each step check is answered a moment late: every click sees step one waiting.
    for _ in 0..clicks.len() {
        h.ssm
            .answer_late("GetAutomationExecution", Duration::from_millis(150));
    }
    let answers = futures_util::future::join_all(clicks.iter().enumerate().map(|(n, click)| {
        let app = &environments[n % environments.len()];
        async move {
            Harness::invoke_on(app, &click.to_apigw_v2_event(false))
                .await
                .0
        }
    }))
    .await;
    assert!(answers.iter().all(|s| *s == 200), "{answers:?}");
    let accepted: Vec<_> = h.ssm.signals().into_iter().filter(|s| s.accepted).collect();
    assert_eq!(accepted.len(), 1, "one decision: {:#?}", h.ssm.signals());
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Success")
    );
    assert_eq!(
        h.ssm.step_status(&id, "approveCleanup").as_deref(),
        Some("Waiting"),
        "the second approval, which nobody has seen, still waits"
    );
    // The others are told who decided, or who is deciding.
    let winner = accepted[0].payload["Comment"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let told: Vec<String> = h.slack.ephemeral().into_iter().map(|e| e.text).collect();
    assert!(told.len() >= 11, "{told:#?}");
    assert!(
        told.iter().all(|t| t.contains("Nothing was done")),
        "{winner}: {told:#?}"
    );
}

fn per_person() -> Options {
    Options {
        approvers: Some("U0ALICE,U0BOB"),
        env: vec![("APPROVER_ROLE_ARN", APPROVER_ROLE)],
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_person_on_two_devices_is_signalled_once_on_a_quorum_step() {
    let h = Harness::with(per_person()).await;
    let id = h
        .ssm
        .start_automation(quorum_runbook(2, &["U0ALICE", "U0BOB"]));
    h.deliver_events().await;
    let prompt = h.only_prompt();
    let second = h.another_interactions_environment().await;
    let clicks = [
        h.slack
            .click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
            .unwrap(),
        h.slack
            .click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
            .unwrap(),
    ];
    for _ in 0..4 {
        h.ssm
            .answer_late("GetAutomationExecution", Duration::from_millis(150));
    }
    let events = clicks.map(|c| c.to_apigw_v2_event(false));
    let (a, b) = tokio::join!(
        Harness::invoke_on(&h.interactions, &events[0]),
        Harness::invoke_on(&second, &events[1]),
    );
    assert_eq!((a.0, b.0), (200, 200));
    assert_eq!(h.signals_sent(), 1, "{:#?}", h.ssm.signals());
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Waiting")
    );
    let told: Vec<String> = h.slack.ephemeral().into_iter().map(|e| e.text).collect();
    assert!(
        told.iter().any(|t| t.contains("1 of 2 approvals")),
        "{told:#?}"
    );
    // Bob meets the quorum.
    h.click(CHANNEL, &prompt.ts, &bob(), APPROVE_ACTION_ID)
        .await;
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Success")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_approvers_at_once_on_a_quorum_of_two_both_count() {
    let h = Harness::with(per_person()).await;
    let id = h
        .ssm
        .start_automation(quorum_runbook(2, &["U0ALICE", "U0BOB"]));
    h.deliver_events().await;
    let prompt = h.only_prompt();
    let second = h.another_interactions_environment().await;
    let events = [alice(), bob()].map(|p| {
        h.slack
            .click(CHANNEL, &prompt.ts, &p, APPROVE_ACTION_ID)
            .unwrap()
            .to_apigw_v2_event(false)
    });
    for _ in 0..6 {
        h.ssm
            .answer_late("GetAutomationExecution", Duration::from_millis(50));
    }
    let (a, b) = tokio::join!(
        Harness::invoke_on(&h.interactions, &events[0]),
        Harness::invoke_on(&second, &events[1]),
    );
    assert_eq!((a.0, b.0), (200, 200));
    // One waited for the other's claim, then decided: both approvals were signalled.
    let accepted: Vec<String> = h
        .ssm
        .signals()
        .into_iter()
        .filter(|s| s.accepted)
        .map(|s| s.principal)
        .collect();
    assert_eq!(accepted.len(), 2, "{:#?}", h.ssm.signals());
    assert!(accepted.contains(&session_arn("U0ALICE")) && accepted.contains(&session_arn("U0BOB")));
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Success")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_third_approver_racing_a_met_quorum_never_decides_the_next_approval() {
    let h = Harness::with(Options {
        approvers: Some("U0ALICE,U0BOB,U0CAROL"),
        env: vec![("APPROVER_ROLE_ARN", APPROVER_ROLE)],
        ..Options::default()
    })
    .await;
    let people = ["U0ALICE", "U0BOB", "U0CAROL"];
    let mut spec = quorum_runbook(2, &people);
    let sessions: Vec<String> = people.iter().map(|p| session_arn(p)).collect();
    let sessions: Vec<&str> = sessions.iter().map(String::as_str).collect();
    spec.steps.push(StepSpec::approve(
        "approveCleanup",
        "Clean up?",
        1,
        &sessions,
    ));
    let id = h.ssm.start_automation(spec);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    let carol = Person::new("U0CAROL", "carol");
    h.slack.add_person(carol.clone());
    let mut environments = vec![];
    for _ in 0..3 {
        environments.push(h.another_interactions_environment().await);
    }
    let events = [alice(), bob(), carol].map(|p| {
        h.slack
            .click(CHANNEL, &prompt.ts, &p, APPROVE_ACTION_ID)
            .unwrap()
            .to_apigw_v2_event(false)
    });
    for _ in 0..9 {
        h.ssm
            .answer_late("GetAutomationExecution", Duration::from_millis(150));
    }
    let answers = futures_util::future::join_all(
        environments
            .iter()
            .zip(&events)
            .map(|(app, event)| Harness::invoke_on(app, event)),
    )
    .await;
    assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
    let accepted = h.ssm.signals().into_iter().filter(|s| s.accepted).count();
    assert_eq!(accepted, 2, "{:#?}", h.ssm.signals());
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Success")
    );
    assert_eq!(
        h.ssm.step_status(&id, "approveCleanup").as_deref(),
        Some("Waiting"),
        "the third approval did not land on the next step"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn when_earlier_approvals_cannot_be_read_nothing_is_signalled() {
    let h = Harness::with(per_person()).await;
    let id = h
        .ssm
        .start_automation(quorum_runbook(2, &["U0ALICE", "U0BOB"]));
    h.deliver_events().await;
    let prompt = h.only_prompt();
    // The table does not answer: neither reads nor writes (three tries each).
    for _ in 0..3 {
        h.dynamodb.fail_next("GetItem", 500, "InternalServerError");
        h.dynamodb
            .fail_next("UpdateItem", 500, "InternalServerError");
    }
    h.click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    h.dynamodb.clear_faults();
    assert_eq!(h.signals_sent(), 0);
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Waiting")
    );
    let told = last_ephemeral(&h, "U0ALICE");
    assert!(
        told.contains("Nothing was done") && told.contains("try again"),
        "{told}"
    );
    // And it works once the table answers again.
    h.click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    assert_eq!(h.signals_sent(), 1);
}
