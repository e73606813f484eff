// SPDX-License-Identifier: MIT
//! [`DeviceModel`]: every DMOP, issued through a privcmd node.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use std::sync::Arc;

use dmop_abi::dmop::*;
use dmop_abi::types::{DomId, EvtchnPort, IoservId};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::error::{Error, Result};
use crate::handle::{HandleKind, Shared};
use crate::sys;

/// The privcmd node the C library uses, and this crate's default.
pub const PRIVCMD_PATH: &str = "/dev/xen/privcmd";
/// The node of the `privcmd-restrict` kernel module (its default name).
pub const PRIVCMD_RESTRICT_PATH: &str = "/dev/xen/privcmd-restrict";

/// What [`DeviceModel::get_ioreq_server_info`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoreqServerInfo {
    /// The buffered-ioreq event channel (meaningful when the server has buffered ioreqs).
    pub bufioreq_port: EvtchnPort,
    /// The legacy gfns (synchronous page, buffered page), when asked for.
    pub gfns: Option<(u64, u64)>,
}

/// A handle that issues DMOPs on a privcmd node.
///
/// Every method builds the same `xen_dm_op` buffer libxendevicemodel does,
/// byte for byte, and passes it through `IOCTL_PRIVCMD_DM_OP`; errors carry
/// the op and the errno. The descriptor is close-on-exec and registered for
/// [`restrict_all`](crate::restrict_all).
///
/// # Example
///
/// ```no_run
/// use dmop_abi::dmop::{BufioreqMode, IoRangeType};
/// use dmop_abi::types::DomId;
/// use xendevicemodel::DeviceModel;
///
/// let guest = DomId(5);
/// let dm = DeviceModel::open()?;
/// dm.restrict(guest)?; // from here on, only domain 5 is reachable
/// let id = dm.create_ioreq_server(guest, BufioreqMode::ATOMIC)?;
/// dm.map_io_range_to_ioreq_server(guest, id, IoRangeType::PORT, 0x3f8, 0x3ff)?;
/// dm.set_ioreq_server_state(guest, id, true)?;
/// # Ok::<(), xendevicemodel::Error>(())
/// ```
#[derive(Clone)]
pub struct DeviceModel {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Privcmd(Arc<Shared>),
    Fallback(Arc<dyn DmOpFallback>),
}

impl std::fmt::Debug for DeviceModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.backend {
            Backend::Privcmd(s) => f.debug_struct("DeviceModel").field("privcmd", s).finish(),
            Backend::Fallback(_) => f
                .debug_struct("DeviceModel")
                .field("privcmd", &"none (hypercall fallback)")
                .finish(),
        }
    }
}

/// Issues `__HYPERVISOR_dm_op` some other way than `IOCTL_PRIVCMD_DM_OP`,
/// for kernels without it: the C drop-in routes it through libxencall,
/// as libxendevicemodel does. A handle on a fallback cannot be restricted
/// (`EOPNOTSUPP`), like the C library's.
pub trait DmOpFallback: Send + Sync {
    /// Issues the hypercall with these buffers; returns its value, or the
    /// errno as an [`Error`] of `op`.
    fn dm_op(&self, domid: DomId, bufs: &mut [&mut [u8]], op: &'static str) -> Result<i32>;
}

impl DeviceModel {
    /// Opens `/dev/xen/privcmd` and checks that it does `IOCTL_PRIVCMD_DM_OP`.
    pub fn open() -> Result<Self> {
        Self::open_path(PRIVCMD_PATH)
    }

    /// Opens another privcmd node, such as [`PRIVCMD_RESTRICT_PATH`].
    pub fn open_path(path: &str) -> Result<Self> {
        let fd = sys::open(path, "open privcmd")?;
        sys::dm_op_probe(fd.as_raw_fd())?;
        Ok(Self {
            backend: Backend::Privcmd(Shared::new(fd, HandleKind::Privcmd, path, None)),
        })
    }

    /// Opens a node that restricts at open, such as [`PRIVCMD_RESTRICT_PATH`]
    /// with the caller's uid bound to `domid` (privcmd-restrict's
    /// `IOCTL_PRIVCMD_RESTRICT_UID`), and checks that the descriptor came
    /// back confined to exactly `domid`: a DMOP on `domid` is allowed and
    /// one on any other domain is refused with `EPERM`. Otherwise the
    /// descriptor is closed and the error is `EPERM` from
    /// `open_bound: not restricted` (fail-closed: an unrestricted
    /// descriptor is never handed out by this call).
    ///
    /// The handle is registered as restricted, so [`restrict_all`](crate::restrict_all)
    /// re-confirms it with the kernel.
    ///
    /// ```no_run
    /// use xendevicemodel::{DeviceModel, PRIVCMD_RESTRICT_PATH};
    /// use dmop_abi::types::DomId;
    ///
    /// // Run as a uid an administrator bound to domain 7.
    /// let dm = DeviceModel::open_bound(PRIVCMD_RESTRICT_PATH, DomId(7))?;
    /// assert_eq!(dm.restricted_to(), Some(DomId(7)));
    /// # Ok::<(), xendevicemodel::Error>(())
    /// ```
    pub fn open_bound(path: &str, domid: DomId) -> Result<Self> {
        if !domid.is_ordinary() {
            return Err(Error::new("open_bound", libc::EINVAL));
        }
        let fd = sys::open(path, "open privcmd")?;
        sys::dm_op_probe_on(fd.as_raw_fd(), domid)?;
        // Some other domain must be refused by the descriptor itself (EPERM
        // before the hypervisor is asked): pick one that is not `domid`.
        let other = if domid == DomId(0) {
            DomId(1)
        } else {
            DomId(0)
        };
        match sys::dm_op_probe_on(fd.as_raw_fd(), other) {
            Err(e) if e.errno() == libc::EPERM => {}
            _ => return Err(Error::new("open_bound: not restricted", libc::EPERM)),
        }
        Ok(Self {
            backend: Backend::Privcmd(Shared::new(fd, HandleKind::Privcmd, path, Some(domid))),
        })
    }

    /// Binds `uid` to `domid` on a privcmd-restrict node (its
    /// `IOCTL_PRIVCMD_RESTRICT_UID`): from then on every open of the node
    /// by `uid` returns a descriptor restricted to `domid` (see
    /// [`open_bound`](Self::open_bound)). Needs `CAP_SYS_ADMIN` and an
    /// unrestricted handle on that node (`EPERM` otherwise); binding a uid
    /// again moves it. On the C privcmd node: `ENOTTY`.
    ///
    /// ```no_run
    /// use xendevicemodel::{DeviceModel, PRIVCMD_RESTRICT_PATH};
    /// use dmop_abi::types::DomId;
    ///
    /// let admin = DeviceModel::open_path(PRIVCMD_RESTRICT_PATH)?;
    /// admin.bind_uid(40007, DomId(7))?;
    /// // ... start the device model of domain 7 as uid 40007 ...
    /// admin.unbind_uid(40007)?;
    /// # Ok::<(), xendevicemodel::Error>(())
    /// ```
    pub fn bind_uid(&self, uid: u32, domid: DomId) -> Result<()> {
        self.restrict_uid(
            dmop_abi::privcmd::PrivcmdRestrictUid {
                uid,
                domid,
                flags: dmop_abi::privcmd::RestrictUidFlags(0),
            },
            "bind_uid",
        )
    }

    /// Removes the binding of `uid` (`ENOENT` if it had none).
    pub fn unbind_uid(&self, uid: u32) -> Result<()> {
        let flags = dmop_abi::privcmd::RestrictUidFlags::UNBIND;
        self.restrict_uid(
            dmop_abi::privcmd::PrivcmdRestrictUid {
                uid,
                domid: DomId(0),
                flags,
            },
            "unbind_uid",
        )
    }

    fn restrict_uid(
        &self,
        mut arg: dmop_abi::privcmd::PrivcmdRestrictUid,
        op: &'static str,
    ) -> Result<()> {
        let s = self.shared(op)?;
        // SAFETY: the argument is the struct the ioctl reads.
        unsafe {
            sys::ioctl(
                s.raw(),
                dmop_abi::privcmd::IOCTL_PRIVCMD_RESTRICT_UID,
                (&raw mut arg).cast(),
                op,
            )
        }
        .map(|_| ())
    }

    /// Uses an already open privcmd descriptor (no probe). It is registered
    /// for [`restrict_all`](crate::restrict_all) like any other.
    pub fn from_fd(fd: std::os::fd::OwnedFd) -> Self {
        Self {
            backend: Backend::Privcmd(Shared::new(fd, HandleKind::Privcmd, "(descriptor)", None)),
        }
    }

    /// A handle without a privcmd descriptor, whose DMOPs go through
    /// `fallback` (see [`DmOpFallback`]).
    pub fn with_fallback(fallback: Arc<dyn DmOpFallback>) -> Self {
        Self {
            backend: Backend::Fallback(fallback),
        }
    }

    /// Whether the handle has a privcmd descriptor (not a fallback).
    pub fn has_privcmd(&self) -> bool {
        matches!(self.backend, Backend::Privcmd(_))
    }

    pub(crate) fn shared(&self, op: &'static str) -> Result<Arc<Shared>> {
        match &self.backend {
            Backend::Privcmd(s) => Ok(s.clone()),
            Backend::Fallback(_) => Err(Error::new(op, libc::EOPNOTSUPP)),
        }
    }

    /// Confines the descriptor to `domid` for good: DMOPs on any other
    /// domain fail with `EPERM`. Again to the same domain: success; to
    /// another: `EINVAL`; to a reserved id (`DOMID_INVALID`...): `EINVAL`;
    /// on a handle without privcmd descriptor: `EOPNOTSUPP`.
    pub fn restrict(&self, domid: DomId) -> Result<()> {
        self.shared("restrict")?.restrict(domid)
    }

    /// The domain the descriptor is restricted to.
    pub fn restricted_to(&self) -> Option<DomId> {
        self.shared("restricted_to")
            .ok()
            .and_then(|s| s.restricted_to())
    }

    /// Issues a DMOP with raw buffers (buffer 0 holds a `xen_dm_op`); for
    /// ops this crate does not wrap. Returns the ioctl's value.
    pub fn dm_op_raw(&self, domid: DomId, bufs: &mut [&mut [u8]]) -> Result<i32> {
        self.issue(domid, bufs, "dm_op")
    }

    fn issue(&self, domid: DomId, bufs: &mut [&mut [u8]], name: &'static str) -> Result<i32> {
        match &self.backend {
            Backend::Privcmd(s) => sys::dm_op(s.raw(), domid, bufs, name),
            Backend::Fallback(f) => f.dm_op(domid, bufs, name),
        }
    }

    fn op<P>(&self, domid: DomId, code: DmopCode, payload: &P, name: &'static str) -> Result<P>
    where
        P: IntoBytes + FromBytes + KnownLayout + Immutable + Copy,
    {
        let mut op = XenDmOp::with_payload(code, payload);
        self.issue(domid, &mut [op.as_mut_bytes()], name)?;
        Ok(op.payload::<P>())
    }

    fn op2<P>(
        &self,
        domid: DomId,
        code: DmopCode,
        payload: &P,
        buf1: &mut [u8],
        name: &'static str,
    ) -> Result<P>
    where
        P: IntoBytes + FromBytes + KnownLayout + Immutable + Copy,
    {
        let mut op = XenDmOp::with_payload(code, payload);
        self.issue(domid, &mut [op.as_mut_bytes(), buf1], name)?;
        Ok(op.payload::<P>())
    }

    /// Creates an ioreq server; returns its id.
    pub fn create_ioreq_server(
        &self,
        domid: DomId,
        handle_bufioreq: BufioreqMode,
    ) -> Result<IoservId> {
        let p = CreateIoreqServer {
            handle_bufioreq,
            ..CreateIoreqServer::ZEROED
        };
        Ok(self
            .op(
                domid,
                DmopCode::CREATE_IOREQ_SERVER,
                &p,
                "create_ioreq_server",
            )?
            .id)
    }

    /// The raw `get_ioreq_server_info` answer. `gfns`: ask for the legacy
    /// gfns too (Xen then maps the pages into the guest).
    pub fn get_ioreq_server_info_raw(
        &self,
        domid: DomId,
        id: IoservId,
        gfns: bool,
    ) -> Result<GetIoreqServerInfo> {
        let flags = if gfns {
            IoreqServerInfoFlags(0)
        } else {
            IoreqServerInfoFlags::NO_GFNS
        };
        let p = GetIoreqServerInfo {
            id,
            flags,
            ..GetIoreqServerInfo::ZEROED
        };
        self.op(
            domid,
            DmopCode::GET_IOREQ_SERVER_INFO,
            &p,
            "get_ioreq_server_info",
        )
    }

    /// The server's buffered-ioreq port, and with `gfns` its legacy gfns.
    pub fn get_ioreq_server_info(
        &self,
        domid: DomId,
        id: IoservId,
        gfns: bool,
    ) -> Result<IoreqServerInfo> {
        let r = self.get_ioreq_server_info_raw(domid, id, gfns)?;
        Ok(IoreqServerInfo {
            bufioreq_port: r.bufioreq_port,
            gfns: gfns.then_some((r.ioreq_gfn, r.bufioreq_gfn)),
        })
    }

    fn range(
        &self,
        code: DmopCode,
        name: &'static str,
        domid: DomId,
        p: IoreqServerRange,
    ) -> Result<()> {
        self.op(domid, code, &p, name).map(|_| ())
    }

    /// Claims the inclusive range `start..=end` of ports or MMIO for the server.
    pub fn map_io_range_to_ioreq_server(
        &self,
        domid: DomId,
        id: IoservId,
        ty: IoRangeType,
        start: u64,
        end: u64,
    ) -> Result<()> {
        self.range(
            DmopCode::MAP_IO_RANGE_TO_IOREQ_SERVER,
            "map_io_range_to_ioreq_server",
            domid,
            range(id, ty, start, end),
        )
    }

    /// Releases a claimed range.
    pub fn unmap_io_range_from_ioreq_server(
        &self,
        domid: DomId,
        id: IoservId,
        ty: IoRangeType,
        start: u64,
        end: u64,
    ) -> Result<()> {
        self.range(
            DmopCode::UNMAP_IO_RANGE_FROM_IOREQ_SERVER,
            "unmap_io_range_from_ioreq_server",
            domid,
            range(id, ty, start, end),
        )
    }

    /// Claims the config space of one PCI function (device < 32,
    /// function < 8, else `EINVAL` without a hypercall).
    pub fn map_pcidev_to_ioreq_server(
        &self,
        domid: DomId,
        id: IoservId,
        segment: u16,
        bus: u8,
        device: u8,
        function: u8,
    ) -> Result<()> {
        let sbdf = checked_sbdf("map_pcidev_to_ioreq_server", segment, bus, device, function)?;
        self.range(
            DmopCode::MAP_IO_RANGE_TO_IOREQ_SERVER,
            "map_pcidev_to_ioreq_server",
            domid,
            range(id, IoRangeType::PCI, sbdf, sbdf),
        )
    }

    /// Releases the config space of one PCI function.
    pub fn unmap_pcidev_from_ioreq_server(
        &self,
        domid: DomId,
        id: IoservId,
        segment: u16,
        bus: u8,
        device: u8,
        function: u8,
    ) -> Result<()> {
        let sbdf = checked_sbdf(
            "unmap_pcidev_from_ioreq_server",
            segment,
            bus,
            device,
            function,
        )?;
        self.range(
            DmopCode::UNMAP_IO_RANGE_FROM_IOREQ_SERVER,
            "unmap_pcidev_from_ioreq_server",
            domid,
            range(id, IoRangeType::PCI, sbdf, sbdf),
        )
    }

    /// Forwards writes to pages of type `HVMMEM_ioreq_server` to the
    /// server; empty `flags` unmaps. Any other type, or any flag but
    /// `WRITE`, is refused with `EINVAL` without a hypercall (as the C library does).
    pub fn map_mem_type_to_ioreq_server(
        &self,
        domid: DomId,
        id: IoservId,
        ty: HvmMemType,
        flags: MemAccessFlags,
    ) -> Result<()> {
        if ty != HvmMemType::IOREQ_SERVER || flags.0 & !MemAccessFlags::WRITE.0 != 0 {
            return Err(Error::new("map_mem_type_to_ioreq_server", libc::EINVAL));
        }
        let p = MapMemTypeToIoreqServer {
            id,
            r#type: ty,
            flags,
            ..MapMemTypeToIoreqServer::ZEROED
        };
        self.op(
            domid,
            DmopCode::MAP_MEM_TYPE_TO_IOREQ_SERVER,
            &p,
            "map_mem_type_to_ioreq_server",
        )
        .map(|_| ())
    }

    /// Destroys the server.
    pub fn destroy_ioreq_server(&self, domid: DomId, id: IoservId) -> Result<()> {
        let p = DestroyIoreqServer {
            id,
            ..DestroyIoreqServer::ZEROED
        };
        self.op(
            domid,
            DmopCode::DESTROY_IOREQ_SERVER,
            &p,
            "destroy_ioreq_server",
        )
        .map(|_| ())
    }

    /// Enables or disables the server.
    pub fn set_ioreq_server_state(&self, domid: DomId, id: IoservId, enabled: bool) -> Result<()> {
        let p = SetIoreqServerState {
            id,
            enabled: u8::from(enabled),
            ..SetIoreqServerState::ZEROED
        };
        self.op(
            domid,
            DmopCode::SET_IOREQ_SERVER_STATE,
            &p,
            "set_ioreq_server_state",
        )
        .map(|_| ())
    }

    /// Sets the level of a PCI INTx line.
    pub fn set_pci_intx_level(
        &self,
        domid: DomId,
        segment: u16,
        bus: u8,
        device: u8,
        intx: u8,
        level: u8,
    ) -> Result<()> {
        let p = SetPciIntxLevel {
            domain: segment,
            bus,
            device,
            intx,
            level,
        };
        self.op(
            domid,
            DmopCode::SET_PCI_INTX_LEVEL,
            &p,
            "set_pci_intx_level",
        )
        .map(|_| ())
    }

    /// Sets the level of an ISA IRQ.
    pub fn set_isa_irq_level(&self, domid: DomId, irq: u8, level: u8) -> Result<()> {
        let p = SetIsaIrqLevel {
            isa_irq: irq,
            level,
        };
        self.op(domid, DmopCode::SET_ISA_IRQ_LEVEL, &p, "set_isa_irq_level")
            .map(|_| ())
    }

    /// Sets the level of an interrupt line (Arm; `EOPNOTSUPP` on x86).
    pub fn set_irq_level(&self, domid: DomId, irq: u32, level: u8) -> Result<()> {
        let p = SetIrqLevel {
            irq,
            level,
            ..SetIrqLevel::ZEROED
        };
        self.op(domid, DmopCode::SET_IRQ_LEVEL, &p, "set_irq_level")
            .map(|_| ())
    }

    /// Routes PCI link `link` to ISA IRQ `irq` (0 disables it).
    pub fn set_pci_link_route(&self, domid: DomId, link: u8, irq: u8) -> Result<()> {
        let p = SetPciLinkRoute { link, isa_irq: irq };
        self.op(
            domid,
            DmopCode::SET_PCI_LINK_ROUTE,
            &p,
            "set_pci_link_route",
        )
        .map(|_| ())
    }

    /// Injects an MSI.
    pub fn inject_msi(&self, domid: DomId, addr: u64, data: u32) -> Result<()> {
        let p = InjectMsi {
            data,
            addr,
            ..InjectMsi::ZEROED
        };
        self.op(domid, DmopCode::INJECT_MSI, &p, "inject_msi")
            .map(|_| ())
    }

    /// Injects an event into vCPU `vcpu`; `error_code` `!0` means none;
    /// `extra` is `%cr2` for a page fault.
    #[allow(clippy::too_many_arguments)]
    pub fn inject_event(
        &self,
        domid: DomId,
        vcpu: u32,
        vector: u8,
        ty: EventType,
        error_code: u32,
        insn_len: u8,
        extra: u64,
    ) -> Result<()> {
        let p = InjectEvent {
            vcpuid: vcpu,
            vector,
            r#type: ty,
            insn_len,
            error_code,
            cr2: extra,
            ..InjectEvent::ZEROED
        };
        self.op(domid, DmopCode::INJECT_EVENT, &p, "inject_event")
            .map(|_| ())
    }

    /// Reads and clears the dirty bits of `nr` pages from `first_pfn` into
    /// `bitmap`, which must hold at least `ceil(nr / 8)` bytes.
    pub fn track_dirty_vram(
        &self,
        domid: DomId,
        first_pfn: u64,
        nr: u32,
        bitmap: &mut [u8],
    ) -> Result<()> {
        let len = (nr as usize).div_ceil(8);
        let buf = bitmap
            .get_mut(..len)
            .ok_or(Error::new("track_dirty_vram", libc::EINVAL))?;
        let p = TrackDirtyVram {
            nr,
            first_pfn,
            ..TrackDirtyVram::ZEROED
        };
        self.op2(
            domid,
            DmopCode::TRACK_DIRTY_VRAM,
            &p,
            buf,
            "track_dirty_vram",
        )
        .map(|_| ())
    }

    /// Marks `nr` pages from `first_pfn` dirty.
    pub fn modified_memory(&self, domid: DomId, first_pfn: u64, nr: u32) -> Result<()> {
        let mut e = [ModifiedMemoryExtent {
            nr,
            first_pfn,
            ..ModifiedMemoryExtent::ZEROED
        }];
        self.modified_memory_bulk(domid, &mut e)
    }

    /// Marks several extents of pages dirty.
    pub fn modified_memory_bulk(
        &self,
        domid: DomId,
        extents: &mut [ModifiedMemoryExtent],
    ) -> Result<()> {
        let p = ModifiedMemory {
            nr_extents: extents.len() as u32,
            opaque: 0,
        };
        self.op2(
            domid,
            DmopCode::MODIFIED_MEMORY,
            &p,
            extents.as_mut_bytes(),
            "modified_memory",
        )
        .map(|_| ())
    }

    /// Changes the type of `nr` pages from `first_pfn`.
    pub fn set_mem_type(
        &self,
        domid: DomId,
        mem_type: HvmMemType,
        first_pfn: u64,
        nr: u32,
    ) -> Result<()> {
        let p = SetMemType {
            nr,
            mem_type,
            first_pfn,
            ..SetMemType::ZEROED
        };
        self.op(domid, DmopCode::SET_MEM_TYPE, &p, "set_mem_type")
            .map(|_| ())
    }

    /// Shuts the guest down.
    pub fn shutdown(&self, domid: DomId, reason: ShutdownReason) -> Result<()> {
        let p = RemoteShutdown { reason };
        self.op(domid, DmopCode::REMOTE_SHUTDOWN, &p, "shutdown")
            .map(|_| ())
    }

    /// Moves `size` gfns from `src_gfn` to `dst_gfn`.
    pub fn relocate_memory(
        &self,
        domid: DomId,
        size: u32,
        src_gfn: u64,
        dst_gfn: u64,
    ) -> Result<()> {
        let p = RelocateMemory {
            size,
            src_gfn,
            dst_gfn,
            ..RelocateMemory::ZEROED
        };
        self.op(domid, DmopCode::RELOCATE_MEMORY, &p, "relocate_memory")
            .map(|_| ())
    }

    /// Pins the cache attribute of gfns `start..=end` ([`CacheAttr::DELETE`] removes a pin).
    pub fn pin_memory_cacheattr(
        &self,
        domid: DomId,
        start: u64,
        end: u64,
        ty: CacheAttr,
    ) -> Result<()> {
        let p = PinMemoryCacheattr {
            start,
            end,
            r#type: ty,
            ..PinMemoryCacheattr::ZEROED
        };
        self.op(
            domid,
            DmopCode::PIN_MEMORY_CACHEATTR,
            &p,
            "pin_memory_cacheattr",
        )
        .map(|_| ())
    }

    /// The guest's number of vCPUs.
    pub fn nr_vcpus(&self, domid: DomId) -> Result<u32> {
        Ok(self
            .op(domid, DmopCode::NR_VCPUS, &NrVcpus::ZEROED, "nr_vcpus")?
            .vcpus)
    }
}

fn checked_sbdf(op: &'static str, segment: u16, bus: u8, device: u8, function: u8) -> Result<u64> {
    if device > 0x1f || function > 7 {
        return Err(Error::new(op, libc::EINVAL));
    }
    Ok(pci_sbdf(segment, bus, device, function))
}

fn range(id: IoservId, r#type: IoRangeType, start: u64, end: u64) -> IoreqServerRange {
    IoreqServerRange {
        id,
        r#type,
        start,
        end,
        ..IoreqServerRange::ZEROED
    }
}

impl DeviceModel {
    /// The privcmd descriptor (`None` on a fallback handle).
    pub fn raw_fd(&self) -> Option<RawFd> {
        match &self.backend {
            Backend::Privcmd(s) => Some(s.raw()),
            Backend::Fallback(_) => None,
        }
    }

    /// The privcmd descriptor, borrowed (`None` on a fallback handle).
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.backend {
            Backend::Privcmd(s) => Some(s.fd().as_fd()),
            Backend::Fallback(_) => None,
        }
    }

    /// Whether the descriptor is privcmd-restrict's: a character device
    /// whose sysfs directory (`/sys/dev/char/MAJOR:MINOR`) has the
    /// `bindings` attribute only that node has, whatever name it was loaded
    /// under. A device model asks before it uses what only that node does
    /// safely: Linux's own `IOCTL_PRIVCMD_IOEVENTFD` oopses a PV dom0 at the
    /// first assign and keeps what a process could not deassign (the
    /// seccomp-confined device model) until the guest is gone, so
    /// ioeventfds are for privcmd-restrict only. False on a fallback
    /// handle, or without sysfs.
    ///
    /// ```no_run
    /// let dm = xendevicemodel::DeviceModel::open_path(xendevicemodel::PRIVCMD_RESTRICT_PATH)?;
    /// assert!(dm.is_privcmd_restrict());
    /// # Ok::<(), xendevicemodel::Error>(())
    /// ```
    pub fn is_privcmd_restrict(&self) -> bool {
        let Some(fd) = self.raw_fd() else {
            return false;
        };
        // SAFETY: `self` keeps the descriptor open while borrowed here.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let Ok(st) = rustix::fs::fstat(fd) else {
            return false;
        };
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::CharacterDevice
            && std::path::Path::new(&format!(
                "/sys/dev/char/{}:{}/bindings",
                rustix::fs::major(st.st_rdev),
                rustix::fs::minor(st.st_rdev)
            ))
            .exists()
    }
}
