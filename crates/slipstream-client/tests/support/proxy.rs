//! A fault-injection TCP proxy for client tests.
//!
//! [`Proxy::start`] listens on `127.0.0.1:0` and forwards every connection to a target (the
//! in-process demo server). At runtime, globally ([`Proxy::faults`], for every connection present
//! and future) or per connection ([`Proxy::link`]), it can:
//!
//! * **cut**: close both sides of a connection ([`Link::cut`], [`Proxy::cut_all`]);
//! * **refuse**: accept and close at once, or stop listening ([`Proxy::refuse`]);
//! * **blackhole**: keep the TCP connection open but stop forwarding bytes in one or both
//!   directions ([`Faults::blackhole`]); the proxy then stops reading that side too, so the
//!   sender's kernel buffers fill and its writes block, as on a dead link;
//! * **delay**: add latency before each forwarded chunk ([`Faults::delay`]);
//! * **throttle**: forward at most so many bytes a second ([`Faults::throttle`]).
//!
//! Tokio only, loopback only; every loop ends when the proxy is dropped, when its connection
//! ends, or after [`LIFETIME`] at the latest.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// The longest a proxy and its connections run.
pub const LIFETIME: Duration = Duration::from_secs(300);
/// How often a stalled loop looks at its faults again.
const TICK: Duration = Duration::from_millis(5);
/// Largest chunk read and forwarded at once.
const CHUNK: usize = 16 * 1024;

/// Which way bytes travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client → server.
    Up,
    /// Server → client.
    Down,
    /// Both ways.
    Both,
}

/// How the proxy treats new connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refuse {
    /// Accept and forward (the default).
    No,
    /// Accept the TCP connection and close it at once.
    CloseAtOnce,
    /// Close the listening socket: connects are refused by the kernel. `Refuse::No` or
    /// `Refuse::CloseAtOnce` listens again on the same port.
    StopListening,
}

/// Faults applied to forwarded bytes.
#[derive(Debug, Default)]
pub struct Faults {
    blackhole_up: AtomicBool,
    blackhole_down: AtomicBool,
    delay_ms: AtomicU64,
    /// Bytes per second; 0 means unlimited.
    throttle_bps: AtomicU64,
}

impl Faults {
    /// Stops forwarding bytes in `direction` (the connection stays open).
    pub fn blackhole(&self, direction: Direction) {
        self.set_blackhole(direction, true);
    }

    /// Forwards bytes in `direction` again.
    pub fn restore(&self, direction: Direction) {
        self.set_blackhole(direction, false);
    }

    fn set_blackhole(&self, direction: Direction, on: bool) {
        if matches!(direction, Direction::Up | Direction::Both) {
            self.blackhole_up.store(on, Ordering::SeqCst);
        }
        if matches!(direction, Direction::Down | Direction::Both) {
            self.blackhole_down.store(on, Ordering::SeqCst);
        }
    }

    /// Waits `per_chunk` before forwarding each chunk (`Duration::ZERO`: no delay).
    pub fn delay(&self, per_chunk: Duration) {
        let ms = u64::try_from(per_chunk.as_millis()).unwrap_or(u64::MAX);
        self.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// Forwards at most `bytes_per_sec` in each direction (`None`: unlimited).
    pub fn throttle(&self, bytes_per_sec: Option<u64>) {
        self.throttle_bps
            .store(bytes_per_sec.unwrap_or(0), Ordering::SeqCst);
    }

    fn blackholed(&self, up: bool) -> bool {
        if up {
            self.blackhole_up.load(Ordering::SeqCst)
        } else {
            self.blackhole_down.load(Ordering::SeqCst)
        }
    }
}

/// One proxied connection: its own faults, and a way to cut it.
#[derive(Debug, Default)]
pub struct Link {
    /// Faults for this connection only (added to the proxy's global ones).
    pub faults: Faults,
    cut: AtomicBool,
}

impl Link {
    /// Closes both sides of this connection.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }

    fn is_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }
}

#[derive(Debug)]
struct Shared {
    target: SocketAddr,
    global: Faults,
    refuse: AtomicU8,
    accepted: AtomicUsize,
    links: Mutex<Vec<Arc<Link>>>,
    deadline: Instant,
}

impl Shared {
    fn refuse(&self) -> Refuse {
        match self.refuse.load(Ordering::SeqCst) {
            1 => Refuse::CloseAtOnce,
            2 => Refuse::StopListening,
            _ => Refuse::No,
        }
    }

    fn blackholed(&self, link: &Link, up: bool) -> bool {
        self.global.blackholed(up) || link.faults.blackholed(up)
    }

    fn delay(&self, link: &Link) -> Duration {
        let ms = self
            .global
            .delay_ms
            .load(Ordering::SeqCst)
            .max(link.faults.delay_ms.load(Ordering::SeqCst));
        Duration::from_millis(ms)
    }

    fn throttle(&self, link: &Link) -> Option<u64> {
        [&self.global, &link.faults]
            .iter()
            .map(|f| f.throttle_bps.load(Ordering::SeqCst))
            .filter(|&bps| bps > 0)
            .min()
    }

    fn over(&self, link: &Link) -> bool {
        link.is_cut() || Instant::now() >= self.deadline
    }
}

/// A running proxy; dropping it stops it and closes every connection.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// Listens on `127.0.0.1:0` and forwards to `target` (a loopback address).
    pub async fn start(target: SocketAddr) -> Proxy {
        assert!(
            target.ip().is_loopback(),
            "the proxy forwards to loopback only"
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy bind");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            target,
            global: Faults::default(),
            refuse: AtomicU8::new(0),
            accepted: AtomicUsize::new(0),
            links: Mutex::new(Vec::new()),
            deadline: Instant::now() + LIFETIME,
        });
        let task = tokio::spawn(accept_loop(listener, addr, shared.clone()));
        Proxy { addr, shared, task }
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ws_url` (the target's websocket URL) with the proxy's address in place of the target's.
    pub fn url_for(&self, ws_url: &str) -> String {
        let target = self.shared.target.to_string();
        assert!(ws_url.contains(&target), "{ws_url} is not the target's URL");
        ws_url.replacen(&target, &self.addr.to_string(), 1)
    }

    /// Faults applied to every connection, present and future.
    pub fn faults(&self) -> &Faults {
        &self.shared.global
    }

    /// The `index`-th forwarded connection (0 is the first), if there was one.
    pub fn link(&self, index: usize) -> Option<Arc<Link>> {
        self.shared.links.lock().unwrap().get(index).cloned()
    }

    /// The latest forwarded connection.
    pub fn last_link(&self) -> Option<Arc<Link>> {
        self.shared.links.lock().unwrap().last().cloned()
    }

    /// Cuts every connection open now.
    pub fn cut_all(&self) {
        for link in self.shared.links.lock().unwrap().iter() {
            link.cut();
        }
    }

    /// How new connections are treated from now on.
    pub fn refuse(&self, refuse: Refuse) {
        let code = match refuse {
            Refuse::No => 0,
            Refuse::CloseAtOnce => 1,
            Refuse::StopListening => 2,
        };
        self.shared.refuse.store(code, Ordering::SeqCst);
    }

    /// TCP connections accepted so far (refused ones included).
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // The accept task owns every connection's task: aborting it ends them all.
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, addr: SocketAddr, shared: Arc<Shared>) {
    let mut listener = Some(listener);
    let mut connections = JoinSet::new();
    while Instant::now() < shared.deadline {
        // Reap finished connection tasks so the set stays small.
        while connections.try_join_next().is_some() {}
        if shared.refuse() == Refuse::StopListening {
            listener = None;
            tokio::time::sleep(TICK).await;
            continue;
        }
        let Some(l) = &listener else {
            listener = TcpListener::bind(addr).await.ok();
            if listener.is_none() {
                tokio::time::sleep(TICK).await;
            }
            continue;
        };
        let accepted = tokio::select! {
            accepted = l.accept() => accepted,
            () = tokio::time::sleep(TICK) => continue,
        };
        let Ok((client, _)) = accepted else {
            tokio::time::sleep(TICK).await;
            continue;
        };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        if shared.refuse() == Refuse::CloseAtOnce {
            drop(client);
            continue;
        }
        let link = Arc::new(Link::default());
        shared.links.lock().unwrap().push(link.clone());
        connections.spawn(forward(client, shared.clone(), link));
    }
}

async fn forward(client: TcpStream, shared: Arc<Shared>, link: Arc<Link>) {
    let server = tokio::select! {
        server = TcpStream::connect(shared.target) => server,
        () = until_over(&shared, &link) => return,
    };
    let Ok(server) = server else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(
        pump(client_read, server_write, true, &shared, &link),
        pump(server_read, client_write, false, &shared, &link),
    );
    // Both halves of both sockets are dropped here: a cut closes both sides.
}

/// Forwards one direction until EOF, an error, a cut or the deadline.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    up: bool,
    shared: &Shared,
    link: &Link,
) {
    let mut buf = vec![0u8; CHUNK];
    while !shared.over(link) {
        if shared.blackholed(link, up) {
            // Not reading: the sender's buffers fill, as on a dead link.
            tokio::time::sleep(TICK).await;
            continue;
        }
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            },
            () = tokio::time::sleep(TICK) => continue,
        };
        let mut data = &buf[..n];
        while !data.is_empty() {
            if shared.over(link) {
                return;
            }
            if shared.blackholed(link, up) {
                // Hold what was read until the direction is restored.
                tokio::time::sleep(TICK).await;
                continue;
            }
            let delay = shared.delay(link);
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let throttle = shared.throttle(link);
            let len = match throttle {
                Some(bps) => data
                    .len()
                    .min(usize::try_from(bps / 20).unwrap_or(CHUNK).max(1)),
                None => data.len(),
            };
            tokio::select! {
                written = to.write_all(&data[..len]) => if written.is_err() { return },
                () = until_over(shared, link) => return,
            }
            if let Some(bps) = throttle {
                tokio::time::sleep(Duration::from_secs_f64(len as f64 / bps as f64)).await;
            }
            data = &data[len..];
        }
    }
    // EOF from one side: pass it on (half-close), unless the connection was cut.
    if !shared.over(link) {
        let _ = to.shutdown().await;
    }
}

/// Returns once the link is cut or the proxy's lifetime is over.
async fn until_over(shared: &Shared, link: &Link) {
    while !shared.over(link) {
        tokio::time::sleep(TICK).await;
    }
}
