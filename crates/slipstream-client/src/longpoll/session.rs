//! An open long-poll session as the connection task's transport: a stream of the frames the
//! polls bring and a sink whose frames are POSTed in batches.
//!
//! Nothing here runs on its own: the GET and the POST in flight are futures polled by the
//! connection task through the stream (the GET) and the sink (the POST), so a session adds no
//! task of its own and stops the moment it is dropped.
//!
//! * Exactly one GET in flight. A 200 yields its frames in order, then the next GET starts;
//!   a 204 starts the next GET at once. Anything else ends the stream with an error (410: the
//!   session is lost; 403: refused; 500, a network error or the request timeout), which the
//!   connection task treats as a lost connection: it reconnects on its schedule and rejoins.
//! * One POST in flight. Frames handed to the sink meanwhile wait in the bounded
//!   [`SendQueue`] and go in the next POST; a flush completes once every frame given to the
//!   sink has been acknowledged by the server.
//! * A close frame from the connection task (a disconnect) just ends the session here: no
//!   further request is made, and the server forgets the session when its polls stop.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::{Sink, Stream};
use hyper::header::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::{Error, Message};

use super::batch::SendQueue;
use super::body::{Answer, Polled, poll_outcome, post_outcome};
use super::error::LongPollError;
use super::http::{Answered, Exchange, Http};
use super::url::{TOKEN_PARAM, poll_url, with_token};
use crate::config::Config;
use crate::error::ConnectError;

/// The header Phoenix 1.8 reads the auth token from on a session-creating GET (PROTOCOL.md §8.3).
const AUTH_TOKEN_HEADER: HeaderName = HeaderName::from_static("x-phoenix-authtoken");

/// Opens a session for the websocket connect URL `ws_url`: a GET without a token, whose body
/// must be `{"status":410,"token":…}`. A `403` (or any other status) is
/// [`ConnectError::Refused`], as a refused websocket upgrade is. Bounded by the upgrade timeout.
pub(crate) async fn open(config: Arc<Config>, ws_url: url::Url) -> Result<LongPoll, ConnectError> {
    let limit = config.upgrade_timeout;
    match tokio::time::timeout(limit, open_inner(config, ws_url)).await {
        Ok(result) => result,
        Err(_) => Err(ConnectError::UpgradeTimeout(limit)),
    }
}

async fn open_inner(config: Arc<Config>, ws_url: url::Url) -> Result<LongPoll, ConnectError> {
    let url = poll_url(&ws_url);
    if url.query_pairs().any(|(k, _)| k == TOKEN_PARAM) {
        tracing::warn!(
            "a `token` param is sent over long-poll, where `token` names the session; \
             the server will see the session's token last"
        );
    }
    let http = Http::new(config.clone());
    let mut extra = Vec::new();
    if let Some(token) = config.auth_token.as_ref().map(|f| f()) {
        let value = HeaderValue::from_str(&token)
            .map_err(|e| ConnectError::Transport(format!("auth token header: {e}")))?;
        extra.push((AUTH_TOKEN_HEADER, value));
    }
    let path = url.path().to_owned();
    let answered = http.get(&url, extra).await.map_err(|e| match e {
        LongPollError::Connect(e) => e,
        LongPollError::Timeout(t) => ConnectError::UpgradeTimeout(t),
        other => ConnectError::Transport(other.to_string()),
    })?;
    let session = session_token(answered, &path)?;
    tracing::debug!("long-poll session open");
    Ok(LongPoll::new(http, with_token(&url, &session)))
}

/// The token from the answer to a session-creating GET, or why there is none.
fn session_token(answered: Answered, path: &str) -> Result<String, ConnectError> {
    let refused = |status: u16, answered: Answered| ConnectError::Refused {
        status,
        headers: answered.headers,
        body: Some(String::from_utf8_lossy(&answered.body).into_owned()).filter(|b| !b.is_empty()),
        path: path.to_owned(),
    };
    if answered.status != 200 {
        return Err(refused(answered.status, answered));
    }
    let answer =
        Answer::decode(&answered.body).map_err(|e| ConnectError::Transport(e.to_string()))?;
    match (answer.status, answer.token) {
        (410, Some(token)) if !token.is_empty() => Ok(token),
        (410, _) => Err(ConnectError::Transport(
            "long-poll session opened without a token".into(),
        )),
        (status, _) => Err(refused(status, answered)),
    }
}

/// Where the session is.
enum State {
    Open,
    /// Failed; the error is still to be reported (by the stream, or by the sink if it is used
    /// first).
    Failed(LongPollError),
    /// Over: the error was reported or the connection task closed it.
    Done,
}

/// An open long-poll session (see the module docs).
pub(crate) struct LongPoll {
    http: Http,
    /// The poll URL with the session token.
    url: url::Url,
    /// Frames from the last poll not yet taken.
    inbox: VecDeque<String>,
    poll: Option<Exchange>,
    post: Option<Exchange>,
    queue: SendQueue,
    state: State,
}

impl LongPoll {
    fn new(http: Http, url: url::Url) -> LongPoll {
        LongPoll {
            http,
            url,
            inbox: VecDeque::new(),
            poll: None,
            post: None,
            queue: SendQueue::default(),
            state: State::Open,
        }
    }

    fn fail(&mut self, error: LongPollError) {
        tracing::debug!(%error, "long-poll session ended");
        self.poll = None;
        self.post = None;
        self.queue.clear();
        self.inbox.clear();
        if matches!(self.state, State::Open) {
            self.state = State::Failed(error);
        }
    }

    /// The error to report, once; afterwards the session is done.
    fn take_error(&mut self) -> Option<Error> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Failed(e) => Some(e.into_transport_error()),
            State::Done => Some(Error::AlreadyClosed),
            State::Open => {
                self.state = State::Open;
                None
            }
        }
    }

    /// Drives the POST in flight and starts the next one while frames wait (only when
    /// `send_waiting`). Ready once nothing is in flight; an error ends the session.
    fn drive_posts(&mut self, cx: &mut Context<'_>, send_waiting: bool) -> Poll<()> {
        loop {
            if let Some(post) = self.post.as_mut() {
                let answered = match post.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(answered) => answered,
                };
                self.post = None;
                let outcome = answered.and_then(|a| match a.status {
                    200 => post_outcome(&a.body),
                    status => Err(LongPollError::Http(status)),
                });
                if let Err(error) = outcome {
                    self.fail(error);
                    return Poll::Ready(());
                }
            }
            if !send_waiting {
                return Poll::Ready(());
            }
            match self.queue.next_post() {
                Some(post) => {
                    tracing::trace!(
                        frames = post.frames,
                        bytes = post.body.len(),
                        "long-poll POST"
                    );
                    self.post = Some(self.http.post(&self.url, post.content_type, post.body));
                }
                None => return Poll::Ready(()),
            }
        }
    }
}

impl Stream for LongPoll {
    type Item = Result<Message, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            match this.state {
                State::Open => {}
                State::Failed(_) => return Poll::Ready(this.take_error().map(Err)),
                State::Done => return Poll::Ready(None),
            }
            if let Some(frame) = this.inbox.pop_front() {
                return Poll::Ready(Some(Ok(Message::Text(frame.into()))));
            }
            let poll = this
                .poll
                .get_or_insert_with(|| this.http.get(&this.url, Vec::new()));
            let answered = match poll.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(answered) => answered,
            };
            this.poll = None;
            let outcome = answered.and_then(|a| match a.status {
                200 => poll_outcome(&a.body),
                status => Err(LongPollError::Http(status)),
            });
            match outcome {
                Ok(Polled::Messages(frames)) => this.inbox.extend(frames),
                Ok(Polled::NoContent) => {}
                Err(error) => this.fail(error),
            }
        }
    }
}

impl Sink<Message> for LongPoll {
    type Error = Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = &mut *self;
        if !matches!(this.state, State::Open) {
            return match this.take_error() {
                Some(Error::AlreadyClosed) | None => Poll::Ready(Ok(())),
                Some(e) => Poll::Ready(Err(e)),
            };
        }
        if this.queue.has_room() {
            return Poll::Ready(Ok(()));
        }
        // Full: a POST must take some before another frame is queued.
        match this.drive_posts(cx, true) {
            Poll::Ready(()) => match this.take_error() {
                Some(e) => Poll::Ready(Err(e)),
                None => Poll::Ready(Ok(())),
            },
            Poll::Pending if this.queue.has_room() => Poll::Ready(Ok(())),
            Poll::Pending => Poll::Pending,
        }
    }

    fn start_send(mut self: Pin<&mut Self>, frame: Message) -> Result<(), Error> {
        let this = &mut *self;
        if !matches!(this.state, State::Open) {
            return match frame {
                Message::Close(_) => Ok(()),
                _ => Err(this.take_error().unwrap_or(Error::AlreadyClosed)),
            };
        }
        match frame {
            Message::Text(text) => this.queue.push_text(text.as_str()),
            Message::Binary(bytes) => this.queue.push_binary(&bytes),
            Message::Close(_) => {
                // No close frame on long-poll: the session just stops.
                tracing::debug!("long-poll session closed by the client");
                this.fail(LongPollError::Request("closed".into()));
                this.state = State::Done;
            }
            // Websocket control frames mean nothing here.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
        Ok(())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = &mut *self;
        if !matches!(this.state, State::Open) {
            return match this.take_error() {
                Some(Error::AlreadyClosed) | None => Poll::Ready(Ok(())),
                Some(e) => Poll::Ready(Err(e)),
            };
        }
        match this.drive_posts(cx, true) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => match this.take_error() {
                Some(e) => Poll::Ready(Err(e)),
                None => Poll::Ready(Ok(())),
            },
        }
    }

    fn poll_close(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = &mut *self;
        if matches!(this.state, State::Open) {
            this.fail(LongPollError::Request("closed".into()));
        }
        this.state = State::Done;
        Poll::Ready(Ok(()))
    }
}
