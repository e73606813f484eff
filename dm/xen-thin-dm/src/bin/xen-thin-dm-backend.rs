// SPDX-License-Identifier: MIT
//! `xen-thin-dm-backend`: the dom0 daemon that gives Arm guests their
//! virtio disks, each served by its own deprivileged xen-thin-dm.
//!
//! On Arm, libxl starts no device model. For a disk configured with
//! `specification=virtio,backendtype=standalone` it allocates a
//! virtio-mmio slot (base address and GIC SPI), names it in the guest's
//! device tree, writes the backend's xenstore directory
//! (`/local/domain/0/backend/virtio_disk/DOMID/DEVID`: `params`, `mode`,
//! `base`, `irq`, `state` = 1) and waits, the guest still paused, up to
//! 10 s (`LIBXL_INIT_TIMEOUT`) for the backend's `state` to be 2
//! (InitWait). This daemon finds such directories and, for each, starts
//! `xen-thin-dm --board arm --virtio-blk PARAMS --virtio-slot N ...`: a
//! device model for that one disk, which opens it, attaches its ioreq
//! server, confines itself and writes `running` to a state node of its
//! own. The daemon then checks the confinement itself (`/proc/PID/status`:
//! the device model's uid, no new privileges, a seccomp filter) and only
//! then answers libxl (state 2). A device model that failed to
//! deprivilege, or was slow, leaves `xl create` to time out: the guest
//! never runs unserved, or served by an unconfined process. When libxl
//! closes the device (state 5), the domain goes or the device model
//! exits, the device model is stopped and the backend is Closed (6).
//!
//! One process per disk: a guest that takes over one disk's device model
//! reaches neither its other disks' files nor another guest's.
//!
//! Nothing blocks: each disk is a small state machine advanced by a pass
//! over xenstore every 100 ms (the project's xenstore client has no
//! watches), so one slow device model holds up no other disk or guest.
//! Only "no such node" means gone: on any other xenstore error the pass is
//! abandoned, the connection opened again, and no device model stopped.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use dmop_abi::xs_wire::XsMsgType;
use xen_thin_dm::board;
use xen_thin_dm::cli::UID_BASE;
use xenstore_client::{Error, Xenstore};

/// Where libxl writes standalone virtio disk backends in dom0.
const BACKENDS: &str = "/local/domain/0/backend/virtio_disk";
/// How often xenstore is read.
const POLL: Duration = Duration::from_millis(100);
/// How long a device model may take to say `running`: under libxl's 10 s.
const READY_WAIT: Duration = Duration::from_secs(8);
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
  --once          exit once the first disk is done with (served and gone, or
                  refused), leaving any others' device models running (tests)
  -- OPTIONS      passed to every device model; only options that cannot
                  weaken it: --restrict-at-open, --escape-test, --no-ioeventfd,
                  -v, --verbose, --poll-max-us N, --max-file-size N,
                  --escape-other N, --privcmd PATH";

/// The device-model options `--` may pass on: none of them undoes a
/// confinement step or overrides what the daemon sets.
const PASSED_FLAGS: &[&str] = &[
    "--restrict-at-open",
    "--escape-test",
    "--no-ioeventfd",
    "-v",
    "--verbose",
];
/// The same, with a value.
const PASSED_WITH_VALUE: &[&str] = &[
    "--poll-max-us",
    "--max-file-size",
    "--escape-other",
    "--privcmd",
];

fn say(msg: &str) {
    let _ = writeln!(std::io::stdout(), "xen-thin-dm-backend: {msg}");
}

struct Options {
    dm: PathBuf,
    log_dir: PathBuf,
    once: bool,
    extra: Vec<String>,
}

/// The device-model options after `--`, checked against what may be
/// passed on.
fn passed_on(args: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let flag = a.split_once('=').map_or(a.as_str(), |(f, _)| f);
        if !cfg!(feature = "escape-test") && (flag == "--escape-test" || flag == "--escape-other") {
            // Every device model would refuse it at start.
            return Err(format!(
                "{flag}: this build has no escape self-test (cargo feature escape-test)"
            ));
        }
        if PASSED_FLAGS.contains(&a.as_str()) {
            out.push(a.clone());
        } else if PASSED_WITH_VALUE.contains(&flag) {
            out.push(a.clone());
            if flag == a {
                out.push(
                    it.next()
                        .ok_or_else(|| format!("{a} needs a value"))?
                        .clone(),
                );
            }
        } else {
            return Err(format!(
                "{a} cannot be passed to the device models (the daemon sets it, or it would weaken them)"
            ));
        }
    }
    Ok(out)
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
                o.extra = passed_on(&it.cloned().collect::<Vec<_>>())?;
                break;
            }
            f => return Err(format!("unknown option {f} (see --help)")),
        }
    }
    Ok(Some(o))
}

/// Whether `e` is xenstored's "no such node".
fn is_enoent(e: &Error) -> bool {
    e.xs_errno() == Some("ENOENT")
}

/// A node's value, `None` if there is no such node; other errors are
/// errors.
fn read(xs: &mut Xenstore, path: &str) -> Result<Option<String>, Error> {
    match xs.read(path) {
        Ok(v) => Ok(Some(String::from_utf8_lossy(&v).trim().to_string())),
        Err(e) if is_enoent(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes `value` to `path` if it holds `expected`, in one transaction, so
/// nothing (libxl's Closing) written in between is overwritten; a commit
/// xenstored answers EAGAIN is tried again. Returns whether it wrote.
fn write_if(xs: &mut Xenstore, path: &str, expected: &str, value: &str) -> Result<bool, Error> {
    let nul = |s: &str| {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        v
    };
    loop {
        let (_, id) = xs.request("transaction start", XsMsgType::TRANSACTION_START, 0, b"\0")?;
        let tx: u32 = String::from_utf8_lossy(&id)
            .trim_end_matches('\0')
            .parse()
            .map_err(|_| Error::Protocol("transaction start", format!("transaction id {id:?}")))?;
        let end = |xs: &mut Xenstore, commit: bool| {
            xs.request(
                "transaction end",
                XsMsgType::TRANSACTION_END,
                tx,
                if commit { b"T\0" } else { b"F\0" },
            )
        };
        let now = match xs.request("read", XsMsgType::READ, tx, &nul(path)) {
            Ok((_, v)) => Some(String::from_utf8_lossy(&v).trim().to_string()),
            Err(e) if is_enoent(&e) => None,
            Err(e) => {
                let _ = end(xs, false);
                return Err(e);
            }
        };
        if now.as_deref() != Some(expected) {
            end(xs, false)?;
            return Ok(false);
        }
        let mut w = nul(path);
        w.extend_from_slice(value.as_bytes());
        if let Err(e) = xs.request("write", XsMsgType::WRITE, tx, &w) {
            let _ = end(xs, false);
            return Err(e);
        }
        match end(xs, true) {
            Ok(_) => return Ok(true),
            Err(e) if e.xs_errno() == Some("EAGAIN") => continue,
            Err(e) => return Err(e),
        }
    }
}

/// A directory's entries, none if there is no such node.
fn directory(xs: &mut Xenstore, path: &str) -> Result<Vec<String>, Error> {
    match xs.directory(path) {
        Ok(v) => Ok(v),
        Err(e) if is_enoent(&e) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Why a disk was not started: a reason to refuse it, or a xenstore error
/// (the pass is abandoned and the disk tried again, never refused for it).
enum NotStarted {
    Refuse(String),
    Xs(Error),
}

impl From<String> for NotStarted {
    fn from(e: String) -> Self {
        NotStarted::Refuse(e)
    }
}

impl From<Error> for NotStarted {
    fn from(e: Error) -> Self {
        NotStarted::Xs(e)
    }
}

/// What the device model for the backend at `be` is started with, from
/// what libxl wrote there.
fn dm_args(
    xs: &mut Xenstore,
    domid: u16,
    devid: &str,
    be: &str,
) -> Result<Vec<String>, NotStarted> {
    let mut field = |f: &str| -> Result<String, NotStarted> {
        Ok(read(xs, &format!("{be}/{f}"))?.ok_or_else(|| format!("{be}/{f} is missing"))?)
    };
    let params = field("params")?;
    let mode = field("mode")?;
    let base: u64 = field("base")?
        .parse()
        .map_err(|_| format!("{be}/base is not a number"))?;
    let irq: u32 = field("irq")?
        .parse()
        .map_err(|_| format!("{be}/irq is not a number"))?;
    // The device model places the disk in the board's slot; it must be the
    // one libxl put in the guest's device tree.
    let slot = (0..16)
        .find(|n| board::arm_virtio_mmio_slot(*n) == Some((base, irq)))
        .ok_or_else(|| format!("{be}: base {base:#x} and SPI {irq} are no slot of the board"))?;
    let ram_kib = read(xs, &format!("/local/domain/{domid}/memory/static-max"))?
        .ok_or_else(|| format!("domain {domid} has no memory/static-max"))?;
    // libxl checked the path from xl's directory: only an absolute one
    // means the same file here.
    if !params.starts_with('/') || params.contains(',') {
        return Err(format!("{be}/params `{params}`: an absolute path, without commas").into());
    }
    let disk = match mode.as_str() {
        "w" => params,
        "r" => format!("{params},ro"),
        m => return Err(format!("{be}/mode `{m}`: r or w").into()),
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

/// Whether process `pid` is confined as a device model of `domid` must be:
/// its own uid and gid (all four of each), no supplementary groups, no
/// capabilities, no new privileges, a seccomp filter (the last step of
/// deprivileging, so every earlier one ran).
fn confined(pid: u32, domid: u16) -> Result<(), String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    let field = |name: &str| -> Vec<&str> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(|v| v.split_whitespace().collect())
            .unwrap_or_default()
    };
    let uid = (UID_BASE + u32::from(domid)).to_string();
    let uids = field("Uid");
    if uids.len() != 4 || uids.iter().any(|u| *u != uid) {
        return Err(format!("its uids are {uids:?}, not {uid}"));
    }
    let gids = field("Gid");
    if gids.len() != 4 || gids.iter().any(|g| *g != uid) {
        return Err(format!("its gids are {gids:?}, not {uid}"));
    }
    if !field("Groups").is_empty() {
        return Err("it has supplementary groups".into());
    }
    if field("CapEff") != ["0000000000000000"] || field("CapPrm") != ["0000000000000000"] {
        return Err("it holds capabilities".into());
    }
    if field("NoNewPrivs") != ["1"] {
        return Err("it may gain privileges (NoNewPrivs is not 1)".into());
    }
    if field("Seccomp") != ["2"] {
        return Err("it has no seccomp filter".into());
    }
    Ok(())
}

/// Where a served disk is.
enum Phase {
    /// Started; not yet `running`.
    Starting(Instant),
    /// Confined and serving; libxl was told InitWait.
    Serving,
    /// Sent SIGTERM (SIGKILL after [`STOP_WAIT`]); reaped without blocking.
    Stopping {
        since: Instant,
        why: String,
        /// Whether it had served (libxl was told InitWait).
        served: bool,
        killed: bool,
    },
}

/// One disk's device model.
struct Served {
    child: Child,
    domid: u16,
    /// The domain's `vm` node at launch: a domain with the same domid and
    /// another `vm` is another guest.
    vm: String,
    key: String,
    phase: Phase,
}

/// Every disk the daemon knows of.
#[derive(Default)]
struct Backends {
    served: BTreeMap<String, Served>,
    /// Backends not served (their device model failed or never started):
    /// left Initialising, so libxl's create fails; Closed when libxl
    /// closes them.
    refused: BTreeSet<String>,
}

/// Starts the device model of the backend at `be`.
fn launch(
    o: &Options,
    xs: &mut Xenstore,
    domid: u16,
    devid: &str,
    be: &str,
) -> Result<Served, NotStarted> {
    let args = dm_args(xs, domid, devid, be)?;
    let vm = read(xs, &format!("/local/domain/{domid}/vm"))?
        .ok_or_else(|| format!("domain {domid} has no vm node"))?;
    let key = state_key(domid, devid);
    // A state left by an earlier device model of this domid is not ours
    // (an error other than ENOENT abandons the pass: tried again).
    match xs.rm(&key) {
        Ok(()) => {}
        Err(e) if is_enoent(&e) => {}
        Err(e) => return Err(e.into()),
    }
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
    let child = Command::new(&o.dm)
        .args(&args)
        .args(&o.extra)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("{}: {e}", o.dm.display()))?;
    Ok(Served {
        child,
        domid,
        vm,
        key,
        phase: Phase::Starting(Instant::now()),
    })
}

/// SIGTERM now; the pass that sees [`STOP_WAIT`] gone kills.
fn stop(s: &mut Served, why: String) {
    // SAFETY: signals our own child, not yet reaped.
    unsafe { libc::kill(s.child.id() as libc::pid_t, libc::SIGTERM) };
    let served = matches!(s.phase, Phase::Serving);
    s.phase = Phase::Stopping {
        since: Instant::now(),
        why,
        served,
        killed: false,
    };
}

/// One pass: new backends started, the others advanced. Returns whether a
/// served disk went; an error is xenstore's (not "no such node").
fn pass(o: &Options, xs: &mut Xenstore, b: &mut Backends) -> Result<bool, Error> {
    let mut seen = BTreeSet::new();
    for dom in directory(xs, BACKENDS)? {
        let Ok(domid) = dom.parse::<u16>() else {
            continue;
        };
        for devid in directory(xs, &format!("{BACKENDS}/{dom}"))? {
            let be = format!("{BACKENDS}/{dom}/{devid}");
            seen.insert(be.clone());
            if b.served.contains_key(&be)
                || b.refused.contains(&be)
                || read(xs, &format!("{be}/state"))?.as_deref() != Some(INITIALISING)
            {
                continue;
            }
            match launch(o, xs, domid, &devid, &be) {
                Ok(s) => {
                    b.served.insert(be, s);
                }
                Err(NotStarted::Refuse(e)) => {
                    say(&format!("d{domid} disk {devid}: not served: {e}"));
                    b.refused.insert(be);
                }
                Err(NotStarted::Xs(e)) => return Err(e),
            }
        }
    }
    // Refused backends: Closed when libxl closes them, so its teardown of
    // the failed create does not wait; forgotten when they go.
    b.refused.retain(|be| seen.contains(be));
    for be in &b.refused {
        if read(xs, &format!("{be}/state"))?.as_deref() == Some(CLOSING) {
            xs.write(&format!("{be}/state"), CLOSED.as_bytes())?;
        }
    }
    let mut done = Vec::new();
    for (be, s) in b.served.iter_mut() {
        let state = read(xs, &format!("{be}/state"))?;
        // Gone, or its domid already another guest's.
        let domain_gone =
            read(xs, &format!("/local/domain/{}/vm", s.domid))?.as_ref() != Some(&s.vm);
        let exited = match s.child.try_wait() {
            Ok(e) => e,
            Err(e) => {
                say(&format!("{be}: waiting for the device model: {e}"));
                None
            }
        };
        let going = if state.is_none() {
            Some("the backend is gone")
        } else if state.as_deref() == Some(CLOSING) {
            Some("closed by the toolstack")
        } else if domain_gone {
            Some("the domain is gone")
        } else {
            None
        };
        match &mut s.phase {
            Phase::Starting(since) => {
                let since = *since;
                if let Some(status) = exited {
                    say(&format!("{be}: not served: the device model exited ({status}) before it was serving"));
                    done.push((be.clone(), false));
                } else if let Some(why) = going {
                    stop(s, format!("{why} before it was serving"));
                } else if read(xs, &s.key)?.as_deref() == Some("running") {
                    // Confined, and still alive after the look (a process
                    // that exits after try_wait is a zombie /proc still
                    // shows as confined).
                    let check =
                        confined(s.child.id(), s.domid).and_then(|()| match s.child.try_wait() {
                            Ok(None) => Ok(()),
                            _ => Err("it exited".to_string()),
                        });
                    match check {
                        Ok(())
                            if write_if(xs, &format!("{be}/state"), INITIALISING, INIT_WAIT)? =>
                        {
                            say(&format!(
                                "{be}: device model (pid {}) confined and serving; backend InitWait",
                                s.child.id()
                            ));
                            s.phase = Phase::Serving;
                        }
                        Ok(()) => stop(
                            s,
                            "the backend left Initialising before the device model was serving"
                                .to_string(),
                        ),
                        Err(e) => stop(s, format!("it said running but is not confined: {e}")),
                    }
                } else if since.elapsed() > READY_WAIT {
                    stop(s, format!("not running within {READY_WAIT:?}"));
                }
            }
            Phase::Serving => {
                if let Some(status) = exited {
                    say(&format!(
                        "{be}: the device model exited ({status}) while serving"
                    ));
                    if state.is_some() {
                        xs.write(&format!("{be}/state"), CLOSED.as_bytes())?;
                    }
                    done.push((be.clone(), true));
                } else if let Some(why) = going {
                    stop(s, why.to_string());
                }
            }
            Phase::Stopping {
                since,
                why,
                served,
                killed,
            } => {
                if exited.is_none() && since.elapsed() > STOP_WAIT && !*killed {
                    // Reaped by a later pass: a process in uninterruptible
                    // sleep holds up nothing else.
                    let _ = s.child.kill();
                    *killed = true;
                }
                if exited.is_some() {
                    if state.is_some() && *served {
                        xs.write(&format!("{be}/state"), CLOSED.as_bytes())?;
                    }
                    say(&format!("{be}: {why}; device model stopped"));
                    done.push((be.clone(), *served));
                }
            }
        }
    }
    // The maps first, so an error below leaves nothing half done; the
    // state keys are removed best-effort (a stale one is removed again
    // before the next launch).
    for (be, served) in &done {
        if let Some(s) = b.served.remove(be) {
            let _ = xs.rm(&s.key);
        }
        if !served {
            b.refused.insert(be.clone());
        }
    }
    Ok(!done.is_empty())
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
    let xs = match connect() {
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
    let mut xs = Some(xs);
    loop {
        // A connection that failed is never used again: it may be out of
        // step with xenstored. Without one, this pass only connects.
        if xs.is_none() {
            match connect() {
                Ok(x) => xs = Some(x),
                Err(e) => say(&format!("xenstore: {e}")),
            }
        }
        if let Some(x) = xs.as_mut() {
            match pass(&o, x, &mut backends) {
                Ok(true) if o.once => {
                    say("--once: the disk served is gone");
                    return ExitCode::SUCCESS;
                }
                Ok(_) => {}
                Err(e) => {
                    // Nothing is stopped on an error: the connection is
                    // made again and the next pass sees what is.
                    say(&format!("xenstore: {e}: reconnecting"));
                    xs = connect().map_err(|e| say(&format!("xenstore: {e}"))).ok();
                }
            }
        }
        std::thread::sleep(POLL);
    }
}

/// How long a xenstore request may wait for its answer: a stuck xenstored
/// fails the pass (and the connection is made again) instead of hanging
/// every disk's state machine.
const XENSTORE_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to xenstored whose requests time out.
fn connect() -> Result<Xenstore, xenstore_client::Error> {
    let mut xs = Xenstore::open()?;
    xs.set_timeout(Some(XENSTORE_TIMEOUT))?;
    Ok(xs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn only_options_that_cannot_weaken_a_device_model_are_passed_on() {
        assert_eq!(
            passed_on(&strings(&[
                "--restrict-at-open",
                "--poll-max-us",
                "0",
                "--privcmd=/dev/x"
            ])),
            Ok(strings(&[
                "--restrict-at-open",
                "--poll-max-us",
                "0",
                "--privcmd=/dev/x"
            ]))
        );
        // The escape self-test, only where the device models have it.
        let escape = passed_on(&strings(&["--escape-test"]));
        if cfg!(feature = "escape-test") {
            assert_eq!(escape, Ok(strings(&["--escape-test"])));
        } else {
            assert!(escape.is_err_and(|e| e.contains("no escape self-test")));
        }
        for bad in [
            "--no-depriv",
            "--uid",
            "--gid",
            "-d",
            "--domid",
            "--board",
            "--state-key",
            "--virtio-slot",
            "--virtio-blk",
            "--guest-ram-kib",
        ] {
            let e = passed_on(&strings(&[bad, "1"])).unwrap_err();
            assert!(
                e.contains("cannot be passed") && !e.contains('\n'),
                "{bad}: {e}"
            );
        }
        assert!(passed_on(&strings(&["--poll-max-us"])).is_err());
    }

    #[test]
    fn confinement_is_read_from_the_process_status() {
        // This test process is not a confined device model of domain 5.
        let e = confined(std::process::id(), 5).unwrap_err();
        assert!(e.contains("uids"), "{e}");
        assert!(confined(u32::MAX, 5).is_err());
    }
}
