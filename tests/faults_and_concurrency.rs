//! Faults and concurrency end to end: an expired `response_url`, many people clicking
//! one prompt at once from separate execution environments, and a burst of waiting
//! runbooks meeting Slack's rate limits.

mod support;

use approvals::deadline::Deadline;
use approvals::domain::inbound::APPROVE_ACTION_ID;
use approvals::handlers::events::handle_automation_event;
use approvals::handlers::interactions::handle_slack_request;
use stand_ins::slack::Person;
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_response_url_falls_back_to_chat_update() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    let click = h
        .slack
        .click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .unwrap();
    // Alice clicked, and the request reached us 31 minutes later (say, a retry).
    h.slack
        .age_response_urls(std::time::Duration::from_secs(31 * 60));
    let updates_before = h.slack.count_calls("chat.update");
    let (status, _) = h.invoke_interactions(&click.to_apigw_v2_event(false)).await;
    assert_eq!(status, 200);
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Success"));
    assert_eq!(h.slack.count_calls("chat.update"), updates_before + 1);
    let decided = h.only_prompt();
    assert!(!has_buttons(&decided.blocks));
    assert!(text_of(&decided.blocks).contains("*Approved* by <@U0ALICE>"));
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_people_clicking_at_once_make_one_decision() {
    let h = Harness::with(Options {
        approvers: Some("*"),
        ..Options::default()
    })
    .await;
    let id = h.start_runbook(1);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    let people: Vec<Person> = (0..20)
        .map(|n| Person::new(&format!("U0P{n:02}"), &format!("person{n}")))
        .collect();
    let mut environments = vec![];
    for person in &people {
        h.slack.add_person(person.clone());
        environments.push(h.another_interactions_environment().await);
    }
    // Every click is built from the prompt as it was shown: all of them had buttons.
    let clicks: Vec<_> = people
        .iter()
        .map(|p| {
            h.slack
                .click(CHANNEL, &prompt.ts, p, APPROVE_ACTION_ID)
                .unwrap()
        })
        .collect();
    // The claims are held until all twenty are in flight, or for a second at most:
    // each click has 2.6 s of its own, and a loaded machine may start some late.
    let race = h.force_race_within(
        "UpdateItem",
        people.len(),
        std::time::Duration::from_secs(1),
    );
    let answers = futures_util::future::join_all(environments.iter().zip(&clicks).map(
        |(app, click)| async move {
            let event = click.to_apigw_v2_event(false).to_string();
            let request = lambda_http::request::from_str(&event).unwrap();
            handle_slack_request(app, request).await.status().as_u16()
        },
    ))
    .await;
    assert!(answers.iter().all(|s| *s == 200), "{answers:?}");
    assert!(
        race.together() >= 2,
        "the clicks raced: {} claims were in flight at once",
        race.together()
    );
    let signals = h.ssm.signals();
    let accepted: Vec<_> = signals.iter().filter(|s| s.accepted).collect();
    assert_eq!(accepted.len(), 1, "exactly one decision: {signals:#?}");
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Success"));
    let comment = accepted[0].payload["Comment"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let winner = people
        .iter()
        .find(|p| comment.contains(&format!("({})", p.id)))
        .expect("the accepted decision names its person");
    // The 19 others are told plainly that nothing was done.
    for person in people.iter().filter(|p| p.id != winner.id) {
        let told: Vec<String> = h
            .slack
            .ephemeral()
            .into_iter()
            .filter(|e| e.user_id == person.id)
            .map(|e| e.text)
            .collect();
        assert!(
            told.iter().any(|t| t.contains("Nothing was done")),
            "{}: {told:?}",
            person.id
        );
    }
    // Once the step's events are in, the prompt names the one who decided.
    h.deliver_events().await;
    let final_prompt = h.only_prompt();
    assert!(!has_buttons(&final_prompt.blocks));
    let shown = text_of(&final_prompt.blocks);
    assert!(
        shown.contains(&format!("*Approved* by <@{}>", winner.id)),
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_a_hundred_waiting_runbooks_gets_a_hundred_prompts() {
    let h = Harness::start().await;
    let ids: Vec<String> = (0..100).map(|_| h.start_runbook(1)).collect();
    let events: Vec<serde_json::Value> = h.ssm.take_events();
    // Slack rate-limits some of the posts (HTTP 429, Retry-After: 1 s).
    for _ in 0..5 {
        h.slack.rate_limit_next("chat.postMessage", 1);
    }
    let environments = [
        h.another_events_environment().await,
        h.another_events_environment().await,
        h.another_events_environment().await,
        h.another_events_environment().await,
    ];
    // Delivered all at once over four environments; a failed delivery is delivered
    // again, as Lambda retries it.
    let mut pending: Vec<&serde_json::Value> = events.iter().collect();
    for _round in 0..5 {
        let results =
            futures_util::future::join_all(pending.iter().enumerate().map(|(n, event)| {
                let app = &environments[n % environments.len()];
                async move { handle_automation_event(app, event, &Deadline::for_event(None)).await }
            }))
            .await;
        pending = pending
            .into_iter()
            .zip(results)
            .filter_map(|(event, result)| result.is_err().then_some(event))
            .collect();
        if pending.is_empty() {
            break;
        }
    }
    assert!(
        pending.is_empty(),
        "{} deliveries never succeeded",
        pending.len()
    );
    let prompts = h.slack.messages();
    assert_eq!(
        prompts.len(),
        100,
        "one prompt per runbook, none lost or doubled"
    );
    for id in &ids {
        assert_eq!(h.step_items(id).len(), 1);
        assert!(
            h.step_items(id)[0]["ts"]["S"].is_string(),
            "{id}: prompt recorded"
        );
    }
}
