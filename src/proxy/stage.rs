//! Body stages: small transformations the relay runs over an answer's bytes as they pass, in
//! order (a translator, then the key redactor; a usage meter can join them). A stage sees the
//! upstream's chunks as they arrive and never holds more than it must.

use crate::upstream::redact::Redactor;
use bytes::Bytes;

/// How a stage ends: its last bytes, and why the body it saw was incomplete, if it was (the bytes
/// then already hold the client's error event).
#[derive(Debug, Default)]
pub struct StageEnd {
    pub bytes: Bytes,
    pub cut: Option<String>,
}

/// One transformation of the answer's bytes on their way to the client.
pub trait BodyStage {
    /// The bytes to pass on for `chunk` (possibly none yet).
    fn feed(&mut self, chunk: Bytes) -> Bytes;
    /// Called once when the body before this stage has ended.
    fn finish(&mut self) -> StageEnd;
    /// `text` (a reason an earlier stage gives for a cut, bound for the log) as this stage would
    /// let it pass.
    fn scrub(&self, text: String) -> String {
        text
    }
    /// The stage will pass nothing more of this body: the relay stops reading it and ends.
    fn gave_up(&self) -> bool {
        false
    }
}

impl BodyStage for Redactor {
    fn feed(&mut self, chunk: Bytes) -> Bytes {
        Redactor::feed(self, chunk)
    }

    fn finish(&mut self) -> StageEnd {
        StageEnd {
            bytes: Redactor::finish(self),
            cut: None,
        }
    }

    fn scrub(&self, text: String) -> String {
        self.redact_text(text)
    }
}

/// Stages in the order the bytes pass them.
#[derive(Default)]
pub struct Stages {
    stages: Vec<Box<dyn BodyStage>>,
    /// The key redactor, always last; held inline, since every answer has one.
    redactor: Option<Redactor>,
}

impl Stages {
    /// Adds a stage after the others (and before the redactor).
    pub fn then(mut self, stage: Option<Box<dyn BodyStage>>) -> Self {
        self.stages.extend(stage);
        self
    }

    /// Ends the stages with the endpoint's key redactor.
    pub fn redacting(mut self, redactor: Option<Redactor>) -> Self {
        self.redactor = redactor;
        self
    }

    /// No stage: bytes pass unchanged.
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty() && self.redactor.is_none()
    }

    /// Runs a chunk through every stage.
    pub fn feed(&mut self, chunk: Bytes) -> Bytes {
        let mut bytes = chunk;
        for stage in self.all() {
            if bytes.is_empty() {
                break;
            }
            bytes = stage.feed(bytes);
        }
        bytes
    }

    /// A stage will pass nothing more of this body.
    pub fn gave_up(&self) -> bool {
        self.stages.iter().any(|stage| stage.gave_up())
    }

    /// Ends every stage in order, each one's last bytes going through the stages after it.
    pub fn finish(&mut self) -> StageEnd {
        let mut carried = Bytes::new();
        let mut cut = None;
        for stage in self.all() {
            let mut out = if carried.is_empty() {
                Vec::new()
            } else {
                stage.feed(carried).to_vec()
            };
            let end = stage.finish();
            out.extend_from_slice(&end.bytes);
            cut = cut.or(end.cut).map(|reason| stage.scrub(reason));
            carried = Bytes::from(out);
        }
        StageEnd {
            bytes: carried,
            cut,
        }
    }

    /// A whole body through every stage, and the stages' end.
    pub fn whole(mut self, body: Bytes) -> StageEnd {
        let out = self.feed(body);
        let mut end = self.finish();
        if out.is_empty() {
            return end;
        }
        if !end.bytes.is_empty() {
            let mut joined = Vec::with_capacity(out.len() + end.bytes.len());
            joined.extend_from_slice(&out);
            joined.extend_from_slice(&end.bytes);
            end.bytes = Bytes::from(joined);
        } else {
            end.bytes = out;
        }
        end
    }

    /// Every stage in order, the redactor last.
    fn all(&mut self) -> impl Iterator<Item = &mut dyn BodyStage> {
        let stages = self
            .stages
            .iter_mut()
            .map(|s| &mut **s as &mut dyn BodyStage);
        let redactor = self.redactor.iter_mut().map(|r| r as &mut dyn BodyStage);
        stages.chain(redactor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Holds everything back and upper-cases it at the end.
    struct Shout(Vec<u8>);

    impl BodyStage for Shout {
        fn feed(&mut self, chunk: Bytes) -> Bytes {
            self.0.extend_from_slice(&chunk);
            Bytes::new()
        }
        fn finish(&mut self) -> StageEnd {
            StageEnd {
                bytes: Bytes::from(self.0.to_ascii_uppercase()),
                cut: Some("cut".into()),
            }
        }
    }

    #[test]
    fn a_later_stage_sees_what_an_earlier_one_lets_out_at_the_end() {
        let redactor = Redactor::for_key("SECRET-KEY-123");
        let mut stages = Stages::default()
            .then(Some(Box::new(Shout(Vec::new()))))
            .redacting(redactor);
        assert!(stages.feed(Bytes::from_static(b"key secret-")).is_empty());
        assert!(stages.feed(Bytes::from_static(b"key-123 ok")).is_empty());
        let end = stages.finish();
        let text = String::from_utf8(end.bytes.to_vec()).unwrap();
        assert!(text.starts_with("KEY ") && text.ends_with(" OK"), "{text}");
        assert!(!text.contains("SECRET-KEY-123"), "{text}");
        assert_eq!(end.cut.as_deref(), Some("cut"));
    }

    #[test]
    fn a_whole_body_goes_through_as_fed_in_pieces_would() {
        let body = Bytes::from_static(b"key secret-key-123 ok");
        let whole = Stages::default()
            .then(Some(Box::new(Shout(Vec::new()))))
            .redacting(Redactor::for_key("SECRET-KEY-123"))
            .whole(body.clone());
        assert_eq!(whole.bytes, "KEY [redacted] OK");
        assert_eq!(whole.cut.as_deref(), Some("cut"));
        let redacted = Stages::default()
            .redacting(Redactor::for_key("secret-key-123"))
            .whole(body.clone());
        assert_eq!(redacted.bytes, "key [redacted] ok");
        assert_eq!(Stages::default().whole(body.clone()).bytes, body);
    }

    #[test]
    fn no_stage_passes_bytes_unchanged() {
        let mut stages = Stages::default();
        assert!(stages.is_empty());
        assert_eq!(stages.feed(Bytes::from_static(b"abc")), "abc");
        assert!(stages.finish().bytes.is_empty());
    }
}
