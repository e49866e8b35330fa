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
//! `#alias`).
//!
//! Tables have string keys; they may have global secondary indexes (`index`: sparse,
//! typed keys checked on every write, projections). `Query` (`query`) reads a table
//! or an index a page at a time, with sort-key conditions, `FilterExpression` and
//! `ProjectionExpression`.
//!
//! Reads without `ConsistentRead` may be served stale, as DynamoDB's are (off until
//! [`DynamoDbStandIn::serve_stale_reads`]); TTL is stored, never acted on, as DynamoDB
//! may take days to delete expired items.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Map, Value, json};

use crate::{HttpServer, Incoming, Outgoing};

mod index;
mod query;

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

    /// Creates a table with a string partition key and, optionally, a string sort key
    /// (as the SAM template would).
    pub fn create_table(&self, name: &str, partition_key: &str, sort_key: Option<&str>) {
        self.lock().tables.insert(
            name.into(),
            Table {
                partition_key: partition_key.into(),
                sort_key: sort_key.map(str::to_owned),
                items: BTreeMap::new(),
                previous: HashMap::new(),
                indexes: vec![],
            },
        );
    }

    /// Creates a table from CloudFormation's `AWS::DynamoDB::Table` `Properties` (as
    /// JSON): its `KeySchema` (string keys) and `GlobalSecondaryIndexes` (with their
    /// `Projection`), typed by its `AttributeDefinitions`. A definition DynamoDB would
    /// refuse is refused, saying why; properties that change no behaviour modelled here
    /// (`BillingMode`, `TimeToLiveSpecification`, `SSESpecification`, …) are ignored.
    pub fn create_table_from_definition(
        &self,
        name: &str,
        properties: &Value,
    ) -> Result<(), String> {
        let definitions = properties["AttributeDefinitions"]
            .as_array()
            .ok_or("AttributeDefinitions is not a list")?;
        let mut defined = HashSet::new();
        for d in definitions {
            let attribute = d["AttributeName"]
                .as_str()
                .filter(|a| !a.is_empty())
                .ok_or("an AttributeDefinitions entry has no AttributeName")?;
            if !matches!(d["AttributeType"].as_str(), Some("S" | "N" | "B")) {
                return Err(format!(
                    "{attribute}: AttributeType {} is not S, N or B",
                    d["AttributeType"]
                ));
            }
            if !defined.insert(attribute) {
                return Err(format!(
                    "{attribute} is defined twice in AttributeDefinitions"
                ));
            }
        }
        if !properties["LocalSecondaryIndexes"].is_null() {
            return Err("LocalSecondaryIndexes are not modelled by the stand-in".into());
        }
        let index_count = properties["GlobalSecondaryIndexes"]
            .as_array()
            .map_or(0, Vec::len);
        if index_count > 20 {
            return Err(format!(
                "{index_count} global secondary indexes: a table has at most 20"
            ));
        }
        let types = |attribute: &str| {
            definitions
                .iter()
                .find(|d| d["AttributeName"] == attribute)
                .and_then(|d| d["AttributeType"].as_str())
                .filter(|t| matches!(*t, "S" | "N" | "B"))
                .map(str::to_owned)
        };
        let ((partition, partition_type), sort) =
            index::key_schema(&properties["KeySchema"], &types)?;
        if partition_type != "S" || sort.as_ref().is_some_and(|(_, t)| t != "S") {
            return Err("the stand-in keeps tables with string keys only".into());
        }
        let mut indexes = vec![];
        for definition in properties["GlobalSecondaryIndexes"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let index = index::from_definition(definition, &types)?;
            if indexes.iter().any(|i: &index::Index| i.name == index.name) {
                return Err(format!("two indexes are named {}", index.name));
            }
            indexes.push(index);
        }
        // Every defined attribute must be a key of the table or of an index.
        for d in definitions {
            let attribute = d["AttributeName"].as_str().unwrap_or_default();
            let used = attribute == partition
                || sort.as_ref().is_some_and(|(s, _)| s == attribute)
                || indexes.iter().any(|i| {
                    i.partition.0 == attribute
                        || i.sort.as_ref().is_some_and(|(s, _)| s == attribute)
                });
            if !used {
                return Err(format!(
                    "{attribute} is in AttributeDefinitions but is no key: DynamoDB refuses that"
                ));
            }
        }
        self.lock().tables.insert(
            name.into(),
            Table {
                partition_key: partition,
                sort_key: sort.map(|(s, _)| s),
                items: BTreeMap::new(),
                previous: HashMap::new(),
                indexes,
            },
        );
        Ok(())
    }

    /// Adds a global secondary index (projection `ALL`) with these keys, each a name
    /// and a type (`S` or `N`).
    ///
    /// Panics if the table does not exist, already has an index of that name, or a
    /// type is not `S`, `N` or `B`: mistakes in the test.
    pub fn add_global_secondary_index(
        &self,
        table: &str,
        index_name: &str,
        partition_key: (&str, &str),
        sort_key: Option<(&str, &str)>,
    ) {
        for (name, kind) in std::iter::once(partition_key).chain(sort_key) {
            assert!(
                matches!(kind, "S" | "N" | "B"),
                "{name}: an index key is of type S, N or B, not {kind}"
            );
        }
        let owned = |(n, t): (&str, &str)| (n.to_owned(), t.to_owned());
        let mut state = self.lock();
        let table = state.tables.get_mut(table).expect("table exists");
        assert!(
            table.indexes.iter().all(|i| i.name != index_name),
            "the table already has an index {index_name}"
        );
        table.indexes.push(index::Index {
            name: index_name.into(),
            partition: owned(partition_key),
            sort: sort_key.map(owned),
            projection: index::Projection::All,
        });
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

    /// Every item of a table, in key order (DynamoDB JSON).
    pub fn items(&self, table: &str) -> Vec<Value> {
        self.lock()
            .tables
            .get(table)
            .map(|t| t.items.values().cloned().map(Value::Object).collect())
            .unwrap_or_default()
    }

    /// Stores an item as is (as if written earlier, e.g. by a process that died).
    pub fn put_raw(&self, table: &str, item: Value) {
        let mut state = self.lock();
        let table = state.tables.get_mut(table).expect("table exists");
        let item = item.as_object().expect("an item is an object").clone();
        let key = key_of(table, &item).expect("the item has its keys");
        table.items.insert(key, item);
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

fn error(status: u16, error_type: &str, message: &str) -> Outgoing {
    Outgoing::json(
        status,
        &json!({"__type": format!("com.amazonaws.dynamodb.v20120810#{error_type}"), "message": message}),
        CONTENT_TYPE,
    )
    .with_header("x-amzn-RequestId", &uuid::Uuid::new_v4().to_string())
}

fn ok(body: Value) -> Outgoing {
    Outgoing::json(200, &body, CONTENT_TYPE)
        .with_header("x-amzn-RequestId", &uuid::Uuid::new_v4().to_string())
}

fn handle(state: &Mutex<State>, req: Incoming) -> Outgoing {
    let call = crate::aws_json_call(
        &req,
        TARGET_PREFIX,
        CONTENT_TYPE,
        "dynamodb",
        "MissingAuthenticationTokenException",
    );
    let (operation, input) = match call {
        Ok(call) => (call.operation, call.input),
        Err((status, error_type, message)) => return error(status, error_type, &message),
    };
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    state.calls.push((operation.clone(), input.clone()));
    let delay = state
        .late
        .get_mut(&operation)
        .and_then(std::collections::VecDeque::pop_front);
    answer(&mut state, &operation, &input).answered_after(delay)
}

fn answer(state: &mut State, operation: &str, input: &Value) -> Outgoing {
    if let Some(faults) = state.faults.get_mut(operation)
        && !faults.is_empty()
        && let Some((status, error_type)) = faults.remove(0)
    {
        return error(status, &error_type, "injected by the stand-in");
    }
    let result = match operation {
        "PutItem" => put_item(state, input),
        "GetItem" => get_item(state, input),
        "UpdateItem" => update_item(state, input),
        "Query" => query(state, input),
        other => Err(Refusal::new(
            "UnknownOperationException",
            &format!("{other} is not implemented by the stand-in"),
        )),
    };
    match result {
        Ok(body) => ok(body),
        Err(refusal) => {
            let mut out = error(400, &refusal.error_type, &refusal.message);
            if let Some(item) = refusal.item {
                let mut body: Value = serde_json::from_slice(&out.body).expect("json");
                body["Item"] = Value::Object(item);
                out.body = body.to_string().into_bytes();
            }
            out
        }
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

fn table_name(input: &Value) -> Result<String, Refusal> {
    input["TableName"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Refusal::validation("TableName is required"))
}

fn table<'a>(state: &'a State, input: &Value) -> Result<&'a Table, Refusal> {
    let name = table_name(input)?;
    state
        .tables
        .get(&name)
        .ok_or_else(|| Refusal::new("ResourceNotFoundException", "Requested resource not found"))
}

fn table_mut<'a>(state: &'a mut State, input: &Value) -> Result<&'a mut Table, Refusal> {
    let name = table_name(input)?;
    state
        .tables
        .get_mut(&name)
        .ok_or_else(|| Refusal::new("ResourceNotFoundException", "Requested resource not found"))
}

/// The storage key of an item (or a `Key`): its key attributes, which must be strings.
fn key_of(table: &Table, item: &Item) -> Result<(String, String), Refusal> {
    let part = |name: &str| -> Result<String, Refusal> {
        match item
            .get(name)
            .and_then(|v| v.get("S"))
            .and_then(Value::as_str)
        {
            Some(s) if !s.is_empty() => Ok(s.to_owned()),
            _ => Err(Refusal::validation(&format!(
                "One of the required keys was not given a value: {name}"
            ))),
        }
    };
    let pk = part(&table.partition_key)?;
    let sk = match &table.sort_key {
        Some(sk) => part(sk)?,
        None => String::new(),
    };
    Ok((pk, sk))
}

fn key_only(table: &Table, key: &Value) -> Result<(String, String), Refusal> {
    let key = key
        .as_object()
        .ok_or_else(|| Refusal::validation("Key is required"))?;
    let expected = 1 + usize::from(table.sort_key.is_some());
    if key.len() != expected {
        return Err(Refusal::validation(
            "The provided key element does not match the schema",
        ));
    }
    key_of(table, key)
}

/// Expression names and values, with the ones an expression used ticked off.
struct Bindings<'a> {
    names: Option<&'a Map<String, Value>>,
    values: Option<&'a Map<String, Value>>,
    used: HashSet<String>,
}

impl<'a> Bindings<'a> {
    fn of(input: &'a Value) -> Self {
        Self {
            names: input["ExpressionAttributeNames"].as_object(),
            values: input["ExpressionAttributeValues"].as_object(),
            used: HashSet::new(),
        }
    }

    fn name(&mut self, token: &str) -> Result<String, Refusal> {
        if !token.starts_with('#') {
            let upper = token.to_ascii_uppercase();
            if RESERVED_WORDS.binary_search(&upper.as_str()).is_ok() {
                return Err(Refusal::validation(&format!(
                    "Invalid expression: Attribute name is a reserved keyword; reserved keyword: {token}"
                )));
            }
            return Ok(token.to_owned());
        }
        self.used.insert(token.to_owned());
        self.names
            .and_then(|n| n.get(token))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                Refusal::validation(&format!(
                    "An expression attribute name used in the document path is not defined; attribute name: {token}"
                ))
            })
    }

    fn value(&mut self, token: &str) -> Result<Value, Refusal> {
        self.used.insert(token.to_owned());
        self.values.and_then(|v| v.get(token)).cloned().ok_or_else(|| {
            Refusal::validation(&format!(
                "An expression attribute value used in expression is not defined; attribute value: {token}"
            ))
        })
    }

    /// DynamoDB refuses names and values that no expression used.
    fn check_all_used(&self) -> Result<(), Refusal> {
        for (kind, map) in [("names", self.names), ("values", self.values)] {
            let unused: Vec<&String> = map
                .into_iter()
                .flat_map(|m| m.keys())
                .filter(|k| !self.used.contains(*k))
                .collect();
            if !unused.is_empty() {
                return Err(Refusal::validation(&format!(
                    "Value provided in ExpressionAttribute{} unused in expressions: keys: {{{}}}",
                    if kind == "names" { "Names" } else { "Values" },
                    unused
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        Ok(())
    }
}

fn check_condition(
    input: &Value,
    bindings: &mut Bindings,
    current: Option<&Item>,
) -> Result<bool, Refusal> {
    let Some(text) = input["ConditionExpression"].as_str() else {
        return Ok(true);
    };
    let condition = parse_condition(text)?;
    let empty = Item::new();
    eval(&condition, current.unwrap_or(&empty), bindings)
}

/// A condition (a condition, key-condition or filter expression), parsed whole.
fn parse_condition(text: &str) -> Result<Cond, Refusal> {
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens: &tokens,
        at: 0,
    };
    let condition = parser.or_expr()?;
    parser.end()?;
    Ok(condition)
}

fn condition_failed(input: &Value, old: Option<&Item>) -> Refusal {
    let mut refusal = Refusal::new(
        "ConditionalCheckFailedException",
        "The conditional request failed",
    );
    if input["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD" {
        refusal.item = old.cloned();
    }
    refusal
}

fn remember_previous(table: &mut Table, key: &(String, String)) {
    let before = table.items.get(key).cloned();
    table.previous.insert(key.clone(), before);
}

fn put_item(state: &mut State, input: &Value) -> Result<Value, Refusal> {
    let table = table_mut(state, input)?;
    let item = input["Item"]
        .as_object()
        .ok_or_else(|| Refusal::validation("Item is required"))?
        .clone();
    let key = key_of(table, &item)?;
    let mut bindings = Bindings::of(input);
    let current = table.items.get(&key).cloned();
    let holds = check_condition(input, &mut bindings, current.as_ref())?;
    bindings.check_all_used()?;
    if !holds {
        return Err(condition_failed(input, current.as_ref()));
    }
    index::check_keys(&table.indexes, &item)?;
    remember_previous(table, &key);
    table.items.insert(key, item);
    Ok(match input["ReturnValues"].as_str() {
        Some("ALL_OLD") => current.map_or(json!({}), |old| json!({"Attributes": old})),
        _ => json!({}),
    })
}

fn read(table: &Table, key: &(String, String), consistent: bool, stale: bool) -> Option<Item> {
    if stale
        && !consistent
        && let Some(before) = table.previous.get(key)
    {
        return before.clone();
    }
    table.items.get(key).cloned()
}

fn get_item(state: &State, input: &Value) -> Result<Value, Refusal> {
    let table = table(state, input)?;
    let key = key_only(table, &input["Key"])?;
    let consistent = input["ConsistentRead"] == true;
    Ok(match read(table, &key, consistent, state.stale_reads) {
        Some(item) => json!({"Item": item}),
        None => json!({}),
    })
}

fn update_item(state: &mut State, input: &Value) -> Result<Value, Refusal> {
    let table = table_mut(state, input)?;
    let key_value = input["Key"].clone();
    let key = key_only(table, &key_value)?;
    let mut bindings = Bindings::of(input);
    let current = table.items.get(&key).cloned();
    let holds = check_condition(input, &mut bindings, current.as_ref())?;
    let text = input["UpdateExpression"]
        .as_str()
        .ok_or_else(|| Refusal::validation("UpdateExpression is required here"))?;
    let tokens = tokenize(text)?;
    let actions = Parser {
        tokens: &tokens,
        at: 0,
    }
    .update()?;
    // The new item: the key, then each action in turn against the old item.
    let mut item = current
        .clone()
        .unwrap_or_else(|| key_value.as_object().cloned().unwrap_or_default());
    let old = current.clone().unwrap_or_default();
    for action in &actions {
        match action {
            Action::Set(path, expr) => {
                let name = bindings.name(path)?;
                if name == table.partition_key || Some(&name) == table.sort_key.as_ref() {
                    return Err(Refusal::validation(
                        "Cannot update attribute: this attribute is part of the key",
                    ));
                }
                let value = value_of(expr, &old, &mut bindings)?;
                item.insert(name, value);
            }
            Action::Remove(path) => {
                let name = bindings.name(path)?;
                item.remove(&name);
            }
        }
    }
    bindings.check_all_used()?;
    if !holds {
        return Err(condition_failed(input, current.as_ref()));
    }
    index::check_keys(&table.indexes, &item)?;
    remember_previous(table, &key);
    table.items.insert(key, item.clone());
    Ok(match input["ReturnValues"].as_str() {
        Some("ALL_NEW") => json!({"Attributes": item}),
        Some("ALL_OLD") => current.map_or(json!({}), |old| json!({"Attributes": old})),
        _ => json!({}),
    })
}

fn query(state: &State, input: &Value) -> Result<Value, Refusal> {
    query::query(state, input)
}

// ---- expressions ----

/// DynamoDB's reserved words: a bare attribute name in an expression may not be one
/// (write `#alias` and `ExpressionAttributeNames` instead).
const RESERVED_WORDS: &[&str] = &[
    "ABORT",
    "ABSOLUTE",
    "ACTION",
    "ADD",
    "AFTER",
    "AGENT",
    "AGGREGATE",
    "ALL",
    "ALLOCATE",
    "ALTER",
    "ANALYZE",
    "AND",
    "ANY",
    "ARCHIVE",
    "ARE",
    "ARRAY",
    "AS",
    "ASC",
    "ASCII",
    "ASENSITIVE",
    "ASSERTION",
    "ASYMMETRIC",
    "AT",
    "ATOMIC",
    "ATTACH",
    "ATTRIBUTE",
    "AUTH",
    "AUTHORIZATION",
    "AUTHORIZE",
    "AUTO",
    "AVG",
    "BACK",
    "BACKUP",
    "BASE",
    "BATCH",
    "BEFORE",
    "BEGIN",
    "BETWEEN",
    "BIGINT",
    "BINARY",
    "BIT",
    "BLOB",
    "BLOCK",
    "BOOLEAN",
    "BOTH",
    "BREADTH",
    "BUCKET",
    "BULK",
    "BY",
    "BYTE",
    "CALL",
    "CALLED",
    "CALLING",
    "CAPACITY",
    "CASCADE",
    "CASCADED",
    "CASE",
    "CAST",
    "CATALOG",
    "CHAR",
    "CHARACTER",
    "CHECK",
    "CLASS",
    "CLOB",
    "CLOSE",
    "CLUSTER",
    "CLUSTERED",
    "CLUSTERING",
    "CLUSTERS",
    "COALESCE",
    "COLLATE",
    "COLLATION",
    "COLLECTION",
    "COLUMN",
    "COLUMNS",
    "COMBINE",
    "COMMENT",
    "COMMIT",
    "COMPACT",
    "COMPILE",
    "COMPRESS",
    "CONDITION",
    "CONFLICT",
    "CONNECT",
    "CONNECTION",
    "CONSISTENCY",
    "CONSISTENT",
    "CONSTRAINT",
    "CONSTRAINTS",
    "CONSTRUCTOR",
    "CONSUMED",
    "CONTINUE",
    "CONVERT",
    "COPY",
    "CORRESPONDING",
    "COUNT",
    "COUNTER",
    "CREATE",
    "CROSS",
    "CUBE",
    "CURRENT",
    "CURSOR",
    "CYCLE",
    "DATA",
    "DATABASE",
    "DATE",
    "DATETIME",
    "DAY",
    "DEALLOCATE",
    "DEC",
    "DECIMAL",
    "DECLARE",
    "DEFAULT",
    "DEFERRABLE",
    "DEFERRED",
    "DEFINE",
    "DEFINED",
    "DEFINITION",
    "DELETE",
    "DELIMITED",
    "DEPTH",
    "DEREF",
    "DESC",
    "DESCRIBE",
    "DESCRIPTOR",
    "DETACH",
    "DETERMINISTIC",
    "DIAGNOSTICS",
    "DIRECTORIES",
    "DISABLE",
    "DISCONNECT",
    "DISTINCT",
    "DISTRIBUTE",
    "DO",
    "DOMAIN",
    "DOUBLE",
    "DROP",
    "DUMP",
    "DURATION",
    "DYNAMIC",
    "EACH",
    "ELEMENT",
    "ELSE",
    "ELSEIF",
    "EMPTY",
    "ENABLE",
    "END",
    "EQUAL",
    "EQUALS",
    "ERROR",
    "ESCAPE",
    "ESCAPED",
    "EVAL",
    "EVALUATE",
    "EXCEEDED",
    "EXCEPT",
    "EXCEPTION",
    "EXCEPTIONS",
    "EXCLUSIVE",
    "EXEC",
    "EXECUTE",
    "EXISTS",
    "EXIT",
    "EXPLAIN",
    "EXPLODE",
    "EXPORT",
    "EXPRESSION",
    "EXTENDED",
    "EXTERNAL",
    "EXTRACT",
    "FAIL",
    "FALSE",
    "FAMILY",
    "FETCH",
    "FIELDS",
    "FILE",
    "FILTER",
    "FILTERING",
    "FINAL",
    "FINISH",
    "FIRST",
    "FIXED",
    "FLATTERN",
    "FLOAT",
    "FOR",
    "FORCE",
    "FOREIGN",
    "FORMAT",
    "FORWARD",
    "FOUND",
    "FREE",
    "FROM",
    "FULL",
    "FUNCTION",
    "FUNCTIONS",
    "GENERAL",
    "GENERATE",
    "GET",
    "GLOB",
    "GLOBAL",
    "GO",
    "GOTO",
    "GRANT",
    "GREATER",
    "GROUP",
    "GROUPING",
    "HANDLER",
    "HASH",
    "HAVE",
    "HAVING",
    "HEAP",
    "HIDDEN",
    "HOLD",
    "HOUR",
    "IDENTIFIED",
    "IDENTITY",
    "IF",
    "IGNORE",
    "IMMEDIATE",
    "IMPORT",
    "IN",
    "INCLUDING",
    "INCLUSIVE",
    "INCREMENT",
    "INCREMENTAL",
    "INDEX",
    "INDEXED",
    "INDEXES",
    "INDICATOR",
    "INFINITE",
    "INITIALLY",
    "INLINE",
    "INNER",
    "INNTER",
    "INOUT",
    "INPUT",
    "INSENSITIVE",
    "INSERT",
    "INSTEAD",
    "INT",
    "INTEGER",
    "INTERSECT",
    "INTERVAL",
    "INTO",
    "INVALIDATE",
    "IS",
    "ISOLATION",
    "ITEM",
    "ITEMS",
    "ITERATE",
    "JOIN",
    "KEY",
    "KEYS",
    "LAG",
    "LANGUAGE",
    "LARGE",
    "LAST",
    "LATERAL",
    "LEAD",
    "LEADING",
    "LEAVE",
    "LEFT",
    "LENGTH",
    "LESS",
    "LEVEL",
    "LIKE",
    "LIMIT",
    "LIMITED",
    "LINES",
    "LIST",
    "LOAD",
    "LOCAL",
    "LOCALTIME",
    "LOCALTIMESTAMP",
    "LOCATION",
    "LOCATOR",
    "LOCK",
    "LOCKS",
    "LOG",
    "LOGED",
    "LONG",
    "LOOP",
    "LOWER",
    "MAP",
    "MATCH",
    "MATERIALIZED",
    "MAX",
    "MAXLEN",
    "MEMBER",
    "MERGE",
    "METHOD",
    "METRICS",
    "MIN",
    "MINUS",
    "MINUTE",
    "MISSING",
    "MOD",
    "MODE",
    "MODIFIES",
    "MODIFY",
    "MODULE",
    "MONTH",
    "MULTI",
    "MULTISET",
    "NAME",
    "NAMES",
    "NATIONAL",
    "NATURAL",
    "NCHAR",
    "NCLOB",
    "NEW",
    "NEXT",
    "NO",
    "NONE",
    "NOT",
    "NULL",
    "NULLIF",
    "NUMBER",
    "NUMERIC",
    "OBJECT",
    "OF",
    "OFFLINE",
    "OFFSET",
    "OLD",
    "ON",
    "ONLINE",
    "ONLY",
    "OPAQUE",
    "OPEN",
    "OPERATOR",
    "OPTION",
    "OR",
    "ORDER",
    "ORDINALITY",
    "OTHER",
    "OTHERS",
    "OUT",
    "OUTER",
    "OUTPUT",
    "OVER",
    "OVERLAPS",
    "OVERRIDE",
    "OWNER",
    "PAD",
    "PARALLEL",
    "PARAMETER",
    "PARAMETERS",
    "PARTIAL",
    "PARTITION",
    "PARTITIONED",
    "PARTITIONS",
    "PATH",
    "PERCENT",
    "PERCENTILE",
    "PERMISSION",
    "PERMISSIONS",
    "PIPE",
    "PIPELINED",
    "PLAN",
    "POOL",
    "POSITION",
    "PRECISION",
    "PREPARE",
    "PRESERVE",
    "PRIMARY",
    "PRIOR",
    "PRIVATE",
    "PRIVILEGES",
    "PROCEDURE",
    "PROCESSED",
    "PROJECT",
    "PROJECTION",
    "PROPERTY",
    "PROVISIONING",
    "PUBLIC",
    "PUT",
    "QUERY",
    "QUIT",
    "QUORUM",
    "RAISE",
    "RANDOM",
    "RANGE",
    "RANK",
    "RAW",
    "READ",
    "READS",
    "REAL",
    "REBUILD",
    "RECORD",
    "RECURSIVE",
    "REDUCE",
    "REF",
    "REFERENCE",
    "REFERENCES",
    "REFERENCING",
    "REGEXP",
    "REGION",
    "REINDEX",
    "RELATIVE",
    "RELEASE",
    "REMAINDER",
    "RENAME",
    "REPEAT",
    "REPLACE",
    "REQUEST",
    "RESET",
    "RESIGNAL",
    "RESOURCE",
    "RESPONSE",
    "RESTORE",
    "RESTRICT",
    "RESULT",
    "RETURN",
    "RETURNING",
    "RETURNS",
    "REVERSE",
    "REVOKE",
    "RIGHT",
    "ROLE",
    "ROLES",
    "ROLLBACK",
    "ROLLUP",
    "ROUTINE",
    "ROW",
    "ROWS",
    "RULE",
    "RULES",
    "SAMPLE",
    "SATISFIES",
    "SAVE",
    "SAVEPOINT",
    "SCAN",
    "SCHEMA",
    "SCOPE",
    "SCROLL",
    "SEARCH",
    "SECOND",
    "SECTION",
    "SEGMENT",
    "SEGMENTS",
    "SELECT",
    "SELF",
    "SEMI",
    "SENSITIVE",
    "SEPARATE",
    "SEQUENCE",
    "SERIALIZABLE",
    "SESSION",
    "SET",
    "SETS",
    "SHARD",
    "SHARE",
    "SHARED",
    "SHORT",
    "SHOW",
    "SIGNAL",
    "SIMILAR",
    "SIZE",
    "SKEWED",
    "SMALLINT",
    "SNAPSHOT",
    "SOME",
    "SOURCE",
    "SPACE",
    "SPACES",
    "SPARSE",
    "SPECIFIC",
    "SPECIFICTYPE",
    "SPLIT",
    "SQL",
    "SQLCODE",
    "SQLERROR",
    "SQLEXCEPTION",
    "SQLSTATE",
    "SQLWARNING",
    "START",
    "STATE",
    "STATIC",
    "STATUS",
    "STORAGE",
    "STORE",
    "STORED",
    "STREAM",
    "STRING",
    "STRUCT",
    "STYLE",
    "SUB",
    "SUBMULTISET",
    "SUBPARTITION",
    "SUBSTRING",
    "SUBTYPE",
    "SUM",
    "SUPER",
    "SYMMETRIC",
    "SYNONYM",
    "SYSTEM",
    "TABLE",
    "TABLESAMPLE",
    "TEMP",
    "TEMPORARY",
    "TERMINATED",
    "TEXT",
    "THAN",
    "THEN",
    "THROUGHPUT",
    "TIME",
    "TIMESTAMP",
    "TIMEZONE",
    "TINYINT",
    "TO",
    "TOKEN",
    "TOTAL",
    "TOUCH",
    "TRAILING",
    "TRANSACTION",
    "TRANSFORM",
    "TRANSLATE",
    "TRANSLATION",
    "TREAT",
    "TRIGGER",
    "TRIM",
    "TRUE",
    "TRUNCATE",
    "TTL",
    "TUPLE",
    "TYPE",
    "UNDER",
    "UNDO",
    "UNION",
    "UNIQUE",
    "UNIT",
    "UNKNOWN",
    "UNLOGGED",
    "UNNEST",
    "UNPROCESSED",
    "UNSIGNED",
    "UNTIL",
    "UPDATE",
    "UPPER",
    "URL",
    "USAGE",
    "USE",
    "USER",
    "USERS",
    "USING",
    "UUID",
    "VACUUM",
    "VALUE",
    "VALUED",
    "VALUES",
    "VARCHAR",
    "VARIABLE",
    "VARIANCE",
    "VARINT",
    "VARYING",
    "VIEW",
    "VIEWS",
    "VIRTUAL",
    "VOID",
    "WAIT",
    "WHEN",
    "WHENEVER",
    "WHERE",
    "WHILE",
    "WINDOW",
    "WITH",
    "WITHIN",
    "WITHOUT",
    "WORK",
    "WRAPPED",
    "WRITE",
    "YEAR",
    "ZONE",
];

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Name(String),
    Value(String),
    Op(String),
    Open,
    Close,
    Comma,
}

fn tokenize(text: &str) -> Result<Vec<Token>, Refusal> {
    let mut tokens = vec![];
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let word_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            ',' => {
                tokens.push(Token::Comma);
                i += 1;
            }
            '#' | ':' => {
                let start = i;
                i += 1;
                while i < chars.len() && word_char(chars[i]) {
                    i += 1;
                }
                let t: String = chars[start..i].iter().collect();
                if t.len() == 1 {
                    return Err(Refusal::validation(&format!("Invalid expression: {text}")));
                }
                tokens.push(if c == '#' {
                    Token::Name(t)
                } else {
                    Token::Value(t)
                });
            }
            '=' | '+' | '-' => {
                tokens.push(Token::Op(c.to_string()));
                i += 1;
            }
            '<' | '>' => {
                let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
                if two == "<>" || two == "<=" || two == ">=" {
                    tokens.push(Token::Op(two));
                    i += 2;
                } else {
                    tokens.push(Token::Op(c.to_string()));
                    i += 1;
                }
            }
            c if word_char(c) => {
                let start = i;
                while i < chars.len() && word_char(chars[i]) {
                    i += 1;
                }
                tokens.push(Token::Word(chars[start..i].iter().collect()));
            }
            other => {
                return Err(Refusal::validation(&format!(
                    "Invalid expression: unexpected {other:?} in {text}"
                )));
            }
        }
    }
    Ok(tokens)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Path(String),
    Value(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Cond {
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    Exists(String),
    NotExists(String),
    Compare(Operand, Cmp, Operand),
    /// `a BETWEEN low AND high`: both bounds included.
    Between(Operand, Operand, Operand),
    /// `begins_with(a, prefix)`, for strings.
    BeginsWith(Operand, Operand),
}

#[derive(Debug, Clone, PartialEq)]
enum ValueExpr {
    Operand(Operand),
    Plus(Box<ValueExpr>, Box<ValueExpr>),
    Minus(Box<ValueExpr>, Box<ValueExpr>),
    IfNotExists(String, Box<ValueExpr>),
    ListAppend(Box<ValueExpr>, Box<ValueExpr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Action {
    Set(String, ValueExpr),
    Remove(String),
}

struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Result<Token, Refusal> {
        let t = self
            .tokens
            .get(self.at)
            .cloned()
            .ok_or_else(|| Refusal::validation("Invalid expression: unexpected end"))?;
        self.at += 1;
        Ok(t)
    }

    fn expect(&mut self, token: &Token) -> Result<(), Refusal> {
        match self.next()? {
            t if &t == token => Ok(()),
            t => Err(Refusal::validation(&format!(
                "Invalid expression: expected {token:?}, found {t:?}"
            ))),
        }
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn end(&self) -> Result<(), Refusal> {
        match self.peek() {
            None => Ok(()),
            Some(t) => Err(Refusal::validation(&format!(
                "Invalid expression: unexpected {t:?}"
            ))),
        }
    }

    fn or_expr(&mut self) -> Result<Cond, Refusal> {
        let mut left = self.and_expr()?;
        while self.keyword("OR") {
            self.at += 1;
            left = Cond::Or(Box::new(left), Box::new(self.and_expr()?));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Cond, Refusal> {
        let mut left = self.not_expr()?;
        while self.keyword("AND") {
            self.at += 1;
            left = Cond::And(Box::new(left), Box::new(self.not_expr()?));
        }
        Ok(left)
    }

    fn not_expr(&mut self) -> Result<Cond, Refusal> {
        if self.keyword("NOT") {
            self.at += 1;
            return Ok(Cond::Not(Box::new(self.not_expr()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Cond, Refusal> {
        if self.peek() == Some(&Token::Open) {
            self.at += 1;
            let inner = self.or_expr()?;
            self.expect(&Token::Close)?;
            return Ok(inner);
        }
        for (function, exists) in [("attribute_exists", true), ("attribute_not_exists", false)] {
            if self.keyword(function) {
                self.at += 1;
                self.expect(&Token::Open)?;
                let path = self.path()?;
                self.expect(&Token::Close)?;
                return Ok(if exists {
                    Cond::Exists(path)
                } else {
                    Cond::NotExists(path)
                });
            }
        }
        if self.keyword("begins_with") && self.tokens.get(self.at + 1) == Some(&Token::Open) {
            self.at += 2;
            let operand = self.operand()?;
            self.expect(&Token::Comma)?;
            let prefix = self.operand()?;
            self.expect(&Token::Close)?;
            return Ok(Cond::BeginsWith(operand, prefix));
        }
        let left = self.operand()?;
        if self.keyword("BETWEEN") {
            self.at += 1;
            let low = self.operand()?;
            if !self.keyword("AND") {
                return Err(Refusal::validation(
                    "Invalid expression: BETWEEN needs AND between its bounds",
                ));
            }
            self.at += 1;
            let high = self.operand()?;
            return Ok(Cond::Between(left, low, high));
        }
        let cmp = match self.next()? {
            Token::Op(op) => match op.as_str() {
                "=" => Cmp::Eq,
                "<>" => Cmp::Ne,
                "<" => Cmp::Lt,
                "<=" => Cmp::Le,
                ">" => Cmp::Gt,
                ">=" => Cmp::Ge,
                _ => return Err(Refusal::validation("Invalid expression: bad comparator")),
            },
            t => {
                return Err(Refusal::validation(&format!(
                    "Invalid expression: expected a comparator, found {t:?}"
                )));
            }
        };
        let right = self.operand()?;
        Ok(Cond::Compare(left, cmp, right))
    }

    fn path(&mut self) -> Result<String, Refusal> {
        match self.next()? {
            Token::Name(n) | Token::Word(n) => Ok(n),
            t => Err(Refusal::validation(&format!(
                "Invalid expression: expected an attribute, found {t:?}"
            ))),
        }
    }

    fn operand(&mut self) -> Result<Operand, Refusal> {
        match self.next()? {
            Token::Value(v) => Ok(Operand::Value(v)),
            Token::Name(n) | Token::Word(n) => Ok(Operand::Path(n)),
            t => Err(Refusal::validation(&format!(
                "Invalid expression: expected an operand, found {t:?}"
            ))),
        }
    }

    fn update(&mut self) -> Result<Vec<Action>, Refusal> {
        let mut actions = vec![];
        while self.peek().is_some() {
            if self.keyword("SET") {
                self.at += 1;
                loop {
                    let path = self.path()?;
                    self.expect(&Token::Op("=".into()))?;
                    actions.push(Action::Set(path, self.value_expr()?));
                    if self.peek() != Some(&Token::Comma) {
                        break;
                    }
                    self.at += 1;
                }
            } else if self.keyword("REMOVE") {
                self.at += 1;
                loop {
                    actions.push(Action::Remove(self.path()?));
                    if self.peek() != Some(&Token::Comma) {
                        break;
                    }
                    self.at += 1;
                }
            } else {
                return Err(Refusal::validation(&format!(
                    "Invalid UpdateExpression: unexpected {:?}",
                    self.peek()
                )));
            }
        }
        if actions.is_empty() {
            return Err(Refusal::validation("Invalid UpdateExpression: empty"));
        }
        Ok(actions)
    }

    fn value_expr(&mut self) -> Result<ValueExpr, Refusal> {
        let first = self.value_term()?;
        match self.peek() {
            Some(Token::Op(op)) if op == "+" || op == "-" => {
                let plus = op == "+";
                self.at += 1;
                let second = self.value_term()?;
                Ok(if plus {
                    ValueExpr::Plus(Box::new(first), Box::new(second))
                } else {
                    ValueExpr::Minus(Box::new(first), Box::new(second))
                })
            }
            _ => Ok(first),
        }
    }

    fn value_term(&mut self) -> Result<ValueExpr, Refusal> {
        if self.keyword("if_not_exists") {
            self.at += 1;
            self.expect(&Token::Open)?;
            let path = self.path()?;
            self.expect(&Token::Comma)?;
            let fallback = self.value_expr()?;
            self.expect(&Token::Close)?;
            return Ok(ValueExpr::IfNotExists(path, Box::new(fallback)));
        }
        if self.keyword("list_append") {
            self.at += 1;
            self.expect(&Token::Open)?;
            let a = self.value_expr()?;
            self.expect(&Token::Comma)?;
            let b = self.value_expr()?;
            self.expect(&Token::Close)?;
            return Ok(ValueExpr::ListAppend(Box::new(a), Box::new(b)));
        }
        Ok(ValueExpr::Operand(self.operand()?))
    }
}

fn operand_value(
    operand: &Operand,
    item: &Item,
    bindings: &mut Bindings,
) -> Result<Option<Value>, Refusal> {
    Ok(match operand {
        Operand::Value(v) => Some(bindings.value(v)?),
        Operand::Path(p) => item.get(&bindings.name(p)?).cloned(),
    })
}

fn number(v: &Value) -> Option<f64> {
    v.get("N")?.as_str()?.parse().ok()
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    if let (Some(x), Some(y)) = (number(a), number(b)) {
        return x.partial_cmp(&y);
    }
    match (a.get("S"), b.get("S")) {
        (Some(x), Some(y)) => Some(x.as_str()?.cmp(y.as_str()?)),
        _ => None,
    }
}

fn eval(cond: &Cond, item: &Item, bindings: &mut Bindings) -> Result<bool, Refusal> {
    Ok(match cond {
        Cond::And(a, b) => {
            let (a, b) = (eval(a, item, bindings)?, eval(b, item, bindings)?);
            a && b
        }
        Cond::Or(a, b) => {
            let (a, b) = (eval(a, item, bindings)?, eval(b, item, bindings)?);
            a || b
        }
        Cond::Not(a) => !eval(a, item, bindings)?,
        Cond::Exists(p) => item.contains_key(&bindings.name(p)?),
        Cond::NotExists(p) => !item.contains_key(&bindings.name(p)?),
        Cond::Between(a, low, high) => {
            let (a, low, high) = (
                operand_value(a, item, bindings)?,
                operand_value(low, item, bindings)?,
                operand_value(high, item, bindings)?,
            );
            let (Some(a), Some(low), Some(high)) = (a, low, high) else {
                return Ok(false);
            };
            compare(&a, &low).is_some_and(|o| o.is_ge())
                && compare(&a, &high).is_some_and(|o| o.is_le())
        }
        Cond::BeginsWith(a, prefix) => {
            let (a, prefix) = (
                operand_value(a, item, bindings)?,
                operand_value(prefix, item, bindings)?,
            );
            let text = |v: &Option<Value>| {
                v.as_ref()
                    .and_then(|v| v.get("S"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            match (text(&a), text(&prefix)) {
                (Some(a), Some(prefix)) => a.starts_with(&prefix),
                _ => false,
            }
        }
        Cond::Compare(a, cmp, b) => {
            let (a, b) = (
                operand_value(a, item, bindings)?,
                operand_value(b, item, bindings)?,
            );
            let (Some(a), Some(b)) = (a, b) else {
                return Ok(false);
            };
            let equal = a == b
                || compare(&a, &b) == Some(std::cmp::Ordering::Equal) && number(&a).is_some();
            match cmp {
                Cmp::Eq => equal,
                Cmp::Ne => !equal,
                other => match compare(&a, &b) {
                    Some(order) => match other {
                        Cmp::Lt => order.is_lt(),
                        Cmp::Le => order.is_le(),
                        Cmp::Gt => order.is_gt(),
                        _ => order.is_ge(),
                    },
                    None => false,
                },
            }
        }
    })
}

fn value_of(expr: &ValueExpr, item: &Item, bindings: &mut Bindings) -> Result<Value, Refusal> {
    match expr {
        ValueExpr::Operand(o) => operand_value(o, item, bindings)?.ok_or_else(|| {
            Refusal::validation(
                "The provided expression refers to an attribute that does not exist in the item",
            )
        }),
        ValueExpr::IfNotExists(path, fallback) => match item.get(&bindings.name(path)?) {
            Some(v) => {
                // The fallback's values still count as used.
                let _ = value_of(fallback, item, bindings);
                Ok(v.clone())
            }
            None => value_of(fallback, item, bindings),
        },
        ValueExpr::ListAppend(a, b) => {
            let (a, b) = (value_of(a, item, bindings)?, value_of(b, item, bindings)?);
            match (
                a.get("L").and_then(Value::as_array),
                b.get("L").and_then(Value::as_array),
            ) {
                (Some(x), Some(y)) => {
                    Ok(json!({"L": x.iter().chain(y).cloned().collect::<Vec<_>>()}))
                }
                _ => Err(Refusal::validation(
                    "Incorrect operand type for operator or function; operator or function: list_append",
                )),
            }
        }
        ValueExpr::Plus(a, b) | ValueExpr::Minus(a, b) => {
            let (a, b) = (value_of(a, item, bindings)?, value_of(b, item, bindings)?);
            let (Some(x), Some(y)) = (number(&a), number(&b)) else {
                return Err(Refusal::validation(
                    "An operand in the update expression has an incorrect data type",
                ));
            };
            let n = if matches!(expr, ValueExpr::Plus(..)) {
                x + y
            } else {
                x - y
            };
            Ok(json!({"N": format_number(n)}))
        }
    }
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_with_table() -> State {
        let mut state = State::default();
        state.tables.insert(
            "approvals".into(),
            Table {
                partition_key: "execution_id".into(),
                sort_key: Some("step_key".into()),
                items: BTreeMap::new(),
                previous: HashMap::new(),
                indexes: vec![],
            },
        );
        state
    }

    fn claim(token: &str) -> Value {
        json!({"TableName": "approvals",
            "Item": {"execution_id": {"S": "e1"}, "step_key": {"S": "s1"}, "claim": {"S": token}},
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": "execution_id"},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD"})
    }

    #[test]
    fn a_conditional_put_claims_an_item_once() {
        let mut state = state_with_table();
        assert!(put_item(&mut state, &claim("a")).is_ok());
        let lost = put_item(&mut state, &claim("b")).unwrap_err();
        assert_eq!(lost.error_type, "ConditionalCheckFailedException");
        assert_eq!(lost.item.unwrap()["claim"], json!({"S": "a"}));
    }

    #[test]
    fn updates_set_append_add_and_check_conditions() {
        let mut state = state_with_table();
        put_item(&mut state, &claim("a")).unwrap();
        let update = |condition: &str, token: &str| {
            json!({"TableName": "approvals", "Key": {"execution_id": {"S": "e1"}, "step_key": {"S": "s1"}},
                "UpdateExpression": "SET #ts = :ts, decisions = list_append(if_not_exists(decisions, :none), :d), n = if_not_exists(n, :zero) + :one REMOVE claim",
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#ts": "ts"},
                "ExpressionAttributeValues": {":ts": {"S": "171.1"}, ":none": {"L": []},
                    ":d": {"L": [{"S": "approve"}]}, ":zero": {"N": "0"}, ":one": {"N": "1"}, ":t": {"S": token}},
                "ReturnValues": "ALL_NEW"})
        };
        let refused = update_item(
            &mut state,
            &update("claim = :t AND attribute_not_exists(#ts)", "b"),
        )
        .unwrap_err();
        assert_eq!(refused.error_type, "ConditionalCheckFailedException");
        let out = update_item(
            &mut state,
            &update("claim = :t AND attribute_not_exists(#ts)", "a"),
        )
        .unwrap();
        let item = &out["Attributes"];
        assert_eq!(item["ts"], json!({"S": "171.1"}));
        assert_eq!(item["decisions"], json!({"L": [{"S": "approve"}]}));
        assert_eq!(item["n"], json!({"N": "1"}));
        assert!(item.get("claim").is_none());
        let again = update_item(&mut state, &update("NOT (n > :one) OR claim = :t", "x")).unwrap();
        assert_eq!(again["Attributes"]["n"], json!({"N": "2"}));
        assert_eq!(
            again["Attributes"]["decisions"]["L"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn unused_or_undefined_names_and_values_are_refused() {
        let mut state = state_with_table();
        let mut unused = claim("a");
        unused["ExpressionAttributeValues"] = json!({":spare": {"S": "x"}});
        assert!(
            put_item(&mut state, &unused)
                .unwrap_err()
                .message
                .contains("unused")
        );
        let mut undefined = claim("a");
        undefined["ConditionExpression"] = json!("attribute_not_exists(#nope)");
        assert!(
            put_item(&mut state, &undefined)
                .unwrap_err()
                .message
                .contains("not defined")
        );
        let mut broken = claim("a");
        broken["ConditionExpression"] = json!("attribute_not_exists(#pk");
        assert_eq!(
            put_item(&mut state, &broken).unwrap_err().error_type,
            "ValidationException"
        );
    }

    #[test]
    fn reserved_words_must_be_aliased() {
        assert!(
            RESERVED_WORDS.windows(2).all(|w| w[0] < w[1]),
            "sorted, for binary search"
        );
        let mut state = state_with_table();
        let mut bare = claim("a");
        bare["ConditionExpression"] = json!("attribute_not_exists(status)");
        bare.as_object_mut()
            .unwrap()
            .remove("ExpressionAttributeNames");
        assert!(
            put_item(&mut state, &bare)
                .unwrap_err()
                .message
                .contains("reserved keyword: status")
        );
    }

    #[test]
    fn queries_by_partition_and_stale_reads_when_not_consistent() {
        let mut state = state_with_table();
        put_item(&mut state, &claim("a")).unwrap();
        let mut other = claim("b");
        other["Item"]["step_key"] = json!({"S": "s2"});
        put_item(&mut state, &other).unwrap();
        let q = json!({"TableName": "approvals", "KeyConditionExpression": "execution_id = :e",
            "ExpressionAttributeValues": {":e": {"S": "e1"}}});
        assert_eq!(query(&state, &q).unwrap()["Count"], 2);
        state.stale_reads = true;
        let get = |consistent: bool| {
            json!({"TableName": "approvals", "ConsistentRead": consistent,
                "Key": {"execution_id": {"S": "e1"}, "step_key": {"S": "s2"}}})
        };
        assert_eq!(
            get_item(&state, &get(false)).unwrap(),
            json!({}),
            "served stale"
        );
        assert!(get_item(&state, &get(true)).unwrap()["Item"].is_object());
    }
}
