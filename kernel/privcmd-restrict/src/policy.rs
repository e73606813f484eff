// SPDX-License-Identifier: GPL-2.0
//! The module's decisions, as plain `core` code: which domain an fd is
//! confined to, which ops it may issue, the DM_OP limits, the uid
//! bindings of restrict-at-open, and who may open the node.
//!
//! Nothing here touches the kernel, so the same file is compiled into the
//! module and into a host crate (`kernel/privcmd-restrict-logic`) that unit-tests
//! it; the KUnit suite checks the same logic in the kernel.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::dmop_abi::privcmd::{PrivcmdRestrictUid, RestrictUidFlags};
use crate::dmop_abi::types::DomId;

/// Why a request is refused; mapped to an errno at the edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `EPERM`: the fd may not do this (another domain, HYPERCALL, no
    /// capability), or an open from inside a user namespace.
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
    /// `ESRCH`: the fd's guest, or the guest to bind, is gone.
    Gone,
}

/// The lives of the guests that fds and bindings are confined to: per
/// domain id, a generation and the number of fds confined to it, packed in
/// one word (generation in the high half). When Xen no longer knows a
/// domain, its generation moves on ([`died`](Self::died)), and every fd
/// confined to it at an older generation is closed to it for good: a
/// domain id Xen hands out again never reaches an old device model.
///
/// The module holds one table of `DOMID_FIRST_RESERVED` entries (every
/// ordinary id); tests use small ones. A domain id beyond the table is
/// never alive.
#[derive(Debug)]
pub(crate) struct Lives<const N: usize> {
    slots: [AtomicU64; N],
}

const ONE_GENERATION: u64 = 1 << 32;

impl<const N: usize> Default for Lives<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Lives<N> {
    /// Every domain at generation 0, none watched.
    pub(crate) const fn new() -> Self {
        Self {
            slots: [const { AtomicU64::new(0) }; N],
        }
    }

    fn slot(&self, d: DomId) -> Option<&AtomicU64> {
        self.slots.get(usize::from(d.0))
    }

    /// An fd is confined to `d`: counts it, and returns the generation it
    /// lives in. Each call is paired with a [`leave`](Self::leave).
    pub(crate) fn enter(&self, d: DomId) -> u32 {
        self.slot(d).map_or(u32::MAX, |s| {
            (s.fetch_add(1, Ordering::AcqRel) >> 32) as u32
        })
    }

    /// An fd confined to `d` is gone.
    pub(crate) fn leave(&self, d: DomId) {
        if let Some(s) = self.slot(d) {
            s.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Whether `d` is still the domain of generation `generation`.
    pub(crate) fn alive(&self, d: DomId, generation: u32) -> bool {
        self.slot(d)
            .is_some_and(|s| (s.load(Ordering::Acquire) >> 32) as u32 == generation)
    }

    /// Xen no longer knows `d`: fds of its current generation die.
    pub(crate) fn died(&self, d: DomId) {
        if let Some(s) = self.slot(d) {
            s.fetch_add(ONE_GENERATION, Ordering::AcqRel);
        }
    }

    /// Calls `f` with each domain some fd is confined to.
    pub(crate) fn for_each_watched(&self, mut f: impl FnMut(DomId)) {
        for (i, s) in self.slots.iter().enumerate() {
            if s.load(Ordering::Acquire) as u32 != 0 {
                f(DomId(i as u16));
            }
        }
    }
}

/// The domain an fd is confined to, set once and never lifted, with the
/// generation of that domain's life it was confined in ([`Lives`]).
///
/// # Invariants
///
/// The value is [`FREE`] (unrestricted) or an ordinary domain id in the low
/// 16 bits and a generation above them; once set it never changes. A set
/// value holds one count in the [`Lives`] table it was made with.
#[derive(Debug)]
pub(crate) struct Restriction(AtomicU64);

const FREE: u64 = u64::MAX;

const fn pack_ticket(d: DomId, generation: u32) -> u64 {
    (generation as u64) << 16 | d.0 as u64
}

impl Restriction {
    /// An unrestricted fd.
    pub(crate) const fn none() -> Self {
        Self(AtomicU64::new(FREE))
    }

    /// An fd confined from the start (restrict-at-open) to `domid`, an
    /// ordinary id (bindings are checked when made), in `generation` (from
    /// [`Lives::enter`], whose count it now holds).
    pub(crate) const fn to(domid: DomId, generation: u32) -> Self {
        Self(AtomicU64::new(pack_ticket(domid, generation)))
    }

    /// The domain and generation, if confined.
    pub(crate) fn ticket(&self) -> Option<(DomId, u32)> {
        let v = self.0.load(Ordering::Acquire);
        (v != FREE).then_some((DomId(v as u16), (v >> 16) as u32))
    }

    /// The domain, if confined.
    pub(crate) fn get(&self) -> Option<DomId> {
        self.ticket().map(|(d, _)| d)
    }

    /// `IOCTL_PRIVCMD_RESTRICT`: confines to `domid`; again to the same
    /// domain succeeds while it lives (`ESRCH` once it is gone); to another
    /// fails; a reserved id (`DOMID_INVALID` among them, the C driver's
    /// "unrestricted") is refused.
    pub(crate) fn restrict<const N: usize>(
        &self,
        domid: DomId,
        lives: &Lives<N>,
    ) -> Result<(), Refusal> {
        if !domid.is_ordinary() {
            return Err(Refusal::Inval);
        }
        if self.ticket().is_none() {
            let generation = lives.enter(domid);
            // INVARIANT: an ordinary id; the count just taken goes with it.
            match self.0.compare_exchange(
                FREE,
                pack_ticket(domid, generation),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(()),
                Err(_) => lives.leave(domid),
            }
        }
        match self.check(domid, lives) {
            Err(Refusal::Perm) => Err(Refusal::Inval),
            r => r,
        }
    }

    /// An op on `domid`: allowed on an unrestricted fd; on a confined one,
    /// `ESRCH` once its domain is gone (whatever the op names), `EPERM` for
    /// any other domain.
    pub(crate) fn check<const N: usize>(
        &self,
        domid: DomId,
        lives: &Lives<N>,
    ) -> Result<(), Refusal> {
        match self.ticket() {
            None => Ok(()),
            Some((d, g)) if !lives.alive(d, g) => Err(Refusal::Gone),
            Some((d, _)) if d != domid => Err(Refusal::Perm),
            Some(_) => Ok(()),
        }
    }

    /// The fd is released: gives back its count in `lives`.
    pub(crate) fn release<const N: usize>(&self, lives: &Lives<N>) {
        if let Some((d, _)) = self.ticket() {
            lives.leave(d);
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

/// The number of frames of a mapping ioctl (MMAPBATCH_V2's `num`,
/// MMAP_RESOURCE's), checked before anything is sized by it: zero, or more
/// than an `int` holds (the count Linux's remap functions take; the C
/// driver passes a larger V2 `num` on and fails allocating), is `EINVAL`.
/// The caller then bounds it by the vma or the resource.
pub(crate) fn frame_count(num: u64) -> Result<usize, Refusal> {
    match usize::try_from(num) {
        Ok(n) if n != 0 && num <= i32::MAX as u64 => Ok(n),
        _ => Err(Refusal::Inval),
    }
}

/// MMAP_RESOURCE: whether frames `[idx, idx + num)` lie within a resource
/// of `size` frames (Xen's answer to the size query). Checked before the
/// frame list is allocated, so its size is bounded by the resource.
pub(crate) fn resource_range_fits(idx: u64, num: usize, size: u32) -> bool {
    idx.checked_add(num as u64)
        .is_some_and(|end| end <= u64::from(size))
}

/// `ENOENT` and `EFAULT`, as Linux numbers them on every architecture.
const ENOENT: i32 = 2;
const EFAULT: i32 = 14;

/// What the module puts in a frame's error slot before a remap: no remap
/// writes a positive value there, so a slot still holding it after the
/// call names a frame the remap never reached.
pub(crate) const NOT_TRIED: i32 = 1;

/// MMAPBATCH_V2, one chunk: reads the remap's answer `rc` together with
/// `errs` (prefilled with [`NOT_TRIED`], then written by the remap: 0 for a
/// mapped frame, a negative errno for a failed one). A remap that stopped
/// part-way (its page tables could not be allocated, say) leaves frames
/// untried: they get its error, and the chunk answers `Err(errno)`, so a
/// partial batch is never reported as success. Otherwise `Ok(true)` if a
/// frame is paged out (`ENOENT`: the caller retries it), else `Ok(false)`.
/// A negative `rc` with every frame tried is the last frame's own error,
/// already in `errs`.
pub(crate) fn chunk_outcome(errs: &mut [i32], rc: i64) -> Result<bool, i32> {
    if errs.contains(&NOT_TRIED) {
        let e = i32::try_from(rc).ok().filter(|e| *e < 0).unwrap_or(-EFAULT);
        errs.iter_mut()
            .filter(|e| **e == NOT_TRIED)
            .for_each(|s| *s = e);
        return Err(e);
    }
    Ok(errs.contains(&-ENOENT))
}

/// Whether `op` (an irqfd's whole DM_OP buffer) may be made from an
/// eventfd's wake-up, where the call runs with interrupts off: only the
/// short interrupt-injection ops (`set_isa_irq_level`,
/// `set_pci_intx_level`, `inject_msi`, Arm's `set_irq_level`). A longer op
/// (`set_mem_type` over a large range, `destroy_ioreq_server`...) there
/// would let a device model stall a dom0 CPU at will.
pub(crate) fn irqfd_op_allowed(op: &[u8]) -> bool {
    use crate::dmop_abi::dmop::{DmopCode, XenDmOp};
    if op.len() < XenDmOp::PAYLOAD_OFFSET {
        return false;
    }
    let code = DmopCode(u32::from_ne_bytes([op[0], op[1], op[2], op[3]]));
    [
        DmopCode::SET_ISA_IRQ_LEVEL,
        DmopCode::SET_PCI_INTX_LEVEL,
        DmopCode::INJECT_MSI,
        DmopCode::SET_IRQ_LEVEL,
    ]
    .contains(&code)
}

/// Where virtio-mmio's QueueNotify register sits in a device's region: an
/// upstream ioeventfd (no project flags) watches `addr` plus this.
pub(crate) const VIRTIO_MMIO_QUEUE_NOTIFY: u64 = 0x50;

/// The vCPU slots one (4 KiB, Xen's page) ioreq page holds (4096 /
/// `sizeof(struct ioreq)`, from dmop-abi):
/// the most an ioeventfd may name. Upstream accepts up to 4096 and reads
/// past the page it mapped for more than this.
pub(crate) const MAX_IOREQ_VCPUS: u32 =
    (4096 / core::mem::size_of::<crate::dmop_abi::ioreq::Ioreq>()) as u32;

/// Which guest writes an ioeventfd answers: a write of `len` bytes at
/// `addr` whose data, masked with `mask`, is `data` (`mask` 0: any data).
/// `#[repr(C)]`: c/glue.c keeps it in each ioeventfd (`struct prm_match`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IoeventfdMatch {
    pub(crate) addr: u64,
    pub(crate) mask: u64,
    pub(crate) data: u64,
    pub(crate) len: u32,
    pub(crate) pad: u32,
}

impl IoeventfdMatch {
    /// The rule of an `IOCTL_PRIVCMD_IOEVENTFD` request, whose fields were
    /// read from user memory once. `flags` holds upstream's DEASSIGN and the
    /// project's [`IoeventfdExtFlags`](crate::dmop_abi::privcmd::IoeventfdExtFlags);
    /// anything else, a pad, an access size other than 1, 2, 4 or 8, a
    /// range that wraps, a `vq` no write of that size can carry, or a vCPU
    /// count outside `1..=MAX_IOREQ_VCPUS` is `EINVAL`.
    pub(crate) fn of(
        flags: u32,
        addr: u64,
        len: u32,
        vq: u32,
        vcpus: u32,
        pad: [u8; 2],
    ) -> Result<Self, Refusal> {
        use crate::dmop_abi::privcmd::{IoeventfdExtFlags as X, IoeventfdFlags as F};
        let known = F::DEASSIGN.0 | X::ADDR.0 | X::DATAMATCH.0;
        let exact = flags & X::ADDR.0 != 0;
        let datamatch = flags & X::DATAMATCH.0 != 0;
        if flags & !known != 0 || (datamatch && !exact) || pad != [0; 2] {
            return Err(Refusal::Inval);
        }
        if !matches!(len, 1 | 2 | 4 | 8) || vcpus == 0 || vcpus > MAX_IOREQ_VCPUS {
            return Err(Refusal::Inval);
        }
        let width_mask = if len == 8 {
            u64::MAX
        } else {
            (1u64 << (8 * len)) - 1
        };
        let (addr, mask) = if exact {
            (addr, if datamatch { width_mask } else { 0 })
        } else {
            // Upstream's rule: the low 16 bits of the write are the queue.
            let a = addr
                .checked_add(VIRTIO_MMIO_QUEUE_NOTIFY)
                .ok_or(Refusal::Inval)?;
            (a, 0xffff & width_mask)
        };
        if addr.checked_add(u64::from(len)).is_none() || (mask != 0 && u64::from(vq) & !mask != 0) {
            return Err(Refusal::Inval);
        }
        Ok(Self {
            addr,
            mask,
            data: if mask == 0 { 0 } else { u64::from(vq) },
            len,
            pad: 0,
        })
    }

    /// Whether a guest write of `size` bytes of `data` at `addr` is this
    /// ioeventfd's (the interrupt handler asks, for a plain write: not a
    /// string or `rep` access, whose data lies in guest memory).
    pub(crate) fn answers(&self, addr: u64, size: u32, data: u64) -> bool {
        addr == self.addr && size == self.len && data & self.mask == self.data
    }

    /// Whether some write would match both `self` and `other`: the second
    /// of two such ioeventfds on one ioreq page would never fire (`EEXIST`,
    /// as KVM answers).
    pub(crate) fn collides(&self, other: &Self) -> bool {
        let both = self.mask & other.mask;
        self.addr == other.addr && self.len == other.len && self.data & both == other.data & both
    }
}

/// How many uids can be bound at once.
pub(crate) const MAX_BINDINGS: usize = 64;

/// A uid as the kernel holds it (`kuid_t`): its value in the initial user
/// namespace, never a number as some caller's namespace shows it. It is
/// made at the edge (`make_kuid` of the binder's namespace, `current_fsuid`
/// of an opener) and compared as `uid_eq` compares: by value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Kuid(pub(crate) u32);

impl Kuid {
    /// `GLOBAL_ROOT_UID`.
    pub(crate) const ROOT: Kuid = Kuid(0);
    /// `INVALID_UID`: what `make_kuid` answers for an unmapped uid.
    pub(crate) const INVALID: Kuid = Kuid(u32::MAX);
}

/// uid -> domain bindings of restrict-at-open. The table has no lock of
/// its own: the module keeps it under a kernel `SpinLock`, the host tests
/// under a `Mutex`, so `&mut self` is the writer's exclusive access.
///
/// # Invariants
///
/// Each slot is free or holds a (kuid, domain) pair whose kuid is neither
/// root nor invalid and whose domain is an ordinary guest (not dom0); a
/// kuid appears in at most one slot.
#[derive(Debug)]
pub(crate) struct BindingTable {
    slots: [Option<(Kuid, DomId)>; MAX_BINDINGS],
}

impl Default for BindingTable {
    fn default() -> Self {
        Self::new()
    }
}

impl BindingTable {
    /// An empty table.
    pub(crate) const fn new() -> Self {
        Self {
            slots: [None; MAX_BINDINGS],
        }
    }

    /// The domain `uid` is bound to.
    pub(crate) fn lookup(&self, uid: Kuid) -> Option<DomId> {
        self.slots
            .iter()
            .flatten()
            .find(|(u, _)| *u == uid)
            .map(|(_, d)| *d)
    }

    /// Whether `uid` may be bound to `domid` at all (before asking Xen
    /// whether the domain lives): not root, not the invalid uid, an
    /// ordinary guest, not dom0.
    pub(crate) fn bindable(uid: Kuid, domid: DomId) -> Result<(), Refusal> {
        if uid == Kuid::ROOT || uid == Kuid::INVALID || !domid.is_guest() {
            return Err(Refusal::Inval);
        }
        Ok(())
    }

    /// Binds (or rebinds) `uid` to `domid`. Root, the invalid uid, dom0
    /// and reserved ids are refused (`EINVAL`): root would confine every
    /// privileged tool on the host, and dom0 is no device model's guest.
    pub(crate) fn bind(&mut self, uid: Kuid, domid: DomId) -> Result<(), Refusal> {
        Self::bindable(uid, domid)?;
        let at = self
            .slots
            .iter()
            .position(|s| s.is_some_and(|(u, _)| u == uid))
            .or_else(|| self.slots.iter().position(Option::is_none))
            .ok_or(Refusal::NoSpace)?;
        // INVARIANT: checked above, and the uid's only slot.
        self.slots[at] = Some((uid, domid));
        Ok(())
    }

    /// Removes the binding of `uid`.
    pub(crate) fn unbind(&mut self, uid: Kuid) -> Result<(), Refusal> {
        let slot = self
            .slots
            .iter_mut()
            .find(|s| s.is_some_and(|(u, _)| u == uid))
            .ok_or(Refusal::NoEnt)?;
        *slot = None;
        Ok(())
    }

    /// Removes every binding to `domid` (its guest is gone); returns how many.
    pub(crate) fn unbind_domain(&mut self, domid: DomId) -> usize {
        let mut n = 0;
        for s in self
            .slots
            .iter_mut()
            .filter(|s| s.is_some_and(|(_, d)| d == domid))
        {
            *s = None;
            n += 1;
        }
        n
    }

    /// Removes every binding (module unload).
    pub(crate) fn clear(&mut self) {
        self.slots = [None; MAX_BINDINGS];
    }

    /// Calls `f` with each binding.
    pub(crate) fn for_each(&self, mut f: impl FnMut(Kuid, DomId)) {
        self.slots.iter().flatten().for_each(|(u, d)| f(*u, *d));
    }
}

/// Who is opening the node, as the kernel sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Opener {
    /// The filesystem uid, as the kernel holds it.
    pub fsuid: Kuid,
    /// Whether the opener's user namespace is the initial one.
    pub initial_userns: bool,
}

/// What an open of the node gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpenDecision {
    /// An fd already confined to this domain.
    Restricted(DomId),
    /// An unrestricted fd (a `CAP_SYS_ADMIN` opener without a binding).
    Unrestricted,
}

/// Restrict-at-open. An opener inside a user namespace other than the
/// initial one gets `EPERM` whatever its uid: a binding names a user of
/// the host, and a namespace's own numbering (or its overflow uid for an
/// unmapped one) must never select it. Otherwise a bound fsuid gets an fd
/// confined to its domain, and an unbound opener needs `CAP_SYS_ADMIN`
/// (`cap_sys_admin`, asked only then), else `EACCES`. `lookup` is
/// consulted only for openers in the initial namespace.
pub(crate) fn decide_open(
    who: Opener,
    lookup: impl FnOnce(Kuid) -> Option<DomId>,
    cap_sys_admin: impl FnOnce() -> bool,
) -> Result<OpenDecision, Refusal> {
    if !who.initial_userns {
        return Err(Refusal::Perm);
    }
    match lookup(who.fsuid) {
        Some(d) => Ok(OpenDecision::Restricted(d)),
        None if cap_sys_admin() => Ok(OpenDecision::Unrestricted),
        None => Err(Refusal::Access),
    }
}

/// What `IOCTL_PRIVCMD_RESTRICT_UID` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BindingChange {
    /// Bind the uid to the domain.
    Bind(Kuid, DomId),
    /// Remove the binding of the uid.
    Unbind(Kuid),
}

/// Checks `IOCTL_PRIVCMD_RESTRICT_UID`: only `CAP_SYS_ADMIN` on an
/// unrestricted fd may change bindings. `kuid` is `arg.uid` made a kuid in
/// the caller's user namespace (`None`: it maps to no uid, `EINVAL`).
pub(crate) fn decide_restrict_uid(
    cap_sys_admin: bool,
    fd: &Restriction,
    arg: &PrivcmdRestrictUid,
    kuid: Option<Kuid>,
) -> Result<BindingChange, Refusal> {
    if !cap_sys_admin || fd.get().is_some() {
        return Err(Refusal::Perm);
    }
    let uid = kuid.filter(|k| *k != Kuid::INVALID).ok_or(Refusal::Inval)?;
    match arg.flags {
        RestrictUidFlags(0) => Ok(BindingChange::Bind(uid, arg.domid)),
        RestrictUidFlags::UNBIND => Ok(BindingChange::Unbind(uid)),
        _ => Err(Refusal::Inval),
    }
}

/// Writes the bindings as `uid domid` lines into `out` (uids as the
/// initial user namespace numbers them); returns the bytes used.
pub(crate) fn format_bindings(b: &BindingTable, out: &mut [u8]) -> usize {
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
        let _ = core::fmt::Write::write_fmt(&mut w, format_args!("{} {}\n", u.0, d.0));
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
    let nr = u32::from_ne_bytes([
        buf0[NR_AT],
        buf0[NR_AT + 1],
        buf0[NR_AT + 2],
        buf0[NR_AT + 3],
    ]);
    Some((nr as usize).div_ceil(8))
}
