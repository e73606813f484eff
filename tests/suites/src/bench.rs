// SPDX-License-Identifier: MIT
//! `bench-privcmd`: DM_OP round trips per second through the C driver and
//! through privcmd-restrict, in the same VM run, for a small op (nr_vcpus)
//! and for track_dirty_vram with a 4 KiB bitmap. Interleaved rounds, the
//! median of each kept. Prints `BENCH name reference ours` lines that
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
        let (mut c, mut o) = (Vec::new(), Vec::new());
        for _ in 0..5 {
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
        println!(
            "# {name}: C privcmd {c:.0}/s, privcmd-restrict {o:.0}/s, ratio {:.2}",
            o / c
        );
    }
    println!("ok 1 - measured");
    println!("1..1");
    i32::from(!ok)
}
