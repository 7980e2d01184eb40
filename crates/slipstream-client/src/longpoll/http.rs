//! The HTTP/1.1 requests of a long-poll session.
//!
//! hyper's client (hyper-util's pooled `Client`, keep-alive) over connections dialled by the
//! websocket's own code (`actor::connection::dial`): the same DNS, TCP and TLS steps, the same
//! shared rustls configuration, the same local address and the same typed [`ConnectError`]s.
//! One client per session: its pool (a GET connection, usually one more for POSTs) lives and dies
//! with the session, on the runtime of the socket that made it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::header::{ACCEPT, CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio_tungstenite::MaybeTlsStream;

use super::error::LongPollError;
use crate::config::Config;
use crate::error::ConnectError;

/// How long an idle pooled connection is kept (a session polls again at once, so only a POST
/// connection between bursts idles).
const POOL_IDLE: Duration = Duration::from_secs(30);

/// A finished exchange: the HTTP status, the headers and the whole body (within the cap).
#[derive(Debug)]
pub(crate) struct Answered {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Bytes,
}

/// A request in flight.
pub(crate) type Exchange = Pin<Box<dyn Future<Output = Result<Answered, LongPollError>> + Send>>;

/// The session's HTTP client.
#[derive(Clone)]
pub(crate) struct Http {
    client: Client<Dialer, Full<Bytes>>,
    config: Arc<Config>,
}

impl Http {
    pub(crate) fn new(config: Arc<Config>) -> Http {
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .pool_timer(TokioTimer::new())
            .build(Dialer {
                config: config.clone(),
            });
        Http { client, config }
    }

    /// A GET of `url`, with `extra` headers beside the configured ones.
    pub(crate) fn get(&self, url: &url::Url, extra: Vec<(HeaderName, HeaderValue)>) -> Exchange {
        self.exchange(Method::GET, url, extra, None)
    }

    /// A POST of `body` to `url`.
    pub(crate) fn post(&self, url: &url::Url, content_type: &'static str, body: Bytes) -> Exchange {
        let extra = vec![(CONTENT_TYPE, HeaderValue::from_static(content_type))];
        self.exchange(Method::POST, url, extra, Some(body))
    }

    fn exchange(
        &self,
        method: Method,
        url: &url::Url,
        extra: Vec<(HeaderName, HeaderValue)>,
        body: Option<Bytes>,
    ) -> Exchange {
        let client = self.client.clone();
        let timeout = self.config.long_poll_timeout;
        let limit = self.config.max_message_size;
        let request = build_request(&self.config, method, url, extra, body);
        Box::pin(async move {
            let request = request?;
            match tokio::time::timeout(timeout, send(client, request, limit)).await {
                Ok(result) => result,
                Err(_) => Err(LongPollError::Timeout(timeout)),
            }
        })
    }
}

fn build_request(
    config: &Config,
    method: Method,
    url: &url::Url,
    extra: Vec<(HeaderName, HeaderValue)>,
    body: Option<Bytes>,
) -> Result<Request<Full<Bytes>>, LongPollError> {
    let uri: Uri = url
        .as_str()
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| LongPollError::Request(e.to_string()))?;
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(ACCEPT, HeaderValue::from_static("application/json"))
        .body(Full::new(body.unwrap_or_default()))
        .map_err(|e| LongPollError::Request(e.to_string()))?;
    let headers = request.headers_mut();
    for (name, value) in &config.headers {
        headers.append(name.clone(), value.clone());
    }
    for (name, value) in extra {
        headers.insert(name, value);
    }
    Ok(request)
}

async fn send(
    client: Client<Dialer, Full<Bytes>>,
    request: Request<Full<Bytes>>,
    limit: usize,
) -> Result<Answered, LongPollError> {
    let response = client.request(request).await.map_err(request_error)?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = read_capped(response.into_body(), limit).await?;
    Ok(Answered {
        status,
        headers,
        body,
    })
}

/// Reads a whole body, failing as soon as it passes `limit` bytes (before buffering more).
pub(crate) async fn read_capped<B>(mut body: B, limit: usize) -> Result<Bytes, LongPollError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::error::Error,
{
    let too_large = LongPollError::BodyTooLarge { limit };
    if body.size_hint().lower() > limit as u64 {
        return Err(too_large);
    }
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| LongPollError::Request(chain(&e)))?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                return Err(too_large);
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

/// A failed request: the dialler's own error when dialling failed, else the causes' text.
fn request_error(error: hyper_util::client::legacy::Error) -> LongPollError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(e) = source {
        if let Some(connect) = e.downcast_ref::<ConnectError>() {
            return LongPollError::Connect(connect.clone());
        }
        source = e.source();
    }
    LongPollError::Request(chain(&error))
}

/// An error and its causes as one line, without the wrapper's own (Debug-based) text when it
/// has a cause.
fn chain(error: &dyn std::error::Error) -> String {
    let mut parts = Vec::new();
    let mut source = error.source();
    while let Some(e) = source {
        parts.push(e.to_string());
        source = e.source();
    }
    if parts.is_empty() {
        parts.push(error.to_string());
    }
    parts.join(": ")
}

/// Dials for hyper's pool with the websocket's dialler.
#[derive(Clone)]
struct Dialer {
    config: Arc<Config>,
}

impl tower_service::Service<Uri> for Dialer {
    type Response = HttpIo;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpIo, ConnectError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let config = self.config.clone();
        Box::pin(async move {
            let url = url::Url::parse(&uri.to_string())
                .map_err(|e| ConnectError::Transport(format!("long-poll URL: {e}")))?;
            let stream = crate::actor::dial(&config, &url).await?;
            Ok(HttpIo(TokioIo::new(stream)))
        })
    }
}

/// A dialled connection, as hyper reads and writes it.
struct HttpIo(TokioIo<MaybeTlsStream<TcpStream>>);

impl Connection for HttpIo {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl hyper::rt::Read for HttpIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for HttpIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_body_over_the_cap_is_an_error_and_one_within_it_is_whole() {
        let body = Full::new(Bytes::from(vec![b'x'; 1001]));
        assert_eq!(
            block(read_capped(body, 1000)).unwrap_err(),
            LongPollError::BodyTooLarge { limit: 1000 }
        );
        let body = Full::new(Bytes::from(vec![b'x'; 1000]));
        assert_eq!(block(read_capped(body, 1000)).unwrap().len(), 1000);
    }

    #[test]
    fn a_streamed_body_is_cut_off_as_soon_as_it_passes_the_cap() {
        use http_body_util::StreamBody;
        use hyper::body::Frame;
        // No size hint: chunks arrive one by one; the third passes the cap.
        let chunks = (0..1_000_000).map(|_| {
            Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from_static(&[b'y'; 400])))
        });
        let body = StreamBody::new(futures_util::stream::iter(chunks));
        assert_eq!(
            block(read_capped(body, 1000)).unwrap_err(),
            LongPollError::BodyTooLarge { limit: 1000 }
        );
    }
}
