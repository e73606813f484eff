// SPDX-License-Identifier: MIT
//! `bench-dm`: port-I/O round trips per second from a guest through
//! xen-thin-dm and through Debian's QEMU (qemu-xen, `xenfv`), in the same
//! VM run. The benchmark guest times reads of the UART's scratch register,
//! a port both device models emulate, with the TSC (its frequency from
//! Xen's CPUID leaf) and prints its rate on Xen's debug port. Rounds
//! alternate between the two device models; the best of each is kept.
//! xen-thin-dm runs as shipped (adaptive polling) and with `--poll-max-us 0`.
//! Prints `BENCH pio-round-trips[-no-polling] reference ours` lines; not a
//! test (it fails only if it cannot measure).

use crate::devicemodel::{dm_log, thin_dm_path, wait_for};
use crate::tap::Tap;
use crate::xl::{self, Guest};

const ROUNDS: usize = 3;

/// Debian's QEMU built for Xen.
const QEMU: &str = "/usr/libexec/xen-qemu-system-i386";

/// Runs the benchmark guest with device-model lines `dm`; returns its rate.
fn once(t: &mut Tap, name: &str, dm: &str, extra: &str) -> Option<u64> {
    let _ = xl::run("xl", &["dmesg", "-c"]);
    let cfg = xl::guest_config_with(name, &xl::bench_guest_path(), dm, extra);
    let g = match Guest::create_from(name, &cfg, false) {
        Ok(g) => g,
        Err(e) => {
            t.check(&format!("{name} starts"), false, e);
            return None;
        }
    };
    let tag = format!("(d{})", g.domid.0);
    let line = wait_for(180, || {
        let (_, d) = xl::run("xl", &["dmesg"]);
        d.lines()
            .find(|l| l.contains(&tag) && l.contains("bench: pio-round-trips"))
            .map(str::to_string)
    });
    drop(g);
    let Some(line) = line else {
        t.check(
            &format!("{name} reports a rate"),
            false,
            format_args!("no result in xl dmesg; device model log:\n{}", dm_log(name)),
        );
        return None;
    };
    let words: Vec<&str> = line.split_whitespace().collect();
    let rate = words
        .iter()
        .position(|w| *w == "per-second")
        .and_then(|i| words.get(i + 1))
        .and_then(|v| v.parse().ok());
    t.check(
        &format!("{name}: {}", line.split("bench: ").nth(1).unwrap_or(&line)),
        rate.is_some_and(|r| r > 0),
        &line,
    );
    rate
}

/// Runs the benchmark; returns the exit status.
pub fn run() -> i32 {
    let mut t = Tap::new("bench-dm");
    if !std::path::Path::new(QEMU).exists() {
        t.check("Debian's QEMU for Xen is in the image", false, QEMU);
        return t.finish();
    }
    let thin = format!(
        "device_model_version = \"qemu-xen-traditional\"\ndevice_model_override = \"{}\"\n",
        thin_dm_path()
    );
    let qemu = "device_model_version = \"qemu-xen\"\n";
    // As shipped (adaptive polling), and with polling off: the second
    // shows what the request path alone gives.
    let (mut best_qemu, mut best_thin, mut best_nopoll) = (0u64, 0u64, 0u64);
    for i in 0..ROUNDS {
        if let Some(r) = once(
            &mut t,
            &format!("bench-qemu-{i}"),
            qemu,
            "serial = \"null\"\n",
        ) {
            best_qemu = best_qemu.max(r);
        }
        if let Some(r) = once(&mut t, &format!("bench-thin-{i}"), &thin, "") {
            best_thin = best_thin.max(r);
        }
        if let Some(r) = once(
            &mut t,
            &format!("bench-nopoll-{i}"),
            &thin,
            &crate::devicemodel::dm_args(&["--poll-max-us", "0"]),
        ) {
            best_nopoll = best_nopoll.max(r);
        }
    }
    if best_qemu > 0 && best_thin > 0 {
        println!("BENCH pio-round-trips {best_qemu} {best_thin}");
    }
    if best_qemu > 0 && best_nopoll > 0 {
        println!("BENCH pio-round-trips-no-polling {best_qemu} {best_nopoll}");
    }
    t.finish()
}
