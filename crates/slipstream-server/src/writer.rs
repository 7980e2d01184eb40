//! A websocket connection's writer task: the frames of its outbound queue, in order, to the
//! socket.
//!
//! It holds no write buffer: the frames are already complete websocket frames (a broadcast's
//! bytes shared by every subscriber), so what is queued when the writer wakes (up to
//! [`MAX_BATCH`] frames) goes to the socket in vectored writes, straight from those bytes.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

use crate::outbound::{ConnLabel, Out, Overflow, QueueState, overflowed};
use crate::ws;

/// How long the writer of a client that fell behind still tries to finish the frame it was
/// writing and send the close frame; a client that does not read gets its TCP connection dropped.
const OVERFLOW_GRACE: Duration = Duration::from_secs(2);

/// Most frames taken from the queue for one round of writes (and slices in one vectored write).
const MAX_BATCH: usize = 64;

/// Why the writer stopped writing frames in order.
enum WriterStop {
    /// Done: a close was written, the queue ended, or the socket failed.
    Done,
    /// The queue overflowed; `partial` is the frame being written and how much of it was.
    Overflow { partial: Option<(Bytes, usize)> },
}

/// Writes the queue's frames in order. When the queue overflows (the client fell behind), drops
/// every queued frame, logs one WARN line, and for at most [`OVERFLOW_GRACE`] tries to finish the
/// frame being written and send a 1008 close frame; then the socket is dropped.
pub(crate) async fn write_loop<W: AsyncWrite + Unpin>(
    mut io: W,
    mut queue: mpsc::UnboundedReceiver<Out>,
    state: Arc<QueueState>,
    label: ConnLabel,
) {
    let mut overflow = state.overflowed();
    let partial = match write_frames(&mut io, &mut queue, &state, &mut overflow).await {
        WriterStop::Done => return,
        WriterStop::Overflow { partial } => partial,
    };
    let Overflow {
        queued,
        frame,
        limit,
    } = (*overflow.borrow()).unwrap_or(Overflow {
        queued: state.queued(),
        frame: 0,
        limit: 0,
    });
    tracing::warn!(
        conn_id = label.conn_id,
        "{label} is not reading: {queued} bytes already queued for it, a {frame}-byte frame more \
         would pass the limit of {limit} (max_outbound_bytes); closing it with 1008"
    );
    // Free the queue now, not when the last sender (a channel, a subscription) lets go.
    drop(queue);
    let _ = tokio::time::timeout(OVERFLOW_GRACE, async {
        if let Some((frame, written)) = partial {
            io.write_all(&frame[written..]).await?;
        }
        io.write_all(&ws::encode_close(ws::CLOSE_POLICY)).await?;
        io.flush().await?;
        io.shutdown().await
    })
    .await;
}

/// Frames taken from the queue and not yet fully written; the first may be partly written.
struct Batch {
    frames: VecDeque<Bytes>,
    /// Bytes of the first frame already written.
    written: usize,
}

impl Batch {
    /// Counts `n` more bytes as written, giving back each finished frame's bytes to the queue's
    /// accounting.
    fn advance(&mut self, mut n: usize, state: &QueueState) {
        while let Some(front) = self.frames.front() {
            let left = front.len() - self.written;
            if n < left {
                self.written += n;
                return;
            }
            n -= left;
            state.release(front.len());
            self.frames.pop_front();
            self.written = 0;
        }
    }

    /// Drops the batch on overflow: gives back every frame's bytes and returns the frame being
    /// written, if it was begun (it must be finished before a close frame can follow).
    fn abandon(&mut self, state: &QueueState) -> Option<(Bytes, usize)> {
        for frame in &self.frames {
            state.release(frame.len());
        }
        let written = std::mem::take(&mut self.written);
        let first = self.frames.pop_front();
        self.frames = VecDeque::new();
        first.filter(|_| written > 0).map(|frame| (frame, written))
    }
}

/// One vectored write of the batch's frames (from where the first one was left).
async fn write_batch<W: AsyncWrite + Unpin>(io: &mut W, batch: &Batch) -> io::Result<usize> {
    std::future::poll_fn(|cx| {
        // Built on each poll, so the slices live on the stack, not in the task's future.
        let mut slices = [IoSlice::new(&[]); MAX_BATCH];
        let mut count = 0;
        for (slot, frame) in slices.iter_mut().zip(&batch.frames) {
            let skip = if count == 0 { batch.written } else { 0 };
            *slot = IoSlice::new(&frame[skip..]);
            count += 1;
        }
        Pin::new(&mut *io).poll_write_vectored(cx, &slices[..count])
    })
    .await
}

/// The writer's normal work: frames in order, as many as are queued per write.
async fn write_frames<W: AsyncWrite + Unpin>(
    io: &mut W,
    queue: &mut mpsc::UnboundedReceiver<Out>,
    state: &QueueState,
    overflow: &mut watch::Receiver<Option<Overflow>>,
) -> WriterStop {
    let mut batch = Batch {
        frames: VecDeque::new(),
        written: 0,
    };
    loop {
        let item = tokio::select! {
            biased;
            _ = overflowed(overflow) => return WriterStop::Overflow { partial: None },
            item = queue.recv() => item,
        };
        let mut close = match item {
            None => {
                let _ = io.flush().await;
                return WriterStop::Done;
            }
            Some(Out::Frame(frame)) => {
                batch.frames.push_back(frame);
                None
            }
            Some(Out::Close(code)) => Some(code),
        };
        // Whatever else is queued goes in the same writes; a close ends the batch.
        while close.is_none() && batch.frames.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(Out::Frame(frame)) => batch.frames.push_back(frame),
                Ok(Out::Close(code)) => close = Some(code),
                Err(_) => break,
            }
        }
        while !batch.frames.is_empty() {
            tokio::select! {
                biased;
                _ = overflowed(overflow) => {
                    let partial = batch.abandon(state);
                    return WriterStop::Overflow { partial };
                }
                result = write_batch(io, &batch) => match result {
                    Ok(0) | Err(_) => return WriterStop::Done,
                    Ok(n) => batch.advance(n, state),
                },
            }
        }
        // Nothing is kept for traffic that may not come.
        batch.frames = VecDeque::new();
        if let Some(code) = close {
            let _ = io.write_all(&ws::encode_close(code)).await;
            let _ = io.flush().await;
            let _ = io.shutdown().await;
            return WriterStop::Done;
        }
        if queue.is_empty() {
            tokio::select! {
                biased;
                _ = overflowed(overflow) => return WriterStop::Overflow { partial: None },
                result = io.flush() => if result.is_err() {
                    return WriterStop::Done;
                },
            }
        }
    }
}
