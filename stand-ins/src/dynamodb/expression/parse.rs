//! Expressions tokenized and parsed: conditions, and the parser update expressions share.

use crate::dynamodb::Refusal;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    Word(String),
    Name(String),
    Value(String),
    Op(String),
    Open,
    Close,
    Comma,
    /// `.` in a document path.
    Dot,
    /// `[` and `]` around a list index in a document path.
    OpenBracket,
    CloseBracket,
}

pub(crate) fn tokenize(text: &str) -> Result<Vec<Token>, Refusal> {
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
            ',' | '.' | '[' | ']' => {
                tokens.push(match c {
                    ',' => Token::Comma,
                    '.' => Token::Dot,
                    '[' => Token::OpenBracket,
                    _ => Token::CloseBracket,
                });
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
pub(crate) enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    Path(String),
    Value(String),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cond {
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

pub(crate) struct Parser<'a> {
    pub(crate) tokens: &'a [Token],
    pub(crate) at: usize,
}

impl Parser<'_> {
    pub(super) fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    pub(super) fn next(&mut self) -> Result<Token, Refusal> {
        let t = self
            .tokens
            .get(self.at)
            .cloned()
            .ok_or_else(|| Refusal::validation("Invalid expression: unexpected end"))?;
        self.at += 1;
        Ok(t)
    }

    pub(super) fn expect(&mut self, token: &Token) -> Result<(), Refusal> {
        match self.next()? {
            t if &t == token => Ok(()),
            t => Err(Refusal::validation(&format!(
                "Invalid expression: expected {token:?}, found {t:?}"
            ))),
        }
    }

    pub(super) fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    pub(super) fn end(&self) -> Result<(), Refusal> {
        match self.peek() {
            None => Ok(()),
            Some(t) => Err(Refusal::validation(&format!(
                "Invalid expression: unexpected {t:?}"
            ))),
        }
    }

    pub(super) fn or_expr(&mut self) -> Result<Cond, Refusal> {
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

    pub(super) fn path(&mut self) -> Result<String, Refusal> {
        match self.next()? {
            Token::Name(n) | Token::Word(n) => Ok(n),
            t => Err(Refusal::validation(&format!(
                "Invalid expression: expected an attribute, found {t:?}"
            ))),
        }
    }

    pub(super) fn operand(&mut self) -> Result<Operand, Refusal> {
        match self.next()? {
            Token::Value(v) => Ok(Operand::Value(v)),
            Token::Name(n) | Token::Word(n) => Ok(Operand::Path(n)),
            t => Err(Refusal::validation(&format!(
                "Invalid expression: expected an operand, found {t:?}"
            ))),
        }
    }
}
