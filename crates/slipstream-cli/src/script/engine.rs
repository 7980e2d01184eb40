//! The Rhai engine: limits, the `ANY` wildcard, assertions, `sleep`, the await timeout, JSON
//! helpers, how values print, and the socket vocabulary from [`super::socket`].

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rhai::{Array, Blob, Dynamic, Engine, FnPtr, INT, Map, Module, NativeCallContext};

use super::convert;
use super::error::{Failure, FailureKind};
use super::help;
use super::pattern::{TopicPrefix, Wildcard};
use super::socket::{self, Context};

type Res<T> = Result<T, Box<rhai::EvalAltResult>>;

/// Builds an engine whose functions act on `context`'s sockets; `print` goes to `out`.
pub fn build(context: &Rc<Context>, out: impl Fn(&str) + 'static) -> Engine {
    let mut engine = Engine::new();
    engine.set_max_expr_depths(128, 64);
    let out = Rc::new(out);
    let print = out.clone();
    engine.on_print(move |text| print(text));
    engine.on_debug(|text, source, position| {
        tracing::info!(target: "script", ?source, %position, "{text}");
    });

    // Ctrl-C also stops a busy loop, not only an await.
    let cancel = context.settings.cancel.clone();
    engine.on_progress(move |_| {
        cancel
            .load(Ordering::Acquire)
            .then(|| Dynamic::from("interrupted"))
    });

    // `ANY`, visible everywhere (also inside functions, which do not see the outer scope).
    let mut constants = Module::new();
    constants.set_var("ANY", Wildcard);
    engine.register_global_module(constants.into());
    engine
        .register_type_with_name::<Wildcard>("Any")
        .register_fn("to_string", |_: &mut Wildcard| "ANY".to_owned())
        .register_fn("to_debug", |_: &mut Wildcard| "ANY".to_owned())
        .register_type_with_name::<TopicPrefix>("TopicPrefix")
        .register_fn("prefix", |p: &str| TopicPrefix(p.to_owned()))
        .register_fn("to_string", |p: &mut TopicPrefix| {
            format!("prefix({:?})", p.0)
        })
        .register_fn("to_debug", |p: &mut TopicPrefix| {
            format!("prefix({:?})", p.0)
        });

    register_failure(&mut engine);
    register_help(&mut engine, out);
    register_printing(&mut engine);
    register_assertions(&mut engine);
    register_json(&mut engine);

    let settings = context.settings.clone();
    engine.register_fn("sleep", move |ctx: NativeCallContext, ms: INT| {
        socket::sleep(&settings, ms).map_err(|f| f.into_error(ctx.call_position()))
    });
    let settings = context.settings.clone();
    engine.register_fn(
        "set_timeout",
        move |ctx: NativeCallContext, ms: INT| -> Res<()> {
            // The same bounds as `--timeout`: one millisecond to one day.
            let max_ms = (crate::cmd::MAX_TIMEOUT_SECS * 1000.0) as u64;
            match u64::try_from(ms) {
                Ok(ms) if (1..=max_ms).contains(&ms) => {
                    settings.timeout.set(Duration::from_millis(ms));
                    Ok(())
                }
                _ => Err(Failure::new(
                    FailureKind::Usage,
                    format!(
                        "set_timeout({ms}): the timeout must be from 1 to {max_ms} milliseconds (one day)"
                    ),
                )
                .into_error(ctx.call_position())),
            }
        },
    );
    let settings = context.settings.clone();
    engine.register_fn("timeout", move || {
        INT::try_from(settings.timeout.get().as_millis()).unwrap_or(INT::MAX)
    });

    socket::register(&mut engine, context);
    engine
}

/// `help()`, `help("push")` and `help(push)`: printed where `print` prints (see [`help`]).
///
/// So that `help(push)` works, a vocabulary function's bare name is a function pointer, as a
/// script function's name already is in Rhai (a variable of that name comes first).
fn register_help(engine: &mut Engine, out: Rc<dyn Fn(&str)>) {
    fn explain(ctx: &NativeCallContext, name: &str) -> Res<String> {
        match help::entry(name) {
            Some(entry) => Ok(entry.render()),
            None => {
                let near = help::closest(name, help::names());
                Err(Failure::new(
                    FailureKind::Usage,
                    format!("help({name:?}): {name} is not in the vocabulary (help() lists it)"),
                )
                .with_hint(near.map(|n| format!("did you mean help(\"{n}\")?")))
                .into_error(ctx.call_position()))
            }
        }
    }
    let o = out.clone();
    engine.register_fn("help", move || o(&help::overview()));
    let o = out.clone();
    engine.register_fn(
        "help",
        move |ctx: NativeCallContext, name: &str| -> Res<()> {
            o(&explain(&ctx, name)?);
            Ok(())
        },
    );
    engine.register_fn("help", move |ctx: NativeCallContext, f: FnPtr| -> Res<()> {
        out(&explain(&ctx, f.fn_name())?);
        Ok(())
    });
    #[allow(deprecated)] // "volatile", not deprecated: Rhai marks it so
    engine.on_var(|name, index, context| {
        if index > 0 || context.scope().contains(name) {
            return Ok(None);
        }
        match help::entry(name) {
            Some(entry) if entry.is_function() => Ok(Some(FnPtr::new(name)?.into())),
            _ => Ok(None),
        }
    });
}

/// The `Failure` type scripts catch: `e.kind`, `e.message`, `e.expected`, `e.received`,
/// `e.hint`.
fn register_failure(engine: &mut Engine) {
    let text = |s: &Option<String>| s.clone().map_or(Dynamic::UNIT, Dynamic::from);
    engine
        .register_type_with_name::<Failure>("Failure")
        .register_get("kind", |f: &mut Failure| f.kind.name().to_owned())
        .register_get("message", |f: &mut Failure| f.message.clone())
        .register_get("expected", move |f: &mut Failure| text(&f.expected))
        .register_get("received", move |f: &mut Failure| text(&f.received))
        .register_get("hint", move |f: &mut Failure| text(&f.hint))
        .register_fn("to_string", |f: &mut Failure| f.to_string())
        .register_fn("to_debug", |f: &mut Failure| f.to_string());
}

/// Maps, arrays and blobs print as JSON / `<<1, 2>>`, like the rest of the CLI (Rhai's own
/// `print`, `debug`, `to_string` and `to_debug` would show `#{"a": 1}`).
fn register_printing(engine: &mut Engine) {
    for name in ["print", "debug", "to_string", "to_debug"] {
        engine
            .register_fn(name, |m: &mut Map| {
                convert::show(&Dynamic::from_map(m.clone()))
            })
            .register_fn(name, |a: &mut Array| {
                convert::show(&Dynamic::from_array(a.clone()))
            })
            .register_fn(name, |b: &mut Blob| {
                convert::show(&Dynamic::from_blob(b.clone()))
            });
    }
}

/// Whether two values are equal for `assert_eq`: as JSON when both have a JSON form (so maps
/// compare by content), else by their text.
pub fn values_equal(a: &Dynamic, b: &Dynamic) -> bool {
    if let (Some(x), Some(y)) = (a.read_lock::<Blob>(), b.read_lock::<Blob>()) {
        return *x == *y;
    }
    match (convert::to_json(a), convert::to_json(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a.type_name() == b.type_name() && a.to_string() == b.to_string(),
    }
}

fn register_assertions(engine: &mut Engine) {
    fn check(ctx: &NativeCallContext, ok: bool, failure: impl FnOnce() -> Failure) -> Res<()> {
        if ok {
            Ok(())
        } else {
            Err(failure().into_error(ctx.call_position()))
        }
    }
    engine
        .register_fn("assert", |ctx: NativeCallContext, cond: bool| {
            check(&ctx, cond, || {
                Failure::new(FailureKind::Assertion, "assert failed")
            })
        })
        .register_fn(
            "assert",
            |ctx: NativeCallContext, cond: bool, message: &str| {
                check(&ctx, cond, || {
                    Failure::new(FailureKind::Assertion, format!("assert failed: {message}"))
                })
            },
        )
        .register_fn(
            "assert_eq",
            |ctx: NativeCallContext, actual: Dynamic, expected: Dynamic| {
                check(&ctx, values_equal(&actual, &expected), || {
                    Failure::new(FailureKind::Assertion, "assert_eq failed")
                        .expected(convert::show(&expected))
                        .received(convert::show(&actual))
                })
            },
        )
        .register_fn(
            "assert_eq",
            |ctx: NativeCallContext, actual: Dynamic, expected: Dynamic, message: &str| {
                check(&ctx, values_equal(&actual, &expected), || {
                    Failure::new(
                        FailureKind::Assertion,
                        format!("assert_eq failed: {message}"),
                    )
                    .expected(convert::show(&expected))
                    .received(convert::show(&actual))
                })
            },
        );
}

fn register_json(engine: &mut Engine) {
    engine
        .register_fn(
            "to_json",
            |ctx: NativeCallContext, value: Dynamic| -> Res<String> {
                convert::to_json(&value)
                    .map(|v| v.to_string())
                    .map_err(|e| {
                        Failure::new(FailureKind::Usage, format!("to_json: {e}"))
                            .into_error(ctx.call_position())
                    })
            },
        )
        .register_fn("from_json", |ctx: NativeCallContext, text: &str| {
            convert::parse_json(text).map_err(|e| {
                Failure::new(FailureKind::Usage, format!("from_json: {e}"))
                    .into_error(ctx.call_position())
            })
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_compares_maps_by_content_and_blobs_by_bytes() {
        let a = convert::parse_json(r#"{"a": [1, 2], "b": "x"}"#).unwrap();
        let b = convert::parse_json(r#"{"b": "x", "a": [1, 2]}"#).unwrap();
        assert!(values_equal(&a, &b));
        let c = convert::parse_json(r#"{"b": "x", "a": [1]}"#).unwrap();
        assert!(!values_equal(&a, &c));
        assert!(values_equal(
            &Dynamic::from_blob(vec![1, 2]),
            &Dynamic::from_blob(vec![1, 2])
        ));
        assert!(!values_equal(
            &Dynamic::from_blob(vec![1, 2]),
            &Dynamic::from_blob(vec![1])
        ));
        assert!(!values_equal(&Dynamic::from_int(1), &Dynamic::from("1")));
    }
}
