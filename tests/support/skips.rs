//! A test that cannot run here says so, and never passes silently in CI: with `CI` set
//! it fails unless the run opted out of it by name (`opt_out` set to the reason), and
//! an opted-out skip is written to `CI_SKIPPED` (a file `.ci/run` prints at the end).
//!
//! The skip is said on the process's own stderr, past the test harness's capture, so a
//! plain `cargo test` shows it (`SKIPPED <test>: <why>`) just above the harness's
//! `test <test> ... ok`; a skip is not a failure, and a test cannot mark itself ignored
//! once it runs.

use std::io::Write;

/// What a skip prints, in every run (`cargo test` captures `eprintln!`, not this).
pub const SKIPPED: &str = "SKIPPED";

/// Call when the test cannot run here, then return from the test. Outside CI it only
/// says why; in CI it panics unless `opt_out` is set.
pub fn cannot_run(test: &str, why: &str, opt_out: &str) {
    let in_ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    let reason = std::env::var(opt_out).ok().filter(|r| !r.trim().is_empty());
    match (in_ci, reason) {
        (false, _) => say(&format!(
            "{SKIPPED} {test}: {why}. It did not run: \"ok\" below means only that."
        )),
        (true, None) => panic!(
            "{test} cannot run: {why}. CI does not skip silently: set {opt_out} to the reason \
             to skip it on purpose"
        ),
        (true, Some(reason)) => {
            say(&format!(
                "{SKIPPED} {test} on purpose ({opt_out}={reason:?}): {why}"
            ));
            if let Some(path) = std::env::var_os("CI_SKIPPED")
                && let Ok(mut file) = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
            {
                let _ = writeln!(file, "{test}: {why} ({opt_out}={reason})");
            }
        }
    }
}

/// Straight to stderr: the harness captures only `print!`/`eprint!` output.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}
