//! Beyond one button, end to end against the stand-ins: per-person STS sessions and
//! quorum, a reason with a rejection, the `/approvals` list, pause and resume, and
//! routing prompts by runbook — each with the bad input it adds.

mod support;

use approvals::domain::inbound::block_actions::LIST_MORE_ACTION_ID;
use approvals::domain::inbound::view_submission::{REASON_BLOCK_ID, REASON_INPUT_ID};
use approvals::domain::inbound::{APPROVE_ACTION_ID, REJECT_ACTION_ID, RESUME_ACTION_ID};
use serde_json::Value;
use stand_ins::slack::{Person, ViewAnswer};
use stand_ins::ssm::StepSpec;
use support::*;

fn per_person() -> Options {
    Options {
        approvers: Some("U0ALICE,U0BOB,S0OPS"),
        env: vec![("APPROVER_ROLE_ARN", APPROVER_ROLE)],
        ..Options::default()
    }
}

/// The harness with `options`, the sample runbook waiting at its approval, and its prompt.
async fn with_waiting_prompt(
    options: Options,
) -> (Harness, String, stand_ins::slack::StoredMessage) {
    let h = Harness::with(options).await;
    let id = h.start_runbook(1);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    (h, id, prompt)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_people_meet_a_quorum_of_two_each_under_their_own_session() {
    let h = Harness::with(per_person()).await;
    let id = h
        .ssm
        .start_automation(quorum_runbook(2, &["U0ALICE", "U0BOB"]));
    h.deliver_events().await;
    let prompt = h.only_prompt();
    let shown = text_of(&prompt.blocks);
    assert!(
        shown.contains("Approvals needed*\\n2\""),
        "no one-role disclaimer: {shown}"
    );

    // Alice approves: signed by her own session, counted by SSM, the step waits on.
    h.click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    let signals = h.ssm.signals();
    assert_eq!(signals.len(), 1);
    assert!(signals[0].accepted);
    assert_eq!(signals[0].principal, session_arn("U0ALICE"));
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Waiting")
    );
    let calls = h.sts.assume_role_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        (
            calls[0].role_arn.as_str(),
            calls[0].session_name.as_str(),
            calls[0].source_identity.as_deref(),
            calls[0].caller_access_key.as_str()
        ),
        (APPROVER_ROLE, "U0ALICE", Some("U0ALICE"), FUNCTION_KEY)
    );
    let progress = h.only_prompt();
    let shown = text_of(&progress.blocks);
    assert!(shown.contains("1 of 2 approvals: <@U0ALICE>"), "{shown}");
    assert!(
        has_buttons(&progress.blocks),
        "buttons stay for the next approver"
    );
    assert!(last_ephemeral(&h, "U0ALICE").contains("1 of 2 approvals"));

    // Alice again: one person counts once, she is told so, nothing is signalled.
    h.click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    assert_eq!(h.signals_sent(), 1);
    assert!(
        last_ephemeral(&h, "U0ALICE").contains("already"),
        "{}",
        last_ephemeral(&h, "U0ALICE")
    );
    // Her session was kept: no second AssumeRole.
    assert_eq!(h.sts.assume_role_calls().len(), 1);

    // Bob (an approver through S0OPS… and listed) meets the quorum.
    h.click(CHANNEL, &prompt.ts, &bob(), APPROVE_ACTION_ID)
        .await;
    let signals = h.ssm.signals();
    assert_eq!(signals.len(), 2);
    assert_eq!(signals[1].principal, session_arn("U0BOB"));
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Success")
    );
    let decided = h.only_prompt();
    let shown = text_of(&decided.blocks);
    assert!(!has_buttons(&decided.blocks));
    assert!(
        shown.contains("*Approved* by <@U0ALICE>, <@U0BOB>"),
        "{shown}"
    );
    // Both approvals are on the step's item, and the step's events keep both names.
    let items = h.step_items(&id);
    assert_eq!(items[0]["decisions"]["L"].as_array().unwrap().len(), 2);
    h.deliver_events().await;
    let final_text = text_of(&h.only_prompt().blocks);
    assert!(final_text.contains("<@U0ALICE>, <@U0BOB>"), "{final_text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_ssm_does_not_list_is_refused_by_ssm_and_told_so() {
    let h = Harness::with(per_person()).await;
    let id = h.ssm.start_automation(quorum_runbook(1, &["U0ALICE"]));
    h.deliver_events().await;
    let prompt = h.only_prompt();
    // Bob may decide in Slack, but the runbook lists only Alice's session.
    h.click(CHANNEL, &prompt.ts, &bob(), APPROVE_ACTION_ID)
        .await;
    assert!(!h.ssm.signals()[0].accepted);
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Waiting")
    );
    let told = last_ephemeral(&h, "U0BOB");
    assert!(told.contains("SSM did not accept"), "{told}");
    assert!(has_buttons(&h.only_prompt().blocks));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_name_sts_would_refuse_is_never_asked_for() {
    let (h, _, prompt) = with_waiting_prompt(Options {
        approvers: Some("*"),
        ..per_person()
    })
    .await;
    let odd = Person::new("U0 ODD/NAME", "odd");
    h.slack.add_person(odd.clone());
    h.click(CHANNEL, &prompt.ts, &odd, APPROVE_ACTION_ID).await;
    assert_eq!(h.signals_sent(), 0);
    assert!(h.sts.assume_role_calls().is_empty());
    assert!(last_ephemeral(&h, "U0 ODD/NAME").contains("cannot name an AWS session"));

    // STS refusing the session: nothing signalled, the person told why.
    h.sts.fail_next(403, "AccessDenied");
    h.click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    assert_eq!(h.signals_sent(), 0);
    let told = last_ephemeral(&h, "U0ALICE");
    assert!(
        told.contains("AccessDenied") && told.contains("still waits"),
        "{told}"
    );
    assert!(has_buttons(&h.only_prompt().blocks));
}

#[tokio::test(flavor = "multi_thread")]
async fn reject_asks_for_a_reason_and_sends_it_with_the_rejection() {
    let (h, id, prompt) = with_waiting_prompt(Options {
        reject_reason: None,
        ..Options::default()
    })
    .await;
    // The form is the confirmation: no second dialog on the button.
    assert!(!text_of(&prompt.blocks).contains("\"confirm\""));

    h.click(CHANNEL, &prompt.ts, &bob(), REJECT_ACTION_ID).await;
    assert_eq!(h.signals_sent(), 0, "nothing is sent before the reason");
    let views = h.slack.open_views();
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].user_id, "U0BOB");

    let submit = h
        .slack
        .submit_view(
            &views[0].id,
            &bob(),
            &[(REASON_BLOCK_ID, REASON_INPUT_ID, "The <!here> disk is full")],
        )
        .unwrap();
    let (status, body) = h
        .invoke_interactions(&submit.to_apigw_v2_event(false))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        h.slack.view_answer(&views[0].id, status, &body).unwrap(),
        ViewAnswer::Closed
    );
    let signals = h.ssm.signals();
    assert_eq!(signals.len(), 1);
    assert_eq!(signals[0].signal_type, "Reject");
    assert_eq!(
        signals[0].payload["Comment"][0],
        "Rejected in Slack by bob (U0BOB): The <!here> disk is full"
    );
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Failed")
    );
    let decided = h.only_prompt();
    let shown = text_of(&decided.blocks);
    assert!(!has_buttons(&decided.blocks));
    assert!(shown.contains(":x: *Rejected* by <@U0BOB>"), "{shown}");
    assert!(shown.contains("&lt;!here&gt; disk is full"), "{shown}");
    assert!(!shown.contains("<!here>"), "the reason is data: {shown}");
    let items = h.step_items(&id);
    assert_eq!(
        items[0]["decisions"]["L"][0]["M"]["reason"]["S"],
        "The <!here> disk is full"
    );
    // The step's events keep the reason on the prompt.
    h.deliver_events().await;
    assert!(text_of(&h.only_prompt().blocks).contains("disk is full"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_required_reason_must_be_given() {
    let (h, _, prompt) = with_waiting_prompt(Options {
        reject_reason: Some("required"),
        ..Options::default()
    })
    .await;
    h.click(CHANNEL, &prompt.ts, &alice(), REJECT_ACTION_ID)
        .await;
    let view = h.slack.open_views().remove(0);
    let submit = h
        .slack
        .submit_view(
            &view.id,
            &alice(),
            &[(REASON_BLOCK_ID, REASON_INPUT_ID, "   ")],
        )
        .unwrap();
    let (status, body) = h
        .invoke_interactions(&submit.to_apigw_v2_event(false))
        .await;
    match h.slack.view_answer(&view.id, status, &body).unwrap() {
        ViewAnswer::Errors(errors) => assert!(errors[REASON_BLOCK_ID].contains("reason")),
        other => panic!("{other:?}"),
    }
    assert_eq!(h.signals_sent(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_late_or_no_longer_authorized_reasons_do_nothing() {
    let (h, id, prompt) = with_waiting_prompt(Options {
        reject_reason: None,
        env: vec![("SLACK_GROUP_CACHE_SECONDS", "0")],
        ..Options::default()
    })
    .await;
    let reason = [(REASON_BLOCK_ID, REASON_INPUT_ID, "no")];

    // Bob (an approver through S0OPS) opens the form, then leaves the group.
    h.click(CHANNEL, &prompt.ts, &bob(), REJECT_ACTION_ID).await;
    let bobs = h.slack.open_views().remove(0);
    h.slack.add_usergroup("S0OPS", &["U0CAROL"]);
    let submitted = h.slack.submit_view(&bobs.id, &bob(), &reason).unwrap();
    let (status, body) = h
        .invoke_interactions(&submitted.to_apigw_v2_event(false))
        .await;
    match h.slack.view_answer(&bobs.id, status, &body).unwrap() {
        ViewAnswer::Updated(v) => assert!(v.to_string().contains("only <@U0ALICE>"), "{v}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        h.signals_sent(),
        0,
        "authorized again when the form is submitted"
    );

    // Forged: signed with another secret.
    h.click(CHANNEL, &prompt.ts, &alice(), REJECT_ACTION_ID)
        .await;
    let alices = h
        .slack
        .open_views()
        .into_iter()
        .find(|v| v.user_id == "U0ALICE")
        .unwrap();
    let mut forged = h.slack.submit_view(&alices.id, &alice(), &reason).unwrap();
    forged.signature = stand_ins::slack::sign_slack_request(
        b"not-the-signing-secret",
        forged.timestamp,
        forged.body.as_bytes(),
    );
    let (status, _) = h
        .invoke_interactions(&forged.to_apigw_v2_event(false))
        .await;
    assert_eq!(status, 401);
    assert_eq!(h.signals_sent(), 0);
    // Slack shows the person an error in the form, which stays open.
    assert!(
        h.slack
            .view_answer(&alices.id, status, "unauthorized")
            .is_err()
    );

    // Approved elsewhere while Alice was typing: her rejection is not sent.
    h.click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    assert_eq!(h.signals_sent(), 1);
    let late = h.slack.submit_view(&alices.id, &alice(), &reason).unwrap();
    let (status, body) = h.invoke_interactions(&late.to_apigw_v2_event(false)).await;
    match h.slack.view_answer(&alices.id, status, &body).unwrap() {
        ViewAnswer::Updated(v) => {
            assert!(v.to_string().contains("no longer waiting"), "{v}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.signals_sent(), 1);
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Success")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_trigger_opens_no_form_and_sends_nothing() {
    let (h, _, prompt) = with_waiting_prompt(Options {
        reject_reason: None,
        ..Options::default()
    })
    .await;
    let click = h
        .slack
        .click(&prompt.channel, &prompt.ts, &alice(), REJECT_ACTION_ID)
        .unwrap();
    h.slack.age_trigger_ids(std::time::Duration::from_secs(4));
    h.invoke_interactions(&click.to_apigw_v2_event(false)).await;
    assert!(h.slack.open_views().is_empty());
    assert_eq!(h.signals_sent(), 0);
    let told = last_ephemeral(&h, "U0ALICE");
    assert!(
        told.contains("expired_trigger_id") && told.contains("Reject again"),
        "{told}"
    );
}

fn list_of(h: &Harness, body: &str, person: &Person) -> (String, Value) {
    let answer: Value = serde_json::from_str(body).expect("the list is JSON");
    assert_eq!(answer["response_type"], "ephemeral");
    let id = h
        .slack
        .show_ephemeral_answer(person, "C0OPS", &answer)
        .expect("the list is valid Block Kit");
    (id, answer)
}

#[tokio::test(flavor = "multi_thread")]
async fn approvals_says_how_many_wait_in_all_when_it_shows_a_page() {
    let h = Harness::start().await;
    for _ in 0..13 {
        h.start_runbook(1);
    }
    h.deliver_events().await;
    let command = h.slack.slash_command(&alice(), "C0OPS", "/approvals", "");
    let (_, body) = h
        .invoke_interactions(&command.to_apigw_v2_event(false))
        .await;
    let (list_id, answer) = list_of(&h, &body, &alice());
    let first = answer["blocks"].to_string();
    assert!(first.contains("10 of 13"), "{first}");
    assert_eq!(answer["text"], "13 runbooks waiting for your decision");
    let more = h
        .slack
        .click_ephemeral(&list_id, &alice(), "ssm_list_more", LIST_MORE_ACTION_ID)
        .unwrap();
    h.invoke_interactions(&more.to_apigw_v2_event(false)).await;
    let second = h.slack.ephemeral_message(&list_id).unwrap();
    let second = serde_json::to_string(&second.blocks).unwrap();
    assert!(second.contains("11–13 of 13"), "{second}");
    // Someone who may decide none of them is told so, with no count.
    let refused = h.slack.slash_command(&mallory(), "C0OPS", "/approvals", "");
    let (_, body) = h
        .invoke_interactions(&refused.to_apigw_v2_event(false))
        .await;
    assert!(body.contains("Nothing waits for your decision"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn approvals_lists_what_waits_with_buttons_that_decide() {
    let h = Harness::with(Options {
        env: vec![("SLACK_RESUME_PREFIXES", "Pause-")],
        ..Options::default()
    })
    .await;
    let mut ids = vec![];
    for _ in 0..12 {
        ids.push(h.start_runbook(1));
    }
    let mut paused = runbook(1);
    paused.document_name = "Pause-Me".into();
    paused.steps = vec![
        StepSpec::pause("waitForGo"),
        StepSpec::run("go", "aws:sleep"),
    ];
    let pause_id = h.ssm.start_automation(paused);
    let done = h.start_runbook(1);
    h.ssm.cancel(&done);
    h.deliver_events().await;
    let ssm_calls = h.ssm.calls().len();

    // Someone who may not decide is listed nothing.
    let refused = h.slack.slash_command(&mallory(), "C0OPS", "/approvals", "");
    let (status, body) = h
        .invoke_interactions(&refused.to_apigw_v2_event(false))
        .await;
    assert_eq!(status, 200);
    assert!(
        body.contains("Nothing waits for your decision") && !body.contains("ssm_approve"),
        "{body}"
    );

    let command = h.slack.slash_command(&alice(), "C0OPS", "/approvals", "");
    let (status, body) = h
        .invoke_interactions(&command.to_apigw_v2_event(false))
        .await;
    assert_eq!(status, 200);
    let (list_id, answer) = list_of(&h, &body, &alice());
    let first = answer["blocks"].to_string();
    let listed = |text: &str| {
        ids.iter()
            .chain([&pause_id])
            .filter(|id| text.contains(id.as_str()))
            .count()
    };
    assert_eq!(listed(&first), 10, "a page of ten: {first}");
    assert!(!first.contains(&done), "a cancelled runbook is not listed");
    assert!(
        first.contains(LIST_MORE_ACTION_ID),
        "a More button: {first}"
    );
    assert_eq!(h.ssm.calls().len(), ssm_calls, "the list asks SSM nothing");
    // The next page holds the other three, the list of what waits is whole.
    let more = h
        .slack
        .click_ephemeral(&list_id, &alice(), "ssm_list_more", LIST_MORE_ACTION_ID)
        .unwrap();
    h.invoke_interactions(&more.to_apigw_v2_event(false)).await;
    let second = h.slack.ephemeral_message(&list_id).unwrap();
    let second = serde_json::to_string(&second.blocks).unwrap();
    assert_eq!(listed(&second), 3, "{second}");
    assert!(!second.contains(LIST_MORE_ACTION_ID));
    // The pause is listed with Resume.
    let both = format!("{first}{second}");
    assert!(both.contains(&format!("ssm_list/{pause_id}")) && both.contains(RESUME_ACTION_ID));
    let (list_id, answer) = {
        let command = h.slack.slash_command(&alice(), "C0OPS", "/approvals", "");
        let (_, body) = h
            .invoke_interactions(&command.to_apigw_v2_event(false))
            .await;
        list_of(&h, &body, &alice())
    };

    // A click in the list decides exactly that step; the list is not replaced.
    let listed_first = answer["blocks"].to_string();
    let newest_approval = ids
        .iter()
        .rev()
        .find(|id| listed_first.contains(id.as_str()))
        .unwrap();
    let block = answer["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| {
            b["type"] == "actions"
                && b["block_id"]
                    .as_str()
                    .unwrap()
                    .contains(newest_approval.as_str())
        })
        .expect("the newest approval is listed")["block_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let click = h
        .slack
        .click_ephemeral(&list_id, &alice(), &block, APPROVE_ACTION_ID)
        .unwrap();
    h.invoke_interactions(&click.to_apigw_v2_event(false)).await;
    let signals = h.ssm.signals();
    assert_eq!(signals.len(), 1);
    assert_eq!(signals[0].execution_id, *newest_approval);
    assert_eq!(
        h.ssm
            .step_status(newest_approval, "approveRollout")
            .as_deref(),
        Some("Success")
    );
    assert!(last_ephemeral(&h, "U0ALICE").contains("Approved by you"));
    assert!(
        h.slack.ephemeral_message(&list_id).is_some(),
        "the list stays"
    );
    // The decision is on the step's item, for the channel's prompt to show.
    assert_eq!(
        h.step_items(newest_approval)[0]["decisions"]["L"][0]["M"]["user_id"]["S"],
        "U0ALICE"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_waiting_is_said_plainly() {
    let h = Harness::start().await;
    let command = h.slack.slash_command(&alice(), "C0OPS", "/approvals", "");
    let (status, body) = h
        .invoke_interactions(&command.to_apigw_v2_event(false))
        .await;
    assert_eq!(status, 200);
    assert!(body.contains("Nothing waits for your decision"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_runbook_is_resumed_from_slack() {
    let h = Harness::with(Options {
        env: vec![("SLACK_RESUME_PREFIXES", "Deploy-")],
        ..Options::default()
    })
    .await;
    // A pause has no approver list: only runbooks chosen for it are resumed from Slack.
    let mut unchosen = runbook(1);
    unchosen.document_name = "Cleanup".into();
    unchosen.steps.insert(1, StepSpec::pause("waitForGo"));
    let cleanup = h.ssm.start_automation(unchosen);
    h.deliver_events().await;
    assert!(
        h.slack.messages().is_empty(),
        "no Resume prompt for Cleanup"
    );
    h.ssm.cancel(&cleanup);
    h.deliver_events().await;

    let mut spec = runbook(1);
    spec.steps.insert(1, StepSpec::pause("waitForGo"));
    let id = h.ssm.start_automation(spec);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    let shown = text_of(&prompt.blocks);
    assert!(
        shown.contains("Paused") && shown.contains(RESUME_ACTION_ID),
        "{shown}"
    );
    assert!(!shown.contains(APPROVE_ACTION_ID));

    h.click(CHANNEL, &prompt.ts, &mallory(), RESUME_ACTION_ID)
        .await;
    assert_eq!(h.signals_sent(), 0, "the same authorization as approvals");

    h.click(CHANNEL, &prompt.ts, &alice(), RESUME_ACTION_ID)
        .await;
    let signals = h.ssm.signals();
    assert_eq!(signals.len(), 1);
    assert_eq!(signals[0].signal_type, "Resume");
    assert_eq!(signals[0].payload["StepName"][0], "waitForGo");
    assert_eq!(
        h.ssm.step_status(&id, "waitForGo").as_deref(),
        Some("Success")
    );
    let resumed = h.only_prompt();
    assert!(
        text_of(&resumed.blocks).contains("*Resumed* by <@U0ALICE>"),
        "{}",
        text_of(&resumed.blocks)
    );
    // The runbook goes on to its approval: a prompt of its own.
    h.deliver_events().await;
    let messages = h.slack.messages();
    assert_eq!(messages.len(), 2, "{messages:#?}");
    let approval = messages.iter().find(|m| m.ts != prompt.ts).unwrap();
    assert!(text_of(&approval.blocks).contains(APPROVE_ACTION_ID));
    // A resume click on the approval prompt's step is refused as the wrong kind.
    assert!(
        h.slack
            .click(CHANNEL, &approval.ts, &alice(), RESUME_ACTION_ID)
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn prompts_go_to_the_channel_of_the_longest_matching_route() {
    let h = Harness::with(Options {
        env: vec![(
            "SLACK_ROUTES",
            "Deploy-=C0DEPLOY,Deploy-Payments=C0PAYMENTS",
        )],
        ..Options::default()
    })
    .await;
    h.start_runbook(1); // Deploy-Payments
    let mut other = runbook(1);
    other.document_name = "Deploy-Web".into();
    h.ssm.start_automation(other);
    let mut unrouted = runbook(1);
    unrouted.document_name = "Cleanup".into();
    h.ssm.start_automation(unrouted);
    h.deliver_events().await;
    let mut channels: Vec<String> = h.slack.messages().into_iter().map(|m| m.channel).collect();
    channels.sort();
    assert_eq!(channels, ["C0APPROVALS", "C0DEPLOY", "C0PAYMENTS"]);
    // Clicks and updates follow each prompt where it is.
    let payments = h
        .slack
        .messages()
        .into_iter()
        .find(|m| m.channel == "C0PAYMENTS")
        .unwrap();
    h.click("C0PAYMENTS", &payments.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    h.deliver_events().await;
    let after = h.slack.message("C0PAYMENTS", &payments.ts).unwrap();
    assert!(text_of(&after.blocks).contains("*Approved* by <@U0ALICE>"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reject_without_a_trigger_never_skips_the_reason_form() {
    let (h, _, prompt) = with_waiting_prompt(Options {
        reject_reason: None,
        ..Options::default()
    })
    .await;
    let click = h
        .slack
        .click(&prompt.channel, &prompt.ts, &alice(), REJECT_ACTION_ID)
        .unwrap();
    let mut event = click.to_apigw_v2_event(false);
    stand_ins::slack::edit_payload(&mut event, |p| {
        p.as_object_mut().unwrap().remove("trigger_id");
    })
    .unwrap();
    stand_ins::slack::resign_event(&mut event, SIGNING_SECRET, click.timestamp).unwrap();
    let (status, _) = h.invoke_interactions(&event).await;
    assert_eq!(status, 200);
    assert_eq!(h.signals_sent(), 0, "no rejection without its form");
    assert!(h.slack.open_views().is_empty());
    assert!(last_ephemeral(&h, "U0ALICE").contains("Click Reject again"));
}
