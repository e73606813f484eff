// SPDX-License-Identifier: MIT
//! `xen-thin-dm-backend`: the dom0 daemon that gives Arm guests their
//! virtio disks, each served by its own deprivileged xen-thin-dm.
//!
//! On Arm, libxl starts no device model. For a disk configured with
//! `specification=virtio,backendtype=standalone` it allocates a
//! virtio-mmio slot (base address and GIC SPI), names it in the guest's
//! device tree, writes the backend's xenstore directory
//! (`/local/domain/0/backend/virtio_disk/DOMID/DEVID`: `params`, `mode`,
//! `base`, `irq`, `state` = 1) and waits, the guest still paused, until
//! the backend's `state` is 2 (InitWait). This daemon watches for such
//! directories and, for each, starts
//! `xen-thin-dm --board arm --virtio-blk PARAMS --virtio-slot N ...`: a
//! device model for that one disk, which opens it, attaches its ioreq
//! server, confines itself and writes `running` to a state node of its
//! own. Only then does the daemon answer libxl (state 2), so a device
//! model that failed to deprivilege leaves `xl create` to time out: the
//! guest never runs unserved or served by an unconfined process. When
//! libxl closes the device (state 5), the domain goes, or the device
//! model exits, the device model is stopped and the backend is Closed (6).
//!
//! One process per disk: a guest that takes over one disk's device model
//! reaches neither its other disks' files nor another guest's.
//!
//! The daemon polls xenstore (every 100 ms) rather than watching it: the
//! project's xenstore client has no watches, and libxl gives a backend 20 s.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use xen_thin_dm::board;
use xenstore_client::Xenstore;

/// Where libxl writes standalone virtio disk backends in dom0.
const BACKENDS: &str = "/local/domain/0/backend/virtio_disk";
/// How often xenstore is read.
const POLL: Duration = Duration::from_millis(100);
/// How long a device model may take to say `running` (libxl waits 20 s).
const READY_WAIT: Duration = Duration::from_secs(15);
/// How long a stopped device model has to exit before it is killed.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// xenbus states (Xen's public `io/xenbus.h`).
const INITIALISING: &str = "1";
const INIT_WAIT: &str = "2";
const CLOSING: &str = "5";
const CLOSED: &str = "6";

const USAGE: &str = "\
usage: xen-thin-dm-backend [--dm PATH] [--log-dir DIR] [--once] [-- DM-OPTIONS...]

Serves the virtio disks libxl gives Arm guests (specification=virtio,
backendtype=standalone): one deprivileged xen-thin-dm per disk.

  --dm PATH       the device model (default: xen-thin-dm next to this program)
  --log-dir DIR   each device model's log: DIR/xen-thin-dm-DOMID-DEVID.log
                  (default /var/log/xen)
  --once          exit once the first disk served is gone (tests)
  -- OPTIONS      passed to every device model (e.g. --restrict-at-open)";

fn say(msg: &str) {
    let _ = writeln!(std::io::stdout(), "xen-thin-dm-backend: {msg}");
}

struct Options {
    dm: PathBuf,
    log_dir: PathBuf,
    once: bool,
    extra: Vec<String>,
}

fn parse(args: &[String]) -> Result<Option<Options>, String> {
    let mut o = Options {
        dm: std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(|d| d.join("xen-thin-dm")))
            .unwrap_or_else(|| "xen-thin-dm".into()),
        log_dir: "/var/log/xen".into(),
        once: false,
        extra: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-h" | "--help" => return Ok(None),
            "--dm" => o.dm = it.next().ok_or("--dm needs a path")?.into(),
            "--log-dir" => o.log_dir = it.next().ok_or("--log-dir needs a directory")?.into(),
            "--once" => o.once = true,
            "--" => {
                o.extra = it.cloned().collect();
                break;
            }
            f => return Err(format!("unknown option {f} (see --help)")),
        }
    }
    Ok(Some(o))
}

/// One disk being served.
struct Served {
    child: Child,
    /// The backend's xenstore directory.
    backend: String,
    domid: u16,
}

fn read(xs: &mut Xenstore, path: &str) -> Option<String> {
    xs.read(path)
        .ok()
        .map(|v| String::from_utf8_lossy(&v).trim().to_string())
}

/// What the device model for the backend at `be` is started with, from
/// what libxl wrote there.
fn dm_args(xs: &mut Xenstore, domid: u16, devid: &str, be: &str) -> Result<Vec<String>, String> {
    let field = |xs: &mut Xenstore, f: &str| {
        read(xs, &format!("{be}/{f}")).ok_or_else(|| format!("{be}/{f} is missing"))
    };
    let params = field(xs, "params")?;
    let mode = field(xs, "mode")?;
    let base: u64 = field(xs, "base")?
        .parse()
        .map_err(|_| format!("{be}/base is not a number"))?;
    let irq: u32 = field(xs, "irq")?
        .parse()
        .map_err(|_| format!("{be}/irq is not a number"))?;
    // The device model places the disk in the board's slot; it must be the
    // one libxl put in the guest's device tree.
    let slot = (0..16)
        .find(|n| board::arm_virtio_mmio_slot(*n) == Some((base, irq)))
        .ok_or_else(|| format!("{be}: base {base:#x} and SPI {irq} are no slot of the board"))?;
    let ram_kib = read(xs, &format!("/local/domain/{domid}/memory/static-max"))
        .ok_or_else(|| format!("domain {domid} has no memory/static-max"))?;
    if params.is_empty() || params.contains(',') {
        return Err(format!("{be}/params `{params}`: one path, without commas"));
    }
    let disk = match mode.as_str() {
        "w" => params,
        "r" => format!("{params},ro"),
        m => return Err(format!("{be}/mode `{m}`: r or w")),
    };
    Ok(vec![
        "-d".into(),
        domid.to_string(),
        "--board".into(),
        "arm".into(),
        "--guest-ram-kib".into(),
        ram_kib,
        "--virtio-blk".into(),
        disk,
        "--virtio-slot".into(),
        slot.to_string(),
        "--state-key".into(),
        state_key(domid, devid),
    ])
}

/// Where the device model of one disk says `running`.
fn state_key(domid: u16, devid: &str) -> String {
    format!("/local/domain/0/device-model/{domid}/virtio_disk-{devid}/state")
}

/// Starts the device model of the backend at `be` and waits until it is
/// confined and serving; then answers libxl.
fn start(
    o: &Options,
    xs: &mut Xenstore,
    domid: u16,
    devid: &str,
    be: &str,
) -> Result<Child, String> {
    let args = dm_args(xs, domid, devid, be)?;
    let key = state_key(domid, devid);
    // A state left by an earlier device model of this domid is not ours.
    let _ = xs.rm(&key);
    std::fs::create_dir_all(&o.log_dir).map_err(|e| format!("{}: {e}", o.log_dir.display()))?;
    let log_path = o.log_dir.join(format!("xen-thin-dm-{domid}-{devid}.log"));
    let log =
        std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    say(&format!(
        "d{domid} disk {devid}: {} {} {} (log {})",
        o.dm.display(),
        args.join(" "),
        o.extra.join(" "),
        log_path.display()
    ));
    let mut child = Command::new(&o.dm)
        .args(&args)
        .args(&o.extra)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("{}: {e}", o.dm.display()))?;
    let started = Instant::now();
    loop {
        if read(xs, &key).as_deref() == Some("running") {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "the device model exited ({status}) before it was serving"
            ));
        }
        if started.elapsed() > READY_WAIT {
            stop(&mut child);
            return Err(format!(
                "the device model did not say `running` within {READY_WAIT:?}"
            ));
        }
        std::thread::sleep(POLL);
    }
    xs.write(&format!("{be}/state"), INIT_WAIT.as_bytes())
        .map_err(|e| format!("{be}/state: {e}"))?;
    say(&format!(
        "d{domid} disk {devid}: device model (pid {}) confined and serving; backend InitWait",
        child.id()
    ));
    Ok(child)
}

/// SIGTERM, then SIGKILL after [`STOP_WAIT`].
fn stop(child: &mut Child) {
    // SAFETY: signals our own child, not yet reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let t = Instant::now();
    while t.elapsed() < STOP_WAIT {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(POLL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The disks being served, and those refused (not tried again while their
/// backend lasts).
#[derive(Default)]
struct Backends {
    served: BTreeMap<String, Served>,
    refused: BTreeSet<String>,
}

/// One pass: new backends started, finished ones stopped and closed.
/// Returns whether a served disk went.
fn pass(o: &Options, xs: &mut Xenstore, b: &mut Backends) -> bool {
    let mut seen = BTreeSet::new();
    for dom in xs.directory(BACKENDS).unwrap_or_default() {
        let Ok(domid) = dom.parse::<u16>() else {
            continue;
        };
        for devid in xs
            .directory(&format!("{BACKENDS}/{dom}"))
            .unwrap_or_default()
        {
            let be = format!("{BACKENDS}/{dom}/{devid}");
            seen.insert(be.clone());
            if b.served.contains_key(&be)
                || b.refused.contains(&be)
                || read(xs, &format!("{be}/state")).as_deref() != Some(INITIALISING)
            {
                continue;
            }
            match start(o, xs, domid, &devid, &be) {
                Ok(child) => {
                    b.served.insert(
                        be.clone(),
                        Served {
                            child,
                            backend: be,
                            domid,
                        },
                    );
                }
                Err(e) => {
                    // Left Initialising: libxl gives up and fails the create.
                    say(&format!("d{domid} disk {devid}: not served: {e}"));
                    b.refused.insert(be);
                }
            }
        }
    }
    b.refused.retain(|be| seen.contains(be));
    let mut done = Vec::new();
    for (be, s) in b.served.iter_mut() {
        let state = read(xs, &format!("{be}/state"));
        let domain_gone = xs.read(&format!("/local/domain/{}", s.domid)).is_err();
        let exited = matches!(s.child.try_wait(), Ok(Some(_)));
        if state.is_none() || state.as_deref() == Some(CLOSING) || domain_gone || exited {
            if !exited {
                stop(&mut s.child);
            }
            if state.is_some() {
                let _ = xs.write(&format!("{}/state", s.backend), CLOSED.as_bytes());
            }
            say(&format!(
                "{be}: {}; device model stopped",
                match (state.as_deref(), domain_gone, exited) {
                    (_, _, true) => "the device model exited",
                    (_, true, _) => "the domain is gone",
                    (None, _, _) => "the backend is gone",
                    _ => "closed by the toolstack",
                }
            ));
            done.push(be.clone());
        }
    }
    for be in &done {
        b.served.remove(be);
    }
    !done.is_empty()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = match parse(&args) {
        Ok(Some(o)) => o,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("xen-thin-dm-backend: {e}");
            return ExitCode::from(2);
        }
    };
    let mut xs = match Xenstore::open() {
        Ok(x) => x,
        Err(e) => {
            eprintln!("xen-thin-dm-backend: xenstore: {e}");
            return ExitCode::FAILURE;
        }
    };
    say(&format!(
        "watching {BACKENDS} (device model {})",
        o.dm.display()
    ));
    let mut backends = Backends::default();
    loop {
        if pass(&o, &mut xs, &mut backends) && o.once {
            say("--once: the disk served is gone");
            return ExitCode::SUCCESS;
        }
        std::thread::sleep(POLL);
    }
}
