// SPDX-License-Identifier: MIT
//! What `cargo xtask demo` shows: `demo-testbed` on Debian's Xen, then
//! `demo-patched` on the Xen of `xen-patches/`. Lines for the reader
//! start with `| `; the checks are TAP, so the demo fails if what it
//! shows did not happen.

use dmop_abi::dmop::{DmopCode, XenDmOp};
use zerocopy::IntoBytes;

use crate::devicemodel::{
    dm_args, dm_log, dm_pid, forwarder_of, thin_dm_path, wait_for, xenstored_restricts,
};
use crate::raw;
use crate::tap::Tap;
use crate::xl::{self, Guest};

fn show(s: &str) {
    if s.is_empty() {
        println!("|");
    }
    for l in s.lines() {
        println!("| {l}");
    }
}

fn info_field(info: &str, key: &str) -> String {
    info.lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default()
}

fn status_field(pid: u32, key: &str) -> String {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{key}:"))
                .map(|v| v.split_whitespace().next().unwrap_or("").to_string())
        })
        .unwrap_or_default()
}

/// The device model's lines (`xen-thin-dm: ...` and the table), without the prefix.
fn dm_lines(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.strip_prefix("xen-thin-dm: ").map(str::to_string))
        .collect()
}

/// The rows of the device model's escape table, and its summary line.
fn escape_table(log: &str) -> (Vec<String>, String) {
    let rows = log
        .lines()
        .skip_while(|l| !l.contains("escape attempts from inside"))
        .skip(2)
        .take_while(|l| l.starts_with("  "))
        .map(str::to_string)
        .collect();
    let summary = log
        .lines()
        .find(|l| l.contains("escape attempts:"))
        .unwrap_or_default();
    (
        rows,
        summary.trim_start_matches("xen-thin-dm: ").to_string(),
    )
}

/// The device model's log once its escape table is complete: xl returns
/// when `running` is written, and the last escape attempts come after.
fn log_with_table(name: &str) -> String {
    wait_for(30, || {
        let log = dm_log(name);
        log.contains("escape attempts:").then_some(log)
    })
    .unwrap_or_else(|| dm_log(name))
}

/// Unpauses `name` and waits for it to go; its device model's log then.
fn run_guest(name: &str) -> (bool, String) {
    let _ = xl::run("xl", &["unpause", name]);
    let gone = wait_for(90, || xl::list_state(name).is_none().then_some(()));
    (gone.is_some(), dm_log(name))
}

/// What the guest printed on xen-thin-dm's UART.
fn guest_lines(log: &str) -> impl Iterator<Item = &str> {
    log.lines()
        .skip_while(|l| !l.contains("xen-thin-dm: serving"))
        .skip(1)
        .take_while(|l| !l.starts_with("xen-thin-dm: "))
}

/// The two guests of the demo: 'bystander' (a fake device model) and
/// 'demo' (xen-thin-dm with the escape test aimed at the bystander), both
/// paused. On a failure, the check says which and the log is shown.
fn start_guests(t: &mut Tap) -> Option<(Guest, Guest)> {
    let victim = match Guest::create("bystander", &xl::fake_dm_path(), true, "") {
        Ok(g) => g,
        Err(e) => {
            t.check("a second guest starts", false, e);
            return None;
        }
    };
    let o = victim.domid.0.to_string();
    match Guest::create(
        "demo",
        &thin_dm_path(),
        true,
        &dm_args(&["--escape-test", "--escape-other", &o]),
    ) {
        Ok(g) => {
            t.check("xl starts the guest with xen-thin-dm", true, "");
            Some((victim, g))
        }
        Err(e) => {
            t.check("xl starts the guest with xen-thin-dm", false, e);
            show(&dm_log("demo"));
            None
        }
    }
}

/// The checks both demos end with, once the guest ran; the guests go.
fn finish(mut t: Tap, gone: bool, log: &str, guests: (Guest, Guest)) -> i32 {
    t.check(
        "the guest's checks pass",
        log.contains("Test result: SUCCESS"),
        "",
    );
    t.check(
        "the guest was shut down through the debug-exit port",
        gone && log.contains("asked to stop with code 0"),
        "",
    );
    t.check(
        "the bystander guest is untouched",
        xl::list_state("bystander").is_some(),
        "",
    );
    drop(guests);
    t.finish()
}

/// Part 8: an unmodified Linux guest boots from a disk the deprivileged
/// xen-thin-dm serves over virtio.
fn linux_on_virtio(t: &mut Tap) {
    show("== 8. A real guest OS: Linux boots with its root filesystem on a virtio disk that a");
    show("   deprivileged xen-thin-dm serves (virtio-blk, virtio-console and virtio-rng on virtio-mmio).");
    show("   The disk is a file in dom0, opened before the device model locked itself in.");
    let size = match crate::virtio::fresh_disk() {
        Ok(s) => s,
        Err(e) => {
            t.check("a fresh copy of the Linux guest's disk", false, e);
            return;
        }
    };
    let Some((console, log)) = crate::virtio::boot(t, 1, size) else {
        return;
    };
    show("");
    show("   xen-thin-dm's log:");
    for l in dm_lines(&log).iter().filter(|l| {
        l.starts_with("virtio")
            || l.starts_with("guest RAM")
            || l.starts_with("the guest finds")
            || l.contains("seccomp allow-list")
            || l.starts_with("escape attempts")
            || l.starts_with("the guest asked")
    }) {
        show(&format!("   {}", l.trim()));
    }
    show("");
    show("   The guest's console (kernel messages on the UART, its test on the UART and on hvc0):");
    for l in console.lines().filter(|l| {
        [
            "virtio",
            "vda",
            "EXT4-fs",
            "VFS:",
            "Run /init",
            "XDM-GUEST",
            "Linux version",
        ]
        .iter()
        .any(|k| l.contains(k))
    }) {
        show(&format!("   linux> {}", l.trim_end()));
    }
    show("");
    t.check(
        "Linux booted from xen-thin-dm's virtio disk and its checks passed",
        console.contains("XDM-GUEST: PASS") && log.contains("the guest asked to stop with code 0"),
        "",
    );
}

/// Runs the demo on Debian's Xen; returns the exit status.
pub fn run() -> i32 {
    let mut t = Tap::new("demo-testbed");
    let (_, info) = xl::run("xl", &["info"]);
    show("");
    show("== 1. A real Xen hypervisor, booted inside QEMU on this machine");
    show(&format!(
        "   Xen {} ({}); its control domain, dom0, runs Linux {} built with Rust.",
        info_field(&info, "xen_version"),
        info_field(&info, "virt_caps"),
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
    ));
    show("   Guests are virtual machines. Their emulated hardware (serial port, PCI cards...)");
    show("   is provided by a 'device model' process in dom0. If a guest takes that process");
    show("   over, it must gain nothing: that is what this project is for.");
    show("");
    let module = std::path::Path::new("/dev/xen/privcmd-restrict").exists();
    show("== 2. The project's kernel module, privcmd-restrict (Rust), is loaded");
    show(&format!(
        "   {}: a hypercall device whose file descriptors can be confined to one guest.",
        if module {
            "/dev/xen/privcmd-restrict is there"
        } else {
            "/dev/xen/privcmd-restrict is MISSING"
        }
    ));
    t.check(
        "privcmd-restrict is loaded",
        module,
        "no /dev/xen/privcmd-restrict",
    );
    show("");

    let Some((victim, g)) = start_guests(&mut t) else {
        return t.finish();
    };
    show(&format!("== 3. Two guests: 'bystander' (domain {}), which the device model must not be able to touch,", victim.domid.0));
    show("   and 'demo', whose device model is xen-thin-dm, the project's own, started by Xen's");
    show("   toolstack (xl) and locking itself in before the guest runs.");
    let (_, list) = xl::run("xl", &["list"]);
    show("");
    show("   $ xl list");
    show(
        &list
            .lines()
            .map(|l| format!("   {l}"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    show("");

    let Some(pid) = dm_pid(g.domid) else {
        t.check("libxl recorded the device model's pid", false, "");
        return t.finish();
    };
    let log = log_with_table("demo");
    show(&format!(
        "== 4. What xen-thin-dm (pid {pid}) did before reading anything from the guest"
    ));
    let lines = dm_lines(&log);
    let dep = lines
        .iter()
        .position(|l| l == "deprivileged:")
        .unwrap_or(lines.len());
    for l in lines
        .iter()
        .skip(dep + 1)
        .take_while(|l| l.starts_with("  "))
    {
        show(&format!("   {}", l.trim()));
    }
    show("");
    show("   Seen from outside, in /proc:");
    let root = std::fs::read_link(format!("/proc/{pid}/root"))
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    show(&format!(
        "   uid {}, capabilities {}, seccomp mode {}, root directory {root}",
        status_field(pid, "Uid"),
        status_field(pid, "CapEff"),
        status_field(pid, "Seccomp")
    ));
    t.eq(
        "the device model runs as uid 40000 + domid",
        status_field(pid, "Uid"),
        (xen_thin_dm::cli::UID_BASE + u32::from(g.domid.0)).to_string(),
    );
    t.eq(
        "it has a seccomp filter",
        status_field(pid, "Seccomp"),
        "2".to_string(),
    );
    show("");

    show("== 5. Pretending the guest has taken the device model over: it tries to escape");
    show("   (first column: before the seccomp filter, so each other layer shows what it stops");
    show("   alone; second column: the real, final state)");
    let (rows, summary) = escape_table(&log);
    for l in &rows {
        show(&format!(" {l}"));
    }
    show(&format!("   {summary}"));
    t.check(
        "every escape attempt was refused",
        summary.contains("refused") && !summary.contains("FAILED") && !log.contains("ESCAPED"),
        &summary,
    );
    show("");

    show("== 6. The guest runs. Its serial port is xen-thin-dm's 16550 UART; what it printed:");
    let (gone, log) = run_guest("demo");
    for l in guest_lines(&log) {
        show(&format!("   guest> {l}"));
    }
    show("");
    show("== 7. The guest asked to be switched off (a write to xen-thin-dm's debug-exit port):");
    for l in dm_lines(&log)
        .iter()
        .skip_while(|l| !l.starts_with("the guest asked"))
    {
        show(&format!("   {l}"));
    }
    show(&format!(
        "   Domain 'demo' is {}.",
        if gone { "gone" } else { "STILL THERE" }
    ));
    show(&format!(
        "   'bystander' is untouched: {}",
        xl::list_state("bystander")
            .map_or("GONE".to_string(), |s| format!("still there, state {s}"))
    ));
    show("");
    t.check(
        "the guest says hello through xen-thin-dm's UART",
        log.contains("xdm-testguest: hello"),
        "",
    );
    linux_on_virtio(&mut t);
    finish(t, gone, &log, (victim, g))
}

/// Runs the demo's second part, on the hypervisor and xenstored of
/// `xen-patches/`; returns the exit status.
pub fn run_patched() -> i32 {
    let mut t = Tap::new("demo-patched");
    let (_, info) = xl::run("xl", &["info"]);
    show("");
    show("== 8. Rebooted: Xen and xenstored built here from Debian's source plus xen-patches/");
    show(&format!(
        "   Xen {}. Patch 1, the DMOP ABI guard, acted when this hypervisor was built (the step",
        info_field(&info, "xen_version")
    ));
    show("   above: an altered layout does not compile).");
    let Some((victim, g)) = start_guests(&mut t) else {
        return t.finish();
    };
    t.check(
        "xenstored has XS_ONE_TIME_RESTRICT",
        xenstored_restricts(g.domid),
        "",
    );
    // Patch 1 at run time: the number is refused before its op's table entry
    // is read (the privcmd suite checks Debian's Xen answers EINVAL).
    let mut zero = XenDmOp::new(DmopCode(0));
    zero.pad = 1;
    let r = raw::open("/dev/xen/privcmd")
        .and_then(|fd| raw::dm_op(&fd, g.domid, &mut [zero.as_mut_bytes()]));
    let name = match r {
        Ok(_) => "accepted".to_string(),
        Err(e) => raw::errno_name(e.0).to_string(),
    };
    show("   At run time, patch 1's dispatcher refuses a number before it reads anything else:");
    show(&format!("   DM_OP 0 (never assigned) with a nonzero pad: {name} (Debian's Xen: EINVAL, from the pad check)"));
    show("");
    t.eq(
        "DMOP 0 with a nonzero pad: EOPNOTSUPP",
        name,
        "EOPNOTSUPP".to_string(),
    );
    let dom = g.domid.0;
    let Some(pid) = dm_pid(g.domid) else {
        t.check("libxl recorded the device model's pid", false, "");
        return t.finish();
    };
    let log = log_with_table("demo");
    show(&format!(
        "== 9. Patch 2: xen-thin-dm (pid {pid}, guest 'demo', domain {dom}) keeps xenstore"
    ));
    show(
        "   This xenstored takes XS_ONE_TIME_RESTRICT: a privileged connection sends a request to",
    );
    show("   be run with exactly one domain's permissions. So the device model no longer has to close");
    show("   xenstore. It forks a forwarder before locking itself in; the forwarder holds the connection to");
    show("   xenstored and sends each of the device model's requests as the guest, refusing anything");
    show("   that is not a request on a node. The device model itself only has a socket to it.");
    for l in dm_lines(&log).iter().filter(|l| l.starts_with("xenstore:")) {
        show(&format!("   {l}"));
    }
    show("   Seen from outside, in /proc:");
    let fwd = forwarder_of(pid);
    let sockets = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter(|l| l.to_string_lossy().starts_with("socket:"))
                .count()
        })
        .unwrap_or(0);
    show(&format!(
        "   device model {pid}: uid {}, seccomp mode {}, {sockets} socket",
        status_field(pid, "Uid"),
        status_field(pid, "Seccomp")
    ));
    if let Some(f) = fwd {
        let root = std::fs::read_link(format!("/proc/{f}/root"))
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        show(&format!(
            "   forwarder    {f}: uid {}, capabilities {}, seccomp mode {}, root directory {root}",
            status_field(f, "Uid"),
            status_field(f, "CapEff"),
            status_field(f, "Seccomp")
        ));
        t.eq(
            "the forwarder runs as the device model's uid",
            status_field(f, "Uid"),
            status_field(pid, "Uid"),
        );
        t.eq(
            "the forwarder has a seccomp filter",
            status_field(f, "Seccomp"),
            "2".to_string(),
        );
    }
    t.check("the device model has a forwarder", fwd.is_some(), "");
    t.eq(
        "the device model holds one socket (to its forwarder)",
        sockets,
        1,
    );
    let dir = format!("/local/domain/0/device-model/{dom}");
    let (_, perms) = xl::run("xenstore-ls", &["-p", &dir]);
    let state = perms
        .lines()
        .find(|l| l.trim_start().starts_with("state = "))
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    show(&format!("   $ xenstore-ls -p {dir}"));
    show(&format!("   {state}"));
    show(&format!(
        "   (n0,b{dom}: dom0 owns it, only domain {dom} may read and write it; xl waits for it)"
    ));
    t.check(
        "the state node was written as the guest",
        state.starts_with("state = \"running\"") && state.contains(&format!("(n0,b{dom})")),
        &perms,
    );
    show("");

    show("== 10. Taken over by the guest, what can the device model do with that connection?");
    let (rows, summary) = escape_table(&log);
    for l in rows
        .iter()
        .filter(|l| l.contains("xenstore") || l.contains("forwarder"))
    {
        show(&format!(" {l}"));
    }
    show(&format!("   {summary} (the others as on Debian's Xen)"));
    let counts: Vec<usize> = summary
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    t.check(
        "every escape attempt was refused, the kept connection's and the forwarder's included",
        counts.len() == 2
            && counts[0] == counts[1]
            && rows
                .iter()
                .filter(|l| l.contains("kept xenstore") || l.contains("forwarder"))
                .count()
                >= 7
            && !log.contains("ESCAPED"),
        &summary,
    );
    show("");

    show("== 11. The guest runs; on its own xenstore ring it cannot use the new request either:");
    let (gone, log) = run_guest("demo");
    for l in
        guest_lines(&log).filter(|l| l.starts_with("xenstore:") || l.starts_with("Test result"))
    {
        show(&format!("   guest> {l}"));
    }
    show(&format!(
        "   Domain 'demo' is {}; 'bystander' is {}.",
        if gone { "gone" } else { "STILL THERE" },
        if xl::list_state("bystander").is_some() {
            "untouched"
        } else {
            "GONE"
        }
    ));
    show("");
    t.check(
        "an unprivileged sender (the guest) gets EACCES",
        log.contains("XS_ONE_TIME_RESTRICT from the guest (unprivileged): EACCES"),
        "",
    );
    finish(t, gone, &log, (victim, g))
}

/// `demo-arm64`: what `cargo xtask demo --arch arm64` shows. No device
/// model serves an Arm guest yet; the demo shows what one would stand on:
/// a descriptor of privcmd-restrict confined to its guest on an
/// auto-translated dom0, doing a device model's work (an ioreq server, its
/// page, the guest's memory) and refused everything else; and, on the
/// patched hypervisor, Arm's dispatcher refusing what the frozen ABI does
/// not list.
pub fn run_arm64() -> i32 {
    use xendevicemodel::{DeviceModel, ForeignMapping, IoreqPages};
    let mut t = Tap::new("demo-arm64");
    let caps = std::fs::read_to_string("/proc/xen/capabilities").unwrap_or_default();
    let (_, info) = xl::run("xl", &["info"]);
    show(&format!(
        "Xen {} on {}; dom0 Linux {} as {} dom0",
        info_field(&info, "xen_version"),
        std::env::consts::ARCH,
        info_field(&info, "release"),
        if xl::auto_translated() {
            "an auto-translated"
        } else {
            "a PV"
        },
    ));
    t.check(
        "dom0 is the control domain",
        caps.trim() == "control_d",
        &caps,
    );
    let g = match Guest::create("arm-guest", &xl::fake_dm_path(), true, "") {
        Ok(g) => g,
        Err(e) => {
            t.check("xl create -p of a guest", false, e);
            return t.finish();
        }
    };
    let d = g.domid;
    show(&format!(
        "a guest, d{}: a paused arm64 kernel at 1 GiB of its RAM",
        d.0
    ));
    let dm = match DeviceModel::open_path(crate::privcmd::OUR_NODE).and_then(|dm| {
        dm.restrict(d)?;
        Ok(dm)
    }) {
        Ok(dm) => dm,
        Err(e) => {
            t.check(
                "a descriptor of privcmd-restrict, restricted to the guest",
                false,
                e,
            );
            return t.finish();
        }
    };
    show(&format!(
        "{} opened and restricted to d{}: from here on it acts on that guest only",
        crate::privcmd::OUR_NODE,
        d.0
    ));
    let ok = |r: &Result<(), String>| match r {
        Ok(()) => "ok".to_string(),
        Err(e) => e.clone(),
    };
    // A device model's work.
    let server = dm.create_ioreq_server(d, xl::bufioreq_mode());
    let page = server
        .as_ref()
        .map_err(|e| e.to_string())
        .and_then(|id| IoreqPages::map(&dm, d, *id, 1, false).map_err(|e| e.to_string()));
    let slot = page
        .as_ref()
        .ok()
        .and_then(|p| p.slot(0).map(|s| format!("{:?}", s.state())));
    show(&format!(
        "  create an ioreq server on d{}: {}",
        d.0,
        match &server {
            Ok(id) => format!("ok (id {})", id.0),
            Err(e) => e.to_string(),
        }
    ));
    show(&format!(
        "  map its ioreq page (MMAP_RESOURCE, Xen puts the frame at a page of dom0's): {}",
        match &slot {
            Some(s) => format!("ok, vCPU 0's slot is {s}"),
            None => format!("{:?}", page.as_ref().err()),
        }
    ));
    t.check(
        "an ioreq server on the guest, its page mapped",
        slot.as_deref() == Some("IoreqState::NONE"),
        format_args!("{server:?} {slot:?}"),
    );
    let image = xl::guest_image();
    let read = image.as_ref().map(|(_, gpa, bytes)| {
        ForeignMapping::map(&dm, d, &[gpa >> 12])
            .map_err(|e| e.to_string())
            .and_then(|m| {
                let mut got = vec![0u8; bytes.len()];
                if !m.read((*gpa & 0xfff) as usize, &mut got) {
                    return Err("read refused".into());
                }
                if got != *bytes {
                    return Err("the page holds something else".into());
                }
                Ok(())
            })
    });
    show(&format!(
        "  map the guest's first page (MMAPBATCH_V2) and read its kernel's header: {}",
        match &read {
            Some(r) => ok(r).replace("ok", "ok, the arm64 image magic \"ARM\\x64\" is there"),
            None => "no guest image".into(),
        }
    ));
    t.check(
        "the guest's memory, mapped through the restricted descriptor, holds its kernel",
        matches!(read, Some(Ok(()))),
        format_args!("{read:?}"),
    );
    // What it cannot do.
    let other = Guest::create("arm-bystander", &xl::fake_dm_path(), true, "");
    let refused = |r: Result<(), i32>| match r {
        Err(e) => xendevicemodel::errno_name(e).to_string(),
        Ok(()) => "ALLOWED".into(),
    };
    let mut cases = vec![
        (
            "map dom0's memory".to_string(),
            ForeignMapping::map(
                &dm,
                dmop_abi::types::DomId(0),
                &[xl::ARM_GUEST_RAM_BASE >> 12],
            )
            .map(|_| ())
            .map_err(|e| e.errno()),
        ),
        (
            "an ioreq server on dom0".to_string(),
            dm.create_ioreq_server(dmop_abi::types::DomId(0), xl::bufioreq_mode())
                .map(|_| ())
                .map_err(|e| e.errno()),
        ),
    ];
    if let Ok(o) = &other {
        cases.push((
            format!("map the other guest's (d{}) memory", o.domid.0),
            ForeignMapping::map(&dm, o.domid, &[xl::ARM_GUEST_RAM_BASE >> 12])
                .map(|_| ())
                .map_err(|e| e.errno()),
        ));
        cases.push((
            format!("an ioreq server on the other guest (d{})", o.domid.0),
            dm.create_ioreq_server(o.domid, xl::bufioreq_mode())
                .map(|_| ())
                .map_err(|e| e.errno()),
        ));
    }
    let raw_fd = raw::open(crate::privcmd::OUR_NODE);
    if let Ok(fd) = &raw_fd {
        let _ = raw::restrict(fd, d);
        cases.push((
            "a raw hypercall (xen_version)".to_string(),
            raw::hypercall_xen_version(fd).map(|_| ()).map_err(|e| e.0),
        ));
    }
    show("  what the same descriptor is refused:");
    for (what, r) in &cases {
        show(&format!("    {what:<44} {}", refused(*r)));
    }
    t.check(
        "everything beyond its guest is refused (EPERM)",
        cases.len() >= 5 && cases.iter().all(|(_, r)| *r == Err(libc::EPERM)),
        format_args!("{cases:?}"),
    );
    if let Ok(id) = server {
        let _ = dm.destroy_ioreq_server(d, id);
    }
    drop(page);
    // The freeze guard, if the hypervisor has it: DMOP 0 with its pad set
    // is EINVAL upstream (looked up first), EOPNOTSUPP with the guard.
    if let Ok(fd) = raw::open("/dev/xen/privcmd") {
        let mut zero = XenDmOp::new(DmopCode(0));
        zero.pad = 1;
        let guarded = raw::dm_op(&fd, d, &mut [zero.as_mut_bytes()]).err()
            == Some(raw::Errno(libc::EOPNOTSUPP));
        if guarded {
            show("the hypervisor has xen-patches' DMOP freeze guard: Arm's dispatcher refuses");
            let mut all = true;
            for (op, what) in [
                (7u32, "7, track_dirty_vram (x86's)"),
                (0, "0, never assigned"),
                (21, "21, past the last op"),
            ] {
                let mut o = XenDmOp::new(DmopCode(op));
                let r = raw::dm_op(&fd, d, &mut [o.as_mut_bytes()]);
                all &= r.err() == Some(raw::Errno(libc::EOPNOTSUPP));
                show(&format!(
                    "    DMOP {what:<30} {}",
                    refused(r.map(|_| ()).map_err(|e| e.0))
                ));
            }
            t.check(
                "the guard refuses what the frozen ABI does not list",
                all,
                "",
            );
        } else {
            show("the hypervisor is Debian's source, unpatched (`cargo xtask demo --arch arm64` shows the patched one next)");
        }
    }
    drop(other);
    drop(g);
    t.finish()
}
