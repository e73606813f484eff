// SPDX-License-Identifier: MIT
//! The privcmd suite's `IOCTL_PRIVCMD_IOEVENTFD` cases, on the bed's PV
//! dom0: a test guest whose MMIO page an ioreq server of ours claims. Its
//! writes that an ioeventfd matches are answered by the kernel (the eventfd
//! counts them, the suite's own ioreq loop never sees them, and the vCPU
//! goes on); every other access reaches the loop. Then the refusals, and
//! the teardown when the guest dies with an ioeventfd still on its page.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use dmop_abi::dmop::{BufioreqMode, IoRangeType};
use dmop_abi::ioreq::{IoreqDir, IoreqType};
use dmop_abi::privcmd::{IoeventfdExtFlags, IoeventfdFlags, PrivcmdIoeventfd};
use dmop_abi::types::{DomId, EvtchnPort};
use xendevicemodel::{DeviceModel, EventChannel, IoeventfdMatch, IoreqPages};

use crate::privcmd::OUR_NODE;
use crate::raw::{self, Errno};
use crate::tap::Tap;
use crate::xl::{self, Guest};

/// The test guest's scratch MMIO page (the test platform's).
const MMIO: u64 = xen_thin_dm::testplatform::SCRATCH_MMIO;
/// Its scratch device's id port and the id (ditto).
const SCRATCH_ID_PORT: u64 = xen_thin_dm::testplatform::SCRATCH_ID_PORT;
const SCRATCH_ID: u32 = xen_thin_dm::testplatform::SCRATCH_ID as u32;

/// One request the suite's loop served.
#[derive(Debug, Clone, Copy)]
struct Seen {
    write: bool,
    addr: u64,
    size: u32,
    data: u64,
    plain: bool,
}

/// Serves the server's requests (a RAM-like page) until the guest reads
/// back its `rep movsl` area or `limit` passes; returns what it served.
fn serve(pages: &IoreqPages, ev: &EventChannel, port: EvtchnPort, limit: Duration) -> Vec<Seen> {
    let mut scratch = [0u8; 4096];
    let mut seen = Vec::new();
    let start = Instant::now();
    let _ = ev.set_nonblocking(true);
    let slot = pages.slot(0).expect("one vCPU");
    while start.elapsed() < limit {
        let mut pfd = libc::pollfd {
            fd: ev.as_fd().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd of ours; a short wait, then the slot is looked
        // at anyway (a request the kernel held for a moment is served then).
        unsafe { libc::poll(&mut pfd, 1, 50) };
        let mut fired = [EvtchnPort(0); 8];
        if let Ok(n) = ev.pending(&mut fired) {
            for p in &fired[..n] {
                let _ = ev.unmask(*p);
            }
        }
        let Some(req) = slot.begin() else {
            continue;
        };
        if req.r#type == IoreqType::PIO {
            // The scratch device's id register: the guest runs its MMIO
            // tests only if it reads the id there.
            let id = req.addr == SCRATCH_ID_PORT && req.dir() == IoreqDir::READ;
            slot.complete(if id { u64::from(SCRATCH_ID) } else { 0 });
            let _ = ev.notify(port);
            continue;
        }
        let off = (req.addr.wrapping_sub(MMIO) as usize) & 0xfff;
        let size = (req.size as usize).min(8);
        let write = req.dir() == IoreqDir::WRITE;
        let plain = !req.data_is_ptr() && req.count == 1;
        let mut data = req.data;
        if plain && off + size <= scratch.len() {
            if write {
                scratch[off..off + size].copy_from_slice(&req.data.to_le_bytes()[..size]);
            } else {
                let mut b = [0u8; 8];
                b[..size].copy_from_slice(&scratch[off..off + size]);
                data = u64::from_le_bytes(b);
            }
        }
        seen.push(Seen {
            write,
            addr: req.addr,
            size: req.size,
            data: req.data,
            plain,
        });
        slot.complete(data);
        let _ = ev.notify(port);
        if !write && req.addr == MMIO + 0x80 {
            break;
        }
    }
    seen
}

/// The raw request for ioeventfd cases.
fn request(pages: &IoreqPages, ports: &[u32], eventfd: &OwnedFd) -> PrivcmdIoeventfd {
    PrivcmdIoeventfd {
        ioreq: pages.sync_page_addr(),
        ports: ports.as_ptr() as u64,
        addr: MMIO + 0x100,
        addr_len: 4,
        event_fd: eventfd.as_raw_fd() as u32,
        vcpus: ports.len() as u32,
        vq: 0,
        flags: IoeventfdFlags(IoeventfdExtFlags::ADDR.0),
        dom: pages.domid(),
        ..PrivcmdIoeventfd::ZEROED
    }
}

/// The ioeventfd cases; they create and destroy a guest of their own.
pub fn cases(t: &mut Tap) {
    let guest = match Guest::create("pc-ioev", &xl::fake_dm_path(), true, "") {
        Ok(g) => g,
        Err(e) => {
            t.check("ioeventfd: a guest created", false, e);
            return;
        }
    };
    let a = guest.domid;
    let setup = || -> xendevicemodel::Result<_> {
        let dm = DeviceModel::open_path(OUR_NODE)?;
        dm.restrict(a)?;
        let server = dm.create_ioreq_server(a, BufioreqMode::OFF)?;
        dm.map_io_range_to_ioreq_server(a, server, IoRangeType::MEMORY, MMIO, MMIO + 0xfff)?;
        dm.map_io_range_to_ioreq_server(
            a,
            server,
            IoRangeType::PORT,
            SCRATCH_ID_PORT,
            SCRATCH_ID_PORT + 3,
        )?;
        let pages = IoreqPages::map(&dm, a, server, 1, false)?;
        dm.set_ioreq_server_state(a, server, true)?;
        let ev = EventChannel::open()?;
        let port = ev.bind_interdomain(a, pages.slot(0).expect("vCPU 0").vp_eport())?;
        Ok((dm, pages, ev, port))
    };
    let (dm, pages, ev, port) = match setup() {
        Ok(s) => s,
        Err(e) => {
            t.check(
                "ioeventfd: an ioreq server of ours on the guest's MMIO page",
                false,
                e,
            );
            return;
        }
    };
    t.note(format!(
        "ioeventfd: guest d{} server pages at {:#x}, port {}",
        a.0,
        pages.sync_page_addr(),
        port.0
    ));
    let ports = [port];
    if xl::auto_translated() {
        // The device model maps the page (above); the kernel's own mapping
        // of it is PV-only so far.
        t.eq(
            "ioeventfd, auto-translated dom0: an assign answers EOPNOTSUPP",
            dm.ioeventfd(
                &pages,
                &ports,
                IoeventfdMatch::Write {
                    addr: MMIO + 0x80,
                    len: 4,
                },
            )
            .err()
            .map(|e| e.errno()),
            Some(libc::EOPNOTSUPP),
        );
        return;
    }
    // The refusals first, from a second descriptor (the page is a mapping
    // of the first: still the node's), while the channel is free.
    let fd = node(a);
    refusals(t, &fd, &pages, &ports);
    let assign = |rule| dm.ioeventfd(&pages, &ports, rule);
    // The guest's mmio_tests: a byte 0x5a at +0x10, a word 0xcafe at
    // +0x20, a dword 0xdeadbeef at +0x40 (each read back), then rep movsl
    // to and from +0x80.
    let dword = assign(IoeventfdMatch::WriteValue {
        addr: MMIO + 0x40,
        len: 4,
        value: 0xdead_beef,
    });
    let word = assign(IoeventfdMatch::MmioQueueNotify {
        base: MMIO + 0x20 - 0x50,
        len: 2,
        queue: 0xcafe,
    });
    let other_value = assign(IoeventfdMatch::WriteValue {
        addr: MMIO + 0x10,
        len: 1,
        value: 0x11,
    });
    let rep = assign(IoeventfdMatch::Write {
        addr: MMIO + 0x80,
        len: 4,
    });
    let all_ok = t.check(
        "IOEVENTFD from a restricted fd on its guest: a dword datamatch, upstream's QueueNotify rule, a byte datamatch, and a plain address",
        dword.is_ok() && word.is_ok() && other_value.is_ok() && rep.is_ok(),
        format_args!("{:?} {:?} {:?} {:?}", dword.as_ref().err(), word.as_ref().err(), other_value.as_ref().err(), rep.as_ref().err()),
    );
    // The raw requests point at this array: it outlives them.
    let raw_ports = [port.0];
    // One raw ioeventfd left on the page through the guest's death.
    let late_e = raw::eventfd();
    let mut late = request(&pages, &raw_ports, &late_e);
    late.addr = MMIO + 0x300;
    t.eq(
        "IOEVENTFD at +0x300 (kept through the guest's death)",
        on(&dm, &mut late),
        Ok(0),
    );
    t.eq(
        "... /proc/interrupts shows one handler of ours on the vCPU's channel",
        handlers(),
        1,
    );
    let mut again = request(&pages, &raw_ports, &late_e);
    again.addr = MMIO + 0x400;
    t.eq(
        "... a second descriptor cannot hook the same channel: EBUSY",
        raw::ioeventfd(&fd, &mut again),
        Err(Errno(libc::EBUSY)),
    );
    if !all_ok {
        return;
    }
    let (dword, word, other_value, rep) = (
        dword.unwrap(),
        word.unwrap(),
        other_value.unwrap(),
        rep.unwrap(),
    );

    let (ok, out) = xl::run("xl", &["unpause", &guest.name]);
    t.check("ioeventfd: the guest runs", ok, out);
    let seen = serve(&pages, &ev, port, Duration::from_secs(30));
    let saw = |write: bool, addr: u64, size: u32| {
        seen.iter()
            .any(|s| s.write == write && s.addr == addr && s.size == size)
    };
    t.note(format!(
        "the suite's ioreq loop served {} requests: {:x?}",
        seen.len(),
        seen
    ));
    t.eq(
        "the kernel answered the dword write of 0xdeadbeef: its eventfd counted 1",
        dword.take().ok(),
        Some(1),
    );
    t.check(
        "... the loop never saw that write, and the vCPU went on: the loop served its read-back",
        !saw(true, MMIO + 0x40, 4) && saw(false, MMIO + 0x40, 4),
        format_args!("{seen:x?}"),
    );
    t.eq(
        "upstream's rule (QueueNotify at base + 0x50, queue 0xcafe): the word write counted 1",
        word.take().ok(),
        Some(1),
    );
    t.check(
        "... and the loop never saw it",
        !saw(true, MMIO + 0x20, 2) && saw(false, MMIO + 0x20, 2),
        format_args!("{seen:x?}"),
    );
    t.eq(
        "a byte write of another value than the datamatch's: not counted",
        other_value.take().ok(),
        Some(0),
    );
    t.check(
        "... the loop served it (0x5a)",
        seen.iter()
            .any(|s| s.write && s.addr == MMIO + 0x10 && s.size == 1 && s.data == 0x5a),
        format_args!("{seen:x?}"),
    );
    t.eq(
        "rep movsl to the watched address: not a plain write, not counted",
        rep.take().ok(),
        Some(0),
    );
    t.check(
        "... the loop served it as a string write",
        seen.iter()
            .any(|s| s.write && s.addr == MMIO + 0x80 && !s.plain),
        format_args!("{seen:x?}"),
    );

    // Deassign: the same rule names it; a second time finds nothing.
    let e = raw::eventfd();
    let mut r = request(&pages, &raw_ports, &e);
    r.addr = MMIO + 0x200;
    t.eq("IOEVENTFD on a new address", on(&dm, &mut r), Ok(0));
    r.flags = IoeventfdFlags(r.flags.0 | IoeventfdFlags::DEASSIGN.0);
    t.eq("... deassigned", on(&dm, &mut r), Ok(0));
    t.eq(
        "... deassigned again: ENODEV (upstream's answer)",
        on(&dm, &mut r),
        Err(Errno(libc::ENODEV)),
    );
    drop(dword);
    drop(other_value);
    drop(rep);

    // The guest dies with `word` still on its page: the kernel's mapping of
    // the page must go with the guest's channels, or the guest would stay
    // dying for as long as the fd lives.
    drop(pages);
    drop(guest);
    let started = Instant::now();
    let zombies = || {
        xl::run("xl", &["list"])
            .1
            .lines()
            .filter(|l| l.starts_with("(null)"))
            .count()
    };
    while (zombies() > 0 || dm.restrict(a).err().map(|e| e.errno()) != Some(libc::ESRCH))
        && started.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    t.check(
        "the guest destroyed with an ioeventfd on its ioreq page: it goes (no dying domain left), and the fd answers ESRCH",
        zombies() == 0 && dm.nr_vcpus(a).err().map(|e| e.errno()) == Some(libc::ESRCH),
        format_args!("{} dying, nr_vcpus {:?}", zombies(), dm.nr_vcpus(a).err()),
    );
    t.note(format!("gone {:?} after xl destroy", started.elapsed()));
    t.eq(
        "... our handlers left the channel at the death",
        handlers(),
        0,
    );
    late.flags = IoeventfdFlags(late.flags.0 | IoeventfdFlags::DEASSIGN.0);
    t.eq(
        "... deassigning an ioeventfd after the death works (teardown)",
        on(&dm, &mut late),
        Ok(0),
    );
    drop(word);
    let _ = ev.unbind(port);
}

/// `IOCTL_PRIVCMD_IOEVENTFD` on the library's descriptor.
fn on(dm: &DeviceModel, arg: &mut PrivcmdIoeventfd) -> raw::IoctlResult {
    raw::ioeventfd(dm.fd().expect("a privcmd descriptor"), arg)
}

/// A node fd restricted to `a`.
fn node(a: DomId) -> OwnedFd {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(OUR_NODE)
        .expect("our node");
    let fd = OwnedFd::from(f);
    let _ = raw::restrict(&fd, a);
    fd
}

/// How many of our handlers /proc/interrupts lists.
fn handlers() -> usize {
    std::fs::read_to_string("/proc/interrupts")
        .unwrap_or_default()
        .matches("privcmd-restrict:ioeventfd")
        .count()
}

/// The refusals, on the live page and port, before the guest runs.
fn refusals(t: &mut Tap, fd: &OwnedFd, pages: &IoreqPages, ports: &[EvtchnPort]) {
    let p: Vec<u32> = ports.iter().map(|p| p.0).collect();
    let e = raw::eventfd();
    let base = request(pages, &p, &e);
    let einval = Err(Errno(libc::EINVAL));
    let case =
        |t: &mut Tap, name: &str, f: &dyn Fn(&mut PrivcmdIoeventfd), want: raw::IoctlResult| {
            let mut r = base;
            f(&mut r);
            t.eq(name, raw::ioeventfd(fd, &mut r), want);
        };
    case(
        t,
        "IOEVENTFD on another domain from a restricted fd: EPERM",
        &|r| r.dom = DomId(999),
        Err(Errno(libc::EPERM)),
    );
    case(
        t,
        "IOEVENTFD with an unknown flag: EINVAL",
        &|r| r.flags.0 |= 0x100,
        einval,
    );
    case(
        t,
        "IOEVENTFD with DATAMATCH but not ADDR: EINVAL",
        &|r| r.flags = IoeventfdFlags(IoeventfdExtFlags::DATAMATCH.0),
        einval,
    );
    case(
        t,
        "IOEVENTFD with a 3-byte access: EINVAL",
        &|r| r.addr_len = 3,
        einval,
    );
    case(
        t,
        "IOEVENTFD with no vCPU: EINVAL",
        &|r| r.vcpus = 0,
        einval,
    );
    case(
        t,
        "IOEVENTFD with 129 vCPUs (more than one ioreq page holds): EINVAL",
        &|r| r.vcpus = 129,
        einval,
    );
    case(
        t,
        "IOEVENTFD with a nonzero pad: EINVAL",
        &|r| r.pad = [0, 1],
        einval,
    );
    case(
        t,
        "IOEVENTFD whose range wraps: EINVAL",
        &|r| r.addr = u64::MAX - 1,
        einval,
    );
    case(
        t,
        "IOEVENTFD with a datamatch a byte cannot carry: EINVAL",
        &|r| {
            r.flags = IoeventfdFlags(IoeventfdExtFlags::ADDR.0 | IoeventfdExtFlags::DATAMATCH.0);
            r.addr_len = 1;
            r.vq = 0x100;
        },
        einval,
    );
    case(
        t,
        "IOEVENTFD with an unaligned ioreq address: EINVAL",
        &|r| r.ioreq += 8,
        einval,
    );
    // SAFETY: a fresh anonymous page, unmapped below.
    let anon = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
            -1,
            0,
        )
    };
    case(
        t,
        "IOEVENTFD whose ioreq page is no mapping of the node (anonymous memory): EINVAL",
        &|r| r.ioreq = anon as u64,
        einval,
    );
    // SAFETY: our mapping of one page.
    unsafe { libc::munmap(anon, 4096) };
    let unbound = [p[0] + 50];
    case(
        t,
        "IOEVENTFD with a port this process never bound: EINVAL",
        &|r| r.ports = unbound.as_ptr() as u64,
        einval,
    );
    let two = [p[0], p[0]];
    case(
        t,
        "IOEVENTFD naming two vCPUs of a one-vCPU guest: EINVAL",
        &|r| {
            r.ports = two.as_ptr() as u64;
            r.vcpus = 2;
        },
        einval,
    );
    let not_eventfd = node(pages.domid());
    case(
        t,
        "IOEVENTFD on an fd that is no eventfd: EINVAL",
        &|r| r.event_fd = not_eventfd.as_raw_fd() as u32,
        einval,
    );
    case(
        t,
        "IOEVENTFD on a closed fd number: EBADF",
        &|r| r.event_fd = 999_999,
        Err(Errno(libc::EBADF)),
    );
    case(
        t,
        "IOEVENTFD with an unreadable ports array: EFAULT",
        &|r| r.ports = 8,
        Err(Errno(libc::EFAULT)),
    );
    case(
        t,
        "deassign of an ioeventfd never assigned: ENODEV",
        &|r| r.flags.0 |= IoeventfdFlags::DEASSIGN.0,
        Err(Errno(libc::ENODEV)),
    );
    // On the page, next to the four of `cases`.
    let mut r = base;
    t.eq("IOEVENTFD at +0x100", raw::ioeventfd(fd, &mut r), Ok(0));
    t.eq(
        "... the same eventfd again on the page: EBUSY (upstream's answer)",
        raw::ioeventfd(fd, &mut r),
        Err(Errno(libc::EBUSY)),
    );
    let e2 = raw::eventfd();
    let mut r2 = base;
    r2.event_fd = e2.as_raw_fd() as u32;
    t.eq(
        "... another eventfd for the same write: EEXIST",
        raw::ioeventfd(fd, &mut r2),
        Err(Errno(libc::EEXIST)),
    );
    r2.addr += 4;
    t.eq(
        "... another eventfd for the next dword: fine",
        raw::ioeventfd(fd, &mut r2),
        Ok(0),
    );
    for mut x in [r, r2] {
        x.flags.0 |= IoeventfdFlags::DEASSIGN.0;
        let _ = raw::ioeventfd(fd, &mut x);
    }
    // A descriptor closed with an ioeventfd on: its handler goes with it.
    let other = node(pages.domid());
    let mut r = base;
    t.eq(
        "IOEVENTFD from a third fd",
        raw::ioeventfd(&other, &mut r),
        Ok(0),
    );
    t.eq("... our handler on the channel", handlers(), 1);
    drop(other);
    t.eq("... that fd closed, its handler is gone", handlers(), 0);

    // A page of the guest's RAM, mapped through the node, written to look
    // like the ioreq page (vCPU 0's vp_eport): not one of Xen's ioreq
    // pages, so refused.
    let vp_eport = pages.slot(0).map(|s| s.vp_eport().0).unwrap_or(0);
    match raw::NodeMap::new(fd, 1) {
        Ok(m) => {
            let mut errs = [77i32];
            let mapped = raw::mmapbatch_v2(fd, pages.domid(), m.addr, &[0x1000], Some(&mut errs));
            if mapped.is_ok() && errs[0] == 0 {
                // SAFETY: the page just mapped; vp_eport's offset in slot 0, 4-aligned.
                unsafe { std::ptr::write_volatile((m.addr + 24) as *mut u32, vp_eport) };
            }
            let mut r = base;
            r.ioreq = m.addr as u64;
            t.check(
                "IOEVENTFD on a page of the guest's RAM forged to look like its ioreq page: EINVAL (Xen names the ioreq pages)",
                mapped.is_ok() && errs[0] == 0 && raw::ioeventfd(fd, &mut r) == einval,
                format_args!("map {mapped:?} err {}", errs[0]),
            );
        }
        Err(e) => {
            t.check("a mapping of the node", false, format_args!("{e:?}"));
        }
    }
}
