// SPDX-License-Identifier: MIT
//! The calls into the kernel, through rustix: open, ioctl, mmap, eventfd.
//! The ioctl numbers and structs come from dmop-abi; the one piece written
//! here is [`RawIoctl`], since Xen's ioctls return a count (DM_OP,
//! MMAPBATCH) that rustix's ready-made ioctl kinds discard.

use std::os::fd::{BorrowedFd, OwnedFd, RawFd};

use rustix::fs::{Mode, OFlags};
use rustix::ioctl::{Ioctl, IoctlOutput, Opcode};
use rustix::mm::{MapFlags, ProtFlags};

use dmop_abi::evtchn::{self, EvtchnRestrictDomid};
use dmop_abi::privcmd::{self, PrivcmdDmOp, PrivcmdDmOpBuf};
use dmop_abi::types::{DomId, UserPtr};

use crate::error::{Error, Result};

/// Opens a device node read-write and close-on-exec.
pub(crate) fn open(path: &str, op: &'static str) -> Result<OwnedFd> {
    rustix::fs::open(path, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()).map_err(errno(op))
}

/// Maps rustix's error to the crate's, for `op`.
pub(crate) fn errno(op: &'static str) -> impl Fn(rustix::io::Errno) -> Error {
    move |e| Error::new(op, e.raw_os_error())
}

/// An ioctl with a pointer argument whose return value is the answer.
struct RawIoctl {
    opcode: Opcode,
    arg: *mut libc::c_void,
}

// SAFETY: `as_ptr` gives the caller's pointer unchanged, `IS_MUTATING`
// holds for every ioctl here (the kernel may write through the pointer),
// and the output is the call's return value, which needs no pointer.
unsafe impl Ioctl for RawIoctl {
    type Output = i32;
    const IS_MUTATING: bool = true;

    fn opcode(&self) -> Opcode {
        self.opcode
    }

    fn as_ptr(&mut self) -> *mut libc::c_void {
        self.arg
    }

    unsafe fn output_from_ptr(
        out: IoctlOutput,
        _arg: *mut libc::c_void,
    ) -> rustix::io::Result<i32> {
        Ok(out)
    }
}

/// `ioctl(fd, cmd, arg)`, returning what the kernel returned.
///
/// # Safety
///
/// `fd` must be open across the call, and `arg` valid for what `cmd` reads
/// and writes through it.
pub(crate) unsafe fn ioctl(
    fd: RawFd,
    cmd: u32,
    arg: *mut libc::c_void,
    op: &'static str,
) -> Result<i32> {
    // SAFETY: the caller keeps `fd` open across the call.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    let call = RawIoctl {
        opcode: cmd as Opcode,
        arg,
    };
    // SAFETY: forwarded from the caller: `arg` is valid for `cmd`.
    unsafe { rustix::ioctl::ioctl(fd, call) }.map_err(errno(op))
}

/// `IOCTL_PRIVCMD_DM_OP` with `bufs`, each handed to the kernel by address
/// and length as libxendevicemodel does.
pub(crate) fn dm_op(
    fd: RawFd,
    dom: DomId,
    bufs: &mut [&mut [u8]],
    op: &'static str,
) -> Result<i32> {
    let mut ubufs = [PrivcmdDmOpBuf::ZEROED; 2];
    if bufs.len() > ubufs.len() {
        return Err(Error::new(op, libc::E2BIG));
    }
    for (u, b) in ubufs.iter_mut().zip(bufs.iter_mut()) {
        *u = PrivcmdDmOpBuf {
            uptr: UserPtr::from_ptr(b.as_mut_ptr()),
            size: b.len(),
        };
    }
    let mut arg = PrivcmdDmOp {
        dom,
        num: bufs.len() as u16,
        ubufs: UserPtr::from_ptr(ubufs.as_mut_ptr()),
        ..PrivcmdDmOp::ZEROED
    };
    // SAFETY: `arg` points to `ubufs`, which point to `bufs`; all live and
    // writable across the call, and the sizes are their lengths.
    unsafe { ioctl(fd, privcmd::IOCTL_PRIVCMD_DM_OP, (&raw mut arg).cast(), op) }
}

/// The DM_OP probe (`num = 0`, `DOMID_INVALID`): does this node do DM_OP?
pub(crate) fn dm_op_probe(fd: RawFd) -> Result<()> {
    dm_op_probe_on(fd, DomId::INVALID)
}

/// `IOCTL_PRIVCMD_DM_OP` with no buffers on `dom`: 0 if the descriptor
/// does DMOPs and may reach `dom`.
pub(crate) fn dm_op_probe_on(fd: RawFd, dom: DomId) -> Result<()> {
    let mut arg = PrivcmdDmOp {
        dom,
        ..PrivcmdDmOp::ZEROED
    };
    // SAFETY: with num == 0 the kernel reads only `arg`.
    unsafe {
        ioctl(
            fd,
            privcmd::IOCTL_PRIVCMD_DM_OP,
            (&raw mut arg).cast(),
            "open: DM_OP probe",
        )
    }
    .map(|_| ())
}

/// `IOCTL_PRIVCMD_RESTRICT`.
pub(crate) fn privcmd_restrict(fd: RawFd, dom: DomId) -> Result<()> {
    let mut d = dom;
    // SAFETY: the argument is a domid_t.
    unsafe {
        ioctl(
            fd,
            privcmd::IOCTL_PRIVCMD_RESTRICT,
            (&raw mut d).cast(),
            "restrict",
        )
    }
    .map(|_| ())
}

/// `IOCTL_EVTCHN_RESTRICT_DOMID`.
pub(crate) fn evtchn_restrict(fd: RawFd, dom: DomId) -> Result<()> {
    let mut r = EvtchnRestrictDomid { domid: dom };
    // SAFETY: the argument is the struct the ioctl reads.
    unsafe {
        ioctl(
            fd,
            evtchn::IOCTL_EVTCHN_RESTRICT_DOMID,
            (&raw mut r).cast(),
            "evtchn restrict",
        )
    }
    .map(|_| ())
}

/// A shared mapping of `len` bytes of a device; unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mmap {
    pub(crate) ptr: *mut u8,
    pub(crate) len: usize,
}

// SAFETY: the mapping is plain memory; users synchronise their accesses.
unsafe impl Send for Mmap {}
// SAFETY: as above.
unsafe impl Sync for Mmap {}

impl Mmap {
    /// `mmap(NULL, len, READ|WRITE, SHARED, fd, 0)`.
    pub(crate) fn new(fd: RawFd, len: usize, op: &'static str) -> Result<Self> {
        // SAFETY: the caller's descriptor, open across the call.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        // SAFETY: a fresh mapping where the kernel chooses; no existing
        // memory is touched.
        let p = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                fd,
                0,
            )
        }
        .map_err(errno(op))?;
        Ok(Self { ptr: p.cast(), len })
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: this struct owns the mapping [ptr, ptr + len), and
        // nothing borrows it past the struct.
        let _ = unsafe { rustix::mm::munmap(self.ptr.cast(), self.len) };
    }
}

/// A new eventfd (count 0, close-on-exec, plus `flags`).
pub(crate) fn eventfd(flags: rustix::event::EventfdFlags, op: &'static str) -> Result<OwnedFd> {
    rustix::event::eventfd(0, rustix::event::EventfdFlags::CLOEXEC | flags).map_err(errno(op))
}

/// The page size (the process's auxiliary vector: no system call).
pub(crate) fn page_size() -> usize {
    rustix::param::page_size()
}
