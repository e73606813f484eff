// SPDX-License-Identifier: GPL-2.0
//! The module's decisions, as plain `core` code: which domain an fd is
//! confined to, which ops it may issue, the DM_OP limits, the uid
//! bindings of restrict-at-open, and who may open the node.
//!
//! Nothing here touches the kernel, so the same file is compiled into the
//! module and into a host crate (`privcmd-restrict/logic`) that unit-tests
//! it; the KUnit suite checks the same logic in the kernel.

use core::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};

use crate::dmop_abi::privcmd::{PrivcmdRestrictUid, RestrictUidFlags};
use crate::dmop_abi::types::DomId;

/// Why a request is refused; mapped to an errno at the edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `EPERM`: the fd may not do this (another domain, HYPERCALL, no capability).
    Perm,
    /// `EINVAL`: a bad argument (another restriction, a reserved domain id, unknown flags).
    Inval,
    /// `E2BIG`: beyond a module limit.
    TooBig,
    /// `EACCES`: this user may not open the node.
    Access,
    /// `ENOSPC`: the binding table is full.
    NoSpace,
    /// `ENOENT`: no such binding.
    NoEnt,
}

/// The domain an fd is confined to, set once and never lifted.
///
/// # Invariants
///
/// The value is `DOMID_INVALID` (unrestricted) or an ordinary domain id;
/// once ordinary it never changes.
#[derive(Debug)]
pub(crate) struct Restriction(AtomicU16);

impl Restriction {
    /// An unrestricted fd.
    pub(crate) const fn none() -> Self {
        Self(AtomicU16::new(DomId::INVALID.0))
    }

    /// An fd confined from the start (restrict-at-open). `domid` must be
    /// ordinary: bindings are checked when made.
    pub(crate) const fn to(domid: DomId) -> Self {
        Self(AtomicU16::new(domid.0))
    }

    /// The domain, if confined.
    pub(crate) fn get(&self) -> Option<DomId> {
        let d = self.0.load(Ordering::Acquire);
        (d != DomId::INVALID.0).then_some(DomId(d))
    }

    /// `IOCTL_PRIVCMD_RESTRICT`: confines to `domid`; again to the same
    /// domain succeeds; to another fails; a reserved id (`DOMID_INVALID`
    /// among them, the C driver's "unrestricted") is refused.
    pub(crate) fn restrict(&self, domid: DomId) -> Result<(), Refusal> {
        if !domid.is_ordinary() {
            return Err(Refusal::Inval);
        }
        match self.0.compare_exchange(DomId::INVALID.0, domid.0, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => Ok(()),
            Err(cur) if cur == domid.0 => Ok(()),
            Err(_) => Err(Refusal::Inval),
        }
    }

    /// Whether an op on `domid` is allowed: unrestricted, or its own domain.
    pub(crate) fn allows(&self, domid: DomId) -> bool {
        self.get().is_none_or(|d| d == domid)
    }

    /// An op on `domid`: `EPERM` unless [`allows`](Self::allows).
    pub(crate) fn check(&self, domid: DomId) -> Result<(), Refusal> {
        if self.allows(domid) {
            Ok(())
        } else {
            Err(Refusal::Perm)
        }
    }
}

/// The DM_OP limits (module parameters).
#[derive(Clone, Copy, Debug)]
pub(crate) struct DmOpLimits {
    /// Most buffers in one call.
    pub max_bufs: u32,
    /// Largest buffer.
    pub max_size: u32,
}

impl DmOpLimits {
    /// The number of buffers.
    pub(crate) fn check_count(&self, num: u16) -> Result<(), Refusal> {
        if u32::from(num) > self.max_bufs {
            Err(Refusal::TooBig)
        } else {
            Ok(())
        }
    }

    /// The size of one buffer.
    pub(crate) fn check_size(&self, size: usize) -> Result<(), Refusal> {
        if size > self.max_size as usize {
            Err(Refusal::TooBig)
        } else {
            Ok(())
        }
    }
}

/// How many uids can be bound at once.
pub(crate) const MAX_BINDINGS: usize = 64;

const USED: u64 = 1 << 63;

const fn pack(uid: u32, domid: DomId) -> u64 {
    USED | (uid as u64) << 16 | domid.0 as u64
}

const fn unpack(v: u64) -> Option<(u32, DomId)> {
    if v & USED == 0 {
        None
    } else {
        Some(((v >> 16) as u32, DomId(v as u16)))
    }
}

/// uid -> domain bindings of restrict-at-open: lookups are lock-free, the
/// rare changes take a small spin guard so that a uid is never bound twice.
///
/// # Invariants
///
/// Each slot is 0 (free) or a packed (uid, ordinary domid); a uid appears
/// in at most one slot.
#[derive(Debug)]
pub(crate) struct Bindings {
    slots: [AtomicU64; MAX_BINDINGS],
    writer: AtomicBool,
}

impl Default for Bindings {
    fn default() -> Self {
        Self::new()
    }
}

impl Bindings {
    /// An empty table.
    pub(crate) const fn new() -> Self {
        Self { slots: [const { AtomicU64::new(0) }; MAX_BINDINGS], writer: AtomicBool::new(false) }
    }

    /// The domain `uid` is bound to.
    pub(crate) fn lookup(&self, uid: u32) -> Option<DomId> {
        self.slots.iter().find_map(|s| unpack(s.load(Ordering::Acquire)).filter(|(u, _)| *u == uid).map(|(_, d)| d))
    }

    fn write<R>(&self, f: impl FnOnce() -> R) -> R {
        while self.writer.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            core::hint::spin_loop();
        }
        let r = f();
        self.writer.store(false, Ordering::Release);
        r
    }

    /// Binds (or rebinds) `uid` to `domid`.
    pub(crate) fn bind(&self, uid: u32, domid: DomId) -> Result<(), Refusal> {
        if !domid.is_ordinary() || uid == u32::MAX {
            return Err(Refusal::Inval);
        }
        self.write(|| {
            let slot = self
                .slots
                .iter()
                .find(|s| unpack(s.load(Ordering::Relaxed)).is_some_and(|(u, _)| u == uid))
                .or_else(|| self.slots.iter().find(|s| s.load(Ordering::Relaxed) == 0))
                .ok_or(Refusal::NoSpace)?;
            // INVARIANT: an ordinary domid, and the uid's only slot.
            slot.store(pack(uid, domid), Ordering::Release);
            Ok(())
        })
    }

    /// Removes the binding of `uid`.
    pub(crate) fn unbind(&self, uid: u32) -> Result<(), Refusal> {
        self.write(|| {
            let slot = self
                .slots
                .iter()
                .find(|s| unpack(s.load(Ordering::Relaxed)).is_some_and(|(u, _)| u == uid))
                .ok_or(Refusal::NoEnt)?;
            slot.store(0, Ordering::Release);
            Ok(())
        })
    }

    /// Removes every binding (module unload).
    pub(crate) fn clear(&self) {
        self.write(|| self.slots.iter().for_each(|s| s.store(0, Ordering::Release)));
    }

    /// Calls `f` with each binding.
    pub(crate) fn for_each(&self, mut f: impl FnMut(u32, DomId)) {
        for s in &self.slots {
            if let Some((u, d)) = unpack(s.load(Ordering::Acquire)) {
                f(u, d);
            }
        }
    }
}

/// What an open of the node gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpenDecision {
    /// An fd already confined to this domain.
    Restricted(DomId),
    /// An unrestricted fd (a `CAP_SYS_ADMIN` opener without a binding).
    Unrestricted,
}

/// Restrict-at-open: a bound uid gets an fd confined to its domain; an
/// unbound opener needs `CAP_SYS_ADMIN`, else `EACCES`.
pub(crate) fn decide_open(binding: Option<DomId>, cap_sys_admin: bool) -> Result<OpenDecision, Refusal> {
    match (binding, cap_sys_admin) {
        (Some(d), _) => Ok(OpenDecision::Restricted(d)),
        (None, true) => Ok(OpenDecision::Unrestricted),
        (None, false) => Err(Refusal::Access),
    }
}

/// What `IOCTL_PRIVCMD_RESTRICT_UID` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BindingChange {
    /// Bind `uid` to `domid`.
    Bind(u32, DomId),
    /// Remove the binding of `uid`.
    Unbind(u32),
}

/// Checks `IOCTL_PRIVCMD_RESTRICT_UID`: only `CAP_SYS_ADMIN` on an
/// unrestricted fd may change bindings.
pub(crate) fn decide_restrict_uid(cap_sys_admin: bool, fd: &Restriction, arg: &PrivcmdRestrictUid) -> Result<BindingChange, Refusal> {
    if !cap_sys_admin || fd.get().is_some() {
        return Err(Refusal::Perm);
    }
    match arg.flags {
        RestrictUidFlags(0) => Ok(BindingChange::Bind(arg.uid, arg.domid)),
        RestrictUidFlags::UNBIND => Ok(BindingChange::Unbind(arg.uid)),
        _ => Err(Refusal::Inval),
    }
}

/// Writes the bindings as `uid domid` lines into `out`; returns the bytes used.
pub(crate) fn format_bindings(b: &Bindings, out: &mut [u8]) -> usize {
    struct W<'a>(&'a mut [u8], usize);
    impl core::fmt::Write for W<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.1 + s.len();
            if end > self.0.len() {
                return Err(core::fmt::Error);
            }
            self.0[self.1..end].copy_from_slice(s.as_bytes());
            self.1 = end;
            Ok(())
        }
    }
    let mut w = W(out, 0);
    b.for_each(|u, d| {
        let _ = core::fmt::Write::write_fmt(&mut w, format_args!("{u} {}\n", d.0));
    });
    w.1
}

/// For a DM_OP whose buffer 0 is `buf0` and which has `nr_bufs` buffers:
/// if buffer 1 is output only, the number of bytes Xen writes into it.
/// Only `track_dirty_vram` (op 7) qualifies: Xen writes `ceil(nr / 8)`
/// bytes of dirty bitmap and reads nothing there. The frozen ABI fixes this
/// meaning for op 7; any other op, or a short buffer 0, is treated as
/// reading and writing every buffer.
pub(crate) fn output_only_len(buf0: &[u8], nr_bufs: usize) -> Option<usize> {
    use crate::dmop_abi::dmop::{DmopCode, TrackDirtyVram, XenDmOp};
    const NR_AT: usize = XenDmOp::PAYLOAD_OFFSET
        + match TrackDirtyVram::LAYOUT.field("nr") {
            Some(f) => f.offset,
            None => panic!("track_dirty_vram has an nr"),
        };
    if nr_bufs != 2 || buf0.len() < NR_AT + 4 {
        return None;
    }
    let op = u32::from_ne_bytes([buf0[0], buf0[1], buf0[2], buf0[3]]);
    if op != DmopCode::TRACK_DIRTY_VRAM.0 {
        return None;
    }
    let nr = u32::from_ne_bytes([buf0[NR_AT], buf0[NR_AT + 1], buf0[NR_AT + 2], buf0[NR_AT + 3]]);
    Some((nr as usize).div_ceil(8))
}
