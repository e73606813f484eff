// SPDX-License-Identifier: MIT
//! The ioreq server: attaches to a guest, then answers its requests.
//!
//! [`Machine`] routes accesses to devices (no Xen involved, so it is unit
//! tested); [`Server`] is the Xen side: it creates an ioreq server, claims
//! the devices' ranges, maps the ioreq pages (MMAP_RESOURCE), binds the
//! per-vCPU and buffered event channels, enables the server, and runs the
//! request loop. Every request is taken once from `READY` and answered once
//! (`xendevicemodel::IoreqSlot`).
//!
//! Three parts: the machine (`machine.rs`), the map cache for requests
//! whose data is a guest address (`map_cache.rs`), and the server and its
//! loop (here).

use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use dmop_abi::dmop::{BufioreqMode, IoRangeType, ShutdownReason};
use dmop_abi::ioreq::{Ioreq, IoreqDir, IoreqType};
use dmop_abi::types::{DomId, EvtchnPort, IoservId};
use xendevicemodel::{
    BoundPort, BufferedRequest, DeviceModel, EventChannel, Ioeventfd, IoeventfdMatch, IoreqPages,
    IoreqServer,
};

use crate::device::{all_ones, Action};
use crate::guest_ram::GuestRam;

/// A failure to attach or serve.
#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<xendevicemodel::Error> for Error {
    fn from(e: xendevicemodel::Error) -> Self {
        Error(e.to_string())
    }
}

mod machine;
mod map_cache;

pub use machine::{BarChange, Machine, Placed};
use map_cache::MapCache;

/// A line on stderr that never panics (the log may be full: it is a file
/// limited by `RLIMIT_FSIZE`, and a panic mid-request would leave the
/// vCPU waiting for good).
pub(crate) fn log(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "xen-thin-dm: {msg}");
}

/// Why the loop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The guest asked to be shut down (through a device), with this code.
    GuestShutdown(ShutdownReason, u32),
    /// A signal.
    Signal(i32),
}

/// A `ppoll` timeout that does not wait.
static NO_WAIT: libc::timespec = libc::timespec {
    tv_sec: 0,
    tv_nsec: 0,
};

/// `pollfd`s waiting for input on `fds`.
fn pollfds(fds: impl IntoIterator<Item = std::os::fd::RawFd>) -> Vec<libc::pollfd> {
    fds.into_iter()
        .map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect()
}

/// How long the loop may go without looking at its signals and doorbells
/// while the guest keeps it busy.
const LOOK_EVERY: Duration = Duration::from_millis(10);

/// The first polling window, once sleeping proved too slow.
const POLL_GROW_START: Duration = Duration::from_micros(4);

/// The next polling window, after a sleep of `slept`: a request that came
/// within `max` of going to sleep would have been caught by polling that
/// long, so the window grows (doubling, up to `max`); a longer sleep means
/// polling would have been wasted, so it stops.
pub fn adapt(window: Duration, slept: Duration, max: Duration) -> Duration {
    if max.is_zero() || slept > max {
        Duration::ZERO
    } else if slept <= window {
        window
    } else if window.is_zero() {
        POLL_GROW_START.min(max)
    } else {
        (window * 2).min(max)
    }
}

/// The kind of guest a server attaches to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Guest {
    /// An x86 HVM guest: buffered ioreqs, and RAM as the HVM info table
    /// the domain builder wrote says.
    X86Hvm,
    /// A guest on Arm: no buffered ioreqs (Xen on Arm has none), and RAM
    /// at these frames ([`crate::board::arm_ram_frames`]).
    Arm {
        /// The RAM's frames.
        ram: Vec<std::ops::Range<u64>>,
    },
}

/// An attached ioreq server.
pub struct Server {
    /// The guest, bound: every DMOP the loop makes is on it alone.
    guest: xendevicemodel::Guest,
    ev: EventChannel,
    id: IoservId,
    /// The ioreq server and its mapped pages, until [`Server::detach`].
    server: Option<IoreqServer>,
    /// Each vCPU's port, then the buffered ring's. Dropping one unbinds
    /// it while the device model may still do so; once deprivileged the
    /// seccomp filter refuses the unbind (it is no call the loop needs),
    /// and the ports go when the event channel descriptor closes.
    vcpu_ports: Vec<BoundPort>,
    buf_port: Option<BoundPort>,
    machine: Machine,
    maps: MapCache,
    verbose: bool,
    /// Requests answered, by type.
    pub counts: HashMap<&'static str, u64>,
    stop: Option<Exit>,
    poll_max: Duration,
    time_offset: i64,
    /// Doorbells the kernel answers: the ioeventfd, device, index.
    kicks: Vec<(Ioeventfd, usize, usize)>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("domid", &self.guest.domid())
            .field("id", &self.id)
            .field("machine", &self.machine)
            .finish()
    }
}

fn range_type(ports: bool) -> IoRangeType {
    if ports {
        IoRangeType::PORT
    } else {
        IoRangeType::MEMORY
    }
}

impl Server {
    /// Creates the ioreq server on `domid`, claims the machine's ranges,
    /// maps the pages, binds the event channels and enables it.
    pub fn attach(
        dm: DeviceModel,
        ev: EventChannel,
        domid: DomId,
        machine: Machine,
        verbose: bool,
    ) -> Result<Self, Error> {
        Self::attach_to(dm, ev, domid, machine, verbose, &Guest::X86Hvm)
    }

    /// [`attach`](Self::attach) to a guest of the kind `guest` says: on
    /// Arm, Xen has no buffered ioreqs, and the RAM's frames are the
    /// board's layout for the guest's size.
    pub fn attach_to(
        dm: DeviceModel,
        ev: EventChannel,
        domid: DomId,
        mut machine: Machine,
        verbose: bool,
        guest: &Guest,
    ) -> Result<Self, Error> {
        let vcpus = dm.nr_vcpus(domid)?;
        if machine.needs_guest_memory() {
            // Before the server exists: the guest is paused, and its
            // memory map is still the one the domain builder wrote.
            let ram = match guest {
                Guest::X86Hvm => GuestRam::map(&dm, domid),
                Guest::Arm { ram } => GuestRam::map_frames(&dm, domid, ram.clone()),
            }
            .map_err(Error)?;
            let (mapped, missing) = ram.frames();
            log(&format!(
                "guest RAM: {} MiB mapped for the virtio devices{}",
                mapped >> 8,
                if missing > 0 {
                    format!(" ({missing} frames of its layout did not map and are left out)")
                } else {
                    String::new()
                }
            ));
            machine.set_guest_ram(ram);
        }
        let buffered = matches!(guest, Guest::X86Hvm);
        let mode = if buffered {
            BufioreqMode::ATOMIC
        } else {
            BufioreqMode::OFF
        };
        // The server is destroyed (its pages unmapped first) if anything
        // below fails: it is dropped with the error.
        let bound = xendevicemodel::Guest::new(dm, domid)?;
        let server = bound.create_ioreq_server(mode)?;
        let id = server.id();
        for r in machine.port_ranges() {
            server.map_io_range(range_type(true), *r.start(), *r.end())?;
        }
        for r in machine.mmio_ranges() {
            server.map_io_range(range_type(false), *r.start(), *r.end())?;
        }
        for slot in machine.pci_slots() {
            server.map_pcidev(0, 0, slot, 0)?;
        }
        server.set_enabled(true)?;
        let mut vcpu_ports = Vec::new();
        for v in 0..vcpus {
            let remote = server.pages().slot(v).expect("within nr_vcpus").vp_eport();
            vcpu_ports.push(ev.bind(domid, remote)?);
        }
        let buf_port = if buffered {
            Some(ev.bind(domid, server.info()?.bufioreq_port)?)
        } else {
            None
        };
        ev.set_nonblocking(true)?;
        Ok(Self {
            guest: bound,
            ev,
            id,
            server: Some(server),
            vcpu_ports,
            buf_port,
            machine,
            maps: MapCache {
                pages: HashMap::new(),
            },
            verbose,
            counts: HashMap::new(),
            stop: None,
            poll_max: Duration::ZERO,
            time_offset: 0,
            kicks: Vec::new(),
        })
    }

    /// The ioreq pages, until [`Server::detach`].
    fn pages(&self) -> Option<&IoreqPages> {
        self.server.as_ref().map(IoreqServer::pages)
    }

    /// Lets the kernel answer the devices' doorbells ([`crate::Device::doorbells`])
    /// through ioeventfds, so that a guest's queue notify completes at once
    /// and the device hears of it from the loop. All or none: on an error
    /// (`ENOTTY` from a node without `IOCTL_PRIVCMD_IOEVENTFD`) none is
    /// kept and every doorbell stays an ordinary access. Returns how many
    /// there are.
    pub fn attach_doorbells(&mut self) -> Result<usize, xendevicemodel::Error> {
        let mut kicks = Vec::new();
        let ports: Vec<EvtchnPort> = self.vcpu_ports.iter().map(BoundPort::port).collect();
        for (device, index, rule) in self.machine.doorbells() {
            let Some(pages) = self.pages() else {
                return Err(xendevicemodel::Error::new("ioeventfd", libc::ENODEV));
            };
            let fd = self.guest.device_model().ioeventfd(pages, &ports, rule)?;
            kicks.push((fd, device, index));
        }
        self.kicks = kicks;
        Ok(self.kicks.len())
    }

    /// The doorbells the machine's devices have ([`Machine::doorbells`]).
    pub fn machine_doorbells(&self) -> Vec<(usize, usize, IoeventfdMatch)> {
        self.machine.doorbells()
    }

    /// The ioeventfds' descriptors.
    pub fn doorbell_fds(&self) -> Vec<std::os::fd::RawFd> {
        use std::os::fd::AsFd;
        self.kicks
            .iter()
            .map(|(fd, _, _)| fd.as_fd().as_raw_fd())
            .collect()
    }

    /// Serves the doorbells that rang; how many did.
    fn ring_doorbells(&mut self) -> usize {
        let mut rang = 0;
        for k in 0..self.kicks.len() {
            let (fd, device, index) = &self.kicks[k];
            if matches!(fd.take(), Ok(n) if n > 0) {
                let (device, index) = (*device, *index);
                self.machine.ring(device, index);
                self.carry_out();
                rang += 1;
            }
        }
        rang
    }

    /// Serves the doorbells that rang, without waiting: one `ppoll` over
    /// their descriptors, then a read of each that is readable.
    fn poll_doorbells(&mut self) -> usize {
        if self.kicks.is_empty() {
            return 0;
        }
        let mut fds = pollfds(self.doorbell_fds());
        // SAFETY: `fds` is a valid array of its length; a zero timeout.
        let r = unsafe {
            libc::ppoll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                &NO_WAIT,
                std::ptr::null(),
            )
        };
        if r > 0 {
            self.ring_doorbells()
        } else {
            0
        }
    }

    /// The ioreq server's id.
    pub fn id(&self) -> IoservId {
        self.id
    }

    /// Destroys the ioreq server (once; later calls do nothing): the
    /// kernel's doorbells go first, then the pages are unmapped and the
    /// server destroyed. Also done when the server is dropped. Serving
    /// after it answers nothing.
    pub fn detach(&mut self) -> Result<(), Error> {
        self.kicks.clear();
        drop(self.server.take());
        Ok(())
    }

    /// The requests answered so far, by kind (`pio 12, mmio 3, ...`).
    pub fn summary(&self) -> String {
        let mut v: Vec<(&&str, &u64)> = self.counts.iter().collect();
        v.sort();
        if v.is_empty() {
            return "none".into();
        }
        v.iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn carry_out(&mut self) {
        for a in self.machine.take_actions() {
            let r = match a {
                Action::IsaIrq(irq, level) => self.guest.set_isa_irq_level(irq, u8::from(level)),
                Action::Irq(irq, level) => self.guest.set_irq_level(irq, u8::from(level)),
                Action::PciIntx(slot, pin, level) => {
                    self.guest
                        .set_pci_intx_level(0, 0, slot, pin, u8::from(level))
                }
                Action::Msi(addr, data) => {
                    *self.counts.entry("msi").or_default() += 1;
                    self.guest.inject_msi(addr, data)
                }
                Action::Shutdown(reason, code) => {
                    self.stop = Some(Exit::GuestShutdown(reason, code));
                    self.guest.shutdown(reason)
                }
            };
            if let Err(e) = r {
                log(&e.to_string());
            }
        }
    }

    fn map_bars(&mut self, change: BarChange) {
        let Some(server) = self.server.as_ref() else {
            // Detached: nothing is claimed any more.
            return;
        };
        for r in change.unmapped {
            if let Err(e) = server.unmap_io_range(IoRangeType::MEMORY, *r.start(), *r.end()) {
                log(&format!("releasing BAR {r:#x?}: {e}"));
            }
        }
        for r in change.mapped {
            if let Err(e) = server.map_io_range(IoRangeType::MEMORY, *r.start(), *r.end()) {
                log(&format!(
                    "claiming BAR {r:#x?}: {e}: the BAR stays unmapped"
                ));
                self.machine.forget_bar(&r);
            }
        }
    }

    fn one(&mut self, ty: IoreqType, addr: u64, size: u8, write: Option<u64>) -> u64 {
        match ty {
            IoreqType::PIO => self.machine.port(addr, size, write),
            IoreqType::COPY => self.machine.mmio(addr, size, write),
            IoreqType::PCI_CONFIG => {
                let (v, change) = self.machine.pci_config(
                    (addr >> 32) as u32,
                    (addr & 0xfff) as u16,
                    size,
                    write.map(|w| w as u32),
                );
                self.map_bars(change);
                v
            }
            _ => all_ones(size),
        }
    }

    /// Answers one synchronous request; returns the `data` to complete it with.
    pub fn handle(&mut self, req: &Ioreq) -> u64 {
        let ty = req.r#type;
        *self
            .counts
            .entry(match ty {
                IoreqType::PIO => "pio",
                IoreqType::COPY => "mmio",
                IoreqType::PCI_CONFIG => "pci-config",
                IoreqType::INVALIDATE => "invalidate",
                IoreqType::TIMEOFFSET => "timeoffset",
                _ => "other",
            })
            .or_default() += 1;
        if ty == IoreqType::INVALIDATE {
            self.maps.pages.clear();
            return req.data;
        }
        if ty == IoreqType::TIMEOFFSET {
            self.time_offset = req.data as i64;
            return req.data;
        }
        if !matches!(req.size, 1 | 2 | 4 | 8) {
            if self.verbose {
                log(&format!("refusing a request of size {}", req.size));
            }
            return if req.dir() == IoreqDir::READ {
                all_ones(8)
            } else {
                req.data
            };
        }
        let size = req.size as u8;
        let read = req.dir() == IoreqDir::READ;
        let step = i64::from(size) * if req.df() { -1 } else { 1 };
        let count = req.count.max(1);
        if !req.data_is_ptr() {
            // Repetitions of a single value (rare without a pointer).
            let mut v = req.data;
            for i in 0..count {
                let a = if ty == IoreqType::PIO {
                    req.addr
                } else {
                    req.addr.wrapping_add_signed(step * i64::from(i))
                };
                v = self.one(ty, a, size, (!read).then_some(req.data));
            }
            return if read { v } else { req.data };
        }
        // `data` is the guest-physical address of the data: each repetition
        // moves `size` bytes between the device and guest memory. A guest
        // address outside the guest's memory ends the request there.
        for i in 0..count {
            let off = step * i64::from(i);
            let a = if ty == IoreqType::PIO {
                req.addr
            } else {
                req.addr.wrapping_add_signed(off)
            };
            let gpa = req.data.wrapping_add_signed(off);
            let mut bytes = [0u8; 8];
            let n = usize::from(size);
            if read {
                let v = self.one(ty, a, size, None);
                bytes[..n].copy_from_slice(&v.to_le_bytes()[..n]);
                if !self.maps.write(&self.guest, gpa, &bytes[..n]) {
                    self.refused(gpa);
                    break;
                }
            } else {
                if !self.maps.read(&self.guest, gpa, &mut bytes[..n]) {
                    self.refused(gpa);
                    break;
                }
                self.one(ty, a, size, Some(u64::from_le_bytes(bytes)));
            }
        }
        req.data
    }

    fn refused(&mut self, gpa: u64) {
        *self.counts.entry("refused-pointer").or_default() += 1;
        if self.verbose {
            log(&format!(
                "guest address {gpa:#x} is not the guest's memory: request cut short"
            ));
        }
    }

    fn handle_buffered(&mut self, b: BufferedRequest) {
        match b.ty {
            // Xen's RTC tells every device model the guest's clock offset.
            IoreqType::TIMEOFFSET => {
                *self.counts.entry("buffered-timeoffset").or_default() += 1;
                self.time_offset = b.data as i64;
            }
            IoreqType::INVALIDATE => {
                *self.counts.entry("buffered-invalidate").or_default() += 1;
                self.maps.pages.clear();
            }
            _ => {
                *self.counts.entry("buffered").or_default() += 1;
                if b.dir == IoreqDir::WRITE && matches!(b.size, 1 | 2 | 4 | 8) {
                    self.one(b.ty, b.addr, b.size as u8, Some(b.data));
                }
            }
        }
    }

    /// The guest's RTC offset from dom0's clock, in seconds, as Xen last
    /// reported it (`IOREQ_TYPE_TIMEOFFSET`).
    pub fn time_offset(&self) -> i64 {
        self.time_offset
    }

    /// Serves every pending request: each vCPU's slot, then the buffered
    /// ring. Returns how many it served.
    pub fn service(&mut self) -> Result<usize, Error> {
        let mut n = 0;
        if self.server.is_none() {
            return Ok(0);
        }
        for v in 0..self.vcpu_ports.len() {
            let slot = self
                .pages()
                .and_then(|p| p.slot(v as u32))
                .expect("bound vCPUs have slots");
            if let Some(req) = slot.begin() {
                let data = self.handle(&req);
                self.carry_out();
                let slot = self
                    .pages()
                    .and_then(|p| p.slot(v as u32))
                    .expect("bound vCPUs have slots");
                slot.complete(data);
                self.vcpu_ports[v].notify()?;
                n += 1;
            }
        }
        while let Some(b) = self
            .pages()
            .and_then(IoreqPages::buffered)
            .and_then(|r| r.pop())
        {
            self.handle_buffered(b);
            self.carry_out();
            n += 1;
        }
        // Work a device left for later gets a turn too, but is no request:
        // it never keeps the loop from looking at its signals.
        if self.machine.has_deferred() {
            self.machine.serve_deferred();
            self.carry_out();
        }
        Ok(n)
    }

    /// Polls for requests for up to `poll_max` before sleeping, adapting
    /// the window as QEMU's event loop does: it grows while requests come
    /// soon after the loop went to sleep and drops to nothing when they do
    /// not. Zero (the default) never polls.
    pub fn set_poll_max(&mut self, poll_max: Duration) {
        self.poll_max = poll_max;
    }

    /// Takes the event-channel notifications that arrived and unmasks their
    /// ports (the driver masks a port when it queues it).
    fn drain_events(&mut self) -> Result<(), Error> {
        let mut fired = [EvtchnPort(0); 64];
        loop {
            match self.ev.pending(&mut fired) {
                Ok(n) => {
                    for p in &fired[..n] {
                        self.ev.unmask(*p)?;
                    }
                    if n < fired.len() {
                        return Ok(());
                    }
                }
                Err(e) if e.errno() == libc::EAGAIN => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Serves requests as they come for at most `window`; whether any came.
    /// Deferred work ends it: the loop then takes its non-blocking look.
    fn poll_for(&mut self, window: Duration) -> Result<bool, Error> {
        let start = Instant::now();
        loop {
            for _ in 0..64 {
                if self.service()? > 0 {
                    return Ok(true);
                }
                if self.machine.has_deferred() {
                    return Ok(false);
                }
                std::hint::spin_loop();
            }
            if self.poll_doorbells() > 0 {
                return Ok(true);
            }
            if start.elapsed() >= window {
                return Ok(false);
            }
        }
    }

    /// Runs until the guest asks to stop or a signal arrives on `signal_fd`
    /// (a signalfd).
    ///
    /// While polling, the event-channel ports stay masked (no interrupt
    /// reaches dom0 for requests found by polling); they are drained and
    /// unmasked before every sleep, and an unmask re-raises an event that
    /// came meanwhile, so no request waits for a wake-up that never comes.
    pub fn run(&mut self, signal_fd: &impl AsRawFd) -> Result<Exit, Error> {
        let mut window = Duration::ZERO;
        // Whether ports may be masked with their events unread: after
        // polling, and at the start (events may have come before `run`).
        let mut masked = true;
        // When the loop last looked at its signals and doorbells: a guest
        // that keeps it busy (requests back to back) must not hide them.
        let mut looked = Instant::now();
        loop {
            if let Some(exit) = self.stop {
                return Ok(exit);
            }
            let overdue = looked.elapsed() >= LOOK_EVERY;
            if !window.is_zero() && !overdue {
                masked = true;
                if self.poll_for(window)? {
                    continue;
                }
            }
            if masked && !overdue {
                self.drain_events()?;
                masked = false;
                if self.service()? > 0 {
                    continue;
                }
            }
            // The event channels, the signals, then the doorbells.
            let mut fds = pollfds(
                [self.ev.as_raw_fd(), signal_fd.as_raw_fd()]
                    .into_iter()
                    .chain(self.doorbell_fds()),
            );
            // With work a device left for later, after a busy stretch, or
            // with the ports still masked, only look (a signal, a doorbell,
            // new requests) and carry on; otherwise sleep.
            let timeout: *const libc::timespec = if overdue || masked || self.machine.has_deferred()
            {
                &NO_WAIT
            } else {
                std::ptr::null()
            };
            let slept = Instant::now();
            // SAFETY: `fds` is a valid array of its length; the timeout is
            // null or points to a static; no signal mask change.
            let r = unsafe {
                libc::ppoll(
                    fds.as_mut_ptr(),
                    fds.len() as libc::nfds_t,
                    timeout,
                    std::ptr::null(),
                )
            };
            if r < 0 {
                let e = std::io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return Err(Error(format!("ppoll: {e}")));
            }
            if timeout.is_null() {
                window = adapt(window, slept.elapsed(), self.poll_max);
            }
            if fds[1].revents != 0 {
                let mut info = [0u8; 128];
                // SAFETY: reads one signalfd_siginfo (128 bytes) into our buffer.
                unsafe { libc::read(signal_fd.as_raw_fd(), info.as_mut_ptr().cast(), info.len()) };
                let signo = i32::from_ne_bytes(info[0..4].try_into().expect("4 bytes"));
                return Ok(Exit::Signal(signo));
            }
            looked = Instant::now();
            if fds[2..].iter().any(|f| f.revents != 0) {
                self.ring_doorbells();
            }
            self.drain_events()?;
            masked = false;
            self.service()?;
        }
    }

    /// The descriptors the machine's devices hold.
    pub fn device_fds(&self) -> Vec<std::os::fd::RawFd> {
        self.machine.fds()
    }

    /// The guest's domain.
    pub fn domid(&self) -> DomId {
        self.guest.domid()
    }

    /// The device-model handle.
    pub fn dm(&self) -> &DeviceModel {
        self.guest.device_model()
    }

    /// Whether the buffered port is bound.
    pub fn has_buffered(&self) -> bool {
        self.buf_port.is_some()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.detach();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::{DebugExit, PciCounter, Scratch};
    use crate::testplatform;

    fn machine() -> Machine {
        Machine::new(vec![
            scratch(),
            Placed::pci(PciCounter::new(3)),
            Placed::at(DebugExit::new(), &[0x501]),
        ])
        .unwrap()
    }

    /// The scratch device where the test platform puts it.
    fn scratch() -> Placed {
        Placed::at(
            Scratch::default(),
            &[testplatform::SCRATCH_PORT, testplatform::SCRATCH_MMIO],
        )
    }

    #[test]
    fn routes_ports_mmio_and_nothing() {
        let mut m = machine();
        assert_eq!(
            m.port(testplatform::SCRATCH_ID_PORT, 4, None),
            testplatform::SCRATCH_ID
        );
        m.port(testplatform::SCRATCH_PORT, 4, Some(0x4433_2211));
        assert_eq!(m.port(testplatform::SCRATCH_PORT + 1, 1, None), 0x22);
        assert_eq!(m.port(0x900, 2, None), 0xffff, "nothing there");
        m.mmio(testplatform::SCRATCH_MMIO + 64, 4, Some(0xdead_beef));
        assert_eq!(m.mmio(testplatform::SCRATCH_MMIO + 65, 1, None), 0xbe);
        assert_eq!(m.mmio(0xfd00_0000, 8, None), u64::MAX);
    }

    #[test]
    fn overlapping_devices_are_refused() {
        let e = Machine::new(vec![scratch(), scratch()]).unwrap_err();
        assert!(e.0.contains("overlap"), "{e}");
    }

    #[test]
    fn a_device_placed_wrongly_is_refused() {
        // One base for two regions.
        let e = Machine::new(vec![Placed::at(Scratch::default(), &[0x700])]).unwrap_err();
        assert!(e.0.contains("2 regions, placed at 1"), "{e}");
        // A region that would run past the end of the address space.
        let e = Machine::new(vec![Placed::at(
            Scratch::default(),
            &[0x700, u64::MAX - 0xff],
        )])
        .unwrap_err();
        assert!(e.0.contains("do not fit"), "{e}");
        // Ports beyond the 64 Ki a guest has.
        let e = Machine::new(vec![Placed::at(DebugExit::new(), &[0xffff])]).unwrap_err();
        assert!(e.0.contains("past port 0xffff"), "{e}");
    }

    #[test]
    fn a_bar_is_claimed_where_the_guest_puts_it_and_moved() {
        let mut m = machine();
        let sbdf = dmop_abi::dmop::pci_sbdf(0, 0, 3, 0) as u32;
        assert_eq!(
            m.pci_config(sbdf, 0, 4, None).0,
            (testplatform::PCI_DEVICE << 16) | testplatform::PCI_VENDOR
        );
        assert_eq!(
            m.pci_config(dmop_abi::dmop::pci_sbdf(0, 0, 4, 0) as u32, 0, 4, None)
                .0,
            0xffff_ffff,
            "empty slot"
        );
        m.pci_config(sbdf, 0x10, 4, Some(0xfe00_0000));
        let (_, c) = m.pci_config(sbdf, 0x04, 2, Some(2));
        assert_eq!(c.mapped, vec![0xfe00_0000..=0xfe00_0fff]);
        assert_eq!(m.mmio(0xfe00_0000, 4, None), testplatform::SCRATCH_ID);
        let c0 = m.mmio(0xfe00_0008, 4, None);
        assert_eq!(
            m.mmio(0xfe00_0008, 4, None),
            c0 + 1,
            "the counter counts reads"
        );
        let (_, c) = m.pci_config(sbdf, 0x10, 4, Some(0xfd00_0000));
        assert_eq!(
            (c.unmapped, c.mapped),
            (
                vec![0xfe00_0000..=0xfe00_0fff],
                vec![0xfd00_0000..=0xfd00_0fff]
            )
        );
        assert_eq!(
            m.mmio(0xfe00_0000, 4, None),
            0xffff_ffff,
            "the old place is gone"
        );
        let (_, c) = m.pci_config(sbdf, 0x10, 4, Some(testplatform::SCRATCH_MMIO as u32));
        assert_eq!(
            (c.unmapped, c.mapped),
            (vec![0xfd00_0000..=0xfd00_0fff], vec![]),
            "not over the scratch page"
        );
        assert_eq!(
            m.mmio(testplatform::SCRATCH_MMIO, 4, None),
            0,
            "the scratch page stays the scratch device's"
        );
        m.pci_config(sbdf, 0x10, 4, Some(0xfd00_0000));
        m.forget_bar(&(0xfd00_0000..=0xfd00_0fff));
        assert_eq!(
            m.mmio(0xfd00_0000, 4, None),
            0xffff_ffff,
            "a forgotten BAR is not decoded"
        );
        let (_, c) = m.pci_config(sbdf, 0x10, 4, Some(0xfd00_0000));
        assert_eq!(
            c.mapped,
            vec![0xfd00_0000..=0xfd00_0fff],
            "placed again, claimed again"
        );
        m.mmio(0xfd00_000c, 4, Some(1));
        assert_eq!(m.take_actions(), vec![Action::PciIntx(3, 0, true)]);
    }

    #[test]
    fn the_polling_window_grows_while_requests_come_soon_and_stops_when_not() {
        let us = Duration::from_micros;
        let max = us(100);
        assert_eq!(adapt(Duration::ZERO, us(30), max), POLL_GROW_START);
        assert_eq!(adapt(us(4), us(30), max), us(8));
        assert_eq!(adapt(us(64), us(70), max), us(100), "capped");
        assert_eq!(
            adapt(us(64), us(10), max),
            us(64),
            "a window that was long enough stays"
        );
        assert_eq!(
            adapt(us(64), us(500), max),
            Duration::ZERO,
            "a long sleep: polling would have been wasted"
        );
        assert_eq!(
            adapt(us(64), us(10), Duration::ZERO),
            Duration::ZERO,
            "polling off"
        );
    }

    #[test]
    fn the_debug_exit_port_asks_for_a_shutdown() {
        let mut m = machine();
        m.port(0x501, 2, Some(0));
        assert_eq!(
            m.take_actions(),
            vec![Action::Shutdown(ShutdownReason::POWEROFF, 0)]
        );
        m.port(0x501, 2, Some(3));
        assert_eq!(
            m.take_actions(),
            vec![Action::Shutdown(ShutdownReason::CRASH, 3)]
        );
    }
}
