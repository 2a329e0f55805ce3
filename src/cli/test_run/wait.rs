//! `--wait`: watches the one test, prints what changes (stderr), and stops at the
//! verdict, the timeout, a signal, a test that cannot start, or a test deleted under it.

use std::io::{IsTerminal, Write};
use std::pin::pin;
use std::time::Duration;

use futures::StreamExt;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event, ListSemantic};
use kube::{Api, Client};
use tokio::time::Instant;

use super::duration::show;
use super::outcome::{self, Exit, Standing};
use super::progress::Tracker;
use crate::api::v2::LocustTest;

/// How long a test may stay blocked on a missing ConfigMap or a refused child (it may
/// still be created by the next pipeline step) before the command gives up.
pub const BLOCKED_GRACE: Duration = Duration::from_secs(30);

/// Why the waiting ended.
#[derive(Debug)]
pub enum Ended {
    /// The test finished.
    Finished(Exit),
    /// The command stopped before a verdict.
    Stopped {
        /// What happened, for the summary.
        why: String,
        /// The exit code.
        exit: Exit,
        /// Whether the test may still run (so `--delete-unfinished` applies).
        unfinished: bool,
    },
}

/// Waits for test `name`, starting from `last` (the created object), which it keeps
/// current.
pub async fn wait(
    client: &Client,
    ns: &str,
    name: &str,
    last: &mut LocustTest,
    timeout: Option<Duration>,
) -> Ended {
    let start = Instant::now();
    let mut out = Printer::new();
    let mut tracker = Tracker::new(if out.tty {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(5)
    });
    let api: Api<LocustTest> = Api::namespaced(client.clone(), ns);
    // The newest state from etcd, not the watch cache, which may not have the new test yet.
    let config = watcher::Config::default()
        .fields(&format!("metadata.name={name}"))
        .list_semantic(ListSemantic::MostRecent);
    let mut events = pin!(watcher::watcher(api, config).default_backoff());
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let deadline = timeout.map(|t| start + t);
    let mut interrupted = pin!(super::shutdown_signal());
    let mut seen = false;
    let mut blocked_since: Option<Instant> = None;
    let mut last_error = String::new();
    let stopped = |why: String, exit: Exit, unfinished: bool| Ended::Stopped {
        why,
        exit,
        unfinished,
    };
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(Event::Apply(t) | Event::InitApply(t))) => {
                    seen = true;
                    *last = t;
                    let status = last.status.as_ref();
                    for line in tracker.changes(status) {
                        out.line(start, &line);
                    }
                    match outcome::standing(status) {
                        Standing::Finished(exit) => {
                            out.done();
                            return Ended::Finished(exit);
                        }
                        Standing::Blocked(reason) => {
                            let since = *blocked_since.get_or_insert_with(Instant::now);
                            let exit = outcome::blocked_exit(&reason);
                            if exit == Exit::InvalidInput || since.elapsed() >= BLOCKED_GRACE {
                                out.done();
                                return stopped(blocked(&reason), exit, true);
                            }
                        }
                        Standing::Going => blocked_since = None,
                    }
                }
                Some(Ok(Event::Delete(_))) => {
                    out.done();
                    return stopped("the test was deleted before it finished".into(),
                        Exit::NoVerdict, false);
                }
                Some(Ok(Event::InitDone)) if !seen => {
                    out.done();
                    return stopped("the test is gone: it was deleted before it finished".into(),
                        Exit::NoVerdict, false);
                }
                Some(Ok(Event::Init | Event::InitDone)) => {}
                Some(Err(e)) => {
                    if let Some(why) = fatal(&e) {
                        out.done();
                        return stopped(why, Exit::NoVerdict, true);
                    }
                    let text = e.to_string();
                    if text != last_error {
                        out.line(start, &format!("watching the test: {text} (retrying)"));
                        last_error = text;
                    }
                }
                None => {
                    out.done();
                    return stopped("the watch ended".into(), Exit::NoVerdict, true);
                }
            },
            _ = tick.tick() => {
                if let Some(line) = tracker.progress(last.status.as_ref(), start.elapsed()) {
                    out.progress(start, &line);
                }
                if let Some(since) = blocked_since
                    && since.elapsed() >= BLOCKED_GRACE
                    && let Standing::Blocked(reason) = outcome::standing(last.status.as_ref())
                {
                    out.done();
                    return stopped(blocked(&reason), outcome::blocked_exit(&reason), true);
                }
            }
            () = sleep_until(deadline) => {
                out.done();
                let after = show(timeout.unwrap_or_default());
                return stopped(format!("timed out after {after}"), Exit::NoVerdict, true);
            }
            () = &mut interrupted => {
                out.done();
                return stopped("interrupted (SIGINT or SIGTERM)".into(), Exit::NoVerdict, true);
            }
        }
    }
}

fn blocked(reason: &str) -> String {
    format!(
        "the test cannot start ({reason}; see the Ready message above){}",
        if reason == crate::status::reason::INVALID_SPEC {
            String::new()
        } else {
            format!(" and stayed so for {}", show(BLOCKED_GRACE))
        }
    )
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// An error retrying cannot fix: no right to read the test, or no such resource.
fn fatal(e: &watcher::Error) -> Option<String> {
    let status = match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => s.as_ref(),
        watcher::Error::WatchError(s) => s.as_ref(),
        _ => return None,
    };
    matches!(status.code, 401 | 403 | 404).then(|| {
        format!(
            "watching the test: {} (the user needs get, list and watch on locusttests)",
            status.message
        )
    })
}

/// Lines on stderr, each with the time since the start; on a terminal the progress line
/// is redrawn in place.
struct Printer {
    tty: bool,
    drawn: bool,
}

impl Printer {
    fn new() -> Self {
        Self {
            tty: std::io::stderr().is_terminal(),
            drawn: false,
        }
    }

    fn stamp(start: Instant, line: &str) -> String {
        format!("[{:>8}] {line}", show(start.elapsed()))
    }

    fn line(&mut self, start: Instant, line: &str) {
        self.clear();
        eprintln!("{}", Self::stamp(start, line));
    }

    fn progress(&mut self, start: Instant, line: &str) {
        if self.tty {
            self.clear();
            eprint!("{}", Self::stamp(start, line));
            let _ = std::io::stderr().flush();
            self.drawn = true;
        } else {
            eprintln!("{}", Self::stamp(start, line));
        }
    }

    fn clear(&mut self) {
        if self.drawn {
            eprint!("\r\x1b[2K");
            self.drawn = false;
        }
    }

    /// Leaves the progress line on screen and ends it.
    fn done(&mut self) {
        if self.drawn {
            eprintln!();
            self.drawn = false;
        }
    }
}
