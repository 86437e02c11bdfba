//! Failpoints: named cut points where a test can make the process abort, to prove crash safety
//! by killing rather than by reasoning.
//!
//! `PAMFORM_FAILPOINT=NAME` aborts at the first hit of `NAME`; `NAME@N` at the N-th hit. A name
//! is `point` or `kind:point`, e.g. `after-intent` or `checkout:after-call`. Unset, a failpoint
//! costs one environment lookup per process and does nothing.
//!
//! Invariant: `hit` either returns or aborts the process without unwinding (no destructor runs, as
//! with kill -9).

use std::sync::Mutex;
use std::sync::OnceLock;

struct Armed {
    name: String,
    nth: u64,
    hits: Mutex<u64>,
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let value = std::env::var("PAMFORM_FAILPOINT").ok()?;
            let (name, nth) = match value.rsplit_once('@') {
                Some((name, n)) => (name.to_string(), n.parse().ok()?),
                None => (value, 1),
            };
            Some(Armed {
                name,
                nth,
                hits: Mutex::new(0),
            })
        })
        .as_ref()
}

/// Aborts the process if the armed failpoint is `kind:point` or `point`.
pub fn hit(kind: &str, point: &str) {
    let Some(armed) = armed() else { return };
    let matches = armed.name == point
        || armed
            .name
            .split_once(':')
            .is_some_and(|(k, p)| k == kind && p == point);
    if !matches {
        return;
    }
    let mut hits = armed.hits.lock().unwrap_or_else(|e| e.into_inner());
    *hits += 1;
    if *hits == armed.nth {
        eprintln!("pamform: failpoint {kind}:{point} reached; aborting");
        std::process::abort();
    }
}
