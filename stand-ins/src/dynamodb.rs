//! A DynamoDB stand-in: the JSON 1.0 protocol (`POST /`, `X-Amz-Target:
//! DynamoDB_20120810.<Operation>`, SigV4 for `dynamodb`) for `PutItem`, `GetItem`,
//! `UpdateItem` and `Query`, with condition, update and key-condition expressions
//! (the subset below), `ExpressionAttributeNames` / `Values` (unused ones refused, as
//! DynamoDB does), `ReturnValues` and `ReturnValuesOnConditionCheckFailure`.
//!
//! Expressions: comparisons (`=`, `<>`, `<`, `<=`, `>`, `>=`), `BETWEEN … AND …`,
//! `begins_with`, `attribute_exists`, `attribute_not_exists`, `AND`, `OR`, `NOT`,
//! parentheses; `SET a = :v`, `a = a + :n`, `if_not_exists(a, :v)`,
//! `list_append(x, y)`, `REMOVE a`. Paths are top-level attributes (`name` or
//! `#alias`), but for those an update sets or removes, which may be document paths
//! (`a.b`, `a[2]`).
//!
//! What DynamoDB refuses is refused, in its words: an item over 400 KB (as
//! DynamoDB counts sizes, `size`), from `PutItem` or after an `UpdateItem`; update
//! expressions whose paths overlap (`a` twice, `a` and `a.b`) or that update or
//! remove a key attribute; names and values an expression uses but does not define,
//! also in an `if_not_exists` fallback that is not needed. Numbers are exact
//! decimals of up to 38 significant digits, as DynamoDB holds them (`number`).
//!
//! Tables have string keys; they may have global secondary indexes (`index`: sparse,
//! typed keys checked on every write, projections). `Query` (`query`) reads a table
//! or an index a page at a time, with sort-key conditions, `FilterExpression` and
//! `ProjectionExpression`.
//!
//! Reads without `ConsistentRead` may be served stale, as DynamoDB's are (off until
//! [`DynamoDbStandIn::serve_stale_reads`]); TTL is stored, never acted on, as DynamoDB
//! may take days to delete expired items.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Map, Value};

use crate::{HttpServer, Incoming, Outgoing};

mod dispatch;
mod expression;
mod index;
mod items;
mod number;
mod query;
mod size;
mod tables;

use dispatch::handle;

const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
const TARGET_PREFIX: &str = "DynamoDB_20120810.";

type Item = Map<String, Value>;

#[derive(Debug, Clone)]
struct Table {
    partition_key: String,
    sort_key: Option<String>,
    /// By (partition key value, sort key value), as their JSON text.
    items: BTreeMap<(String, String), Item>,
    /// The version of each item before its last write, for stale reads.
    previous: HashMap<(String, String), Option<Item>>,
    /// Global secondary indexes.
    indexes: Vec<index::Index>,
}

#[derive(Default)]
struct State {
    tables: HashMap<String, Table>,
    calls: Vec<(String, Value)>,
    stale_reads: bool,
    /// Per operation, the next calls' errors; `None`: that call is answered as usual.
    faults: HashMap<String, Vec<Option<(u16, String)>>>,
    /// Per operation, the next calls' delays: carried out at once, answered late.
    late: HashMap<String, std::collections::VecDeque<std::time::Duration>>,
}

/// The DynamoDB stand-in: an HTTP server plus in-process control of its tables.
#[derive(Clone)]
pub struct DynamoDbStandIn {
    state: Arc<Mutex<State>>,
    server: Arc<HttpServer>,
}

impl DynamoDbStandIn {
    pub async fn start(addr: SocketAddr) -> std::io::Result<Self> {
        let state: Arc<Mutex<State>> = Arc::default();
        let handler_state = state.clone();
        let server = HttpServer::start(addr, move |req| handle(&handler_state, req)).await?;
        Ok(Self {
            state,
            server: Arc::new(server),
        })
    }

    /// The endpoint to give the SDK (`AWS_ENDPOINT_URL_DYNAMODB`).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Answers one request (for an endpoint shared with other services).
    pub fn serve(&self, req: Incoming) -> Outgoing {
        handle(&self.state, req)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drops every late answer still queued.
    pub fn clear_late(&self) {
        self.lock().late.clear();
    }

    /// The next call to `operation` is carried out at once but answered after `delay`.
    pub fn answer_late(&self, operation: &str, delay: std::time::Duration) {
        self.lock()
            .late
            .entry(operation.into())
            .or_default()
            .push_back(delay);
    }

    /// From now on, reads without `ConsistentRead` return each item as it was before
    /// its last write.
    pub fn serve_stale_reads(&self, on: bool) {
        self.lock().stale_reads = on;
    }

    /// Operation names called so far, in order.
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.iter().map(|(op, _)| op.clone()).collect()
    }

    /// The inputs of every call to `operation` so far.
    pub fn inputs(&self, operation: &str) -> Vec<Value> {
        self.lock()
            .calls
            .iter()
            .filter(|(op, _)| op == operation)
            .map(|(_, input)| input.clone())
            .collect()
    }

    pub fn count_calls(&self, operation: &str) -> usize {
        self.lock()
            .calls
            .iter()
            .filter(|(op, _)| op == operation)
            .count()
    }

    /// Drops every fault still queued.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// The next call to `operation` fails with this error (e.g. 400
    /// `ProvisionedThroughputExceededException`, 500 `InternalServerError`), unapplied.
    pub fn fail_next(&self, operation: &str, status: u16, error_type: &str) {
        self.lock()
            .faults
            .entry(operation.into())
            .or_default()
            .push(Some((status, error_type.into())));
    }

    /// The next call to `operation` is answered as usual, so the faults queued after
    /// this hit the call after it.
    pub fn answer_next_normally(&self, operation: &str) {
        self.lock()
            .faults
            .entry(operation.into())
            .or_default()
            .push(None);
    }
}

#[derive(Debug)]
struct Refusal {
    error_type: String,
    message: String,
    /// The item as it was, for `ReturnValuesOnConditionCheckFailure: ALL_OLD`.
    item: Option<Item>,
}

impl Refusal {
    fn new(error_type: &str, message: &str) -> Self {
        Self {
            error_type: error_type.into(),
            message: message.into(),
            item: None,
        }
    }

    fn validation(message: &str) -> Self {
        Self::new("ValidationException", message)
    }
}

#[cfg(test)]
mod test_support;
