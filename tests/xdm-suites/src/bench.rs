// SPDX-License-Identifier: MIT
//! `bench-privcmd`: DM_OP round trips per second through the C driver and
//! through privcmd-restrict, in the same VM run, for a small op (nr_vcpus)
//! and for track_dirty_vram with a 4 KiB bitmap. Interleaved rounds, the
//! median of each kept. With the test-only `privcmd_restrict_hcbench.ko`,
//! the bare hypercall on the same op from kernel buffers, and what each
//! driver adds above it (`BENCH overhead-...`). Prints `BENCH name reference ours` lines that
//! `cargo xtask bench` reads; not a test (it fails only if it cannot measure).

use std::time::{Duration, Instant};

use dmop_abi::dmop::{DmopCode, TrackDirtyVram, XenDmOp};
use dmop_abi::types::DomId;
use zerocopy::IntoBytes;

use crate::privcmd::{C_NODE, OUR_NODE};
use crate::raw;
use crate::xl::{self, Guest};

/// `pages`: 0 for the small op (nr_vcpus), else track_dirty_vram of that
/// many pages with a 4 KiB bitmap buffer.
fn rate(node: &str, dom: DomId, pages: u32, dur: Duration) -> Option<f64> {
    let fd = raw::open(node).ok()?;
    let mut small = XenDmOp::new(DmopCode::NR_VCPUS);
    let mut vram = XenDmOp::with_payload(
        DmopCode::TRACK_DIRTY_VRAM,
        &TrackDirtyVram {
            nr: pages,
            first_pfn: 0x100,
            ..TrackDirtyVram::ZEROED
        },
    );
    let mut bitmap = vec![0u8; 4096];
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < dur {
        for _ in 0..16 {
            let r = if pages > 0 {
                raw::dm_op(&fd, dom, &mut [vram.as_mut_bytes(), &mut bitmap])
            } else {
                raw::dm_op(&fd, dom, &mut [small.as_mut_bytes()])
            };
            r.ok()?;
            n += 1;
        }
    }
    Some(n as f64 / start.elapsed().as_secs_f64())
}

/// The bare hypercall's time per call in ns, from the test-only module
/// (`privcmd_restrict_hcbench.ko`, loaded with the op's parameters).
fn bare_ns(dom: DomId, pages: u32) -> Option<f64> {
    const MODULE: &str = crate::contract::HCBENCH_MODULE;
    let iterations = if pages == 0 { 20000 } else { 4000 };
    let before = xl::run("dmesg", &[]).1.lines().count();
    let (ok, out) = xl::run(
        "insmod",
        &[
            MODULE,
            &format!("dom={}", dom.0),
            &format!("pages={pages}"),
            &format!("iterations={iterations}"),
        ],
    );
    let _ = xl::run("rmmod", &["privcmd_restrict_hcbench"]);
    if !ok {
        println!("# insmod hcbench: {out}");
        return None;
    }
    let log = xl::run("dmesg", &[]).1;
    let line = log
        .lines()
        .skip(before)
        .find(|l| l.contains("privcmd-restrict-hcbench:") && l.contains("ns per call"))?
        .to_string();
    let words: Vec<&str> = line.split_whitespace().collect();
    let i = words.iter().position(|w| *w == "ns")?;
    words.get(i.checked_sub(1)?)?.parse().ok()
}

/// The time of an ioctl the node answers at once (an unknown command,
/// `ENOTTY`), in ns: the system call's own cost, the floor of both drivers.
fn floor_ns(node: &str) -> Option<f64> {
    let fd = raw::open(node).ok()?;
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < Duration::from_millis(300) {
        for _ in 0..64 {
            let _ = raw::ioctl_addr(&fd, 0x5000_00ff, 0);
            n += 1;
        }
    }
    Some(start.elapsed().as_nanos() as f64 / f64::from(n))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs the benchmark; returns the exit status.
pub fn run() -> i32 {
    println!("# suite bench-privcmd");
    let g = match Guest::create("bench", &xl::fake_dm_path(), true, "") {
        Ok(g) => g,
        Err(e) => {
            println!("not ok 1 - guest: {e}");
            return 1;
        }
    };
    let mut ok = true;
    // The 4 KiB buffer with few pages measures the drivers; with the whole
    // bitmap's 32768 pages Xen's own scan dominates both.
    for (name, pages) in [
        ("dm_op-small", 0),
        ("dm_op-track_dirty_vram-4k-buffer", 64),
        ("dm_op-track_dirty_vram-4k-bitmap-xen-bound", 32768),
    ] {
        let (mut c, mut o, mut bare) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..5 {
            if pages <= 64 {
                if let Some(b) = bare_ns(g.domid, pages) {
                    bare.push(b);
                }
            }
            match (
                rate(C_NODE, g.domid, pages, Duration::from_millis(500)),
                rate(OUR_NODE, g.domid, pages, Duration::from_millis(500)),
            ) {
                (Some(x), Some(y)) => {
                    c.push(x);
                    o.push(y);
                }
                _ => ok = false,
            }
        }
        if c.is_empty() {
            println!("not ok - {name}: could not measure");
            continue;
        }
        let (c, o) = (median(c), median(o));
        println!("BENCH {name} {c:.0} {o:.0}");
        if !bare.is_empty() {
            // What each driver adds to the hypercall: its time per call
            // less the bare call's, both medians of the same rounds.
            let b = median(bare);
            let (ca, oa) = (1e9 / c - b, 1e9 / o - b);
            println!("BENCH overhead-{name} {ca:.0} {:.0}", oa.max(1.0));
            println!(
                "# {name}: bare hypercall {b:.0} ns; the C driver adds {ca:.0} ns, privcmd-restrict {oa:.0} ns"
            );
            if let (Some(fc), Some(fo)) = (floor_ns(C_NODE), floor_ns(OUR_NODE)) {
                println!(
                    "# {name}: an ENOTTY ioctl costs {fc:.0} ns (C) and {fo:.0} ns (ours); beyond it and the hypercall the C driver adds {:.0} ns, privcmd-restrict {:.0} ns",
                    ca - fc,
                    oa - fo
                );
            }
        } else if pages <= 64 {
            println!("# {name}: the bare hypercall could not be timed");
            ok = false;
        }
        println!(
            "# {name}: C privcmd {c:.0}/s, privcmd-restrict {o:.0}/s, ratio {:.2}",
            o / c
        );
    }
    println!("ok 1 - measured");
    println!("1..1");
    i32::from(!ok)
}
