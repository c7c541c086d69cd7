//! A borrowing JSON scanner for the stream payloads: it walks an object's members in order, hands a
//! parser the values it asks for as their literal text (a number as its digits, so nothing passes
//! through `f64`) and skips everything else, validating it as it goes, without allocating (an
//! escaped member name aside).
//!
//! It accepts exactly RFC 8259 JSON: what it calls a syntax error is one for serde_json too.

use std::borrow::Cow;

/// How deep arrays and objects may nest, serde_json's limit: a payload of ten thousand `[` is an
/// error, not a stack overflow.
const MAX_DEPTH: usize = 128;

/// The bytes that end a run of plain string content: the closing quote, an escape, a control
/// character.
const STRING_STOP: [bool; 256] = {
    let mut stop = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        stop[b] = true;
        b += 1;
    }
    stop[b'"' as usize] = true;
    stop[b'\\' as usize] = true;
    stop
};

/// Why a text is not JSON, or not the JSON a parser wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonError {
    /// Not JSON at all: what was expected, at which byte.
    Syntax { at: usize, expected: &'static str },
    /// JSON, but a value of another kind than the one asked for.
    Type { found: &'static str, expected: &'static str },
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JsonError::Syntax { at, expected } => write!(f, "expected {expected} at byte {at}"),
            JsonError::Type { found, expected } => write!(f, "invalid type: {found}, expected {expected}"),
        }
    }
}

/// One value as a parser receives it. Arrays and objects come already skipped: the payload
/// parsers read no nested value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    /// A number's literal text, e.g. `1650.50` or `1e3`.
    Number(&'a str),
    /// A string's contents, unescaped (borrowed when it had no escape).
    Str(Cow<'a, str>),
    Bool(bool),
    Null,
    Array,
    Object,
}

impl Value<'_> {
    /// The kind of value, as a type error names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Number(_) => "number",
            Value::Str(_) => "string",
            Value::Bool(_) => "boolean",
            Value::Null => "null",
            Value::Array => "array",
            Value::Object => "object",
        }
    }

    /// The type error of this value where `expected` was wanted.
    pub fn unexpected(&self, expected: &'static str) -> JsonError {
        JsonError::Type { found: self.kind(), expected }
    }
}

/// A cursor over one JSON text.
pub struct Scanner<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
}

impl<'a> Scanner<'a> {
    pub fn new(text: &'a str) -> Self {
        Scanner { text, pos: 0, depth: 0 }
    }

    /// The byte offset of the next unread byte (after any white space, once a value was read).
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The text between two offsets this scanner handed out.
    pub fn slice(&self, from: usize, to: usize) -> &'a str {
        &self.text[from..to]
    }

    /// The first byte of the next value, after white space, without taking it.
    pub fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.bytes().get(self.pos).copied()
    }

    /// Ends the text: only white space may follow.
    pub fn finish(&mut self) -> Result<(), JsonError> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.syntax("the end of the text")),
        }
    }

    /// Reads an object, calling `member` with each key in order; `member` must read or skip the
    /// value that follows. Anything but an object is a type error (a broken value a syntax error).
    pub fn members(
        &mut self,
        expected: &'static str,
        mut member: impl FnMut(&mut Self, Cow<'a, str>) -> Result<(), JsonError>,
    ) -> Result<(), JsonError> {
        self.container(b'{', expected, |s| {
            let key = s.member_name()?;
            s.peek();
            member(s, key)
        })
    }

    /// Reads an array, calling `element` for each element in order; `element` must read or skip it.
    pub fn elements(&mut self, element: impl FnMut(&mut Self) -> Result<(), JsonError>) -> Result<(), JsonError> {
        self.container(b'[', "an array", element)
    }

    /// Reads the next value; an array or an object is skipped (and validated).
    pub fn value(&mut self) -> Result<Value<'a>, JsonError> {
        match self.peek() {
            Some(b'"') => self.string().map(Value::Str),
            Some(b'{') => self.skip().map(|()| Value::Object),
            Some(b'[') => self.skip().map(|()| Value::Array),
            Some(b't') => self.word("true").map(|()| Value::Bool(true)),
            Some(b'f') => self.word("false").map(|()| Value::Bool(false)),
            Some(b'n') => self.word("null").map(|()| Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number().map(Value::Number),
            _ => Err(self.syntax("a value")),
        }
    }

    /// Skips the next value, validating it; nothing is unescaped or kept. Iterative, the open
    /// containers a bit stack (1 for an object): skipping is most of a snapshot's bytes.
    pub fn skip(&mut self) -> Result<(), JsonError> {
        let (mut open, mut depth) = (0u128, 0usize);
        loop {
            match self.peek() {
                Some(c @ (b'[' | b'{')) => {
                    if self.depth + depth == MAX_DEPTH {
                        return Err(self.syntax("at most 128 levels of nesting"));
                    }
                    let object = c == b'{';
                    self.pos += 1;
                    if self.peek() != Some(if object { b'}' } else { b']' }) {
                        (open, depth) = (open << 1 | u128::from(object), depth + 1);
                        if object {
                            drop(self.member_name()?);
                        }
                        continue;
                    }
                    self.pos += 1;
                }
                Some(b'"') => drop(self.string_end()?),
                // Numbers are most of what is skipped: straight to them, not through `value`.
                Some(b'-' | b'0'..=b'9') => drop(self.number()?),
                _ => drop(self.value()?),
            }
            loop {
                if depth == 0 {
                    return Ok(());
                }
                let object = open & 1 == 1;
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        if object {
                            drop(self.member_name()?);
                        }
                        break;
                    }
                    Some(b'}') if object => {}
                    Some(b']') if !object => {}
                    _ => return Err(self.syntax(separator(if object { b'}' } else { b']' }))),
                }
                self.pos += 1;
                (open, depth) = (open >> 1, depth - 1);
            }
        }
    }

    /// An object or an array at `open` (else the error `not_a` gives), calling `item` for each
    /// member or element, which must read or skip it.
    fn container(
        &mut self,
        open: u8,
        expected: &'static str,
        mut item: impl FnMut(&mut Self) -> Result<(), JsonError>,
    ) -> Result<(), JsonError> {
        if self.peek() != Some(open) {
            return Err(self.not_a(expected));
        }
        let close = if open == b'{' { b'}' } else { b']' };
        self.enter()?;
        if self.peek() != Some(close) {
            loop {
                self.peek();
                item(self)?;
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(c) if c == close => break,
                    _ => return Err(self.syntax(separator(close))),
                }
            }
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(())
    }

    /// A member's name and its `:`.
    fn member_name(&mut self) -> Result<Cow<'a, str>, JsonError> {
        if self.peek() != Some(b'"') {
            return Err(self.syntax("a member name"));
        }
        let name = self.string()?;
        if self.peek() != Some(b':') {
            return Err(self.syntax("`:`"));
        }
        self.pos += 1;
        Ok(name)
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn skip_space(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes().get(self.pos) {
            self.pos += 1;
        }
    }

    fn syntax(&self, expected: &'static str) -> JsonError {
        JsonError::Syntax { at: self.pos, expected }
    }

    /// The error for a value that is not the `expected` container: a type error when the value is
    /// well formed, else the syntax error inside it.
    fn not_a(&mut self, expected: &'static str) -> JsonError {
        match self.value() {
            Ok(found) => found.unexpected(expected),
            Err(e) => e,
        }
    }

    fn enter(&mut self) -> Result<(), JsonError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.syntax("at most 128 levels of nesting"));
        }
        self.pos += 1;
        Ok(())
    }

    fn word(&mut self, word: &'static str) -> Result<(), JsonError> {
        if self.bytes()[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.syntax(word))
        }
    }

    /// A number by JSON's grammar: `-`? (`0` | [1-9][0-9]*) (`.` [0-9]+)? ([eE] [+-]? [0-9]+)?
    fn number(&mut self) -> Result<&'a str, JsonError> {
        let bytes = self.bytes();
        let start = self.pos;
        let mut pos = start + usize::from(bytes.get(start) == Some(&b'-'));
        match bytes.get(pos) {
            Some(b'0') => pos += 1,
            Some(b'1'..=b'9') => pos = digits(bytes, pos + 1),
            _ => return Err(JsonError::Syntax { at: pos, expected: "a digit" }),
        }
        if bytes.get(pos) == Some(&b'.') {
            pos = some_digits(bytes, pos + 1)?;
        }
        if let Some(b'e' | b'E') = bytes.get(pos) {
            pos += 1;
            if let Some(b'+' | b'-') = bytes.get(pos) {
                pos += 1;
            }
            pos = some_digits(bytes, pos)?;
        }
        self.pos = pos;
        Ok(&self.text[start..pos])
    }

    /// A string at `"`: borrowed when it holds no escape, else unescaped by serde_json.
    fn string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        let start = self.pos;
        if !self.string_end()? {
            return Ok(Cow::Borrowed(&self.text[start + 1..self.pos - 1]));
        }
        serde_json::from_str(&self.text[start..self.pos])
            .map(Cow::Owned)
            .map_err(|_| JsonError::Syntax { at: start, expected: "a valid escape" })
    }

    /// Moves past the string at `"`, validating it; whether it held an escape.
    fn string_end(&mut self) -> Result<bool, JsonError> {
        let bytes = self.bytes();
        let mut pos = self.pos + 1;
        let mut escaped = false;
        loop {
            while pos < bytes.len() && !STRING_STOP[usize::from(bytes[pos])] {
                pos += 1;
            }
            self.pos = pos;
            match bytes.get(pos) {
                None => return Err(self.syntax("the string's closing `\"`")),
                Some(b'"') => {
                    self.pos = pos + 1;
                    return Ok(escaped);
                }
                Some(b'\\') => {
                    escaped = true;
                    self.escape()?;
                    pos = self.pos;
                }
                Some(_) => return Err(self.syntax("no control character in a string")),
            }
        }
    }

    fn escape(&mut self) -> Result<(), JsonError> {
        self.pos += 1;
        match self.bytes().get(self.pos) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.pos += 1,
            Some(b'u') => {
                let hex = self.bytes().get(self.pos + 1..self.pos + 5);
                if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                    return Err(self.syntax("four hex digits"));
                }
                self.pos += 5;
            }
            _ => return Err(self.syntax("an escape")),
        }
        Ok(())
    }
}

/// What may follow a value inside the container that `close` ends.
fn separator(close: u8) -> &'static str {
    if close == b'}' {
        "`,` or `}`"
    } else {
        "`,` or `]`"
    }
}

/// The end of the run of digits from `pos`, eight bytes at a time where the text allows.
fn digits(bytes: &[u8], mut pos: usize) -> usize {
    while let Some(word) = bytes.get(pos..pos + 8) {
        let x = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        // A byte's high bit is set here unless it is `0`..=`9`; borrows and carries start only at
        // a byte that is not a digit, so the lowest set bit marks the first one exactly.
        let not_digit =
            (x.wrapping_sub(0x3030_3030_3030_3030) | x.wrapping_add(0x4646_4646_4646_4646)) & 0x8080_8080_8080_8080;
        if not_digit != 0 {
            return pos + not_digit.trailing_zeros() as usize / 8;
        }
        pos += 8;
    }
    while bytes.get(pos).is_some_and(u8::is_ascii_digit) {
        pos += 1;
    }
    pos
}

/// The end of the run of digits from `pos`, which must hold at least one.
fn some_digits(bytes: &[u8], pos: usize) -> Result<usize, JsonError> {
    match digits(bytes, pos) {
        end if end == pos => Err(JsonError::Syntax { at: pos, expected: "a digit" }),
        end => Ok(end),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(text: &str) -> Result<Vec<(String, Value<'_>)>, JsonError> {
        let mut s = Scanner::new(text);
        let mut out = Vec::new();
        s.members("an object", |s, k| {
            out.push((k.into_owned(), s.value()?));
            Ok(())
        })?;
        s.finish()?;
        Ok(out)
    }

    #[test]
    fn members_come_in_order_with_literal_numbers_and_skipped_containers() {
        let got =
            members(r#" {"a":1650.50, "b" : "x\ny", "c":[1,[2,{"d":null}]],"e":{},"f":true,"g":null,"h":-0e+5} "#);
        let want = [
            ("a", Value::Number("1650.50")),
            ("b", Value::Str("x\ny".into())),
            ("c", Value::Array),
            ("e", Value::Object),
            ("f", Value::Bool(true)),
            ("g", Value::Null),
            ("h", Value::Number("-0e+5")),
        ];
        assert_eq!(got.unwrap(), want.map(|(k, v)| (k.to_owned(), v)));
    }

    #[test]
    fn an_escaped_key_is_unescaped() {
        assert_eq!(members(r#"{"last\u0050rice":1}"#).unwrap()[0].0, "lastPrice");
    }

    #[test]
    fn whatever_serde_json_refuses_as_syntax_is_a_syntax_error_here() {
        for bad in [
            "",
            "{",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":.5}",
            "{\"a\":1e}",
            "{\"a\":-}",
            "{\"a\":tru}",
            "{\"a\":\"x}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\\u12\"}",
            "{\"a\":[1,]}",
            "{\"a\":[1 2]}",
            "{\"a\":1} x",
            "{\"a\":\"\u{1}\"}",
            "{'a':1}",
            "{\"a\":+1}",
            "{\"a\":NaN}",
        ] {
            assert!(serde_json::from_str::<serde_json::Value>(bad).is_err(), "serde_json takes {bad:?}");
            assert!(matches!(members(bad), Err(JsonError::Syntax { .. })), "{bad:?}: {:?}", members(bad));
        }
    }

    #[test]
    fn another_value_where_an_object_belongs_is_a_type_error() {
        for (text, found) in [("[1,2]", "array"), ("5", "number"), ("\"x\"", "string"), ("null", "null")] {
            assert_eq!(members(text), Err(JsonError::Type { found, expected: "an object" }));
        }
    }

    #[test]
    fn digit_runs_end_at_the_first_other_byte_whatever_follows() {
        for text in
            ["", "1", "12345678", "123456789", "1234567.", "12345678901234567x9", "0\u{ff}99999999", "9/999999999"]
        {
            let bytes = text.as_bytes();
            let want = bytes.iter().position(|b| !b.is_ascii_digit()).unwrap_or(bytes.len());
            assert_eq!(digits(bytes, 0), want, "{text:?}");
        }
        for b in 0..=255u8 {
            let word = [b'1', b'2', b, b'3', b'4', b'5', b'6', b'7', b'8'];
            assert_eq!(digits(&word, 0), if b.is_ascii_digit() { 9 } else { 2 }, "byte {b}");
        }
    }

    #[test]
    fn nesting_is_bounded_not_a_stack_overflow() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(members(&deep), Err(JsonError::Syntax { .. })));
        let fine = format!("{{\"a\":{}{}}}", "[".repeat(100), "]".repeat(100));
        assert_eq!(members(&fine).unwrap()[0].1, Value::Array);
    }
}
