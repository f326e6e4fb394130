//! An error an upstream reports inside a stream whose content already reached the client (an
//! `overloaded_error` event, a Chat `data: {"error": …}` chunk, `response.failed`): the client
//! gets it as it came (or translated), and the endpoint is charged with it instead of being
//! credited with a success. Read from the upstream's bytes as they pass, without holding any:
//! only a line that holds an error key, or follows the name of an error event, is parsed.

use crate::upstream::outcome::UpstreamError;
use crate::upstream::ratelimit;
use crate::wire::events::{error_of, StreamError};
use crate::wire::Api;

/// Longest line kept across a chunk boundary: an error report is short; a longer line (a whole
/// answer in `response.completed`) is passed over.
const LINE_LIMIT: usize = 16 << 10;

/// Watches a relayed stream's upstream bytes for the first error it reports.
#[derive(Debug)]
pub struct ErrorWatch {
    api: Api,
    /// The start of the current line, when it began in an earlier chunk.
    line: Vec<u8>,
    /// The current line outgrew [`LINE_LIMIT`]: passed over to its end.
    skipping: bool,
    /// The current event's name, when it is one that reports errors.
    name: Option<&'static str>,
    /// The first error the stream reported.
    error: Option<StreamError>,
}

impl ErrorWatch {
    /// A watch over a stream of `api`'s events.
    pub fn new(api: Api) -> Self {
        ErrorWatch {
            api,
            line: Vec::new(),
            skipping: false,
            name: None,
            error: None,
        }
    }

    /// Reads the next chunk of the upstream's bytes.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.error.is_some() {
            return;
        }
        let mut rest = chunk;
        while let Some(end) = memchr::memchr(b'\n', rest) {
            let piece = &rest[..end];
            rest = &rest[end + 1..];
            if std::mem::take(&mut self.skipping) {
                self.line.clear();
                continue;
            }
            if self.line.is_empty() {
                self.take_line(piece);
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(piece);
                self.take_line(&line);
                line.clear();
                self.line = line;
            }
            if self.error.is_some() {
                return;
            }
        }
        if self.skipping || rest.is_empty() {
            return;
        }
        if self.line.len() + rest.len() > LINE_LIMIT {
            self.line.clear();
            self.skipping = true;
        } else {
            self.line.extend_from_slice(rest);
        }
    }

    /// The first error the stream reported, if any.
    pub fn error(&self) -> Option<&StreamError> {
        self.error.as_ref()
    }

    /// The endpoint's failure for that error: `None` when there was none, or it was the
    /// request's own (an invalid request), which is no fault of the endpoint.
    pub fn failure(&self) -> Option<UpstreamError> {
        let error = self.error.as_ref()?;
        let quota = ratelimit::quota_exhausted(error.status, error.message.as_bytes());
        UpstreamError::from_status(error.status, None, quota).map(|e| e.in_stream(&error.word))
    }

    fn take_line(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            self.name = None;
        } else if let Some(value) = line.strip_prefix(b"event:") {
            self.name = match trimmed(value) {
                b"error" => Some("error"),
                b"response.failed" => Some("response.failed"),
                _ => None,
            };
        } else if let Some(value) = line.strip_prefix(b"data:") {
            let holds_error = self.name.is_some() || ERROR_KEY.find(value).is_some();
            if !holds_error {
                return;
            }
            let data = String::from_utf8_lossy(trimmed(value));
            self.error = error_of(self.api, self.name.unwrap_or_default(), &data);
        }
    }
}

/// The search for an `"error"` key in an event's data, built once: a one-off `memmem::find`
/// sets a searcher up anew for every event of every stream.
static ERROR_KEY: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\"error\""));

fn trimmed(value: &[u8]) -> &[u8] {
    value.strip_prefix(b" ").unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::outcome::Failure;

    const DELTA: &str = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"the \\\"error\\\" key\"}}\n\n";
    const OVERLOADED: &str = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";

    #[test]
    fn an_error_event_after_content_is_read_at_any_chunk_boundary() {
        let stream = format!("{DELTA}{OVERLOADED}");
        for at in 0..stream.len() {
            let mut watch = ErrorWatch::new(Api::Anthropic);
            let (a, b) = stream.as_bytes().split_at(at);
            watch.feed(a);
            watch.feed(b);
            let failure = watch.failure();
            assert_eq!(
                failure.as_ref().and_then(UpstreamError::status),
                Some(529),
                "split at {at}"
            );
            assert_eq!(
                failure.map(|f| f.failure()),
                Some(Failure::RateLimited { retry_after: None })
            );
        }
    }

    #[test]
    fn text_that_talks_about_errors_is_no_error() {
        let mut watch = ErrorWatch::new(Api::Anthropic);
        watch.feed(DELTA.as_bytes());
        let chat = "data: {\"choices\":[{\"delta\":{\"content\":\"{\\\"error\\\": 1}\"}}]}\n\n";
        let mut chat_watch = ErrorWatch::new(Api::OpenAi);
        chat_watch.feed(chat.as_bytes());
        assert!(watch.error().is_none() && chat_watch.error().is_none());
    }

    #[test]
    fn each_apis_error_report_is_read() {
        for (api, stream, status) in [
            (
                Api::OpenAi,
                "data: {\"error\":{\"message\":\"boom\",\"type\":\"api_error\"}}\n\n",
                500,
            ),
            (
                Api::Responses,
                "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"error\":{\"code\":\"server_error\",\"message\":\"x\"}}}\n\n",
                500,
            ),
            (
                Api::Gemini,
                "data: {\"error\":{\"code\":503,\"message\":\"overloaded\",\"status\":\"UNAVAILABLE\"}}\r\n\r\n",
                503,
            ),
        ] {
            let mut watch = ErrorWatch::new(api);
            watch.feed(stream.as_bytes());
            assert_eq!(watch.failure().and_then(|f| f.status()), Some(status), "{api}");
        }
    }

    #[test]
    fn a_clients_own_error_blames_no_endpoint_and_a_long_line_is_passed_over() {
        let mut watch = ErrorWatch::new(Api::Anthropic);
        watch.feed(b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"too long\"}}\n\n");
        assert_eq!(watch.error().map(|e| e.status), Some(400));
        assert_eq!(watch.failure(), None);

        let mut long = ErrorWatch::new(Api::OpenAi);
        long.feed(b"data: {\"x\":\"");
        long.feed(&vec![b'a'; LINE_LIMIT]);
        long.feed(b"\",\"error\":{\"type\":\"api_error\"}}\n\n");
        assert!(
            long.error().is_none(),
            "nothing of a passed-over line is read"
        );
        long.feed(b"data: {\"error\":{\"type\":\"api_error\",\"message\":\"m\"}}\n\n");
        assert!(long.error().is_some(), "the next line is read again");
    }
}
