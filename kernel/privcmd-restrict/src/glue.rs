// SPDX-License-Identifier: GPL-2.0
//! The C glue (`c/glue.c`): what Rust cannot reach in Linux 6.12 (module
//! parameters, the misc device, static inlines of the Xen and mm headers).

use core::ffi::{c_char, c_int, c_long, c_uint, c_ulong, c_void, CStr};

use kernel::bindings;
use kernel::error::Error;

use crate::dmop_abi::types::{DomId, XenPfn};
use crate::policy::{IoeventfdMatch, Kuid};

#[allow(missing_docs)]
extern "C" {
    fn prm_param_max_nr_bufs() -> c_uint;
    fn prm_param_buf_max_size() -> c_uint;
    fn prm_register() -> c_int;
    fn prm_deregister();
    fn prm_devname() -> *const c_char;
    fn prm_xen_initial_domain() -> bool;
    fn prm_capable_sys_admin() -> bool;
    fn prm_current_fsuid() -> u32;
    fn prm_current_in_initial_userns() -> bool;
    fn prm_make_kuid(uid: u32, kuid: *mut u32) -> bool;
    fn prm_fatal_signal_pending() -> bool;
    fn prm_vma_claim(addr: c_ulong, num: c_ulong, dom: u16) -> c_long;
    fn prm_domain_gone(dom: u16) -> bool;
    fn prm_watch_domains() -> c_int;
    fn prm_unwatch_domains();
    fn prm_schedule_recheck();
    fn prm_irqfd_new(
        fd: c_int,
        dom: u16,
        owner: *const c_void,
        op: *const c_void,
        size: u32,
        err: *mut c_long,
    ) -> *mut c_void;
    fn prm_irqfd_matches(irqfd: *mut c_void, fd: c_int, dom: u16) -> bool;
    fn prm_irqfd_free(irqfd: *mut c_void);
    fn prm_irqfd_hung_up(irqfd: *mut c_void) -> bool;
    fn prm_hypercall_dm_op_atomic(dom: u16, nr_bufs: c_uint, bufs: *mut c_void) -> c_long;
    fn prm_access_ok(addr: c_ulong, size: c_ulong) -> bool;
    fn prm_ioeventfd_new(
        share: *mut c_void,
        owner: *const c_void,
        dom: u16,
        uaddr: c_ulong,
        vcpus: c_uint,
        ports: *const u32,
        fd: c_int,
        m: *const IoeventfdMatch,
        err: *mut c_long,
    ) -> *mut c_void;
    fn prm_ioeventfd_on(ioeventfd: *mut c_void, dom: u16, uaddr: c_ulong) -> bool;
    fn prm_ioeventfd_signals(ioeventfd: *mut c_void, fd: c_int) -> bool;
    fn prm_ioeventfd_rule(ioeventfd: *mut c_void) -> *const IoeventfdMatch;
    fn prm_ioeventfd_free(ioeventfd: *mut c_void);
    fn prm_ioreqs_check() -> bool;
    fn prm_hypercall_dm_op(dom: u16, nr_bufs: c_uint, bufs: *mut c_void) -> c_long;
    fn prm_hypercall_memory_op(cmd: c_uint, arg: *mut c_void) -> c_long;
    fn prm_vma_setup(vma: *mut c_void);
    fn prm_map_resource(
        addr: c_ulong,
        num: c_uint,
        memop: c_uint,
        acquire: *mut c_void,
        mfns: *mut XenPfn,
        errs: *mut c_int,
        dom: u16,
    ) -> c_long;
    fn prm_map_gfns(
        addr: c_ulong,
        num: c_uint,
        gfns: *mut XenPfn,
        errs: *mut c_int,
        dom: u16,
    ) -> c_long;
}

/// `dm_op_max_nr_bufs`.
pub(crate) fn max_nr_bufs() -> u32 {
    // SAFETY: reads a module parameter.
    unsafe { prm_param_max_nr_bufs() }
}

/// `dm_op_buf_max_size`.
pub(crate) fn buf_max_size() -> u32 {
    // SAFETY: reads a module parameter.
    unsafe { prm_param_buf_max_size() }
}

/// Registers the misc device.
pub(crate) fn register() -> c_int {
    // SAFETY: called once, from module init.
    unsafe { prm_register() }
}

/// Deregisters the misc device.
pub(crate) fn deregister() {
    // SAFETY: called once, from module exit, after a successful register.
    unsafe { prm_deregister() }
}

/// The device name (module parameter `devname`).
pub(crate) fn devname() -> &'static CStr {
    // SAFETY: a charp module parameter: a NUL-terminated string for the module's life.
    unsafe { CStr::from_ptr(prm_devname()) }
}

/// Whether this kernel runs as a Xen dom0 the module serves: x86 PV, or
/// Arm's (auto-translated); an x86 PVH dom0 is not one.
pub(crate) fn xen_initial_domain() -> bool {
    // SAFETY: reads boot-time state.
    unsafe { prm_xen_initial_domain() }
}

/// `capable(CAP_SYS_ADMIN)` of the calling task.
pub(crate) fn capable_sys_admin() -> bool {
    // SAFETY: process context.
    unsafe { prm_capable_sys_admin() }
}

/// The calling task's filesystem uid (the uid file access is decided on),
/// as the kernel holds it.
pub(crate) fn current_fsuid() -> Kuid {
    // SAFETY: process context.
    Kuid(unsafe { prm_current_fsuid() })
}

/// Whether the calling task's user namespace is the initial one.
pub(crate) fn current_in_initial_userns() -> bool {
    // SAFETY: process context.
    unsafe { prm_current_in_initial_userns() }
}

/// `uid` as the calling task's user namespace numbers it, made a kuid
/// there; `None` if it maps to none.
pub(crate) fn make_kuid(uid: u32) -> Option<Kuid> {
    let mut k = 0u32;
    // SAFETY: process context; `k` is a live u32 the helper may write.
    unsafe { prm_make_kuid(uid, &mut k) }.then_some(Kuid(k))
}

/// Whether the calling task has been sent a fatal signal (a long batch
/// stops then).
pub(crate) fn fatal_signal_pending() -> bool {
    // SAFETY: process context.
    unsafe { prm_fatal_signal_pending() }
}

/// Whether Xen no longer knows domain `d` (a domain still dying is known).
pub(crate) fn domain_gone(d: DomId) -> bool {
    // SAFETY: a hypercall on a kernel copy of the id.
    unsafe { prm_domain_gone(d.0) }
}

/// Watches `@releaseDomain` (from when xenstore is up), calling
/// `prm_rs_domains_changed` on every event.
pub(crate) fn watch_domains() -> c_int {
    // SAFETY: called once, from module init, after the device is registered.
    unsafe { prm_watch_domains() }
}

/// Asks for a check of domain deaths within two seconds, and every two
/// seconds after while a binding or an fd names a domain.
pub(crate) fn schedule_recheck() {
    // SAFETY: queues the module's static delayed work.
    unsafe { prm_schedule_recheck() }
}

/// Stops the watch and the periodic check; returns once neither runs.
pub(crate) fn unwatch_domains() {
    // SAFETY: called once, from module exit, after a successful watch_domains.
    unsafe { prm_unwatch_domains() }
}

/// Claims `[addr, addr + num pages)` of the caller's mapping of the node
/// for a mapping ioctl of `dom`'s frames: 0, or `-EINVAL` if it is not an
/// unmapped range of one of our vmas (a fresh vma only when covered
/// exactly). On an auto-translated dom0 a fresh vma's pages are counted
/// against `dom` and all mappings of the node: `-ENOSPC` beyond either
/// bound, `-ESRCH` if `dom` is no domain.
pub(crate) fn vma_claim(addr: usize, num: usize, dom: DomId) -> c_long {
    // SAFETY: process context; the helper takes the mmap lock.
    unsafe { prm_vma_claim(addr as c_ulong, num as c_ulong, dom.0) }
}

/// `access_ok(addr, size)`.
pub(crate) fn access_ok(addr: usize, size: usize) -> bool {
    // SAFETY: a range check, no access.
    unsafe { prm_access_ok(addr as c_ulong, size as c_ulong) }
}

/// `HYPERVISOR_dm_op(dom, nr, bufs)`, preemptible.
///
/// # Safety
///
/// `bufs` points to `nr` `xen_dm_op_buf`s describing live kernel buffers.
pub(crate) unsafe fn hypercall_dm_op(dom: DomId, nr: c_uint, bufs: *mut c_void) -> c_long {
    // SAFETY: forwarded from the caller.
    unsafe { prm_hypercall_dm_op(dom.0, nr, bufs) }
}

/// `HYPERVISOR_memory_op(cmd, arg)`, preemptible.
///
/// # Safety
///
/// `arg` is the live argument struct of `cmd`.
pub(crate) unsafe fn hypercall_memory_op(cmd: u32, arg: *mut c_void) -> c_long {
    // SAFETY: forwarded from the caller.
    unsafe { prm_hypercall_memory_op(cmd, arg) }
}

/// Sets up a vma of the device.
///
/// # Safety
///
/// `vma` is being mmapped with the mmap lock held.
pub(crate) unsafe fn vma_setup(vma: *mut bindings::vm_area_struct) {
    // SAFETY: forwarded from the caller.
    unsafe { prm_vma_setup(vma.cast()) }
}

/// Acquires and maps resource frames at `addr`.
///
/// # Safety
///
/// `acquire` is a `xen_mem_acquire_resource` whose frame list is `mfns`;
/// `mfns` and `errs` hold `num` entries; all alive across the call.
pub(crate) unsafe fn map_resource(
    addr: usize,
    num: u32,
    memop: u32,
    acquire: *mut c_void,
    mfns: *mut XenPfn,
    errs: *mut c_int,
    dom: DomId,
) -> c_long {
    // SAFETY: forwarded from the caller.
    unsafe { prm_map_resource(addr as c_ulong, num, memop, acquire, mfns, errs, dom.0) }
}

/// Maps guest frames at `addr`.
///
/// # Safety
///
/// `gfns` and `errs` hold `num` entries, alive across the call.
pub(crate) unsafe fn map_gfns(
    addr: usize,
    num: u32,
    gfns: *mut XenPfn,
    errs: *mut c_int,
    dom: DomId,
) -> c_long {
    // SAFETY: forwarded from the caller.
    unsafe { prm_map_gfns(addr as c_ulong, num, gfns, errs, dom.0) }
}

/// A new irqfd on eventfd `fd` for `dom`, owned by `owner`, making `op`.
///
/// # Safety
///
/// `owner` is the `FileState` that will hold the irqfd and free it (at
/// the latest at release) before it goes: the irqfd's wake-up reads it.
pub(crate) unsafe fn irqfd_new(
    fd: i32,
    dom: DomId,
    owner: *const c_void,
    op: &[u8],
) -> Result<*mut c_void, Error> {
    let mut err: c_long = 0;
    // SAFETY: `op` is a live buffer of its length, copied by the helper;
    // `owner` as the caller vouches.
    let p = unsafe {
        prm_irqfd_new(
            fd,
            dom.0,
            owner,
            op.as_ptr().cast(),
            op.len() as u32,
            &mut err,
        )
    };
    if p.is_null() {
        return Err(Error::from_errno(err as c_int));
    }
    Ok(p)
}

/// Whether irqfd `p` is on eventfd `fd` for `dom`.
///
/// # Safety
///
/// `p` is a live irqfd (held in a slot, under the irqfd lock).
pub(crate) unsafe fn irqfd_matches(p: *mut c_void, fd: i32, dom: DomId) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { prm_irqfd_matches(p, fd, dom.0) }
}

/// Whether irqfd `p`'s eventfd has been closed.
///
/// # Safety
///
/// As for [`irqfd_matches`].
pub(crate) unsafe fn irqfd_hung_up(p: *mut c_void) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { prm_irqfd_hung_up(p) }
}

/// Unhooks and frees irqfd `p`.
///
/// # Safety
///
/// `p` came from [`irqfd_new`] and is freed once, by whoever took it out
/// of its slot.
pub(crate) unsafe fn irqfd_free(p: *mut c_void) {
    // SAFETY: forwarded from the caller.
    unsafe { prm_irqfd_free(p) }
}

/// `HYPERVISOR_dm_op(dom, nr, bufs)` from atomic context (not preemptible).
///
/// # Safety
///
/// `bufs` points to `nr` `xen_dm_op_buf`s describing live kernel buffers.
pub(crate) unsafe fn hypercall_dm_op_atomic(dom: DomId, nr: c_uint, bufs: *mut c_void) -> c_long {
    // SAFETY: forwarded from the caller.
    unsafe { prm_hypercall_dm_op_atomic(dom.0, nr, bufs) }
}

/// A new ioeventfd on eventfd `fd` answering `m`, owned by `owner`, on
/// `dom`'s ioreq page that the caller maps at `uaddr`, whose vCPUs' event
/// channels are `ports` (local ports bound by the caller's evtchn device).
/// `share` is an ioeventfd of the same owner on that page, or null.
///
/// # Safety
///
/// `owner` is the `FileState` that will hold the ioeventfd and free it (at
/// the latest at release) before it goes: the interrupt handler reads it.
/// `share` is null or a live ioeventfd of `owner` (held in a slot, under
/// the eventfd lock, which the caller holds).
pub(crate) unsafe fn ioeventfd_new(
    share: *mut c_void,
    owner: *const c_void,
    dom: DomId,
    uaddr: usize,
    ports: &[u32],
    fd: i32,
    m: &IoeventfdMatch,
) -> Result<*mut c_void, Error> {
    let mut err: c_long = 0;
    // SAFETY: `ports` and `m` are live for the call (the helper copies
    // them); `owner` and `share` as the caller vouches.
    let p = unsafe {
        prm_ioeventfd_new(
            share,
            owner,
            dom.0,
            uaddr as c_ulong,
            ports.len() as c_uint,
            ports.as_ptr(),
            fd,
            m,
            &mut err,
        )
    };
    if p.is_null() {
        return Err(Error::from_errno(err as c_int));
    }
    Ok(p)
}

/// Whether ioeventfd `p` is on `dom`'s ioreq page mapped at `uaddr`.
///
/// # Safety
///
/// `p` is a live ioeventfd (held in a slot, under the eventfd lock).
pub(crate) unsafe fn ioeventfd_on(p: *mut c_void, dom: DomId, uaddr: usize) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { prm_ioeventfd_on(p, dom.0, uaddr as c_ulong) }
}

/// Whether ioeventfd `p` signals eventfd `fd`.
///
/// # Safety
///
/// As for [`ioeventfd_on`].
pub(crate) unsafe fn ioeventfd_signals(p: *mut c_void, fd: i32) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { prm_ioeventfd_signals(p, fd) }
}

/// The rule ioeventfd `p` answers.
///
/// # Safety
///
/// As for [`ioeventfd_on`].
pub(crate) unsafe fn ioeventfd_rule(p: *mut c_void) -> IoeventfdMatch {
    // SAFETY: a live ioeventfd's rule, never changed after creation.
    unsafe { *prm_ioeventfd_rule(p) }
}

/// Unhooks and frees ioeventfd `p`.
///
/// # Safety
///
/// `p` came from [`ioeventfd_new`] and is freed once, by whoever took it
/// out of its slot.
pub(crate) unsafe fn ioeventfd_free(p: *mut c_void) {
    // SAFETY: forwarded from the caller.
    unsafe { prm_ioeventfd_free(p) }
}

/// The death check's part for ioeventfds: unmaps the ioreq pages of guests
/// whose ioreq channels have closed (dying). Whether any page is still mapped.
pub(crate) fn ioreqs_check() -> bool {
    // SAFETY: no arguments; takes its own lock.
    unsafe { prm_ioreqs_check() }
}
