//! The date-dependent tests again, with the clock moved to each other day of the week (and to
//! other hours of the day), and to the instants dates go wrong at: a month end, a year end, a
//! leap day and both of London's DST changes. A test that passes on some days only fails on any.
//!
//! The clock is moved by libfaketime (Debian: `apt-get install faketime`) for a child run of
//! this same test binary: the test process and the PostgreSQL cluster it starts both see the
//! moved clock, so the server's `now()` and the tests' "today" agree, as they do in a normal run.

use std::path::PathBuf;
use std::process::Command;

/// Set in the child runs, which must not start runs of their own.
const MOVED: &str = "FAVCRM_TEST_CLOCK_MOVED";

/// The tests whose dates come from today (the MCP ones through the bookings fixture that
/// `mcp::fixture` builds three days from now).
const DATE_DEPENDENT: &[&str] = &[
    "bookings::",
    "billing::",
    "stripe::",
    "commerce::",
    "subscriptions::",
    "loyalty::",
    "messaging::",
    "reports::",
    "content::",
    "cli::a_studio_is_booked_from_the_cli",
    "mcp_client::the_official_python_mcp_sdk_bills",
    "mcp_client::the_official_python_mcp_sdk_sells",
    "mcp_client::the_official_python_mcp_sdk_earns",
    "mcp_client::the_official_python_mcp_sdk_sets_up_messaging",
    "cli::a_membership_and_a_pack",
    "cli::a_studio_is_booked_from_the_cli",
    "processes::",
    "mcp::every_tool_answers_with_output_that_matches_its_schema",
    "mcp::annotations_are_true",
    "mcp::a_staff_key_is_offered_exactly_the_tools",
    "mcp::a_tool_call_the_gate_answers_itself",
];

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

/// Where the clock is put for each run (libfaketime's `FAKETIME`): the other six weekdays, each
/// at another hour, from now; then fixed instants three days before the edges, since the tests
/// book "three days ahead" (`in_days(3)`) in studios in London.
fn clocks() -> Vec<(String, String)> {
    let mut clocks: Vec<(String, String)> = (1..=6u32)
        .map(|day| {
            let hours = day * 24 + (day * 5) % 24;
            (format!("{hours} hours ahead"), format!("+{hours}h"))
        })
        .collect();
    for (what, at) in [
        ("a month end", "2027-04-30 22:30:00"),
        ("a year end", "2027-12-31 23:30:00"),
        ("a leap day", "2028-02-26 12:00:00"),
        ("London's spring DST change (Sunday 28 March 2027)", "2027-03-25 21:00:00"),
        ("London's autumn DST change (Sunday 31 October 2027)", "2027-10-28 21:00:00"),
    ] {
        clocks.push((format!("three days before {what}, at {at} UTC"), format!("@{at}")));
    }
    clocks
}

#[test]
fn the_date_dependent_tests_pass_on_every_weekday_and_across_month_year_and_dst_edges() {
    if std::env::var_os(MOVED).is_some() {
        return;
    }
    let lib = libfaketime();
    let exe = std::env::current_exe().unwrap();
    for (when, faketime) in clocks() {
        let out = Command::new(&exe)
            .args(DATE_DEPENDENT)
            .args(["--test-threads", "4"])
            .env("LD_PRELOAD", &lib)
            .env("FAKETIME", &faketime)
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
            .env("TZ", "UTC")
            .env(MOVED, "1")
            .output()
            .unwrap();
        let summary = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "with the clock {when} the date-dependent tests fail:\n{summary}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(summary.contains("test result: ok"), "{summary}");
        assert!(!summary.contains(" 0 passed"), "the filter matched no test: {summary}");
    }
}
