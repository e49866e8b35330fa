//! A test that cannot run here says so, and never passes silently in CI: with `CI` set
//! it fails unless the run opted out of it by name (`opt_out` set to the reason), and
//! an opted-out skip is written to `CI_SKIPPED` (a file `.ci/run` prints at the end).

use std::io::Write;

/// Call when the test cannot run here, then return from the test. Outside CI it only
/// says why; in CI it panics unless `opt_out` is set.
pub fn cannot_run(test: &str, why: &str, opt_out: &str) {
    let in_ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    let reason = std::env::var(opt_out).ok().filter(|r| !r.trim().is_empty());
    match (in_ci, reason) {
        (false, _) => eprintln!("skipped {test}: {why}"),
        (true, None) => panic!(
            "{test} cannot run: {why}. CI does not skip silently: set {opt_out} to the reason \
             to skip it on purpose"
        ),
        (true, Some(reason)) => {
            eprintln!("skipped {test} on purpose ({opt_out}={reason:?}): {why}");
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
