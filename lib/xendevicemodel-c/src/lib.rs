// SPDX-License-Identifier: MIT
//! A drop-in `libxendevicemodel.so.1`: Xen 4.17's C API (the 26 functions of
//! `xendevicemodel.h`, symbol versions `VERS_1.0` to `VERS_1.4`) on top of
//! the `xendevicemodel` crate.
//!
//! It depends on the `xendevicemodel` crate and on the C libraries Xen's own
//! library links (libxencall, libxentoolcore, libxentoollog), nothing else.
//!
//! Behaviour follows the C library: `open` registers the handle with
//! libxentoolcore (so `xentoolcore_restrict_all` restricts it), opens
//! libxencall, opens `/dev/xen/privcmd` and probes `IOCTL_PRIVCMD_DM_OP`;
//! without a DM_OP-capable privcmd the ops go through libxencall and
//! `restrict` fails with `EOPNOTSUPP`. Errors are -1 with `errno`.
//!
//! Beyond the C library: a NULL handle or output pointer gives -1 with
//! `EINVAL` instead of a crash, no panic crosses the C boundary (-1 with
//! `EIO`), and restricting to a reserved domain id (`DOMID_INVALID`, which
//! the kernel treats as "unrestricted") is refused with `EINVAL`.
#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, c_uint, c_ulong, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use dmop_abi::dmop::*;
use dmop_abi::types::{DomId, EvtchnPort, GuestHandle, IoservId, XenUlong};
use dmop_abi::xenmem::HYPERVISOR_DM_OP;
use xendevicemodel::{DeviceModel, DmOpFallback, Error};

type domid_t = u16;
type ioservid_t = u16;
type xen_pfn_t = c_ulong;
type evtchn_port_t = u32;

/// libxentoolcore's `Xentoolcore__Active_Handle`: the callback and a list entry.
#[repr(C)]
struct ActiveHandle {
    restrict_callback: Option<unsafe extern "C" fn(*mut ActiveHandle, domid_t) -> c_int>,
    le_next: *mut ActiveHandle,
    le_prev: *mut *mut ActiveHandle,
}

#[allow(missing_docs)]
extern "C" {
    fn xentoolcore__register_active_handle(ah: *mut ActiveHandle);
    fn xentoolcore__deregister_active_handle(ah: *mut ActiveHandle);
    fn xencall_open(logger: *mut c_void, flags: c_uint) -> *mut c_void;
    fn xencall_close(xcall: *mut c_void) -> c_int;
    fn xencall_alloc_buffer(xcall: *mut c_void, size: usize) -> *mut c_void;
    fn xencall_free_buffer(xcall: *mut c_void, p: *mut c_void);
    fn xencall3(xcall: *mut c_void, op: c_uint, a1: u64, a2: u64, a3: u64) -> c_int;
    fn xtl_createlogger_stdiostream(
        f: *mut libc::FILE,
        min_level: c_int,
        flags: c_uint,
    ) -> *mut c_void;
    fn xtl_logger_destroy(logger: *mut c_void);
    fn xtl_log(
        logger: *mut c_void,
        level: c_int,
        errnoval: c_int,
        context: *const c_char,
        fmt: *const c_char,
        ...
    );
    static stderr: *mut libc::FILE;
}

const XTL_PROGRESS: c_int = 4;
const XTL_ERROR: c_int = 8;

/// The handle: libxentoolcore's entry first, so that its address is the
/// handle's.
#[repr(C)]
pub struct xendevicemodel_handle {
    tc_ah: ActiveHandle,
    logger: *mut c_void,
    logger_tofree: *mut c_void,
    xcall: *mut c_void,
    dm: Option<DeviceModel>,
}

fn set_errno(e: c_int) {
    // SAFETY: __errno_location returns this thread's errno.
    unsafe { *libc::__errno_location() = e };
}

fn errno() -> c_int {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Runs `f` on the handle behind `h` inside a panic boundary; maps its
/// result to the C convention.
fn call(h: *mut xendevicemodel_handle, f: impl FnOnce(&DeviceModel) -> Result<(), Error>) -> c_int {
    if h.is_null() {
        set_errno(libc::EINVAL);
        return -1;
    }
    let r = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: a non-null handle comes from xendevicemodel_open and is
        // live until xendevicemodel_close (the C API's contract).
        let h = unsafe { &*h };
        match &h.dm {
            Some(dm) => f(dm),
            None => Err(Error::new("handle", libc::EBADF)),
        }
    }));
    match r {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            set_errno(e.errno());
            -1
        }
        Err(_) => {
            set_errno(libc::EIO);
            -1
        }
    }
}

/// `Xentoolcore__Restrict_Callback`: restricts the handle's privcmd
/// descriptor; a handle without one has nothing to restrict.
unsafe extern "C" fn all_restrict_cb(ah: *mut ActiveHandle, domid: domid_t) -> c_int {
    let h = ah.cast::<xendevicemodel_handle>();
    // SAFETY: `ah` is the first field of a live handle (repr(C)): libxentoolcore
    // calls back only while the handle is registered.
    let has_fd = unsafe { (*h).dm.as_ref().is_some_and(DeviceModel::has_privcmd) };
    if !has_fd {
        return 0;
    }
    // SAFETY: as above; xendevicemodel_restrict checks for null itself.
    unsafe { xendevicemodel_restrict(h, domid) }
}

/// The hypercall path through libxencall, for kernels without DM_OP.
struct Xcall(*mut c_void);

// SAFETY: libxencall handles may be used from any thread.
unsafe impl Send for Xcall {}
// SAFETY: as above.
unsafe impl Sync for Xcall {}

impl DmOpFallback for Xcall {
    fn dm_op(&self, domid: DomId, bufs: &mut [&mut [u8]], op: &'static str) -> Result<i32, Error> {
        let x = self.0;
        let n = bufs.len();
        // SAFETY: libxencall allocates hypercall-safe memory; sizes are ours.
        let op_bufs = unsafe { xencall_alloc_buffer(x, std::mem::size_of::<DmOpBuf>() * n) }
            .cast::<DmOpBuf>();
        if op_bufs.is_null() {
            return Err(Error::last(op));
        }
        let mut bounce: Vec<*mut c_void> = Vec::with_capacity(n);
        let mut ret = Ok(-1);
        for (i, b) in bufs.iter().enumerate() {
            // SAFETY: as above.
            let p = unsafe { xencall_alloc_buffer(x, b.len()) };
            if p.is_null() {
                ret = Err(Error::last(op));
                break;
            }
            // SAFETY: `p` holds b.len() bytes; `op_bufs` holds n entries.
            unsafe {
                std::ptr::copy_nonoverlapping(b.as_ptr(), p.cast(), b.len());
                op_bufs.add(i).write(DmOpBuf {
                    h: GuestHandle::from_addr(p as usize),
                    size: b.len() as XenUlong,
                });
            }
            bounce.push(p);
        }
        if bounce.len() == n {
            // SAFETY: all buffers are hypercall buffers of the right sizes.
            let r = unsafe {
                xencall3(
                    x,
                    HYPERVISOR_DM_OP,
                    u64::from(domid.0),
                    n as u64,
                    op_bufs as u64,
                )
            };
            if r < 0 {
                ret = Err(Error::last(op));
            } else {
                for (b, p) in bufs.iter_mut().zip(&bounce) {
                    // SAFETY: `p` holds b.len() bytes.
                    unsafe {
                        std::ptr::copy_nonoverlapping(p.cast::<u8>(), b.as_mut_ptr(), b.len())
                    };
                }
                ret = Ok(r);
            }
        }
        for p in bounce {
            // SAFETY: allocated above from the same handle.
            unsafe { xencall_free_buffer(x, p) };
        }
        // SAFETY: as above.
        unsafe { xencall_free_buffer(x, op_bufs.cast()) };
        ret
    }
}

/// `xendevicemodel_open`.
///
/// # Safety
///
/// `logger` is NULL or a live xentoollog logger.
#[no_mangle]
pub unsafe extern "C" fn xendevicemodel_open(
    logger: *mut c_void,
    open_flags: c_uint,
) -> *mut xendevicemodel_handle {
    let _ = open_flags; // accepted and unused, like the C library
    let r = catch_unwind(AssertUnwindSafe(|| {
        let h = Box::into_raw(Box::new(xendevicemodel_handle {
            tc_ah: ActiveHandle {
                restrict_callback: Some(all_restrict_cb),
                le_next: std::ptr::null_mut(),
                le_prev: std::ptr::null_mut(),
            },
            logger,
            logger_tofree: std::ptr::null_mut(),
            xcall: std::ptr::null_mut(),
            dm: None,
        }));
        // SAFETY: `h` is a fresh, pinned allocation that stays registered until close.
        unsafe { xentoolcore__register_active_handle(&raw mut (*h).tc_ah) };
        // SAFETY: `h` is ours until returned.
        let hr = unsafe { &mut *h };
        if hr.logger.is_null() {
            // SAFETY: stderr is the process's stream.
            hr.logger_tofree = unsafe { xtl_createlogger_stdiostream(stderr, XTL_PROGRESS, 0) };
            if hr.logger_tofree.is_null() {
                return fail_open(h);
            }
            hr.logger = hr.logger_tofree;
        }
        // SAFETY: a valid logger.
        hr.xcall = unsafe { xencall_open(hr.logger, 0) };
        if hr.xcall.is_null() {
            return fail_open(h);
        }
        hr.dm = Some(match DeviceModel::open() {
            Ok(dm) => dm,
            Err(e)
                if e.op() == "open privcmd"
                    && ![libc::ENOENT, libc::ENXIO, libc::ENODEV].contains(&e.errno()) =>
            {
                // SAFETY: logger is valid; the format takes one string.
                unsafe {
                    xtl_log(
                        hr.logger,
                        XTL_ERROR,
                        e.errno(),
                        c"xendevicemodel".as_ptr(),
                        c"%s".as_ptr(),
                        c"Could not obtain handle on privileged command interface".as_ptr(),
                    )
                };
                set_errno(e.errno());
                return fail_open(h);
            }
            // No privcmd, or no DM_OP on it: hypercalls through libxencall.
            Err(_) => DeviceModel::with_fallback(Arc::new(Xcall(hr.xcall))),
        });
        h
    }));
    r.unwrap_or_else(|_| {
        set_errno(libc::EIO);
        std::ptr::null_mut()
    })
}

fn fail_open(h: *mut xendevicemodel_handle) -> *mut xendevicemodel_handle {
    let e = errno();
    // SAFETY: `h` came from Box::into_raw in open and was registered.
    unsafe {
        let hb = Box::from_raw(h);
        xentoolcore__deregister_active_handle(&raw mut (*h).tc_ah);
        if !hb.xcall.is_null() {
            xencall_close(hb.xcall);
        }
        if !hb.logger_tofree.is_null() {
            xtl_logger_destroy(hb.logger_tofree);
        }
        drop(hb);
    }
    set_errno(e);
    std::ptr::null_mut()
}

/// `xendevicemodel_close`: NULL is fine.
///
/// # Safety
///
/// `dmod` is NULL or a handle from `xendevicemodel_open`, not used after.
#[no_mangle]
pub unsafe extern "C" fn xendevicemodel_close(dmod: *mut xendevicemodel_handle) -> c_int {
    if dmod.is_null() {
        return 0;
    }
    let r = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: per the contract, `dmod` is a live handle from open.
        unsafe {
            (*dmod).dm = None; // closes the privcmd descriptor first, as the C library does
            xentoolcore__deregister_active_handle(&raw mut (*dmod).tc_ah);
            let h = Box::from_raw(dmod);
            xencall_close(h.xcall);
            if !h.logger_tofree.is_null() {
                xtl_logger_destroy(h.logger_tofree);
            }
        }
    }));
    if r.is_err() {
        set_errno(libc::EIO);
        return -1;
    }
    0
}

/// `xendevicemodel_restrict`.
///
/// # Safety
///
/// `dmod` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn xendevicemodel_restrict(
    dmod: *mut xendevicemodel_handle,
    domid: domid_t,
) -> c_int {
    call(dmod, |dm| dm.restrict(DomId(domid)))
}

fn out<T>(p: *mut T, op: &'static str) -> Result<*mut T, Error> {
    if p.is_null() {
        Err(Error::new(op, libc::EINVAL))
    } else {
        Ok(p)
    }
}

/// `xendevicemodel_create_ioreq_server`.
///
/// # Safety
///
/// `dmod` is NULL or a live handle; `id` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn xendevicemodel_create_ioreq_server(
    dmod: *mut xendevicemodel_handle,
    domid: domid_t,
    handle_bufioreq: c_int,
    id: *mut ioservid_t,
) -> c_int {
    call(dmod, |dm| {
        let id = out(id, "create_ioreq_server")?;
        let v = dm.create_ioreq_server(DomId(domid), BufioreqMode(handle_bufioreq as u8))?;
        // SAFETY: non-null and writable per the contract.
        unsafe { id.write(v.0) };
        Ok(())
    })
}

/// `xendevicemodel_get_ioreq_server_info`: the gfns are asked for only if
/// one of their pointers is non-NULL.
///
/// # Safety
///
/// `dmod` is NULL or a live handle; each output is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn xendevicemodel_get_ioreq_server_info(
    dmod: *mut xendevicemodel_handle,
    domid: domid_t,
    id: ioservid_t,
    ioreq_gfn: *mut xen_pfn_t,
    bufioreq_gfn: *mut xen_pfn_t,
    bufioreq_port: *mut evtchn_port_t,
) -> c_int {
    call(dmod, |dm| {
        let gfns = !ioreq_gfn.is_null() || !bufioreq_gfn.is_null();
        let r = dm.get_ioreq_server_info_raw(DomId(domid), IoservId(id), gfns)?;
        // SAFETY: each pointer is NULL or writable per the contract.
        unsafe {
            if !ioreq_gfn.is_null() {
                ioreq_gfn.write(r.ioreq_gfn as xen_pfn_t);
            }
            if !bufioreq_gfn.is_null() {
                bufioreq_gfn.write(r.bufioreq_gfn as xen_pfn_t);
            }
            if !bufioreq_port.is_null() {
                bufioreq_port.write(r.bufioreq_port.0);
            }
        }
        Ok(())
    })
}

fn io_type(is_mmio: c_int) -> IoRangeType {
    if is_mmio != 0 {
        IoRangeType::MEMORY
    } else {
        IoRangeType::PORT
    }
}

/// `xendevicemodel_map_io_range_to_ioreq_server`.
///
/// # Safety
///
/// `dmod` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn xendevicemodel_map_io_range_to_ioreq_server(
    dmod: *mut xendevicemodel_handle,
    domid: domid_t,
    id: ioservid_t,
    is_mmio: c_int,
    start: u64,
    end: u64,
) -> c_int {
    call(dmod, |dm| {
        dm.map_io_range_to_ioreq_server(DomId(domid), IoservId(id), io_type(is_mmio), start, end)
    })
}

/// `xendevicemodel_unmap_io_range_from_ioreq_server`.
///
/// # Safety
///
/// `dmod` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn xendevicemodel_unmap_io_range_from_ioreq_server(
    dmod: *mut xendevicemodel_handle,
    domid: domid_t,
    id: ioservid_t,
    is_mmio: c_int,
    start: u64,
    end: u64,
) -> c_int {
    call(dmod, |dm| {
        dm.unmap_io_range_from_ioreq_server(
            DomId(domid),
            IoservId(id),
            io_type(is_mmio),
            start,
            end,
        )
    })
}

/// `xendevicemodel_map_mem_type_to_ioreq_server`.
///
/// # Safety
///
/// `dmod` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn xendevicemodel_map_mem_type_to_ioreq_server(
    dmod: *mut xendevicemodel_handle,
    domid: domid_t,
    id: ioservid_t,
    r#type: u16,
    flags: u32,
) -> c_int {
    call(dmod, |dm| {
        dm.map_mem_type_to_ioreq_server(
            DomId(domid),
            IoservId(id),
            HvmMemType(r#type),
            MemAccessFlags(flags),
        )
    })
}

/// `xendevicemodel_map_pcidev_to_ioreq_server`.
///
/// # Safety
///
/// `dmod` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn xendevicemodel_map_pcidev_to_ioreq_server(
    dmod: *mut xendevicemodel_handle,
    domid: domid_t,
    id: ioservid_t,
    segment: u16,
    bus: u8,
    device: u8,
    function: u8,
) -> c_int {
    call(dmod, |dm| {
        dm.map_pcidev_to_ioreq_server(DomId(domid), IoservId(id), segment, bus, device, function)
    })
}

/// `xendevicemodel_unmap_pcidev_from_ioreq_server`.
///
/// # Safety
///
/// `dmod` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn xendevicemodel_unmap_pcidev_from_ioreq_server(
    dmod: *mut xendevicemodel_handle,
    domid: domid_t,
    id: ioservid_t,
    segment: u16,
    bus: u8,
    device: u8,
    function: u8,
) -> c_int {
    call(dmod, |dm| {
        dm.unmap_pcidev_from_ioreq_server(
            DomId(domid),
            IoservId(id),
            segment,
            bus,
            device,
            function,
        )
    })
}

/// `xendevicemodel_destroy_ioreq_server`.
///
/// # Safety
///
/// `dmod` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn xendevicemodel_destroy_ioreq_server(
    dmod: *mut xendevicemodel_handle,
    domid: domid_t,
    id: ioservid_t,
) -> c_int {
    call(dmod, |dm| {
        dm.destroy_ioreq_server(DomId(domid), IoservId(id))
    })
}

/// `xendevicemodel_set_ioreq_server_state`.
///
/// # Safety
///
/// `dmod` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn xendevicemodel_set_ioreq_server_state(
    dmod: *mut xendevicemodel_handle,
    domid: domid_t,
    id: ioservid_t,
    enabled: c_int,
) -> c_int {
    call(dmod, |dm| {
        dm.set_ioreq_server_state(DomId(domid), IoservId(id), enabled != 0)
    })
}

/// `xendevicemodel_set_pci_intx_level`.
///
/// # Safety
///
/// `dmod` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn xendevicemodel_set_pci_intx_level(
    dmod: *mut xendevicemodel_handle,
    domid: domid_t,
    segment: u16,
    bus: u8,
    device: u8,
    intx: u8,
    level: c_uint,
) -> c_int {
    call(dmod, |dm| {
        dm.set_pci_intx_level(DomId(domid), segment, bus, device, intx, level as u8)
    })
}

/// `xendevicemodel_set_isa_irq_level`.
///
/// # Safety
///
/// `dmod` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn xendevicemodel_set_isa_irq_level(
    dmod: *mut xendevicemodel_handle,
    domid: domid_t,
    irq: u8,
    level: c_uint,
) -> c_int {
    call(dmod, |dm| {
        dm.set_isa_irq_level(DomId(domid), irq, level as u8)
    })
}

/// `xendevicemodel_set_irq_level`.
///
/// # Safety
///
/// `dmod` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn xendevicemodel_set_irq_level(
    dmod: *mut xendevicemodel_handle,
    domid: domid_t,
    irq: c_uint,
    level: c_uint,
) -> c_int {
    call(dmod, |dm| dm.set_irq_level(DomId(domid), irq, level as u8))
}

/// `xendevicemodel_set_pci_link_route`.
///
/// # Safety
///
/// `dmod` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn xendevicemodel_set_pci_link_route(
    dmod: *mut xendevicemodel_handle,
    domid: domid_t,
    link: u8,
    irq: u8,
) -> c_int {
    call(dmod, |dm| dm.set_pci_link_route(DomId(domid), link, irq))
}

/// `xendevicemodel_inject_msi`.
///
/// # Safety
///
/// `dmod` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn xendevicemodel_inject_msi(
    dmod: *mut xendevicemodel_handle,
    domid: domid_t,
    msi_addr: u64,
    msi_data: u32,
) -> c_int {
    call(dmod, |dm| dm.inject_msi(DomId(domid), msi_addr, msi_data))
}

/// `xendevicemodel_inject_event`.
///
/// # Safety
///
/// `dmod` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn xendevicemodel_inject_event(
    dmod: *mut xendevicemodel_handle,
    domid: domid_t,
    vcpu: c_int,
    vector: u8,
    r#type: u8,
    error_code: u32,
    insn_len: u8,
    extra: u64,
) -> c_int {
    call(dmod, |dm| {
        dm.inject_event(
            DomId(domid),
            vcpu as u32,
            vector,
            EventType(r#type),
            error_code,
            insn_len,
            extra,
        )
    })
}

/// `xendevicemodel_track_dirty_vram`: the bitmap has `(nr + 7) / 8` bytes.
///
/// # Safety
///
/// `dmod` is NULL or a live handle; `dirty_bitmap` holds that many bytes.
#[no_mangle]
pub unsafe extern "C" fn xendevicemodel_track_dirty_vram(
    dmod: *mut xendevicemodel_handle,
    domid: domid_t,
    first_pfn: u64,
    nr: u32,
    dirty_bitmap: *mut c_ulong,
) -> c_int {
    call(dmod, |dm| {
        let len = (nr.wrapping_add(7) / 8) as usize;
        let bitmap: &mut [u8] = if len == 0 {
            &mut []
        } else {
            let p = out(dirty_bitmap, "track_dirty_vram")
                .map_err(|_| Error::new("track_dirty_vram", libc::EFAULT))?;
            // SAFETY: the caller provides `len` writable bytes.
            unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), len) }
        };
        dm.track_dirty_vram(DomId(domid), first_pfn, nr, bitmap)
    })
}

/// `xendevicemodel_modified_memory`.
///
/// # Safety
///
/// `dmod` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn xendevicemodel_modified_memory(
    dmod: *mut xendevicemodel_handle,
    domid: domid_t,
    first_pfn: u64,
    nr: u32,
) -> c_int {
    call(dmod, |dm| dm.modified_memory(DomId(domid), first_pfn, nr))
}

/// `xendevicemodel_modified_memory_bulk`.
///
/// # Safety
///
/// `dmod` is NULL or a live handle; `extents` holds `nr` extents.
#[no_mangle]
pub unsafe extern "C" fn xendevicemodel_modified_memory_bulk(
    dmod: *mut xendevicemodel_handle,
    domid: domid_t,
    extents: *mut ModifiedMemoryExtent,
    nr: u32,
) -> c_int {
    call(dmod, |dm| {
        let ext: &mut [ModifiedMemoryExtent] = if nr == 0 {
            &mut []
        } else {
            let p = out(extents, "modified_memory")
                .map_err(|_| Error::new("modified_memory", libc::EFAULT))?;
            // SAFETY: the caller provides `nr` extents.
            unsafe { std::slice::from_raw_parts_mut(p, nr as usize) }
        };
        dm.modified_memory_bulk(DomId(domid), ext)
    })
}

/// `xendevicemodel_set_mem_type`.
///
/// # Safety
///
/// `dmod` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn xendevicemodel_set_mem_type(
    dmod: *mut xendevicemodel_handle,
    domid: domid_t,
    mem_type: c_int,
    first_pfn: u64,
    nr: u32,
) -> c_int {
    call(dmod, |dm| {
        dm.set_mem_type(DomId(domid), HvmMemType(mem_type as u16), first_pfn, nr)
    })
}

/// `xendevicemodel_shutdown`.
///
/// # Safety
///
/// `dmod` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn xendevicemodel_shutdown(
    dmod: *mut xendevicemodel_handle,
    domid: domid_t,
    reason: c_uint,
) -> c_int {
    call(dmod, |dm| dm.shutdown(DomId(domid), ShutdownReason(reason)))
}

/// `xendevicemodel_relocate_memory`.
///
/// # Safety
///
/// `dmod` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn xendevicemodel_relocate_memory(
    dmod: *mut xendevicemodel_handle,
    domid: domid_t,
    size: u32,
    src_gfn: u64,
    dst_gfn: u64,
) -> c_int {
    call(dmod, |dm| {
        dm.relocate_memory(DomId(domid), size, src_gfn, dst_gfn)
    })
}

/// `xendevicemodel_pin_memory_cacheattr`.
///
/// # Safety
///
/// `dmod` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn xendevicemodel_pin_memory_cacheattr(
    dmod: *mut xendevicemodel_handle,
    domid: domid_t,
    start: u64,
    end: u64,
    r#type: u32,
) -> c_int {
    call(dmod, |dm| {
        dm.pin_memory_cacheattr(DomId(domid), start, end, CacheAttr(r#type))
    })
}

/// `xendevicemodel_nr_vcpus`.
///
/// # Safety
///
/// `dmod` is NULL or a live handle; `vcpus` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn xendevicemodel_nr_vcpus(
    dmod: *mut xendevicemodel_handle,
    domid: domid_t,
    vcpus: *mut c_uint,
) -> c_int {
    call(dmod, |dm| {
        let p = out(vcpus, "nr_vcpus")?;
        let n = dm.nr_vcpus(DomId(domid))?;
        // SAFETY: non-null and writable per the contract.
        unsafe { p.write(n) };
        Ok(())
    })
}

// Keeps the layouts this file relies on honest.
const _: () = assert!(std::mem::size_of::<ActiveHandle>() == 3 * std::mem::size_of::<usize>());
const _: () = assert!(std::mem::size_of::<EvtchnPort>() == 4);
