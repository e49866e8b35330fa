//! `SendAutomationSignal`: approvals, rejections and resumes, who may send them, what is recorded.

use serde_json::{Value, json};

use super::executions::{advance, not_found, set_execution, set_step, waiting_step};
use super::runbook::approvers;
use super::{Place, SsmStandIn, State, error, ok};
use crate::sts::{role_name, session_role};
use crate::{Outgoing, now_unix_f64};

/// A signal SSM accepted or refused, as recorded by the stand-in.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalRecord {
    pub execution_id: String,
    pub signal_type: String,
    pub payload: Value,
    pub access_key: String,
    /// Who signed: the ARN registered for the access key, or the key itself.
    pub principal: String,
    /// The account the signal was sent in: the signer's.
    pub account: String,
    /// The Region the signal was sent to: its signature's credential scope's.
    pub region: String,
    pub accepted: bool,
}

impl SsmStandIn {
    pub fn signals(&self) -> Vec<SignalRecord> {
        self.lock().signals.clone()
    }
}

pub(super) fn signal(
    state: &mut State,
    place: &Place,
    input: &Value,
    access_key: String,
) -> Outgoing {
    let id = input["AutomationExecutionId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let signal_type = input["SignalType"].as_str().unwrap_or_default().to_owned();
    let registered = state.principals.arn_of(&access_key);
    let mut record = SignalRecord {
        execution_id: id.clone(),
        signal_type: signal_type.clone(),
        payload: input.get("Payload").cloned().unwrap_or(Value::Null),
        principal: registered.clone().unwrap_or_else(|| access_key.clone()),
        access_key,
        account: place.account.clone(),
        region: place.region.clone(),
        accepted: false,
    };
    let signer = Signer {
        principal: &record.principal,
        registered: registered.is_some(),
    };
    let outcome = apply_signal(state, place, &id, &signal_type, &record.payload, signer);
    record.accepted = outcome.is_ok();
    state.signals.push(record);
    outcome.map_or_else(|refused| refused, |()| ok(json!({})))
}

/// Who sends a signal: a principal's ARN when `registered`, else an access key.
#[derive(Clone, Copy)]
struct Signer<'a> {
    principal: &'a str,
    registered: bool,
}

/// Acts on a signal, or says why SSM refuses it.
fn apply_signal(
    state: &mut State,
    place: &Place,
    id: &str,
    signal_type: &str,
    payload: &Value,
    signer: Signer,
) -> Result<(), Outgoing> {
    if id.len() != 36 {
        return Err(error(
            400,
            "ValidationException",
            "AutomationExecutionId must be 36 characters",
        ));
    }
    if state.execution_in(place, id).is_none() {
        return Err(not_found(id));
    }
    check_payload(payload)?;
    match signal_type {
        "Approve" | "Reject" => decide(state, id, signal_type, payload, signer),
        "Resume" => resume(state, id, payload),
        _ => Err(not_waiting_for(state, id, signal_type)),
    }
}

/// SSM's limits on a signal's `Payload` (its API model): at most 200 keys, each a list
/// of at most 50 values of 1 to 512 characters. Past them nothing is signalled.
fn check_payload(payload: &Value) -> Result<(), Outgoing> {
    let refused = |why: String| Err(error(400, "ValidationException", &why));
    let Some(map) = payload.as_object() else {
        return Ok(());
    };
    if map.len() > 200 {
        return refused("Payload must have at most 200 keys".into());
    }
    for (key, values) in map {
        let values = values.as_array().map_or(&[][..], Vec::as_slice);
        if values.len() > 50 {
            return refused(format!("Payload {key} must have at most 50 values"));
        }
        for value in values {
            let length = value.as_str().map_or(0, |v| v.chars().count());
            if !(1..=512).contains(&length) {
                return refused(format!(
                    "1 validation error detected: Value at 'payload.{key}' failed to satisfy \
                     constraint: Member must have length between 1 and 512 (was {length})"
                ));
            }
        }
    }
    Ok(())
}

fn not_waiting_for(state: &State, id: &str, signal_type: &str) -> Outgoing {
    let status = &state.executions[id].status;
    invalid_signal(&format!(
        "Automation execution {id} is {status} and is not waiting for signal {signal_type}"
    ))
}

fn invalid_signal(message: &str) -> Outgoing {
    error(400, "InvalidAutomationSignalException", message)
}

/// The step of execution `id` that waits now, if it is of `action`.
fn waiting_step_of(state: &State, id: &str, action: &str) -> Option<usize> {
    waiting_step(state, id).filter(|i| state.executions[id].steps[*i].spec.action == action)
}

/// Approve or Reject: acts on the approval that waits, if the signer may decide it.
fn decide(
    state: &mut State,
    id: &str,
    signal_type: &str,
    payload: &Value,
    signer: Signer,
) -> Result<(), Outgoing> {
    let index = waiting_step_of(state, id, "aws:approve")
        .ok_or_else(|| not_waiting_for(state, id, signal_type))?;
    let answers = state.undocumented;
    let step = &mut state.executions.get_mut(id).expect("exists").steps[index];
    if signer.registered
        && !approvers(&step.spec.inputs)
            .iter()
            .any(|a| approves(a, signer.principal, answers.role_admits_sessions))
    {
        return Err(invalid_signal(&format!(
            "{} is not an approver of step {} of automation execution {id}",
            signer.principal, step.spec.name
        )));
    }
    let comment = payload["Comment"][0]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let decision = if signal_type == "Reject" {
        "Reject"
    } else {
        "Approve"
    };
    step.decisions.push((
        signer.principal.to_owned(),
        decision,
        now_unix_f64(),
        comment.clone(),
    ));
    if signal_type == "Reject" {
        let message = format!("Step was rejected by {}: {comment}", signer.principal);
        set_step(state, id, index, "Failed", Some(message));
        set_execution(state, id, "Failed");
        return Ok(());
    }
    // Approvals count once per AWS principal (per role, if its sessions are one).
    let counted = match session_role(signer.principal) {
        Some((account, role)) if !answers.sessions_count_separately => {
            format!("arn:aws:sts::{account}:assumed-role/{role}")
        }
        _ => signer.principal.to_owned(),
    };
    if !step.approvals.iter().any(|(p, _)| *p == counted) {
        step.approvals.push((counted, comment));
    }
    let needed = step
        .spec
        .inputs
        .get("MinRequiredApprovals")
        .and_then(|n| n.trim_matches('"').parse().ok())
        .unwrap_or(1usize);
    if step.approvals.len() >= needed {
        set_step(state, id, index, "Success", None);
        set_execution(state, id, "InProgress");
        advance(state, id);
    }
    Ok(())
}

/// Resume: the pause step named in the payload's `StepName` ends, if it is the one
/// waiting, and the runbook goes on.
fn resume(state: &mut State, id: &str, payload: &Value) -> Result<(), Outgoing> {
    let Some(step_name) = payload["StepName"][0].as_str().filter(|n| !n.is_empty()) else {
        return Err(invalid_signal(
            "The Payload of a Resume signal must name the step to resume (StepName)",
        ));
    };
    let index = waiting_step_of(state, id, "aws:pause")
        .filter(|i| state.executions[id].steps[*i].spec.name == step_name)
        .ok_or_else(|| {
            let status = &state.executions[id].status;
            invalid_signal(&format!(
                "Automation execution {id} is {status} and step {step_name} is not paused"
            ))
        })?;
    set_step(state, id, index, "Success", None);
    set_execution(state, id, "InProgress");
    advance(state, id);
    Ok(())
}

/// Whether `approver`, as a step's `Approvers` lists it, is the principal `arn`: the
/// same ARN, the IAM role `arn` is a session of, or the name of the IAM user `arn` is.
fn approves(approver: &str, arn: &str, role_admits_sessions: bool) -> bool {
    approver == arn
        || role_admits_sessions
            && session_role(arn).is_some_and(|session| role_name(approver) == Some(session))
        || iam_user_name(arn) == Some(approver)
}

/// The name of an IAM user ARN, `arn:aws:iam::<account>:user/<path/>name`.
fn iam_user_name(arn: &str) -> Option<&str> {
    let (_, resource) = arn.strip_prefix("arn:aws:iam::")?.split_once(':')?;
    resource.strip_prefix("user/")?.rsplit('/').next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssm::test_support::{
        MEMBER, MEMBER_KEY, call, call_in, runbook, ssm, ssm_with_member_session,
    };
    use crate::ssm::{ACCOUNT, EXECUTION_DETAIL_TYPE, RunbookSpec, STEP_DETAIL_TYPE, StepSpec};

    #[tokio::test]
    async fn a_comment_longer_than_512_characters_signals_nothing() {
        let ssm = ssm().await;
        let id = ssm.start_automation(RunbookSpec::sample("Go?", 1));
        let long = "é".repeat(513);
        let (status, body) = send_signal(
            &ssm,
            "AKIDLAMBDAROLE",
            &id,
            "Reject",
            json!({"Comment": [long]}),
        );
        assert_eq!(
            (status, body["__type"].as_str()),
            (400, Some("ValidationException"))
        );
        assert_eq!(ssm.execution_status(&id).as_deref(), Some("Waiting"));
        let (status, _) = send_signal(
            &ssm,
            "AKIDLAMBDAROLE",
            &id,
            "Reject",
            json!({"Comment": ["é".repeat(512)]}),
        );
        assert_eq!(status, 200);
        assert_eq!(ssm.execution_status(&id).as_deref(), Some("Failed"));
    }
    const APPROVER_ROLE: &str = "arn:aws:iam::123456789012:role/approvals-SlackInteractionsRole";

    fn send_signal(
        ssm: &SsmStandIn,
        access_key: &str,
        id: &str,
        signal_type: &str,
        payload: Value,
    ) -> (u16, Value) {
        let input =
            json!({"AutomationExecutionId": id, "SignalType": signal_type, "Payload": payload});
        call(ssm, access_key, "SendAutomationSignal", input)
    }

    fn approve(ssm: &SsmStandIn, access_key: &str, id: &str) -> (u16, Value) {
        send_signal(ssm, access_key, id, "Approve", json!({"Comment": ["ok"]}))
    }

    fn session(role: &str, name: &str) -> String {
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{name}")
    }

    #[tokio::test]
    async fn approvals_count_once_per_principal_whatever_key_it_signs_with() {
        let ssm = ssm().await;
        let alice = session("approvals-SlackInteractionsRole", "U0ALICE");
        ssm.principals()
            .register("ASIAALICEFIRST000001", &alice, Some("U0ALICE"));
        ssm.principals()
            .register("ASIAALICESECOND00001", &alice, None);
        let id = ssm.start_automation(RunbookSpec::sample("Ship it?", 2));
        assert_eq!(approve(&ssm, "ASIAALICEFIRST000001", &id).0, 200);
        assert_eq!(approve(&ssm, "ASIAALICESECOND00001", &id).0, 200);
        assert_eq!(ssm.execution_status(&id).as_deref(), Some("Waiting"));
        assert_eq!(approve(&ssm, "AKIAUNREGISTERED0001", &id).0, 200);
        assert_eq!(ssm.execution_status(&id).as_deref(), Some("Success"));
        let principals: Vec<String> = ssm.signals().into_iter().map(|s| s.principal).collect();
        assert_eq!(
            principals,
            [alice.clone(), alice, "AKIAUNREGISTERED0001".into()]
        );
        assert_eq!(ssm.signals()[1].access_key, "ASIAALICESECOND00001");
    }

    #[tokio::test]
    async fn registered_principals_decide_only_steps_that_name_them() {
        let ssm = ssm().await;
        let approvers = [
            "arn:aws:iam::123456789012:role/slack/SlackApprover",
            "arn:aws:sts::123456789012:assumed-role/Oncall/U0CAROL",
            "dave",
        ];
        let steps = vec![StepSpec::approve("approveChange", "Go?", 3, &approvers)];
        let id = ssm.start_automation(runbook("Change", steps));
        let principals = ssm.principals();
        let mallory = session("Deployer", "U0MALLORY");
        principals.register("ASIAMALLORY000000001", &mallory, None);
        principals.register("ASIAEVE0000000000001", &session("Oncall", "U0EVE"), None);
        principals.register("ASIACAROL00000000001", &session("Oncall", "U0CAROL"), None);
        principals.register(
            "ASIAALICE00000000001",
            &session("SlackApprover", "U0ALICE"),
            None,
        );
        principals.register(
            "AKIADAVE000000000001",
            "arn:aws:iam::123456789012:user/ops/dave",
            None,
        );

        let (status, refused) = approve(&ssm, "ASIAMALLORY000000001", &id);
        assert_eq!(status, 400);
        assert_eq!(refused["__type"], "InvalidAutomationSignalException");
        assert_eq!(
            refused["Message"],
            format!(
                "{mallory} is not an approver of step approveChange of automation execution {id}"
            )
        );
        let reject = send_signal(&ssm, "ASIAMALLORY000000001", &id, "Reject", json!({}));
        assert_eq!(reject.0, 400);
        assert_eq!(
            approve(&ssm, "ASIAEVE0000000000001", &id).0,
            400,
            "another session of the role"
        );
        assert_eq!(ssm.execution_status(&id).as_deref(), Some("Waiting"));
        assert_eq!(
            ssm.step_status(&id, "approveChange").as_deref(),
            Some("Waiting")
        );

        assert_eq!(
            approve(&ssm, "ASIACAROL00000000001", &id).0,
            200,
            "the session named"
        );
        assert_eq!(
            approve(&ssm, "ASIAALICE00000000001", &id).0,
            200,
            "a session of the role named"
        );
        assert_eq!(
            approve(&ssm, "AKIADAVE000000000001", &id).0,
            200,
            "the user named"
        );
        assert_eq!(ssm.execution_status(&id).as_deref(), Some("Success"));
        let accepted: Vec<bool> = ssm.signals().iter().map(|s| s.accepted).collect();
        assert_eq!(accepted, [false, false, false, true, true, true]);

        let unchecked = ssm.start_automation(RunbookSpec::sample("Ship it?", 1));
        assert_eq!(
            approve(&ssm, "AKIANOBODY0000000001", &unchecked).0,
            200,
            "unregistered keys are not checked"
        );
    }

    #[tokio::test]
    async fn a_pause_waits_for_a_resume_naming_it() {
        let ssm = ssm().await;
        let steps = vec![
            StepSpec::run("prepare", "aws:executeScript"),
            StepSpec::pause("holdForWindow"),
            StepSpec::approve("approveRollout", "Go?", 1, &[APPROVER_ROLE]),
            StepSpec::run("rollOut", "aws:executeScript"),
        ];
        let id = ssm.start_automation(runbook("Deploy-Web", steps));
        assert_eq!(ssm.execution_status(&id).as_deref(), Some("Waiting"));
        assert_eq!(
            ssm.step_status(&id, "holdForWindow").as_deref(),
            Some("Waiting")
        );
        let events = ssm.take_events();
        let waiting: Vec<(&str, Option<&str>)> = events
            .iter()
            .filter(|e| e["detail"]["Status"] == "Waiting")
            .map(|e| {
                (
                    e["detail-type"].as_str().unwrap(),
                    e["detail"]["StepName"].as_str(),
                )
            })
            .collect();
        assert_eq!(
            waiting,
            [
                (STEP_DETAIL_TYPE, Some("holdForWindow")),
                (EXECUTION_DETAIL_TYPE, None)
            ]
        );

        let refused = |reply: (u16, Value)| {
            assert_eq!(reply.0, 400, "{}", reply.1);
            assert_eq!(reply.1["__type"], "InvalidAutomationSignalException");
            reply.1["Message"].as_str().unwrap().to_owned()
        };
        let key = "AKIAOPERATOR00000001";
        refused(approve(&ssm, key, &id));
        assert!(refused(send_signal(&ssm, key, &id, "Resume", json!({}))).contains("StepName"));
        let other = json!({"StepName": ["approveRollout"]});
        refused(send_signal(&ssm, key, &id, "Resume", other.clone()));
        let (_, get) = call(
            &ssm,
            key,
            "GetAutomationExecution",
            json!({"AutomationExecutionId": id}),
        );
        assert_eq!(
            get["AutomationExecution"]["CurrentStepName"],
            "holdForWindow"
        );
        assert_eq!(get["AutomationExecution"]["CurrentAction"], "aws:pause");

        let resume = json!({"StepName": ["holdForWindow"]});
        assert_eq!(send_signal(&ssm, key, &id, "Resume", resume.clone()).0, 200);
        assert_eq!(
            ssm.step_status(&id, "holdForWindow").as_deref(),
            Some("Success")
        );
        assert_eq!(
            ssm.step_status(&id, "approveRollout").as_deref(),
            Some("Waiting")
        );
        refused(send_signal(&ssm, key, &id, "Resume", resume));
        refused(send_signal(&ssm, key, &id, "Resume", other));
        assert_eq!(approve(&ssm, key, &id).0, 200);
        assert_eq!(ssm.execution_status(&id).as_deref(), Some("Success"));
        let accepted: Vec<(String, bool)> = ssm
            .signals()
            .into_iter()
            .map(|s| (s.signal_type, s.accepted))
            .collect();
        assert_eq!(accepted.iter().filter(|(_, a)| *a).count(), 2);

        let paused = ssm.start_automation(runbook("Deploy-Web", vec![StepSpec::pause("hold")]));
        assert!(ssm.cancel(&paused));
        assert_eq!(
            ssm.step_status(&paused, "hold").as_deref(),
            Some("Cancelled")
        );
        assert_eq!(ssm.execution_status(&paused).as_deref(), Some("Cancelled"));
        assert!(!ssm.cancel(&paused), "no longer waiting");
    }

    #[tokio::test]
    async fn a_signal_acts_only_in_the_place_it_is_sent_and_records_it() {
        let ssm = ssm_with_member_session().await;
        let spec = RunbookSpec::sample("Ship it?", 1).in_account(MEMBER);
        let id = ssm.start_automation_in(MEMBER, "eu-west-1", spec);
        let approve_in = |region: &str, key: &str| {
            let input = json!({"AutomationExecutionId": id, "SignalType": "Approve"});
            call_in(&ssm, region, key, "SendAutomationSignal", input)
        };
        let (status, refused) = approve_in("us-east-1", MEMBER_KEY);
        assert_eq!(status, 400);
        assert_eq!(refused["__type"], "AutomationExecutionNotFoundException");
        let (status, refused) = approve_in("eu-west-1", "AKIAHOMEACCOUNT00001");
        assert_eq!(refused["__type"], "AutomationExecutionNotFoundException");
        assert_eq!(status, 400);
        assert_eq!(ssm.execution_status(&id).as_deref(), Some("Waiting"));

        let (status, reply) = approve_in("eu-west-1", MEMBER_KEY);
        assert_eq!(status, 200, "{reply}");
        assert_eq!(ssm.execution_status(&id).as_deref(), Some("Success"));
        let places: Vec<(String, String, bool)> = ssm
            .signals()
            .into_iter()
            .map(|s| (s.account, s.region, s.accepted))
            .collect();
        assert_eq!(
            places,
            [
                (MEMBER.into(), "us-east-1".into(), false),
                (ACCOUNT.into(), "eu-west-1".into(), false),
                (MEMBER.into(), "eu-west-1".into(), true),
            ]
        );
    }

    #[tokio::test]
    async fn an_approver_of_another_account_does_not_approve() {
        let ssm = ssm().await;
        // A session of a role of the same name, but in the member account, signing in
        // the home place: it is not the role the step names.
        let arn = format!("arn:aws:sts::{MEMBER}:assumed-role/approvals-SlackInteractionsRole/U0A");
        ssm.principals()
            .register("ASIAMEMBERAPPROVER01", &arn, None);
        let id = ssm.start_automation(RunbookSpec::sample("Ship it?", 1));
        let input = json!({"AutomationExecutionId": id, "SignalType": "Approve"});
        let (status, reply) = call(&ssm, "ASIAMEMBERAPPROVER01", "SendAutomationSignal", input);
        assert_eq!(status, 400);
        assert_eq!(
            reply["__type"], "AutomationExecutionNotFoundException",
            "its account cannot see the home account's execution"
        );
        assert_eq!(ssm.execution_status(&id).as_deref(), Some("Waiting"));
    }
}
