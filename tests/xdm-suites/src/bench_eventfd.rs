// SPDX-License-Identifier: MIT
//! `bench-eventfd`: what IOCTL_PRIVCMD_IOEVENTFD and IOCTL_PRIVCMD_IRQFD
//! buy a virtio backend on privcmd-restrict, in the same VM run.
//!
//! - Guest notify round trips: the benchmark guest times dword writes to
//!   `TG_BENCH_NOTIFY` (its vCPU waits on each until it is answered). This
//!   suite is the device model: an ioreq server of its own claims the page,
//!   and each write is answered either by its ioreq loop (the reference:
//!   take, complete, notify) or by the kernel through an ioeventfd (ours;
//!   the loop still reads and unmasks the vCPU's event channel, which it
//!   shares). Rounds alternate; the best of each is kept.
//! - Interrupt injections from the backend: `set_isa_irq_level` through a
//!   DM_OP ioctl (the reference) against a write to an irqfd's eventfd.
//!
//! Prints `BENCH name reference ours` lines; not a test (it fails only if
//! it cannot measure).

use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use dmop_abi::dmop::{BufioreqMode, DmopCode, IoRangeType, SetIsaIrqLevel, XenDmOp};
use dmop_abi::types::EvtchnPort;
use xendevicemodel::{DeviceModel, EventChannel, IoeventfdMatch, IoreqPages};
use zerocopy::IntoBytes;

use crate::privcmd::OUR_NODE;
use crate::raw;
use crate::xl::{self, Guest};

const ROUNDS: usize = 3;
/// `TG_BENCH_NOTIFY` of the benchmark guest.
const NOTIFY: u64 = xen_thin_dm::testplatform::BENCH_NOTIFY;

/// One run of the benchmark guest; its notify rate.
fn notify_rate(with_ioeventfd: bool) -> Result<u64, String> {
    let name = if with_ioeventfd {
        "bench-ioeventfd"
    } else {
        "bench-ioreq"
    };
    let dm_lines = format!(
        "device_model_version = \"qemu-xen-traditional\"\ndevice_model_override = \"{}\"\n",
        xl::fake_dm_path()
    );
    let cfg = xl::guest_config_with(name, &xl::bench_guest_path(), &dm_lines, "");
    let g = Guest::create_from(name, &cfg, true)?;
    let a = g.domid;
    let e = |e: xendevicemodel::Error| e.to_string();
    let dm = DeviceModel::open_path(OUR_NODE).map_err(e)?;
    dm.restrict(a).map_err(e)?;
    let server = dm.create_ioreq_server(a, BufioreqMode::OFF).map_err(e)?;
    let page = NOTIFY & !0xfff;
    dm.map_io_range_to_ioreq_server(a, server, IoRangeType::MEMORY, page, page + 0xfff)
        .map_err(e)?;
    let pages = IoreqPages::map(&dm, a, server, 1, false).map_err(e)?;
    dm.set_ioreq_server_state(a, server, true).map_err(e)?;
    let ev = EventChannel::open().map_err(e)?;
    let slot = pages.slot(0).ok_or("no slot")?;
    let port = ev.bind_interdomain(a, slot.vp_eport()).map_err(e)?;
    let kick = if with_ioeventfd {
        Some(
            dm.ioeventfd(
                &pages,
                &[port],
                IoeventfdMatch::Write {
                    addr: NOTIFY,
                    len: 4,
                },
            )
            .map_err(e)?,
        )
    } else {
        None
    };
    ev.set_nonblocking(true).map_err(e)?;
    let _ = xl::run("xl", &["dmesg", "-c"]);
    let (ok, out) = xl::run("xl", &["unpause", name]);
    if !ok {
        return Err(out);
    }
    let tag = format!("(d{})", a.0);
    let start = Instant::now();
    let mut last_look = Instant::now();
    let mut served = 0u64;
    loop {
        // Read first, wait only when nothing is pending: the same loop
        // for both paths, as few system calls as it can.
        let mut fired = [EvtchnPort(0); 8];
        match ev.pending(&mut fired) {
            Ok(n) => {
                for p in &fired[..n] {
                    let _ = ev.unmask(*p);
                }
            }
            Err(_) => {
                let mut pfd = libc::pollfd {
                    fd: ev.as_fd().as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one pollfd of ours.
                unsafe { libc::poll(&mut pfd, 1, 100) };
            }
        }
        if let Some(_req) = slot.begin() {
            slot.complete(0);
            let _ = ev.notify(port);
            served += 1;
        }
        if last_look.elapsed() > Duration::from_millis(500) {
            last_look = Instant::now();
            let (_, d) = xl::run("xl", &["dmesg"]);
            if let Some(l) = d
                .lines()
                .find(|l| l.contains(&tag) && l.contains("bench: mmio-notify-round-trips"))
            {
                let words: Vec<&str> = l.split_whitespace().collect();
                let rate = words
                    .iter()
                    .position(|w| *w == "per-second")
                    .and_then(|i| words.get(i + 1))
                    .and_then(|v| v.parse().ok())
                    .ok_or(format!("no rate in {l}"))?;
                let by_kernel = kick.as_ref().map_or(0, |k| k.take().unwrap_or(0));
                println!("# {name}: {l} (the loop served {served}, the kernel {by_kernel})");
                return Ok(rate);
            }
            if start.elapsed() > Duration::from_secs(120) {
                return Err(format!("{name}: no result in 120 s"));
            }
        }
    }
}

/// Interrupt injections per second through a DM_OP ioctl or an irqfd.
fn injection_rate(through_irqfd: bool, dur: Duration) -> Option<f64> {
    let g = Guest::create("bench-irq", &xl::fake_dm_path(), true, "").ok()?;
    let dm = DeviceModel::open_path(OUR_NODE).ok()?;
    dm.restrict(g.domid).ok()?;
    let op = XenDmOp::with_payload(
        DmopCode::SET_ISA_IRQ_LEVEL,
        &SetIsaIrqLevel {
            isa_irq: 5,
            level: 1,
        },
    );
    let irq = dm.irqfd(g.domid, &op).ok()?;
    let fd = raw::open(OUR_NODE).ok()?;
    raw::restrict(&fd, g.domid).ok()?;
    let mut n = 0u64;
    let start = Instant::now();
    while start.elapsed() < dur {
        for _ in 0..64 {
            if through_irqfd {
                irq.signal().ok()?;
            } else {
                let mut o = op;
                raw::dm_op(&fd, g.domid, &mut [o.as_mut_bytes()]).ok()?;
            }
            n += 1;
        }
    }
    Some(n as f64 / start.elapsed().as_secs_f64())
}

/// Runs the benchmark; returns the exit status.
pub fn run() -> i32 {
    println!("# suite bench-eventfd");
    let mut ok = true;
    let (mut reference, mut ours) = (0, 0);
    for _ in 0..ROUNDS {
        for with in [false, true] {
            match notify_rate(with) {
                Ok(r) if with => ours = ours.max(r),
                Ok(r) => reference = reference.max(r),
                Err(e) => {
                    println!("# {e}");
                    ok = false;
                }
            }
        }
    }
    if reference > 0 && ours > 0 {
        println!("BENCH mmio-notify-round-trips {reference} {ours}");
    }
    let (mut c, mut o) = (0f64, 0f64);
    for _ in 0..ROUNDS {
        c = c.max(injection_rate(false, Duration::from_millis(500)).unwrap_or(0.0));
        o = o.max(injection_rate(true, Duration::from_millis(500)).unwrap_or(0.0));
    }
    if c > 0.0 && o > 0.0 {
        println!("BENCH irq-injections {c:.0} {o:.0}");
    } else {
        ok = false;
    }
    println!("{} 1 - measured", if ok { "ok" } else { "not ok" });
    println!("1..1");
    i32::from(!ok)
}
