// SPDX-License-Identifier: MIT
//! `xdm-suite`: the test suites that run inside the test bed's dom0.
//!
//! Each suite prints TAP and exits 0 only when every check passed; the
//! host's `cargo xtask vm` turns that into its own exit status.

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

const USAGE: &str = "usage: xdm-suite <xen-smoke | library | privcmd | devicemodel | virtio | xen-patches | xen-guard-retired | demo-testbed | demo-patched | harness-fail | dmcheck-rs DOMID | fake-dm [-d N]>";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("xen-smoke") => smoke::run(),
        Some("demo-testbed") => demo::run(),
        Some("demo-patched") => demo::run_patched(),
        Some("demo-arm64") => demo::run_arm64(),
        Some("library") => library::run(),
        Some("devicemodel") => devicemodel::run(),
        Some("virtio") => virtio::run(),
        Some("xen-patches") => xenpatches::run(),
        Some("xen-guard-retired") => xenpatches::run_retired(),
        Some("privcmd") => privcmd::run(),
        Some("bench-privcmd") => bench::run(),
        Some("bench-dm") => bench_dm::run(),
        Some("bench-eventfd") => bench_eventfd::run(),
        Some("bench-virtio") => bench_virtio::run(),
        Some("dmcheck-rs") => dmcheck::run(&args[1..]),
        Some("harness-fail") => {
            // A deliberately failing check: the harness must turn it into a failure.
            let mut t = tap::Tap::new("harness-fail");
            t.check("a check that passes", true, "");
            t.check(
                "a deliberately failing check",
                false,
                "this suite exists to prove that failures are reported",
            );
            t.finish()
        }
        Some("fake-dm") => xl::fake_dm(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
            2
        }
    };
    std::process::exit(code);
}
