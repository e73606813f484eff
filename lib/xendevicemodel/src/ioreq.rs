// SPDX-License-Identifier: MIT
//! The ioreq pages of an ioreq server, mapped into the device model, and
//! the request state machine on them.
//!
//! Pages are mapped with `IOCTL_PRIVCMD_MMAP_RESOURCE`
//! (`XENMEM_resource_ioreq_server`: frame 0 is the buffered page, frame
//! 1 + n synchronous page n). Only where that path is unsupported (`ENOTTY`,
//! `EOPNOTSUPP`) are the legacy gfns of `get_ioreq_server_info` mapped with
//! `IOCTL_PRIVCMD_MMAPBATCH_V2` instead.
//!
//! A synchronous slot moves `NONE -> READY` (Xen), `READY -> INPROCESS`
//! ([`IoreqSlot::begin`], after an acquire: the request is read only after
//! its state), `INPROCESS -> IORESP_READY` ([`IoreqSlot::complete`], a
//! release: the answer is visible before the state), then Xen returns it to
//! `NONE`. A request is taken once ([`begin`](IoreqSlot::begin) returns it
//! only from `READY`) and answered once ([`complete`](IoreqSlot::complete)
//! only from `INPROCESS`).

use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::Arc;

use dmop_abi::dmop::GetIoreqServerInfo;
use dmop_abi::ioreq::{
    BufIoreq, BufferedIopage, Ioreq, IoreqDir, IoreqState, IoreqType, IOREQ_BUFFER_SLOT_NUM,
};
use dmop_abi::privcmd::{self, PrivcmdMmapResource, PrivcmdMmapbatchV2};
use dmop_abi::types::{DomId, IoservId, UserPtr, XenPfn};
use dmop_abi::xenmem::{
    ioreq_server_frame_ioreq, ResourceType, XENMEM_RESOURCE_IOREQ_SERVER_FRAME_BUFIOREQ,
};

use crate::dm::DeviceModel;
use crate::error::{Error, Result};
use crate::handle::Shared;
use crate::sys::{self, Mmap};

const STATE_MASK: u8 = 0x0f;
const BITS_OFFSET: usize = 30;

/// How the pages were mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapPath {
    /// `IOCTL_PRIVCMD_MMAP_RESOURCE` (the normal path).
    Resource,
    /// The legacy gfns, through `IOCTL_PRIVCMD_MMAPBATCH_V2`.
    Gfn,
}

/// The mapped ioreq pages of one server.
#[derive(Debug)]
pub struct IoreqPages {
    map: Mmap,
    /// Offset of the first synchronous page in the mapping.
    sync_offset: usize,
    has_buffered: bool,
    nr_vcpus: u32,
    domid: DomId,
    path: MapPath,
    _fd: Arc<Shared>,
}

fn sync_pages(nr_vcpus: u32) -> usize {
    let per_page = sys::page_size() / std::mem::size_of::<Ioreq>();
    (nr_vcpus as usize).div_ceil(per_page).max(1)
}

impl IoreqPages {
    /// Maps the pages of server `id` of `domid` for `nr_vcpus` vCPUs, with
    /// the buffered page when the server has one.
    pub fn map(
        dm: &DeviceModel,
        domid: DomId,
        id: IoservId,
        nr_vcpus: u32,
        buffered: bool,
    ) -> Result<Self> {
        match Self::map_resource(dm, domid, id, nr_vcpus, buffered) {
            Err(e) if e.errno() == libc::ENOTTY || e.errno() == libc::EOPNOTSUPP => {
                event!(
                    warn,
                    "domain {}, ioreq server {}: {e}: mapping the legacy gfns instead",
                    domid.0,
                    id.0
                );
                Self::map_gfns(dm, domid, id, nr_vcpus, buffered)
            }
            r => r,
        }
    }

    fn map_resource(
        dm: &DeviceModel,
        domid: DomId,
        id: IoservId,
        nr_vcpus: u32,
        buffered: bool,
    ) -> Result<Self> {
        let shared = dm.shared("map ioreq pages")?;
        let first = if buffered {
            XENMEM_RESOURCE_IOREQ_SERVER_FRAME_BUFIOREQ
        } else {
            ioreq_server_frame_ioreq(0)
        };
        let nr = sync_pages(nr_vcpus) + usize::from(buffered);
        let map = Mmap::new(shared.raw(), nr * sys::page_size(), "map ioreq pages")?;
        let mut arg = PrivcmdMmapResource {
            dom: domid,
            r#type: u32::from(ResourceType::IOREQ_SERVER.0),
            id: u32::from(id.0),
            idx: first as u32,
            num: nr as u64,
            addr: map.ptr as u64,
            ..PrivcmdMmapResource::ZEROED
        };
        // SAFETY: `addr` is a privcmd mapping of exactly `num` pages that we own.
        unsafe {
            sys::ioctl(
                shared.raw(),
                privcmd::IOCTL_PRIVCMD_MMAP_RESOURCE,
                (&raw mut arg).cast(),
                "map ioreq pages",
            )
        }?;
        Ok(Self {
            map,
            sync_offset: if buffered { sys::page_size() } else { 0 },
            has_buffered: buffered,
            nr_vcpus,
            domid,
            path: MapPath::Resource,
            _fd: shared,
        })
    }

    fn map_gfns(
        dm: &DeviceModel,
        domid: DomId,
        id: IoservId,
        nr_vcpus: u32,
        buffered: bool,
    ) -> Result<Self> {
        if nr_vcpus as usize > sys::page_size() / std::mem::size_of::<Ioreq>() {
            // The legacy interface has a single synchronous gfn.
            return Err(Error::new("map ioreq pages (gfn path)", libc::E2BIG));
        }
        let info: GetIoreqServerInfo = dm.get_ioreq_server_info_raw(domid, id, true)?;
        let mut gfns: Vec<XenPfn> = Vec::new();
        if buffered {
            gfns.push(info.bufioreq_gfn as XenPfn);
        }
        gfns.push(info.ioreq_gfn as XenPfn);
        let shared = dm.shared("map ioreq pages (gfn path)")?;
        let map = map_foreign(&shared, domid, &gfns, "map ioreq pages (gfn path)")?;
        Ok(Self {
            map,
            sync_offset: if buffered { sys::page_size() } else { 0 },
            has_buffered: buffered,
            nr_vcpus,
            domid,
            path: MapPath::Gfn,
            _fd: shared,
        })
    }

    /// Which path mapped the pages.
    pub fn path(&self) -> MapPath {
        self.path
    }

    /// The number of vCPUs (slots).
    pub fn nr_vcpus(&self) -> u32 {
        self.nr_vcpus
    }

    /// The guest whose server these are.
    pub fn domid(&self) -> DomId {
        self.domid
    }

    /// The address of the first synchronous page in this process (the
    /// `ioreq` of `IOCTL_PRIVCMD_IOEVENTFD`; [`DeviceModel::ioeventfd`]
    /// passes it).
    pub fn sync_page_addr(&self) -> u64 {
        self.map.ptr as u64 + self.sync_offset as u64
    }

    /// The slot of vCPU `vcpu`.
    pub fn slot(&self, vcpu: u32) -> Option<IoreqSlot<'_>> {
        if vcpu >= self.nr_vcpus {
            return None;
        }
        let off = self.sync_offset + vcpu as usize * std::mem::size_of::<Ioreq>();
        // SAFETY: `off` is within the mapping (sync_pages covers nr_vcpus slots).
        let p = unsafe { self.map.ptr.add(off) };
        Some(IoreqSlot {
            ptr: NonNull::new(p.cast()).expect("mapping is not null"),
            _life: PhantomData,
        })
    }

    /// The buffered ring, if the server has one.
    pub fn buffered(&self) -> Option<BufferedRing<'_>> {
        self.has_buffered.then(|| BufferedRing {
            ptr: NonNull::new(self.map.ptr.cast()).expect("mapping is not null"),
            _life: PhantomData,
        })
    }
}

/// Maps foreign frames with `IOCTL_PRIVCMD_MMAPBATCH_V2`; fails with the
/// first per-page error.
pub(crate) fn map_foreign(
    shared: &Shared,
    domid: DomId,
    gfns: &[XenPfn],
    op: &'static str,
) -> Result<Mmap> {
    let map = Mmap::new(shared.raw(), gfns.len() * sys::page_size(), op)?;
    let mut errs = vec![0i32; gfns.len()];
    let mut arg = PrivcmdMmapbatchV2 {
        num: gfns.len() as u32,
        dom: domid,
        addr: map.ptr as u64,
        arr: UserPtr::from_ptr(gfns.as_ptr()),
        err: UserPtr::from_ptr(errs.as_mut_ptr()),
        ..PrivcmdMmapbatchV2::ZEROED
    };
    // SAFETY: `addr` is our privcmd mapping of `num` pages; `arr` and `err`
    // hold `num` elements and outlive the call.
    unsafe {
        sys::ioctl(
            shared.raw(),
            privcmd::IOCTL_PRIVCMD_MMAPBATCH_V2,
            (&raw mut arg).cast(),
            op,
        )
    }?;
    if let Some(&e) = errs.iter().find(|&&e| e != 0) {
        return Err(Error::new(op, -e));
    }
    Ok(map)
}

/// How often a paged-out frame (`ENOENT`) is asked for again before it
/// counts as missing, and how long to wait between the attempts.
const PAGED_OUT_RETRIES: u32 = 50;
const PAGED_OUT_WAIT: std::time::Duration = std::time::Duration::from_millis(2);

/// Maps foreign frames with `IOCTL_PRIVCMD_MMAPBATCH_V2`, keeping the
/// mapping when some frames fail: returns it with one error per frame (0,
/// or a negative errno; a failed frame's page of the mapping must not be
/// touched). Frames Xen reports paged out (`ENOENT`) are asked for again,
/// one at a time at their place in the mapping, up to
/// [`PAGED_OUT_RETRIES`] times, as Xen's C library does while the pager
/// brings them back.
pub(crate) fn map_foreign_sparse(
    shared: &Shared,
    domid: DomId,
    gfns: &[XenPfn],
    op: &'static str,
) -> Result<(Mmap, Vec<i32>)> {
    if u32::try_from(gfns.len()).is_err() {
        return Err(Error::new(op, libc::E2BIG));
    }
    let map = Mmap::new(shared.raw(), gfns.len() * sys::page_size(), op)?;
    let mut errs = vec![0i32; gfns.len()];
    let batch = |addr: u64, arr: &[XenPfn], err: &mut [i32]| -> Result<()> {
        let mut arg = PrivcmdMmapbatchV2 {
            num: arr.len() as u32,
            dom: domid,
            addr,
            arr: UserPtr::from_ptr(arr.as_ptr()),
            err: UserPtr::from_ptr(err.as_mut_ptr()),
            ..PrivcmdMmapbatchV2::ZEROED
        };
        // SAFETY: `addr` is within our privcmd mapping, with room for
        // `arr.len()` pages; `arr` and `err` hold that many elements and
        // outlive the call.
        match unsafe {
            sys::ioctl(
                shared.raw(),
                privcmd::IOCTL_PRIVCMD_MMAPBATCH_V2,
                (&raw mut arg).cast(),
                op,
            )
        } {
            Ok(_) => Ok(()),
            // ENOENT overall means "some frames are paged out": the
            // per-frame errors say which.
            Err(e) if e.errno() == libc::ENOENT => Ok(()),
            Err(e) => Err(e),
        }
    };
    batch(map.ptr as u64, gfns, &mut errs)?;
    for attempt in 0..PAGED_OUT_RETRIES {
        let paged: Vec<usize> = (0..gfns.len())
            .filter(|&i| errs[i] == -libc::ENOENT)
            .collect();
        if paged.is_empty() {
            break;
        }
        event!(
            debug,
            "domain {}: {} frame(s) paged out (first gfn {:#x}): asking again ({}/{PAGED_OUT_RETRIES})",
            domid.0,
            paged.len(),
            gfns[paged[0]],
            attempt + 1
        );
        std::thread::sleep(PAGED_OUT_WAIT);
        for i in paged {
            let addr = map.ptr as u64 + (i * sys::page_size()) as u64;
            let mut one = [0i32];
            match batch(addr, &gfns[i..=i], &mut one) {
                Ok(()) => errs[i] = one[0],
                Err(e) => errs[i] = -e.errno(),
            }
        }
    }
    let still = errs.iter().filter(|&&e| e == -libc::ENOENT).count();
    if still > 0 {
        event!(
            warn,
            "domain {}: {still} frame(s) still paged out after {PAGED_OUT_RETRIES} attempts: left unmapped",
            domid.0
        );
    }
    Ok((map, errs))
}

/// One vCPU's synchronous slot.
#[derive(Debug)]
pub struct IoreqSlot<'a> {
    ptr: NonNull<Ioreq>,
    _life: PhantomData<&'a IoreqPages>,
}

impl IoreqSlot<'_> {
    fn bits(&self) -> &AtomicU8 {
        // SAFETY: byte 30 of a live, mapped ioreq_t; AtomicU8 has the
        // alignment and size of u8, and Xen accesses it only as a byte.
        unsafe { AtomicU8::from_ptr(self.ptr.as_ptr().cast::<u8>().add(BITS_OFFSET)) }
    }

    /// The state, read with acquire ordering.
    pub fn state(&self) -> IoreqState {
        IoreqState(self.bits().load(Ordering::Acquire) & STATE_MASK)
    }

    /// The event channel Xen signals this slot on (set when the server is enabled).
    pub fn vp_eport(&self) -> dmop_abi::types::EvtchnPort {
        // SAFETY: aligned field of the mapped slot; read as a plain value.
        unsafe { std::ptr::read_volatile(&raw const (*self.ptr.as_ptr()).vp_eport) }
    }

    /// Takes a `READY` request: moves the slot to `INPROCESS` with a
    /// compare-and-swap (acquire), then returns a copy of the request, read
    /// once it is ours. `None` in any other state, or if someone else took
    /// it first: the kernel (an [`Ioeventfd`](crate::Ioeventfd) answering
    /// it) or another thread. A request is taken once.
    ///
    /// A slot found `INPROCESS` that this device model has not taken is
    /// held by the kernel's ioeventfd handler for a moment (upstream Linux's
    /// holds every request so); it returns to `READY` if the handler leaves
    /// it, so a loop that looks again later (the next event, or a timeout)
    /// serves it.
    pub fn begin(&self) -> Option<Ioreq> {
        let bits = self.bits();
        let mut b = bits.load(Ordering::Relaxed);
        loop {
            if b & STATE_MASK != IoreqState::READY.0 {
                return None;
            }
            match bits.compare_exchange_weak(
                b,
                (b & !STATE_MASK) | IoreqState::INPROCESS.0,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => b = now,
            }
        }
        // SAFETY: the slot is ours (INPROCESS): Xen has finished writing it
        // and will not touch it until we answer. Volatile: shared memory.
        Some(unsafe { std::ptr::read_volatile(self.ptr.as_ptr()) })
    }

    /// Answers the request taken by [`begin`](Self::begin): writes `data`
    /// (for reads), then moves the slot to `IORESP_READY` with release
    /// ordering. The caller then notifies [`vp_eport`](Self::vp_eport).
    /// Returns `false`, changing nothing, if the slot is not `INPROCESS`.
    pub fn complete(&self, data: u64) -> bool {
        let b = self.bits().load(Ordering::Relaxed);
        if b & STATE_MASK != IoreqState::INPROCESS.0 {
            return false;
        }
        // SAFETY: the slot is ours while INPROCESS; `data` is an aligned u64.
        unsafe { std::ptr::write_volatile(&raw mut (*self.ptr.as_ptr()).data, data) };
        self.bits().store(
            (b & !STATE_MASK) | IoreqState::IORESP_READY.0,
            Ordering::Release,
        );
        true
    }
}

/// One buffered request (a write that needs no answer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferedRequest {
    /// Port I/O or MMIO.
    pub ty: IoreqType,
    /// Always a write in practice.
    pub dir: IoreqDir,
    /// Access size in bytes.
    pub size: u32,
    /// Port, or the low 20 bits of the address.
    pub addr: u64,
    /// The data (both halves for an 8-byte write).
    pub data: u64,
}

/// The buffered ring of a server.
#[derive(Debug)]
pub struct BufferedRing<'a> {
    ptr: NonNull<BufferedIopage>,
    _life: PhantomData<&'a IoreqPages>,
}

impl BufferedRing<'_> {
    fn read_pointer(&self) -> &AtomicU32 {
        // SAFETY: the first u32 of the mapped page, 4-aligned; Xen updates it atomically.
        unsafe { AtomicU32::from_ptr(self.ptr.as_ptr().cast::<u32>()) }
    }

    fn write_pointer(&self) -> &AtomicU32 {
        // SAFETY: the second u32 of the mapped page, 4-aligned.
        unsafe { AtomicU32::from_ptr(self.ptr.as_ptr().cast::<u32>().add(1)) }
    }

    fn slot(&self, i: u32) -> BufIoreq {
        let idx = i as usize % IOREQ_BUFFER_SLOT_NUM;
        // SAFETY: within the page's slot array; volatile: Xen writes it.
        unsafe { std::ptr::read_volatile(&raw const (*self.ptr.as_ptr()).buf_ioreq[idx]) }
    }

    /// Takes the next request, if any. An 8-byte write occupies two slots
    /// and is returned whole. Pointers are re-read to cope with Xen
    /// rebasing both of them (atomic mode), and the read pointer is advanced
    /// atomically after the slots were read.
    pub fn pop(&self) -> Option<BufferedRequest> {
        loop {
            let rd = self.read_pointer().load(Ordering::Acquire);
            let wr = self.write_pointer().load(Ordering::Acquire);
            if self.read_pointer().load(Ordering::Acquire) != rd {
                continue;
            }
            if rd == wr {
                return None;
            }
            let b = self.slot(rd);
            let size = b.size_bytes();
            let mut data = u64::from(b.data);
            let mut used = 1;
            if size == 8 {
                if wr.wrapping_sub(rd) < 2 {
                    return None; // the second half is not written yet
                }
                data |= u64::from(self.slot(rd.wrapping_add(1)).data) << 32;
                used = 2;
            }
            self.read_pointer().fetch_add(used, Ordering::Release);
            return Some(BufferedRequest {
                ty: b.r#type,
                dir: b.dir(),
                size,
                addr: u64::from(b.addr()),
                data,
            });
        }
    }
}
