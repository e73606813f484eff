// SPDX-License-Identifier: MIT
//! The raw calls: open, ioctl, mmap. Numbers and structs come from dmop-abi.

use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use dmop_abi::evtchn::{self, EvtchnRestrictDomid};
use dmop_abi::privcmd::{self, PrivcmdDmOp, PrivcmdDmOpBuf};
use dmop_abi::types::{DomId, UserPtr};

use crate::error::{Error, Result};

/// Opens a device node read-write and close-on-exec.
pub(crate) fn open(path: &str, op: &'static str) -> Result<OwnedFd> {
    let c = CString::new(path).map_err(|_| Error::new(op, libc::EINVAL))?;
    // SAFETY: `c` is a valid C string; open has no other preconditions.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(Error::last(op));
    }
    // SAFETY: `fd` was just returned by open and belongs to nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `ioctl(fd, cmd, arg)`.
///
/// # Safety
///
/// `arg` must be valid for what `cmd` reads and writes through it.
pub(crate) unsafe fn ioctl(
    fd: RawFd,
    cmd: u32,
    arg: *mut libc::c_void,
    op: &'static str,
) -> Result<i32> {
    // SAFETY: forwarded from the caller.
    let r = unsafe { libc::ioctl(fd, cmd as libc::Ioctl, arg) };
    if r < 0 {
        Err(Error::last(op))
    } else {
        Ok(r)
    }
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
        // SAFETY: a fresh mapping chosen by the kernel; no existing memory is touched.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(Error::last(op));
        }
        Ok(Self { ptr: p.cast(), len })
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: this struct owns the mapping [ptr, ptr + len).
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// The page size.
/// A new eventfd (count 0, close-on-exec, plus `flags`).
pub(crate) fn eventfd(flags: libc::c_int, op: &'static str) -> Result<OwnedFd> {
    // SAFETY: eventfd with flags only.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | flags) };
    if fd < 0 {
        return Err(Error::last(op));
    }
    // SAFETY: a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as usize
    } else {
        4096
    }
}
