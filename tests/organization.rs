//! One deployment for a whole organization: runbooks waiting in two member accounts ×
//! two Regions, their prompts routed by the rules document, each click signalled in
//! the step's own account and Region through that account's spoke role, and
//! `/approvals` answered from the index of what waits across all four.

mod support;

use serde_json::{Value, json};
use stand_ins::slack::Person;
use support::*;

/// The hub's own account (the stand-ins' home account) and the two member accounts.
const HUB: &str = stand_ins::ssm::ACCOUNT;
const PAYMENTS: &str = "111111111111";
const STAGING: &str = "222222222222";
const WEST: &str = "eu-west-1";
const SPOKE_ROLE: &str = "ssm-slack-approvals-hub";
const SPOKE_APPROVER_ROLE: &str = "ssm-slack-approvals-approver";
const RULES_PARAMETER: &str = "/ssm-slack-approvals/rules";

fn rules() -> String {
    json!({"rules": [
        {"name": "payments", "accounts": [PAYMENTS], "channel": "C0PAYMENTS", "approvers": ["U0ALICE"]},
        {"name": "staging in Europe", "accounts": [STAGING], "regions": [WEST],
         "channel": "C0STAGING", "approvers": ["U0BOB"]}
    ]})
    .to_string()
}

/// The sample runbook as a member account's author writes it: its approval lists that
/// account's spoke role (whose sessions the hub signals with).
fn member_runbook(account: &str) -> stand_ins::ssm::RunbookSpec {
    let mut spec = runbook(1).in_account(account);
    spec.steps[1] = stand_ins::ssm::StepSpec::approve(
        "approveRollout",
        "Roll payments 2026.11.21-1 out to production?",
        1,
        &[&spoke_role(account)],
    );
    spec
}

fn spoke_role(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/{SPOKE_ROLE}")
}

fn organization(extra: Vec<(&'static str, &'static str)>) -> Options {
    let mut env = vec![
        ("HUB_ACCOUNT_ID", HUB),
        ("SPOKE_ROLE_NAME", SPOKE_ROLE),
        ("SLACK_RULES_PARAMETER", RULES_PARAMETER),
        (
            "ACCOUNT_NAMES",
            "111111111111=payments-prod,222222222222=staging",
        ),
    ];
    env.extend(extra);
    Options {
        env,
        parameters: vec![(RULES_PARAMETER, rules())],
        ..Options::default()
    }
}

/// The hub with both member accounts' spoke roles in place (trusting the functions' role).
async fn hub(extra: Vec<(&'static str, &'static str)>) -> Harness {
    let h = Harness::with(organization(extra)).await;
    for account in [PAYMENTS, STAGING] {
        h.sts.add_role(&spoke_role(account), &[FUNCTION_KEY], false);
    }
    h
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

fn assumed(h: &Harness, role: &str) -> usize {
    h.sts
        .assume_role_calls()
        .iter()
        .filter(|c| c.role_arn == role && c.accepted)
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_prompt_goes_where_its_rule_says_and_each_click_signals_where_the_step_runs() {
    let h = hub(vec![]).await;
    let places = [
        (PAYMENTS, REGION),
        (PAYMENTS, WEST),
        (STAGING, REGION),
        (STAGING, WEST),
    ];
    let ids: Vec<String> = places
        .iter()
        .map(|(account, region)| {
            h.ssm
                .start_automation_in(account, region, member_runbook(account))
        })
        .collect();
    h.deliver_events().await;

    // Routed by rule: payments anywhere, staging only in Europe; the rest falls back.
    let channels: Vec<String> = ids.iter().map(|id| prompt_of(&h, id).0).collect();
    assert_eq!(
        channels,
        ["C0PAYMENTS", "C0PAYMENTS", CHANNEL, "C0STAGING"],
        "prompts routed by the rules"
    );
    // Each prompt says where the step runs and who may decide it.
    let (channel, ts) = prompt_of(&h, &ids[1]);
    let prompt = h.slack.message(&channel, &ts).unwrap();
    let text = text_of(&prompt.blocks);
    assert!(
        text.contains("payments-prod (`111111111111`) · `eu-west-1`"),
        "{text}"
    );
    assert!(text.contains("*Who may decide*\\n<@U0ALICE>"), "{text}");
    assert!(
        text.contains("https://eu-west-1.console.aws.amazon.com/"),
        "{text}"
    );
    let (channel, ts) = prompt_of(&h, &ids[2]);
    let fallback = text_of(&h.slack.message(&channel, &ts).unwrap().blocks);
    assert!(
        fallback.contains("<@U0ALICE> or members of <!subteam^S0OPS>"),
        "the fallback's approvers: {fallback}"
    );
    // One session per account, whatever the number of Regions and executions.
    assert_eq!(assumed(&h, &spoke_role(PAYMENTS)), 1);
    assert_eq!(assumed(&h, &spoke_role(STAGING)), 1);

    // Bob may not decide payments: refused before any AWS call.
    let (channel, ts) = prompt_of(&h, &ids[0]);
    let before = h.aws_calls();
    h.click(&channel, &ts, &bob(), "ssm_approve").await;
    assert_eq!(h.aws_calls(), before, "a refusal costs no AWS call");
    assert!(last_ephemeral(&h, "U0BOB").contains("only <@U0ALICE>"));

    // Each decision is signalled in its own account and Region, by that account's
    // spoke role.
    for (n, person) in [(0, alice()), (1, alice()), (2, alice()), (3, bob())] {
        let (channel, ts) = prompt_of(&h, &ids[n]);
        let (status, _) = h.click(&channel, &ts, &person, "ssm_approve").await;
        assert_eq!(status, 200);
        assert_eq!(
            h.ssm.step_status(&ids[n], "approveRollout").as_deref(),
            Some("Success"),
            "{:?}",
            places[n]
        );
    }
    let signals = h.ssm.signals();
    assert_eq!(signals.len(), 4);
    for (signal, (account, region)) in signals.iter().zip(places) {
        assert!(signal.accepted);
        assert_eq!(
            (signal.account.as_str(), signal.region.as_str()),
            (account, region)
        );
        assert_eq!(
            signal.principal,
            format!("arn:aws:sts::{account}:assumed-role/{SPOKE_ROLE}/ssm-slack-approvals")
        );
    }
    // Sessions are kept: the interactions function assumed each account once too.
    assert_eq!(assumed(&h, &spoke_role(PAYMENTS)), 2);
    assert_eq!(assumed(&h, &spoke_role(STAGING)), 2);
    // The prompts were replaced with who decided, and nothing waits any more.
    h.deliver_events().await;
    assert!(h.slack.messages().iter().all(|m| !has_buttons(&m.blocks)));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_click_for_an_account_the_hub_cannot_assume_into_is_refused_naming_it() {
    let h = hub(vec![]).await;
    let id = h
        .ssm
        .start_automation_in(STAGING, WEST, member_runbook(STAGING));
    h.deliver_events().await;
    let (channel, ts) = prompt_of(&h, &id);
    // The spoke role stops trusting the hub (its stack was removed or changed).
    h.sts.add_role(&spoke_role(STAGING), &[], false);
    let (status, _) = h.click(&channel, &ts, &bob(), "ssm_approve").await;
    assert_eq!(status, 200);
    let told = last_ephemeral(&h, "U0BOB");
    assert!(
        told.contains("cannot act in AWS account `222222222222`"),
        "{told}"
    );
    assert_eq!(h.signals_sent(), 0, "never signalled anywhere else");
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Waiting")
    );
    // The claim was given up: once the role trusts the hub again, the click works.
    h.sts.add_role(&spoke_role(STAGING), &[FUNCTION_KEY], false);
    h.click(&channel, &ts, &bob(), "ssm_approve").await;
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Success")
    );

    // A button naming an account of no spoke at all (forged into a signed click).
    let other = h
        .ssm
        .start_automation_in(PAYMENTS, REGION, member_runbook(PAYMENTS));
    h.deliver_events().await;
    let (channel, ts) = prompt_of(&h, &other);
    let click = alice_approves_in(&h, &channel, &ts, PAYMENTS, "999999999999");
    h.invoke_interactions(&click).await;
    let told = last_ephemeral(&h, "U0ALICE");
    assert!(told.contains("`999999999999`"), "{told}");
    assert_eq!(h.signals_sent(), 1, "only the first decision was signalled");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_single_account_deployment_refuses_buttons_for_other_accounts_without_aws_calls() {
    let h = Harness::with(Options {
        env: vec![("HUB_ACCOUNT_ID", HUB)],
        ..Options::default()
    })
    .await;
    let id = h.start_runbook(1);
    h.deliver_events().await;
    let (channel, ts) = prompt_of(&h, &id);
    let click = alice_approves_in(&h, &channel, &ts, HUB, PAYMENTS);
    let before = h.aws_calls();
    h.invoke_interactions(&click).await;
    assert_eq!(h.aws_calls(), before);
    let told = last_ephemeral(&h, "U0ALICE");
    assert!(told.contains("`111111111111`"), "{told}");
    assert_eq!(h.signals_sent(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn per_person_sessions_are_taken_in_the_spoke_account() {
    let rules_with_bob = json!({"rules": [
        {"name": "payments", "accounts": [PAYMENTS], "channel": "C0PAYMENTS", "approvers": ["U0ALICE", "U0BOB"]}
    ]});
    let h = Harness::with(Options {
        parameters: vec![(RULES_PARAMETER, rules_with_bob.to_string())],
        ..organization(vec![("SPOKE_APPROVER_ROLE_NAME", SPOKE_APPROVER_ROLE)])
    })
    .await;
    h.sts
        .add_role(&spoke_role(PAYMENTS), &[FUNCTION_KEY], false);
    let approver_role = format!("arn:aws:iam::{PAYMENTS}:role/{SPOKE_APPROVER_ROLE}");
    h.sts.add_role(&approver_role, &[FUNCTION_KEY], true);
    let session =
        |user: &str| format!("arn:aws:sts::{PAYMENTS}:assumed-role/{SPOKE_APPROVER_ROLE}/{user}");
    // A quorum of two, in the payments account in Europe: each person counts.
    let mut spec = runbook(2);
    spec.steps[1] = stand_ins::ssm::StepSpec::approve(
        "approveRollout",
        "Fail the payments database over?",
        2,
        &[&session("U0ALICE"), &session("U0BOB")],
    );
    let id = h.ssm.start_automation_in(PAYMENTS, WEST, spec);
    h.deliver_events().await;
    let (channel, ts) = prompt_of(&h, &id);
    for person in [alice(), bob()] {
        h.click(&channel, &ts, &person, "ssm_approve").await;
    }
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Success")
    );
    let principals: Vec<String> = h
        .ssm
        .signals()
        .iter()
        .map(|s| s.principal.clone())
        .collect();
    assert_eq!(principals, [session("U0ALICE"), session("U0BOB")]);
    assert!(
        h.ssm
            .signals()
            .iter()
            .all(|s| s.account == PAYMENTS && s.region == WEST)
    );
    let calls = h.sts.assume_role_calls();
    let person_calls: Vec<_> = calls
        .iter()
        .filter(|c| c.role_arn == approver_role)
        .collect();
    assert_eq!(person_calls.len(), 2);
    assert!(
        person_calls
            .iter()
            .all(|c| c.source_identity.as_deref() == Some(c.session_name.as_str()))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn approvals_lists_what_waits_in_every_account_and_region_that_this_person_may_decide() {
    let h = hub(vec![]).await;
    let mut expected_alice = vec![];
    let mut expected_bob = vec![];
    for (account, region) in [
        (PAYMENTS, REGION),
        (PAYMENTS, WEST),
        (STAGING, REGION),
        (STAGING, WEST),
    ] {
        let id = h
            .ssm
            .start_automation_in(account, region, member_runbook(account));
        // Alice decides payments (her rule) and staging outside Europe (the fallback,
        // U0ALICE,S0OPS); Bob decides staging in Europe (his rule).
        if account == PAYMENTS || region == REGION {
            expected_alice.push(id);
        } else {
            expected_bob.push(id);
        }
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    h.deliver_events().await;
    let before_ssm = h.ssm.calls().len();
    let list = |person: Person| {
        let h = &h;
        async move {
            let command = h.slack.slash_command(&person, "C0OPS", "/approvals", "");
            let (status, body) = h
                .invoke_interactions(&command.to_apigw_v2_event(false))
                .await;
            assert_eq!(status, 200);
            let answer: Value = serde_json::from_str(&body).unwrap();
            h.slack
                .show_ephemeral_answer(&person, "C0OPS", &answer)
                .expect("valid Block Kit");
            answer["blocks"].to_string()
        }
    };
    let for_alice = list(alice()).await;
    assert_eq!(h.ssm.calls().len(), before_ssm, "the list asks SSM nothing");
    for id in &expected_alice {
        assert!(
            for_alice.contains(id.as_str()),
            "{id} missing for alice: {for_alice}"
        );
    }
    for id in &expected_bob {
        assert!(
            !for_alice.contains(id.as_str()),
            "{id} is not alice's: {for_alice}"
        );
    }
    // Newest first.
    let positions: Vec<usize> = expected_alice
        .iter()
        .map(|id| for_alice.find(id.as_str()).unwrap())
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] > w[1]),
        "newest first: {positions:?}"
    );
    assert!(for_alice.contains("payments-prod"), "{for_alice}");
    assert!(for_alice.contains("eu-west-1"), "{for_alice}");
    let for_bob = list(bob()).await;
    assert!(
        for_bob.contains(expected_bob[0].as_str()) && !for_bob.contains(expected_alice[0].as_str())
    );
    // Mallory decides nothing anywhere.
    assert!(
        list(mallory())
            .await
            .contains("Nothing waits for your decision")
    );

    // A click from the list is checked with SSM, then signalled where the step runs.
    let list_id = {
        let command = h.slack.slash_command(&bob(), "C0OPS", "/approvals", "");
        let (_, body) = h
            .invoke_interactions(&command.to_apigw_v2_event(false))
            .await;
        let answer: Value = serde_json::from_str(&body).unwrap();
        h.slack
            .show_ephemeral_answer(&bob(), "C0OPS", &answer)
            .unwrap()
    };
    let item = &h.step_items(&expected_bob[0])[0];
    let block_id = format!(
        "ssm_list/{}/{}",
        expected_bob[0],
        item["step_key"]["S"].as_str().unwrap()
    );
    let click = h
        .slack
        .click_ephemeral(&list_id, &bob(), &block_id, "ssm_approve")
        .unwrap();
    h.invoke_interactions(&click.to_apigw_v2_event(false)).await;
    let signal = h.ssm.signals().pop().unwrap();
    assert_eq!(
        (signal.account.as_str(), signal.region.as_str()),
        (STAGING, WEST)
    );
    // Once its step ended, it leaves the index.
    h.deliver_events().await;
    assert!(!list(bob()).await.contains(expected_bob[0].as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_list_pages_with_more_and_a_rules_edit_takes_effect_without_a_deploy() {
    let h = hub(vec![("SLACK_RULES_REFRESH_SECONDS", "0")]).await;
    let ids: Vec<String> = (0..13)
        .map(|_| {
            h.ssm
                .start_automation_in(PAYMENTS, WEST, member_runbook(PAYMENTS))
        })
        .collect();
    h.deliver_events().await;
    let command = h.slack.slash_command(&alice(), "C0OPS", "/approvals", "");
    let (_, body) = h
        .invoke_interactions(&command.to_apigw_v2_event(false))
        .await;
    let answer: Value = serde_json::from_str(&body).unwrap();
    let list_id = h
        .slack
        .show_ephemeral_answer(&alice(), "C0OPS", &answer)
        .unwrap();
    let first = answer["blocks"].to_string();
    let listed_first = ids.iter().filter(|id| first.contains(id.as_str())).count();
    assert_eq!(listed_first, 10, "{first}");
    let more = h
        .slack
        .click_ephemeral(&list_id, &alice(), "ssm_list_more", "ssm_list_more")
        .unwrap();
    h.invoke_interactions(&more.to_apigw_v2_event(false)).await;
    let second = text_of(&h.slack.ephemeral_message(&list_id).unwrap().blocks);
    let listed_second = ids.iter().filter(|id| second.contains(id.as_str())).count();
    assert_eq!(listed_second, 3, "{second}");
    assert!(
        ids.iter()
            .all(|id| first.contains(id.as_str()) != second.contains(id.as_str()))
    );

    // The payments rule now names Bob instead: the next click follows it.
    h.ssm.put_string_parameter(
        RULES_PARAMETER,
        &json!({"rules": [{"name": "payments", "accounts": [PAYMENTS], "channel": "C0PAYMENTS", "approvers": ["U0BOB"]}]}).to_string(),
    );
    let (channel, ts) = prompt_of(&h, &ids[0]);
    h.click(&channel, &ts, &alice(), "ssm_approve").await;
    assert!(last_ephemeral(&h, "U0ALICE").contains("only <@U0BOB>"));
    // A bad edit keeps the last good rules.
    h.ssm
        .put_string_parameter(RULES_PARAMETER, r#"{"rules": [{"name": "oops"}]}"#);
    h.click(&channel, &ts, &bob(), "ssm_approve").await;
    assert_eq!(
        h.ssm.step_status(&ids[0], "approveRollout").as_deref(),
        Some("Success")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_rules_document_stops_the_function_naming_the_rule() {
    let options = Options {
        parameters: vec![(
            RULES_PARAMETER,
            json!({"rules": [{"name": "payments", "accounts": ["1111"], "channel": "C0A", "approvers": ["U0A"]}]}).to_string(),
        )],
        ..organization(vec![])
    };
    let error = Harness::try_with(options)
        .await
        .err()
        .expect("the start fails");
    assert!(error.contains("rule 1 (\"payments\")"), "{error}");
    assert!(
        error.contains("\"1111\" is not a 12-digit account ID"),
        "{error}"
    );
}

/// Alice's Approve click on the prompt at (`channel`, `ts`), its button forged to name
/// account `to` instead of `from`, and signed again as Slack would sign it.
fn alice_approves_in(h: &Harness, channel: &str, ts: &str, from: &str, to: &str) -> Value {
    h.forged_click(channel, ts, &alice(), "ssm_approve", |target| {
        *target = serde_json::from_str(&target.to_string().replace(from, to)).unwrap();
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_button_from_before_rules_named_runbooks_decides_nothing() {
    let by_runbook = json!({"rules": [{"name": "deploys", "runbooks": ["Deploy-"],
        "channel": "C0DEPLOYS", "approvers": ["U0BOB"]}]});
    let h = Harness::with(Options {
        parameters: vec![(RULES_PARAMETER, by_runbook.to_string())],
        ..organization(vec![])
    })
    .await;
    let id = h.start_runbook(1);
    h.deliver_events().await;
    let (channel, ts) = prompt_of(&h, &id);
    assert_eq!(channel, "C0DEPLOYS");
    // An older prompt's button names the step but not its runbook.
    let click = h.forged_click(&channel, &ts, &alice(), "ssm_approve", |target| {
        target.as_object_mut().unwrap().remove("runbook");
    });
    let before = h.aws_calls();
    h.invoke_interactions(&click).await;
    assert_eq!(h.aws_calls(), before, "refused before any AWS call");
    assert!(last_ephemeral(&h, "U0ALICE").contains("before rules named runbooks"));
    assert_eq!(h.signals_sent(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sweep_that_cannot_read_an_account_names_it_and_is_not_complete() {
    let h = hub(vec![]).await;
    let id = h
        .ssm
        .start_automation_in(STAGING, WEST, member_runbook(STAGING));
    let other = h
        .ssm
        .start_automation_in(PAYMENTS, REGION, member_runbook(PAYMENTS));
    h.deliver_events().await;
    assert_eq!(h.sweep().await.unreachable, Vec::<String>::new());
    // Staging's spoke role stops trusting the hub (its stack was removed or changed).
    // A session kept from before still works until it expires, as in AWS: the next
    // execution environment of the function, with none kept, cannot read there.
    h.sts.add_role(&spoke_role(STAGING), &[], false);
    let fresh = h.another_events_environment().await;
    let sweep_in = |app| async move {
        let input = serde_json::json!({"sweep": "waiting-steps"});
        match approvals::handlers::events::handle_automation_event(
            app,
            &input,
            &approvals::deadline::Deadline::for_event(None),
        )
        .await
        {
            Ok(approvals::handlers::events::EventOutcome::Swept(report)) => report,
            other => panic!("the sweep did not run: {other:?}"),
        }
    };
    let report = sweep_in(&fresh).await;
    // Where its step waits (and every other Region the sweep lists there).
    assert!(
        report
            .unreachable
            .contains(&format!("account {STAGING}, {WEST}")),
        "{report:?}"
    );
    assert!(
        report
            .unreachable
            .iter()
            .all(|place| place.starts_with(&format!("account {STAGING}, "))),
        "{report:?}"
    );
    assert!(!report.complete, "{report:?}");
    // What it could read, it read: payments' step still waits, and is counted.
    assert!(report.steps >= 1, "{report:?}");
    assert_eq!(
        h.ssm.step_status(&other, "approveRollout").as_deref(),
        Some("Waiting")
    );
    // Trusted again: the next sweep reads it and is complete.
    h.sts.add_role(&spoke_role(STAGING), &[FUNCTION_KEY], false);
    let report = sweep_in(&fresh).await;
    assert!(
        report.unreachable.is_empty() && report.complete,
        "{report:?}"
    );
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Waiting")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sweep_names_an_account_it_lists_but_cannot_assume_into() {
    // Staging is named in ACCOUNT_NAMES, so the sweep lists what waits there, but no
    // spoke role there trusts the hub (no spoke stack in that account).
    let h = hub(vec![("ACCOUNT_NAMES", "222222222222=staging")]).await;
    h.sts.add_role(&spoke_role(STAGING), &[], false);
    let report = h.sweep().await;
    assert!(
        report
            .unreachable
            .iter()
            .any(|place| place.starts_with(&format!("account {STAGING}, "))),
        "{report:?}"
    );
    assert!(!report.complete, "{report:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rules_document_names_accounts_beyond_what_account_names_holds() {
    // The document names staging (over ACCOUNT_NAMES' name for it) and an account
    // ACCOUNT_NAMES does not hold: as many as the document holds, not 4 KB of variables.
    let mut document: Value = serde_json::from_str(&rules()).unwrap();
    document["account_names"] = json!({STAGING: "staging-eu", "333333333333": "sandbox"});
    let options = Options {
        parameters: vec![(RULES_PARAMETER, document.to_string())],
        ..organization(vec![])
    };
    let h = Harness::with(options).await;
    for account in [PAYMENTS, STAGING] {
        h.sts.add_role(&spoke_role(account), &[FUNCTION_KEY], false);
    }
    let id = h
        .ssm
        .start_automation_in(STAGING, WEST, member_runbook(STAGING));
    let paid = h
        .ssm
        .start_automation_in(PAYMENTS, WEST, member_runbook(PAYMENTS));
    h.deliver_events().await;
    let (channel, ts) = prompt_of(&h, &id);
    let text = text_of(&h.slack.message(&channel, &ts).unwrap().blocks);
    assert!(text.contains("staging-eu (`222222222222`)"), "{text}");
    // ACCOUNT_NAMES still names what the document does not.
    let (paid_channel, paid_ts) = prompt_of(&h, &paid);
    let text = text_of(&h.slack.message(&paid_channel, &paid_ts).unwrap().blocks);
    assert!(text.contains("payments-prod (`111111111111`)"), "{text}");
    // The decided prompt, drawn by the interactions function, says the same.
    h.click(&channel, &ts, &bob(), "ssm_approve").await;
    let text = text_of(&h.slack.message(&channel, &ts).unwrap().blocks);
    assert!(text.contains("staging-eu (`222222222222`)"), "{text}");
    // A bad name stops the function at start-up, naming the document's field.
    let mut bad: Value = serde_json::from_str(&rules()).unwrap();
    bad["account_names"] = json!({"12345": "short"});
    let options = Options {
        parameters: vec![(RULES_PARAMETER, bad.to_string())],
        ..organization(vec![])
    };
    let error = Harness::try_with(options).await.err().expect("refused");
    assert!(error.contains("\"account_names\""), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_step_in_an_account_the_hub_cannot_reach_is_shown_without_buttons_until_it_can() {
    let h = hub(vec![]).await;
    // No spoke stack in staging trusts the hub.
    h.sts.add_role(&spoke_role(STAGING), &[], false);
    let id = h
        .ssm
        .start_automation_in(STAGING, WEST, member_runbook(STAGING));
    let events = h.ssm.take_events();
    // Both events (the step's and the execution's) are handled, not failed into the
    // queue; they post one prompt between them.
    for event in events.iter().chain(&events) {
        h.deliver(event).await.expect("handled, not retried");
    }
    let in_staging = |h: &Harness| -> Vec<stand_ins::slack::StoredMessage> {
        h.slack
            .messages()
            .into_iter()
            .filter(|m| m.channel == "C0STAGING" && m.thread_ts.is_none())
            .collect()
    };
    let placeholder = in_staging(&h);
    assert_eq!(placeholder.len(), 1, "{placeholder:#?}");
    let text = text_of(&placeholder[0].blocks);
    for part in [
        "staging (`222222222222`)",
        "eu-west-1",
        "Deploy-Payments",
        "approveRollout",
        "cannot be made from Slack",
        "AccessDenied",
    ] {
        assert!(text.contains(part), "{part}: {text}");
    }
    assert!(!has_buttons(&placeholder[0].blocks));
    // Indexed: the sweep shows it, and says the account cannot be read.
    let report = h.sweep().await;
    assert!(
        report
            .unreachable
            .contains(&format!("account {STAGING}, {WEST}")),
        "{report:?}"
    );
    assert_eq!(report.reachable_again, 0);
    // The spoke stack is deployed: the next sweep posts the real prompt and points the
    // first one at it.
    h.sts.add_role(&spoke_role(STAGING), &[FUNCTION_KEY], false);
    let report = h.sweep().await;
    assert_eq!(report.reachable_again, 1, "{report:?}");
    assert!(report.unreachable.is_empty(), "{report:?}");
    let now = in_staging(&h);
    assert_eq!(now.len(), 2, "{now:#?}");
    let pointer = now.iter().find(|m| m.ts == placeholder[0].ts).unwrap();
    assert!(text_of(&pointer.blocks).contains("posted below"));
    let real = now.iter().find(|m| m.ts != placeholder[0].ts).unwrap();
    assert!(has_buttons(&real.blocks));
    // It decides as any prompt does; another sweep changes nothing more.
    h.click("C0STAGING", &real.ts, &bob(), "ssm_approve").await;
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Success")
    );
    let report = h.sweep().await;
    assert_eq!(report.reachable_again, 0);
    assert_eq!(in_staging(&h).len(), 2);
}
