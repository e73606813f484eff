// SPDX-License-Identifier: GPL-2.0
//! privcmd-restrict: a privcmd device for device models, whose file
//! descriptors are confined to one domain.
//!
//! It depends on the kernel and on dmop-abi's ABI source (mounted as the
//! `dmop_abi` module) only: no crate from crates.io.
//!
//! `/dev/xen/privcmd-restrict` speaks the Linux privcmd ioctl ABI
//! (`include/uapi/xen/privcmd.h`) for RESTRICT, DM_OP, MMAP_RESOURCE and
//! MMAPBATCH_V2 with the C driver's semantics, never allows HYPERCALL, and
//! adds restrict-at-open: an administrator binds a uid to a domain
//! (`IOCTL_PRIVCMD_RESTRICT_UID`), and that uid's opens return fds already
//! confined to it. The ABI is dmop-abi's own source, included below.
//!
//! DM_OP buffers are copied into kernel memory (read once), and Xen is
//! given those copies, which it cannot fault on; results are copied back.

use core::ffi::{c_char, c_int, c_long, c_uint, c_ulong, c_void};
use core::mem::{size_of, MaybeUninit};
use core::sync::atomic::{AtomicPtr, Ordering};

use kernel::bindings;
use kernel::error::{code, to_result, Error};
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;
use kernel::sync::{Mutex, SpinLock};
use kernel::types::FromBytes;
use kernel::uaccess::UserSlice;
use kernel::{new_mutex, new_spinlock};

#[path = "dmop_abi/mod.rs"]
mod dmop_abi;
mod glue;
mod policy;

use dmop_abi::dmop::DmOpBuf;
use dmop_abi::privcmd::{
    self, IoeventfdFlags, IrqfdFlags, PrivcmdDmOp, PrivcmdDmOpBuf, PrivcmdIoeventfd, PrivcmdIrqfd,
    PrivcmdMmapResource, PrivcmdMmapbatchV2, PrivcmdRestrictUid,
};
use dmop_abi::types::{DomId, GuestHandle, XenPfn};
use dmop_abi::xenmem::{ResourceType, XenMemAcquireResource, XENMEM_ACQUIRE_RESOURCE};
use policy::{
    BindingChange, BindingTable, DmOpLimits, IoeventfdMatch, Lives, OpenDecision, Opener, Refusal,
    Restriction,
};

module! {
    type: PrivcmdRestrict,
    name: "privcmd_restrict",
    author: "xen-depriv",
    description: "privcmd for device models: fds confined to one domain, restrict-at-open",
    license: "GPL",
}

// SAFETY: plain integer structs; every bit pattern is a valid value.
unsafe impl FromBytes for PrivcmdDmOp {}
// SAFETY: as above.
unsafe impl FromBytes for PrivcmdDmOpBuf {}
// SAFETY: as above.
unsafe impl FromBytes for PrivcmdMmapResource {}
// SAFETY: as above.
unsafe impl FromBytes for PrivcmdMmapbatchV2 {}
// SAFETY: as above.
unsafe impl FromBytes for PrivcmdRestrictUid {}
// SAFETY: as above.
unsafe impl FromBytes for PrivcmdIrqfd {}
// SAFETY: as above.
unsafe impl FromBytes for PrivcmdIoeventfd {}
// SAFETY: as above.
unsafe impl FromBytes for DomId {}

/// The uid bindings of restrict-at-open, owned by the module
/// ([`PrivcmdRestrict::bindings`]). Set before the device is registered
/// and cleared after it is deregistered, so every file operation and the
/// sysfs attribute (all gone once `misc_deregister` returns) sees it set.
static BINDINGS: AtomicPtr<SpinLock<BindingTable>> = AtomicPtr::new(core::ptr::null_mut());

/// The bindings, from a file operation, the sysfs attribute or the
/// domain-death check.
fn binding_table() -> &'static SpinLock<BindingTable> {
    let p = BINDINGS.load(Ordering::Acquire);
    debug_assert!(
        !p.is_null(),
        "a callback ran while the device was not registered"
    );
    // SAFETY: only the device's callbacks and the domain-death check call
    // this, and they run only while the device is registered, which is
    // while `p` points at the module's pinned lock (see `BINDINGS`).
    unsafe { &*p }
}

/// The lock every change of an fd's irqfd and ioeventfd slots is made
/// under, owned by the module ([`PrivcmdRestrict::eventfd_lock`]) and set
/// as [`BINDINGS`] is.
static EVENTFD_LOCK: AtomicPtr<Mutex<()>> = AtomicPtr::new(core::ptr::null_mut());

/// The eventfd lock, from a file operation.
fn eventfd_lock() -> &'static Mutex<()> {
    let p = EVENTFD_LOCK.load(Ordering::Acquire);
    debug_assert!(
        !p.is_null(),
        "a file operation ran while the device was not registered"
    );
    // SAFETY: as for `binding_table`: set before the device is registered,
    // cleared after it is deregistered.
    unsafe { &*p }
}

/// The lives of the guests fds are confined to: one entry per ordinary
/// domain id (256 KiB). A static, so every fd can check its guest with one
/// load; the domain-death handler moves a generation on.
static LIVES: Lives<{ DomId::FIRST_RESERVED.0 as usize }> = Lives::new();

fn errno(r: Refusal) -> Error {
    match r {
        Refusal::Perm => code::EPERM,
        Refusal::Inval => code::EINVAL,
        Refusal::TooBig => code::E2BIG,
        Refusal::Access => code::EACCES,
        Refusal::NoSpace => code::ENOSPC,
        Refusal::NoEnt => code::ENOENT,
        Refusal::Gone => code::ESRCH,
    }
}

/// A negative errno from C or from a remap's error slot.
fn from_errno(e: i64) -> Error {
    Error::from_errno(i32::try_from(e).unwrap_or(-(bindings::EINVAL as i32)))
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Self {
        errno(r)
    }
}

struct PrivcmdRestrict {
    /// The restrict-at-open bindings; [`BINDINGS`] points here while the
    /// device is registered.
    bindings: Pin<KBox<SpinLock<BindingTable>>>,
    /// The eventfd lock; [`EVENTFD_LOCK`] points here while the device is
    /// registered.
    eventfd_lock: Pin<KBox<Mutex<()>>>,
}

impl kernel::Module for PrivcmdRestrict {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        if !glue::xen_initial_domain() {
            pr_err!("needs a Xen PV dom0, or Arm's dom0\n");
            return Err(code::ENODEV);
        }
        let bindings = KBox::pin_init(
            new_spinlock!(BindingTable::new(), "privcmd_restrict_bindings"),
            GFP_KERNEL,
        )?;
        let eventfd_lock = KBox::pin_init(new_mutex!((), "privcmd_restrict_eventfds"), GFP_KERNEL)?;
        BINDINGS.store(
            (&*bindings as *const SpinLock<BindingTable>).cast_mut(),
            Ordering::Release,
        );
        EVENTFD_LOCK.store(
            (&*eventfd_lock as *const Mutex<()>).cast_mut(),
            Ordering::Release,
        );
        let unset = || {
            BINDINGS.store(core::ptr::null_mut(), Ordering::Release);
            EVENTFD_LOCK.store(core::ptr::null_mut(), Ordering::Release);
        };
        if let Err(e) = to_result(glue::register()) {
            unset();
            return Err(e);
        }
        if let Err(e) = to_result(glue::watch_domains()) {
            glue::deregister();
            unset();
            return Err(e);
        }
        pr_info!("/dev/{} ready\n", glue::devname().to_str().unwrap_or("?"));
        Ok(PrivcmdRestrict {
            bindings,
            eventfd_lock,
        })
    }
}

impl Drop for PrivcmdRestrict {
    fn drop(&mut self) {
        // After this no watch callback or check runs, and after deregister
        // no file operation or sysfs read (fops hold the module, kernfs
        // drains the attribute): the lock and its table can go.
        glue::unwatch_domains();
        glue::deregister();
        BINDINGS.store(core::ptr::null_mut(), Ordering::Release);
        EVENTFD_LOCK.store(core::ptr::null_mut(), Ordering::Release);
        self.bindings.lock().clear();
        drop(self.eventfd_lock.lock());
        pr_info!("unloaded\n");
    }
}

/// The state of one open fd, in `file->private_data`.
struct FileState {
    restriction: Restriction,
    /// The fd's irqfds (`IOCTL_PRIVCMD_IRQFD`), from c/glue.c; null slots
    /// are free. Torn down at release, before the state goes.
    irqfds: [AtomicPtr<c_void>; MAX_IRQFDS],
    /// The fd's ioeventfds (`IOCTL_PRIVCMD_IOEVENTFD`), from c/glue.c, as
    /// the irqfds.
    ioeventfds: [AtomicPtr<c_void>; MAX_IOEVENTFDS],
}

/// # Safety
///
/// `file` is a live file of this device opened by [`prm_rs_open`].
unsafe fn state<'a>(file: *mut bindings::file) -> &'a FileState {
    // SAFETY: open stored a leaked KBox<FileState> there; it lives until release.
    unsafe { &*(*file).private_data.cast::<FileState>() }
}

/// `open`: decides restrict-at-open.
///
/// # Safety
///
/// Called by the VFS with a live file.
#[no_mangle]
pub(crate) unsafe extern "C" fn prm_rs_open(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    let who = Opener {
        fsuid: glue::current_fsuid(),
        initial_userns: glue::current_in_initial_userns(),
    };
    // Allocated first: once a domain is entered, nothing can fail.
    let Ok(mut st) = KBox::new(
        FileState {
            restriction: Restriction::none(),
            irqfds: [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_IRQFDS],
            ioeventfds: [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_IOEVENTFDS],
        },
        GFP_KERNEL,
    ) else {
        return code::ENOMEM.to_errno();
    };
    // The binding is looked up, and its domain entered, under the binding
    // lock, which the death check holds while it drops the binding and
    // moves the generation on. CAP_SYS_ADMIN is asked only of an unbound
    // opener: a bound device model's opens cause no capability denials in
    // the audit log.
    let mut generation = 0;
    let decision = policy::decide_open(
        who,
        |uid| {
            let t = binding_table().lock();
            let d = t.lookup(uid)?;
            generation = LIVES.enter(d);
            Some(d)
        },
        glue::capable_sys_admin,
    );
    st.restriction = match decision {
        Ok(OpenDecision::Restricted(d)) => Restriction::to(d, generation),
        Ok(OpenDecision::Unrestricted) => Restriction::none(),
        Err(r) => return errno(r).to_errno(),
    };
    if st.restriction.get().is_some() {
        glue::schedule_recheck();
    }
    // SAFETY: the file is ours until release; private_data is free.
    unsafe { (*file).private_data = KBox::into_raw(st).cast() };
    0
}

/// `release`: frees the fd's state.
///
/// # Safety
///
/// Called by the VFS once, with the file open set up.
#[no_mangle]
pub(crate) unsafe extern "C" fn prm_rs_release(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // No ioctl runs any more: the irqfds and ioeventfds are unhooked while
    // the state is still only borrowed, so none fires with a dangling
    // owner; then the state goes.
    {
        // SAFETY: a file of this device, opened by prm_rs_open.
        let st = unsafe { state(file) };
        let _guard = eventfd_lock().lock();
        for slot in &st.irqfds {
            let p = slot.swap(core::ptr::null_mut(), Ordering::Relaxed);
            if !p.is_null() {
                // SAFETY: taken out of its slot under the lock: freed once.
                unsafe { glue::irqfd_free(p) };
            }
        }
        for slot in &st.ioeventfds {
            let p = slot.swap(core::ptr::null_mut(), Ordering::Relaxed);
            if !p.is_null() {
                // SAFETY: taken out of its slot under the lock: freed once.
                unsafe { glue::ioeventfd_free(p) };
            }
        }
    }
    // SAFETY: private_data holds the KBox leaked by open; nothing uses it after release.
    let st = unsafe { KBox::from_raw((*file).private_data.cast::<FileState>()) };
    st.restriction.release(&LIVES);
    0
}

/// `mmap`: the region later filled by MMAP_RESOURCE or MMAPBATCH_V2.
///
/// # Safety
///
/// Called by the VFS with a live file and vma, mmap lock held.
#[no_mangle]
pub(crate) unsafe extern "C" fn prm_rs_mmap(
    _file: *mut bindings::file,
    vma: *mut bindings::vm_area_struct,
) -> c_int {
    // SAFETY: forwarded from the VFS.
    unsafe { glue::vma_setup(vma) };
    0
}

/// The `bindings` sysfs attribute: one `uid domid` line per binding.
///
/// # Safety
///
/// `buf` holds `size` writable bytes (a sysfs page).
#[no_mangle]
pub(crate) unsafe extern "C" fn prm_rs_bindings_show(buf: *mut c_char, size: usize) -> isize {
    // SAFETY: sysfs hands a writable page of `size` bytes.
    let out = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), size) };
    policy::format_bindings(&binding_table().lock(), out) as isize
}

/// `unlocked_ioctl`.
///
/// # Safety
///
/// Called by the VFS with a live file of this device.
#[no_mangle]
pub(crate) unsafe extern "C" fn prm_rs_ioctl(
    file: *mut bindings::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    // SAFETY: a file of this device, opened by prm_rs_open.
    let st = unsafe { state(file) };
    let arg = arg as usize;
    let r = match cmd {
        // The node is for device models: raw hypercalls stay on the C privcmd.
        privcmd::IOCTL_PRIVCMD_HYPERCALL => Err(code::EPERM),
        privcmd::IOCTL_PRIVCMD_RESTRICT => restrict(st, arg),
        privcmd::IOCTL_PRIVCMD_DM_OP => dm_op(st, arg),
        privcmd::IOCTL_PRIVCMD_MMAP_RESOURCE => mmap_resource(st, arg),
        privcmd::IOCTL_PRIVCMD_MMAPBATCH_V2 => mmapbatch_v2(st, arg),
        privcmd::IOCTL_PRIVCMD_RESTRICT_UID => restrict_uid(st, arg),
        privcmd::IOCTL_PRIVCMD_IRQFD => irqfd(st, arg),
        privcmd::IOCTL_PRIVCMD_IOEVENTFD => ioeventfd(st, arg),
        _ => Err(code::ENOTTY),
    };
    match r {
        Ok(v) => v,
        Err(e) => e.to_errno() as c_long,
    }
}

/// Called by the `@releaseDomain` xenstore watch and the periodic check
/// (c/glue.c), in process context: every domain a binding or an fd is
/// confined to that Xen no longer knows has its bindings dropped and its
/// fds closed to it (`ESRCH`). Returns whether any binding or fd still
/// names a domain, or an ioeventfd still maps a guest's ioreq page (the
/// periodic check goes on then, as it does while c/glue.c holds any
/// domain's count of mapped pages); an ioreq page goes as soon as its guest's
/// channels close, which they do when it starts dying. Runs only while the
/// device is registered (both start after it and are stopped before it
/// goes).
#[no_mangle]
pub(crate) extern "C" fn prm_rs_domains_changed() -> bool {
    let mut bound = [DomId::INVALID; policy::MAX_BINDINGS];
    let mut n = 0;
    binding_table().lock().for_each(|_, d| {
        if !bound[..n].contains(&d) {
            bound[n] = d;
            n += 1;
        }
    });
    for &d in &bound[..n] {
        if glue::domain_gone(d) {
            // Under the lock an open looks its binding up and enters in:
            // it either sees the binding and the old generation (and dies
            // with it) or no binding.
            let dropped = {
                let mut t = binding_table().lock();
                let n = t.unbind_domain(d);
                LIVES.died(d);
                n
            };
            pr_info!(
                "domain {} is gone: {dropped} binding(s) dropped, its fds closed\n",
                d.0
            );
        }
    }
    let mut watched = false;
    LIVES.for_each_watched(|d| {
        watched = true;
        if !bound[..n].contains(&d) && glue::domain_gone(d) {
            LIVES.died(d);
        }
    });
    let mut still_bound = false;
    binding_table().lock().for_each(|_, _| still_bound = true);
    // Last: a guest found gone above has closed its channels, so its
    // ioreq pages go here too.
    let mapped = glue::ioreqs_check();
    watched || still_bound || mapped
}

/// Reads a `T` from user memory, once.
fn read_user<T: FromBytes>(addr: usize) -> Result<T> {
    UserSlice::new(addr, size_of::<T>()).reader().read::<T>()
}

fn restrict(st: &FileState, arg: usize) -> Result<c_long> {
    let domid: DomId = read_user(arg)?;
    st.restriction.restrict(domid, &LIVES)?;
    glue::schedule_recheck();
    Ok(0)
}

fn restrict_uid(st: &FileState, arg: usize) -> Result<c_long> {
    let req: PrivcmdRestrictUid = read_user(arg)?;
    let kuid = glue::make_kuid(req.uid);
    match policy::decide_restrict_uid(glue::capable_sys_admin(), &st.restriction, &req, kuid)? {
        BindingChange::Bind(uid, domid) => {
            // A binding names a live guest and goes with it. Checked again
            // once bound: a death between the first check and the bind,
            // whose handler found no binding to drop, is caught here.
            BindingTable::bindable(uid, domid)?;
            if glue::domain_gone(domid) {
                return Err(code::ESRCH);
            }
            binding_table().lock().bind(uid, domid)?;
            glue::schedule_recheck();
            if glue::domain_gone(domid) {
                binding_table().lock().unbind_domain(domid);
                return Err(code::ESRCH);
            }
        }
        BindingChange::Unbind(uid) => binding_table().lock().unbind(uid)?,
    }
    Ok(0)
}

/// Buffers of DM_OP on the stack up to this count and total size.
const STACK_BUFS: usize = 16;
const STACK_BYTES: usize = 256;

/// Allocation flags for what a caller's numbers size (within the limits
/// checked first): a request too large for the allocator fails with
/// `ENOMEM`, never with the page allocator's warning (fatal under
/// `panic_on_warn`).
fn gfp_user_sized() -> kernel::alloc::Flags {
    GFP_KERNEL | __GFP_NOWARN
}

fn dm_op(st: &FileState, arg: usize) -> Result<c_long> {
    let op: PrivcmdDmOp = read_user(arg)?;
    st.restriction.check(op.dom, &LIVES)?;
    if op.num == 0 {
        return Ok(0);
    }
    let limits = DmOpLimits {
        max_bufs: glue::max_nr_bufs(),
        max_size: glue::buf_max_size(),
    };
    limits.check_count(op.num)?;
    let n = usize::from(op.num);

    // The buffer descriptors, read once.
    let mut descs_stack = [PrivcmdDmOpBuf::ZEROED; STACK_BUFS];
    let mut descs_heap = KVec::new();
    let descs: &mut [PrivcmdDmOpBuf] = if n <= STACK_BUFS {
        &mut descs_stack[..n]
    } else {
        descs_heap.extend_with(n, PrivcmdDmOpBuf::ZEROED, gfp_user_sized())?;
        &mut descs_heap[..]
    };
    let mut r = UserSlice::new(op.ubufs.addr(), n * size_of::<PrivcmdDmOpBuf>()).reader();
    let mut total = 0usize;
    for d in descs.iter_mut() {
        *d = r.read::<PrivcmdDmOpBuf>()?;
    }
    for d in descs.iter() {
        limits.check_size(d.size)?;
        if !glue::access_ok(d.uptr.addr(), d.size) {
            return Err(code::EFAULT);
        }
        total += d.size;
    }

    // The contents, read once into kernel memory Xen cannot fault on. The
    // area is not zeroed as a whole: every byte is filled by the read from
    // user memory, except an output-only buffer's, which is zeroed below.
    let mut data_stack = [const { MaybeUninit::<u8>::uninit() }; STACK_BYTES];
    // kvmalloc: an administrator may raise the limits well past what one
    // high-order allocation should carry (16 x 4 KiB by default).
    let mut data_heap: KVVec<u8> = KVVec::new();
    let data: &mut [MaybeUninit<u8>] = if total <= STACK_BYTES {
        &mut data_stack[..total]
    } else {
        data_heap.reserve(total, gfp_user_sized())?;
        &mut data_heap.spare_capacity_mut()[..total]
    };
    let first = descs[0].size;
    UserSlice::new(descs[0].uptr.addr(), first)
        .reader()
        .read_raw(&mut data[..first])?;
    // SAFETY: read_raw initialized these bytes.
    let buf0 = unsafe { init_slice(&data[..first]) };
    probe_writable(descs[0].uptr.addr(), buf0)?;
    // Buffer 1 of track_dirty_vram is output only (the frozen ABI fixes what
    // op 7 is): not copied in, and only the bytes Xen writes are copied back.
    let out_only = policy::output_only_len(buf0, n);
    let mut off = first;
    for (i, d) in descs.iter().enumerate().skip(1) {
        let area = &mut data[off..off + d.size];
        if i == 1 && out_only.is_some() {
            probe_writable_unread(d.uptr.addr(), d.size)?;
            // Zeroed, not trusted to Xen: whatever it leaves unwritten goes
            // back to the caller as zeros, never as old kernel memory.
            area.fill(MaybeUninit::new(0));
        } else {
            UserSlice::new(d.uptr.addr(), d.size)
                .reader()
                .read_raw(area)?;
            // SAFETY: read_raw initialized these bytes.
            probe_writable(d.uptr.addr(), unsafe { init_slice(area) })?;
        }
        off += d.size;
    }

    let mut xbufs_stack = [DmOpBuf::ZEROED; STACK_BUFS];
    let mut xbufs_heap = KVec::new();
    let xbufs: &mut [DmOpBuf] = if n <= STACK_BUFS {
        &mut xbufs_stack[..n]
    } else {
        xbufs_heap.extend_with(n, DmOpBuf::ZEROED, gfp_user_sized())?;
        &mut xbufs_heap[..]
    };
    // Xen writes through these handles: they come from a mutable borrow.
    let base = data.as_mut_ptr();
    let mut off = 0;
    for (x, d) in xbufs.iter_mut().zip(descs.iter()) {
        *x = DmOpBuf {
            h: GuestHandle::from_addr(base.wrapping_add(off) as usize),
            size: d.size as u64,
        };
        off += d.size;
    }
    // SAFETY: `xbufs` describes `n` disjoint kernel buffers within `data`,
    // which stays alive and is not otherwise touched across the call.
    let rc = unsafe { glue::hypercall_dm_op(op.dom, n as c_uint, xbufs.as_mut_ptr().cast()) };

    // Xen may have written any buffer: copy every one back (of an
    // output-only buffer, what Xen wrote, and only if it succeeded). A
    // buffer that cannot be written does not stop the others: the op has
    // been made, so the caller gets every result that can be delivered,
    // and EFAULT says that one could not (docs/privcmd-restrict.md).
    let mut off = 0;
    let mut copy_back = Ok(());
    for (i, d) in descs.iter().enumerate() {
        let len = match out_only {
            Some(_) if i == 1 && rc < 0 => 0,
            Some(l) if i == 1 => l.min(d.size),
            _ => d.size,
        };
        // SAFETY: these bytes were read from user memory, or (an
        // output-only buffer) zeroed before the call.
        let bytes = unsafe { init_slice(&data[off..off + len]) };
        if let Err(e) = UserSlice::new(d.uptr.addr(), len)
            .writer()
            .write_slice(bytes)
        {
            copy_back = Err(e);
        }
        off += d.size;
    }
    if rc < 0 {
        return Err(from_errno(rc));
    }
    copy_back?;
    Ok(rc)
}

/// The bytes of `s`.
///
/// # Safety
///
/// Every byte of `s` is initialized.
unsafe fn init_slice(s: &[MaybeUninit<u8>]) -> &[u8] {
    // SAFETY: MaybeUninit<u8> has u8's layout; the caller vouches for initialization.
    unsafe { core::slice::from_raw_parts(s.as_ptr().cast::<u8>(), s.len()) }
}

/// The offset of the next page boundary after `addr + i`, from `addr`.
fn next_page(addr: usize, i: usize) -> usize {
    (addr + i + PAGE_SIZE) / PAGE_SIZE * PAGE_SIZE - addr
}

/// Fails with `EFAULT` unless every page of `[addr, addr + chunk.len())` is
/// writable, by writing back one byte per page with the value just read (the
/// C driver pins the pages writable and fails the same way, before any
/// hypercall).
fn probe_writable(addr: usize, chunk: &[u8]) -> Result {
    let mut i = 0;
    while i < chunk.len() {
        UserSlice::new(addr + i, 1)
            .writer()
            .write_slice(&chunk[i..i + 1])?;
        i = next_page(addr, i);
    }
    Ok(())
}

/// Like [`probe_writable`] for a buffer not read: reads one byte per page
/// and writes it back.
fn probe_writable_unread(addr: usize, len: usize) -> Result {
    let mut i = 0;
    while i < len {
        let mut b = [0u8; 1];
        let (mut rd, mut wr) = UserSlice::new(addr + i, 1).reader_writer();
        rd.read_slice(&mut b)?;
        wr.write_slice(&b)?;
        i = next_page(addr, i);
    }
    Ok(())
}

/// Irqfds one fd may own.
const MAX_IRQFDS: usize = 64;

/// `IOCTL_PRIVCMD_IRQFD`: assigns or deassigns a DM_OP the kernel makes
/// whenever an eventfd is signalled, owned by this fd (torn down with it),
/// confined as its DM_OPs are. Only interrupt-injection ops are accepted:
/// the call is made with interrupts off. Every change of the fd's slots is
/// made under [`eventfd_lock`], so a slot's irqfd is freed by one holder only.
fn irqfd(st: &FileState, arg: usize) -> Result<c_long> {
    let req: PrivcmdIrqfd = read_user(arg)?;
    if req.pad != [0; 2] || req.flags.0 & !IrqfdFlags::DEASSIGN.0 != 0 {
        return Err(code::EINVAL);
    }
    let fd = i32::try_from(req.fd).map_err(|_| code::EBADF)?;
    if req.flags == IrqfdFlags::DEASSIGN {
        // Teardown works after the guest's death too: only the domain is
        // checked, not its life.
        if st.restriction.get().is_some_and(|d| d != req.dom) {
            return Err(code::EPERM);
        }
        let _guard = eventfd_lock().lock();
        for slot in &st.irqfds {
            let p = slot.load(Ordering::Relaxed);
            // SAFETY: a slot's irqfd lives until freed under the lock we hold.
            if !p.is_null() && unsafe { glue::irqfd_matches(p, fd, req.dom) } {
                slot.store(core::ptr::null_mut(), Ordering::Relaxed);
                // SAFETY: taken out of its slot under the lock: freed once.
                unsafe { glue::irqfd_free(p) };
                return Ok(0);
            }
        }
        return Err(code::ENOENT);
    }
    st.restriction.check(req.dom, &LIVES)?;
    let size = req.size as usize;
    if size == 0 || size > PAGE_SIZE.min(glue::buf_max_size() as usize) {
        return Err(code::EINVAL);
    }
    // The op, read once: every signal makes this copy.
    let mut op = KVec::new();
    op.extend_with(size, 0u8, GFP_KERNEL)?;
    UserSlice::new(req.dm_op as usize, size)
        .reader()
        .read_slice(&mut op)?;
    if !policy::irqfd_op_allowed(&op) {
        return Err(code::EINVAL);
    }
    let _guard = eventfd_lock().lock();
    let mut free = None;
    for slot in &st.irqfds {
        let p = slot.load(Ordering::Relaxed);
        if p.is_null() {
            free = free.or(Some(slot));
            continue;
        }
        // SAFETY: as above, under the lock.
        if unsafe { glue::irqfd_hung_up(p) } {
            // Its eventfd was closed: reaped here, as the C driver does at once.
            slot.store(core::ptr::null_mut(), Ordering::Relaxed);
            // SAFETY: taken out of its slot under the lock: freed once.
            unsafe { glue::irqfd_free(p) };
            free = free.or(Some(slot));
        // SAFETY: as above, under the lock.
        } else if unsafe { glue::irqfd_matches(p, fd, req.dom) } {
            return Err(code::EBUSY);
        }
    }
    let slot = free.ok_or(code::ENOSPC)?;
    let owner: *const FileState = st;
    // SAFETY: `owner` frees its irqfds (at release) before it goes.
    let p = unsafe { glue::irqfd_new(fd, req.dom, owner.cast(), &op) }?;
    slot.store(p, Ordering::Relaxed);
    Ok(0)
}

/// An irqfd's eventfd was signalled (c/glue.c, in atomic context, under
/// the eventfd's wait-queue lock): the owner's DM_OP, if its restriction
/// still allows `dom` and its guest lives. Nothing here sleeps.
///
/// # Safety
///
/// `owner` is the [`FileState`] that owns the irqfd (it frees its irqfds
/// before it goes); `xbuf` is the irqfd's `xen_dm_op_buf`, describing its
/// kernel copy of the op.
#[no_mangle]
pub(crate) unsafe extern "C" fn prm_rs_irqfd_fire(
    owner: *const c_void,
    dom: u16,
    xbuf: *mut c_void,
) {
    // SAFETY: see above.
    let st = unsafe { &*owner.cast::<FileState>() };
    if st.restriction.check(DomId(dom), &LIVES).is_ok() {
        // SAFETY: one buffer, the irqfd's own, alive while it is hooked.
        unsafe { glue::hypercall_dm_op_atomic(DomId(dom), 1, xbuf) };
    }
}

/// `XENMEM_acquire_resource` with no frame list: the resource's size.
fn resource_size(acquire: &XenMemAcquireResource) -> Result<u32> {
    let mut q = XenMemAcquireResource {
        nr_frames: 0,
        frame: 0,
        frame_list: GuestHandle::from_addr(0),
        ..*acquire
    };
    // SAFETY: `q` is a xen_mem_acquire_resource with a null frame list.
    let rc = unsafe { glue::hypercall_memory_op(XENMEM_ACQUIRE_RESOURCE, (&raw mut q).cast()) };
    if rc < 0 {
        return Err(from_errno(rc));
    }
    Ok(q.nr_frames)
}

fn mmap_resource(st: &FileState, arg: usize) -> Result<c_long> {
    let req: PrivcmdMmapResource = read_user(arg)?;
    st.restriction.check(req.dom, &LIVES)?;
    if (req.addr != 0) != (req.num != 0) {
        return Err(code::EINVAL);
    }
    let mut acquire = XenMemAcquireResource {
        domid: req.dom,
        r#type: ResourceType(req.r#type as u16),
        id: req.id,
        ..XenMemAcquireResource::ZEROED
    };
    if req.num == 0 {
        // A size query: answer in `num`.
        let size = resource_size(&acquire)?;
        let num_at = arg + core::mem::offset_of!(PrivcmdMmapResource, num);
        UserSlice::new(num_at, 8).writer().write(&u64::from(size))?;
        return Ok(0);
    }
    // Before anything is sized by `num`: a count Linux's remap can take and
    // frames the resource has; then, last before the work, a claim of that
    // many pages of our vma.
    let num = policy::frame_count(req.num)?;
    if !policy::resource_range_fits(u64::from(req.idx), num, resource_size(&acquire)?) {
        return Err(code::EINVAL);
    }
    // Bounded by the resource: kvmalloc, so a large one (a grant table)
    // needs no high-order allocation.
    let mut frames = KVVec::new();
    frames.extend_with(num, 0 as XenPfn, gfp_user_sized())?;
    let mut errs = KVVec::new();
    errs.extend_with(num, 0 as c_int, gfp_user_sized())?;
    to_result(glue::vma_claim(req.addr as usize, num, req.dom) as c_int)?;
    acquire.nr_frames = num as u32;
    acquire.frame = u64::from(req.idx);
    acquire.frame_list = GuestHandle::from_addr(frames.as_mut_ptr() as usize);
    // SAFETY: `acquire` points at `frames`, and `frames` and `errs` hold
    // `num` entries each, alive across the call; the helper takes the mmap lock.
    let rc = unsafe {
        glue::map_resource(
            req.addr as usize,
            num as u32,
            XENMEM_ACQUIRE_RESOURCE,
            (&raw mut acquire).cast(),
            frames.as_mut_ptr(),
            errs.as_mut_ptr(),
            req.dom,
        )
    };
    to_result(rc as c_int)?;
    Ok(0)
}

/// MMAPBATCH_V2 works in chunks of this many frames, so its kernel memory
/// is one page of frame numbers and half a page of errors, whatever `num`.
const BATCH_CHUNK: usize = PAGE_SIZE / size_of::<XenPfn>();

fn mmapbatch_v2(st: &FileState, arg: usize) -> Result<c_long> {
    let req: PrivcmdMmapbatchV2 = read_user(arg)?;
    let num = req.num as usize;
    if !glue::access_ok(req.err.addr(), num.saturating_mul(size_of::<c_int>())) {
        return Err(code::EFAULT);
    }
    st.restriction.check(req.dom, &LIVES)?;
    // A count Linux's remap can take; the arrays within user space; then,
    // last before the work, a claim of that many pages of our vma: the
    // whole batch fits where the caller mmapped the node.
    let num = policy::frame_count(u64::from(req.num))?;
    if !glue::access_ok(req.arr.addr(), num.saturating_mul(size_of::<XenPfn>())) {
        return Err(code::EFAULT);
    }
    let chunk = num.min(BATCH_CHUNK);
    let mut gfns = KVec::new();
    gfns.extend_with(chunk, 0 as XenPfn, GFP_KERNEL)?;
    let mut errs = KVec::new();
    errs.extend_with(chunk, 0 as c_int, GFP_KERNEL)?;
    let addr = req.addr as usize;
    to_result(glue::vma_claim(addr, num, req.dom) as c_int)?;
    let batch = Batch {
        restriction: &st.restriction,
        addr,
        num,
        dom: req.dom,
        arr: req.arr.addr(),
        err: req.err.addr(),
    };
    let mut done = 0;
    match batch.map(&mut gfns, &mut errs, &mut done) {
        Ok(true) => Err(code::ENOENT),
        Ok(false) => Ok(0),
        Err(e) => {
            // Frames the batch never reached carry its error too (best
            // effort: the error slots may be what failed).
            errs.fill(e.to_errno());
            while done < num {
                let n = chunk.min(num - done);
                if batch.write_errs(done, &errs[..n]).is_err() {
                    break;
                }
                done += n;
            }
            Err(e)
        }
    }
}

/// One MMAPBATCH_V2, after its checks and claim.
struct Batch<'a> {
    restriction: &'a Restriction,
    addr: usize,
    num: usize,
    dom: DomId,
    arr: usize,
    err: usize,
}

impl Batch<'_> {
    /// The error slots from frame `at` on.
    fn write_errs(&self, at: usize, errs: &[c_int]) -> Result {
        write_errs(self.err + at * size_of::<c_int>(), errs)
    }

    /// Clears the error array (as the C driver does), then maps the frames
    /// chunk by chunk. `done` is how many frames' error slots are final.
    /// Returns whether a frame is paged out.
    fn map(&self, gfns: &mut [XenPfn], errs: &mut [c_int], done: &mut usize) -> Result<bool> {
        let chunk = gfns.len();
        let mut at = 0;
        while at < self.num {
            let n = chunk.min(self.num - at);
            self.write_errs(at, &errs[..n])?;
            at += n;
        }
        let mut paged_out = false;
        while *done < self.num {
            if glue::fatal_signal_pending() {
                return Err(code::EINTR);
            }
            // A long batch stops when its guest dies.
            self.restriction.check(self.dom, &LIVES)?;
            let at = *done;
            let n = chunk.min(self.num - at);
            // This chunk's frames, read once.
            let g = &mut gfns[..n];
            // SAFETY: XenPfn is a plain integer; viewing the chunk as bytes to fill it.
            let bytes = unsafe {
                core::slice::from_raw_parts_mut(
                    g.as_mut_ptr().cast::<u8>(),
                    n * size_of::<XenPfn>(),
                )
            };
            UserSlice::new(self.arr + at * size_of::<XenPfn>(), bytes.len())
                .reader()
                .read_slice(bytes)?;
            let e = &mut errs[..n];
            e.fill(policy::NOT_TRIED);
            // SAFETY: `g` and `e` hold `n` entries each; the helper takes the mmap lock.
            let rc = unsafe {
                glue::map_gfns(
                    self.addr + at * PAGE_SIZE,
                    n as u32,
                    g.as_mut_ptr(),
                    e.as_mut_ptr(),
                    self.dom,
                )
            };
            let outcome = policy::chunk_outcome(e, rc as i64);
            self.write_errs(at, e)?;
            *done = at + n;
            paged_out |= outcome.map_err(|e| from_errno(e.into()))?;
        }
        Ok(paged_out)
    }
}

fn write_errs(addr: usize, errs: &[c_int]) -> Result {
    // SAFETY: c_int is a plain integer; its bytes are what userspace reads.
    let bytes = unsafe {
        core::slice::from_raw_parts(errs.as_ptr().cast::<u8>(), core::mem::size_of_val(errs))
    };
    UserSlice::new(addr, bytes.len())
        .writer()
        .write_slice(bytes)
}

/// Ioeventfds one fd may own (a virtio device has one per queue).
const MAX_IOEVENTFDS: usize = 64;

/// `IOCTL_PRIVCMD_IOEVENTFD`: assigns or deassigns an eventfd the kernel
/// signals, completing the ioreq itself, when the guest makes a matching
/// write ([`IoeventfdMatch`]) that one of the fd's guest's ioreq servers
/// receives. `ioreq` is the caller's mapping of that server's synchronous
/// ioreq page (a mapping of this node), `ports` its vCPUs' event channels
/// as the caller's evtchn device bound them. Owned by this fd (torn down
/// with it), confined as its DM_OPs are, and unhooked as soon as the guest
/// starts dying. Upstream's answers where it has one: `EBUSY` for an
/// eventfd already on the page, `ENODEV` for a deassign that finds nothing.
fn ioeventfd(st: &FileState, arg: usize) -> Result<c_long> {
    let req: PrivcmdIoeventfd = read_user(arg)?;
    let rule = IoeventfdMatch::of(
        req.flags.0,
        req.addr,
        req.addr_len,
        req.vq,
        req.vcpus,
        req.pad,
    )?;
    let fd = i32::try_from(req.event_fd).map_err(|_| code::EBADF)?;
    let uaddr = usize::try_from(req.ioreq).map_err(|_| code::EINVAL)?;
    if uaddr % PAGE_SIZE != 0 {
        return Err(code::EINVAL);
    }
    if req.flags.0 & IoeventfdFlags::DEASSIGN.0 != 0 {
        // As for irqfds: teardown works after the guest's death.
        if st.restriction.get().is_some_and(|d| d != req.dom) {
            return Err(code::EPERM);
        }
        let _guard = eventfd_lock().lock();
        for slot in &st.ioeventfds {
            let p = slot.load(Ordering::Relaxed);
            // SAFETY: a slot's ioeventfd lives until freed under the lock we hold.
            let ours = !p.is_null()
                && unsafe {
                    glue::ioeventfd_on(p, req.dom, uaddr)
                        && glue::ioeventfd_signals(p, fd)
                        && glue::ioeventfd_rule(p) == rule
                };
            if ours {
                slot.store(core::ptr::null_mut(), Ordering::Relaxed);
                // SAFETY: taken out of its slot under the lock: freed once.
                unsafe { glue::ioeventfd_free(p) };
                return Ok(0);
            }
        }
        return Err(code::ENODEV);
    }
    st.restriction.check(req.dom, &LIVES)?;
    // An unrestricted fd's domain too must be a guest: Xen is told it as
    // the owner of the frame to map.
    if !req.dom.is_guest() {
        return Err(code::EINVAL);
    }
    // The ports, read once (at most MAX_IOREQ_VCPUS: `of` checked).
    let mut ports = KVec::new();
    ports.extend_with(req.vcpus as usize, 0u32, GFP_KERNEL)?;
    // SAFETY: u32 is a plain integer with no invalid bit pattern; the byte
    // view covers exactly the vector's `len` initialized elements, and u8
    // has no alignment to break.
    let bytes = unsafe {
        core::slice::from_raw_parts_mut(
            ports.as_mut_ptr().cast::<u8>(),
            ports.len() * size_of::<u32>(),
        )
    };
    UserSlice::new(req.ports as usize, bytes.len())
        .reader()
        .read_slice(bytes)?;
    let _guard = eventfd_lock().lock();
    let mut free = None;
    let mut share = core::ptr::null_mut();
    for slot in &st.ioeventfds {
        let p = slot.load(Ordering::Relaxed);
        if p.is_null() {
            free = free.or(Some(slot));
            continue;
        }
        // SAFETY: as above, under the lock.
        if unsafe { glue::ioeventfd_on(p, req.dom, uaddr) } {
            share = p;
            // SAFETY: as above.
            if unsafe { glue::ioeventfd_signals(p, fd) } {
                return Err(code::EBUSY);
            }
            // SAFETY: as above.
            if unsafe { glue::ioeventfd_rule(p) }.collides(&rule) {
                return Err(code::EEXIST);
            }
        }
    }
    let slot = free.ok_or(code::ENOSPC)?;
    let owner: *const FileState = st;
    // SAFETY: `owner` frees its ioeventfds (at release) before it goes;
    // `share` is null or one of them, under the lock.
    let p = unsafe { glue::ioeventfd_new(share, owner.cast(), req.dom, uaddr, &ports, fd, &rule) }?;
    slot.store(p, Ordering::Relaxed);
    // The death check runs while a guest's page is mapped.
    glue::schedule_recheck();
    Ok(0)
}

/// An ioeventfd's interrupt handler asks whether its owner may still answer
/// for `dom` (its restriction allows it and its guest lives). Hard-IRQ
/// context: atomics only.
///
/// # Safety
///
/// `owner` is the [`FileState`] that owns the ioeventfd (it frees its
/// ioeventfds before it goes).
#[no_mangle]
pub(crate) unsafe extern "C" fn prm_rs_ioeventfd_allowed(owner: *const c_void, dom: u16) -> bool {
    // SAFETY: see above.
    let st = unsafe { &*owner.cast::<FileState>() };
    st.restriction.check(DomId(dom), &LIVES).is_ok()
}

/// Whether the plain guest write of `size` bytes of `data` at `addr` is the
/// one `m` answers (the interrupt handler asks, for each ioeventfd on the
/// page).
///
/// # Safety
///
/// `m` points at a live ioeventfd's rule.
#[no_mangle]
pub(crate) unsafe extern "C" fn prm_rs_ioeventfd_answers(
    m: *const IoeventfdMatch,
    addr: u64,
    size: u32,
    data: u64,
) -> bool {
    // SAFETY: see above.
    unsafe { &*m }.answers(addr, size, data)
}
