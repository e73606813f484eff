// SPDX-License-Identifier: MIT
//! `demo-testbed`: what `cargo xtask demo` shows of the test bed. Lines for
//! the reader start with `| `; the checks at the end are TAP, so the demo
//! fails if what it shows did not happen.

use std::time::{Duration, Instant};

use crate::tap::Tap;
use crate::xl::{self, Guest};

fn show(s: &str) {
    for l in s.lines() {
        println!("| {l}");
    }
}

fn info_field(info: &str, key: &str) -> String {
    info.lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.trim() == key).map(|(_, v)| v.trim().to_string()))
        .unwrap_or_default()
}

/// Runs the demo; returns the exit status.
pub fn run() -> i32 {
    let (_, info) = xl::run("xl", &["info"]);
    show("");
    show("Xen is running under QEMU, and this is its dom0 (Linux 6.12 built with Rust):");
    show(&format!("  Xen version   {}", info_field(&info, "xen_version")));
    show(&format!("  capabilities  {}", info_field(&info, "virt_caps")));
    show(&format!("  dom0 kernel   {}", std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim()));
    show("");
    show("Starting an HVM guest: the project's test guest, with a placeholder device model.");
    let mut t = Tap::new("demo-testbed");
    let guest = match Guest::create("demo", &xl::fake_dm_path(), false, "") {
        Ok(g) => g,
        Err(e) => {
            t.check("the guest starts", false, e);
            return t.finish();
        }
    };
    let start = Instant::now();
    let mut dmesg = String::new();
    while start.elapsed() < Duration::from_secs(30) {
        dmesg = xl::run("xl", &["dmesg"]).1;
        if dmesg.contains("Test result:") {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    show("");
    show("xl list:");
    let (_, list) = xl::run("xl", &["list"]);
    show(&list.lines().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n"));
    show("");
    show(&format!("What guest {} printed (through Xen's debug port, read with `xl dmesg`):", guest.domid.0));
    let tag = format!("(d{})", guest.domid.0);
    for l in dmesg.lines().filter(|l| l.contains(&tag)) {
        show(&format!("  {}", l.split_once(&tag).map_or(l, |(_, r)| r).trim()));
    }
    show("");
    t.check("dom0 runs on Xen", !info_field(&info, "xen_version").is_empty(), &info);
    t.check("the guest is listed", list.lines().any(|l| l.starts_with("demo ")), &list);
    t.check("the guest says hello", dmesg.contains("xdm-testguest: hello"), "no hello in xl dmesg");
    t.check("the guest ran to its end", dmesg.contains("Test result: SUCCESS"), "no result line");
    t.finish()
}
