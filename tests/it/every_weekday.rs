//! The date-dependent tests again, with the clock moved to each other day of the week (and to
//! other hours of the day), so that a test that passes on some weekdays only fails on any day.
//!
//! The clock is moved by libfaketime (Debian: `apt-get install faketime`) for a child run of
//! this same test binary: the test process and the PostgreSQL cluster it starts both see the
//! moved clock, so the server's `now()` and the tests' "today" agree, as they do in a normal run.

use std::path::PathBuf;
use std::process::Command;

/// Set in the child runs, which must not start runs of their own.
const MOVED: &str = "FAVCRM_TEST_CLOCK_MOVED";

/// The tests whose dates come from today.
const DATE_DEPENDENT: &[&str] = &["bookings::", "cli::a_studio_is_booked_from_the_cli"];

fn libfaketime() -> PathBuf {
    let candidates = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("faketime/libfaketime.so.1"))
        .chain([PathBuf::from("/usr/lib/faketime/libfaketime.so.1")]);
    candidates.into_iter().find(|p| p.exists()).unwrap_or_else(|| {
        panic!("libfaketime is needed to move the test clock (Debian/Ubuntu: apt-get install faketime)")
    })
}

#[test]
fn the_date_dependent_tests_pass_on_every_day_of_the_week_and_at_other_hours() {
    if std::env::var_os(MOVED).is_some() {
        return;
    }
    let lib = libfaketime();
    let exe = std::env::current_exe().unwrap();
    // Today's run covers one weekday; these cover the other six, each at another hour.
    for day in 1..=6u32 {
        let hours = day * 24 + (day * 5) % 24;
        let out = Command::new(&exe)
            .args(DATE_DEPENDENT)
            .args(["--test-threads", "4"])
            .env("LD_PRELOAD", &lib)
            .env("FAKETIME", format!("+{hours}h"))
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
            .env(MOVED, "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "with the clock {hours} hours ahead the date-dependent tests fail:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let summary = String::from_utf8_lossy(&out.stdout);
        assert!(summary.contains("test result: ok"), "{summary}");
        assert!(!summary.contains(" 0 passed"), "the filter matched no test: {summary}");
    }
}
