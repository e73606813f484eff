// SPDX-License-Identifier: MIT
//! `devicemodel`: xl starts the test guest with xen-thin-dm as its device
//! model; the guest runs its checks through it and asks to be shut down.
//! What the device model claims about itself is checked from outside,
//! through `/proc`, while the guest is still paused.

use std::time::{Duration, Instant};

use dmop_abi::types::DomId;
use xendevicemodel::{DeviceModel, PRIVCMD_RESTRICT_PATH};

use crate::tap::Tap;
use crate::xl::{self, Guest};

/// xen-thin-dm in dom0 (`$XDM_THIN_DM` overrides).
pub fn thin_dm_path() -> String {
    std::env::var("XDM_THIN_DM").unwrap_or_else(|_| crate::contract::THIN_DM.into())
}

/// The device model's log: libxl sends a traditional device model's
/// stdout and stderr there.
pub fn dm_log(name: &str) -> String {
    std::fs::read_to_string(format!("/var/log/xen/qemu-dm-{name}.log")).unwrap_or_default()
}

/// The device model's pid, as libxl recorded it.
pub fn dm_pid(domid: DomId) -> Option<u32> {
    let (ok, out) = xl::run(
        "xenstore-read",
        &[&format!("/local/domain/{}/image/device-model-pid", domid.0)],
    );
    ok.then(|| out.trim().parse().ok()).flatten()
}

/// `device_model_args` for the xl config.
pub fn dm_args(args: &[&str]) -> String {
    let quoted: Vec<String> = args.iter().map(|a| format!("\"{a}\"")).collect();
    format!("device_model_args = [ {} ]\n", quoted.join(", "))
}

/// Polls `f` every 200 ms until it gives `Some`, for at most `secs`.
pub fn wait_for<T>(secs: u64, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() > Duration::from_secs(secs) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

fn status_field(status: &str, key: &str) -> String {
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{key}:"))
                .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_default()
}

fn limit(limits: &str, name: &str) -> String {
    limits
        .lines()
        .find(|l| l.starts_with(name))
        .map(|l| {
            l[name.len()..]
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

fn link(p: &str) -> String {
    std::fs::read_link(p)
        .map(|l| l.display().to_string())
        .unwrap_or_else(|e| format!("({e})"))
}

/// Checks, from outside, that the process `pid` is the deprivileged device
/// model of `domid` (running as `uid`, chrooted when `root` is given).
pub fn check_confined(t: &mut Tap, pid: u32, uid: u32, root: Option<&str>) {
    check_confined_fsize(t, pid, uid, root, 8 << 20);
}

/// [`check_confined`] of a device model whose `RLIMIT_FSIZE` is `fsize`
/// (a device model with a disk has it at the disk's size).
pub fn check_confined_fsize(t: &mut Tap, pid: u32, uid: u32, root: Option<&str>, fsize: u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let fsize_want = format!("{fsize} {fsize}");
    let u = uid.to_string();
    t.eq(
        "the device model runs as its own uid (real, effective, saved, fs)",
        status_field(&status, "Uid"),
        [u.as_str(); 4].join(" "),
    );
    t.eq(
        "... and gid",
        status_field(&status, "Gid"),
        [u.as_str(); 4].join(" "),
    );
    t.eq(
        "... with no supplementary groups",
        status_field(&status, "Groups"),
        String::new(),
    );
    t.eq(
        "... no capabilities (CapEff)",
        status_field(&status, "CapEff"),
        "0000000000000000".to_string(),
    );
    t.eq(
        "... none it could regain (CapPrm)",
        status_field(&status, "CapPrm"),
        "0000000000000000".to_string(),
    );
    t.eq(
        "... no new privileges",
        status_field(&status, "NoNewPrivs"),
        "1".to_string(),
    );
    t.eq(
        "... a seccomp filter (mode 2)",
        status_field(&status, "Seccomp"),
        "2".to_string(),
    );
    if let Some(root) = root {
        t.eq(
            "... chrooted to the empty directory",
            link(&format!("/proc/{pid}/root")),
            root.to_string(),
        );
    } else {
        let r = link(&format!("/proc/{pid}/root"));
        t.check(
            "... chrooted to an empty directory",
            r.starts_with("/tmp/xen-thin-dm."),
            format_args!("root is {r}"),
        );
    }
    check_namespaces(t, pid);
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap_or_default();
    for (name, want) in [
        ("Max core file size", "0 0"),
        ("Max processes", "0 0"),
        ("Max locked memory", "0 0"),
        ("Max file size", &fsize_want),
    ] {
        t.eq(
            &format!("... limit: {name}"),
            limit(&limits, name),
            want.to_string(),
        );
    }
    let fds = fd_links(pid);
    let sockets = fds.iter().filter(|f| f.starts_with("socket:")).count();
    check_logger(t, pid, &u);
    match forwarder_of(pid) {
        None => {
            t.check(
                "... holds no socket (the xenstore connection is closed)",
                !fds.is_empty() && sockets == 0,
                format_args!("descriptors: {fds:?}"),
            );
        }
        Some(fwd) => {
            t.check(
                "... holds one socket, to its xenstore forwarder, and no connection to xenstored",
                sockets == 1,
                format_args!("descriptors: {fds:?}"),
            );
            check_helper(t, "forwarder", fwd, &u);
            t.eq(
                "... chrooted",
                link(&format!("/proc/{fwd}/root")),
                xen_thin_dm::depriv::EMPTY_ROOT.to_string(),
            );
        }
    }
}

/// A helper process of the device model's (its logger, its xenstore
/// forwarder): the device model's uid, no capabilities, a seccomp filter,
/// no new privileges.
fn check_helper(t: &mut Tap, what: &str, pid: u32, uid: &str) {
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    t.eq(
        &format!("the {what} runs as the device model's uid"),
        status_field(&st, "Uid"),
        [uid; 4].join(" "),
    );
    for (name, field, want) in [
        ("... with no capabilities", "CapEff", "0000000000000000"),
        ("... a seccomp filter", "Seccomp", "2"),
        ("... no new privileges", "NoNewPrivs", "1"),
    ] {
        t.eq(name, status_field(&st, field), want.to_string());
    }
}

/// `pid` has mount, IPC and network namespaces of its own, not dom0's.
fn check_namespaces(t: &mut Tap, pid: u32) {
    for ns in ["mnt", "ipc", "net"] {
        let (theirs, ours) = (
            link(&format!("/proc/{pid}/ns/{ns}")),
            link(&format!("/proc/self/ns/{ns}")),
        );
        t.check(
            &format!("... in its own {ns} namespace"),
            theirs != ours && theirs.starts_with(ns),
            format_args!("{theirs} vs dom0's {ours}"),
        );
    }
}

/// The device model's children (its logger, its xenstore forwarder).
fn children_of(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .filter(|p| {
                    let st =
                        std::fs::read_to_string(format!("/proc/{p}/status")).unwrap_or_default();
                    status_field(&st, "PPid") == pid.to_string()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What a process's descriptors point at.
fn fd_links(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| link(&e.path().display().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// The device model's xenstore forwarder (the child holding sockets), if
/// it has one.
pub fn forwarder_of(pid: u32) -> Option<u32> {
    children_of(pid)
        .into_iter()
        .find(|&c| fd_links(c).iter().any(|l| l.starts_with("socket:")))
}

/// The device model's logger (the child holding no socket), if it has one.
pub fn logger_of(pid: u32) -> Option<u32> {
    children_of(pid)
        .into_iter()
        .find(|&c| !fd_links(c).iter().any(|l| l.starts_with("socket:")))
}

/// The logger of a device model started by xl: its log file is the
/// logger's, which is confined too and bounded by `--max-file-size`
/// (8 MiB) whatever the device model's own limit is.
fn check_logger(t: &mut Tap, pid: u32, uid: &str) {
    let out = link(&format!("/proc/{pid}/fd/1"));
    t.check(
        "its stdout is a pipe to its logger, not the log file",
        out.starts_with("pipe:"),
        format_args!("fd 1 -> {out}"),
    );
    let err = link(&format!("/proc/{pid}/fd/2"));
    t.check(
        "... and its stderr",
        err.starts_with("pipe:"),
        format_args!("fd 2 -> {err}"),
    );
    let own = fd_links(pid);
    t.check(
        "... and it holds no log file (xl's, --uart-log's)",
        !own.iter()
            .any(|l| l.starts_with("/var/log/") || l.ends_with(".log")),
        format_args!("descriptors: {own:?}"),
    );
    let Some(lg) = logger_of(pid) else {
        t.check("... a logger process holds the log", false, "no such child");
        return;
    };
    check_helper(t, "logger", lg, uid);
    let limits = std::fs::read_to_string(format!("/proc/{lg}/limits")).unwrap_or_default();
    let want = format!("{} {}", 8u64 << 20, 8u64 << 20);
    t.eq(
        "... limit: Max file size is --max-file-size, not the disks'",
        limit(&limits, "Max file size"),
        want,
    );
    let (root, dm_root) = (
        link(&format!("/proc/{lg}/root")),
        link(&format!("/proc/{pid}/root")),
    );
    t.check(
        "... chrooted where the device model is",
        root == dm_root && root != "/",
        format_args!("the logger's root is {root}, the device model's {dm_root}"),
    );
    check_namespaces(t, lg);
    let fds = fd_links(lg);
    t.check(
        "... holds the log file and no Xen node or socket",
        fds.iter().any(|l| l.starts_with("/var/log/xen/"))
            && !fds
                .iter()
                .any(|l| l.starts_with("socket:") || l.starts_with("/dev/xen")),
        format_args!("descriptors: {fds:?}"),
    );
}

/// Whether this bed's xenstored has XS_ONE_TIME_RESTRICT (xen-patches),
/// probed for guest `domid`.
pub fn xenstored_restricts(domid: DomId) -> bool {
    xenstore_client::Xenstore::open_socket(xenstore_client::SOCKET_PATH)
        .and_then(|mut x| x.supports_one_time_restrict(domid))
        .unwrap_or(false)
}

/// Runs the suite; returns the exit status.
pub fn run() -> i32 {
    let mut t = Tap::new("devicemodel");
    let dm = thin_dm_path();
    let other = match Guest::create("dm-other", &xl::fake_dm_path(), true, "") {
        Ok(g) => g,
        Err(e) => {
            t.check("a second guest for the escape attempts", false, e);
            return t.finish();
        }
    };
    end_to_end(&mut t, &dm, other.domid);
    on_sigterm(&mut t, &dm);
    restrict_at_open(&mut t, &dm, other.domid);
    fail_closed(&mut t, &dm);
    no_depriv_is_loud(&mut t, &dm);
    drop(other);
    t.finish()
}

fn show_log(t: &Tap, name: &str) {
    t.note(format!("--- /var/log/xen/qemu-dm-{name}.log"));
    t.note(dm_log(name));
    t.note("---");
}

/// Unpauses `g` and waits for the domain to go (the device model shuts it down).
fn run_to_end(t: &mut Tap, g: &Guest, pid: Option<u32>) {
    let (ok, out) = xl::run("xl", &["unpause", &g.name]);
    t.check("xl unpause", ok, out);
    let gone = wait_for(90, || xl::list_state(&g.name).is_none().then_some(()));
    t.check(
        "the guest ran to its end and the domain is gone",
        gone.is_some(),
        format_args!("{} still listed", g.name),
    );
    if let Some(pid) = pid {
        let exited = wait_for(20, || (!alive(pid)).then_some(()));
        t.check(
            "the device model exited",
            exited.is_some(),
            format_args!("pid {pid} still there"),
        );
    }
}

fn guest_checks(t: &mut Tap, log: &str) {
    t.check(
        "the guest says hello through the UART",
        log.contains("xdm-testguest: hello"),
        "no hello in the log",
    );
    t.check(
        "the guest found the UART",
        log.contains("uart: present"),
        "",
    );
    for what in [
        "pio dword write/read",
        "rep outsb (df=1)",
        "rep insb",
        "mmio dword write/read",
        "rep movsl to and from mmio",
    ] {
        t.check(
            &format!("guest check through the device model: {what}"),
            log.lines().any(|l| l.starts_with("ok") && l.contains(what)),
            "",
        );
    }
    for what in [
        "pci BAR0 sizes",
        "pci mmio counter counts reads",
        "pci INTx reaches the local APIC",
        "pci MSI reaches the local APIC",
    ] {
        t.check(
            &format!("guest check of the PCI device: {what}"),
            log.lines().any(|l| l.starts_with("ok") && l.contains(what)),
            "",
        );
    }
    let failed: Vec<&str> = log.lines().filter(|l| l.starts_with("FAILED")).collect();
    t.check(
        "no guest check failed",
        failed.is_empty(),
        failed.join("\n"),
    );
    t.check(
        "the guest reports SUCCESS",
        log.contains("Test result: SUCCESS"),
        "",
    );
    t.check(
        "the debug-exit port shut the guest down (code 0)",
        log.contains("the guest asked to stop with code 0"),
        "",
    );
    t.check(
        "the guest never ran past its exit request",
        !log.contains("still running after the exit request"),
        "",
    );
    let served = log
        .lines()
        .find(|l| l.contains("requests served:"))
        .unwrap_or_default();
    for kind in ["pio ", "mmio ", "pci-config "] {
        t.check(
            &format!("the device model served {}requests", kind),
            served.contains(kind),
            served,
        );
    }
    t.check(
        "the RTC change reached it through the buffered ring (8-byte TIMEOFFSET)",
        served.contains("buffered-timeoffset")
            && log.contains("clock is 30 s off") | log.contains("clock is -30 s off"),
        served,
    );
    t.check(
        "the ioreq server was destroyed at the end",
        log.contains("ioreq server destroyed"),
        "",
    );
}

fn escape_checks(t: &mut Tap, log: &str) {
    let summary = log
        .lines()
        .find(|l| l.contains("escape attempts:") && l.contains("refused"))
        .unwrap_or_default();
    let counts: Vec<u32> = summary
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    t.check(
        "every escape attempt was refused",
        counts.len() == 2
            && counts[0] == counts[1]
            && counts[0] >= 20
            && !summary.contains("FAILED"),
        format_args!("summary line: {summary:?}"),
    );
    t.check("no attempt is marked ESCAPED", !log.contains("ESCAPED"), "");
    if log.contains("xenstore: kept with domain") {
        for (attempt, errno) in [
            ("kept xenstore: read dom0's", "EACCES"),
            ("kept xenstore: write /tool", "EACCES"),
            ("kept xenstore: a watch", "EACCES"),
            ("kept xenstore: XS_INTRODUCE", "EACCES"),
            // Its forwarder holds a privileged connection: not dumpable, so
            // not even the same uid may trace it, seccomp or not.
            ("ptrace its own xenstore forwarder", "EPERM"),
        ] {
            let line = log
                .lines()
                .find(|l| l.trim_start().starts_with(attempt))
                .unwrap_or_default();
            t.check(
                &format!("with xenstore kept, \"{attempt}\" is refused {errno}, before seccomp and after"),
                line.matches(&format!("refused {errno}")).count() == 2,
                line,
            );
        }
    }
    for (attempt, errno) in [
        ("DM_OP on dom0", "EPERM"),
        ("DM_OP on another guest", "EPERM"),
        ("MMAPBATCH_V2 of another guest's memory", "EPERM"),
        ("re-open /dev/xen/privcmd ", "ENOENT"),
        ("write a file outside the chroot", "ENOENT"),
        // Its stdout is a pipe to the logger: no offset to write at.
        ("write its log past --max-file-size", "ESPIPE"),
    ] {
        // Column 2: before seccomp, the other layers stop it on their own.
        let line = log
            .lines()
            .find(|l| l.trim_start().starts_with(attempt))
            .unwrap_or_default();
        t.check(
            &format!("before seccomp, \"{}\" is refused {errno}", attempt.trim()),
            line.split("refused ")
                .nth(1)
                .is_some_and(|c| c.starts_with(errno)),
            line,
        );
    }
}

fn end_to_end(t: &mut Tap, dm: &str, other: DomId) {
    t.note("xl creates the test guest with xen-thin-dm as its device model (escape self-test on)");
    let o = other.0.to_string();
    let g = match Guest::create(
        "dm-guest",
        dm,
        true,
        &dm_args(&["--escape-test", "--escape-other", &o]),
    ) {
        Ok(g) => g,
        Err(e) => {
            t.check("xl create of the test guest with xen-thin-dm", false, e);
            show_log(t, "dm-guest");
            return;
        }
    };
    t.check("xl create of the test guest with xen-thin-dm", true, "");
    let pid = dm_pid(g.domid);
    t.check("libxl recorded the device model's pid", pid.is_some(), "");
    if let Some(pid) = pid {
        check_confined(
            t,
            pid,
            xen_thin_dm::cli::UID_BASE + u32::from(g.domid.0),
            Some(xen_thin_dm::depriv::EMPTY_ROOT),
        );
    }
    let log = dm_log("dm-guest");
    if xenstored_restricts(g.domid) {
        t.check(
            "xenstore: it keeps a connection with the guest's permissions (forwarder)",
            log.contains(&format!(
                "xenstore: kept with domain {}'s permissions",
                g.domid.0
            )),
            &log,
        );
        let key = format!("/local/domain/0/device-model/{}/state", g.domid.0);
        t.check(
            "... and wrote its state through a restricted request",
            log.contains(&format!("{key} = running, written as domain {}", g.domid.0)),
            &log,
        );
        let (_, perms) = xl::run(
            "xenstore-ls",
            &["-p", &format!("/local/domain/0/device-model/{}", g.domid.0)],
        );
        t.check(
            "... the state node is dom0's, writable by the guest only",
            perms.lines().any(|l| {
                l.trim_start().starts_with("state = \"running\"")
                    && l.contains(&format!("(n0,b{})", g.domid.0))
            }),
            &perms,
        );
    }
    t.check(
        "xl's QEMU options were ignored with a warning",
        log.contains("warning: ignoring QEMU options"),
        "",
    );
    t.check(
        "it uses the privcmd-restrict node",
        log.contains("privcmd node /dev/xen/privcmd-restrict"),
        "",
    );
    run_to_end(t, &g, pid);
    let log = dm_log("dm-guest");
    escape_checks(t, &log);
    guest_checks(t, &log);
    show_log(t, "dm-guest");
}

fn on_sigterm(t: &mut Tap, dm: &str) {
    let g = match Guest::create("dm-term", dm, true, "") {
        Ok(g) => g,
        Err(e) => {
            t.check(
                "a paused guest with xen-thin-dm, to stop it with SIGTERM",
                false,
                e,
            );
            return;
        }
    };
    let Some(pid) = dm_pid(g.domid) else {
        t.check("libxl recorded the device model's pid", false, "");
        return;
    };
    // A Ctrl-C or a service manager signals the whole group: the logger
    // must outlive them, or the device model's last lines are lost.
    let lg = logger_of(pid);
    match lg {
        Some(lg) => {
            for sig in [libc::SIGHUP, libc::SIGINT, libc::SIGTERM] {
                // SAFETY: a signal to the logger's pid.
                unsafe { libc::kill(lg as i32, sig) };
            }
            std::thread::sleep(std::time::Duration::from_millis(300));
            t.check(
                "its logger ignores SIGHUP, SIGINT and SIGTERM (it ends with the device model's pipes)",
                alive(lg),
                format_args!("logger pid {lg} is gone"),
            );
        }
        None => {
            t.check("the device model has a logger", false, "no such child");
        }
    }
    // SAFETY: a signal to the device model's pid.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let exited = wait_for(20, || (!alive(pid)).then_some(()));
    t.check(
        "SIGTERM stops the device model",
        exited.is_some(),
        format_args!("pid {pid} still there"),
    );
    if let Some(lg) = lg {
        t.check(
            "... and its logger is gone with it",
            !alive(lg),
            format_args!("logger pid {lg} still runs"),
        );
    }
    let log = dm_log("dm-term");
    t.check(
        "... which says so",
        log.contains(&format!("signal {}: stopping", libc::SIGTERM)),
        &log,
    );
    t.check(
        "... and destroys its ioreq server first (its last lines reach the log through the logger)",
        log.contains("ioreq server destroyed"),
        &log,
    );
    t.check(
        "the guest outlives its device model",
        xl::list_state("dm-term").is_some(),
        "",
    );
}

fn restrict_at_open(t: &mut Tap, dm: &str, other: DomId) {
    t.note("restrict-at-open: the privcmd descriptor is confined from its open");
    let o = other.0.to_string();
    let g = match Guest::create(
        "dm-rao",
        dm,
        true,
        &dm_args(&["--restrict-at-open", "--escape-test", "--escape-other", &o]),
    ) {
        Ok(g) => g,
        Err(e) => {
            t.check("xl create with xen-thin-dm --restrict-at-open", false, e);
            show_log(t, "dm-rao");
            return;
        }
    };
    t.check("xl create with xen-thin-dm --restrict-at-open", true, "");
    let uid = xen_thin_dm::cli::UID_BASE + u32::from(g.domid.0);
    let bindings = std::fs::read_to_string(crate::raw::BINDINGS_FILE).unwrap_or_default();
    t.check(
        "the module lists the uid's binding to the guest",
        bindings
            .lines()
            .any(|l| l == format!("{uid} {}", g.domid.0)),
        format_args!("bindings: {bindings:?}"),
    );
    let pid = dm_pid(g.domid);
    if let Some(pid) = pid {
        check_confined(t, pid, uid, Some(xen_thin_dm::depriv::EMPTY_ROOT));
    }
    run_to_end(t, &g, pid);
    let log = dm_log("dm-rao");
    t.check(
        "the device model says it was confined from the open",
        log.contains("confined to domain") && log.contains("from the start"),
        "",
    );
    escape_checks(t, &log);
    t.check(
        "the guest reports SUCCESS",
        log.contains("Test result: SUCCESS"),
        "",
    );
    // The guest has ended and is destroyed: privcmd-restrict drops the
    // binding with it (within its 2 s check), so the uid can never reach a
    // later guest given the same domain id. The administrator's unbind then
    // finds nothing.
    let listed = || crate::raw::binding_listed(uid);
    let started = std::time::Instant::now();
    while listed() && started.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    t.check(
        "the guest destroyed, its binding goes with it",
        !listed(),
        format_args!("still listed {:?} after the guest ended", started.elapsed()),
    );
    let unbound = DeviceModel::open_path(PRIVCMD_RESTRICT_PATH).and_then(|a| a.unbind_uid(uid));
    t.check(
        "... and the administrator's unbind finds nothing (ENOENT)",
        unbound.as_ref().is_err_and(|e| e.errno() == libc::ENOENT),
        format_args!("{unbound:?}"),
    );
    show_log(t, "dm-rao");
}

fn fail_closed(t: &mut Tap, dm: &str) {
    t.note("fail-closed: a deprivilege step that cannot be applied stops the device model");
    let leftover = &format!("{}/leftover", xen_thin_dm::depriv::EMPTY_ROOT);
    let planted = std::fs::create_dir_all(xen_thin_dm::depriv::EMPTY_ROOT)
        .and_then(|_| std::fs::write(leftover, b"x"));
    t.check(
        "plant a file in the chroot directory",
        planted.is_ok(),
        format_args!("{planted:?}"),
    );
    let created = Guest::create("dm-fail", dm, true, "");
    let _ = std::fs::remove_file(leftover);
    t.check(
        "xl create fails: the device model never reported running",
        created.is_err(),
        "xl create succeeded",
    );
    drop(created);
    let log = dm_log("dm-fail");
    let line: Vec<&str> = log.lines().filter(|l| l.contains("error:")).collect();
    t.check(
        "one line says which step failed",
        line.len() == 1
            && line[0].contains("deprivilege step \"empty root directory\" failed")
            && line[0].contains("not empty"),
        &log,
    );
    t.check("nothing was served", !log.contains("serving"), &log);
}

fn no_depriv_is_loud(t: &mut Tap, dm: &str) {
    let (ok, out) = xl::run(dm, &["-d", "999", "--no-depriv"]);
    t.check(
        "--no-depriv warns that it is unsafe",
        out.contains("WARNING: --no-depriv")
            && out.contains("UNSAFE") | out.contains("owns the host"),
        &out,
    );
    t.check(
        "... and still fails cleanly on a domain that does not exist",
        !ok && out.contains("error:"),
        &out,
    );
}
