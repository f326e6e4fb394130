//! The failover rules, written once and run for both client APIs: each test body takes the API
//! whose path and endpoints it uses, and `both_apis!` runs it for Anthropic Messages (against
//! `api: anthropic` endpoints) and for Chat Completions (against `api: openai` endpoints).

mod common;

use common::*;

/// One client API: the path it calls, a body for it, and what its endpoints speak.
#[derive(Clone, Copy)]
struct Shape {
    path: &'static str,
    body: &'static str,
    api: &'static str,
}

const MESSAGES: Shape = Shape {
    path: "/v1/messages",
    body: MESSAGES_BODY,
    api: "anthropic",
};

const CHAT: Shape = Shape {
    path: "/v1/chat/completions",
    body: CHAT_BODY,
    api: "openai",
};

impl Shape {
    /// An endpoint entry at `upstream` speaking this shape's API.
    fn endpoint(self, id: &str, upstream: &MockUpstream, priority: u32) -> String {
        let base = match self.api {
            "openai" => format!("{}/v1", upstream.url()),
            _ => upstream.url(),
        };
        endpoint(id, &base, "k", priority) + &format!("    api: {}\n", self.api)
    }

    /// A gateway whose first endpoint is `first` and whose backup is a healthy mock.
    fn gateway(self, first: &MockUpstream) -> (Gateway, MockUpstream) {
        let backup = mock("backup", "k");
        let gw = Gateway::start(&config(
            "",
            &[
                self.endpoint("first", first, 1),
                self.endpoint("backup", &backup, 2),
            ],
        ));
        (gw, backup)
    }
}

/// Runs each named `async fn(Shape)` once per client API, as a test of its own.
macro_rules! both_apis {
    ($($test:ident),* $(,)?) => {
        mod messages {
            $(#[actix_rt::test]
            async fn $test() {
                super::$test(super::MESSAGES).await
            })*
        }
        mod chat_completions {
            $(#[actix_rt::test]
            async fn $test() {
                super::$test(super::CHAT).await
            })*
        }
    };
}

both_apis!(
    an_endpoint_whose_key_is_rejected_gets_no_more_requests,
    a_server_error_fails_over_before_the_client_sees_it,
    a_client_error_is_passed_on_and_blames_no_endpoint,
);

async fn an_endpoint_whose_key_is_rejected_gets_no_more_requests(shape: Shape) {
    let rejecting = mock("first", "another-key");
    let (gw, backup) = shape.gateway(&rejecting);
    for _ in 0..3 {
        let (status, headers, _) = post(&gw.url, shape.path, shape.body).await;
        assert_eq!(status, 200);
        assert_eq!(
            header(&headers, "x-switchyard-endpoint").as_deref(),
            Some("backup")
        );
    }
    assert_eq!(rejecting.hits(), 1, "the rejected key was tried again");
    assert_eq!(backup.hits(), 3);
    assert_eq!(gw.state_of("first").await, "auth_failed");
}

async fn a_server_error_fails_over_before_the_client_sees_it(shape: Shape) {
    let failing = MockUpstream::start(Behaviour {
        name: "first".into(),
        key: Some("k".into()),
        status: Some(500),
        ..Behaviour::default()
    })
    .expect("mock");
    let (gw, backup) = shape.gateway(&failing);
    let (status, headers, _) = post(&gw.url, shape.path, shape.body).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "x-switchyard-attempts").as_deref(),
        Some("2")
    );
    assert_eq!((failing.hits(), backup.hits()), (1, 1));
}

async fn a_client_error_is_passed_on_and_blames_no_endpoint(shape: Shape) {
    let refusing = MockUpstream::start(Behaviour {
        name: "first".into(),
        key: Some("k".into()),
        status: Some(400),
        ..Behaviour::default()
    })
    .expect("mock");
    let (gw, backup) = shape.gateway(&refusing);
    for _ in 0..3 {
        let (status, headers, _) = post(&gw.url, shape.path, shape.body).await;
        assert_eq!(status, 400, "the client's own error is its answer");
        assert_eq!(
            header(&headers, "x-switchyard-endpoint").as_deref(),
            Some("first")
        );
    }
    assert_eq!(
        refusing.hits(),
        3,
        "a client's 400 does not take the endpoint out"
    );
    assert_eq!(backup.hits(), 0, "a client's 400 is not retried elsewhere");
    assert_ne!(gw.state_of("first").await, "ejected");
}
