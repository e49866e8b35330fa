use serde_json::{Value, json};

use super::{CONTENT_TYPE, SqsStandIn};
use crate::test_requests::{signed, unsigned};

const KEY: &str = "AKIALAMBDAROLE000001";

async fn sqs_with_queue() -> (SqsStandIn, String) {
    let sqs = SqsStandIn::start("127.0.0.1:0".parse().unwrap(), "us-east-1")
        .await
        .unwrap();
    let url = sqs.create_queue("123456789012", "approvals-failed-events");
    (sqs, url)
}

fn call(sqs: &SqsStandIn, operation: &str, input: Value) -> (u16, Value, Option<String>) {
    let target = format!("AmazonSQS.{operation}");
    let out = sqs.serve(signed(
        KEY,
        "sqs",
        CONTENT_TYPE,
        Some(&target),
        &input.to_string(),
    ));
    let query_error = out
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("x-amzn-query-error"))
        .map(|(_, value)| value.clone());
    (
        out.status,
        serde_json::from_slice(&out.body).unwrap(),
        query_error,
    )
}

fn receive(sqs: &SqsStandIn, url: &str, extra: Value) -> Vec<Value> {
    let mut input = json!({"QueueUrl": url, "MaxNumberOfMessages": 10});
    for (k, v) in extra.as_object().unwrap() {
        input[k] = v.clone();
    }
    let (status, body, _) = call(sqs, "ReceiveMessage", input);
    assert_eq!(status, 200, "{body}");
    body["Messages"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_received_message_stays_invisible_for_its_timeout_then_comes_back_counted() {
    let (sqs, url) = sqs_with_queue().await;
    sqs.send(&url, "one");
    let asked = json!({"VisibilityTimeout": 60, "MessageSystemAttributeNames": ["All"]});
    let first = receive(&sqs, &url, asked.clone());
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["Body"], "one");
    assert_eq!(first[0]["Attributes"]["ApproximateReceiveCount"], "1");
    assert!(receive(&sqs, &url, asked.clone()).is_empty());
    sqs.let_time_pass(61);
    let again = receive(&sqs, &url, asked);
    assert_eq!(again[0]["Attributes"]["ApproximateReceiveCount"], "2");
    assert_ne!(again[0]["ReceiptHandle"], first[0]["ReceiptHandle"]);
}

#[tokio::test]
async fn an_empty_receive_has_no_messages_key_and_attributes_come_only_when_asked() {
    let (sqs, url) = sqs_with_queue().await;
    let (status, body, _) = call(&sqs, "ReceiveMessage", json!({"QueueUrl": url}));
    assert_eq!((status, body), (200, json!({})));
    sqs.send(&url, "one");
    let got = receive(&sqs, &url, json!({}));
    assert!(got[0].get("Attributes").is_none());
}

#[tokio::test]
async fn only_the_latest_receipt_handle_deletes_a_message() {
    let (sqs, url) = sqs_with_queue().await;
    sqs.send(&url, "one");
    let old = receive(&sqs, &url, json!({"VisibilityTimeout": 0}))[0]["ReceiptHandle"].clone();
    let new = receive(&sqs, &url, json!({"VisibilityTimeout": 0}))[0]["ReceiptHandle"].clone();
    let (status, _, _) = call(
        &sqs,
        "DeleteMessage",
        json!({"QueueUrl": url, "ReceiptHandle": old}),
    );
    assert_eq!(status, 200);
    assert_eq!(sqs.messages(&url).len(), 1, "an old handle changes nothing");
    call(
        &sqs,
        "DeleteMessage",
        json!({"QueueUrl": url, "ReceiptHandle": new}),
    );
    assert!(sqs.messages(&url).is_empty());
}

#[tokio::test]
async fn sqs_refuses_what_it_documents_as_invalid() {
    let (sqs, url) = sqs_with_queue().await;
    for bad in [
        json!({"MaxNumberOfMessages": 11}),
        json!({"MaxNumberOfMessages": 0}),
        json!({"VisibilityTimeout": 43_201}),
        json!({"WaitTimeSeconds": 21}),
    ] {
        let mut input = json!({"QueueUrl": url});
        for (k, v) in bad.as_object().unwrap() {
            input[k] = v.clone();
        }
        let (status, body, query) = call(&sqs, "ReceiveMessage", input);
        assert_eq!(status, 400, "{bad}");
        assert_eq!(body["__type"], "com.amazonaws.sqs#InvalidParameterValue");
        assert_eq!(query.as_deref(), Some("InvalidParameterValue;Sender"));
    }
    let (status, body, _) = call(
        &sqs,
        "DeleteMessage",
        json!({"QueueUrl": url, "ReceiptHandle": "not-a-handle"}),
    );
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("com.amazonaws.sqs#ReceiptHandleIsInvalid"))
    );
    let (status, body, query) = call(
        &sqs,
        "ReceiveMessage",
        json!({"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/nope"}),
    );
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "com.amazonaws.sqs#QueueDoesNotExist");
    assert_eq!(
        query.as_deref(),
        Some("AWS.SimpleQueueService.NonExistentQueue;Sender")
    );
    let out = sqs.serve(unsigned(
        CONTENT_TYPE,
        Some("AmazonSQS.ReceiveMessage"),
        "{}",
    ));
    assert_eq!(out.status, 400);
}

#[tokio::test]
async fn changing_visibility_needs_a_message_in_flight() {
    let (sqs, url) = sqs_with_queue().await;
    sqs.send(&url, "one");
    let handle = receive(&sqs, &url, json!({"VisibilityTimeout": 60}))[0]["ReceiptHandle"].clone();
    let change = |timeout: i64| {
        call(
            &sqs,
            "ChangeMessageVisibility",
            json!({"QueueUrl": url, "ReceiptHandle": handle, "VisibilityTimeout": timeout}),
        )
        .0
    };
    assert_eq!(change(0), 200);
    assert_eq!(
        receive(&sqs, &url, json!({"VisibilityTimeout": 0})).len(),
        1
    );
    let (status, body, _) = call(
        &sqs,
        "ChangeMessageVisibility",
        json!({"QueueUrl": url, "ReceiptHandle": handle, "VisibilityTimeout": 5}),
    );
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("com.amazonaws.sqs#MessageNotInflight"))
    );
}

#[tokio::test]
async fn a_queued_fault_is_answered_and_not_acted_on() {
    let (sqs, url) = sqs_with_queue().await;
    sqs.send(&url, "one");
    sqs.fail_next("ReceiveMessage", 500, "InternalError");
    let (status, _, query) = call(&sqs, "ReceiveMessage", json!({"QueueUrl": url}));
    assert_eq!(
        (status, query.as_deref()),
        (500, Some("InternalError;Receiver"))
    );
    assert_eq!(sqs.messages(&url)[0].receive_count, 0);
    let (status, body, _) = call(
        &sqs,
        "SendMessage",
        json!({"QueueUrl": url, "MessageBody": ""}),
    );
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("com.amazonaws.sqs#InvalidParameterValue"))
    );
}
