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
const MODULE: &str = crate::contract::MODULE;
const KUNIT_MODULE: &str = crate::contract::KUNIT_MODULE;
const PARAMS: &str = "/sys/module/privcmd_restrict/parameters";

/// The shared cases where an auto-translated dom0's answers differ, with
/// ours: the module checks a range against the caller's mapping before
/// anything else on every dom0 (EINVAL), where Linux's xlate path asks Xen
/// first (ENOENT for a frame the resource lacks).
const AUTO_TRANSLATED_DIFFERS: &[(&str, &str)] = &[("MMAP_RESOURCE beyond the mapping", "EINVAL")];

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

    case(
        "DM_OP probe (num 0, DOMID_INVALID)",
        show(raw::dm_op_empty(&fd, DomId::INVALID)),
    );
    case(
        "DM_OP on a missing domain",
        show(raw::create_ioreq_server(&fd, DomId(999)).map(|_| 0)),
    );
    case(
        "DM_OP on dom0",
        show(raw::create_ioreq_server(&fd, DomId(0)).map(|_| 0)),
    );
    case(
        "DM_OP nr_vcpus on the guest",
        format!("{:?}", raw::nr_vcpus(&fd, a)),
    );
    let mut op = XenDmOp::new(DmopCode::NR_VCPUS);
    let page = vec![0u8; 4097];
    let descs17: Vec<(usize, usize)> = (0..17)
        .map(|_| (op.as_mut_bytes().as_mut_ptr() as usize, 32))
        .collect();
    case(
        "DM_OP with 17 buffers",
        show(raw::dm_op_descs(&fd, a, &descs17)),
    );
    case(
        "DM_OP with a 4097-byte buffer",
        show(raw::dm_op_descs(&fd, a, &[(page.as_ptr() as usize, 4097)])),
    );
    case(
        "DM_OP with 16 buffers",
        show(raw::dm_op_descs(&fd, a, &descs17[..16])),
    );
    case(
        "DM_OP with the descriptor array at 0x10",
        show(raw::ioctl_struct(
            &fd,
            privcmd::IOCTL_PRIVCMD_DM_OP,
            &mut privcmd::PrivcmdDmOp {
                dom: a,
                num: 1,
                ubufs: dmop_abi::types::UserPtr(0x10),
                ..privcmd::PrivcmdDmOp::ZEROED
            },
        )),
    );
    case(
        "DM_OP with a NULL buffer",
        show(raw::dm_op_descs(&fd, a, &[(0, 32)])),
    );
    case(
        "DM_OP with a buffer beyond user space",
        show(raw::dm_op_descs(&fd, a, &[(usize::MAX - 15, 32)])),
    );
    // SAFETY: a fresh read-only anonymous page.
    let ro = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    } as usize;
    case(
        "DM_OP with a read-only buffer",
        show(raw::dm_op_descs(&fd, a, &[(ro, 32)])),
    );
    // SAFETY: our mapping.
    unsafe { libc::munmap(ro as *mut libc::c_void, 4096) };
    case(
        "DM_OP with its argument at NULL",
        show(raw::ioctl_addr(&fd, privcmd::IOCTL_PRIVCMD_DM_OP, 0)),
    );
    let mut vram = XenDmOp::with_payload(
        DmopCode::TRACK_DIRTY_VRAM,
        &TrackDirtyVram {
            nr: 4096 * 8,
            first_pfn: 0x100,
            ..TrackDirtyVram::ZEROED
        },
    );
    let mut bitmap = vec![0xa5u8; 4096];
    let r = raw::dm_op(&fd, a, &mut [vram.as_mut_bytes(), &mut bitmap]);
    case(
        "DM_OP track_dirty_vram with a 4 KiB bitmap",
        format!(
            "{} bitmap {}",
            show(r),
            if bitmap.iter().all(|&b| b == 0xa5) {
                "untouched"
            } else {
                "written"
            }
        ),
    );
    case(
        "unknown ioctl",
        show(raw::ioctl_addr(&fd, 0x5000 | 0x7f, 0)),
    );

    // The resource path: the server's ioreq pages.
    let ioreq = u32::from(ResourceType::IOREQ_SERVER.0);
    let (r, n) = raw::mmap_resource(&fd, a, ioreq, w.server, 0, 0, 0);
    case("MMAP_RESOURCE size query", format!("{} num={n}", show(r)));
    let (r, _) = raw::mmap_resource(&fd, a, ioreq, w.server, 0, 0, 0x1000);
    case("MMAP_RESOURCE with addr but no num", show(r));
    // SAFETY: a fresh anonymous mapping.
    let anon = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            8192,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    } as usize;
    let (r, _) = raw::mmap_resource(&fd, a, ioreq, w.server, 0, 2, anon);
    case("MMAP_RESOURCE into anonymous memory", show(r));
    // SAFETY: our mapping.
    unsafe { libc::munmap(anon as *mut libc::c_void, 8192) };
    // The buffered page (frame 0), if the server has one, then the
    // synchronous one (frame 1).
    let (first, nr, sync_at) = if xl::bufioreq_mode() == BufioreqMode::OFF {
        (1, 1, 0)
    } else {
        (0, 2, 4096)
    };
    match NodeMap::new(&fd, nr as usize) {
        Ok(m) => {
            let (r, _) = raw::mmap_resource(&fd, a, ioreq, w.server, first, nr, m.addr);
            let state = if r.is_ok() {
                format!(" slot0 state {:?}", IoreqState(m.byte(sync_at + 30) & 0xf))
            } else {
                String::new()
            };
            case(
                "MMAP_RESOURCE of the ioreq pages",
                format!("{}{state}", show(r)),
            );
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
                let r =
                    raw::mmapbatch_v2(&fd, a, m.addr, &[(gpa >> 12) as XenPfn], Some(&mut errs));
                let same = r.is_ok()
                    && (0..bytes.len()).all(|i| m.byte((*gpa as usize & 0xfff) + i) == bytes[i]);
                case(
                    "MMAPBATCH_V2 of the guest's code page",
                    format!(
                        "{} err={} contents {}",
                        show(r),
                        errs[0],
                        if same { "match" } else { "DIFFER" }
                    ),
                );
                let r =
                    raw::mmapbatch_v2(&fd, a, m.addr, &[(gpa >> 12) as XenPfn], Some(&mut errs));
                case("MMAPBATCH_V2 over a mapped page", show(r));
            }
            Err(e) => case("mmap of the node", format!("{e:?}")),
        }
    }
    // A batch longer than privcmd-restrict's chunk (512 frames): 600 frames
    // from 1 MiB, the guest's code first.
    if let Some((gpa, bytes)) = &w.image {
        const N: usize = 600;
        match NodeMap::new(&fd, N) {
            Ok(m) => {
                let first = gpa >> 12;
                let gfns: Vec<XenPfn> = (0..N as u64).map(|i| (first + i) as XenPfn).collect();
                let mut errs = vec![77i32; N];
                let r = raw::mmapbatch_v2(&fd, a, m.addr, &gfns, Some(&mut errs));
                let failed = errs.iter().filter(|&&e| e != 0).count();
                let same = r.is_ok()
                    && (0..bytes.len()).all(|i| m.byte((*gpa as usize & 0xfff) + i) == bytes[i]);
                case(
                    "MMAPBATCH_V2 of 600 frames (over one chunk)",
                    format!(
                        "{} failed={failed} contents {}",
                        show(r),
                        if same { "match" } else { "DIFFER" }
                    ),
                );
            }
            Err(e) => case("mmap of the node", format!("{e:?}")),
        }
    }
    match NodeMap::new(&fd, 1) {
        Ok(m) => {
            let mut errs = [77i32];
            let r = raw::mmapbatch_v2(&fd, a, m.addr, &[0xf_ffff], Some(&mut errs));
            case(
                "MMAPBATCH_V2 of a frame the guest lacks",
                format!("{} err={}", show(r), errno_name(-errs[0])),
            );
            case(
                "MMAPBATCH_V2 with no frames",
                show(raw::mmapbatch_v2(&fd, a, m.addr, &[], Some(&mut errs))),
            );
            case(
                "MMAPBATCH_V2 with a NULL error array",
                show(raw::mmapbatch_v2(&fd, a, m.addr, &[0x100], None)),
            );
        }
        Err(e) => case("mmap of the node", format!("{e:?}")),
    }

    // Restriction.
    let r = open(node);
    case(
        "RESTRICT with its argument at NULL",
        show(raw::ioctl_addr(&r, privcmd::IOCTL_PRIVCMD_RESTRICT, 0)),
    );
    case("RESTRICT to the guest", show(raw::restrict(&r, a)));
    case("RESTRICT to the guest again", show(raw::restrict(&r, a)));
    case(
        "RESTRICT to another domain afterwards",
        show(raw::restrict(&r, DomId(a.0 + 1))),
    );
    case(
        "restricted: the DM_OP probe",
        show(raw::dm_op_empty(&r, DomId::INVALID)),
    );
    case(
        "restricted: DM_OP on dom0",
        show(raw::create_ioreq_server(&r, DomId(0)).map(|_| 0)),
    );
    case(
        "restricted: DM_OP on a missing domain",
        show(raw::create_ioreq_server(&r, DomId(999)).map(|_| 0)),
    );
    case(
        "restricted: DM_OP on its guest",
        format!("{:?}", raw::nr_vcpus(&r, a)),
    );
    case(
        "restricted: MMAP_RESOURCE of another domain",
        show(raw::mmap_resource(&r, DomId(999), ioreq, 0, 0, 0, 0).0),
    );
    case(
        "restricted: MMAP_RESOURCE size query of its guest",
        format!("{:?}", raw::mmap_resource(&r, a, ioreq, w.server, 0, 0, 0)),
    );
    if let Ok(m) = NodeMap::new(&r, 1) {
        let mut errs = [0i32];
        case(
            "restricted: MMAPBATCH_V2 of dom0",
            show(raw::mmapbatch_v2(
                &r,
                DomId(0),
                m.addr,
                &[0x100],
                Some(&mut errs),
            )),
        );
    }
    out
}

fn dmesg() -> String {
    xl::run("dmesg", &[]).1
}

fn delete_module() -> Result<(), Errno> {
    delete_named_module("privcmd_restrict")
}

fn delete_named_module(name: &str) -> Result<(), Errno> {
    let name = CString::new(name).expect("no NUL");
    // SAFETY: a syscall with a valid string; O_NONBLOCK fails instead of waiting.
    let r = unsafe { libc::syscall(libc::SYS_delete_module, name.as_ptr(), libc::O_NONBLOCK) };
    if r < 0 {
        Err(Errno(
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        ))
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
    // The product module carries no KUnit suite: loading it (at boot, by
    // /etc/xdm/setup) ran no tests, so the kernel is not marked as having
    // run any (TAINT_TEST, bit 18, 'N'); the suite is a test module of its own.
    let test_taint = || {
        std::fs::read_to_string("/proc/sys/kernel/tainted")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(|v| v & (1 << 18) != 0)
    };
    t.eq(
        "loading privcmd_restrict.ko ran no tests: no TAINT_TEST ('N')",
        test_taint(),
        Some(false),
    );
    let loaded = xl::run("insmod", &[KUNIT_MODULE]).0;
    let k = dmesg();
    t.check(
        "the KUnit suite, privcmd_restrict_kunit.ko, passes as it loads",
        loaded
            && k.contains("ok 1 privcmd_restrict")
            && k.contains("privcmd_restrict: pass:6 fail:0"),
        "no KUnit result in dmesg",
    );
    t.eq(
        "... and it is what marks the kernel as having run tests",
        test_taint(),
        Some(true),
    );
    t.check(
        "... and unloads",
        delete_named_module("privcmd_restrict_kunit").is_ok(),
        "",
    );
    if !t.check(
        "our node exists",
        std::path::Path::new(OUR_NODE).exists(),
        OUR_NODE,
    ) {
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
    let server = dm
        .create_ioreq_server(guest.domid, xl::bufioreq_mode())
        .expect("an ioreq server on the guest");
    let w = World {
        a: guest.domid,
        server: u32::from(server.0),
        image: xl::guest_image().map(|(_, a, b)| (a, b)),
    };

    let c = shared_cases(C_NODE, &w);
    let ours = shared_cases(OUR_NODE, &w);
    t.eq("both drivers ran the same cases", c.len(), ours.len());
    t.note(format!(
        "{:<52} {:<34} {}",
        "shared case", "C privcmd", "privcmd-restrict"
    ));
    for ((name, rc), (_, ro)) in c.iter().zip(&ours) {
        t.note(format!("{name:<52} {rc:<34} {ro}"));
    }
    // An auto-translated dom0 (Arm's): the module's mapping paths are x86
    // PV only and refuse; Linux's map through its xlate path.
    let xlate = xl::auto_translated();
    for ((name, rc), (_, ro)) in c.iter().zip(&ours) {
        match AUTO_TRANSLATED_DIFFERS
            .iter()
            .find(|(n, _)| xlate && n == name)
        {
            Some((_, want)) => t.eq(
                &format!("auto-translated dom0, ours refuses: {name} (C: {rc})"),
                ro.as_str(),
                *want,
            ),
            None => t.check(
                &format!("same on both drivers: {name} ({rc})"),
                rc == ro,
                format_args!("C: {rc}\nours: {ro}"),
            ),
        };
    }
    let get = |v: &[(String, String)], k: &str| {
        v.iter()
            .find(|(n, _)| n == k)
            .map(|(_, r)| r.clone())
            .unwrap_or_default()
    };
    t.eq(
        "the 17-buffer limit answers E2BIG",
        get(&ours, "DM_OP with 17 buffers"),
        "E2BIG".to_string(),
    );
    t.eq(
        "a read-only buffer answers EFAULT",
        get(&ours, "DM_OP with a read-only buffer"),
        "EFAULT".to_string(),
    );
    if !xlate {
        t.check(
            "the ioreq pages are mapped, slot NONE",
            get(&ours, "MMAP_RESOURCE of the ioreq pages").contains("state IoreqState::NONE"),
            get(&ours, "MMAP_RESOURCE of the ioreq pages"),
        );
        t.check(
            "guest memory maps, contents match",
            get(&ours, "MMAPBATCH_V2 of the guest's code page").contains("err=0 contents match"),
            get(&ours, "MMAPBATCH_V2 of the guest's code page"),
        );
    }

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
    let new_log: Vec<String> = dmesg()
        .lines()
        .skip(log_start)
        .map(str::to_string)
        .collect();
    let bad: Vec<&String> = new_log
        .iter()
        .filter(|l| {
            [
                "Oops",
                "BUG:",
                "WARNING:",
                "general protection",
                "Unable to handle",
                "Call Trace",
            ]
            .iter()
            .any(|p| l.contains(p))
        })
        .collect();
    t.check(
        "dmesg: no oops, BUG or warning during the suite",
        bad.is_empty(),
        format_args!("{bad:#?}"),
    );
    t.finish()
}

/// dom0's MemTotal in KiB (an auto-translated dom0 gives RAM pages back to
/// Xen for the pfns its foreign mappings use).
fn mem_total_kib() -> Option<u64> {
    std::fs::read_to_string("/proc/meminfo")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// An auto-translated dom0's mappings hold a page per page of the vma
/// (Xen puts the foreign frames at their pfns): the vma is neither split
/// nor moved while it holds them, and they go back when it goes.
fn xlate_vma_cases(t: &mut Tap, w: &World) {
    let a = w.a;
    let Some((gpa, bytes)) = &w.image else {
        t.check("auto-translated: the guest's image is known", false, "");
        return;
    };
    let o = open(OUR_NODE);
    let _ = raw::restrict(&o, a);
    let gfn = (gpa >> 12) as XenPfn;
    let off = *gpa as usize & 0xfff;
    let Ok(m) = NodeMap::new(&o, 2) else {
        t.check("auto-translated: mmap of the node", false, "");
        return;
    };
    let mut errs = [77i32; 2];
    let r = raw::mmapbatch_v2(&o, a, m.addr, &[gfn, gfn], Some(&mut errs));
    let holds = |m: &NodeMap| (0..bytes.len()).all(|i| m.byte(off + i) == bytes[i]);
    t.check(
        "auto-translated: MMAPBATCH_V2 of two pages maps the guest's code",
        r.is_ok() && errs == [0, 0] && holds(&m),
        format_args!("{r:?} {errs:?}"),
    );
    // SAFETY: unmapping the second page of our own mapping (refused).
    let split = unsafe { libc::munmap((m.addr + 4096) as *mut libc::c_void, 4096) };
    t.eq(
        "auto-translated: munmap of half the mapped vma is refused (EINVAL)",
        (split, raw::last_errno()),
        (-1, Errno(libc::EINVAL)),
    );
    // SAFETY: a fresh reservation to move to (refused), unmapped after.
    let to = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            8192,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    // SAFETY: moving our own mapping over our own reservation (refused).
    let moved = unsafe {
        libc::mremap(
            m.addr as *mut libc::c_void,
            8192,
            8192,
            libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
            to,
        )
    };
    t.check(
        "auto-translated: mremap of the mapped vma is refused",
        moved == libc::MAP_FAILED,
        format_args!("moved to {moved:?}"),
    );
    // SAFETY: our reservation.
    unsafe { libc::munmap(to, 8192) };
    t.check(
        "auto-translated: ... and the mapping is intact",
        holds(&m),
        "",
    );
    drop(m);
    // What all mappings hold together is bounded (xlate_max_pages), before
    // anything is allocated for a claim.
    let param = format!("{PARAMS}/xlate_max_pages");
    let default = std::fs::read_to_string(&param).unwrap_or_default();
    let claim = |pages: usize| -> IoctlResult {
        let m = NodeMap::new(&o, pages)?;
        let mut errs = vec![77i32; pages];
        raw::mmapbatch_v2(&o, a, m.addr, &vec![gfn; pages], Some(&mut errs))
    };
    t.check(
        "auto-translated: xlate_max_pages can be set to 32",
        std::fs::write(&param, "32").is_ok(),
        &param,
    );
    t.eq(
        "... then a claim of 17 pages answers ENOSPC (one guest's mappings hold at most half the total)",
        claim(17),
        Err(Errno(libc::ENOSPC)),
    );
    t.eq("... and one of 16 maps", claim(16), Ok(0));
    t.check(
        "... and the default comes back",
        std::fs::write(&param, default.trim()).is_ok(),
        &default,
    );
    // Each page of a mapping is a page of dom0's (on this kernel, without
    // unpopulated memory, a RAM page handed to Xen): by default the node's
    // mappings hold at most a quarter of dom0's RAM together.
    let quarter = mem_total_kib().map(|k| k / 4 / 4);
    let set: Option<u64> = default.trim().parse().ok();
    t.check(
        "auto-translated: xlate_max_pages defaults to a quarter of dom0's RAM (within 10%)",
        matches!((set, quarter), (Some(d), Some(q)) if d.abs_diff(q) <= q / 10),
        format_args!("xlate_max_pages {set:?}, a quarter of MemTotal {quarter:?} pages"),
    );
    // 64 GiB of the node claimed by one batch: refused before the kernel
    // allocates a page list or pages for it.
    match NodeMap::new(&o, 16 << 20) {
        Ok(huge) => {
            let mut errs = [77i32; 1];
            t.eq(
                "auto-translated: MMAPBATCH_V2 claiming a 64 GiB mapping of the node (beyond xlate_max_pages) answers ENOSPC",
                raw::mmapbatch_v2_num(&o, a, huge.addr, 16 << 20, &[gfn], &mut errs),
                Err(Errno(libc::ENOSPC)),
            );
        }
        Err(e) => {
            t.check(
                "auto-translated: a 64 GiB mapping of the node",
                false,
                format_args!("{e:?}"),
            );
        }
    }
    // The pages go back: a warm-up round, then 32 rounds of 64 pages
    // (8 MiB if none came back) leave dom0's memory where it was.
    let round = || -> bool {
        let Ok(m) = NodeMap::new(&o, 64) else {
            return false;
        };
        let mut errs = [77i32; 64];
        raw::mmapbatch_v2(&o, a, m.addr, &[gfn; 64], Some(&mut errs)).is_ok()
            && errs.iter().all(|e| *e == 0)
    };
    let warm = round();
    let before = mem_total_kib();
    let all = (0..32).all(|_| round());
    let after = mem_total_kib();
    t.check(
        "auto-translated: 32 rounds of 64 mapped pages, mapped and dropped, lose no memory (MemTotal within 1 MiB)",
        warm && all && matches!((before, after), (Some(b), Some(x)) if b.abs_diff(x) <= 1024),
        format_args!("mapped {warm}/{all}, MemTotal {before:?} -> {after:?} KiB"),
    );
    // (Last: the balloon takes back what a large mapping gave Xen in its
    // own time, which the memory check above would see.)
    // A domain's mappings hold at most what the domain may have, and 1024
    // pages more: a device model maps all of its guest, and no more of
    // dom0 than that, whatever the total allows.
    let limit = raw::maximum_reservation(&open(C_NODE), a).map(|p| p as usize + 1024);
    match limit {
        Ok(limit) if set.is_some_and(|d| d as usize > limit + 2048) => {
            t.eq(
                "auto-translated: a claim of one page more than the guest's maximum reservation and 1024 answers ENOSPC",
                claim(limit + 1),
                Err(Errno(libc::ENOSPC)),
            );
            // Held through a second fd restricted to the same guest: the
            // count is the domain's, not the fd's.
            let o2 = open(OUR_NODE);
            let held = raw::restrict(&o2, a)
                .and_then(|_| NodeMap::new(&o2, 2048))
                .and_then(|m| {
                    let mut errs = vec![77i32; 2048];
                    raw::mmapbatch_v2(&o2, a, m.addr, &[gfn; 2048], Some(&mut errs)).map(|_| m)
                });
            t.check(
                "... with 2048 pages held through a second fd restricted to the guest",
                held.is_ok(),
                format_args!("{:?}", held.as_ref().err()),
            );
            t.eq(
                "... a claim of the rest and one page more answers ENOSPC (the domain's mappings together)",
                claim(limit - 2048 + 1),
                Err(Errno(libc::ENOSPC)),
            );
            drop(held);
            t.eq(
                "... and with them gone, a claim of the guest's whole reservation maps",
                claim(limit - 1024),
                Ok(0),
            );
        }
        other => {
            t.check(
                "auto-translated: the guest's maximum reservation, below the node's bound",
                false,
                format_args!("{other:?}, xlate_max_pages {set:?}"),
            );
        }
    }
}

fn own_cases(t: &mut Tap, w: &World) {
    let a = w.a;
    // Beyond the C driver: no raw hypercalls, no fake restriction.
    let c = open(C_NODE);
    let o = open(OUR_NODE);
    t.check(
        "C driver: HYPERCALL works on an unrestricted fd",
        raw::hypercall_xen_version(&c).is_ok(),
        "",
    );
    t.eq(
        "ours: HYPERCALL is refused, always (EPERM)",
        raw::hypercall_xen_version(&o),
        Err(Errno(libc::EPERM)),
    );
    t.eq(
        "C driver: RESTRICT(DOMID_INVALID) answers 0 (and restricts nothing)",
        raw::restrict(&open(C_NODE), DomId::INVALID),
        Ok(0),
    );
    t.eq(
        "ours: RESTRICT(DOMID_INVALID) is refused (EINVAL)",
        raw::restrict(&o, DomId::INVALID),
        Err(Errno(libc::EINVAL)),
    );
    t.eq(
        "ours: RESTRICT(DOMID_SELF) is refused (EINVAL)",
        raw::restrict(&o, DomId::SELF),
        Err(Errno(libc::EINVAL)),
    );
    for (name, cmd) in [
        ("MMAP", privcmd::IOCTL_PRIVCMD_MMAP),
        ("MMAPBATCH", privcmd::IOCTL_PRIVCMD_MMAPBATCH),
        ("PCIDEV_GET_GSI", privcmd::IOCTL_PRIVCMD_PCIDEV_GET_GSI),
    ] {
        t.eq(
            &format!("ours: {name} is not served (ENOTTY)"),
            raw::ioctl_addr(&o, cmd, 0),
            Err(Errno(libc::ENOTTY)),
        );
    }

    // Mapping a resource over a live mapping: the C driver does not check
    // and remaps; ours never replaces a mapping silently. On an
    // auto-translated dom0 the C driver's second mapping hits a BUG_ON
    // (its vma already has its page array: Linux 6.12's privcmd.c,
    // alloc_empty_pages), from an fd restricted to the guest too: it is
    // not run there.
    let ioreq = u32::from(ResourceType::IOREQ_SERVER.0);
    let c_case = (!xl::auto_translated()).then_some(("C driver", &c, Ok(0)));
    if c_case.is_none() {
        t.note("auto-translated dom0: the C driver's MMAP_RESOURCE over a live mapping is a kernel BUG; not run");
    }
    // The synchronous ioreq page (frame 1: there is no buffered one on Arm).
    for (node, fd, want) in c_case
        .into_iter()
        .chain([("ours", &o, Err(Errno(libc::EINVAL)))])
    {
        if let Ok(m) = NodeMap::new(fd, 1) {
            let first = raw::mmap_resource(fd, a, ioreq, w.server, 1, 1, m.addr).0;
            let again = raw::mmap_resource(fd, a, ioreq, w.server, 1, 1, m.addr).0;
            t.check(
                &format!(
                    "{node}: MMAP_RESOURCE over a live mapping answers {}",
                    show(want)
                ),
                first.is_ok() && again == want,
                format_args!("first {first:?}, again {again:?}"),
            );
        }
    }

    if xl::auto_translated() {
        xlate_vma_cases(t, w);
    }

    // The limits are module parameters.
    let set = |p: &str, v: &str| std::fs::write(format!("{PARAMS}/{p}"), v).is_ok();
    let mut op = XenDmOp::new(DmopCode::NR_VCPUS);
    let p = op.as_mut_bytes().as_mut_ptr() as usize;
    t.check(
        "dm_op_max_nr_bufs can be set to 2",
        set("dm_op_max_nr_bufs", "2"),
        "",
    );
    t.eq(
        "... then 3 buffers answer E2BIG",
        raw::dm_op_descs(&o, a, &[(p, 32); 3]),
        Err(Errno(libc::E2BIG)),
    );
    t.eq(
        "... and 2 buffers still work",
        raw::dm_op_descs(&o, a, &[(p, 32); 2]),
        Ok(0),
    );
    t.check(
        "dm_op_buf_max_size can be set to 40",
        set("dm_op_buf_max_size", "40") && set("dm_op_max_nr_bufs", "16"),
        "",
    );
    let big = [0u8; 41];
    t.eq(
        "... then a 41-byte buffer answers E2BIG",
        raw::dm_op_descs(&o, a, &[(big.as_ptr() as usize, 41)]),
        Err(Errno(libc::E2BIG)),
    );
    set("dm_op_buf_max_size", "4096");

    // Restrict-at-open.
    const UID: u32 = 4242;
    t.eq(
        "binding uid 4242 to the guest",
        raw::restrict_uid(&o, UID, a, 0),
        Ok(0),
    );
    let listing = std::fs::read_to_string(raw::BINDINGS_FILE).unwrap_or_default();
    t.check(
        "the binding is listed in sysfs",
        listing.lines().any(|l| l == format!("{UID} {}", a.0)),
        &listing,
    );
    let mode = std::fs::metadata(raw::BINDINGS_FILE)
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
        .unwrap_or(0);
    t.eq(
        "the sysfs bindings file is root's only (mode 0400)",
        format!("{mode:o}"),
        "400".to_string(),
    );
    let peek = as_uid(4343, || {
        format!(
            "{:?}",
            std::fs::read_to_string(raw::BINDINGS_FILE).map_err(|e| e.raw_os_error())
        )
    });
    t.eq(
        "... an unprivileged uid cannot read it (EACCES)",
        peek,
        format!("Err(Some({}))", libc::EACCES),
    );
    t.eq(
        "binding to DOMID_INVALID is refused",
        raw::restrict_uid(&o, 1, DomId::INVALID, 0),
        Err(Errno(libc::EINVAL)),
    );
    t.eq(
        "binding a uid to dom0 is refused (EINVAL)",
        raw::restrict_uid(&o, 4444, DomId(0), 0),
        Err(Errno(libc::EINVAL)),
    );
    t.eq(
        "binding uid 0 is refused (EINVAL)",
        raw::restrict_uid(&o, 0, a, 0),
        Err(Errno(libc::EINVAL)),
    );
    t.eq(
        "unknown flags are refused",
        raw::restrict_uid(&o, 1, a, 0x40),
        Err(Errno(libc::EINVAL)),
    );
    t.eq(
        "unbinding a uid without binding: ENOENT",
        raw::restrict_uid(&o, 4343, a, 1),
        Err(Errno(libc::ENOENT)),
    );
    let ro = open(OUR_NODE);
    let _ = raw::restrict(&ro, a);
    t.eq(
        "a restricted fd cannot change bindings",
        raw::restrict_uid(&ro, 5, a, 0),
        Err(Errno(libc::EPERM)),
    );
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
    t.eq(
        "an unbound uid without CAP_SYS_ADMIN is refused (EACCES)",
        unbound,
        "Err(EACCES)".to_string(),
    );
    let cnode = as_uid(4343, || format!("{:?}", raw::open(C_NODE).map(|_| ())));
    t.note(format!("(the C node opened by uid 4343: {cnode})"));
    let inherited = {
        let fd = open(OUR_NODE);
        as_uid(UID, move || show(raw::restrict_uid(&fd, 7, DomId(1), 0)))
    };
    t.eq(
        "without CAP_SYS_ADMIN an unrestricted fd cannot change bindings",
        inherited,
        "EPERM".to_string(),
    );
    user_namespaces(t, &o, a, UID);
    t.eq(
        "unbinding uid 4242",
        raw::restrict_uid(&o, UID, a, 1),
        Ok(0),
    );
    let after = as_uid(UID, || format!("{:?}", raw::open(OUR_NODE).map(|_| ())));
    t.eq(
        "once unbound, uid 4242 is refused",
        after,
        "Err(EACCES)".to_string(),
    );
    let listing = std::fs::read_to_string(raw::BINDINGS_FILE).unwrap_or_default();
    t.check("sysfs lists nothing", listing.trim().is_empty(), &listing);
    allocation_bounds(t, w);
    unaligned_addresses(t, w);
    irqfd_cases(t, w);
    crate::ioeventfd::cases(t);
    forced_races(t, w);
    domain_life(t, w);
}

/// Auto-translated: a mapping's pages are counted against the guest they
/// were claimed for, so what is mapped into them later is that guest's
/// too; an unrestricted fd cannot claim for one guest and map another's.
fn xlate_other_domain(t: &mut Tap, w: &World, other: DomId) {
    let Some((gpa, _)) = &w.image else {
        t.check("auto-translated: the guest's image is known", false, "");
        return;
    };
    let gfn = (gpa >> 12) as XenPfn;
    let u = open(OUR_NODE);
    let Ok(m) = NodeMap::new(&u, 2) else {
        t.check("auto-translated: mmap of the node", false, "");
        return;
    };
    // The second frame fails, leaving a hole to map into later.
    let mut errs = [77i32; 2];
    let r = raw::mmapbatch_v2(&u, w.a, m.addr, &[gfn, 0xfff_ffff], Some(&mut errs));
    t.check(
        "auto-translated: an unrestricted fd claims two pages for one guest, the second a hole",
        errs[0] == 0 && errs[1] != 0,
        format_args!("{r:?} {errs:?}"),
    );
    let mut errs = [77i32; 1];
    t.eq(
        &format!("... and mapping d{}'s frame into the hole answers EINVAL (the pages are the first guest's)", other.0),
        raw::mmapbatch_v2(&u, other, m.addr + 4096, &[gfn], Some(&mut errs)),
        Err(Errno(libc::EINVAL)),
    );
    let mut errs = [77i32; 1];
    t.eq(
        "... while the first guest's frame maps there",
        raw::mmapbatch_v2(&u, w.a, m.addr + 4096, &[gfn], Some(&mut errs)),
        Ok(0),
    );
}

/// `rawdom`: a domain with a given id, made with libxenctrl alone.
const RAWDOM: &str = crate::contract::RAWDOM;

/// A domain made by `rawdom`, destroyed on drop.
struct RawDomain(DomId);

impl RawDomain {
    fn create(d: DomId) -> Result<Self, String> {
        let (ok, out) = xl::run(RAWDOM, &["create", &d.0.to_string()]);
        // Only a domain rawdom made is destroyed on drop.
        if ok {
            Ok(RawDomain(d))
        } else {
            Err(out)
        }
    }
}

impl Drop for RawDomain {
    fn drop(&mut self) {
        let _ = xl::run(RAWDOM, &["destroy", &self.0 .0.to_string()]);
    }
}

/// Auto-translated: a guest's count of mapped pages does not outlive it. A
/// mapping claimed for a guest whose every frame failed holds nothing of
/// the guest, so the guest goes when destroyed while the mapping stays;
/// a new domain given the same id at once (`rawdom`, past libxl's
/// recently-used list) starts from a count of its own, and the old
/// mapping takes no frame for it.
fn xlate_reused_domid(t: &mut Tap) {
    const OLD: usize = 1000;
    const NEW: usize = 100;
    // A domain rawdom makes may have no memory: its bound is the 1024 extra.
    const EXTRA: usize = 1024;
    let bad = |n: usize| vec![0xfff_ffff as XenPfn; n];
    let u = open(OUR_NODE);
    let c = open(C_NODE);
    let g = match Guest::create("pc-reuse", &xl::fake_dm_path(), true, "") {
        Ok(g) => g,
        Err(e) => {
            t.check("reused domid: a guest created", false, e);
            return;
        }
    };
    let d = g.domid;
    let (Ok(old), Ok(new), Ok(rest)) = (
        NodeMap::new(&u, OLD),
        NodeMap::new(&u, NEW),
        NodeMap::new(&u, EXTRA - NEW),
    ) else {
        t.check("reused domid: mmaps of the node", false, "");
        return;
    };
    let mut errs = vec![77i32; OLD];
    let r = raw::mmapbatch_v2(&u, d, old.addr, &bad(OLD), Some(&mut errs));
    t.check(
        &format!(
            "reused domid: {OLD} pages claimed for d{}, every frame failed",
            d.0
        ),
        r != Err(Errno(libc::ENOSPC)) && errs.iter().all(|&e| e != 0 && e != 77),
        format_args!("{r:?} first errs {:?}", &errs[..2]),
    );
    drop(g); // xl destroy: nothing of the guest is mapped, so it goes
    let started = std::time::Instant::now();
    while raw::maximum_reservation(&c, d).is_ok()
        && started.elapsed() < std::time::Duration::from_secs(10)
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    t.check(
        &format!(
            "... d{} is gone once destroyed, the mapping still there",
            d.0
        ),
        raw::maximum_reservation(&c, d).is_err(),
        format_args!("still known after {:?}", started.elapsed()),
    );
    // The module's check (on @releaseDomain, and every 2 s) drops the
    // gone guest's count; until then a frame may still go into the old
    // mapping (it fails: no such domain, leaving the hole), afterwards the
    // mapping takes none (EINVAL). The old module never gets there: the
    // wait ends after 10 s and the checks below fail.
    let started = std::time::Instant::now();
    let mut errs = [77i32; 1];
    while raw::mmapbatch_v2(&u, d, old.addr, &bad(1), Some(&mut errs)) != Err(Errno(libc::EINVAL))
        && started.elapsed() < std::time::Duration::from_secs(10)
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    t.note(format!(
        "old mapping closed to d{} after {:?}",
        d.0,
        started.elapsed()
    ));
    let raw_dom = match RawDomain::create(d) {
        Ok(r) => r,
        Err(e) => {
            t.check(
                &format!("a new domain given id {} at once (rawdom)", d.0),
                false,
                e,
            );
            return;
        }
    };
    t.note(format!(
        "new d{}: maximum reservation {:?}",
        d.0,
        raw::maximum_reservation(&c, d)
    ));
    let mut errs = vec![77i32; NEW];
    let r = raw::mmapbatch_v2(&u, d, new.addr, &bad(NEW), Some(&mut errs));
    t.check(
        &format!(
            "the new d{} starts from its own count: {NEW} pages claimed (the old guest's {OLD} would pass its bound)",
            d.0
        ),
        r != Err(Errno(libc::ENOSPC)) && errs.iter().all(|&e| e != 77),
        format_args!("{r:?}"),
    );
    let mut errs = [77i32; 1];
    t.eq(
        "... and the old guest's mapping takes no frame for it (EINVAL)",
        raw::mmapbatch_v2(&u, d, old.addr, &bad(1), Some(&mut errs)),
        Err(Errno(libc::EINVAL)),
    );
    drop(old);
    let mut errs = vec![77i32; EXTRA - NEW];
    let r = raw::mmapbatch_v2(&u, d, rest.addr, &bad(EXTRA - NEW), Some(&mut errs));
    t.check(
        &format!(
            "... the old mapping's close leaves it alone: {} more pages fit its bound of {EXTRA}",
            EXTRA - NEW
        ),
        r != Err(Errno(libc::ENOSPC)) && errs.iter().all(|&e| e != 77),
        format_args!("{r:?}"),
    );
    let mut errs = [77i32; 1];
    t.eq(
        "... and one more is past it (ENOSPC)",
        NodeMap::new(&u, 1)
            .and_then(|one| raw::mmapbatch_v2(&u, d, one.addr, &bad(1), Some(&mut errs))),
        Err(Errno(libc::ENOSPC)),
    );
    drop((new, rest));
    drop(raw_dom);
}

/// A binding or a restricted fd does not outlive its guest: once Xen no
/// longer knows the domain (the module watches @releaseDomain), its
/// bindings are gone and its fds answer ESRCH to everything, so a domain
/// id Xen hands out again never reaches an old device model.
fn domain_life(t: &mut Tap, w: &World) {
    const UID: u32 = 4646;
    let o = open(OUR_NODE);
    let b = match Guest::create("pc-b", &xl::fake_dm_path(), true, "") {
        Ok(g) => g,
        Err(e) => {
            t.check("a second guest created", false, e);
            return;
        }
    };
    let bd = b.domid;
    let ioreq = u32::from(ResourceType::IOREQ_SERVER.0);
    t.eq(
        &format!("binding uid {UID} to a second guest (d{})", bd.0),
        raw::restrict_uid(&o, UID, bd, 0),
        Ok(0),
    );
    let fd = open(OUR_NODE);
    t.eq("an fd restricted to it", raw::restrict(&fd, bd), Ok(0));
    t.eq("... works", raw::nr_vcpus(&fd, bd), Ok(1));
    let on_a = open(OUR_NODE);
    let _ = raw::restrict(&on_a, w.a);
    let listed = raw::binding_listed;
    t.check(
        &format!("uid {UID} is listed before the guest goes"),
        listed(UID),
        "",
    );
    if xl::auto_translated() {
        xlate_other_domain(t, w, bd);
        xlate_reused_domid(t);
    }
    let mut raise = XenDmOp::with_payload(
        DmopCode::SET_ISA_IRQ_LEVEL,
        &dmop_abi::dmop::SetIsaIrqLevel {
            isa_irq: 5,
            level: 1,
        },
    );
    let efd = raw::eventfd();
    t.eq(
        "an irqfd on it",
        raw::irqfd(&fd, bd, raise.as_mut_bytes(), &efd, 0),
        Ok(0),
    );
    drop(b); // xl destroy
    let started = std::time::Instant::now();
    while listed(UID) && started.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    t.check(
        "once the guest is destroyed, its binding is dropped",
        !listed(UID),
        format_args!("still listed after {:?}", started.elapsed()),
    );
    t.note(format!(
        "binding dropped {:?} after xl destroy",
        started.elapsed()
    ));
    let esrch = Err(Errno(libc::ESRCH));
    t.eq(
        "... its fd answers ESRCH to RESTRICT of its own guest",
        raw::restrict(&fd, bd),
        esrch,
    );
    t.eq(
        "... and to a DM_OP naming another guest",
        raw::nr_vcpus(&fd, w.a),
        Err(Errno(libc::ESRCH)),
    );
    t.eq(
        "... and to MMAP_RESOURCE",
        raw::mmap_resource(&fd, bd, ioreq, 0, 0, 0, 0).0,
        esrch,
    );
    if let Ok(m) = NodeMap::new(&fd, 1) {
        let mut errs = [0i32];
        t.eq(
            "... and to MMAPBATCH_V2",
            raw::mmapbatch_v2(&fd, bd, m.addr, &[0x100], Some(&mut errs)),
            esrch,
        );
    }
    t.eq(
        "... but deassigning its irqfd works (teardown after the guest's death)",
        raw::irqfd(
            &fd,
            bd,
            raise.as_mut_bytes(),
            &efd,
            dmop_abi::privcmd::IrqfdFlags::DEASSIGN.0,
        ),
        Ok(0),
    );
    t.eq(
        "binding a uid to the gone guest is refused (ESRCH)",
        raw::restrict_uid(&o, UID, bd, 0),
        esrch,
    );
    t.eq(
        "binding a uid to a domain that does not exist is refused (ESRCH)",
        raw::restrict_uid(&o, UID, DomId(999), 0),
        esrch,
    );
    let after = as_uid(UID, || format!("{:?}", raw::open(OUR_NODE).map(|_| ())));
    t.eq(
        &format!("uid {UID} now gets no fd (EACCES)"),
        after,
        "Err(EACCES)".to_string(),
    );
    t.eq(
        "fds of the other guest still work",
        raw::nr_vcpus(&on_a, w.a),
        Ok(1),
    );

    // A guest whose memory the fd still maps stays dying after xl destroy
    // (its pages are referenced), and xenstore says nothing when it finally
    // goes: the module's periodic check (every 2 s) closes the fd then.
    let Some((gpa, _)) = &w.image else {
        t.check("the test guest's image is known", false, "");
        return;
    };
    let c = match Guest::create("pc-c", &xl::fake_dm_path(), true, "") {
        Ok(g) => g,
        Err(e) => {
            t.check("a third guest created", false, e);
            return;
        }
    };
    let cd = c.domid;
    let fd = open(OUR_NODE);
    let _ = raw::restrict(&fd, cd);
    let m = match NodeMap::new(&fd, 1) {
        Ok(m) => m,
        Err(e) => {
            t.check("mmap of the node", false, format_args!("{e:?}"));
            return;
        }
    };
    let mut errs = [77i32];
    let mapped = raw::mmapbatch_v2(&fd, cd, m.addr, &[(gpa >> 12) as XenPfn], Some(&mut errs));
    t.check(
        "a page of the third guest mapped",
        mapped.is_ok() && errs[0] == 0,
        format_args!("{mapped:?} err {}", errs[0]),
    );
    drop(c);
    std::thread::sleep(std::time::Duration::from_secs(3));
    let zombies: Vec<String> = xl::run("xl", &["list"])
        .1
        .lines()
        .filter(|l| l.starts_with("(null)"))
        .map(str::to_string)
        .collect();
    t.note(format!("3 s after xl destroy, its page still mapped: dying domains {zombies:?}; RESTRICT of it {:?}", raw::restrict(&fd, cd)));
    t.check(
        "the destroyed guest stays dying while its page is mapped",
        !zombies.is_empty(),
        "no dying domain in xl list",
    );
    drop(m);
    let started = std::time::Instant::now();
    while raw::restrict(&fd, cd) != esrch && started.elapsed() < std::time::Duration::from_secs(8) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    t.eq(
        "once the mapping goes, and the guest with it, its fd answers ESRCH (the 2 s check)",
        raw::restrict(&fd, cd),
        esrch,
    );
    t.note(format!("closed {:?} after the unmap", started.elapsed()));
}

/// Writes `v` at user address `at` (unaligned).
fn poke<T: Copy>(at: usize, v: T) {
    // SAFETY: the callers pass addresses inside their own live mappings.
    unsafe { std::ptr::write_unaligned(at as *mut T, v) }
}

fn peek<T: Copy>(at: usize) -> T {
    // SAFETY: as for poke.
    unsafe { std::ptr::read_unaligned(at as *const T) }
}

/// Double fetches, forced with userfaultfd: the kernel's copy of an ioctl's
/// argument stalls on a missing page while another thread rewrites what
/// the copy has already read, or restricts the fd. Every value must be the
/// one the kernel read once.
fn forced_races(t: &mut Tap, w: &World) {
    use crate::uffd::Stall;
    use dmop_abi::dmop::NrVcpus;
    use dmop_abi::privcmd::{PrivcmdDmOp, PrivcmdDmOpBuf};
    use dmop_abi::types::UserPtr;
    const PAGE: usize = 4096;
    let a = w.a;
    // Without userfaultfd (CONFIG_USERFAULTFD) the cases cannot run: that fails.
    let stall = |t: &mut Tap| {
        Stall::new().map_err(|e| {
            t.check(
                "userfaultfd is available for the forced races",
                false,
                format_args!("{e:?}"),
            )
        })
    };
    let mut op = XenDmOp::with_payload(DmopCode::NR_VCPUS, &NrVcpus::ZEROED);
    let op_size = size_of_val(&op);
    let desc = [PrivcmdDmOpBuf {
        uptr: UserPtr::from_ptr(op.as_mut_bytes().as_mut_ptr()),
        size: op_size,
    }];
    let desc_at = desc.as_ptr() as usize;
    let ubufs_at = std::mem::offset_of!(PrivcmdDmOp, ubufs);
    // The struct straddles the pages: dom and num resident, ubufs stalled.
    let mut page = [0u8; PAGE];
    page[..8].copy_from_slice(&(desc_at as u64).to_ne_bytes());

    // 1. The domain rewritten while the kernel is still copying the struct.
    let r = open(OUR_NODE);
    let _ = raw::restrict(&r, a);
    if let Ok(st) = stall(t) {
        let at = st.second() - ubufs_at;
        poke(at, a);
        poke(at + 2, 1u16);
        let (res, faulted) = st.run(
            &page,
            || poke(at, DomId(999)),
            || raw::ioctl_addr(&r, privcmd::IOCTL_PRIVCMD_DM_OP, at),
        );
        let vcpus = op.payload::<NrVcpus>().vcpus;
        t.check(
            "forced race: dom rewritten (to 999) while the kernel copies the struct: the op is made on the domain read once (its own)",
            faulted && res == Ok(0) && vcpus == 1 && peek::<DomId>(at) == DomId(999),
            format_args!("faulted {faulted}, {res:?}, vcpus {vcpus}"),
        );
    }

    // 2. num rewritten (beyond the limit) while the kernel copies the descriptors.
    op = XenDmOp::with_payload(DmopCode::NR_VCPUS, &NrVcpus::ZEROED);
    if let Ok(st) = stall(t) {
        let arg = Box::new(PrivcmdDmOp {
            dom: a,
            num: 1,
            ubufs: UserPtr(st.second()),
            ..PrivcmdDmOp::ZEROED
        });
        let arg_at = &*arg as *const PrivcmdDmOp as usize;
        let mut dpage = [0u8; PAGE];
        dpage[..size_of::<PrivcmdDmOpBuf>()].copy_from_slice(desc[0].as_bytes());
        let (res, faulted) = st.run(
            &dpage,
            || poke(arg_at + 2, 17u16),
            || raw::ioctl_addr(&r, privcmd::IOCTL_PRIVCMD_DM_OP, arg_at),
        );
        let vcpus = op.payload::<NrVcpus>().vcpus;
        t.check(
            "forced race: num rewritten (to 17) while the kernel copies the descriptors: one buffer, as read once",
            faulted && res == Ok(0) && vcpus == 1 && peek::<u16>(arg_at + 2) == 17,
            format_args!("faulted {faulted}, {res:?}, vcpus {vcpus}"),
        );
    }

    // 3. The op code rewritten while the kernel copies buffer 0: Xen sees
    //    the copy, and the copy goes back.
    if let Ok(st) = stall(t) {
        let buf = st.second() - 8; // op and pad resident, the payload stalled
        poke(buf, DmopCode::NR_VCPUS);
        poke(buf + 4, 0u32);
        let descs = [(buf, op_size)];
        let (res, faulted) = st.run(
            &[0u8; PAGE],
            || poke(buf, DmopCode::CREATE_IOREQ_SERVER),
            || raw::dm_op_descs(&r, a, &descs),
        );
        let vcpus = peek::<u32>(buf + XenDmOp::PAYLOAD_OFFSET);
        t.check(
            "forced race: the op code rewritten while the kernel copies buffer 0: Xen runs the op read once, and the buffer gets its result",
            faulted && res == Ok(0) && vcpus == 1 && peek::<DmopCode>(buf) == DmopCode::NR_VCPUS,
            format_args!("faulted {faulted}, {res:?}, vcpus {vcpus}, op now {:?}", peek::<DmopCode>(buf)),
        );
    }

    // 4. RESTRICT racing a DM_OP whose struct is still being copied: the
    //    check comes after the read and sees the restriction.
    let u = open(OUR_NODE);
    if let Ok(st) = stall(t) {
        let at = st.second() - ubufs_at;
        poke(at, a);
        poke(at + 2, 1u16);
        let mut restricted = Err(Errno(0));
        let (res, faulted) = st.run(
            &page,
            || restricted = raw::restrict(&u, DomId(a.0 + 1)),
            || raw::ioctl_addr(&u, privcmd::IOCTL_PRIVCMD_DM_OP, at),
        );
        t.check(
            "forced race: RESTRICT (to another domain) while a DM_OP's struct is being copied: the op is refused (EPERM)",
            faulted && restricted == Ok(0) && res == Err(Errno(libc::EPERM)),
            format_args!("faulted {faulted}, restrict {restricted:?}, op {res:?}"),
        );
        t.eq(
            "... and so is every later op on the guest",
            raw::nr_vcpus(&u, a),
            Err(Errno(libc::EPERM)),
        );
    }
}

/// In the child `as_uid` made: a new user namespace, with `map` written to
/// its uid_map if given; then what the child is there and what opening
/// our node gives it.
fn open_in_userns(map: Option<&str>) -> String {
    // setuid made the child non-dumpable, which makes its /proc files root's:
    // it could not write its own uid_map.
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) };
    // SAFETY: unshare has no memory preconditions; the child is single-threaded.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
        return format!(
            "unshare={:?}",
            std::io::Error::last_os_error().raw_os_error()
        );
    }
    if let Some(m) = map {
        if let Err(e) = std::fs::write("/proc/self/uid_map", m) {
            return format!("uid_map={:?}", e.raw_os_error());
        }
    }
    // SAFETY: plain calls.
    let (uid, euid) = unsafe { (libc::getuid(), libc::geteuid()) };
    format!(
        "uid={uid} euid={euid} open={:?}",
        raw::open(OUR_NODE).map(|_| ())
    )
}

/// The user-namespace hole: a binding names a user of the host (a kuid),
/// never a number some namespace shows; an opener inside a user namespace
/// is refused (EPERM) whatever its uid.
fn user_namespaces(t: &mut Tap, o: &OwnedFd, a: DomId, bound: u32) {
    const OTHER: u32 = 4343;
    let overflow: u32 = std::fs::read_to_string("/proc/sys/kernel/overflowuid")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(65534);
    let eperm = format!("open={:?}", Err::<(), _>(Errno(libc::EPERM)));

    let mapped = as_uid(OTHER, || {
        open_in_userns(Some(&format!("{bound} {OTHER} 1")))
    });
    t.note(format!(
        "uid {OTHER} in a user namespace mapping itself to {bound}: {mapped}"
    ));
    t.check(
        &format!(
            "uid {OTHER}, in a user namespace where it is uid {bound} (bound), gets no fd (EPERM)"
        ),
        mapped.starts_with(&format!("uid={bound} ")) && mapped.ends_with(&eperm),
        &mapped,
    );

    t.eq(
        &format!("binding the overflow uid {overflow} to the guest"),
        raw::restrict_uid(o, overflow, a, 0),
        Ok(0),
    );
    let unmapped = as_uid(OTHER, || open_in_userns(None));
    t.note(format!(
        "uid {OTHER} in a user namespace with no mapping: {unmapped}"
    ));
    t.check(
        &format!("uid {OTHER}, unmapped in a user namespace (seen as {overflow}, bound), gets no fd (EPERM)"),
        unmapped.starts_with(&format!("uid={overflow} ")) && unmapped.ends_with(&eperm),
        &unmapped,
    );
    let plain = as_uid(OTHER, || format!("{:?}", raw::open(OUR_NODE).map(|_| ())));
    t.eq(
        &format!("... and outside it, uid {OTHER} is still refused (EACCES)"),
        plain,
        "Err(EACCES)".to_string(),
    );
    t.eq(
        &format!("unbinding uid {overflow}"),
        raw::restrict_uid(o, overflow, a, 1),
        Ok(0),
    );

    let own = as_uid(bound, || open_in_userns(Some(&format!("0 {bound} 1"))));
    t.note(format!(
        "uid {bound} (bound) in a user namespace of its own: {own}"
    ));
    t.check(
        &format!("the bound uid {bound} itself, inside a user namespace, is refused too (EPERM)"),
        own.ends_with(&eperm),
        &own,
    );
}

/// The allocation hole: counts are bounded by the caller's mapping (and
/// by the remap's int) before anything is sized by them. Under
/// panic_on_warn the page allocator's warning on an oversized request
/// would end the run here.
/// An unaligned `addr` in a used mapping of the node: Linux's remap walks
/// whole pages from it, and a walk that starts unaligned across a 2 MiB
/// boundary never meets its aligned end (it wrote past an on-stack array
/// in the remap). Refused with EINVAL; the C driver masks it instead.
fn unaligned_addresses(t: &mut Tap, w: &World) {
    const PAGE: usize = 4096;
    const PAGES: usize = 2048; // 8 MiB: a 2 MiB boundary well inside
    let fd = open(OUR_NODE);
    let _ = raw::restrict(&fd, w.a);
    let Ok(m) = NodeMap::new(&fd, PAGES) else {
        t.check("mmap of 8 MiB of the node", false, "");
        return;
    };
    // Make the vma "used" with nothing mapped: a whole-vma batch whose frame
    // array faults at once (8 readable bytes, then a PROT_NONE page).
    // SAFETY: a fresh anonymous mapping of two pages.
    let guard = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            2 * PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    } as usize;
    // SAFETY: the second page of our mapping.
    unsafe { libc::mprotect((guard + PAGE) as *mut libc::c_void, PAGE, libc::PROT_NONE) };
    let arr = guard + PAGE - 8;
    let mut errs = vec![0i32; PAGES];
    let mut arg = privcmd::PrivcmdMmapbatchV2 {
        num: PAGES as u32,
        dom: w.a,
        addr: m.addr as u64,
        arr: dmop_abi::types::UserPtr(arr),
        err: dmop_abi::types::UserPtr::from_ptr(errs.as_mut_ptr()),
        ..privcmd::PrivcmdMmapbatchV2::ZEROED
    };
    let first = raw::ioctl_struct(&fd, privcmd::IOCTL_PRIVCMD_MMAPBATCH_V2, &mut arg);
    t.eq("a whole-mapping batch whose frame array faults: EFAULT (the mapping is now used, nothing mapped)", first, Err(Errno(libc::EFAULT)));
    t.check(
        "... and every error slot says so",
        errs.iter().all(|&e| e == -libc::EFAULT),
        format_args!("{:?}", &errs[..4]),
    );
    // SAFETY: our mapping.
    unsafe { libc::munmap(guard as *mut libc::c_void, 2 * PAGE) };
    let boundary = (m.addr + 16 * PAGE).next_multiple_of(2 << 20);
    let unaligned = boundary - 8 * PAGE + 0x800;
    let gfns = vec![0x100 as XenPfn; 16];
    let mut errs16 = vec![0i32; 16];
    t.eq(
        "MMAPBATCH_V2 of 16 frames at an unaligned address across a 2 MiB boundary: EINVAL",
        raw::mmapbatch_v2_num(&fd, w.a, unaligned, 16, &gfns, &mut errs16),
        Err(Errno(libc::EINVAL)),
    );
    let ioreq = u32::from(ResourceType::IOREQ_SERVER.0);
    t.eq(
        "MMAP_RESOURCE at an unaligned address: EINVAL",
        raw::mmap_resource(&fd, w.a, ioreq, w.server, 0, 1, unaligned).0,
        Err(Errno(libc::EINVAL)),
    );
    if let Some((gpa, bytes)) = &w.image {
        let mut e = [77i32];
        let r = raw::mmapbatch_v2(&fd, w.a, boundary, &[(gpa >> 12) as XenPfn], Some(&mut e));
        let same = r.is_ok()
            && (0..bytes.len())
                .all(|i| m.byte(boundary - m.addr + (*gpa as usize & 0xfff) + i) == bytes[i]);
        t.check(
            "... while the aligned address there maps (the guest's code page)",
            same && e[0] == 0,
            format_args!("{r:?} err {}", e[0]),
        );
    }
}

fn allocation_bounds(t: &mut Tap, w: &World) {
    let fd = open(OUR_NODE);
    let _ = raw::restrict(&fd, w.a);
    let Ok(m) = NodeMap::new(&fd, 1) else {
        t.check("mmap of the node", false, "");
        return;
    };
    // On the heap, low in the address space: the C driver's first check,
    // access_ok of `num` error slots, passes, so the count itself is tested.
    let gfns = vec![0x100 as XenPfn; 4];
    let mut errs = vec![0i32; 4];
    for num in [(1u32 << 31) - 1, 1 << 31, u32::MAX] {
        t.eq(
            &format!(
                "MMAPBATCH_V2 with num {num:#x} on a one-page mapping: EINVAL, nothing allocated"
            ),
            raw::mmapbatch_v2_num(&fd, w.a, m.addr, num, &gfns, &mut errs),
            Err(Errno(libc::EINVAL)),
        );
    }
    let ioreq = u32::from(ResourceType::IOREQ_SERVER.0);
    for num in [(1u64 << 31) - 1, 1 << 31, 1 << 32, (1 << 32) + 1, u64::MAX] {
        t.eq(
            &format!(
                "MMAP_RESOURCE with num {num:#x} on a one-page mapping: EINVAL, nothing allocated"
            ),
            raw::mmap_resource(&fd, w.a, ioreq, w.server, 0, num, m.addr).0,
            Err(Errno(libc::EINVAL)),
        );
    }
    let (_, size) = raw::mmap_resource(&fd, w.a, ioreq, w.server, 0, 0, 0);
    if let Ok(big) = NodeMap::new(&fd, size as usize + 1) {
        t.eq(
            &format!(
                "MMAP_RESOURCE of {} frames of a {size}-frame resource: EINVAL",
                size + 1
            ),
            raw::mmap_resource(&fd, w.a, ioreq, w.server, 0, size + 1, big.addr).0,
            Err(Errno(libc::EINVAL)),
        );
    }
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
        privcmd::IOCTL_PRIVCMD_IRQFD,
    ];
    let efd = raw::eventfd();
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
        let fd = if use_restricted {
            &restricted
        } else {
            &unrestricted
        };
        let cmd = if rng.below(8) == 0 {
            (rng.next() as u32) & 0xc03f_ffff
        } else {
            cmds[rng.below(cmds.len() as u64) as usize]
        };
        for b in arg.iter_mut().chain(buf.iter_mut()) {
            *b = rng.next() as u8;
        }
        // Domain fields get targets worth trying; pointers sometimes point at real buffers.
        let targets = [
            w.a.0,
            0,
            999,
            DomId::INVALID.0,
            w.a.0 + 1,
            rng.next() as u16,
        ];
        let dom = if use_restricted {
            targets[rng.below(targets.len() as u64) as usize]
        } else {
            [w.a.0, 999, DomId::INVALID.0][rng.below(3) as usize]
        };
        arg[0..2].copy_from_slice(&dom.to_ne_bytes());
        if rng.below(2) == 0 {
            let p = (buf.as_ptr() as usize).to_ne_bytes();
            arg[8..16].copy_from_slice(&p);
        }
        if cmd == privcmd::IOCTL_PRIVCMD_MMAP_RESOURCE || cmd == privcmd::IOCTL_PRIVCMD_MMAPBATCH_V2
        {
            if let Some(m) = &map {
                if rng.below(2) == 0 {
                    let at = if cmd == privcmd::IOCTL_PRIVCMD_MMAP_RESOURCE {
                        24
                    } else {
                        8
                    };
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
                escapes.push(format!(
                    "round {i}: DM_OP on {dom} from a restricted fd: {r:?}"
                ));
            }
            continue;
        }
        if cmd == privcmd::IOCTL_PRIVCMD_IRQFD && rng.below(2) == 0 {
            // A well-formed assign sometimes: a real eventfd, a random op
            // (never signalled), the round's domain.
            let size = 1 + rng.below(64) as usize;
            let r = raw::irqfd(fd, DomId(dom), &mut buf[..size], &efd, 0);
            counts[usize::from(use_restricted)] += 1;
            if use_restricted && dom != w.a.0 && r.is_ok() {
                escapes.push(format!(
                    "round {i}: IRQFD on {dom} from a restricted fd: {r:?}"
                ));
            }
            if r.is_ok() {
                let _ = raw::irqfd(
                    fd,
                    DomId(dom),
                    &mut buf[..size],
                    &efd,
                    privcmd::IrqfdFlags::DEASSIGN.0,
                );
            }
            continue;
        }
        if cmd == privcmd::IOCTL_PRIVCMD_RESTRICT_UID && rng.below(4) != 0 {
            continue; // keep the binding table for the other tests
        }
        let r = raw::ioctl_addr(fd, cmd, arg.as_mut_ptr() as usize);
        counts[usize::from(use_restricted)] += 1;
        let checked_dom = matches!(
            cmd,
            privcmd::IOCTL_PRIVCMD_DM_OP | privcmd::IOCTL_PRIVCMD_MMAP_RESOURCE
        );
        if use_restricted
            && checked_dom
            && dom != w.a.0
            && r != Err(Errno(libc::EPERM))
            && r != Err(Errno(libc::EFAULT))
        {
            escapes.push(format!(
                "round {i}: {cmd:#x} on {dom} from a restricted fd: {r:?}"
            ));
        }
        if cmd == privcmd::IOCTL_PRIVCMD_RESTRICT_UID && r.is_ok() {
            let uid = u32::from_ne_bytes(arg[0..4].try_into().unwrap());
            let _ = raw::restrict_uid(&unrestricted, uid, w.a, 1);
        }
    }
    t.note(format!(
        "random ioctls: seed {SEED:#x}, {} from a restricted fd, {} from an unrestricted one",
        counts[1], counts[0]
    ));
    t.check(
        &format!(
            "random ioctls (seed {SEED:#x}): no op from a restricted fd reached another domain"
        ),
        escapes.is_empty(),
        format_args!("{escapes:#?}"),
    );
}

fn unload_and_exit(t: &mut Tap, w: &World) {
    {
        let fd = open(OUR_NODE);
        t.check(
            "unload is refused while an fd is open",
            delete_module().is_err(),
            "",
        );
        let m = NodeMap::new(&fd, 2);
        let ioreq = u32::from(ResourceType::IOREQ_SERVER.0);
        if let Ok(m) = &m {
            let _ = raw::mmap_resource(&fd, w.a, ioreq, w.server, 0, 2, m.addr);
        }
        drop(fd);
        t.check(
            "unload is refused while a mapping remains",
            delete_module().is_err(),
            "",
        );
        drop(m);
    }
    t.check(
        "unload succeeds once everything is closed",
        delete_module().is_ok(),
        "",
    );
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
    t.eq(
        "a process exits with an fd and a mapping open",
        out,
        "exited".to_string(),
    );
    t.check(
        "... and then the module unloads (its references are gone)",
        delete_module().is_ok(),
        "",
    );
    t.check("... and loads again", load_module(), "");
}

/// The ISA IRQs pending in a guest's virtual PICs (master in the low byte,
/// slave in the high), as Xen's own `xen-hvmctx` prints them.
fn pic_irr(d: DomId) -> Option<u16> {
    let out = xl::run("xen-hvmctx", &[&d.0.to_string()]).1;
    let irr: Vec<u16> = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("PIC: "))
        .filter_map(|l| l.split(", ").find_map(|f| f.strip_prefix("irr ")))
        .filter_map(|v| u16::from_str_radix(v.trim_start_matches("0x"), 16).ok())
        .collect();
    match irr[..] {
        [master, slave] => Some(master | slave << 8),
        _ => None,
    }
}

/// IOCTL_PRIVCMD_IRQFD, restricted: the kernel makes an interrupt DM_OP
/// whenever an eventfd is signalled. Each case raises its own ISA IRQ on
/// the paused guest, and its virtual PIC shows which were raised.
fn irqfd_cases(t: &mut Tap, w: &World) {
    use dmop_abi::dmop::{DestroyIoreqServer, SetIsaIrqLevel};
    use dmop_abi::privcmd::IrqfdFlags;
    let a = w.a;
    let raise = |irq: u8| {
        XenDmOp::with_payload(
            DmopCode::SET_ISA_IRQ_LEVEL,
            &SetIsaIrqLevel {
                isa_irq: irq,
                level: 1,
            },
        )
    };
    let pending = |irq: u8| pic_irr(a).map(|m| m & (1 << irq) != 0);
    if !cfg!(target_arch = "x86_64") {
        t.note("irqfd: its effect is read from x86's virtual PIC; not run on this architecture");
        return;
    }
    let Some(before) = pic_irr(a) else {
        t.check(
            "xen-hvmctx shows the guest's PICs",
            false,
            xl::run("xen-hvmctx", &[&a.0.to_string()]).1,
        );
        return;
    };
    t.note(format!("the guest's PIC IRR before: {before:#06x}"));
    let fd = open(OUR_NODE);
    let _ = raw::restrict(&fd, a);
    let deassign = IrqfdFlags::DEASSIGN.0;

    let mut op = raise(5);
    let e1 = raw::eventfd();
    t.eq(
        "IRQFD (raise ISA IRQ 5) on its guest, from a restricted fd",
        raw::irqfd(&fd, a, op.as_mut_bytes(), &e1, 0),
        Ok(0),
    );
    t.eq(
        "... nothing happens before the eventfd is signalled",
        pending(5),
        Some(false),
    );
    t.check(
        "... signalled, the kernel makes the op: IRQ 5 is pending in the guest's PIC",
        raw::signal(&e1) && pending(5) == Some(true),
        format_args!("{:?}", pic_irr(a)),
    );
    t.eq(
        "... deassigned",
        raw::irqfd(&fd, a, op.as_mut_bytes(), &e1, deassign),
        Ok(0),
    );
    t.eq(
        "... a second deassign: ENOENT",
        raw::irqfd(&fd, a, op.as_mut_bytes(), &e1, deassign),
        Err(Errno(libc::ENOENT)),
    );

    let e2 = raw::eventfd();
    for (what, dom) in [("dom0", DomId(0)), ("another domain", DomId(999))] {
        t.eq(
            &format!("IRQFD on {what} from a restricted fd: EPERM"),
            raw::irqfd(&fd, dom, op.as_mut_bytes(), &e2, 0),
            Err(Errno(libc::EPERM)),
        );
    }
    let mut long = XenDmOp::with_payload(
        DmopCode::DESTROY_IOREQ_SERVER,
        &DestroyIoreqServer {
            id: dmop_abi::types::IoservId(w.server as u16),
            pad: 0,
        },
    );
    t.eq("IRQFD with an op that is no interrupt (destroy_ioreq_server): EINVAL (it would run with interrupts off)", raw::irqfd(&fd, a, long.as_mut_bytes(), &e2, 0), Err(Errno(libc::EINVAL)));
    t.eq(
        "IRQFD with unknown flags: EINVAL",
        raw::irqfd(&fd, a, op.as_mut_bytes(), &e2, 0x10),
        Err(Errno(libc::EINVAL)),
    );
    t.eq(
        "IRQFD with an empty op: EINVAL",
        raw::irqfd(&fd, a, &mut [], &e2, 0),
        Err(Errno(libc::EINVAL)),
    );
    let mut big = vec![0u8; 4097];
    big[..op.as_bytes().len()].copy_from_slice(op.as_bytes());
    t.eq(
        "IRQFD with a 4097-byte op: EINVAL",
        raw::irqfd(&fd, a, &mut big, &e2, 0),
        Err(Errno(libc::EINVAL)),
    );
    let not_eventfd = open(OUR_NODE);
    t.eq(
        "IRQFD on an fd that is no eventfd: EINVAL",
        raw::irqfd(&fd, a, op.as_mut_bytes(), &not_eventfd, 0),
        Err(Errno(libc::EINVAL)),
    );

    let mut op6 = raise(6);
    let e6 = raw::eventfd();
    t.eq(
        "IRQFD (raise IRQ 6)",
        raw::irqfd(&fd, a, op6.as_mut_bytes(), &e6, 0),
        Ok(0),
    );
    t.eq(
        "... the same eventfd again on this fd: EBUSY",
        raw::irqfd(&fd, a, op6.as_mut_bytes(), &e6, 0),
        Err(Errno(libc::EBUSY)),
    );
    t.eq(
        "... deassigned",
        raw::irqfd(&fd, a, op6.as_mut_bytes(), &e6, deassign),
        Ok(0),
    );
    t.check(
        "... a deassigned irqfd never fires (IRQ 6 not pending)",
        raw::signal(&e6) && pending(6) == Some(false),
        format_args!("{:?}", pic_irr(a)),
    );

    // The kernel's copy, read at assign, runs: not the caller's buffer now.
    let owner = open(OUR_NODE);
    let _ = raw::restrict(&owner, a);
    let mut op3 = raise(3);
    let e3 = raw::eventfd();
    t.eq(
        "IRQFD (raise IRQ 3) on a second fd",
        raw::irqfd(&owner, a, op3.as_mut_bytes(), &e3, 0),
        Ok(0),
    );
    op3 = raise(4);
    t.check(
        "... its buffer rewritten to IRQ 4, then signalled: IRQ 3 is raised, not 4",
        raw::signal(&e3) && pending(3) == Some(true) && pending(4) == Some(false),
        format_args!("{:?} (buffer now {:?})", pic_irr(a), op3.u[0]),
    );
    let mut op7 = raise(7);
    let e7 = raw::eventfd();
    t.eq(
        "IRQFD (raise IRQ 7) on the second fd",
        raw::irqfd(&owner, a, op7.as_mut_bytes(), &e7, 0),
        Ok(0),
    );
    drop(owner);
    t.check(
        "... that fd closed, its irqfds never fire (IRQ 7 not pending)",
        raw::signal(&e7) && pending(7) == Some(false),
        format_args!("{:?}", pic_irr(a)),
    );

    // A signal pending at assign fires at once (slave PIC: IRQ 10).
    let mut op10 = raise(10);
    let e10 = raw::eventfd();
    raw::signal(&e10);
    t.check(
        "IRQFD on an eventfd signalled before the assign fires at once (IRQ 10)",
        raw::irqfd(&fd, a, op10.as_mut_bytes(), &e10, 0) == Ok(0) && pending(10) == Some(true),
        format_args!("{:?}", pic_irr(a)),
    );

    // At most 64 per fd; an irqfd whose eventfd was closed is reaped at the
    // next assign.
    let lower = |irq| {
        XenDmOp::with_payload(
            DmopCode::SET_ISA_IRQ_LEVEL,
            &SetIsaIrqLevel {
                isa_irq: irq,
                level: 0,
            },
        )
    };
    let full = open(OUR_NODE);
    let _ = raw::restrict(&full, a);
    let mut ops: Vec<XenDmOp> = (0..65).map(|_| lower(11)).collect();
    let mut fds: Vec<OwnedFd> = (0..65).map(|_| raw::eventfd()).collect();
    let mut assigned = 0;
    for (o, e) in ops.iter_mut().zip(&fds).take(64) {
        assigned += usize::from(raw::irqfd(&full, a, o.as_mut_bytes(), e, 0) == Ok(0));
    }
    t.eq("64 irqfds on one fd", assigned, 64);
    t.eq(
        "... a 65th: ENOSPC",
        raw::irqfd(&full, a, ops[64].as_mut_bytes(), &fds[64], 0),
        Err(Errno(libc::ENOSPC)),
    );
    drop(fds.remove(0)); // fds[63] is now the 65th eventfd
    t.eq(
        "... one of their eventfds closed: the 65th now fits (the hung-up one reaped)",
        raw::irqfd(&full, a, ops[64].as_mut_bytes(), &fds[63], 0),
        Ok(0),
    );
    // The library's Irqfd (xendevicemodel), on a descriptor restricted to the guest.
    match DeviceModel::open_path(OUR_NODE).and_then(|d| d.restrict(a).map(|()| d)) {
        Ok(lib) => {
            let irq = lib.irqfd(a, &raise(12));
            t.check(
                "xendevicemodel's Irqfd: signal() raises the IRQ (12)",
                irq.as_ref().is_ok_and(|i| i.signal().is_ok()) && pending(12) == Some(true),
                format_args!("{irq:?} {:?}", pic_irr(a)),
            );
            match lib.irqfd(a, &raise(13)) {
                Ok(irq13) => {
                    let copy = std::os::fd::AsFd::as_fd(&irq13)
                        .try_clone_to_owned()
                        .expect("dup of the eventfd");
                    drop(irq13);
                    t.check(
                        "... dropped, it is removed: a signal through a copy of its eventfd raises nothing (13)",
                        raw::signal(&copy) && pending(13) == Some(false),
                        format_args!("{:?}", pic_irr(a)),
                    );
                }
                Err(e) => {
                    t.check("xendevicemodel's Irqfd (13)", false, e);
                }
            }
            t.eq(
                "... on another domain: EPERM",
                lib.irqfd(DomId(999), &raise(12)).err().map(|e| e.errno()),
                Some(libc::EPERM),
            );
        }
        Err(e) => {
            t.check("xendevicemodel on our node", false, e);
        }
    }
}
