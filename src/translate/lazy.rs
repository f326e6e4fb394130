//! JSON read lazily and written straight out, for request bodies of any size.
//!
//! A [`Json`] value is its own text, borrowed from the request, until the translation looks inside
//! it: [`Json::object`] lists an object's members (their texts, again borrowed), [`Json::array`] an
//! array's items, and a string is copied only when it has escapes. Parts the translation passes on
//! unread (a tool's schema, a number) are written out as the client sent them. What comes out is
//! an [`Out`] tree of one message at a time, written into the body with [`BodyWriter`]. So a request
//! costs little more than its own bytes and the translated body, whatever its shape: a tree of
//! `serde_json::Value`s costs from a few times to forty times the text it was read from.

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use std::borrow::Cow;

/// A JSON value not read yet: its text, borrowed.
#[derive(Clone, Copy, Debug)]
pub struct Json<'a>(&'a RawValue);

/// `null`, the value of every member an object does not have.
pub const NULL: Json<'static> = Json(RawValue::NULL);

impl<'a> Json<'a> {
    /// A whole document; an error when it is not one JSON value.
    pub fn parse(bytes: &'a [u8]) -> Result<Json<'a>, serde_json::Error> {
        serde_json::from_slice::<&RawValue>(bytes).map(Json)
    }

    /// The value's text, as the client wrote it.
    pub fn raw(self) -> &'a RawValue {
        self.0
    }

    fn first(self) -> u8 {
        self.0.get().as_bytes().first().copied().unwrap_or(b'n')
    }

    pub fn is_null(self) -> bool {
        self.0.get() == "null"
    }

    /// The string, borrowed when it has no escapes; `None` for any other value.
    pub fn as_str(self) -> Option<Cow<'a, str>> {
        if self.first() != b'"' {
            return None;
        }
        let text = self.0.get();
        match serde_json::from_str::<&'a str>(text) {
            Ok(s) => Some(Cow::Borrowed(s)),
            Err(_) => serde_json::from_str::<String>(text).ok().map(Cow::Owned),
        }
    }

    pub fn as_bool(self) -> Option<bool> {
        match self.0.get() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }

    /// A non-negative integer (not one written with a fraction or exponent).
    pub fn as_u64(self) -> Option<u64> {
        self.is_number()
            .then(|| serde_json::from_str::<u64>(self.0.get()).ok())
            .flatten()
    }

    pub fn as_f64(self) -> Option<f64> {
        self.is_number()
            .then(|| serde_json::from_str::<f64>(self.0.get()).ok())
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
        serde_json::from_str::<Object<'a>>(self.0.get()).ok()
    }

    /// An array's items, in order; `None` for any other value.
    pub fn array(self) -> Option<Vec<Json<'a>>> {
        if self.first() != b'[' {
            return None;
        }
        let items = serde_json::from_str::<Vec<&'a RawValue>>(self.0.get()).ok()?;
        Some(items.into_iter().map(Json).collect())
    }

    /// The member `key` of an object (`null` when absent, or when this is no object). Each call
    /// reads the object's members anew: for several members, read them once with [`Json::object`].
    pub fn get(self, key: &str) -> Json<'a> {
        self.object().map_or(NULL, |o| o.field(key))
    }

    /// The value as compact JSON text: the client's, without the spaces between tokens.
    pub fn compact(self) -> Cow<'a, str> {
        let text = self.0.get();
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

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

impl<'de> Deserialize<'de> for Object<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = Object<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object<'de>, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    let value: &'de RawValue = map.next_value()?;
                    members.push((key, Json(value)));
                }
                Ok(Object { members })
            }
        }
        deserializer.deserialize_map(Members)
    }
}

/// A member's key, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl<'de> Visitor<'de> for Text {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        deserializer.deserialize_str(Text)
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
    /// A value passed on as the client wrote it.
    Raw(&'a RawValue),
    /// A value the translation checked is JSON (a tool call's arguments).
    RawOwned(Box<RawValue>),
    Array(Vec<Out<'a>>),
    Object(Vec<(&'static str, Out<'a>)>),
}

impl<'a> From<&'static str> for Out<'a> {
    fn from(s: &'static str) -> Out<'a> {
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
        Out::Raw(json.raw())
    }
}

impl<'a> From<Vec<Out<'a>>> for Out<'a> {
    fn from(items: Vec<Out<'a>>) -> Out<'a> {
        Out::Array(items)
    }
}

/// An [`Out::Object`] from `key => value` pairs, in the order written.
macro_rules! out {
    ($($key:literal => $value:expr),* $(,)?) => {
        $crate::translate::lazy::Out::Object(vec![$(($key, $crate::translate::lazy::Out::from($value))),*])
    };
}
pub(crate) use out;

impl Serialize for Out<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Out::Null => serializer.serialize_unit(),
            Out::Bool(b) => serializer.serialize_bool(*b),
            Out::U64(n) => serializer.serialize_u64(*n),
            Out::F64(n) => serializer.serialize_f64(*n),
            Out::Str(s) => serializer.serialize_str(s),
            Out::Raw(raw) => raw.serialize(serializer),
            Out::RawOwned(raw) => raw.serialize(serializer),
            Out::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Out::Object(members) => {
                let mut map = serializer.serialize_map(Some(members.len()))?;
                for (key, value) in members {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

/// Writes one JSON object into a byte buffer, member by member; one array member may be written
/// item by item.
#[derive(Debug)]
pub struct BodyWriter {
    out: Vec<u8>,
    members: usize,
    /// Items written into the open array, when one is open.
    items: Option<usize>,
}

impl BodyWriter {
    /// A writer whose buffer starts with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        let mut out = Vec::with_capacity(capacity);
        out.push(b'{');
        BodyWriter {
            out,
            members: 0,
            items: None,
        }
    }

    fn key(&mut self, key: &str) -> serde_json::Result<()> {
        self.close_array();
        if self.members > 0 {
            self.out.push(b',');
        }
        self.members += 1;
        serde_json::to_writer(&mut self.out, key)?;
        self.out.push(b':');
        Ok(())
    }

    /// Writes the member `key`.
    pub fn member(&mut self, key: &str, value: &impl Serialize) -> serde_json::Result<()> {
        self.key(key)?;
        serde_json::to_writer(&mut self.out, value)
    }

    /// Opens the array member `key`; [`BodyWriter::item`] adds to it until the next member.
    pub fn open_array(&mut self, key: &str) -> serde_json::Result<()> {
        self.key(key)?;
        self.out.push(b'[');
        self.items = Some(0);
        Ok(())
    }

    /// Adds an item to the open array.
    pub fn item(&mut self, value: &impl Serialize) -> serde_json::Result<()> {
        self.item_bytes(|out| serde_json::to_writer(out, value))
    }

    /// Adds an item written by `write` to the open array.
    pub fn item_bytes(
        &mut self,
        write: impl FnOnce(&mut Vec<u8>) -> serde_json::Result<()>,
    ) -> serde_json::Result<()> {
        let items = self.items.get_or_insert(0);
        if *items > 0 {
            self.out.push(b',');
        }
        *items += 1;
        write(&mut self.out)
    }

    fn close_array(&mut self) {
        if self.items.take().is_some() {
            self.out.push(b']');
        }
    }

    /// The whole object.
    pub fn finish(mut self) -> Vec<u8> {
        self.close_array();
        self.out.push(b'}');
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

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
    fn the_writer_writes_one_object_with_an_array_written_item_by_item() {
        let mut w = BodyWriter::with_capacity(16);
        w.member("model", &"m").unwrap();
        w.open_array("messages").unwrap();
        w.item(&out! {"role" => "user", "content" => Out::Null})
            .unwrap();
        w.item(&json!({"role": "assistant"})).unwrap();
        w.member("raw", &Json::parse(b" [1, 2] ").unwrap().raw())
            .unwrap();
        w.open_array("empty").unwrap();
        let body: Value = serde_json::from_slice(&w.finish()).unwrap();
        assert_eq!(
            body,
            json!({"model": "m", "messages": [{"role": "user", "content": null},
                {"role": "assistant"}], "raw": [1, 2], "empty": []})
        );
    }
}
