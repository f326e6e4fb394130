//! One source for the words of an enum: the config file, JSON answers, logs and docs use the same
//! word, written once in a [`words!`] table. Adding a variant is one line.

use serde::{Deserialize, Deserializer};
use std::fmt::Write;

/// An enum whose values are words (`healthy`, `round_robin`, `x-api-key`, …).
pub trait Words: Copy + PartialEq + 'static {
    /// Every value with its word, in declaration order.
    const ALL: &'static [(Self, &'static str)];

    /// The word for this value.
    fn word(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(value, _)| *value == self)
            .map_or("", |(_, word)| word)
    }

    /// The value a word names, if any.
    fn from_word(word: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(_, w)| *w == word)
            .map(|(value, _)| *value)
    }

    /// The words for an error message: `a, b or c`.
    fn choices() -> String {
        let mut out = String::new();
        let n = Self::ALL.len();
        for (i, (_, word)) in Self::ALL.iter().enumerate() {
            let sep = match i {
                0 => "",
                _ if i + 1 == n => " or ",
                _ => ", ",
            };
            let _ = write!(out, "{sep}{word}");
        }
        out
    }
}

/// A word read from outside (another build's JSON, say): one of `T`'s, or a word this build does
/// not know, kept as it came, so that a newer gateway's new word breaks nothing in an older CLI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Word<T> {
    Known(T),
    Unknown(String),
}

impl<T: Words> Word<T> {
    /// The word as it was read.
    pub fn as_str(&self) -> &str {
        match self {
            Word::Known(value) => value.word(),
            Word::Unknown(word) => word,
        }
    }
}

impl<'de, T: Words> Deserialize<'de> for Word<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let word = String::deserialize(d)?;
        Ok(match T::from_word(&word) {
            Some(value) => Word::Known(value),
            None => Word::Unknown(word),
        })
    }
}

/// Declares an enum with one word per variant; derives `as_str`, `Display`, `Serialize` and
/// [`Words`] from that one table.
#[macro_export]
macro_rules! words {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $word:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $crate::words::Words for $name {
            const ALL: &'static [(Self, &'static str)] = &[$(($name::$variant, $word),)+];
        }

        impl $name {
            /// The word a user reads and writes for this value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::{Word, Words};

    crate::words! {
        /// A test enum.
        enum Colour {
            Red = "red",
            DarkBlue = "dark-blue",
            Green = "green",
        }
    }

    #[test]
    fn every_word_reads_back_as_its_value_and_prints_as_itself() {
        for (value, word) in Colour::ALL {
            assert_eq!(Colour::from_word(word), Some(*value));
            assert_eq!(value.as_str(), *word);
            assert_eq!(value.word(), *word);
            assert_eq!(value.to_string(), *word);
            assert_eq!(serde_json::to_value(value).unwrap(), *word);
        }
        assert_eq!(Colour::from_word("blue"), None);
        assert_eq!(Colour::choices(), "red, dark-blue or green");
        assert_eq!(Colour::DarkBlue.as_str(), "dark-blue");
    }

    #[test]
    fn a_word_read_from_outside_is_known_or_kept_as_it_came() {
        let read = |json: &str| serde_json::from_str::<Word<Colour>>(json).unwrap();
        assert_eq!(read("\"dark-blue\""), Word::Known(Colour::DarkBlue));
        assert_eq!(read("\"ultraviolet\""), Word::Unknown("ultraviolet".into()));
        assert_eq!(read("\"ultraviolet\"").as_str(), "ultraviolet");
        assert_eq!(read("\"red\"").as_str(), "red");
        assert!(serde_json::from_str::<Word<Colour>>("5").is_err());
    }
}
