// SPDX-License-Identifier: MIT
//! `library`: libxendevicemodel on real Xen. The same program of every op
//! runs against Debian's C library, against our drop-in, and through the
//! Rust API, each on a fresh guest, and must print the same; then what only
//! the Rust crate offers: ioreq pages, event channels, `restrict_all`,
//! guest memory.

use std::process::Command;

use dmop_abi::ioreq::IoreqState;
use dmop_abi::types::DomId;
use xendevicemodel::{
    restrict_all, DeviceModel, EventChannel, ForeignMapping, HandleKind, IoreqPages, MapPath,
};

use crate::tap::Tap;
use crate::xl::{self, Guest};

/// Where the image keeps our drop-in.
pub const OUR_LIB_DIR: &str = crate::contract::OUR_LIB_DIR;
/// The C program.
pub const DMCHECK: &str = crate::contract::DMCHECK;

fn run_on_fresh_guest(
    t: &mut Tap,
    label: &str,
    name: &str,
    cmd: impl FnOnce(DomId) -> Command,
) -> Option<String> {
    let g = match Guest::create(name, &xl::fake_dm_path(), true, "") {
        Ok(g) => g,
        Err(e) => {
            t.check(&format!("{label}: guest created"), false, e);
            return None;
        }
    };
    let o = cmd(g.domid).output();
    match o {
        Ok(o) if o.status.success() => {
            t.check(&format!("{label}: ran every op"), true, "");
            Some(String::from_utf8_lossy(&o.stdout).into_owned())
        }
        Ok(o) => {
            t.check(
                &format!("{label}: ran every op"),
                false,
                format_args!("{}\n{}", o.status, String::from_utf8_lossy(&o.stderr)),
            );
            None
        }
        Err(e) => {
            t.check(&format!("{label}: ran every op"), false, e);
            None
        }
    }
}

fn same(t: &mut Tap, name: &str, a: &str, b: &str) {
    let diff: Vec<String> = a
        .lines()
        .zip(b.lines())
        .filter(|(x, y)| x != y)
        .map(|(x, y)| format!("debian: {x}\nother:  {y}"))
        .collect();
    t.check(
        name,
        a == b,
        format_args!(
            "{} vs {} lines\n{}",
            a.lines().count(),
            b.lines().count(),
            diff.join("\n")
        ),
    );
}

/// Runs the suite.
pub fn run() -> i32 {
    let mut t = Tap::new("library");
    let debian = run_on_fresh_guest(&mut t, "Debian's libxendevicemodel", "lib-c", |d| {
        let mut c = Command::new(DMCHECK);
        c.arg(d.0.to_string());
        c
    });
    let ours = run_on_fresh_guest(
        &mut t,
        "our libxendevicemodel.so.1 (same binary)",
        "lib-ours",
        |d| {
            let mut c = Command::new(DMCHECK);
            c.arg(d.0.to_string()).env("LD_LIBRARY_PATH", OUR_LIB_DIR);
            c
        },
    );
    let rust = run_on_fresh_guest(&mut t, "the Rust API", "lib-rs", |d| {
        let mut c = Command::new("xdm-suite");
        c.args(["dmcheck-rs", &d.0.to_string()]);
        c
    });
    if let Some(c) = &debian {
        t.note("Debian's results:");
        t.note(c);
        let line = |k: &str| {
            c.lines()
                .find(|l| l.starts_with(&format!("{k} rc=")))
                .unwrap_or("")
                .to_string()
        };
        t.eq(
            "reference: nr_vcpus works",
            line("nr_vcpus"),
            "nr_vcpus rc=0 errno=0".to_string(),
        );
        t.eq(
            "reference: restricted op on dom0 is EPERM",
            line("restricted nr_vcpus of dom0"),
            "restricted nr_vcpus of dom0 rc=-1 errno=1".to_string(),
        );
        t.eq(
            "reference: re-restrict elsewhere is EINVAL",
            line("restrict to another domain"),
            "restrict to another domain rc=-1 errno=22".to_string(),
        );
        if let Some(o) = &ours {
            same(
                &mut t,
                "our C drop-in prints exactly what Debian's library prints",
                c,
                o,
            );
        }
        if let Some(r) = &rust {
            same(
                &mut t,
                "the Rust API prints exactly what Debian's library prints",
                c,
                r,
            );
        }
    }
    rust_only(&mut t);
    bound_guest(&mut t);
    t.finish()
}

/// The bound handle: `xendevicemodel::Guest` confined from open, an
/// `IoreqServer` that owns its pages and is destroyed on drop, a
/// `BoundPort` unbound on drop.
fn bound_guest(t: &mut Tap) {
    use xendevicemodel::Guest as Bound;
    let g = match Guest::create("lib-bound", &xl::fake_dm_path(), true, "") {
        Ok(g) => g,
        Err(e) => {
            t.check("bound handle: guest created", false, e);
            return;
        }
    };
    let d = g.domid;
    t.eq(
        "bound handle: a reserved domid is refused (EINVAL)",
        DeviceModel::open()
            .and_then(|dm| Bound::new(dm, DomId::FIRST_RESERVED))
            .map(|_| ())
            .map_err(|e| e.errno()),
        Err(libc::EINVAL),
    );
    let guest = match Bound::open(d) {
        Ok(b) => b,
        Err(e) => {
            t.check("bound handle: Guest::open (restricted at once)", false, e);
            return;
        }
    };
    t.eq(
        "bound handle: its descriptor is confined to the guest",
        guest.device_model().restricted_to(),
        Some(d),
    );
    t.eq(
        "bound handle: an op on dom0 through it is EPERM",
        guest
            .device_model()
            .nr_vcpus(DomId(0))
            .map_err(|e| e.errno()),
        Err(libc::EPERM),
    );
    t.eq(
        "bound handle: nr_vcpus",
        guest.nr_vcpus().map_err(|e| e.errno()),
        Ok(1),
    );
    let ev = EventChannel::open();
    let server = guest.create_ioreq_server(xl::bufioreq_mode());
    let (Ok(ev), Ok(server)) = (ev, server) else {
        t.check(
            "bound handle: evtchn opened, ioreq server created with its pages",
            false,
            "",
        );
        return;
    };
    t.eq(
        "bound handle: the evtchn descriptor confined too",
        ev.restrict(d).map_err(|e| e.errno()),
        Ok(()),
    );
    let id = server.id();
    t.check(
        "bound handle: the server knows its vCPUs and mode, its slot starts NONE",
        server.nr_vcpus() == 1
            && server.mode() == xl::bufioreq_mode()
            && server
                .pages()
                .slot(0)
                .is_some_and(|s| s.state() == IoreqState::NONE),
        format_args!("{server:?}"),
    );
    t.eq(
        "bound handle: claim a port range, enable",
        server
            .map_io_range(dmop_abi::dmop::IoRangeType::PORT, 0x700, 0x703)
            .and_then(|()| server.set_enabled(true))
            .map_err(|e| e.errno()),
        Ok(()),
    );
    let vp = server
        .pages()
        .slot(0)
        .map(|s| s.vp_eport())
        .unwrap_or_default();
    match ev.bind(d, vp) {
        Ok(port) => {
            let local = port.port();
            t.check(
                "bound handle: the bound port notifies",
                port.notify().is_ok(),
                "",
            );
            drop(port);
            t.eq(
                &format!(
                    "bound handle: dropped, the port ({}) is unbound (notify: ENOTCONN)",
                    local.0
                ),
                ev.notify(local).map_err(|e| e.errno()),
                Err(libc::ENOTCONN),
            );
        }
        Err(e) => {
            t.check("bound handle: bind the vCPU's channel", false, e);
        }
    }
    drop(server);
    t.eq(
        "bound handle: dropped, the server is destroyed (ENOENT)",
        guest
            .device_model()
            .get_ioreq_server_info(d, id, false)
            .map(|_| ())
            .map_err(|e| e.errno()),
        Err(libc::ENOENT),
    );
}

fn rust_only(t: &mut Tap) {
    let g = match Guest::create("lib-extra", &xl::fake_dm_path(), true, "") {
        Ok(g) => g,
        Err(e) => {
            t.check("Rust API: guest created", false, e);
            return;
        }
    };
    let d = g.domid;
    let (dm, ev) = match (DeviceModel::open(), EventChannel::open()) {
        (Ok(dm), Ok(ev)) => (dm, ev),
        (a, b) => {
            t.check(
                "Rust API: open privcmd and evtchn",
                false,
                format_args!("{:?} {:?}", a.err(), b.err()),
            );
            return;
        }
    };
    // Which node a handle is on: ioeventfds are used on privcmd-restrict only.
    t.check(
        "is_privcmd_restrict: false on Linux's privcmd",
        !dm.is_privcmd_restrict(),
        "",
    );
    let r = DeviceModel::open_path(xendevicemodel::PRIVCMD_RESTRICT_PATH);
    t.check(
        "is_privcmd_restrict: true on privcmd-restrict (loaded by the bed's setup)",
        r.as_ref().is_ok_and(DeviceModel::is_privcmd_restrict),
        format_args!("{:?}", r.as_ref().err()),
    );
    let r = restrict_all(d);
    t.check(
        "restrict_all confines the privcmd and evtchn handles",
        r.as_ref().is_ok_and(|r| {
            r.handles.iter().any(|h| h.0 == HandleKind::Privcmd)
                && r.handles.iter().any(|h| h.0 == HandleKind::Evtchn)
        }),
        format_args!("{r:?}"),
    );
    t.eq(
        "restricted: an op on dom0 is EPERM",
        dm.nr_vcpus(DomId(0)).map_err(|e| e.errno()),
        Err(libc::EPERM),
    );
    let vcpus = dm.nr_vcpus(d).unwrap_or(0);
    let id = match dm.create_ioreq_server(d, xl::bufioreq_mode()) {
        Ok(id) => id,
        Err(e) => {
            t.check("restricted: create_ioreq_server on the guest", false, e);
            return;
        }
    };
    let buffered = xl::bufioreq_mode() != dmop_abi::dmop::BufioreqMode::OFF;
    match IoreqPages::map(&dm, d, id, vcpus, buffered) {
        Ok(pages) => {
            t.eq(
                "ioreq pages mapped through MMAP_RESOURCE",
                pages.path(),
                MapPath::Resource,
            );
            t.eq(
                "every slot starts NONE",
                pages.slot(0).map(|s| s.state()),
                Some(IoreqState::NONE),
            );
            if buffered {
                t.check(
                    "the buffered ring starts empty",
                    pages.buffered().is_some_and(|b| b.pop().is_none()),
                    "",
                );
            }
            t.check(
                "no request to take in NONE",
                pages.slot(0).is_some_and(|s| s.begin().is_none()),
                "",
            );
            t.check(
                "nothing to answer in NONE",
                pages.slot(0).is_some_and(|s| !s.complete(1)),
                "",
            );
            t.eq(
                "enable the server",
                dm.set_ioreq_server_state(d, id, true)
                    .map_err(|e| e.errno()),
                Ok(()),
            );
            let port = pages.slot(0).map(|s| s.vp_eport()).unwrap_or_default();
            t.check(
                "an enabled server has a vCPU event channel",
                port.0 != 0,
                format_args!("{port:?}"),
            );
            let local = ev.bind_interdomain(d, port);
            t.check(
                "bind the vCPU's event channel",
                local.is_ok(),
                format_args!("{local:?}"),
            );
            if let Ok(l) = local {
                t.check("notify it", ev.notify(l).is_ok(), "");
            }
            if buffered {
                let info = dm.get_ioreq_server_info(d, id, false);
                let bport = info.map(|i| i.bufioreq_port).unwrap_or_default();
                t.check(
                    "bind the buffered-ioreq event channel",
                    ev.bind_interdomain(d, bport).is_ok(),
                    format_args!("{bport:?}"),
                );
            }
            t.eq(
                "restricted evtchn: binding dom0 fails",
                ev.bind_interdomain(DomId(0), port)
                    .map_err(|e| e.errno())
                    .err()
                    .is_some(),
                true,
            );
        }
        Err(e) => {
            t.check("ioreq pages mapped through MMAP_RESOURCE", false, e);
        }
    }
    t.check(
        "destroy the server",
        dm.destroy_ioreq_server(d, id).is_ok(),
        "",
    );

    // Guest memory through the restricted descriptor: the firmware is where Xen loaded it.
    match xl::guest_image() {
        Some((_, addr, bytes)) => match ForeignMapping::map(&dm, d, &[addr >> 12]) {
            Ok(m) => {
                let mut got = vec![0u8; bytes.len()];
                let ok = m.read((addr & 0xfff) as usize, &mut got);
                t.check(
                    "guest memory, mapped through the restricted fd, holds the guest's code",
                    ok && got == bytes,
                    format_args!("{got:02x?}"),
                );
            }
            Err(e) => {
                t.check(
                    "guest memory, mapped through the restricted fd, holds the guest's code",
                    false,
                    e,
                );
            }
        },
        None => {
            t.check(
                "the test guest image is readable",
                false,
                xl::test_guest_path(),
            );
        }
    }
    // A sparse mapping whose second frame is no RAM of the guest (256 GiB
    // up): its page is a hole, and the safe accessors refuse it instead of
    // faulting the caller (SIGBUS).
    if let Some((_, addr, bytes)) = xl::guest_image() {
        match ForeignMapping::map_sparse(&dm, d, &[addr >> 12, 0x400_0000]) {
            Ok((m, errs)) => {
                t.check(
                    "map_sparse: the guest's page maps, the frame beyond its RAM does not",
                    errs[0] == 0 && errs[1] != 0,
                    format_args!("{errs:?}"),
                );
                let mut got = vec![0u8; bytes.len()];
                let page = ForeignMapping::page_size();
                t.check(
                    "map_sparse: read of the mapped page works",
                    m.read((addr & 0xfff) as usize, &mut got) && got == bytes,
                    "",
                );
                let mut b = [0u8; 8];
                t.check(
                    "map_sparse: read and write over the hole are refused, not a fault",
                    !m.read(page, &mut b) && !m.write(page + 8, &b) && !m.read(page - 4, &mut b),
                    "",
                );
            }
            Err(e) => {
                t.check("map_sparse of the guest's page and a hole", false, e);
            }
        }
    }
    t.eq(
        "restricted: mapping dom0's memory is EPERM",
        ForeignMapping::map(&dm, DomId(0), &[0x100])
            .map(|_| ())
            .map_err(|e| e.errno()),
        Err(libc::EPERM),
    );

    // Fail closed: a handle that cannot be restricted to the guest is neutralized and reported.
    if let Ok(other) = EventChannel::open() {
        let _ = other.restrict(DomId(0x7fe0));
        match restrict_all(d) {
            Ok(r) => {
                t.check(
                    "restrict_all refuses when a handle cannot be restricted",
                    false,
                    format_args!("{r:?}"),
                );
            }
            Err(e) => {
                let f = e
                    .failures
                    .iter()
                    .find(|f| f.fd == std::os::fd::AsRawFd::as_raw_fd(&other));
                t.check(
                    "restrict_all reports the handle it could not restrict, and neutralizes it",
                    f.is_some_and(|f| {
                        f.kind == HandleKind::Evtchn
                            && f.neutralized
                            && f.error.errno() == libc::EACCES
                    }),
                    &e,
                );
                t.note(format!("restrict_all said: {e}"));
                t.check(
                    "the neutralized handle is unusable",
                    other.notify(dmop_abi::types::EvtchnPort(1)).is_err(),
                    "",
                );
                t.check(
                    "the other handles stayed restricted",
                    dm.restricted_to() == Some(d),
                    "",
                );
            }
        }
    }
    drop(g);
}
