//! Just enough YAML for the two templates: block mappings and sequences, flow sequences,
//! plain and quoted scalars, block scalars (`>`, `|`), comments and CloudFormation's short
//! tags (`!Sub x`, `!If` over a block sequence, `!Not [!Condition C]`). Scalars stay strings.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub enum Yaml {
    Null,
    Str(String),
    Seq(Vec<Yaml>),
    Map(BTreeMap<String, Yaml>),
    Tag(String, Box<Yaml>),
}

impl Yaml {
    pub fn get(&self, key: &str) -> Option<&Yaml> {
        match self {
            Yaml::Map(m) => m.get(key),
            _ => None,
        }
    }

    /// The node at a path of keys, or a panic naming the path.
    pub fn at(&self, path: &[&str]) -> &Yaml {
        path.iter().fold(self, |node, key| {
            node.get(key)
                .unwrap_or_else(|| panic!("no {} in {node:#?}", path.join(".")))
        })
    }

    pub fn str(&self) -> &str {
        match self {
            Yaml::Str(s) => s,
            other => panic!("not a string: {other:#?}"),
        }
    }

    pub fn map(&self) -> &BTreeMap<String, Yaml> {
        match self {
            Yaml::Map(m) => m,
            other => panic!("not a mapping: {other:#?}"),
        }
    }

    /// A sequence's items; a single node stands for a sequence of itself (as IAM reads
    /// `Action: x` and `Statement: {…}`).
    pub fn items(&self) -> Vec<&Yaml> {
        match self {
            Yaml::Seq(items) => items.iter().collect(),
            other => vec![other],
        }
    }

    pub fn strings(&self) -> Vec<String> {
        self.items().iter().map(|i| i.str().to_owned()).collect()
    }

    /// As JSON (scalars as strings, tags as `{"!Tag": value}`), for what takes
    /// CloudFormation's JSON form.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Yaml::Null => Value::Null,
            Yaml::Str(s) => Value::String(s.clone()),
            Yaml::Seq(items) => Value::Array(items.iter().map(Yaml::to_json).collect()),
            Yaml::Map(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
            Yaml::Tag(tag, inner) => serde_json::json!({ tag.as_str(): inner.to_json() }),
        }
    }

    /// Every node of the tree, this one first.
    pub fn walk(&self) -> Vec<&Yaml> {
        let mut all = vec![self];
        match self {
            Yaml::Seq(items) => all.extend(items.iter().flat_map(Yaml::walk)),
            Yaml::Map(m) => all.extend(m.values().flat_map(Yaml::walk)),
            Yaml::Tag(_, inner) => all.extend(inner.walk()),
            Yaml::Null | Yaml::Str(_) => {}
        }
        all
    }
}

pub fn tag(name: &str, inner: Yaml) -> Yaml {
    Yaml::Tag(name.into(), Box::new(inner))
}

/// A template's Rules refuse a deploy where parameter `name` equals any of `others`.
pub fn assert_names_differ(t: &Yaml, name: &str, others: &[&str]) {
    let asserted: Vec<&Yaml> = t
        .at(&["Rules"])
        .map()
        .values()
        .filter(|rule| rule.get("RuleCondition").is_none())
        .flat_map(|rule| rule.at(&["Assertions"]).items())
        .map(|assertion| assertion.at(&["Assert"]))
        .collect();
    let reference = |parameter: &str| tag("!Ref", s(parameter));
    for other in others {
        let differ = tag(
            "!Not",
            Yaml::Seq(vec![tag(
                "!Equals",
                Yaml::Seq(vec![reference(name), reference(other)]),
            )]),
        );
        assert!(asserted.contains(&&differ), "no rule: {name} != {other}");
    }
}

pub fn s(value: &str) -> Yaml {
    Yaml::Str(value.into())
}

pub fn parse(src: &str) -> Yaml {
    let mut p = Parser {
        lines: src.lines().collect(),
        i: 0,
        virtual_line: None,
    };
    let doc = p.node(0);
    assert!(p.current().is_none(), "unparsed from line {}", p.i + 1);
    doc
}

struct Parser<'a> {
    lines: Vec<&'a str>,
    i: usize,
    /// The rest of a `- key: value` item, read as a line of its own at its column.
    virtual_line: Option<(usize, String)>,
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn is_item(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

/// The text before a comment (` #` or a leading `#`, outside quoted scalars; a quote
/// opens a scalar only where one can start, so `app's` is plain text).
fn strip_comment(text: &str) -> &str {
    let (mut quote, mut prev) = (None, ' ');
    let mut chars = text.char_indices();
    while let Some((n, c)) = chars.next() {
        match quote {
            None if c == '#' && prev == ' ' => return text[..n].trim_end(),
            None if matches!(c, '"' | '\'') && matches!(prev, ' ' | '[' | ',') => quote = Some(c),
            Some('"') if c == '\\' => {
                chars.next();
            }
            Some(q) if c == q => quote = None,
            _ => {}
        }
        prev = c;
    }
    text.trim_end()
}

/// `key: rest` (or `key:`) outside quotes and brackets.
fn split_key(text: &str) -> Option<(String, &str)> {
    if text.starts_with(['!', '[', '{', '"', '\'']) {
        return None;
    }
    let n = text
        .char_indices()
        .find(|&(n, c)| c == ':' && text[n + 1..].chars().next().is_none_or(|c| c == ' '))?
        .0;
    Some((text[..n].to_owned(), text[n + 1..].trim()))
}

impl Parser<'_> {
    fn current(&mut self) -> Option<(usize, String)> {
        if let Some(v) = &self.virtual_line {
            return Some(v.clone());
        }
        while let Some(line) = self.lines.get(self.i) {
            let text = strip_comment(line.trim_start());
            if !text.is_empty() {
                return Some((indent(line), text.to_owned()));
            }
            self.i += 1;
        }
        None
    }

    fn advance(&mut self) {
        if self.virtual_line.take().is_none() {
            self.i += 1;
        }
    }

    fn node(&mut self, min: usize) -> Yaml {
        let (ind, text) = self.current().expect("a node");
        assert!(ind >= min, "line {}: indented too little", self.i + 1);
        if is_item(&text) {
            self.seq(ind)
        } else {
            self.map(ind)
        }
    }

    fn map(&mut self, ind: usize) -> Yaml {
        let mut entries = BTreeMap::new();
        while let Some((j, text)) = self.current() {
            if j != ind || is_item(&text) {
                assert!(
                    j < ind || is_item(&text),
                    "line {}: stray indent",
                    self.i + 1
                );
                break;
            }
            let (key, rest) = split_key(&text)
                .unwrap_or_else(|| panic!("line {}: not a key: {text}", self.i + 1));
            let rest = rest.to_owned();
            self.advance();
            let value = self.value(&rest, ind);
            assert!(
                entries.insert(key.clone(), value).is_none(),
                "duplicate key {key}"
            );
        }
        Yaml::Map(entries)
    }

    fn seq(&mut self, ind: usize) -> Yaml {
        let mut items = Vec::new();
        while let Some((j, text)) = self.current() {
            if j != ind || !is_item(&text) {
                break;
            }
            self.advance();
            let rest = text[1..].trim_start();
            let column = ind + text.len() - rest.len();
            items.push(if rest.is_empty() {
                self.node(ind + 1)
            } else if split_key(rest).is_some() {
                self.virtual_line = Some((column, rest.to_owned()));
                self.map(column)
            } else {
                self.value(rest, ind)
            });
        }
        Yaml::Seq(items)
    }

    /// What follows `key:` or `- ` on a line of indent `ind`, and the lines it owns.
    fn value(&mut self, rest: &str, ind: usize) -> Yaml {
        if rest.is_empty() {
            return match self.current() {
                Some((j, text)) if j > ind || (j == ind && is_item(&text)) => self.node(j),
                _ => Yaml::Null,
            };
        }
        if let Some(tagged) = rest.strip_prefix('!') {
            let end = tagged.find([' ', '[']).unwrap_or(tagged.len());
            let inner = self.value(tagged[end..].trim(), ind);
            return tag(&format!("!{}", &tagged[..end]), inner);
        }
        if let Some(style) = rest.strip_prefix(['>', '|']) {
            return self.block_scalar(rest.starts_with('>'), style, ind);
        }
        let chars: Vec<char> = rest.chars().collect();
        let mut pos = 0;
        let value = flow(&chars, &mut pos, false);
        assert_eq!(pos, chars.len(), "unparsed: {rest}");
        // A plain scalar does not continue on the next lines in these templates.
        if let Some((j, _)) = self.current() {
            assert!(j <= ind, "line {}: multi-line plain scalar", self.i + 1);
        }
        value
    }

    fn block_scalar(&mut self, folded: bool, chomp: &str, ind: usize) -> Yaml {
        assert!(self.virtual_line.is_none());
        let mut body: Vec<&str> = Vec::new();
        while let Some(line) = self.lines.get(self.i) {
            if !line.trim().is_empty() && indent(line) <= ind {
                break;
            }
            body.push(line);
            self.i += 1;
        }
        while body.last().is_some_and(|l| l.trim().is_empty()) {
            body.pop();
        }
        let common = body
            .iter()
            .filter(|l| !l.trim().is_empty())
            .map(|l| indent(l))
            .min()
            .unwrap_or(0);
        let lines = body.iter().map(|l| l.get(common..).unwrap_or(""));
        let mut text = String::new();
        if folded {
            // Lines fold into spaces; an empty line is a line break.
            let mut after_text = false;
            for line in lines {
                if line.is_empty() {
                    text.push('\n');
                    after_text = false;
                } else {
                    if after_text {
                        text.push(' ');
                    }
                    text.push_str(line);
                    after_text = true;
                }
            }
        } else {
            text = lines.collect::<Vec<_>>().join("\n");
        }
        if chomp != "-" {
            text.push('\n');
        }
        Yaml::Str(text)
    }
}

/// A flow node: `[…]`, a quoted or plain scalar, or a tagged one. Inside brackets a
/// plain scalar ends at `,` or `]`.
fn flow(c: &[char], pos: &mut usize, in_brackets: bool) -> Yaml {
    while c.get(*pos) == Some(&' ') {
        *pos += 1;
    }
    match c.get(*pos) {
        Some('[') => {
            *pos += 1;
            let mut items = Vec::new();
            loop {
                while c.get(*pos) == Some(&' ') {
                    *pos += 1;
                }
                if c.get(*pos) == Some(&']') {
                    *pos += 1;
                    return Yaml::Seq(items);
                }
                items.push(flow(c, pos, true));
                while c.get(*pos) == Some(&' ') {
                    *pos += 1;
                }
                match c.get(*pos) {
                    Some(',') => *pos += 1,
                    Some(']') => {}
                    other => panic!("flow sequence: {other:?} in {}", String::from_iter(c)),
                }
            }
        }
        Some('{') => panic!("flow mappings are not used: {}", String::from_iter(c)),
        Some('"') => {
            *pos += 1;
            let mut out = String::new();
            loop {
                match c[*pos] {
                    '"' => break,
                    '\\' => {
                        *pos += 1;
                        out.push(match c[*pos] {
                            'n' => '\n',
                            't' => '\t',
                            other => other,
                        });
                    }
                    other => out.push(other),
                }
                *pos += 1;
            }
            *pos += 1;
            Yaml::Str(out)
        }
        Some('\'') => {
            *pos += 1;
            let mut out = String::new();
            loop {
                if c[*pos] == '\'' {
                    if c.get(*pos + 1) == Some(&'\'') {
                        *pos += 1;
                    } else {
                        break;
                    }
                }
                out.push(c[*pos]);
                *pos += 1;
            }
            *pos += 1;
            Yaml::Str(out)
        }
        Some('!') => {
            let start = *pos;
            while !matches!(c.get(*pos), None | Some(' ' | '[' | ',' | ']')) {
                *pos += 1;
            }
            let name = String::from_iter(&c[start..*pos]);
            tag(&name, flow(c, pos, in_brackets))
        }
        _ => {
            let start = *pos;
            while *pos < c.len() && !(in_brackets && matches!(c[*pos], ',' | ']')) {
                *pos += 1;
            }
            Yaml::Str(String::from_iter(&c[start..*pos]).trim().to_owned())
        }
    }
}

/// One deployment of a template: values for its parameters and for the pseudo parameters
/// its conditions read (`AWS::AccountId`, `AWS::Region`), a parameter not given taking its
/// `Default`. It evaluates the template's conditions as CloudFormation does, and resolves
/// `!If` to what that deployment gets.
pub struct Deployment<'a> {
    template: &'a Yaml,
    values: BTreeMap<String, String>,
}

impl<'a> Deployment<'a> {
    pub fn new(template: &'a Yaml, values: &[(&str, &str)]) -> Self {
        Self {
            template,
            values: values
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    fn value(&self, name: &str) -> String {
        self.values.get(name).cloned().unwrap_or_else(|| {
            self.template
                .get("Parameters")
                .and_then(|p| p.get(name))
                .and_then(|p| p.get("Default"))
                .unwrap_or_else(|| panic!("no value for {name}"))
                .str()
                .to_owned()
        })
    }

    /// A scalar operand of `!Equals`: a string, or `!Ref` to a parameter.
    fn scalar(&self, node: &Yaml) -> String {
        match node {
            Yaml::Str(text) => text.clone(),
            Yaml::Tag(name, inner) if name == "!Ref" => self.value(inner.str()),
            other => panic!("not a scalar operand: {other:#?}"),
        }
    }

    /// Whether the named condition holds in this deployment.
    pub fn holds(&self, condition: &str) -> bool {
        self.evaluate(self.template.at(&["Conditions", condition]))
    }

    fn evaluate(&self, node: &Yaml) -> bool {
        let Yaml::Tag(function, inner) = node else {
            panic!("not a condition: {node:#?}")
        };
        let operands = inner.items();
        match function.as_str() {
            "!Condition" => self.holds(inner.str()),
            "!Equals" => {
                assert_eq!(operands.len(), 2, "{node:#?}");
                self.scalar(operands[0]) == self.scalar(operands[1])
            }
            "!Not" => {
                assert_eq!(operands.len(), 1, "{node:#?}");
                !self.evaluate(operands[0])
            }
            "!And" => operands.iter().all(|o| self.evaluate(o)),
            "!Or" => operands.iter().any(|o| self.evaluate(o)),
            other => panic!("not a condition function: {other}"),
        }
    }

    /// Whether a resource (or output) under `Condition` exists in this deployment.
    pub fn creates(&self, resource: &Yaml) -> bool {
        resource
            .get("Condition")
            .is_none_or(|condition| self.holds(condition.str()))
    }

    /// A node as this deployment gets it: each `!If` replaced by its chosen branch, and
    /// `!Ref AWS::NoValue` (None at the top) dropped from sequences and mappings. Other
    /// functions (`!Ref`, `!Sub`, `!GetAtt`) stay as they are.
    pub fn resolve(&self, node: &Yaml) -> Option<Yaml> {
        match node {
            Yaml::Tag(name, inner) if name == "!If" => {
                let branches = inner.items();
                assert_eq!(branches.len(), 3, "{inner:#?}");
                let chosen = if self.holds(branches[0].str()) {
                    branches[1]
                } else {
                    branches[2]
                };
                self.resolve(chosen)
            }
            Yaml::Tag(name, inner) if name == "!Ref" && inner.str() == "AWS::NoValue" => None,
            Yaml::Tag(name, inner) => Some(tag(name, self.resolve(inner)?)),
            Yaml::Seq(items) => Some(Yaml::Seq(
                items.iter().filter_map(|i| self.resolve(i)).collect(),
            )),
            Yaml::Map(entries) => Some(Yaml::Map(
                entries
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), self.resolve(v)?)))
                    .collect(),
            )),
            Yaml::Null | Yaml::Str(_) => Some(node.clone()),
        }
    }
}
