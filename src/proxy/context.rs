//! What the gateway knows of one request, found once: at its start (the id, what the client calls
//! and in which API) and when its body has been read (the model, whether it streams, its session).
//! Every later step reads it; none works a fact out again.

use super::request::RequestFacts;
use crate::edge::call::{Call, ClientCall};
use crate::translate::Api;
use actix_web::http::{Method, Uri};
use actix_web::HttpRequest;
use std::sync::Arc;
use tokio::time::Instant;

/// One request's facts.
pub struct RequestContext {
    /// `x-request-id`: the client's, or one the gateway made ([`crate::edge::request_id`]).
    pub id: crate::edge::RequestId,
    /// What the client calls.
    pub call: Call,
    /// The API the client speaks: the shape of its errors and of a cut stream's last event.
    pub client: Api,
    /// Who asks, for usage by client: the name of the client key it presented
    /// (`proxy.client_keys`), else the agent its `User-Agent` names ([`crate::usage::agent_of`]).
    pub agent: Arc<str>,
    pub method: Method,
    /// The request target (its path is logged; cloning one shares its bytes).
    pub target: Uri,
    pub started: Instant,
    /// Read from the body once it has arrived (empty until then).
    pub facts: RequestFacts,
}

impl RequestContext {
    /// The facts a request's head gives.
    pub fn of(req: &HttpRequest) -> RequestContext {
        let ClientCall { call, api } =
            ClientCall::of(req.method(), req.match_info().as_str(), req.headers());
        RequestContext {
            id: crate::edge::request_id(req.headers()),
            call,
            client: api,
            agent: who_asks(req),
            method: req.method().clone(),
            target: req.uri().clone(),
            started: Instant::now(),
            facts: RequestFacts::default(),
        }
    }

    /// The model the client asked for, as read from its body.
    pub fn model(&self) -> Option<&Arc<str>> {
        self.facts.model.as_ref()
    }
}

/// The name of the client key the gate found, else the agent the `User-Agent` names.
fn who_asks(req: &HttpRequest) -> Arc<str> {
    use actix_web::HttpMessage;
    if let Some(name) = req.extensions().get::<crate::edge::ClientName>() {
        return name.0.clone();
    }
    let user_agent = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    LAST_AGENT.with(|last| match last.try_borrow_mut() {
        Ok(mut last) => last.agent_of(user_agent),
        Err(_) => crate::usage::shared_agent_of(user_agent),
    })
}

thread_local! {
    /// This worker's last `User-Agent` and its agent (a worker's requests run on its thread).
    static LAST_AGENT: std::cell::RefCell<LastAgent> = std::cell::RefCell::default();
}

/// The agent of the last `User-Agent` read: a client sends the same one on every request, and
/// comparing it is cheaper than reading its products again.
#[derive(Default)]
struct LastAgent {
    /// `None` for a request without a (text) `User-Agent`.
    user_agent: Option<Box<str>>,
    agent: Option<Arc<str>>,
}

impl LastAgent {
    /// [`crate::usage::shared_agent_of`], remembered for the last `User-Agent`.
    fn agent_of(&mut self, user_agent: Option<&str>) -> Arc<str> {
        if let Some(agent) = &self.agent {
            if self.user_agent.as_deref() == user_agent {
                return agent.clone();
            }
        }
        let agent = crate::usage::shared_agent_of(user_agent);
        self.user_agent = user_agent.map(Box::from);
        self.agent = Some(agent.clone());
        agent
    }
}

#[cfg(test)]
mod tests {
    use super::LastAgent;

    #[test]
    fn the_remembered_agent_is_the_one_the_user_agent_names() {
        let mut last = LastAgent::default();
        for user_agent in [
            Some("claude-cli/2.1.3 (external, cli)"),
            Some("claude-cli/2.1.3 (external, cli)"),
            None,
            None,
            Some("OpenAI/Python 2.8.1"),
            Some("curl/8.5.0"),
            Some("claude-cli/2.1.3 (external, cli)"),
            Some(""),
            None,
        ] {
            assert_eq!(
                last.agent_of(user_agent),
                crate::usage::shared_agent_of(user_agent),
                "{user_agent:?}"
            );
        }
    }
}
