//! What SSM does not document about an approval step's `Approvers`, answered both ways
//! by the SSM stand-in: whether a role ARN admits the role's sessions, and whether
//! sessions of one role count as separate approvers. docs/design.md says what a first
//! deployment checks in a real account.

mod support;

use approvals::domain::inbound::APPROVE_ACTION_ID;
use stand_ins::ssm::Undocumented;
use support::*;

fn answers(role_admits_sessions: bool, sessions_count_separately: bool) -> Undocumented {
    Undocumented {
        role_admits_sessions,
        sessions_count_separately,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runbook_listing_the_role_and_its_session_as_the_readme_says_is_approved_either_way() {
    for role_admits_sessions in [true, false] {
        let h = Harness::with(Options {
            ssm_answers: answers(role_admits_sessions, true),
            ..Options::default()
        })
        .await;
        let id = h.start_runbook(1);
        h.deliver_events().await;
        let prompt = h.only_prompt();
        h.click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
            .await;
        assert_eq!(
            h.ssm.step_status(&id, "approveRollout").as_deref(),
            Some("Success"),
            "role_admits_sessions: {role_admits_sessions}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runbook_listing_only_the_role_is_refused_by_ssm_where_it_admits_no_session_and_the_person_is_told()
 {
    let h = Harness::with(Options {
        ssm_answers: answers(false, true),
        ..Options::default()
    })
    .await;
    let mut spec = runbook(1);
    spec.steps[1] =
        stand_ins::ssm::StepSpec::approve("approveRollout", "Roll out?", 1, &[FUNCTION_ROLE]);
    let id = h.ssm.start_automation(spec);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    h.click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Waiting")
    );
    let told = last_ephemeral(&h, "U0ALICE");
    assert!(
        told.contains("SSM did not accept the decision") && told.contains("not an approver"),
        "{told}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn per_person_sessions_meet_a_quorum_of_two_only_where_ssm_counts_each_session() {
    for sessions_count_separately in [true, false] {
        let h = Harness::with(Options {
            approvers: Some("U0ALICE,U0BOB"),
            env: vec![("APPROVER_ROLE_ARN", APPROVER_ROLE)],
            ssm_answers: answers(true, sessions_count_separately),
            ..Options::default()
        })
        .await;
        let id = h
            .ssm
            .start_automation(quorum_runbook(2, &["U0ALICE", "U0BOB"]));
        h.deliver_events().await;
        let prompt = h.only_prompt();
        h.click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
            .await;
        h.click(CHANNEL, &prompt.ts, &bob(), APPROVE_ACTION_ID)
            .await;
        assert_eq!(h.signals_sent(), 2, "each person's own session signals");
        let status = h.ssm.step_status(&id, "approveRollout");
        let shown = text_of(&h.only_prompt().blocks);
        if sessions_count_separately {
            assert_eq!(status.as_deref(), Some("Success"));
            assert!(
                shown.contains("*Approved* by <@U0ALICE>, <@U0BOB>"),
                "{shown}"
            );
        } else {
            // SSM counted one approver: the step still waits, and the prompt never
            // claims otherwise (it keeps its buttons for an approver SSM will count).
            assert_eq!(status.as_deref(), Some("Waiting"));
            assert!(!shown.contains("*Approved*"), "{shown}");
            assert!(has_buttons(&h.only_prompt().blocks), "{shown}");
        }
    }
}
