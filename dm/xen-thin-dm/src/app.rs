// SPDX-License-Identifier: MIT
//! The device model's program: command line, attach, deprivilege, serve.
//! `xen-thin-dm` is [`main_with`] and no extra device; a device model with
//! devices of its own is the same call with them (see
//! `examples/led_bank.rs`).
//!
//! The order matters, and is the security argument; each phase is a
//! function of its own (`open`, `attach`, `deprivilege`, `announce`,
//! `serve`), and `run` is their sequence:
//! 1. open what the loop needs (privcmd, evtchn, the UART log), as root or,
//!    with `--restrict-at-open`, already as the device model's uid;
//! 2. attach: create the ioreq server, claim the ranges, map its pages,
//!    bind the event channels, enable it (the guest is still paused);
//! 3. deprivilege, fail-closed ([`depriv`]);
//! 4. tell the toolstack (`device-model/N/state = running`): a device model
//!    that could not deprivilege never reports `running`, so `xl create`
//!    fails. With an upstream xenstored the connection is then closed; with
//!    `XS_ONE_TIME_RESTRICT` the device model keeps only its end of a
//!    socket pair to a forwarder that acts as the guest ([`forwarder`]);
//! 5. only then read the guest's requests.
//!
//! Descriptors inherited from the launcher are closed first, and the
//! deprivileging refuses to finish if any descriptor it does not know of
//! is open.

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::ExitCode;

use crate::board::Board;
use crate::cli::{self, Command, Options, Privcmd};
use crate::devices::{Budget, Capped, HostBridge, Uart16550};
#[cfg(feature = "test-platform")]
use crate::devices::{DebugExit, PciCounter, Scratch};
#[cfg(feature = "escape-test")]
use crate::escape;
use crate::forwarder::{self, Forwarder};
use crate::logger;
#[cfg(feature = "test-platform")]
use crate::testplatform;
use crate::virtio::{
    BlockBackend, VirtioBlk, VirtioConsole, VirtioDevice, VirtioMmio, VirtioPci, VirtioRng,
};
use crate::{board, depriv, Exit, Guest, Machine, Placed, Server};
#[cfg(feature = "escape-test")]
use dmop_abi::types::DomId;
use xendevicemodel::{DeviceModel, EventChannel, PRIVCMD_PATH, PRIVCMD_RESTRICT_PATH};
use xenstore_client::Xenstore;

/// The PCI slot of the counter device.
#[cfg(feature = "test-platform")]
const PCI_COUNTER_SLOT: u8 = 3;

/// A line of the device model's log. Never panics: once the guest runs,
/// the log (a file under xl, limited by `RLIMIT_FSIZE`) may be full.
fn say(msg: &str) {
    let _ = writeln!(std::io::stdout(), "xen-thin-dm: {msg}");
}

/// Closes every descriptor but stdin, stdout and stderr: nothing inherited
/// from the launcher survives into the device model. Any of the three that
/// is closed becomes `/dev/null`, so no file opened later (`--uart-log`)
/// takes a stdio number and is mistaken for, or replaced as, stdio.
fn close_inherited() {
    depriv::close_all_but(&mut []);
    loop {
        // SAFETY: opens /dev/null from a NUL-terminated literal.
        let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        if !(0..=2).contains(&fd) {
            if fd > 2 {
                // SAFETY: closes the descriptor just opened.
                unsafe { libc::close(fd) };
            }
            break;
        }
    }
}

/// A failure before the loop: one line, and a non-zero exit.
struct Fatal(String);

impl<E: std::fmt::Display> From<E> for Fatal {
    fn from(e: E) -> Self {
        Fatal(e.to_string())
    }
}

/// The whole program: parses the command line (`std::env::args`,
/// `XEN_DOMAIN_ID`), serves the guest with the standard devices plus those
/// `extra` returns, and gives the exit status. Call it last: when a logger
/// took the logs, descriptors 1 and 2 are closed on return (see
/// [`crate::logger::Logger::finish`]).
///
/// ```no_run
/// use std::process::ExitCode;
///
/// fn main() -> ExitCode {
///     xen_thin_dm::app::main_with(|_options| Vec::new())
/// }
/// ```
pub fn main_with(extra: impl FnOnce(&Options) -> Vec<Placed>) -> ExitCode {
    close_inherited();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let env = std::env::var("XEN_DOMAIN_ID").ok();
    let opts = match cli::parse(&args, env.as_deref()) {
        Ok(Command::Run(o)) => o,
        Ok(Command::Help) => {
            println!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("xen-thin-dm {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("xen-thin-dm: {e}");
            return ExitCode::from(2);
        }
    };
    let mut logger = None;
    let code = match run(&opts, extra(&opts), &mut logger) {
        Ok(code) => code,
        Err(Fatal(e)) => {
            // Not eprintln!: a logger killed from outside makes this EPIPE,
            // and the exit status must stay the device model's own.
            let _ = writeln!(std::io::stderr(), "xen-thin-dm: error: {e}");
            ExitCode::FAILURE
        }
    };
    if let Some(l) = logger {
        l.finish();
    }
    code
}

fn privcmd_path(o: &Options) -> String {
    match &o.privcmd {
        Privcmd::Path(p) => p.clone(),
        Privcmd::Auto if std::path::Path::new(PRIVCMD_RESTRICT_PATH).exists() => {
            PRIVCMD_RESTRICT_PATH.into()
        }
        Privcmd::Auto => PRIVCMD_PATH.into(),
    }
}

/// Another guest for the escape test: the first domain in xenstore that is
/// neither dom0 nor ours.
#[cfg(feature = "escape-test")]
fn other_guest(xs: Option<&mut Xenstore>, ours: DomId) -> Option<DomId> {
    let mut ids: Vec<u16> = xs?
        .directory("/local/domain")
        .ok()?
        .iter()
        .filter_map(|d| d.parse().ok())
        .collect();
    ids.sort_unstable();
    ids.into_iter().find(|&d| d != 0 && d != ours.0).map(DomId)
}

/// Blocks the termination signals and returns a signalfd for them: the loop
/// polls it with the event channels, so a signal never interrupts a request.
fn signal_fd() -> Result<OwnedFd, Fatal> {
    // SAFETY: a zeroed sigset is a valid argument to sigemptyset.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid sigset for these calls.
    unsafe {
        libc::sigemptyset(&mut set);
        for s in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            libc::sigaddset(&mut set, s);
        }
        if libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) < 0 {
            return Err(Fatal(format!(
                "sigprocmask: {}",
                std::io::Error::last_os_error()
            )));
        }
    }
    // SAFETY: a valid sigset; a new descriptor is returned.
    let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC) };
    if fd < 0 {
        return Err(Fatal(format!(
            "signalfd: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: just created, owned here.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// With `--restrict-at-open` as root: bind the device model's uid to the
/// guest on the privcmd-restrict node, then become that uid before opening
/// anything else, so that no unrestricted privcmd descriptor is ever held
/// past this point.
fn become_bound_uid(o: &Options, node: &str) -> Result<(), Fatal> {
    if o.depriv {
        // The chroot directory is root's to make.
        depriv::prepare_empty_root().map_err(|e| {
            Fatal(format!(
                "deprivilege step \"empty root directory\" failed: {e}"
            ))
        })?;
    }
    let admin = DeviceModel::open_path(node).map_err(|e| {
        Fatal(format!(
            "restrict-at-open needs the privcmd-restrict node: {e}"
        ))
    })?;
    admin.bind_uid(o.uid, o.domid).map_err(|e| {
        Fatal(format!(
            "restrict-at-open: binding uid {} to domain {}: {e}",
            o.uid, o.domid.0
        ))
    })?;
    drop(admin);
    // SAFETY: plain credential calls.
    let r = unsafe {
        if libc::setgroups(0, std::ptr::null()) < 0 || libc::setresgid(o.gid, o.gid, o.gid) < 0 {
            -1
        } else {
            libc::setresuid(o.uid, o.uid, o.uid)
        }
    };
    if r < 0 {
        return Err(Fatal(format!(
            "restrict-at-open: becoming uid {}: {}",
            o.uid,
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

/// Where the guest's console output goes: the logger's pipe for
/// `--uart-log` (`logged`), or `--uart-log` opened now when there is no
/// logger (each console device its own descriptor, appending), or stdout;
/// bounded by `--max-file-size`, one budget for all of them. Also the
/// descriptor, to declare it.
fn console_out(
    o: &Options,
    budget: &Budget,
    logged: Option<&std::fs::File>,
) -> Result<(Box<dyn std::io::Write + Send>, Option<i32>), Fatal> {
    let f = match (logged, &o.uart_log) {
        (Some(pipe), _) => pipe
            .try_clone()
            .map_err(|e| Fatal(format!("the logger's pipe: {e}")))?,
        (None, Some(p)) => std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .map_err(|e| Fatal(format!("--uart-log {}: {e}", p.display())))?,
        (None, None) => return Ok((Box::new(Capped::sharing(std::io::stdout(), budget)), None)),
    };
    let fd = f.as_raw_fd();
    Ok((Box::new(Capped::sharing(f, budget)), Some(fd)))
}

/// The machine, its disks and PCI links.
fn machine(
    o: &Options,
    extra: Vec<Placed>,
    logged: Option<&std::fs::File>,
) -> Result<Built, Fatal> {
    let mut disk_fds = Vec::new();
    let mut file_disks_max = 0;
    let budget = Budget::new(o.max_file_size);
    let arm = o.board == Board::Arm;
    // An Arm guest has no ports and no PCI here: only its virtio disks.
    let mut devices: Vec<Placed> = Vec::new();
    if !arm {
        let (out, fd) = console_out(o, &budget, logged)?;
        let uart = match fd {
            Some(fd) => Uart16550::com1(out).holding_fd(fd),
            None => Uart16550::com1(out),
        };
        devices.push(Placed::at(uart, &[board::COM1]));
    }
    #[cfg(feature = "test-platform")]
    if !arm {
        devices.push(Placed::at(
            DebugExit::new(),
            &[testplatform::DEBUG_EXIT_PORT],
        ));
        devices.push(Placed::at(
            Scratch::default(),
            &[testplatform::SCRATCH_PORT, testplatform::SCRATCH_MMIO],
        ));
        // The PCI counter sits on the PCI link of the fourth virtio-pci
        // slot (slot 3 and slot 7 both use link 3): on an edge-triggered
        // line one device holding it up would hide the other's edges, so
        // with the virtio devices on PCI the counter is left out.
        if !o.virtio_pci {
            devices.push(Placed::pci(PciCounter::new(PCI_COUNTER_SLOT)));
        }
        say("test platform (cargo feature test-platform): debug-exit port, scratch registers, PCI counter");
    }
    // The virtio devices take the board's slots in order: disks, console, rng.
    let mut place = Placer {
        arm,
        pci: o.virtio_pci,
        n: o.first_slot,
        devices,
        cmdline: Vec::new(),
        links: Vec::new(),
    };
    for d in &o.disks {
        let disk = BlockBackend::open(&d.path, d.read_only)?;
        disk_fds.push(depriv::DiskBound {
            fd: disk.as_raw_fd(),
            len: disk.len(),
            writable: !disk.read_only(),
        });
        if disk.is_regular_file() {
            file_disks_max = file_disks_max.max(disk.len());
        }
        let what = format!(
            "virtio-blk {} ({} MiB, {})",
            d.path.display(),
            disk.len() >> 20,
            if d.read_only {
                "read-only"
            } else {
                "read-write"
            },
        );
        place.place(VirtioBlk::new(disk), &what)?;
    }
    if o.virtio_console {
        let (out, fd) = console_out(o, &budget, logged)?;
        place.place(VirtioConsole::new(out, fd), "virtio-console")?;
    }
    if o.virtio_rng {
        let source = std::fs::File::open("/dev/urandom")
            .map_err(|e| Fatal(format!("virtio-rng: /dev/urandom: {e}")))?;
        place.place(VirtioRng::new(source), "virtio-rng (/dev/urandom)")?;
    }
    if !place.cmdline.is_empty() {
        say(&format!(
            "the guest finds its virtio devices with the kernel command line `{}`",
            place.cmdline.join(" ")
        ));
    }
    let mut devices = place.devices;
    if place.pci && place.n > 0 {
        devices.push(Placed::at(
            HostBridge::new(board::HOST_BRIDGE_SLOT),
            &[board::PCI_CONFIG_ADDRESS],
        ));
    }
    devices.extend(extra);
    Ok(Built {
        machine: Machine::new(devices)?,
        disks: disk_fds,
        file_disks_max,
        links: place.links,
    })
}

/// What [`machine`] built.
struct Built {
    machine: Machine,
    /// The disks, as the seccomp filter bounds them.
    disks: Vec<depriv::DiskBound>,
    /// The largest disk that is a regular file, in bytes (0 if none).
    file_disks_max: u64,
    /// PCI INTx links to route, and the ISA IRQ of each.
    links: Vec<(u8, u8)>,
}

/// Puts virtio devices on the board's next slot, of one transport.
struct Placer {
    /// Arm's board: libxl's virtio-mmio slots, on GIC SPIs.
    arm: bool,
    pci: bool,
    n: usize,
    devices: Vec<Placed>,
    /// virtio-mmio: what the guest's command line needs.
    cmdline: Vec<String>,
    /// virtio-pci: the INTx links used, with their IRQs.
    links: Vec<(u8, u8)>,
}

impl Placer {
    fn place<D: VirtioDevice + 'static>(&mut self, dev: D, what: &str) -> Result<(), Fatal> {
        let n = self.n;
        self.n += 1;
        let full = || Fatal("more virtio devices than the board has slots".into());
        if self.arm {
            let (base, spi) = board::arm_virtio_mmio_slot(n).ok_or_else(full)?;
            say(&format!(
                "{what} on virtio-mmio at {base:#x}, GIC SPI {spi} (libxl's slot {n}, in the guest's device tree)"
            ));
            self.devices
                .push(Placed::at(VirtioMmio::on_gic(dev, spi), &[base]));
        } else if self.pci {
            let (slot, link, irq) = board::virtio_pci_slot(n).ok_or_else(full)?;
            say(&format!(
                "{what} on virtio-pci at 00:{slot:02x}.0, INTA on PCI link {link}, ISA IRQ {irq}"
            ));
            if !self.links.contains(&(link, irq)) {
                self.links.push((link, irq));
            }
            self.devices
                .push(Placed::pci(VirtioPci::new(dev, slot, irq)));
        } else {
            let (base, irq) = board::virtio_mmio_slot(n).ok_or_else(full)?;
            let t = VirtioMmio::new(dev, irq);
            say(&format!("{what} on virtio-mmio at {base:#x}, IRQ {irq}"));
            self.cmdline.extend(t.cmdline(base));
            self.devices.push(Placed::at(t, &[base]));
        }
        Ok(())
    }
}

/// What the open phase holds for the later ones.
struct Opened {
    /// The privcmd node's path.
    node: String,
    /// Whether the process started as root (and so forked the logger and
    /// the forwarder as root).
    started_as_root: bool,
    /// The xenstore connection, while the device model still has it.
    xs: Option<Xenstore>,
    /// The forwarder's client, when xenstore is kept through it.
    kept: Option<Forwarder>,
    /// The node that says `running`.
    state_key: String,
    /// The devices, until attach takes them.
    machine: Option<Machine>,
    /// The disks, as the seccomp filter bounds them.
    disks: Vec<depriv::DiskBound>,
    /// The largest file any write may reach (RLIMIT_FSIZE).
    file_size_limit: u64,
    /// PCI INTx links to route, and the ISA IRQ of each.
    links: Vec<(u8, u8)>,
    /// The termination signals, for the loop to poll.
    signals: OwnedFd,
    dm: DeviceModel,
    ev: EventChannel,
    /// The escape self-test's targets and its first round's results.
    #[cfg(feature = "escape-test")]
    escape: Option<EscapeTest>,
}

/// The escape self-test (cargo feature `escape-test`, `--escape-test`): what
/// it aims at, and what its attempts before the seccomp filter gave.
#[cfg(feature = "escape-test")]
struct EscapeTest {
    other: DomId,
    other_pid: Option<u32>,
    disks: Vec<std::path::PathBuf>,
    largest_disk: Option<(i32, u64)>,
    before_seccomp: Vec<escape::Attempt>,
}

#[cfg(feature = "escape-test")]
impl EscapeTest {
    fn attempts(&self, o: &Options, op: &mut Opened) -> Vec<escape::Attempt> {
        escape::attempts(
            &op.dm,
            &op.ev,
            self.other,
            self.other_pid,
            op.kept.as_mut(),
            &self.disks,
            self.largest_disk,
            o.max_file_size,
        )
    }
}

/// The program after its command line, in the five phases the module's
/// top doc gives (the security argument is their order). The ioreq server
/// is destroyed when [`Server`] drops, so a failed phase after attach
/// leaves no server behind.
fn run(
    o: &Options,
    extra: Vec<Placed>,
    logger: &mut Option<logger::Logger>,
) -> Result<ExitCode, Fatal> {
    introduce(o);
    let mut op = open(o, extra, logger)?;
    let mut server = attach(o, &mut op)?;
    deprivilege(o, &mut op, &server, logger.as_ref())?;
    announce(o, &mut op)?;
    #[cfg(feature = "escape-test")]
    if let Some(t) = op.escape.take() {
        let after = t.attempts(o, &mut op);
        if !escape::report(t.other, &t.before_seccomp, &after) {
            return Err(Fatal("an escape attempt succeeded: stopping".into()));
        }
    }
    Ok(serve(o, &mut server, &op.signals))
}

/// The first lines of the log: which guest, and every warning the
/// command line deserves.
fn introduce(o: &Options) {
    say(&format!(
        "device model for domain {} (pid {})",
        o.domid.0,
        std::process::id()
    ));
    if !o.ignored.is_empty() {
        say(&format!(
            "warning: ignoring QEMU options it does not implement: {}",
            o.ignored.join(" ")
        ));
    }
    if !o.depriv {
        for _ in 0..3 {
            say("WARNING: --no-depriv: running with full dom0 privileges. A guest that takes over this process owns the host. Debugging only.");
        }
    }
}

/// Phase 1, open: the logs leave for a logger process, xenstore is opened
/// (and kept through a forwarder where xenstored can restrict it), the
/// devices are built with their files, and the privcmd and event channel
/// nodes are opened (with `--restrict-at-open`, already confined).
fn open(
    o: &Options,
    extra: Vec<Placed>,
    logger: &mut Option<logger::Logger>,
) -> Result<Opened, Fatal> {
    let dom = o.domid;
    let node = privcmd_path(o);
    // SAFETY: geteuid cannot fail.
    let started_as_root = unsafe { libc::geteuid() } == 0;

    // The log files leave the device model: a logger process holds them,
    // bounded by --max-file-size whatever the disks need. Its stdin is
    // /dev/null: it never reads it, and no file (one opened for writing
    // included) is reachable through it.
    if o.depriv {
        let null =
            std::fs::File::open("/dev/null").map_err(|e| Fatal(format!("/dev/null: {e}")))?;
        // SAFETY: dup2 onto the process's own stdin number (0, 1 and 2 are
        // open since `close_inherited`, so `null` is not 0 itself).
        if unsafe { libc::dup2(null.as_raw_fd(), 0) } < 0 {
            return Err(Fatal(format!(
                "dup2 of /dev/null onto stdin: {}",
                std::io::Error::last_os_error()
            )));
        }
        *logger = logger::spawn(
            o.uart_log.as_deref(),
            o.max_file_size,
            dom,
            o.uid,
            o.gid,
            // Forked while root (if started so): it drops to the device
            // model's uid at once, restrict-at-open or not.
            started_as_root,
        )
        .map_err(|e| Fatal(format!("logger: {e}")))?;
        if let Some(l) = logger.as_ref() {
            say(&format!(
                "logs: held by a logger process (pid {}), limited to {} bytes: {}",
                l.pid,
                o.max_file_size,
                l.took.join("; ")
            ));
        }
    }

    // xenstore first, while still root.
    let mut xs = match Xenstore::open() {
        Ok(x) => Some(x),
        Err(e) => {
            say(&format!(
                "warning: no xenstore ({e}): the toolstack will not see this device model start"
            ));
            None
        }
    };
    #[cfg(feature = "escape-test")]
    let escape_targets = o.escape_test.then(|| {
        let other = o.escape_other.or_else(|| other_guest(xs.as_mut(), dom));
        let other_pid = other.and_then(|d| {
            let pid = xs
                .as_mut()?
                .read(&format!("/local/domain/{}/image/device-model-pid", d.0))
                .ok()?;
            String::from_utf8_lossy(&pid).trim().parse().ok()
        });
        (other.unwrap_or(DomId(dom.0 + 1)), other_pid)
    });
    // With a xenstored that has XS_ONE_TIME_RESTRICT (xen-patches), the
    // device model keeps xenstore access with its guest's permissions,
    // through a forwarder process forked now, before any Xen descriptor
    // is opened; otherwise the connection is closed once `running` is said.
    let state_key = o
        .state_key
        .clone()
        .unwrap_or_else(|| format!("/local/domain/0/device-model/{}/state", dom.0));
    let mut kept: Option<Forwarder> = None;
    if o.depriv {
        if let Some(x) = xs.as_mut() {
            match x.supports_one_time_restrict(dom) {
                Ok(true) => {
                    // The state node is the guest's to write (and so the
                    // device model's, acting as the guest); dom0 owns it.
                    let guest_rw = format!("b{}", dom.0);
                    x.mkdir(&state_key)
                        .and_then(|()| x.set_perms(&state_key, &["n0", &guest_rw]))
                        .map_err(|e| Fatal(format!("xenstore: preparing {state_key} for the guest: {e}")))?;
                    let upstream = xs.take().expect("checked above");
                    let f = forwarder::spawn(upstream, dom, o.uid, o.gid).map_err(|e| Fatal(format!("xenstore forwarder: {e}")))?;
                    say(&format!(
                        "xenstore: kept with domain {}'s permissions, through a forwarder (pid {}) that sends every request as XS_ONE_TIME_RESTRICT",
                        dom.0, f.pid
                    ));
                    kept = Some(f);
                }
                Ok(false) => say("xenstore: this xenstored has no XS_ONE_TIME_RESTRICT: the connection is closed once `running` is written"),
                Err(e) => say(&format!("warning: xenstore: {e}")),
            }
        }
    }
    let Built {
        machine,
        disks,
        file_disks_max,
        links,
    } = self::machine(o, extra, logger.as_ref().and_then(|l| l.uart.as_ref()))?;
    // Each console holds its own copy of the logger's pipe now.
    if let Some(l) = logger.as_mut() {
        l.uart = None;
    }
    // RLIMIT_FSIZE: --max-file-size, raised to the largest disk that is a
    // regular file (the limit applies to its writes too; the seccomp
    // filter keeps each disk's writes within it, so the limit is for the
    // other files, the logs). The escape table writes past the largest
    // disk's end and past the limit.
    let file_size_limit = o.max_file_size.max(file_disks_max);
    #[cfg(feature = "escape-test")]
    let escape = escape_targets.map(|(other, other_pid)| EscapeTest {
        other,
        other_pid,
        disks: o.disks.iter().map(|d| d.path.clone()).collect(),
        largest_disk: disks
            .iter()
            .max_by_key(|d| d.len)
            .map(|d| (d.fd, d.len.max(file_size_limit))),
        before_seccomp: Vec::new(),
    });
    let signals = signal_fd()?;
    let (dm, ev) = if o.restrict_at_open {
        // The event channel node is root's: open it now and confine it at once.
        let ev = EventChannel::open()
            .map_err(|e| Fatal(format!("{}: {e}", xendevicemodel::EVTCHN_PATH)))?;
        ev.restrict(dom)?;
        if started_as_root {
            become_bound_uid(o, &node)?;
        }
        let dm = DeviceModel::open_bound(&node, dom).map_err(|e| {
            Fatal(format!(
                "restrict-at-open: {node} did not give a descriptor confined to domain {}: {e}",
                dom.0
            ))
        })?;
        say(&format!(
            "restrict-at-open: {node} opened as uid {}, confined to domain {} from the start",
            o.uid, dom.0
        ));
        (dm, ev)
    } else {
        let dm = DeviceModel::open_path(&node).map_err(|e| Fatal(format!("{node}: {e}")))?;
        let ev = EventChannel::open()
            .map_err(|e| Fatal(format!("{}: {e}", xendevicemodel::EVTCHN_PATH)))?;
        (dm, ev)
    };
    say(&format!("privcmd node {node}"));
    Ok(Opened {
        node,
        started_as_root,
        xs,
        kept,
        state_key,
        machine: Some(machine),
        disks,
        file_size_limit,
        links,
        signals,
        dm,
        ev,
        #[cfg(feature = "escape-test")]
        escape,
    })
}

/// Phase 2, attach: the ioreq server is created, claims the devices'
/// ranges, maps its pages and binds its event channels (the guest is still
/// paused); PCI links are routed, and virtio notifies get ioeventfds where
/// the node allows.
fn attach(o: &Options, op: &mut Opened) -> Result<Server, Fatal> {
    let dom = o.domid;
    let guest = match o.board {
        Board::X86 => Guest::X86Hvm,
        Board::Arm => Guest::Arm {
            ram: board::arm_ram_frames(o.guest_ram_kib.unwrap_or(0) << 10),
        },
    };
    let machine = op.machine.take().expect("attach runs once");
    let mut server = Server::attach_to(
        op.dm.clone(),
        op.ev.clone(),
        dom,
        machine,
        o.verbose,
        &guest,
    )?;
    say(&format!(
        "ioreq server {} attached to domain {}",
        server.id().0,
        dom.0
    ));
    // virtio-pci without firmware that routes the PCI links (hvmloader
    // does): route the ones its INTA lines use.
    for &(link, irq) in &op.links {
        op.dm
            .set_pci_link_route(dom, link, irq)
            .map_err(|e| Fatal(format!("routing PCI link {link} to IRQ {irq}: {e}")))?;
        say(&format!("PCI link {link} routed to ISA IRQ {irq}"));
    }
    if !server.machine_doorbells().is_empty() {
        let node = &op.node;
        if !o.ioeventfd {
            say("virtio notifies: through the ioreq loop (--no-ioeventfd)");
        } else if !op.dm.is_privcmd_restrict() {
            // Linux's own IOCTL_PRIVCMD_IOEVENTFD oopses a PV dom0 and
            // keeps what this process could not deassign once confined.
            say(&format!(
                "virtio notifies: through the ioreq loop ({node} is not privcmd-restrict, the only node whose ioeventfds this device model uses)"
            ));
        } else {
            match server.attach_doorbells() {
                Ok(n) => say(&format!(
                    "virtio notifies: {n} ioeventfds on {node}: the kernel completes the guest's queue notify and the loop serves the queue"
                )),
                Err(e) => say(&format!(
                    "virtio notifies: through the ioreq loop (ioeventfds refused: {e})"
                )),
            }
        }
    }
    Ok(server)
}

/// Phase 3, deprivilege (fail-closed, see [`depriv`]). The xenstore
/// connection stays open across it, unused until [`announce`]: the guest
/// is paused until then, so no request has been read.
fn deprivilege(
    o: &Options,
    op: &mut Opened,
    server: &Server,
    logger: Option<&logger::Logger>,
) -> Result<(), Fatal> {
    if !o.depriv {
        return Ok(());
    }
    let plan = depriv::Plan {
        domid: o.domid,
        uid: o.uid,
        gid: o.gid,
        as_root: op.started_as_root && !o.restrict_at_open,
        // RLIMIT_FSIZE bounds every file, the disks included: with a disk
        // it is the largest disk's size (no write goes beyond its end), and
        // the guest's output is bounded by `Capped`.
        max_file_size: op.file_size_limit,
        profile: if o.disks.is_empty() {
            depriv::Profile::DeviceModel
        } else {
            depriv::Profile::DeviceModelWithDisk
        },
        known_fds: [
            Some(op.signals.as_raw_fd()),
            op.kept.as_ref().map(|f| f.client.as_raw_fd()),
            op.xs.as_ref().map(Xenstore::as_raw_fd),
            logger.map(logger::Logger::done_fd),
        ]
        .into_iter()
        .flatten()
        .chain(server.device_fds())
        .chain(server.doorbell_fds())
        .collect(),
        disks: op.disks.clone(),
    };
    #[cfg(feature = "escape-test")]
    let mut escape = op.escape.take();
    let done = depriv::apply_with(&plan, &mut || {
        #[cfg(feature = "escape-test")]
        if let Some(t) = escape.as_mut() {
            t.before_seccomp = t.attempts(o, op);
        }
    });
    #[cfg(feature = "escape-test")]
    {
        op.escape = escape;
    }
    let steps = done.map_err(|f| Fatal(f.to_string()))?;
    say("deprivileged:");
    for s in steps {
        say(&format!("  {s}"));
    }
    Ok(())
}

/// Phase 4, announce: tell the toolstack, only now (a device model that
/// failed to deprivilege never reports `running`), then let go of xenstore
/// unless the forwarder keeps it with the guest's permissions.
fn announce(o: &Options, op: &mut Opened) -> Result<(), Fatal> {
    let key = &op.state_key;
    if let Some(f) = op.kept.as_mut() {
        f.client.write(key, b"running").map_err(|e| {
            Fatal(format!(
                "xenstore: writing {key} as domain {}: {e}",
                o.domid.0
            ))
        })?;
        say(&format!(
            "xenstore: {key} = running, written as domain {} (XS_ONE_TIME_RESTRICT)",
            o.domid.0
        ));
    } else if let Some(mut x) = op.xs.take() {
        if let Err(e) = x.write(key, b"running") {
            say(&format!("warning: {key}: {e}"));
        }
    }
    Ok(())
}

/// Phase 5, serve: the guest's requests until it stops or a signal comes,
/// then what was served, and the ioreq server destroyed.
fn serve(o: &Options, server: &mut Server, signals: &OwnedFd) -> ExitCode {
    server.set_poll_max(std::time::Duration::from_micros(o.poll_max_us));
    say("serving");
    let exit = server.run(signals);
    let counts = server.summary();
    let detached = server.detach();
    match exit {
        Ok(Exit::GuestShutdown(reason, code)) => {
            say(&format!(
                "the guest asked to stop with code {code}: domain shut down ({reason:?})"
            ));
        }
        Ok(Exit::Signal(s)) => say(&format!("signal {s}: stopping")),
        Err(e) => {
            say(&format!("error: {e}"));
            return ExitCode::FAILURE;
        }
    }
    say(&format!("requests served: {counts}"));
    if server.time_offset() != 0 {
        say(&format!(
            "the guest's clock is {} s off dom0's (its RTC, as Xen reported it)",
            server.time_offset()
        ));
    }
    match detached {
        Ok(()) => say("ioreq server destroyed"),
        Err(e) => say(&format!(
            "ioreq server not destroyed ({e}): the domain is gone"
        )),
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Started with stdin and stderr closed, the next file it opens
    /// (`--uart-log`) must not take their numbers.
    #[test]
    fn closed_stdio_numbers_become_dev_null() {
        // SAFETY: the child makes only system calls (no allocation, no
        // lock) and leaves with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            // SAFETY: closes this child's own stdin and stderr.
            unsafe {
                libc::close(0);
                libc::close(2);
            }
            close_inherited();
            // SAFETY: opens /dev/null from a NUL-terminated literal; F_GETFD
            // has no memory arguments.
            let ok = unsafe {
                let f = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
                f > 2 && libc::fcntl(0, libc::F_GETFD) >= 0 && libc::fcntl(2, libc::F_GETFD) >= 0
            };
            // SAFETY: leaves the child without the test harness's handlers.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: reaps our own child; `status` lives for the call.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "a file opened after close_inherited took a stdio number (status {status:#x})"
        );
    }
}
