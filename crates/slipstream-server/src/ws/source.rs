//! Where a websocket's bytes come from: a [`Source`] appends what the peer sent to the reader's
//! buffer, and, where the transport allows it, waits for bytes without holding any buffer.

use std::future::Future;
use std::io;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::tcp::OwnedReadHalf;

use super::READ_CHUNK;

/// A byte stream a [`WsReader`](super::WsReader) reads from.
pub(crate) trait Source: Send + Unpin {
    /// Waits until bytes can be read (or the stream ends), then appends them to `buf`, having
    /// made room for at least `need` bytes (at least [`READ_CHUNK`]); `Ok(0)` at the end of the
    /// stream. Cancel-safe: bytes are only ever appended to `buf`.
    fn read_into(
        &mut self,
        buf: &mut BytesMut,
        need: usize,
    ) -> impl Future<Output = io::Result<usize>> + Send;
}

/// Room for `need` bytes more, and at least a chunk.
fn make_room(buf: &mut BytesMut, need: usize) {
    buf.reserve(need.max(READ_CHUNK));
}

/// A TCP socket waits for readiness first and allocates only once bytes are there, so a quiet
/// connection holds no read buffer.
impl Source for OwnedReadHalf {
    async fn read_into(&mut self, buf: &mut BytesMut, need: usize) -> io::Result<usize> {
        loop {
            self.readable().await?;
            make_room(buf, need);
            match self.try_read_buf(buf) {
                Ok(n) => return Ok(n),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    // A spurious wake-up: do not keep an empty buffer while waiting again.
                    if buf.is_empty() {
                        *buf = BytesMut::new();
                    }
                }
                Err(err) => return Err(err),
            }
        }
    }
}

/// Any other byte stream (tests, the fuzz targets, an upgraded connection that is not plain
/// TCP): it is read into a buffer made before the read, so it holds one while it waits.
pub(crate) struct Stream<R>(pub(crate) R);

impl<R: AsyncRead + Send + Unpin> Source for Stream<R> {
    async fn read_into(&mut self, buf: &mut BytesMut, need: usize) -> io::Result<usize> {
        make_room(buf, need);
        self.0.read_buf(buf).await
    }
}
