// SPDX-License-Identifier: MIT
//! `privcmd`: the conformance suite of privcmd-restrict. The same cases run
//! against the C driver (`/dev/xen/privcmd`) and ours, for every ioctl they
//! share, and must give the same results; then our node's own behaviour
//! (HYPERCALL refused, RESTRICT(DOMID_INVALID) refused, limits as
//! parameters, restrict-at-open), a seeded random-ioctl run, unloading with
//! fds and mappings open, process exit, and the kernel log.

use std::ffi::CString;
use std::fmt::Write as _;
use std::os::fd::OwnedFd;

use dmop_abi::dmop::{BufioreqMode, DmopCode, TrackDirtyVram, XenDmOp};
use dmop_abi::ioreq::IoreqState;
use dmop_abi::privcmd;
use dmop_abi::types::{DomId, XenPfn};
use dmop_abi::xenmem::ResourceType;
use xendevicemodel::DeviceModel;
use zerocopy::IntoBytes;

use crate::raw::{self, errno_name, Errno, IoctlResult, NodeMap};
use crate::tap::Tap;
use crate::xl::{self, Guest};

/// The C driver's node.
pub const C_NODE: &str = "/dev/xen/privcmd";
/// Ours.
pub const OUR_NODE: &str = "/dev/xen/privcmd-restrict";
const MODULE: &str = "/lib/xdm/privcmd_restrict.ko";
const PARAMS: &str = "/sys/module/privcmd_restrict/parameters";

fn show(r: IoctlResult) -> String {
    match r {
        Ok(v) => format!("ok({v})"),
        Err(e) => errno_name(e.0).to_string(),
    }
}

fn open(node: &str) -> OwnedFd {
    raw::open(node).unwrap_or_else(|e| panic!("open {node}: {e:?}"))
}

/// The world the cases run in.
struct World {
    a: DomId,
    server: u32,
    image: Option<(u64, Vec<u8>)>,
}

/// Every case both drivers implement, as (name, result) pairs.
fn shared_cases(node: &str, w: &World) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut case = |name: &str, r: String| out.push((name.to_string(), r));
    let fd = open(node);
    let a = w.a;

    case("DM_OP probe (num 0, DOMID_INVALID)", show(raw::dm_op_empty(&fd, DomId::INVALID)));
    case("DM_OP on a missing domain", show(raw::create_ioreq_server(&fd, DomId(999)).map(|_| 0)));
    case("DM_OP on dom0", show(raw::create_ioreq_server(&fd, DomId(0)).map(|_| 0)));
    case("DM_OP nr_vcpus on the guest", format!("{:?}", raw::nr_vcpus(&fd, a)));
    let mut op = XenDmOp::new(DmopCode::NR_VCPUS);
    let page = vec![0u8; 4097];
    let descs17: Vec<(usize, usize)> = (0..17).map(|_| (op.as_mut_bytes().as_mut_ptr() as usize, 32)).collect();
    case("DM_OP with 17 buffers", show(raw::dm_op_descs(&fd, a, &descs17)));
    case("DM_OP with a 4097-byte buffer", show(raw::dm_op_descs(&fd, a, &[(page.as_ptr() as usize, 4097)])));
    case("DM_OP with 16 buffers", show(raw::dm_op_descs(&fd, a, &descs17[..16])));
    case("DM_OP with the descriptor array at 0x10", show(raw::ioctl_struct(&fd, privcmd::IOCTL_PRIVCMD_DM_OP, &mut privcmd::PrivcmdDmOp {
        dom: a,
        num: 1,
        ubufs: dmop_abi::types::UserPtr(0x10),
        ..privcmd::PrivcmdDmOp::ZEROED
    })));
    case("DM_OP with a NULL buffer", show(raw::dm_op_descs(&fd, a, &[(0, 32)])));
    case("DM_OP with a buffer beyond user space", show(raw::dm_op_descs(&fd, a, &[(usize::MAX - 15, 32)])));
    // SAFETY: a fresh read-only anonymous page.
    let ro = unsafe { libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_READ, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) } as usize;
    case("DM_OP with a read-only buffer", show(raw::dm_op_descs(&fd, a, &[(ro, 32)])));
    // SAFETY: our mapping.
    unsafe { libc::munmap(ro as *mut libc::c_void, 4096) };
    case("DM_OP with its argument at NULL", show(raw::ioctl_addr(&fd, privcmd::IOCTL_PRIVCMD_DM_OP, 0)));
    let mut vram = XenDmOp::with_payload(DmopCode::TRACK_DIRTY_VRAM, &TrackDirtyVram { nr: 4096 * 8, first_pfn: 0x100, ..TrackDirtyVram::ZEROED });
    let mut bitmap = vec![0xa5u8; 4096];
    let r = raw::dm_op(&fd, a, &mut [vram.as_mut_bytes(), &mut bitmap]);
    case("DM_OP track_dirty_vram with a 4 KiB bitmap", format!("{} bitmap {}", show(r), if bitmap.iter().all(|&b| b == 0xa5) { "untouched" } else { "written" }));
    case("unknown ioctl", show(raw::ioctl_addr(&fd, 0x5000 | 0x7f, 0)));

    // The resource path: the server's ioreq pages.
    let ioreq = u32::from(ResourceType::IOREQ_SERVER.0);
    let (r, n) = raw::mmap_resource(&fd, a, ioreq, w.server, 0, 0, 0);
    case("MMAP_RESOURCE size query", format!("{} num={n}", show(r)));
    let (r, _) = raw::mmap_resource(&fd, a, ioreq, w.server, 0, 0, 0x1000);
    case("MMAP_RESOURCE with addr but no num", show(r));
    // SAFETY: a fresh anonymous mapping.
    let anon = unsafe { libc::mmap(std::ptr::null_mut(), 8192, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) } as usize;
    let (r, _) = raw::mmap_resource(&fd, a, ioreq, w.server, 0, 2, anon);
    case("MMAP_RESOURCE into anonymous memory", show(r));
    // SAFETY: our mapping.
    unsafe { libc::munmap(anon as *mut libc::c_void, 8192) };
    match NodeMap::new(&fd, 2) {
        Ok(m) => {
            let (r, _) = raw::mmap_resource(&fd, a, ioreq, w.server, 0, 2, m.addr);
            let state = if r.is_ok() { format!(" slot0 state {:?}", IoreqState(m.byte(4096 + 30) & 0xf)) } else { String::new() };
            case("MMAP_RESOURCE of the ioreq pages", format!("{}{state}", show(r)));
        }
        Err(e) => case("mmap of the node", format!("{e:?}")),
    }
    match NodeMap::new(&fd, 1) {
        Ok(m) => {
            let (r, _) = raw::mmap_resource(&fd, a, ioreq, w.server, 0, 4, m.addr);
            case("MMAP_RESOURCE beyond the mapping", show(r));
        }
        Err(e) => case("mmap of the node", format!("{e:?}")),
    }

    // Guest memory through MMAPBATCH_V2.
    if let Some((gpa, bytes)) = &w.image {
        match NodeMap::new(&fd, 1) {
            Ok(m) => {
                let mut errs = [77i32];
                let r = raw::mmapbatch_v2(&fd, a, m.addr, &[(gpa >> 12) as XenPfn], Some(&mut errs));
                let same = r.is_ok() && (0..bytes.len()).all(|i| m.byte((*gpa as usize & 0xfff) + i) == bytes[i]);
                case("MMAPBATCH_V2 of the guest's code page", format!("{} err={} contents {}", show(r), errs[0], if same { "match" } else { "DIFFER" }));
                let r = raw::mmapbatch_v2(&fd, a, m.addr, &[(gpa >> 12) as XenPfn], Some(&mut errs));
                case("MMAPBATCH_V2 over a mapped page", show(r));
            }
            Err(e) => case("mmap of the node", format!("{e:?}")),
        }
    }
    match NodeMap::new(&fd, 1) {
        Ok(m) => {
            let mut errs = [77i32];
            let r = raw::mmapbatch_v2(&fd, a, m.addr, &[0xf_ffff], Some(&mut errs));
            case("MMAPBATCH_V2 of a frame the guest lacks", format!("{} err={}", show(r), errno_name(-errs[0])));
            case("MMAPBATCH_V2 with no frames", show(raw::mmapbatch_v2(&fd, a, m.addr, &[], Some(&mut errs))));
            case("MMAPBATCH_V2 with a NULL error array", show(raw::mmapbatch_v2(&fd, a, m.addr, &[0x100], None)));
        }
        Err(e) => case("mmap of the node", format!("{e:?}")),
    }

    // Restriction.
    let r = open(node);
    case("RESTRICT with its argument at NULL", show(raw::ioctl_addr(&r, privcmd::IOCTL_PRIVCMD_RESTRICT, 0)));
    case("RESTRICT to the guest", show(raw::restrict(&r, a)));
    case("RESTRICT to the guest again", show(raw::restrict(&r, a)));
    case("RESTRICT to another domain afterwards", show(raw::restrict(&r, DomId(a.0 + 1))));
    case("restricted: the DM_OP probe", show(raw::dm_op_empty(&r, DomId::INVALID)));
    case("restricted: DM_OP on dom0", show(raw::create_ioreq_server(&r, DomId(0)).map(|_| 0)));
    case("restricted: DM_OP on a missing domain", show(raw::create_ioreq_server(&r, DomId(999)).map(|_| 0)));
    case("restricted: DM_OP on its guest", format!("{:?}", raw::nr_vcpus(&r, a)));
    case("restricted: MMAP_RESOURCE of another domain", show(raw::mmap_resource(&r, DomId(999), ioreq, 0, 0, 0, 0).0));
    case("restricted: MMAP_RESOURCE size query of its guest", format!("{:?}", raw::mmap_resource(&r, a, ioreq, w.server, 0, 0, 0)));
    if let Ok(m) = NodeMap::new(&r, 1) {
        let mut errs = [0i32];
        case("restricted: MMAPBATCH_V2 of dom0", show(raw::mmapbatch_v2(&r, DomId(0), m.addr, &[0x100], Some(&mut errs))));
    }
    out
}

fn dmesg() -> String {
    xl::run("dmesg", &[]).1
}

fn delete_module() -> Result<(), Errno> {
    let name = CString::new("privcmd_restrict").expect("no NUL");
    // SAFETY: a syscall with a valid string; O_NONBLOCK fails instead of waiting.
    let r = unsafe { libc::syscall(libc::SYS_delete_module, name.as_ptr(), libc::O_NONBLOCK) };
    if r < 0 {
        Err(Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(0)))
    } else {
        Ok(())
    }
}

fn load_module() -> bool {
    xl::run("insmod", &[MODULE]).0 && std::path::Path::new(OUR_NODE).exists()
}

/// Runs `f` in a child process as `uid`; returns what it printed.
fn as_uid(uid: u32, f: impl FnOnce() -> String) -> String {
    let mut fds = [0i32; 2];
    // SAFETY: a pipe into a two-element array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: the suite is single-threaded; the child only runs `f` and exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: plain calls in the child.
        unsafe {
            libc::close(fds[0]);
            if libc::setgid(uid) != 0 || libc::setuid(uid) != 0 {
                libc::_exit(1);
            }
        }
        let s = f();
        // SAFETY: writes our buffer to our pipe, then leaves without running destructors.
        unsafe {
            libc::write(fds[1], s.as_ptr().cast(), s.len());
            libc::_exit(0);
        }
    }
    // SAFETY: parent side of the pipe.
    unsafe { libc::close(fds[1]) };
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        // SAFETY: reads into our buffer.
        let n = unsafe { libc::read(fds[0], buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
    // SAFETY: reap the child; close our end.
    unsafe {
        libc::close(fds[0]);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Runs the suite.
pub fn run() -> i32 {
    let mut t = Tap::new("privcmd");
    let log_start = dmesg().lines().count();
    let k = dmesg();
    t.check("the module's KUnit suite passed at load", k.contains("ok 1 privcmd_restrict") && k.contains("privcmd_restrict: pass:5 fail:0"), "no KUnit result in dmesg");
    if !t.check("our node exists", std::path::Path::new(OUR_NODE).exists(), OUR_NODE) {
        return t.finish();
    }
    let guest = match Guest::create("pc-a", &xl::fake_dm_path(), true, "") {
        Ok(g) => g,
        Err(e) => {
            t.check("guest created", false, e);
            return t.finish();
        }
    };
    let dm = DeviceModel::open_path(C_NODE).expect("C node");
    let server = dm.create_ioreq_server(guest.domid, BufioreqMode::ATOMIC).expect("an ioreq server on the guest");
    let w = World { a: guest.domid, server: u32::from(server.0), image: xl::guest_image().map(|(_, a, b)| (a, b)) };

    let c = shared_cases(C_NODE, &w);
    let ours = shared_cases(OUR_NODE, &w);
    t.eq("both drivers ran the same cases", c.len(), ours.len());
    t.note(format!("{:<52} {:<34} {}", "shared case", "C privcmd", "privcmd-restrict"));
    for ((name, rc), (_, ro)) in c.iter().zip(&ours) {
        t.note(format!("{name:<52} {rc:<34} {ro}"));
    }
    for ((name, rc), (_, ro)) in c.iter().zip(&ours) {
        t.check(&format!("same on both drivers: {name} ({rc})"), rc == ro, format_args!("C: {rc}\nours: {ro}"));
    }
    let get = |v: &[(String, String)], k: &str| v.iter().find(|(n, _)| n == k).map(|(_, r)| r.clone()).unwrap_or_default();
    t.eq("the 17-buffer limit answers E2BIG", get(&ours, "DM_OP with 17 buffers"), "E2BIG".to_string());
    t.eq("a read-only buffer answers EFAULT", get(&ours, "DM_OP with a read-only buffer"), "EFAULT".to_string());
    t.check("the ioreq pages are mapped, slot NONE", get(&ours, "MMAP_RESOURCE of the ioreq pages").contains("state IoreqState::NONE"), get(&ours, "MMAP_RESOURCE of the ioreq pages"));
    t.check("guest memory maps, contents match", get(&ours, "MMAPBATCH_V2 of the guest's code page").contains("err=0 contents match"), get(&ours, "MMAPBATCH_V2 of the guest's code page"));

    // The control of xen-patches' dispatcher check: Debian's Xen looks op 0
    // up in its table (no size) and answers the set pad EINVAL; the guard
    // refuses the number itself (EOPNOTSUPP).
    let mut zero = XenDmOp::new(DmopCode(0));
    zero.pad = 1;
    t.eq(
        "unpatched Xen: DMOP 0 with a nonzero pad is EINVAL (the control of the xen-patches check)",
        raw::dm_op(&open(C_NODE), w.a, &mut [zero.as_mut_bytes()]).err(),
        Some(Errno(libc::EINVAL)),
    );

    own_cases(&mut t, &w);
    random_ioctls(&mut t, &w);
    unload_and_exit(&mut t, &w);

    let _ = dm.destroy_ioreq_server(guest.domid, server);
    drop(guest);
    let new_log: Vec<String> = dmesg().lines().skip(log_start).map(str::to_string).collect();
    let bad: Vec<&String> = new_log
        .iter()
        .filter(|l| ["Oops", "BUG:", "WARNING:", "general protection", "Unable to handle", "Call Trace"].iter().any(|p| l.contains(p)))
        .collect();
    t.check("dmesg: no oops, BUG or warning during the suite", bad.is_empty(), format_args!("{bad:#?}"));
    t.finish()
}

fn own_cases(t: &mut Tap, w: &World) {
    let a = w.a;
    // Beyond the C driver: no raw hypercalls, no fake restriction.
    let c = open(C_NODE);
    let o = open(OUR_NODE);
    t.check("C driver: HYPERCALL works on an unrestricted fd", raw::hypercall_xen_version(&c).is_ok(), "");
    t.eq("ours: HYPERCALL is refused, always (EPERM)", raw::hypercall_xen_version(&o), Err(Errno(libc::EPERM)));
    t.eq("C driver: RESTRICT(DOMID_INVALID) answers 0 (and restricts nothing)", raw::restrict(&open(C_NODE), DomId::INVALID), Ok(0));
    t.eq("ours: RESTRICT(DOMID_INVALID) is refused (EINVAL)", raw::restrict(&o, DomId::INVALID), Err(Errno(libc::EINVAL)));
    t.eq("ours: RESTRICT(DOMID_SELF) is refused (EINVAL)", raw::restrict(&o, DomId::SELF), Err(Errno(libc::EINVAL)));
    for (name, cmd) in [
        ("MMAP", privcmd::IOCTL_PRIVCMD_MMAP),
        ("MMAPBATCH", privcmd::IOCTL_PRIVCMD_MMAPBATCH),
        ("IRQFD", privcmd::IOCTL_PRIVCMD_IRQFD),
        ("IOEVENTFD", privcmd::IOCTL_PRIVCMD_IOEVENTFD),
        ("PCIDEV_GET_GSI", privcmd::IOCTL_PRIVCMD_PCIDEV_GET_GSI),
    ] {
        t.eq(&format!("ours: {name} is not served (ENOTTY)"), raw::ioctl_addr(&o, cmd, 0), Err(Errno(libc::ENOTTY)));
    }

    // Mapping a resource over a live mapping: the C driver does not check
    // and remaps; ours never replaces a mapping silently.
    let ioreq = u32::from(ResourceType::IOREQ_SERVER.0);
    for (node, fd, want) in [("C driver", &c, Ok(0)), ("ours", &o, Err(Errno(libc::EINVAL)))] {
        if let Ok(m) = NodeMap::new(fd, 2) {
            let first = raw::mmap_resource(fd, a, ioreq, w.server, 0, 2, m.addr).0;
            let again = raw::mmap_resource(fd, a, ioreq, w.server, 0, 2, m.addr).0;
            t.check(
                &format!("{node}: MMAP_RESOURCE over a live mapping answers {}", show(want)),
                first.is_ok() && again == want,
                format_args!("first {first:?}, again {again:?}"),
            );
        }
    }

    // The limits are module parameters.
    let set = |p: &str, v: &str| std::fs::write(format!("{PARAMS}/{p}"), v).is_ok();
    let mut op = XenDmOp::new(DmopCode::NR_VCPUS);
    let p = op.as_mut_bytes().as_mut_ptr() as usize;
    t.check("dm_op_max_nr_bufs can be set to 2", set("dm_op_max_nr_bufs", "2"), "");
    t.eq("... then 3 buffers answer E2BIG", raw::dm_op_descs(&o, a, &[(p, 32); 3]), Err(Errno(libc::E2BIG)));
    t.eq("... and 2 buffers still work", raw::dm_op_descs(&o, a, &[(p, 32); 2]), Ok(0));
    t.check("dm_op_buf_max_size can be set to 40", set("dm_op_buf_max_size", "40") && set("dm_op_max_nr_bufs", "16"), "");
    let big = [0u8; 41];
    t.eq("... then a 41-byte buffer answers E2BIG", raw::dm_op_descs(&o, a, &[(big.as_ptr() as usize, 41)]), Err(Errno(libc::E2BIG)));
    set("dm_op_buf_max_size", "4096");

    // Restrict-at-open.
    const UID: u32 = 4242;
    t.eq("binding uid 4242 to the guest", raw::restrict_uid(&o, UID, a, 0), Ok(0));
    let listing = std::fs::read_to_string("/sys/class/misc/xen!privcmd-restrict/bindings").unwrap_or_default();
    t.check("the binding is listed in sysfs", listing.lines().any(|l| l == format!("{UID} {}", a.0)), &listing);
    t.eq("binding to DOMID_INVALID is refused", raw::restrict_uid(&o, 1, DomId::INVALID, 0), Err(Errno(libc::EINVAL)));
    t.eq("unknown flags are refused", raw::restrict_uid(&o, 1, a, 0x40), Err(Errno(libc::EINVAL)));
    t.eq("unbinding a uid without binding: ENOENT", raw::restrict_uid(&o, 4343, a, 1), Err(Errno(libc::ENOENT)));
    let ro = open(OUR_NODE);
    let _ = raw::restrict(&ro, a);
    t.eq("a restricted fd cannot change bindings", raw::restrict_uid(&ro, 5, a, 0), Err(Errno(libc::EPERM)));
    let child = as_uid(UID, || {
        let mut s = String::new();
        match raw::open(OUR_NODE) {
            Ok(fd) => {
                let _ = write!(s, "open=ok dom0={} guest={:?} restrict-other={} restrict-same={} hypercall={} bind={}",
                    show(raw::create_ioreq_server(&fd, DomId(0)).map(|_| 0)),
                    raw::nr_vcpus(&fd, a),
                    show(raw::restrict(&fd, DomId(a.0 + 1))),
                    show(raw::restrict(&fd, a)),
                    show(raw::hypercall_xen_version(&fd)),
                    show(raw::restrict_uid(&fd, 99, a, 0)));
            }
            Err(e) => {
                let _ = write!(s, "open={e:?}");
            }
        }
        s
    });
    t.note(format!("uid {UID}: {child}"));
    t.check("a bound uid opens the node, confined to its guest from the start", child.starts_with("open=ok dom0=EPERM guest=Ok(1) restrict-other=EINVAL restrict-same=ok(0) hypercall=EPERM bind=EPERM"), &child);
    let unbound = as_uid(4343, || format!("{:?}", raw::open(OUR_NODE).map(|_| ())));
    t.eq("an unbound uid without CAP_SYS_ADMIN is refused (EACCES)", unbound, "Err(EACCES)".to_string());
    let cnode = as_uid(4343, || format!("{:?}", raw::open(C_NODE).map(|_| ())));
    t.note(format!("(the C node opened by uid 4343: {cnode})"));
    let inherited = {
        let fd = open(OUR_NODE);
        as_uid(UID, move || show(raw::restrict_uid(&fd, 7, DomId(1), 0)))
    };
    t.eq("without CAP_SYS_ADMIN an unrestricted fd cannot change bindings", inherited, "EPERM".to_string());
    t.eq("unbinding uid 4242", raw::restrict_uid(&o, UID, a, 1), Ok(0));
    let after = as_uid(UID, || format!("{:?}", raw::open(OUR_NODE).map(|_| ())));
    t.eq("once unbound, uid 4242 is refused", after, "Err(EACCES)".to_string());
    let listing = std::fs::read_to_string("/sys/class/misc/xen!privcmd-restrict/bindings").unwrap_or_default();
    t.check("sysfs lists nothing", listing.trim().is_empty(), &listing);
}

/// A small seeded generator (xorshift64*): the run is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Random ioctls with random arguments from restricted and unrestricted
/// fds: nothing may oops, and no DM_OP from a restricted fd may reach any
/// domain but its own.
fn random_ioctls(t: &mut Tap, w: &World) {
    const SEED: u64 = 0x5eed_0fc0_ffee;
    const ROUNDS: usize = 3000;
    let mut rng = Rng(SEED);
    let cmds = [
        privcmd::IOCTL_PRIVCMD_HYPERCALL,
        privcmd::IOCTL_PRIVCMD_RESTRICT,
        privcmd::IOCTL_PRIVCMD_DM_OP,
        privcmd::IOCTL_PRIVCMD_MMAP_RESOURCE,
        privcmd::IOCTL_PRIVCMD_MMAPBATCH_V2,
        privcmd::IOCTL_PRIVCMD_RESTRICT_UID,
        privcmd::IOCTL_PRIVCMD_MMAP,
    ];
    let restricted = open(OUR_NODE);
    let _ = raw::restrict(&restricted, w.a);
    let unrestricted = open(OUR_NODE);
    let map = NodeMap::new(&restricted, 4).ok();
    let mut escapes = Vec::new();
    let mut counts = [0usize; 2];
    let mut arg = [0u8; 64];
    let mut buf = [0u8; 64];
    for i in 0..ROUNDS {
        let use_restricted = rng.below(2) == 0;
        let fd = if use_restricted { &restricted } else { &unrestricted };
        let cmd = if rng.below(8) == 0 { (rng.next() as u32) & 0xc03f_ffff } else { cmds[rng.below(cmds.len() as u64) as usize] };
        for b in arg.iter_mut().chain(buf.iter_mut()) {
            *b = rng.next() as u8;
        }
        // Domain fields get targets worth trying; pointers sometimes point at real buffers.
        let targets = [w.a.0, 0, 999, DomId::INVALID.0, w.a.0 + 1, rng.next() as u16];
        let dom = if use_restricted { targets[rng.below(targets.len() as u64) as usize] } else { [w.a.0, 999, DomId::INVALID.0][rng.below(3) as usize] };
        arg[0..2].copy_from_slice(&dom.to_ne_bytes());
        if rng.below(2) == 0 {
            let p = (buf.as_ptr() as usize).to_ne_bytes();
            arg[8..16].copy_from_slice(&p);
        }
        if cmd == privcmd::IOCTL_PRIVCMD_MMAP_RESOURCE || cmd == privcmd::IOCTL_PRIVCMD_MMAPBATCH_V2 {
            if let Some(m) = &map {
                if rng.below(2) == 0 {
                    let at = if cmd == privcmd::IOCTL_PRIVCMD_MMAP_RESOURCE { 24 } else { 8 };
                    arg[at..at + 8].copy_from_slice(&(m.addr as u64).to_ne_bytes());
                }
            }
        }
        if cmd == privcmd::IOCTL_PRIVCMD_DM_OP && rng.below(2) == 0 {
            // A well-formed, harmless op sometimes: nr_vcpus.
            let mut op = XenDmOp::new(DmopCode::NR_VCPUS);
            let r = raw::dm_op(fd, DomId(dom), &mut [op.as_mut_bytes()]);
            counts[usize::from(use_restricted)] += 1;
            if use_restricted && dom != w.a.0 && r != Err(Errno(libc::EPERM)) {
                escapes.push(format!("round {i}: DM_OP on {dom} from a restricted fd: {r:?}"));
            }
            continue;
        }
        if cmd == privcmd::IOCTL_PRIVCMD_RESTRICT_UID && rng.below(4) != 0 {
            continue; // keep the binding table for the other tests
        }
        let r = raw::ioctl_addr(fd, cmd, arg.as_mut_ptr() as usize);
        counts[usize::from(use_restricted)] += 1;
        let checked_dom = matches!(cmd, privcmd::IOCTL_PRIVCMD_DM_OP | privcmd::IOCTL_PRIVCMD_MMAP_RESOURCE);
        if use_restricted && checked_dom && dom != w.a.0 && r != Err(Errno(libc::EPERM)) && r != Err(Errno(libc::EFAULT)) {
            escapes.push(format!("round {i}: {cmd:#x} on {dom} from a restricted fd: {r:?}"));
        }
        if cmd == privcmd::IOCTL_PRIVCMD_RESTRICT_UID && r.is_ok() {
            let uid = u32::from_ne_bytes(arg[0..4].try_into().unwrap());
            let _ = raw::restrict_uid(&unrestricted, uid, w.a, 1);
        }
    }
    t.note(format!("random ioctls: seed {SEED:#x}, {} from a restricted fd, {} from an unrestricted one", counts[1], counts[0]));
    t.check(&format!("random ioctls (seed {SEED:#x}): no op from a restricted fd reached another domain"), escapes.is_empty(), format_args!("{escapes:#?}"));
}

fn unload_and_exit(t: &mut Tap, w: &World) {
    {
        let fd = open(OUR_NODE);
        t.check("unload is refused while an fd is open", delete_module().is_err(), "");
        let m = NodeMap::new(&fd, 2);
        let ioreq = u32::from(ResourceType::IOREQ_SERVER.0);
        if let Ok(m) = &m {
            let _ = raw::mmap_resource(&fd, w.a, ioreq, w.server, 0, 2, m.addr);
        }
        drop(fd);
        t.check("unload is refused while a mapping remains", delete_module().is_err(), "");
        drop(m);
    }
    t.check("unload succeeds once everything is closed", delete_module().is_ok(), "");
    t.check("the module loads again", load_module(), "");
    // A process that exits with an fd and a mapping open.
    let ioreq = u32::from(ResourceType::IOREQ_SERVER.0);
    let (a, server) = (w.a, w.server);
    let out = as_uid(0, move || {
        let fd = open(OUR_NODE);
        if let Ok(m) = NodeMap::new(&fd, 2) {
            let _ = raw::mmap_resource(&fd, a, ioreq, server, 0, 2, m.addr);
            m.leak();
        }
        std::mem::forget(fd);
        "exited".to_string()
    });
    t.eq("a process exits with an fd and a mapping open", out, "exited".to_string());
    t.check("... and then the module unloads (its references are gone)", delete_module().is_ok(), "");
    t.check("... and loads again", load_module(), "");
}
