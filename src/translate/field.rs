//! Where a value lies in the client's request (`messages[3].content[0]`), for a refusal that names
//! it. A reader passes the path down as it reads, and it is written out only when a refusal or a
//! log line names it: most requests are refused nowhere, and a path formatted for each of their
//! turns and blocks cost an allocation each.

use std::fmt;

/// A path in the client's request, borrowing the path of the list it is an item of.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field<'p> {
    parent: Option<&'p Field<'p>>,
    key: &'static str,
    index: Option<usize>,
}

impl<'p> Field<'p> {
    /// Item `index` of the top-level list `key` (`messages[3]`).
    pub fn top(key: &'static str, index: usize) -> Field<'static> {
        Field {
            parent: None,
            key,
            index: Some(index),
        }
    }

    /// Item `index` of this value's list `key` (`messages[3].content[0]`); `key` may name a
    /// list further down (`functionResponse.parts`).
    pub fn item(&'p self, key: &'static str, index: usize) -> Field<'p> {
        Field {
            parent: Some(self),
            key,
            index: Some(index),
        }
    }

    /// This value's member `key` (`input[2].output`).
    pub fn member(&'p self, key: &'static str) -> Field<'p> {
        Field {
            parent: Some(self),
            key,
            index: None,
        }
    }
}

impl fmt::Display for Field<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(parent) = self.parent {
            write!(f, "{parent}.")?;
        }
        f.write_str(self.key)?;
        match self.index {
            Some(index) => write!(f, "[{index}]"),
            None => Ok(()),
        }
    }
}

impl From<Field<'_>> for String {
    fn from(field: Field<'_>) -> String {
        field.to_string()
    }
}

impl From<&Field<'_>> for String {
    fn from(field: &Field<'_>) -> String {
        field.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_reads_as_the_client_wrote_the_request() {
        let turn = Field::top("contents", 2);
        let part = turn.item("parts", 0);
        assert_eq!(part.to_string(), "contents[2].parts[0]");
        let inner = part.item("functionResponse.parts", 1);
        assert_eq!(
            String::from(&inner),
            "contents[2].parts[0].functionResponse.parts[1]"
        );
        assert_eq!(format!("{turn}.role"), "contents[2].role");
        let output = Field::top("input", 1);
        let output = output.member("output");
        assert_eq!(
            output.item("content", 0).to_string(),
            "input[1].output.content[0]"
        );
    }
}
