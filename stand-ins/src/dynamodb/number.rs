//! Numbers as DynamoDB holds them: exact decimals of up to 38 significant digits,
//! magnitudes from 1E-130 to 9.99…E+125, leading and trailing zeroes trimmed. Never
//! a float: 9007199254740993 + 1 is 9007199254740994.

use std::cmp::Ordering;

use serde_json::Value;

use super::Refusal;

const MAX_DIGITS: usize = 38;
/// The decimal exponents of the largest and smallest magnitudes DynamoDB holds.
const MAX_EXPONENT: i64 = 125;
const MIN_EXPONENT: i64 = -130;

/// An exact decimal: `digits` × 10^`scale`, `digits` without leading or trailing
/// zeroes (none at all: zero).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Number {
    negative: bool,
    digits: Vec<u8>,
    scale: i64,
}

fn not_numeric(text: &str) -> Refusal {
    Refusal::validation(&format!(
        "The parameter cannot be converted to a numeric value: {text}"
    ))
}

impl Number {
    /// A number as DynamoDB reads one (`-1.50e3`, `+7`, `.5`), refused as DynamoDB
    /// refuses it when it is not a number or out of its range.
    pub(crate) fn parse(text: &str) -> Result<Self, Refusal> {
        let (negative, rest) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(at) => (&rest[..at], Some(&rest[at + 1..])),
            None => (rest, None),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.len() + fraction.len() == 0 || !all_digits(whole) || !all_digits(fraction) {
            return Err(not_numeric(text));
        }
        let exponent: i64 = match exponent {
            None => 0,
            Some(e) => {
                let unsigned = e.strip_prefix(['+', '-']).unwrap_or(e);
                if unsigned.is_empty() || !all_digits(unsigned) || unsigned.len() > 9 {
                    return Err(not_numeric(text));
                }
                e.parse().map_err(|_| not_numeric(text))?
            }
        };
        let digits: Vec<u8> = whole
            .bytes()
            .chain(fraction.bytes())
            .map(|b| b - b'0')
            .collect();
        let fraction_len = i64::try_from(fraction.len()).map_err(|_| not_numeric(text))?;
        let number = Self::normalized(negative, digits, exponent - fraction_len);
        number.check()?;
        Ok(number)
    }

    fn normalized(negative: bool, mut digits: Vec<u8>, mut scale: i64) -> Self {
        let leading = digits.iter().take_while(|d| **d == 0).count();
        digits.drain(..leading);
        while digits.last() == Some(&0) {
            digits.pop();
            scale += 1;
        }
        let zero = digits.is_empty();
        Self {
            negative: negative && !zero,
            digits,
            scale: if zero { 0 } else { scale },
        }
    }

    /// The decimal exponent of the most significant digit.
    fn exponent(&self) -> i64 {
        self.scale + i64::try_from(self.digits.len()).unwrap_or(i64::MAX) - 1
    }

    /// Refused as DynamoDB refuses a number it cannot hold.
    pub(crate) fn check(&self) -> Result<(), Refusal> {
        if self.digits.len() > MAX_DIGITS {
            return Err(Refusal::validation(
                "Attempting to store more than 38 significant digits in a Number",
            ));
        }
        if self.digits.is_empty() {
            return Ok(());
        }
        if self.exponent() > MAX_EXPONENT {
            return Err(Refusal::validation(
                "Number overflow. Attempting to store a number with magnitude larger than supported range",
            ));
        }
        if self.exponent() < MIN_EXPONENT {
            return Err(Refusal::validation(
                "Number underflow. Attempting to store a number with magnitude smaller than supported range",
            ));
        }
        Ok(())
    }

    /// The number's digits at `scale` (which is at most its own).
    fn digits_at(&self, scale: i64) -> Vec<u8> {
        let zeroes = usize::try_from(self.scale - scale).unwrap_or_default();
        let mut digits = self.digits.clone();
        digits.extend(std::iter::repeat_n(0, zeroes));
        digits
    }

    /// The exact sum, refused if DynamoDB could not hold it.
    pub(crate) fn add(&self, other: &Self) -> Result<Self, Refusal> {
        // Numbers DynamoDB holds are at most ~256 digits apart: exact sums stay small.
        let scale = self.scale.min(other.scale);
        let (a, b) = (self.digits_at(scale), other.digits_at(scale));
        let sum = if self.negative == other.negative {
            Self::normalized(self.negative, add_magnitudes(&a, &b), scale)
        } else {
            match compare_magnitudes(&a, &b) {
                Ordering::Less => {
                    Self::normalized(other.negative, subtract_magnitudes(&b, &a), scale)
                }
                _ => Self::normalized(self.negative, subtract_magnitudes(&a, &b), scale),
            }
        };
        sum.check()?;
        Ok(sum)
    }

    pub(crate) fn negated(&self) -> Self {
        Self {
            negative: !self.negative && !self.digits.is_empty(),
            ..self.clone()
        }
    }

    /// DynamoDB's canonical text: plain decimal notation, no superfluous zeroes.
    pub(crate) fn text(&self) -> String {
        if self.digits.is_empty() {
            return "0".into();
        }
        let digits: String = self.digits.iter().map(|d| char::from(b'0' + d)).collect();
        let sign = if self.negative { "-" } else { "" };
        let len = i64::try_from(digits.len()).unwrap_or(i64::MAX);
        let text = if self.scale >= 0 {
            let zeroes = usize::try_from(self.scale).unwrap_or_default();
            format!("{digits}{}", "0".repeat(zeroes))
        } else if -self.scale < len {
            let point = usize::try_from(len + self.scale).unwrap_or_default();
            format!("{}.{}", &digits[..point], &digits[point..])
        } else {
            let zeroes = usize::try_from(-self.scale - len).unwrap_or_default();
            format!("0.{}{digits}", "0".repeat(zeroes))
        };
        format!("{sign}{text}")
    }

    /// DynamoDB's size of the number: one byte per two significant digits, plus one.
    pub(crate) fn size(&self) -> usize {
        self.digits.len().div_ceil(2) + 1
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        let sign = |n: &Self| match (n.negative, n.digits.is_empty()) {
            (_, true) => 0,
            (true, _) => -1,
            (false, _) => 1,
        };
        let magnitude = || {
            self.exponent()
                .cmp(&other.exponent())
                // Same exponent: digit by digit; with no trailing zeroes, a prefix is less.
                .then_with(|| self.digits.cmp(&other.digits))
        };
        match sign(self).cmp(&sign(other)) {
            Ordering::Equal => match sign(self) {
                0 => Ordering::Equal,
                1 => magnitude(),
                _ => magnitude().reverse(),
            },
            order => order,
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn compare_magnitudes(a: &[u8], b: &[u8]) -> Ordering {
    let trim = |d: &[u8]| d.iter().position(|x| *x != 0).map_or(0, |p| d.len() - p);
    trim(a)
        .cmp(&trim(b))
        .then_with(|| a[a.len() - trim(a)..].cmp(&b[b.len() - trim(b)..]))
}

fn add_magnitudes(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![];
    let (mut i, mut j, mut carry) = (a.len(), b.len(), 0);
    while i > 0 || j > 0 || carry > 0 {
        let x = if i > 0 { a[i - 1] } else { 0 };
        let y = if j > 0 { b[j - 1] } else { 0 };
        let s = x + y + carry;
        out.push(s % 10);
        carry = s / 10;
        i = i.saturating_sub(1);
        j = j.saturating_sub(1);
    }
    out.reverse();
    out
}

/// `a` - `b`, `a` being the larger.
fn subtract_magnitudes(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![];
    let (mut j, mut borrow) = (b.len(), 0);
    for &x in a.iter().rev() {
        let y = if j > 0 { b[j - 1] } else { 0 } + borrow;
        j = j.saturating_sub(1);
        if x >= y {
            out.push(x - y);
            borrow = 0;
        } else {
            out.push(x + 10 - y);
            borrow = 1;
        }
    }
    out.reverse();
    out
}

/// A number value (`{"N": …}`) as a number; `None` for any other value.
pub(crate) fn number(value: &Value) -> Option<Number> {
    Number::parse(value.get("N")?.as_str()?).ok()
}

/// `value` as DynamoDB stores it: every number (`N`, `NS`, within lists and maps)
/// checked and in its canonical text, refused as DynamoDB refuses it.
pub(crate) fn canonical(value: &Value) -> Result<Value, Refusal> {
    let Some(object) = value.as_object() else {
        return Ok(value.clone());
    };
    let mut out = object.clone();
    for (kind, inner) in &mut out {
        match kind.as_str() {
            "N" => {
                let text = inner
                    .as_str()
                    .ok_or_else(|| not_numeric(&inner.to_string()))?;
                *inner = Value::String(Number::parse(text)?.text());
            }
            "NS" => {
                for n in inner.as_array_mut().into_iter().flatten() {
                    let text = n.as_str().ok_or_else(|| not_numeric(&n.to_string()))?;
                    *n = Value::String(Number::parse(text)?.text());
                }
            }
            "L" => {
                for v in inner.as_array_mut().into_iter().flatten() {
                    *v = canonical(v)?;
                }
            }
            "M" => {
                for v in inner
                    .as_object_mut()
                    .into_iter()
                    .flat_map(|m| m.values_mut())
                {
                    *v = canonical(v)?;
                }
            }
            _ => {}
        }
    }
    Ok(Value::Object(out))
}

/// Every attribute of an item (or of `ExpressionAttributeValues`) canonical.
pub(crate) fn canonical_attributes(
    attributes: &serde_json::Map<String, Value>,
) -> Result<serde_json::Map<String, Value>, Refusal> {
    attributes
        .iter()
        .map(|(name, v)| Ok((name.clone(), canonical(v)?)))
        .collect()
}

/// Refused as DynamoDB refuses a request whose `ExpressionAttributeValues` hold a
/// number it cannot hold, even one no expression uses.
pub(crate) fn check_expression_values(input: &Value) -> Result<(), Refusal> {
    if let Some(values) = input["ExpressionAttributeValues"].as_object() {
        canonical_attributes(values)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(text: &str) -> Number {
        Number::parse(text).unwrap()
    }

    fn refusal(text: &str) -> String {
        Number::parse(text).unwrap_err().message
    }

    #[test]
    fn numbers_are_exact_decimals_in_canonical_text() {
        assert_eq!(
            n("9007199254740993").add(&n("1")).unwrap().text(),
            "9007199254740994"
        );
        assert_eq!(n("0.1").add(&n("0.2")).unwrap().text(), "0.3");
        assert_eq!(n("5").add(&n("-7.25")).unwrap().text(), "-2.25");
        assert_eq!(n("-5").add(&n("5")).unwrap().text(), "0");
        assert_eq!(n("007.50").text(), "7.5");
        assert_eq!(n("1.5e3").text(), "1500");
        assert_eq!(n("-0.00").text(), "0");
        assert_eq!(n(".05").text(), "0.05");
        assert_eq!(n("+12E-4").text(), "0.0012");
        let max = "9.9999999999999999999999999999999999999E+125";
        assert_eq!(n(max).size(), 20);
        assert!(n("9007199254740993") > n("9007199254740992"));
        assert!(n("-2") < n("-1.5") && n("-1.5") < n("0") && n("0") < n("1E-130"));
        assert!(n("10") > n("9.99") && n("1.25") > n("1.2"));
        assert_eq!(n("1.0").cmp(&n("1")), Ordering::Equal);
    }

    #[test]
    fn numbers_dynamodb_cannot_hold_are_refused() {
        assert!(Number::parse("12345678901234567890123456789012345678").is_ok());
        assert_eq!(
            refusal("123456789012345678901234567890123456789"),
            "Attempting to store more than 38 significant digits in a Number"
        );
        assert!(refusal("-1.23456789012345678901234567890123456789").contains("38 significant"));
        assert!(refusal("1E126").starts_with("Number overflow."));
        assert!(refusal("-1E126").starts_with("Number overflow."));
        assert!(refusal("1E-131").starts_with("Number underflow."));
        assert!(Number::parse("1E-130").is_ok() && Number::parse("9.9E125").is_ok());
        for text in [
            "", "-", "abc", "1.2.3", "1e", "e5", "0x10", "1 ", "NaN", "Infinity",
        ] {
            assert!(refusal(text).contains("cannot be converted"), "{text:?}");
        }
        // 38 nines plus one: 39 digits.
        let nines = n(&"9".repeat(38));
        assert!(nines.add(&n("1")).is_ok(), "1E38: one significant digit");
        assert!(
            nines
                .add(&n("0.1"))
                .unwrap_err()
                .message
                .contains("38 significant")
        );
        assert!(
            n("9E125")
                .add(&n("1E125"))
                .unwrap_err()
                .message
                .starts_with("Number overflow.")
        );
    }
}
