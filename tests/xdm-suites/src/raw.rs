// SPDX-License-Identifier: MIT
//! Raw privcmd and evtchn ioctls, with numbers and structs from dmop-abi,
//! to test drivers directly (no library in between).

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use dmop_abi::dmop::{CreateIoreqServer, DestroyIoreqServer, DmopCode, XenDmOp};
use dmop_abi::evtchn::{self, EvtchnBindUnboundPort, EvtchnRestrictDomid};
use dmop_abi::privcmd::{self, PrivcmdDmOp, PrivcmdDmOpBuf, PrivcmdHypercall};
use dmop_abi::types::{DomId, IoservId, UserPtr};
use zerocopy::IntoBytes;

/// An errno value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl std::fmt::Debug for Errno {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(errno_name(self.0))
    }
}

/// The symbolic name of an errno: the library's.
pub use xendevicemodel::errno_name;

/// `ioctl` result: the return value or the errno.
pub type IoctlResult = Result<i32, Errno>;

pub fn last_errno() -> Errno {
    Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

/// Opens a device read-write, close-on-exec.
pub fn open(path: &str) -> Result<OwnedFd, Errno> {
    let c = CString::new(path).expect("no NUL");
    // SAFETY: `c` is a valid NUL-terminated string; open has no other preconditions.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(last_errno());
    }
    // SAFETY: `fd` was just returned by open and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `ioctl(fd, cmd, arg)` with a pointer argument.
///
/// # Safety
///
/// `arg` must point to memory the ioctl `cmd` may read and write.
pub unsafe fn ioctl_ptr(fd: impl AsFd, cmd: u32, arg: *mut libc::c_void) -> IoctlResult {
    // SAFETY: the caller guarantees that `arg` is valid for `cmd`.
    let r = unsafe { libc::ioctl(fd.as_fd().as_raw_fd(), cmd as libc::Ioctl, arg) };
    if r < 0 {
        Err(last_errno())
    } else {
        Ok(r)
    }
}

/// `IOCTL_PRIVCMD_DM_OP` with the given buffers.
pub fn dm_op(fd: &OwnedFd, dom: DomId, bufs: &mut [&mut [u8]]) -> IoctlResult {
    let mut ubufs: Vec<PrivcmdDmOpBuf> = bufs
        .iter_mut()
        .map(|b| PrivcmdDmOpBuf {
            uptr: UserPtr::from_ptr(b.as_mut_ptr()),
            size: b.len(),
        })
        .collect();
    let mut arg = PrivcmdDmOp {
        dom,
        num: ubufs.len() as u16,
        ubufs: UserPtr::from_ptr(ubufs.as_mut_ptr()),
        ..PrivcmdDmOp::ZEROED
    };
    // SAFETY: `arg` points to the buffer array, which points to the caller's
    // buffers; all stay alive and writable for the call.
    unsafe { ioctl_ptr(fd, privcmd::IOCTL_PRIVCMD_DM_OP, (&raw mut arg).cast()) }
}

/// `IOCTL_PRIVCMD_DM_OP` with `num` = 0 and no buffers (libxendevicemodel's probe).
pub fn dm_op_empty(fd: &OwnedFd, dom: DomId) -> IoctlResult {
    let mut arg = PrivcmdDmOp {
        dom,
        ..PrivcmdDmOp::ZEROED
    };
    // SAFETY: with num == 0 the driver reads no buffer array.
    unsafe { ioctl_ptr(fd, privcmd::IOCTL_PRIVCMD_DM_OP, (&raw mut arg).cast()) }
}

/// Creates an ioreq server on `dom` (a real op with a visible effect).
pub fn create_ioreq_server(fd: &OwnedFd, dom: DomId) -> Result<IoservId, Errno> {
    let mut op = XenDmOp::with_payload(DmopCode::CREATE_IOREQ_SERVER, &CreateIoreqServer::ZEROED);
    dm_op(fd, dom, &mut [op.as_mut_bytes()])?;
    Ok(op.payload::<CreateIoreqServer>().id)
}

/// Destroys an ioreq server.
pub fn destroy_ioreq_server(fd: &OwnedFd, dom: DomId, id: IoservId) -> IoctlResult {
    let mut op = XenDmOp::with_payload(
        DmopCode::DESTROY_IOREQ_SERVER,
        &DestroyIoreqServer {
            id,
            ..DestroyIoreqServer::ZEROED
        },
    );
    dm_op(fd, dom, &mut [op.as_mut_bytes()])
}

/// `IOCTL_PRIVCMD_RESTRICT`.
pub fn restrict(fd: &OwnedFd, dom: DomId) -> IoctlResult {
    let mut d = dom;
    // SAFETY: the argument is a domid_t the driver reads.
    unsafe { ioctl_ptr(fd, privcmd::IOCTL_PRIVCMD_RESTRICT, (&raw mut d).cast()) }
}

/// `IOCTL_PRIVCMD_HYPERCALL` of `xen_version(XENVER_version)`: harmless, answered by Xen for anyone.
pub fn hypercall_xen_version(fd: &OwnedFd) -> IoctlResult {
    const HYPERVISOR_XEN_VERSION: u64 = 17;
    let mut h = PrivcmdHypercall {
        op: HYPERVISOR_XEN_VERSION,
        ..PrivcmdHypercall::ZEROED
    };
    // SAFETY: xen_version(0, NULL) reads and writes nothing in our memory.
    unsafe { ioctl_ptr(fd, privcmd::IOCTL_PRIVCMD_HYPERCALL, (&raw mut h).cast()) }
}

/// `IOCTL_PRIVCMD_HYPERCALL` of `memory_op(XENMEM_maximum_reservation,
/// &dom)`: the most pages Xen lets `dom` have (an unrestricted fd on the C
/// driver).
pub fn maximum_reservation(fd: &OwnedFd, dom: DomId) -> IoctlResult {
    // XENMEM_maximum_reservation in Xen's public memory.h (dmop-abi has
    // no need of it outside this test).
    const XENMEM_MAXIMUM_RESERVATION: u64 = 4;
    let mut d = dom.0;
    let mut h = PrivcmdHypercall {
        op: u64::from(dmop_abi::xenmem::HYPERVISOR_MEMORY_OP),
        arg: [XENMEM_MAXIMUM_RESERVATION, (&raw mut d) as u64, 0, 0, 0],
    };
    // SAFETY: Xen reads the domid_t `d`, alive across the call.
    unsafe { ioctl_ptr(fd, privcmd::IOCTL_PRIVCMD_HYPERCALL, (&raw mut h).cast()) }
}

/// `IOCTL_PRIVCMD_HYPERCALL` of `dm_op(dom, nr_bufs, bufs)`: the
/// hypercall itself, with no driver's checks in between, to see what Xen
/// answers (an unrestricted fd on the C driver only).
///
/// # Safety
///
/// `bufs` must point to `nr_bufs` buffer descriptors (or be null with
/// `nr_bufs` = 0) whose buffers Xen may read and write.
pub unsafe fn hypercall_dm_op(
    fd: &OwnedFd,
    dom: DomId,
    nr_bufs: u32,
    bufs: *mut dmop_abi::dmop::DmOpBuf,
) -> IoctlResult {
    // __HYPERVISOR_dm_op in xen/include/public/xen.h.
    const HYPERVISOR_DM_OP: u64 = 41;
    let mut h = PrivcmdHypercall {
        op: HYPERVISOR_DM_OP,
        arg: [u64::from(dom.0), u64::from(nr_bufs), bufs as u64, 0, 0],
    };
    // SAFETY: the caller guarantees the descriptors and their buffers.
    unsafe { ioctl_ptr(fd, privcmd::IOCTL_PRIVCMD_HYPERCALL, (&raw mut h).cast()) }
}

/// `IOCTL_EVTCHN_RESTRICT_DOMID`.
pub fn evtchn_restrict(fd: &OwnedFd, dom: DomId) -> IoctlResult {
    let mut r = EvtchnRestrictDomid { domid: dom };
    // SAFETY: the argument is the struct the ioctl reads.
    unsafe { ioctl_ptr(fd, evtchn::IOCTL_EVTCHN_RESTRICT_DOMID, (&raw mut r).cast()) }
}

/// `IOCTL_EVTCHN_BIND_UNBOUND_PORT`: returns the new local port.
pub fn evtchn_bind_unbound(fd: &OwnedFd, remote: DomId) -> IoctlResult {
    let mut b = EvtchnBindUnboundPort {
        remote_domain: u32::from(remote.0),
    };
    // SAFETY: the argument is the struct the ioctl reads.
    unsafe {
        ioctl_ptr(
            fd,
            evtchn::IOCTL_EVTCHN_BIND_UNBOUND_PORT,
            (&raw mut b).cast(),
        )
    }
}

/// Issues `cmd` with a pointer to `arg` (any plain struct).
pub fn ioctl_struct<T: IntoBytes + zerocopy::FromBytes>(
    fd: impl AsFd,
    cmd: u32,
    arg: &mut T,
) -> IoctlResult {
    // SAFETY: `arg` is a live, writable struct of the size the command encodes.
    unsafe { ioctl_ptr(fd, cmd, (arg as *mut T).cast()) }
}

/// Issues `cmd` with a raw (possibly bogus) address as the argument.
pub fn ioctl_addr(fd: &OwnedFd, cmd: u32, addr: usize) -> IoctlResult {
    // SAFETY: the kernel validates user addresses; a bad one gives EFAULT.
    unsafe { ioctl_ptr(fd, cmd, addr as *mut libc::c_void) }
}

/// `IOCTL_PRIVCMD_DM_OP` with raw descriptors (address, size), bogus ones allowed.
pub fn dm_op_descs(fd: &OwnedFd, dom: DomId, descs: &[(usize, usize)]) -> IoctlResult {
    let mut ubufs: Vec<PrivcmdDmOpBuf> = descs
        .iter()
        .map(|&(a, s)| PrivcmdDmOpBuf {
            uptr: UserPtr(a),
            size: s,
        })
        .collect();
    let mut arg = PrivcmdDmOp {
        dom,
        num: ubufs.len() as u16,
        ubufs: UserPtr::from_ptr(ubufs.as_mut_ptr()),
        ..PrivcmdDmOp::ZEROED
    };
    ioctl_struct(fd, privcmd::IOCTL_PRIVCMD_DM_OP, &mut arg)
}

/// A shared mapping of `pages` pages of a privcmd node; unmapped on drop.
#[derive(Debug)]
pub struct NodeMap {
    /// Start address.
    pub addr: usize,
    /// Length in bytes.
    pub len: usize,
}

impl NodeMap {
    /// `mmap` of the node (read-write, shared).
    pub fn new(fd: &OwnedFd, pages: usize) -> Result<Self, Errno> {
        let len = pages * 4096;
        // SAFETY: a fresh mapping chosen by the kernel.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(last_errno());
        }
        Ok(Self {
            addr: p as usize,
            len,
        })
    }

    /// Reads a byte of the mapping (a fault here would be SIGBUS: only call
    /// on pages that were filled).
    pub fn byte(&self, off: usize) -> u8 {
        assert!(off < self.len);
        // SAFETY: within the mapping; the caller maps the page first.
        unsafe { std::ptr::read_volatile((self.addr + off) as *const u8) }
    }

    /// Leaves the mapping in place (for exit-with-mappings tests).
    pub fn leak(self) {
        std::mem::forget(self);
    }
}

impl Drop for NodeMap {
    fn drop(&mut self) {
        // SAFETY: our mapping.
        unsafe { libc::munmap(self.addr as *mut libc::c_void, self.len) };
    }
}

/// `IOCTL_PRIVCMD_MMAP_RESOURCE`; returns the ioctl result and `num` after
/// the call (the size, for a query).
pub fn mmap_resource(
    fd: &OwnedFd,
    dom: DomId,
    ty: u32,
    id: u32,
    idx: u32,
    num: u64,
    addr: usize,
) -> (IoctlResult, u64) {
    let mut arg = dmop_abi::privcmd::PrivcmdMmapResource {
        dom,
        r#type: ty,
        id,
        idx,
        num,
        addr: addr as u64,
        ..dmop_abi::privcmd::PrivcmdMmapResource::ZEROED
    };
    let r = ioctl_struct(fd, privcmd::IOCTL_PRIVCMD_MMAP_RESOURCE, &mut arg);
    (r, arg.num)
}

/// `IOCTL_PRIVCMD_MMAPBATCH_V2` of `gfns` at `addr`; the per-frame errors go to `errs`.
pub fn mmapbatch_v2(
    fd: &OwnedFd,
    dom: DomId,
    addr: usize,
    gfns: &[dmop_abi::types::XenPfn],
    errs: Option<&mut [i32]>,
) -> IoctlResult {
    let err = errs.map_or(UserPtr::NULL, |e| UserPtr::from_ptr(e.as_mut_ptr()));
    mmapbatch_v2_raw(
        fd,
        dom,
        addr,
        gfns.len() as u32,
        UserPtr::from_ptr(gfns.as_ptr()),
        err,
    )
}

/// `IOCTL_PRIVCMD_MMAPBATCH_V2` with a `num` of the caller's choosing
/// (larger than the arrays, to test the kernel's bounds).
pub fn mmapbatch_v2_num(
    fd: &OwnedFd,
    dom: DomId,
    addr: usize,
    num: u32,
    gfns: &[dmop_abi::types::XenPfn],
    errs: &mut [i32],
) -> IoctlResult {
    mmapbatch_v2_raw(
        fd,
        dom,
        addr,
        num,
        UserPtr::from_ptr(gfns.as_ptr()),
        UserPtr::from_ptr(errs.as_mut_ptr()),
    )
}

/// `IOCTL_PRIVCMD_MMAPBATCH_V2` with its arguments as given.
pub fn mmapbatch_v2_raw(
    fd: &OwnedFd,
    dom: DomId,
    addr: usize,
    num: u32,
    arr: UserPtr,
    err: UserPtr,
) -> IoctlResult {
    let mut arg = dmop_abi::privcmd::PrivcmdMmapbatchV2 {
        num,
        dom,
        addr: addr as u64,
        arr,
        err,
        ..dmop_abi::privcmd::PrivcmdMmapbatchV2::ZEROED
    };
    ioctl_struct(fd, privcmd::IOCTL_PRIVCMD_MMAPBATCH_V2, &mut arg)
}

/// privcmd-restrict's restrict-at-open bindings, one `uid domid` line each.
pub const BINDINGS_FILE: &str = "/sys/class/misc/xen!privcmd-restrict/bindings";

/// Whether `uid` is listed in [`BINDINGS_FILE`].
pub fn binding_listed(uid: u32) -> bool {
    std::fs::read_to_string(BINDINGS_FILE)
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with(&format!("{uid} ")))
}

/// A new eventfd (close-on-exec, count 0).
pub fn eventfd() -> OwnedFd {
    // SAFETY: eventfd with flags only.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    assert!(fd >= 0, "eventfd: {}", std::io::Error::last_os_error());
    // SAFETY: a fresh descriptor we own.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Signals `e` (adds 1); whether the write went through.
pub fn signal(e: &OwnedFd) -> bool {
    let one = 1u64.to_ne_bytes();
    // SAFETY: an 8-byte write from our buffer to the eventfd.
    unsafe { libc::write(e.as_raw_fd(), one.as_ptr().cast(), one.len()) == 8 }
}

/// `IOCTL_PRIVCMD_IRQFD`: `op` made on `dom` whenever `eventfd` is signalled.
pub fn irqfd(
    fd: &OwnedFd,
    dom: DomId,
    op: &mut [u8],
    eventfd: &OwnedFd,
    flags: u32,
) -> IoctlResult {
    let mut arg = privcmd::PrivcmdIrqfd {
        dm_op: op.as_mut_ptr() as u64,
        size: op.len() as u32,
        fd: eventfd.as_raw_fd() as u32,
        flags: privcmd::IrqfdFlags(flags),
        dom,
        ..privcmd::PrivcmdIrqfd::ZEROED
    };
    ioctl_struct(fd, privcmd::IOCTL_PRIVCMD_IRQFD, &mut arg)
}

/// `IOCTL_PRIVCMD_IOEVENTFD` with every field the caller's.
pub fn ioeventfd(fd: impl AsFd, arg: &mut privcmd::PrivcmdIoeventfd) -> IoctlResult {
    ioctl_struct(fd, privcmd::IOCTL_PRIVCMD_IOEVENTFD, arg)
}

/// `IOCTL_PRIVCMD_RESTRICT_UID` (privcmd-restrict only).
pub fn restrict_uid(fd: &OwnedFd, uid: u32, domid: DomId, flags: u16) -> IoctlResult {
    let mut a = dmop_abi::privcmd::PrivcmdRestrictUid {
        uid,
        domid,
        flags: dmop_abi::privcmd::RestrictUidFlags(flags),
    };
    ioctl_struct(fd, privcmd::IOCTL_PRIVCMD_RESTRICT_UID, &mut a)
}

/// A DM_OP `nr_vcpus` on `dom`; the vCPU count on success.
pub fn nr_vcpus(fd: &OwnedFd, dom: DomId) -> Result<u32, Errno> {
    let mut op = XenDmOp::with_payload(DmopCode::NR_VCPUS, &dmop_abi::dmop::NrVcpus::ZEROED);
    dm_op(fd, dom, &mut [op.as_mut_bytes()])?;
    Ok(op.payload::<dmop_abi::dmop::NrVcpus>().vcpus)
}
