// SPDX-License-Identifier: MIT
//! The test suites that run inside the test bed's dom0, as a library: the
//! `xdm-suite` binary runs them ([`run`]), and the host's xtask takes the
//! test-bed contract from [`contract`] (the suites' names, where the dom0
//! image puts what they use), so that both sides read one definition.
//!
//! Test code: it may use every crate of the project; no product crate
//! depends on it.
//!
//! Each suite prints TAP and returns 0 only when every check passed; the
//! host's `cargo xtask vm` turns that into its own exit status.

pub mod contract;

mod bench;
mod bench_dm;
mod bench_eventfd;
mod bench_virtio;
mod demo;
mod devicemodel;
mod dmcheck;
mod ioeventfd;
mod library;
mod privcmd;
mod raw;
mod smoke;
mod tap;
mod uffd;
mod virtio;
mod virtio_arm;
mod xenpatches;
mod xl;

const USAGE: &str =
    "usage: xdm-suite <SUITE (see contract::SUITES) | dmcheck-rs DOMID | fake-dm [-d N]>";

/// A suite: it prints TAP and returns its exit code.
type Suite = fn() -> i32;

/// Every suite and what runs it; [`contract::SUITES`] names the same.
const TABLE: &[(&str, Suite)] = &[
    ("xen-smoke", smoke::run),
    ("demo-testbed", demo::run),
    ("demo-patched", demo::run_patched),
    ("demo-arm64", demo::run_arm64),
    ("library", library::run),
    ("devicemodel", devicemodel::run),
    ("virtio", virtio::run),
    ("xen-patches", xenpatches::run),
    ("xen-guard-retired", xenpatches::run_retired),
    ("privcmd", privcmd::run),
    ("bench-privcmd", bench::run),
    ("bench-dm", bench_dm::run),
    ("bench-eventfd", bench_eventfd::run),
    ("bench-virtio", bench_virtio::run),
    ("harness-fail", harness_fail),
];

/// A deliberately failing check: the harness must turn it into a failure.
fn harness_fail() -> i32 {
    let mut t = tap::Tap::new("harness-fail");
    t.check("a check that passes", true, "");
    t.check(
        "a deliberately failing check",
        false,
        "this suite exists to prove that failures are reported",
    );
    t.finish()
}

/// Runs what `args` names (a suite, `dmcheck-rs DOMID` or `fake-dm`) and
/// returns the exit code: 0 when every check passed, 2 for an unknown name.
pub fn run(args: &[String]) -> i32 {
    match args.first().map(String::as_str) {
        Some("dmcheck-rs") => dmcheck::run(&args[1..]),
        Some("fake-dm") => xl::fake_dm(&args[1..]),
        Some(name) => match TABLE.iter().find(|(n, _)| *n == name) {
            Some((_, f)) => f(),
            None => usage(),
        },
        None => usage(),
    }
}

fn usage() -> i32 {
    eprintln!("{USAGE}");
    2
}

#[cfg(test)]
mod tests {
    /// The contract lists exactly the suites the binary runs.
    #[test]
    fn contract_names_every_suite() {
        let mut table: Vec<&str> = super::TABLE.iter().map(|(n, _)| *n).collect();
        let mut contract = super::contract::SUITES.to_vec();
        table.sort_unstable();
        contract.sort_unstable();
        assert_eq!(table, contract);
    }
}
