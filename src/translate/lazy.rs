//! JSON read lazily and written straight out, for request bodies of any size.
//!
//! A [`Json`] value is its own text, borrowed from the request, until the translation looks inside
//! it: [`Json::object`] lists an object's members (their texts, again borrowed), [`Json::array`] an
//! array's items, and a string is copied only when it has escapes. Parts the translation passes on
//! unread (a tool's schema, a number) are written out as the client sent them. What comes out goes
//! into the body through [`JsonWriter`] as it is read: messages and their parts member by member,
//! small fixed values as an [`Out`]. So a request costs little more than its own bytes and the
//! translated body, whatever its shape: a tree of
//! `serde_json::Value`s costs from a few times to forty times the text it was read from.

use crate::json_check::{self, JsonError};
use serde_json::value::RawValue;
use std::borrow::Cow;

/// A JSON value not read yet: its text, borrowed. The whole document was checked once when it was
/// parsed, so looking inside a value only finds where its parts begin and end.
#[derive(Clone, Copy, Debug)]
pub struct Json<'a> {
    text: &'a str,
    /// Where the document's objects and arrays end, when it was read as a [`Document`]: a value
    /// inside then skips a nested object in one look-up instead of reading through it.
    ends: Option<&'a Ends>,
    /// Which of `ends`' spans is this object's or array's ([`NO_SPAN`] when not known): the
    /// objects and arrays nested in it are the spans after it, so a look-up starts there. For a
    /// string, [`PLAIN_STRING`] when it is known to have no escapes.
    span: u32,
}

/// The span of a value whose span is not known (it is no object or array, or not of a
/// [`Document`]).
const NO_SPAN: u32 = u32::MAX;

/// The "span" of a string the reader found has no escapes: its text is what lies between its
/// quotes, with no search for a backslash. (No document has this many objects and arrays.)
const PLAIN_STRING: u32 = u32::MAX - 1;

impl<'a> From<&'a RawValue> for Json<'a> {
    /// A value serde_json checked.
    fn from(raw: &'a RawValue) -> Json<'a> {
        Json::checked(raw.get())
    }
}

/// `null`, the value of every member an object does not have.
pub const NULL: Json<'static> = Json::checked("null");

/// `{}`, the input of a tool call without arguments.
pub const EMPTY_OBJECT: Json<'static> = Json::checked("{}");

impl<'a> Json<'a> {
    /// A whole document; an error when it is not one JSON value.
    pub fn parse(bytes: &'a [u8]) -> Result<Json<'a>, serde_json::Error> {
        serde_json::from_slice::<&RawValue>(bytes).map(|raw| Json::checked(raw.get()))
    }

    /// JSON text that was checked.
    const fn checked(text: &'a str) -> Json<'a> {
        Json {
            text,
            ends: None,
            span: NO_SPAN,
        }
    }

    /// The value's text, as the client wrote it.
    pub fn text(self) -> &'a str {
        self.text
    }

    fn first(self) -> u8 {
        self.text.as_bytes().first().copied().unwrap_or(b'n')
    }

    pub fn is_null(self) -> bool {
        self.text == "null"
    }

    pub fn is_object(self) -> bool {
        self.first() == b'{'
    }

    /// The string, borrowed when it has no escapes; `None` for any other value.
    pub fn as_str(self) -> Option<Cow<'a, str>> {
        if self.first() != b'"' {
            return None;
        }
        if self.span == PLAIN_STRING {
            let inner = self.text.get(1..self.text.len() - 1)?;
            return Some(Cow::Borrowed(inner));
        }
        string_text(self.text)
    }

    /// The string as a [`Text`] that keeps its JSON text, to be written out as the client wrote
    /// it; `None` for any other value, or for a string whose escapes do not decode (a UTF-16
    /// surrogate without its pair), as [`Json::as_str`] refuses it.
    pub fn as_text(self) -> Option<Text<'a>> {
        let inner = self.text.strip_prefix('"')?.strip_suffix('"')?;
        // Only a `\u` escape of a surrogate can fail to decode; checking one costs no copy, and a
        // document that has none anywhere spares each of its strings the look.
        let may_escape_surrogates = !self.ends.is_some_and(|ends| ends.surrogate_free);
        if may_escape_surrogates
            && UNICODE_ESCAPE.find(inner.as_bytes()).is_some()
            && !escapes_decode(inner)
        {
            return None;
        }
        Some(Text(Carried::Json(Cow::Borrowed(self.text))))
    }

    pub fn as_bool(self) -> Option<bool> {
        match self.text {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }

    /// A non-negative integer (not one written with a fraction or exponent).
    pub fn as_u64(self) -> Option<u64> {
        self.is_number()
            .then(|| serde_json::from_str::<u64>(self.text).ok())
            .flatten()
    }

    pub fn as_f64(self) -> Option<f64> {
        self.is_number()
            .then(|| serde_json::from_str::<f64>(self.text).ok())
            .flatten()
    }

    fn is_number(self) -> bool {
        matches!(self.first(), b'-' | b'0'..=b'9')
    }

    /// An object's members, in order; `None` for any other value.
    pub fn object(self) -> Option<Object<'a>> {
        if self.first() != b'{' {
            return None;
        }
        // Room for the members most objects have (a content block, a message, a chunk and its
        // choice hold two to seven), in one allocation rather than a growth per few.
        let mut members = Vec::with_capacity(8);
        let mut parts = Parts::new(self, b'}')?;
        while let Some(key) = parts.next()? {
            let key = key.as_str()?;
            parts.expect(b':')?;
            members.push((key, parts.value()?));
        }
        Some(Object { members })
    }

    /// A string, or an array's strings (anything else in it left out): the lists APIs let a
    /// client write as one value or many (`stop`, `stop_sequences`).
    pub fn strings(self) -> Vec<Cow<'a, str>> {
        match self.as_str() {
            Some(one) => vec![one],
            None => self
                .array()
                .unwrap_or_default()
                .into_iter()
                .filter_map(Json::as_str)
                .collect(),
        }
    }

    /// An array's items, in order; `None` for any other value.
    pub fn array(self) -> Option<Vec<Json<'a>>> {
        if self.first() != b'[' {
            return None;
        }
        let mut items = Vec::new();
        let mut parts = Parts::new(self, b']')?;
        while let Some(item) = parts.next()? {
            items.push(item);
        }
        Some(items)
    }

    /// An array's first item (`null` when it has none, or when this is no array), without
    /// finding the others.
    pub fn first_item(self) -> Json<'a> {
        if self.first() != b'[' {
            return NULL;
        }
        Parts::new(self, b']')
            .and_then(|mut parts| parts.next())
            .flatten()
            .unwrap_or(NULL)
    }

    /// The member `key` of an object (`null` when absent, or when this is no object). Each call
    /// reads the object's members anew: for several members, read them once with [`Json::object`].
    pub fn get(self, key: &str) -> Json<'a> {
        self.object().map_or(NULL, |o| o.field(key))
    }

    /// The value as compact JSON text: the client's, without the spaces between tokens.
    pub fn compact(self) -> Cow<'a, str> {
        let text = self.text;
        let mut in_string = false;
        let mut escaped = false;
        let mut out: Option<String> = None;
        for (i, c) in text.char_indices() {
            let keep = if in_string {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    in_string = false;
                }
                true
            } else {
                in_string = c == '"';
                !c.is_ascii_whitespace()
            };
            if let Some(out) = out.as_mut() {
                if keep {
                    out.push(c);
                }
            } else if !keep {
                out = Some(text[..i].to_string());
            }
        }
        out.map_or(Cow::Borrowed(text), Cow::Owned)
    }
}

/// A JSON string's text (`"…"`, quotes included) as the string: what lies between the quotes
/// when it has no escapes, else unescaped.
fn string_text(text: &str) -> Option<Cow<'_, str>> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    match memchr::memchr(b'\\', inner.as_bytes()) {
        None => Some(Cow::Borrowed(inner)),
        Some(first) => unescaped(inner, first).map(Cow::Owned),
    }
}

/// The text between a checked JSON string's quotes with its escapes decoded, the first at
/// `first`: written into one allocation of the escaped length (never shorter than the result),
/// the runs between escapes copied whole. `None` for an escape JSON does not have, or a UTF-16
/// surrogate without its pair (as serde_json refuses it).
fn unescaped(inner: &str, first: usize) -> Option<String> {
    let bytes = inner.as_bytes();
    let mut out = String::with_capacity(inner.len());
    let mut copied = 0;
    let mut at = first;
    loop {
        out.push_str(inner.get(copied..at)?);
        let (c, len) = match *bytes.get(at + 1)? {
            b'"' => ('"', 2),
            b'\\' => ('\\', 2),
            b'/' => ('/', 2),
            b'b' => ('\u{8}', 2),
            b'f' => ('\u{c}', 2),
            b'n' => ('\n', 2),
            b'r' => ('\r', 2),
            b't' => ('\t', 2),
            b'u' => {
                let unit = |from: usize| -> Option<u32> {
                    u32::from_str_radix(inner.get(from..from + 4)?, 16).ok()
                };
                let high = unit(at + 2)?;
                match high {
                    0xD800..=0xDBFF => {
                        if bytes.get(at + 6..at + 8)? != b"\\u" {
                            return None;
                        }
                        let low = unit(at + 8)?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return None;
                        }
                        let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                        (char::from_u32(code)?, 12)
                    }
                    0xDC00..=0xDFFF => return None,
                    _ => (char::from_u32(high)?, 6),
                }
            }
            _ => return None,
        };
        out.push(c);
        copied = at + len;
        match memchr::memchr(b'\\', bytes.get(copied..)?) {
            Some(next) => at = copied + next,
            None => break,
        }
    }
    out.push_str(inner.get(copied..)?);
    Some(out)
}

/// Finds a `\u` in a string's text (built once: a finder costs more to build than most strings
/// take to search).
static UNICODE_ESCAPE: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\\u"));

/// Whether each escape of a checked JSON string's inner text decodes: every `\u` escape of a
/// UTF-16 surrogate is one of a pair (serde_json checks the rest when it checks the document).
fn escapes_decode(inner: &str) -> bool {
    let bytes = inner.as_bytes();
    let unit = |at: usize| -> Option<u32> {
        u32::from_str_radix(inner.get(at + 2..at + 6)?, 16)
            .ok()
            .filter(|_| bytes.get(at..at + 2) == Some(b"\\u"))
    };
    let mut at = 0;
    while let Some(found) = bytes.get(at..).and_then(|rest| memchr::memchr(b'\\', rest)) {
        let escape = at + found;
        at = escape + 2;
        match unit(escape) {
            Some(0xD800..=0xDBFF) => match unit(escape + 6) {
                Some(0xDC00..=0xDFFF) => at = escape + 12,
                _ => return false,
            },
            Some(0xDC00..=0xDFFF) => return false,
            Some(_) => at = escape + 6,
            None => {}
        }
    }
    true
}

/// A whole document, checked in one pass that also found where each of its objects and arrays
/// ends: values read from it ([`Document::root`]) skip a nested object or array in one look-up,
/// so each byte of a deeply nested request is read about twice in all instead of once per level
/// of nesting.
#[derive(Debug)]
pub struct Document<'a> {
    text: &'a str,
    ends: Ends,
}

impl<'a> Document<'a> {
    /// A whole document; an error when it is not one JSON value (or nests 128 levels deep), in
    /// serde_json's words.
    pub fn parse(bytes: &'a [u8]) -> Result<Document<'a>, JsonError> {
        let checked = json_check::check(bytes)?;
        let ends = Ends {
            base: bytes.as_ptr() as usize,
            spans: checked.spans,
            surrogate_free: !checked.surrogate_escapes,
        };
        Ok(Document {
            text: checked.text,
            ends,
        })
    }

    /// The document's value.
    pub fn root(&self) -> Json<'_> {
        Json {
            text: self.text,
            ends: Some(&self.ends),
            // The first object or array of a document is its value, when it is one.
            span: 0,
        }
    }
}

/// Where each object and array of one document ends: `(start, end)` offsets from the address
/// `base`, in the order they start.
#[derive(Debug, Default)]
pub struct Ends {
    /// The address the offsets count from: a value's offset is its address less this.
    base: usize,
    spans: Vec<(u32, u32)>,
    /// No string of the document escapes a UTF-16 surrogate, so each of its escapes decodes
    /// (false, the safe answer, when that is not known).
    surrogate_free: bool,
}

impl Ends {
    /// The objects and arrays of checked JSON text, found by reading it once more: the reference
    /// the one pass of [`json_check::check`] is tested against.
    #[cfg(test)]
    fn of(text: &str) -> Ends {
        let bytes = text.as_bytes();
        let mut ends = Ends {
            base: bytes.as_ptr() as usize,
            ..Ends::default()
        };
        if u32::try_from(bytes.len()).is_err() {
            return ends;
        }
        let mut open = Vec::new();
        let mut at = 0;
        while let Some(&byte) = bytes.get(at) {
            match byte {
                b'"' => match string_end(bytes, at) {
                    Some((end, _)) => at = end,
                    None => return Ends::default(),
                },
                b'{' | b'[' => {
                    open.push(ends.spans.len());
                    ends.spans.push((at as u32, 0));
                    at += 1;
                }
                b'}' | b']' => {
                    if let Some(span) = open.pop().and_then(|i| ends.spans.get_mut(i)) {
                        span.1 = (at + 1) as u32;
                    }
                    at += 1;
                }
                _ => at += 1,
            }
        }
        ends
    }

    /// The span of the object or array that starts at `start` of `text` (a part of this
    /// document), and where it ends, as an offset in `text`. The search starts from span `from`
    /// when it is given and starts before the one sought: the values of an object or array are
    /// found in order, each a few spans after the last (its first one, right after its own).
    fn end_in(&self, text: &str, start: usize, from: Option<usize>) -> Option<(u32, usize)> {
        let offset = (text.as_ptr() as usize).checked_sub(self.base)?;
        let absolute = u32::try_from(offset + start).ok()?;
        let by_start = |&(start, _): &(u32, u32)| start;
        let i = match from.and_then(|from| Some((from, by_start(self.spans.get(from)?)))) {
            Some((from, at)) if at == absolute => from,
            Some((from, at)) if at < absolute => {
                // Steps that double until they pass the span, then a search of the last step.
                let (mut below, mut step) = (from, 1);
                let above = loop {
                    match self.spans.get(below + step) {
                        Some(&(at, _)) if at < absolute => {
                            below += step;
                            step *= 2;
                        }
                        Some(_) => break below + step + 1,
                        None => break self.spans.len(),
                    }
                };
                let rest = self.spans.get(below + 1..above)?;
                below + 1 + rest.binary_search_by_key(&absolute, by_start).ok()?
            }
            _ => self.spans.binary_search_by_key(&absolute, by_start).ok()?,
        };
        let end = self.spans[i].1 as usize;
        (end > 0).then(|| (u32::try_from(i).unwrap_or(NO_SPAN), end - offset))
    }
}

/// The values of one object or array, found one after the other in its checked text (a member's
/// key first, then, after `:`, its value).
struct Parts<'a> {
    text: &'a str,
    ends: Option<&'a Ends>,
    /// The span the next nested object or array is looked up from.
    next_span: Option<usize>,
    at: usize,
    first: bool,
}

impl<'a> Parts<'a> {
    /// The parts of `value`, an object or array that ends with `close`.
    fn new(value: Json<'a>, close: u8) -> Option<Parts<'a>> {
        let text = value.text;
        (text.len() >= 2 && text.as_bytes().last() == Some(&close)).then_some(Parts {
            text,
            ends: value.ends,
            next_span: value.span.checked_add(1).map(|next| next as usize),
            at: 1,
            first: true,
        })
    }

    fn skip_space(&mut self) {
        let bytes = self.text.as_bytes();
        while bytes.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.skip_space();
        (self.text.as_bytes().get(self.at) == Some(&byte)).then(|| self.at += 1)
    }

    /// The next item (or member key); `Some(None)` at the closing bracket, `None` when the text
    /// is not as checked.
    fn next(&mut self) -> Option<Option<Json<'a>>> {
        self.skip_space();
        if self.at + 1 >= self.text.len() {
            return Some(None);
        }
        if !self.first {
            self.expect(b',')?;
        }
        self.first = false;
        self.value().map(Some)
    }

    /// The value that starts here.
    fn value(&mut self) -> Option<Json<'a>> {
        self.skip_space();
        let start = self.at;
        let bytes = self.text.as_bytes();
        let known = match (bytes.get(start), self.ends) {
            (Some(b'{' | b'['), Some(ends)) => ends.end_in(self.text, start, self.next_span),
            _ => None,
        };
        let span = match known {
            Some((span, end)) => {
                self.at = end;
                self.next_span = span.checked_add(1).map(|next| next as usize);
                span
            }
            None if bytes.get(start) == Some(&b'"') => {
                let (end, plain) = string_end(bytes, start)?;
                self.at = end;
                if plain {
                    PLAIN_STRING
                } else {
                    NO_SPAN
                }
            }
            None => {
                self.at = value_end(bytes, start)?;
                NO_SPAN
            }
        };
        Some(Json {
            text: self.text.get(start..self.at)?,
            ends: self.ends,
            span,
        })
    }
}

/// Where the value that starts at `start` ends (one past its last byte).
fn value_end(bytes: &[u8], start: usize) -> Option<usize> {
    match *bytes.get(start)? {
        b'"' => string_end(bytes, start).map(|(end, _)| end),
        b'{' => container_end(bytes, start, b'{', b'}'),
        b'[' => container_end(bytes, start, b'[', b']'),
        _ => {
            let rest = bytes.get(start..)?;
            let len = rest
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b':') || b.is_ascii_whitespace())
                .unwrap_or(rest.len());
            Some(start + len)
        }
    }
}

/// Where the string that starts at `start` (its opening quote) ends, and whether it is known to
/// have no escapes. Most strings (keys, names, ids, short values) end within the few blocks after
/// their quote: a look at each finds the end, and that the string has no backslash before it. A
/// longer one ends at the first quote after it that an even run of backslashes (none, mostly)
/// comes before. Looking for quotes alone passes a file's text with a `\n` on every line in one
/// search, where stopping at each backslash took one search per line.
fn string_end(bytes: &[u8], start: usize) -> Option<(usize, bool)> {
    let inner = start + 1;
    let mut at = inner;
    for _ in 0..SHORT_STRING_BLOCKS {
        let Some(block) = bytes.get(at..at + json_check::BLOCK) else {
            break;
        };
        // Checked text has no control character inside a string, so the first special byte
        // after the opening quote is its closing quote or a backslash.
        let first = json_check::specials_in(block).trailing_zeros() as usize;
        match block.get(first) {
            Some(b'"') => return Some((at + first + 1, true)),
            Some(_) => {
                at += first;
                break;
            }
            None => at += json_check::BLOCK,
        }
    }
    loop {
        let quote = at + memchr::memchr(b'"', bytes.get(at..)?)?;
        let backslashes = bytes
            .get(inner..quote)?
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        if backslashes % 2 == 0 {
            return Some((quote + 1, false));
        }
        at = quote + 1;
    }
}

/// The blocks a string is looked at in before its end is searched for.
const SHORT_STRING_BLOCKS: usize = 4;

/// Where the object or array that starts at `start` ends: only its own kind of brackets and
/// strings matter to find its end in checked text.
fn container_end(bytes: &[u8], start: usize, open: u8, close: u8) -> Option<usize> {
    let mut depth = 0usize;
    let mut at = start;
    loop {
        let found = at + memchr::memchr3(b'"', open, close, bytes.get(at..)?)?;
        match bytes[found] {
            b'"' => at = string_end(bytes, found)?.0,
            b if b == open => {
                depth += 1;
                at = found + 1;
            }
            _ => {
                depth = depth.checked_sub(1)?;
                at = found + 1;
                if depth == 0 {
                    return Some(at);
                }
            }
        }
    }
}

/// An object's members in the order written, their keys unescaped.
#[derive(Debug, Default)]
pub struct Object<'a> {
    members: Vec<(Cow<'a, str>, Json<'a>)>,
}

impl<'a> Object<'a> {
    /// The member `key`, if the object has it (the last one, when it is written twice, as
    /// `serde_json` and the upstreams read it).
    pub fn get(&self, key: &str) -> Option<Json<'a>> {
        self.members
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| *v)
    }

    /// The member `key`, or `null`.
    pub fn field(&self, key: &str) -> Json<'a> {
        self.get(key).unwrap_or(NULL)
    }

    /// The member `key` when it is a string.
    pub fn str(&self, key: &str) -> Option<Cow<'a, str>> {
        self.field(key).as_str()
    }

    /// The member `key` when it is a string, as a [`Text`] to carry.
    pub fn text(&self, key: &str) -> Option<Text<'a>> {
        self.field(key).as_text()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The members' keys, in the order written.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(|(k, _)| k.as_ref())
    }
}

/// A JSON value to write, borrowing from the request what it passes on.
#[derive(Debug, Clone)]
pub enum Out<'a> {
    Null,
    Bool(bool),
    U64(u64),
    F64(f64),
    Str(Cow<'a, str>),
    /// A string carried from the client's body (see [`Text`]).
    Text(Text<'a>),
    /// A value written as the JSON string of its compact text (OpenAI's `arguments`).
    JsonString(Json<'a>),
    /// A value passed on as the client wrote it.
    Raw(Json<'a>),
    /// A value the translation checked is JSON (a tool call's arguments).
    RawOwned(Box<RawValue>),
    /// A small value the translation made (a usage object).
    Value(serde_json::Value),
    /// JSON text the translation wrote before (an output item it sends twice).
    Written(&'a [u8]),
    Array(Vec<Out<'a>>),
    Object(Vec<(&'static str, Out<'a>)>),
}

impl<'a> From<&'a str> for Out<'a> {
    fn from(s: &'a str) -> Out<'a> {
        Out::Str(Cow::Borrowed(s))
    }
}

impl<'a> From<Cow<'a, str>> for Out<'a> {
    fn from(s: Cow<'a, str>) -> Out<'a> {
        Out::Str(s)
    }
}

impl<'a> From<String> for Out<'a> {
    fn from(s: String) -> Out<'a> {
        Out::Str(Cow::Owned(s))
    }
}

impl<'a> From<bool> for Out<'a> {
    fn from(b: bool) -> Out<'a> {
        Out::Bool(b)
    }
}

impl<'a> From<Json<'a>> for Out<'a> {
    fn from(json: Json<'a>) -> Out<'a> {
        Out::Raw(json)
    }
}

impl<'a> From<Vec<Out<'a>>> for Out<'a> {
    fn from(items: Vec<Out<'a>>) -> Out<'a> {
        Out::Array(items)
    }
}

impl<'a> From<Text<'a>> for Out<'a> {
    fn from(text: Text<'a>) -> Out<'a> {
        Out::Text(text)
    }
}

/// A text a translation carries from one API's body to another's: the JSON string the client
/// wrote (quotes and escapes included), written out again in one copy without being decoded or
/// escaped, or text the translation made. What needs its characters decodes it on demand.
#[derive(Debug, Clone)]
pub struct Text<'a>(Carried<'a>);

#[derive(Debug, Clone)]
enum Carried<'a> {
    /// Checked JSON string text whose escapes decode (or several joined into one).
    Json(Cow<'a, str>),
    /// The characters themselves.
    Plain(Cow<'a, str>),
}

impl Default for Text<'_> {
    fn default() -> Self {
        Text(Carried::Plain(Cow::Borrowed("")))
    }
}

impl<'a> From<Cow<'a, str>> for Text<'a> {
    fn from(text: Cow<'a, str>) -> Text<'a> {
        Text(Carried::Plain(text))
    }
}

impl<'a> From<&'a str> for Text<'a> {
    fn from(text: &'a str) -> Text<'a> {
        Text(Carried::Plain(Cow::Borrowed(text)))
    }
}

impl From<String> for Text<'_> {
    fn from(text: String) -> Self {
        Text(Carried::Plain(Cow::Owned(text)))
    }
}

impl<'a> Text<'a> {
    /// The characters, borrowed unless they had escapes.
    pub fn decoded(&self) -> Cow<'_, str> {
        match &self.0 {
            Carried::Json(json) => string_text(json).unwrap_or_default(),
            Carried::Plain(text) => Cow::Borrowed(text),
        }
    }

    /// The characters, borrowed from the body when they had no escapes.
    pub fn into_decoded(self) -> Cow<'a, str> {
        match self.0 {
            Carried::Json(Cow::Borrowed(json)) => string_text(json).unwrap_or_default(),
            Carried::Json(Cow::Owned(json)) => {
                Cow::Owned(string_text(&json).unwrap_or_default().into_owned())
            }
            Carried::Plain(text) => text,
        }
    }

    pub fn is_empty(&self) -> bool {
        match &self.0 {
            Carried::Json(json) => json.len() <= 2,
            Carried::Plain(text) => text.is_empty(),
        }
    }

    /// Texts joined by a blank line; one text is not copied. JSON texts join as JSON text,
    /// still not decoded.
    pub fn joined(texts: Vec<Text<'a>>) -> Text<'a> {
        Text::join(texts, "\n\n")
    }

    /// Texts one after the other, as [`Text::joined`] joins them.
    pub fn concat(texts: Vec<Text<'a>>) -> Text<'a> {
        Text::join(texts, "")
    }

    fn join(mut texts: Vec<Text<'a>>, separator: &str) -> Text<'a> {
        if texts.len() <= 1 {
            return texts.pop().unwrap_or_default();
        }
        if !texts.iter().all(|t| matches!(t.0, Carried::Json(_))) {
            let texts: Vec<_> = texts.iter().map(Text::decoded).collect();
            return Text::from(texts.join(separator));
        }
        let mut quoted = Vec::with_capacity(separator.len() + 2);
        // Writing into a vector cannot fail.
        let _ = write_str(&mut quoted, separator);
        let quoted = std::str::from_utf8(&quoted).unwrap_or("\"\"");
        let escaped = quoted.get(1..quoted.len() - 1).unwrap_or_default();
        let len = texts.iter().map(Text::json_len).sum::<usize>() + escaped.len() * texts.len();
        let mut joined = String::with_capacity(len);
        joined.push('"');
        for (i, text) in texts.iter().enumerate() {
            if let Carried::Json(json) = &text.0 {
                if i > 0 {
                    joined.push_str(escaped);
                }
                joined.push_str(json.get(1..json.len() - 1).unwrap_or_default());
            }
        }
        joined.push('"');
        Text(Carried::Json(Cow::Owned(joined)))
    }

    fn json_len(&self) -> usize {
        match &self.0 {
            Carried::Json(json) => json.len(),
            Carried::Plain(text) => text.len(),
        }
    }

    /// Appends the text as a JSON string: JSON text as it is, other text escaped.
    pub fn write_to(&self, buf: &mut Vec<u8>) -> serde_json::Result<()> {
        match &self.0 {
            Carried::Json(json) => {
                buf.extend_from_slice(json.as_bytes());
                Ok(())
            }
            Carried::Plain(text) => write_str(buf, text),
        }
    }
}

impl PartialEq<str> for Text<'_> {
    fn eq(&self, other: &str) -> bool {
        self.decoded() == other
    }
}

impl PartialEq<&str> for Text<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.decoded() == *other
    }
}

impl std::fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.decoded())
    }
}

/// An [`Out::Object`] from `key => value` pairs, in the order written.
macro_rules! out {
    ($($key:literal => $value:expr),* $(,)?) => {
        $crate::translate::lazy::Out::Object(vec![$(($key, $crate::translate::lazy::Out::from($value))),*])
    };
}
pub(crate) use out;

impl Out<'_> {
    /// Appends the value's JSON text to `buf`.
    pub fn write_to(&self, buf: &mut Vec<u8>) -> serde_json::Result<()> {
        match self {
            Out::Null => buf.extend_from_slice(b"null"),
            Out::Bool(b) => buf.extend_from_slice(if *b { b"true" } else { b"false" }),
            // serde_json writes integers with `itoa`, not through `fmt`.
            Out::U64(n) => serde_json::to_writer(&mut *buf, n)?,
            Out::F64(n) => serde_json::to_writer(&mut *buf, n)?,
            Out::Str(s) => write_str(buf, s)?,
            Out::Text(text) => text.write_to(buf)?,
            Out::JsonString(json) => write_json_string(buf, json.text()),
            // Checked when the request was parsed.
            Out::Raw(json) => buf.extend_from_slice(json.text().as_bytes()),
            Out::RawOwned(raw) => buf.extend_from_slice(raw.get().as_bytes()),
            Out::Value(value) => serde_json::to_writer(&mut *buf, value)?,
            Out::Written(bytes) => buf.extend_from_slice(bytes),
            Out::Array(items) => {
                buf.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    item.write_to(buf)?;
                }
                buf.push(b']');
            }
            Out::Object(members) => {
                buf.push(b'{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    write_key(buf, key);
                    buf.push(b':');
                    value.write_to(buf)?;
                }
                buf.push(b'}');
            }
        }
        Ok(())
    }
}

/// Appends texts joined by a blank line as one JSON string: what [`Text::joined`] makes of them,
/// written without being made first when all of them are the client's JSON text.
pub fn write_joined<'t, 'a: 't>(
    texts: impl Iterator<Item = &'t Text<'a>> + Clone,
    buf: &mut Vec<u8>,
) -> serde_json::Result<()> {
    let (mut count, mut all_json) = (0, true);
    for text in texts.clone() {
        count += 1;
        all_json &= matches!(text.0, Carried::Json(_));
    }
    if count <= 1 {
        let mut texts = texts;
        return match texts.next() {
            Some(text) => text.write_to(buf),
            None => Text::default().write_to(buf),
        };
    }
    if all_json {
        buf.push(b'"');
        for (i, text) in texts.enumerate() {
            if i > 0 {
                buf.extend_from_slice(br"\n\n");
            }
            if let Carried::Json(json) = &text.0 {
                buf.extend_from_slice(json.as_bytes().get(1..json.len() - 1).unwrap_or_default());
            }
        }
        buf.push(b'"');
        return Ok(());
    }
    Text::joined(texts.cloned().collect()).write_to(buf)
}

/// Appends `text` as a JSON string, escaped as serde_json escapes it.
fn write_str(buf: &mut Vec<u8>, text: &str) -> serde_json::Result<()> {
    write_strs(buf, &[text])
}

/// Appends texts one after the other as one JSON string, escaped as serde_json escapes it.
pub fn write_strs(buf: &mut Vec<u8>, texts: &[&str]) -> serde_json::Result<()> {
    buf.reserve(texts.iter().map(|t| t.len()).sum::<usize>() + 2);
    buf.push(b'"');
    for text in texts {
        write_escaped(buf, text);
    }
    buf.push(b'"');
    Ok(())
}

/// Appends `text` escaped as serde_json escapes it, without quotes. Sixteen bytes are checked at
/// once and the text copied in runs between the bytes that need an escape: most of a request's
/// text needs none, and a file's lines one per line.
fn write_escaped(buf: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let mut copied = 0;
    let mut write_escape = |buf: &mut Vec<u8>, at: usize| {
        buf.extend_from_slice(&bytes[copied..at]);
        escape(buf, bytes[at]);
        copied = at + 1;
    };
    // The JSON check's masks: the bytes that end a run of plain text are the ones to escape.
    for (n, block) in bytes.chunks(json_check::BLOCK).enumerate() {
        let mut mask = json_check::specials_in(block);
        while mask != 0 {
            write_escape(buf, n * json_check::BLOCK + mask.trailing_zeros() as usize);
            mask &= mask - 1;
        }
    }
    buf.extend_from_slice(&bytes[copied..]);
}

/// Appends a member's key: a field name of one of the APIs, written in the code (so `'static`),
/// which needs no escape and is written without looking for one.
fn write_key(buf: &mut Vec<u8>, key: &'static str) {
    debug_assert!(!key.bytes().any(json_check::is_special), "{key}");
    buf.reserve(key.len() + 2);
    buf.push(b'"');
    buf.extend_from_slice(key.as_bytes());
    buf.push(b'"');
}

/// Appends checked JSON text, without the spaces between its tokens, as a JSON string: what
/// [`write_str`] writes of [`Json::compact`]'s text, in one pass. Checked JSON holds no control
/// character inside its strings, so only a quote or a backslash needs an escape.
fn write_json_string(buf: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    buf.reserve(bytes.len() + bytes.len() / 8 + 2);
    buf.push(b'"');
    let mut at = 0;
    let mut in_string = false;
    while at < bytes.len() {
        let rest = bytes.get(at..).unwrap_or_default();
        if in_string {
            let Some(found) = memchr::memchr2(b'"', b'\\', rest) else {
                buf.extend_from_slice(rest);
                break;
            };
            buf.extend_from_slice(&rest[..found]);
            at += found + 1;
            if rest[found] == b'"' {
                buf.extend_from_slice(b"\\\"");
                in_string = false;
            } else {
                // An escape: its backslash escaped, then what it escapes (itself escaped when it
                // is a quote or a backslash).
                buf.extend_from_slice(b"\\\\");
                if let Some(&escaped) = bytes.get(at) {
                    if matches!(escaped, b'"' | b'\\') {
                        buf.push(b'\\');
                    }
                    buf.push(escaped);
                    at += 1;
                }
            }
        } else {
            let end = memchr::memchr(b'"', rest).unwrap_or(rest.len());
            let tokens = &rest[..end];
            if tokens.iter().any(u8::is_ascii_whitespace) {
                buf.extend(tokens.iter().filter(|b| !b.is_ascii_whitespace()));
            } else {
                buf.extend_from_slice(tokens);
            }
            if end < rest.len() {
                buf.extend_from_slice(b"\\\"");
                in_string = true;
            }
            at += end + 1;
        }
    }
    buf.push(b'"');
}

/// The escape of one byte that a JSON string cannot hold as it is.
fn escape(buf: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short: &[u8] = match b {
        b'"' => b"\\\"",
        b'\\' => b"\\\\",
        b'\n' => b"\\n",
        b'\r' => b"\\r",
        b'\t' => b"\\t",
        0x08 => b"\\b",
        0x0c => b"\\f",
        _ => {
            let hex = [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]];
            buf.extend_from_slice(b"\\u00");
            buf.extend_from_slice(&hex);
            return;
        }
    };
    buf.extend_from_slice(short);
}

/// Writes JSON into a byte buffer value by value: objects and arrays are opened, filled and
/// closed, so a long array never has to exist whole before it is written.
#[derive(Debug)]
pub struct JsonWriter {
    buf: Vec<u8>,
    /// The open objects and arrays: the byte that closes each, and the values written into it.
    open: Vec<(u8, usize)>,
    /// A member's key was written: its value needs no comma.
    after_key: bool,
}

impl JsonWriter {
    /// A writer whose buffer starts with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        JsonWriter {
            buf: Vec::with_capacity(capacity),
            open: Vec::new(),
            after_key: false,
        }
    }

    /// A writer into `buffer`'s memory: its bytes are cleared, and room for `capacity` made.
    pub fn reusing(mut buffer: Vec<u8>, capacity: usize) -> Self {
        buffer.clear();
        buffer.reserve(capacity);
        JsonWriter {
            buf: buffer,
            open: Vec::new(),
            after_key: false,
        }
    }

    /// The comma before a value (or a key), unless it is the first of its container.
    fn separate(&mut self) {
        if std::mem::take(&mut self.after_key) {
            return;
        }
        if let Some((_, count)) = self.open.last_mut() {
            if *count > 0 {
                self.buf.push(b',');
            }
            *count += 1;
        }
    }

    /// Starts the member `key` of the open object; its value follows.
    pub fn key(&mut self, key: &'static str) -> serde_json::Result<()> {
        self.separate();
        write_key(&mut self.buf, key);
        self.buf.push(b':');
        self.after_key = true;
        Ok(())
    }

    /// Writes a value.
    pub fn value(&mut self, value: &Out<'_>) -> serde_json::Result<()> {
        self.separate();
        value.write_to(&mut self.buf)
    }

    /// Writes a value as `write` puts it into the buffer.
    pub fn value_with(
        &mut self,
        write: impl FnOnce(&mut Vec<u8>) -> serde_json::Result<()>,
    ) -> serde_json::Result<()> {
        self.separate();
        write(&mut self.buf)
    }

    /// Writes the member `key` and its value.
    pub fn member(&mut self, key: &'static str, value: &Out<'_>) -> serde_json::Result<()> {
        self.key(key)?;
        self.value(value)
    }

    /// Opens an object (as a value, or as the member whose key was just written).
    pub fn open_object(&mut self) {
        self.separate();
        self.buf.push(b'{');
        self.open.push((b'}', 0));
    }

    /// Opens an array (as a value, or as the member whose key was just written).
    pub fn open_array(&mut self) {
        self.separate();
        self.buf.push(b'[');
        self.open.push((b']', 0));
    }

    /// Closes the object or array opened last.
    pub fn close(&mut self) {
        if let Some((close, _)) = self.open.pop() {
            self.buf.push(close);
        }
    }

    /// The bytes written so far, with what is open left open.
    pub fn written(&self) -> &[u8] {
        &self.buf
    }

    /// Forgets everything written, keeping the memory.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.open.clear();
        self.after_key = false;
    }

    /// Everything written, with what is still open closed.
    pub fn finish(mut self) -> Vec<u8> {
        while !self.open.is_empty() {
            self.close();
        }
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    #[test]
    fn strings_on_either_side_of_the_blocks_looked_at_first_are_read_whole() {
        // Ends and escapes just before, at and after each block looked at first.
        let mut texts = Vec::new();
        for len in [
            0, 1, 14, 15, 16, 17, 31, 32, 33, 47, 48, 62, 63, 64, 65, 200,
        ] {
            let plain = "x".repeat(len);
            texts.push(plain.clone());
            for at in [0, len / 2, len] {
                for escape in ["\"", "\\", "\n", "é", "\u{1}"] {
                    let mut text = plain.clone();
                    text.insert_str(at, escape);
                    texts.push(text);
                }
            }
        }
        for text in texts {
            let json = serde_json::to_string(&text).unwrap();
            for doc in [format!("[{json},1]"), format!("{{{json}:{json}}}")] {
                let value = Json::parse(doc.as_bytes()).unwrap();
                let read = match value.array() {
                    Some(items) => items[0].as_str(),
                    None => value.object().unwrap().str(&text),
                };
                assert_eq!(read.as_deref(), Some(text.as_str()), "{doc}");
                let borrowed = matches!(read, Some(Cow::Borrowed(_)));
                assert_eq!(borrowed, !json.contains('\\'), "{doc}");
            }
        }
    }

    #[test]
    fn values_read_like_serde_json_reads_them() {
        let text = br#" {"s":"a\"b","t":"plain","n":5,"f":1.5,"neg":-1,"b":true,"z":null,
            "o":{"k":[1, 2]},"a":[{"x":1},"y"],"d":1,"d":2} "#;
        let value: Value = serde_json::from_slice(text).unwrap();
        let o = Json::parse(text).unwrap().object().unwrap();
        assert_eq!(o.str("s").as_deref(), value["s"].as_str());
        assert!(
            matches!(o.str("t"), Some(Cow::Borrowed("plain"))),
            "no copy"
        );
        for key in ["n", "f", "neg", "b", "z", "s", "absent"] {
            assert_eq!(o.field(key).as_u64(), value[key].as_u64(), "{key}");
            assert_eq!(o.field(key).as_f64(), value[key].as_f64(), "{key}");
            assert_eq!(o.field(key).as_bool(), value[key].as_bool(), "{key}");
            assert_eq!(o.field(key).is_null(), value[key].is_null(), "{key}");
        }
        assert_eq!(o.field("d").as_u64(), Some(2), "the last of a repeated key");
        assert!(o.get("z").is_some() && o.get("absent").is_none());
        assert_eq!(o.field("o").get("k").compact(), "[1,2]");
        let items = o.field("a").array().unwrap();
        assert_eq!(items[0].get("x").as_u64(), Some(1));
        assert_eq!(items[1].as_str().as_deref(), Some("y"));
        assert!(o.field("s").object().is_none() && o.field("o").array().is_none());
        assert!(Json::parse(b"{\"a\":").is_err() && Json::parse(b"{} x").is_err());
    }

    /// A value rebuilt only through the lazy reader.
    fn through_lazy(json: Json<'_>) -> Value {
        if let Some(object) = json.object() {
            let mut map = serde_json::Map::new();
            for (key, value) in &object.members {
                map.insert(key.to_string(), through_lazy(*value));
            }
            return Value::Object(map);
        }
        if let Some(items) = json.array() {
            return Value::Array(items.into_iter().map(through_lazy).collect());
        }
        if let Some(text) = json.as_str() {
            return Value::String(text.into_owned());
        }
        if let Some(b) = json.as_bool() {
            return Value::Bool(b);
        }
        if json.is_null() {
            return Value::Null;
        }
        serde_json::from_str(json.text()).expect("a number")
    }

    fn any_json() -> impl Strategy<Value = Value> {
        let text = "(?s)[a-z \"\\\\\n\t\u{1}é☃😀{}\\[\\],:]{0,8}";
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            text.prop_map(Value::from),
        ];
        leaf.prop_recursive(5, 60, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::vec((text, inner), 0..5)
                    .prop_map(|kv| { Value::Object(kv.into_iter().collect()) }),
            ]
        })
    }

    proptest! {
        #[test]
        fn every_value_reads_the_same_lazily_as_parsed_whole(value in any_json()) {
            for text in [value.to_string(), serde_json::to_string_pretty(&value).unwrap()] {
                let whole: Value = serde_json::from_str(&text).unwrap();
                let json = Json::parse(text.as_bytes()).unwrap();
                prop_assert_eq!(&through_lazy(json), &whole);
                let compact: Value = serde_json::from_str(&json.compact()).unwrap();
                prop_assert_eq!(&compact, &whole);
                // Read as a document, nested values are skipped by look-up: the same values.
                let document = Document::parse(text.as_bytes()).unwrap();
                prop_assert_eq!(&through_lazy(document.root()), &whole);
            }
        }

        #[test]
        fn strings_are_read_back_as_they_were_written(
            text in prop_oneof!["(?s).{0,200}", "(?s)[a-z \"\\\\\u{0}-\u{1f}\u{7f}é😀]{0,100}"]
        ) {
            let json = serde_json::to_string(&text).unwrap();
            let read = string_text(&json);
            prop_assert_eq!(read.as_deref(), Some(text.as_str()));
        }

        #[test]
        fn a_string_ends_at_its_own_closing_quote(
            text in "(?s)[a\"\\\\\n]{0,40}",
            next in "(?s)[a\"\\\\\n]{0,10}"
        ) {
            // Any run of backslashes before a quote: escaped quotes inside, an escaped backslash
            // just before the closing one, and another string after it.
            let json = serde_json::to_string(&text).unwrap();
            let both = format!("[{json},{}]", serde_json::to_string(&next).unwrap());
            let (end, plain) = string_end(both.as_bytes(), 1).unwrap();
            prop_assert_eq!(end, 1 + json.len());
            // Known plain only when it is: a string with an escape is never taken as written.
            if plain {
                prop_assert!(!json.contains('\\'));
            }
            // Read as an array's item, the string is the text serde_json wrote.
            let items = Json::parse(both.as_bytes()).unwrap().array().unwrap();
            let read: Vec<_> = items.iter().map(|item| item.as_str()).collect();
            prop_assert_eq!(read[0].as_deref(), Some(text.as_str()));
            prop_assert_eq!(read[1].as_deref(), Some(next.as_str()));
        }

        #[test]
        fn a_value_as_a_json_string_is_its_compact_text_written_as_a_string(value in any_json()) {
            for text in [value.to_string(), serde_json::to_string_pretty(&value).unwrap()] {
                let json = Json::parse(text.as_bytes()).unwrap();
                let mut written = Vec::new();
                Out::JsonString(json).write_to(&mut written).unwrap();
                prop_assert_eq!(&written, &serde_json::to_vec(&json.compact()).unwrap());
            }
        }

        #[test]
        fn strings_are_written_as_serde_json_writes_them(
            text in prop_oneof!["(?s).{0,200}", "(?s)[a-z \"\\\\\u{0}-\u{1f}\u{7f}é😀]{0,100}"]
        ) {
            let mut buf = Vec::new();
            write_str(&mut buf, &text).unwrap();
            prop_assert_eq!(buf, serde_json::to_vec(&text).unwrap());
        }
    }

    /// A document's spans, as offsets from its value's first byte (where [`Ends::of`] counts).
    fn spans_from_the_value(document: &Document<'_>) -> Vec<(usize, usize)> {
        let shift = document.text.as_ptr() as usize - document.ends.base;
        let from_value = |at: u32| at as usize - shift;
        let spans = document.ends.spans.iter();
        spans
            .map(|&(s, e)| (from_value(s), from_value(e)))
            .collect()
    }

    proptest! {
        #[test]
        fn the_checks_spans_are_the_ones_a_second_reading_finds(
            text in crate::json_check::tests::json_text()
        ) {
            let document = Document::parse(text.as_bytes()).unwrap();
            let read_again = Ends::of(document.text);
            let read_again: Vec<_> =
                read_again.spans.iter().map(|&(s, e)| (s as usize, e as usize)).collect();
            prop_assert_eq!(spans_from_the_value(&document), read_again);
        }
    }

    proptest! {
        #[test]
        fn a_span_is_found_from_any_span_it_is_looked_up_from(
            text in crate::json_check::tests::json_text()
        ) {
            let document = Document::parse(text.as_bytes()).unwrap();
            let (ends, value) = (&document.ends, document.text);
            let shift = value.as_ptr() as usize - ends.base;
            let count = ends.spans.len();
            for (i, &(start, end)) in ends.spans.iter().enumerate() {
                let found = Some((i as u32, end as usize - shift));
                let at = start as usize - shift;
                prop_assert_eq!(ends.end_in(value, at, None), found);
                // From a span before it, itself, one after it, or none at all.
                for from in 0..count + 2 {
                    prop_assert_eq!(ends.end_in(value, at, Some(from)), found, "from {}", from);
                }
            }
        }
    }

    #[test]
    fn a_document_that_is_not_json_is_refused_in_serde_jsons_words() {
        for text in [&b"{\"a\":"[..], b"{} x", b"[1,]", b"\"\xff\"", b"\"a\x01\""] {
            let ours = Document::parse(text).unwrap_err().to_string();
            let theirs = serde_json::from_slice::<&RawValue>(text)
                .unwrap_err()
                .to_string();
            assert_eq!(ours, theirs);
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let refused = Document::parse(deep.as_bytes()).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "recursion limit exceeded at line 1 column 128"
        );
    }

    #[test]
    fn a_carried_text_is_written_as_the_client_wrote_it() {
        let text = br#"{"t": "a\/b \u00e9\n\"q\" \ud83d\ude00", "plain": "x y"}"#;
        let o = Json::parse(text).unwrap().object().unwrap();
        let t = o.text("t").unwrap();
        let mut written = Vec::new();
        Out::from(t.clone()).write_to(&mut written).unwrap();
        assert_eq!(written, br#""a\/b \u00e9\n\"q\" \ud83d\ude00""#);
        assert_eq!(t.decoded(), "a/b \u{e9}\n\"q\" \u{1f600}");
        assert!(!t.is_empty() && o.text("plain").unwrap() == "x y");
        assert!(matches!(
            o.text("plain").unwrap().into_decoded(),
            Cow::Borrowed("x y")
        ));
        assert!(o.text("absent").is_none() && NULL.as_text().is_none());
        assert!(Json::parse(br#""""#).unwrap().as_text().unwrap().is_empty());
    }

    #[test]
    fn texts_written_joined_are_the_texts_joined_then_written() {
        let body = br#"["a\/b \u00e9\n", "", "x \"q\"", "\ud83d\ude00 end"]"#;
        let carried: Vec<Text> = Json::parse(body)
            .unwrap()
            .array()
            .unwrap()
            .into_iter()
            .map(|j| j.as_text().unwrap())
            .collect();
        let made = [
            Text::from("made \"here\"\n"),
            Text::from(String::from("é\u{1}")),
        ];
        let mut cases: Vec<Vec<Text>> = vec![vec![]];
        for n in 1..=3 {
            for start in 0..carried.len() {
                cases.push(
                    carried
                        .iter()
                        .cycle()
                        .skip(start)
                        .take(n)
                        .cloned()
                        .collect(),
                );
                let mut mixed: Vec<Text> =
                    carried.iter().skip(start).take(n - 1).cloned().collect();
                mixed.insert(start % n, made[start % 2].clone());
                cases.push(mixed);
            }
        }
        for texts in cases {
            let mut direct = Vec::new();
            write_joined(texts.iter(), &mut direct).unwrap();
            let mut expected = Vec::new();
            Text::joined(texts.clone()).write_to(&mut expected).unwrap();
            assert_eq!(
                String::from_utf8(direct).unwrap(),
                String::from_utf8(expected).unwrap(),
                "{texts:?}"
            );
        }
    }

    #[test]
    fn a_string_whose_escapes_do_not_decode_is_no_text() {
        for lone in [
            r#""\ud800""#,
            r#""x\udc00""#,
            r#""\ud800\u0041""#,
            r#""\ud800\n""#,
        ] {
            let json = Json::parse(lone.as_bytes()).unwrap();
            assert!(
                json.as_text().is_none() && json.as_str().is_none(),
                "{lone}"
            );
            // Read from a whole document, the string beside others that need no look.
            let text = format!(r#"{{"plain": "x", "lone": {lone}}}"#);
            let document = Document::parse(text.as_bytes()).unwrap();
            let object = document.root().object().unwrap();
            assert!(object.text("lone").is_none(), "{lone}");
            assert!(object.text("plain").is_some_and(|t| t == "x"));
        }
        for fine in [r#""\\ud800""#, r#""\u0041\ud83d\ude00\\u""#, r#""\\""#] {
            let expected: String = serde_json::from_str(fine).unwrap();
            let json = Json::parse(fine.as_bytes()).unwrap();
            assert_eq!(json.as_text().unwrap().decoded(), expected, "{fine}");
            let document = Document::parse(fine.as_bytes()).unwrap();
            assert_eq!(document.root().as_text().unwrap().decoded(), expected);
        }
    }

    proptest! {
        #[test]
        fn texts_join_as_their_characters_join(
            texts in prop::collection::vec(
                ("(?s)[a-z \"\\\\\n\u{1}é😀/]{0,12}", any::<bool>()), 0..5)
        ) {
            let json: Vec<String> = texts.iter().map(|(t, _)| serde_json::to_string(t).unwrap()).collect();
            let read = || -> Vec<Text<'_>> {
                texts.iter().zip(&json).map(|((t, carried), json)| if *carried {
                    Json::checked(json).as_text().unwrap()
                } else {
                    Text::from(t.as_str())
                }).collect()
            };
            let plain: Vec<&str> = texts.iter().map(|(t, _)| t.as_str()).collect();
            for (text, want) in [
                (Text::joined(read()), plain.join("\n\n")),
                (Text::concat(read()), plain.concat()),
            ] {
                prop_assert_eq!(text.decoded(), want.as_str());
                let mut written = Vec::new();
                text.write_to(&mut written).unwrap();
                let back: String = serde_json::from_slice(&written).unwrap();
                prop_assert_eq!(back, want);
            }
        }
    }

    #[test]
    fn escapes_are_decoded_as_serde_json_decodes_them() {
        for text in [
            r#""a\"b\\c\/d\b\f\n\r\t""#,
            r#""\u00e9 \u2603 \ud83d\ude00 end""#,
            r#""\u0000""#,
            r#""tail\n""#,
        ] {
            let expected: String = serde_json::from_str(text).unwrap();
            assert_eq!(
                string_text(text).as_deref(),
                Some(expected.as_str()),
                "{text}"
            );
        }
        // A surrogate without its pair: serde_json refuses it, and so does the reader.
        for lone in [
            r#""\ud800""#,
            r#""\ud800x""#,
            r#""\udc00""#,
            r#""\ud800\u0041""#,
        ] {
            assert!(serde_json::from_str::<String>(lone).is_err(), "{lone}");
            assert_eq!(string_text(lone), None, "{lone}");
        }
    }

    #[test]
    fn a_documents_values_find_their_ends_by_look_up() {
        let text = br#" {"a": [ {"b": "}]\"{["}, [[]] ], "c": {"d": {}} } "#;
        let document = Document::parse(text).unwrap();
        let root = document.root();
        assert!(root.ends.is_some_and(|ends| ends.spans.len() == 7));
        let a = root.get("a").array().unwrap();
        assert_eq!(a[0].get("b").as_str().as_deref(), Some("}]\"{["));
        assert_eq!(a[1].compact(), "[[]]");
        assert_eq!(root.get("c").get("d").text(), "{}");
        // A value from elsewhere (a literal) is read by scanning, as before.
        let elsewhere = Json::parse(br#"{"x": [1]}"#).unwrap();
        assert_eq!(elsewhere.get("x").compact(), "[1]");
    }

    #[test]
    fn compact_text_drops_only_the_spaces_between_tokens() {
        let text = br#"{ "a b" : [ 1 , "x \" y" ] ,
            "c":{ } }"#;
        let json = Json::parse(text).unwrap();
        assert_eq!(json.compact(), r#"{"a b":[1,"x \" y"],"c":{}}"#);
        let already = Json::parse(br#"{"a":1}"#).unwrap();
        assert!(matches!(already.compact(), Cow::Borrowed(_)));
    }

    #[test]
    fn the_writer_writes_values_into_what_is_open() {
        let mut w = JsonWriter::with_capacity(16);
        w.open_object();
        w.member("model", &"m".into()).unwrap();
        w.key("messages").unwrap();
        w.open_array();
        w.value(&out! {"role" => "user", "content" => Out::Null})
            .unwrap();
        w.value(&out! {"role" => "assistant", "n" => Out::U64(7), "f" => Out::F64(0.5)})
            .unwrap();
        w.close();
        w.member("raw", &Json::parse(b" [1, 2] ").unwrap().into())
            .unwrap();
        w.key("empty").unwrap();
        w.open_array();
        w.close();
        w.key("nested").unwrap();
        w.open_object();
        w.member("v", &Out::Value(json!({"a": [1]}))).unwrap();
        w.key("bytes").unwrap();
        w.value_with(|buf| {
            buf.extend_from_slice(b"true");
            Ok(())
        })
        .unwrap();
        let body: Value = serde_json::from_slice(&w.finish()).unwrap();
        assert_eq!(
            body,
            json!({"model": "m", "messages": [{"role": "user", "content": null},
                {"role": "assistant", "n": 7, "f": 0.5}], "raw": [1, 2], "empty": [],
                "nested": {"v": {"a": [1]}, "bytes": true}})
        );
    }
}
