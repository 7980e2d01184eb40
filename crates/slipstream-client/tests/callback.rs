//! Every callback, the context's requests, the handle and each way a runner stops, under the
//! test kit.

use std::time::Duration;

use serde_json::json;
use slipstream_client::callback::{
    self, CallError, Client, ClientHandle, Context, Disconnect, Flow, ReplyTo, Runner, StopReason,
    TopicClose,
};
use slipstream_client::testkit::TestServer;
use slipstream_client::{
    ConfigError, ConnectError, DisconnectReason, JoinError, Payload, Ref, Reply, ReplyError,
    Socket, TopicCloseReason, pattern,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// One callback invocation, as the recorder saw it.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Connect,
    Disconnect(Disconnect),
    Join(String, Payload),
    Message(String, String, Payload),
    Reply(Ref, Result<Reply, ReplyError>),
    TopicClose(String, TopicClose),
    Leave(String),
    Info(Cmd),
}

/// What the test asks the recorder to do, through `handle.info`.
#[derive(Debug, Clone, PartialEq)]
enum Cmd {
    Join(&'static str),
    Leave(&'static str),
    Rejoin(&'static str),
    Push(&'static str, &'static str),
    PushWithTimeout(&'static str, Duration),
    Disconnect,
    Reconnect,
    Stop(&'static str),
}

/// Records every callback; acts on `Cmd`s; answers calls (`"later"` on the next join, `"never"`
/// not at all, anything else at once).
struct Recorder {
    seen: mpsc::UnboundedSender<Seen>,
    deferred: Option<ReplyTo<String>>,
}

impl Recorder {
    fn record(&self, seen: Seen) {
        self.seen.send(seen).unwrap();
    }
}

impl Client for Recorder {
    type Info = Cmd;
    type Call = &'static str;
    type Response = String;

    async fn connect(&mut self, _cx: &Context<Self>) -> Flow {
        self.record(Seen::Connect);
        Flow::Continue
    }

    async fn disconnect(&mut self, reason: Disconnect, _cx: &Context<Self>) -> Flow {
        self.record(Seen::Disconnect(reason.clone()));
        reason.default_flow()
    }

    async fn join(&mut self, topic: &str, response: &Payload, _cx: &Context<Self>) -> Flow {
        self.record(Seen::Join(topic.into(), response.clone()));
        if let Some(reply) = self.deferred.take() {
            reply.send(format!("joined {topic}"));
        }
        Flow::Continue
    }

    async fn message(
        &mut self,
        topic: &str,
        event: &str,
        payload: &Payload,
        _cx: &Context<Self>,
    ) -> Flow {
        self.record(Seen::Message(topic.into(), event.into(), payload.clone()));
        Flow::Continue
    }

    async fn reply(
        &mut self,
        push_ref: &Ref,
        reply: Result<Reply, ReplyError>,
        _cx: &Context<Self>,
    ) -> Flow {
        self.record(Seen::Reply(push_ref.clone(), reply));
        Flow::Continue
    }

    async fn topic_close(&mut self, topic: &str, reason: TopicClose, _cx: &Context<Self>) -> Flow {
        self.record(Seen::TopicClose(topic.into(), reason));
        Flow::Continue
    }

    async fn leave(&mut self, topic: &str, _cx: &Context<Self>) -> Flow {
        self.record(Seen::Leave(topic.into()));
        Flow::Continue
    }

    async fn handle_info(&mut self, cmd: Cmd, cx: &Context<Self>) -> Flow {
        self.record(Seen::Info(cmd.clone()));
        match cmd {
            Cmd::Join(topic) => cx.join(topic, json!({"via": "cx"})),
            Cmd::Leave(topic) => cx.leave(topic),
            Cmd::Rejoin(topic) => cx.rejoin(topic),
            Cmd::Push(topic, event) => {
                let push_ref = cx.push(topic, event, json!({}));
                self.record(Seen::Reply(push_ref, Err(ReplyError::Timeout)));
            }
            Cmd::PushWithTimeout(topic, timeout) => {
                cx.push_with_timeout(topic, "slow", json!({}), timeout);
            }
            Cmd::Disconnect => cx.disconnect(),
            Cmd::Reconnect => cx.reconnect(),
            Cmd::Stop(why) => return Flow::stop(why),
        }
        Flow::Continue
    }

    async fn handle_call(
        &mut self,
        call: &'static str,
        reply: ReplyTo<String>,
        cx: &Context<Self>,
    ) -> Flow {
        match call {
            "later" => self.deferred = Some(reply),
            "never" => drop(reply),
            "handle" => {
                // A handle from the context reaches the same client.
                let me = cx.handle();
                reply.send(format!("running: {}", me.is_running()));
            }
            other => {
                reply.send(other.to_uppercase());
            }
        }
        Flow::Continue
    }
}

struct Harness {
    server: TestServer,
    handle: ClientHandle<Recorder>,
    task: JoinHandle<StopReason>,
    seen: mpsc::UnboundedReceiver<Seen>,
}

impl Harness {
    fn start() -> Harness {
        let server = TestServer::new();
        let (tx, seen) = mpsc::unbounded_channel();
        let recorder = Recorder {
            seen: tx,
            deferred: None,
        };
        let (handle, task) = callback::spawn(recorder, server.builder()).unwrap();
        Harness {
            server,
            handle,
            task,
            seen,
        }
    }

    async fn connected() -> Harness {
        let mut h = Harness::start();
        h.server.accept_connect().await.unwrap();
        assert_eq!(h.next().await, Seen::Connect);
        h
    }

    /// The next callback (info callbacks the test itself caused are skipped).
    async fn next(&mut self) -> Seen {
        loop {
            let seen = tokio::time::timeout(Duration::from_secs(120), self.seen.recv())
                .await
                .expect("no callback")
                .expect("the client stopped");
            if !matches!(seen, Seen::Info(_)) {
                return seen;
            }
        }
    }

    async fn joined(&mut self, topic: &'static str) {
        self.handle.info(Cmd::Join(topic)).unwrap();
        let join = self
            .server
            .assert_join(topic, pattern!({"via": "cx"}))
            .await
            .unwrap();
        self.server.accept_join(&join, json!({"n": 1})).unwrap();
        assert_eq!(
            self.next().await,
            Seen::Join(topic.into(), json!({"n": 1}).into())
        );
    }
}

#[tokio::test(start_paused = true)]
async fn join_message_reply_and_leave_reach_their_callbacks() {
    let mut h = Harness::connected().await;
    h.joined("rooms:a").await;

    h.server
        .push("rooms:a", "foo", json!({"bar": "baz"}))
        .unwrap();
    assert_eq!(
        h.next().await,
        Seen::Message("rooms:a".into(), "foo".into(), json!({"bar": "baz"}).into())
    );

    h.handle.info(Cmd::Push("rooms:a", "ping")).unwrap();
    let Seen::Reply(push_ref, _) = h.next().await else {
        panic!("expected the push's ref");
    };
    let push = h
        .server
        .assert_push("rooms:a", "ping", pattern!({}))
        .await
        .unwrap();
    assert_eq!(push.push_ref, push_ref);
    h.server
        .reply(&push.push_ref, "ok", json!({"pong": "pong"}))
        .unwrap();
    assert_eq!(
        h.next().await,
        Seen::Reply(
            push_ref,
            Ok(Reply {
                status: "ok".into(),
                response: json!({"pong": "pong"}).into()
            })
        )
    );

    h.handle
        .info(Cmd::PushWithTimeout("rooms:a", Duration::from_secs(2)))
        .unwrap();
    h.server
        .assert_push("rooms:a", "slow", pattern!(_))
        .await
        .unwrap();
    let Seen::Reply(_, outcome) = h.next().await else {
        panic!("expected the slow push's outcome");
    };
    assert_eq!(
        outcome,
        Err(ReplyError::PushTimeout(Duration::from_secs(2)))
    );

    h.handle.info(Cmd::Leave("rooms:a")).unwrap();
    h.server.assert_leave("rooms:a").await.unwrap();
    assert_eq!(h.next().await, Seen::Leave("rooms:a".into()));
}

#[tokio::test(start_paused = true)]
async fn refused_crashed_and_closed_topics_reach_topic_close() {
    let mut h = Harness::connected().await;

    h.handle.info(Cmd::Join("rooms:secret")).unwrap();
    let join = h
        .server
        .assert_join("rooms:secret", pattern!(_))
        .await
        .unwrap();
    h.server
        .refuse_join(&join, json!({"reason": "unauthorized"}))
        .unwrap();
    assert_eq!(
        h.next().await,
        Seen::TopicClose(
            "rooms:secret".into(),
            TopicClose::JoinFailed {
                error: JoinError::Rejected {
                    status: "error".into(),
                    response: json!({"reason": "unauthorized"}).into()
                },
                rejoin_in: None
            }
        )
    );
    // The default does not retry a refusal; the client can, through its context.
    h.server
        .refute_join("rooms:secret", pattern!(_), Duration::from_secs(30))
        .await
        .unwrap();
    h.handle.info(Cmd::Rejoin("rooms:secret")).unwrap();
    h.server
        .assert_join("rooms:secret", pattern!({"via": "cx"}))
        .await
        .unwrap();

    h.joined("rooms:a").await;
    h.server.crash("rooms:a").unwrap();
    assert_eq!(
        h.next().await,
        Seen::TopicClose(
            "rooms:a".into(),
            TopicClose::Crashed {
                payload: json!({"reason": "channel_crash"}).into(),
                rejoin_in: Duration::from_secs(1)
            }
        )
    );
    let rejoin = h.server.assert_join("rooms:a", pattern!(_)).await.unwrap();
    h.server.accept_join(&rejoin, json!({})).unwrap();
    assert_eq!(
        h.next().await,
        Seen::Join("rooms:a".into(), json!({}).into())
    );

    h.server.close_topic("rooms:a").unwrap();
    assert_eq!(
        h.next().await,
        Seen::TopicClose(
            "rooms:a".into(),
            TopicClose::Closed(TopicCloseReason::ClosedByServer(json!({}).into()))
        )
    );
}

#[tokio::test(start_paused = true)]
async fn lost_and_reconnected_connections_continue_and_a_requested_disconnect_stops() {
    let mut h = Harness::connected().await;
    h.server.drop_connection().unwrap();
    let Seen::Disconnect(Disconnect::Lost(DisconnectReason::TransportError(_))) = h.next().await
    else {
        panic!("expected a lost connection");
    };
    h.server.accept_connect().await.unwrap();
    assert_eq!(h.next().await, Seen::Connect);

    h.server.stop_heartbeats();
    assert_eq!(
        h.next().await,
        Seen::Disconnect(Disconnect::Lost(DisconnectReason::HeartbeatTimeout))
    );
    h.server.answer_heartbeats();
    h.server.accept_connect().await.unwrap();
    assert_eq!(h.next().await, Seen::Connect);

    h.handle.info(Cmd::Reconnect).unwrap();
    assert_eq!(h.next().await, Seen::Disconnect(Disconnect::Reconnect));
    h.server.accept_connect().await.unwrap();
    assert_eq!(h.next().await, Seen::Connect);

    h.handle.info(Cmd::Disconnect).unwrap();
    assert_eq!(h.next().await, Seen::Disconnect(Disconnect::Requested));
    assert_eq!(h.task.await.unwrap(), StopReason::Disconnected);
    assert_eq!(h.server.assert_disconnect().await.unwrap().code, Some(1000));
}

#[tokio::test(start_paused = true)]
async fn a_connect_refused_for_good_stops_with_the_error() {
    let mut h = Harness::start();
    h.server.refuse_connect(403).await.unwrap();
    let refused = ConnectError::Refused {
        status: 403,
        headers: Vec::new(),
        body: None,
        path: "/socket/websocket".into(),
    };
    assert_eq!(
        h.next().await,
        Seen::Disconnect(Disconnect::ConnectFailed(refused.clone()))
    );
    assert_eq!(h.task.await.unwrap(), StopReason::ConnectFailed(refused));
}

#[tokio::test(start_paused = true)]
async fn calls_are_answered_now_later_or_never_and_stop_ends_the_client() {
    let mut h = Harness::connected().await;
    assert_eq!(h.handle.call("hi").await, Ok("HI".to_owned()));
    assert_eq!(
        h.handle.call("handle").await,
        Ok("running: true".to_owned())
    );
    assert_eq!(h.handle.call("never").await, Err(CallError::NoReply));
    assert_eq!(
        h.handle.call_timeout("later", Duration::from_secs(1)).await,
        Err(CallError::Timeout(Duration::from_secs(1)))
    );

    // A deferred answer, given by a later callback (the next join).
    let handle = h.handle.clone();
    let waiting = tokio::spawn(async move { handle.call("later").await });
    tokio::task::yield_now().await;
    h.joined("rooms:a").await;
    assert_eq!(waiting.await.unwrap(), Ok("joined rooms:a".to_owned()));

    h.handle.stop();
    assert_eq!(h.task.await.unwrap(), StopReason::Stopped);
    h.server.assert_disconnect().await.unwrap();
    assert!(!h.handle.is_running());
    assert_eq!(h.handle.call("hi").await, Err(CallError::Stopped));
    assert_eq!(h.handle.info(Cmd::Disconnect), Err(CallError::Stopped));
}

#[tokio::test(start_paused = true)]
async fn a_callback_can_stop_the_client_with_a_reason() {
    let mut h = Harness::connected().await;
    h.handle.info(Cmd::Stop("enough")).unwrap();
    assert_eq!(
        h.task.await.unwrap(),
        StopReason::Requested("enough".into())
    );
    h.server.assert_disconnect().await.unwrap();
}

/// A client that overrides nothing.
struct Defaults;

impl Client for Defaults {
    type Info = ();
    type Call = ();
    type Response = ();
}

#[tokio::test(start_paused = true)]
async fn the_defaults_do_nothing_but_stop_after_a_requested_disconnect() {
    let mut server = TestServer::new();
    let runner = Runner::new(Defaults, server.builder()).unwrap();
    let handle = runner.handle();
    let socket: Socket = runner.socket().clone();
    let task = tokio::spawn(runner.run());
    server.accept_connect().await.unwrap();
    server
        .refute_join("rooms:a", pattern!(_), Duration::from_millis(100))
        .await
        .unwrap();

    socket.join("rooms:a", json!({}));
    let join = server.assert_join("rooms:a", pattern!(_)).await.unwrap();
    server.accept_join(&join, json!({})).unwrap();
    server.push("rooms:a", "foo", json!({})).unwrap();
    server.crash("rooms:a").unwrap();
    // The socket rejoins the crashed topic by itself.
    let rejoin = server.assert_join("rooms:a", pattern!(_)).await.unwrap();
    server.accept_join(&rejoin, json!({})).unwrap();
    handle.info(()).unwrap();
    assert_eq!(handle.call(()).await, Err(CallError::NoReply));
    server.drop_connection().unwrap();
    server.accept_connect().await.unwrap();
    server.assert_join("rooms:a", pattern!(_)).await.unwrap();

    socket.disconnect();
    assert_eq!(task.await.unwrap(), StopReason::Disconnected);
}

#[tokio::test(start_paused = true)]
async fn run_reports_a_socket_that_cannot_be_built() {
    let reason = callback::run(Defaults, Socket::builder("gopher://nowhere")).await;
    assert!(matches!(
        reason,
        StopReason::Config(ConfigError::InvalidUrl { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn failed_reconnect_attempts_are_reported_and_the_default_keeps_trying() {
    let mut h = Harness::connected().await;
    h.server.drop_connection().unwrap();
    let Seen::Disconnect(Disconnect::Lost(_)) = h.next().await else {
        panic!("expected a lost connection");
    };
    h.server.refuse_connect(503).await.unwrap();
    match h.next().await {
        Seen::Disconnect(Disconnect::RetryFailed {
            attempt,
            error: ConnectError::Refused { status: 503, .. },
            ..
        }) => assert!(attempt >= 2, "attempt {attempt}"),
        other => panic!("expected RetryFailed with the 503, got {other:?}"),
    }
    // The default continues, so the socket's next attempt comes and succeeds.
    h.server.accept_connect().await.unwrap();
    assert_eq!(h.next().await, Seen::Connect);
}
