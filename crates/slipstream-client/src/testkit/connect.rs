//! Connect attempts: the connector a test socket uses, and what the test server sees of them.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::actor::{BoxTransport, Connector};
use crate::error::ConnectError;

/// One connect attempt, waiting for the test server's answer.
pub(crate) struct Attempt {
    pub(crate) url: url::Url,
    pub(crate) answer: oneshot::Sender<Result<BoxTransport, ConnectError>>,
}

/// A connector that hands every attempt to the test server and waits for its answer.
pub(crate) fn connector(attempts: mpsc::UnboundedSender<Attempt>) -> Connector {
    Arc::new(move |url| {
        let attempts = attempts.clone();
        Box::pin(async move {
            let (answer, answered) = oneshot::channel();
            attempts
                .send(Attempt { url, answer })
                .map_err(|_| ConnectError::Transport("the test server is gone".into()))?;
            answered.await.unwrap_or_else(|_| {
                Err(ConnectError::Transport(
                    "the test server dropped the connect attempt".into(),
                ))
            })
        })
    })
}

/// A connect attempt as the test sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRequest {
    /// The full URL, with its query (`vsn`, params, tokens).
    pub url: String,
    /// The query parameters, in order.
    pub params: Vec<(String, String)>,
}

impl ConnectRequest {
    pub(crate) fn new(url: &url::Url) -> Self {
        ConnectRequest {
            url: url.to_string(),
            params: url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        }
    }

    /// The value of query parameter `name`, if present.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}
