// SPDX-License-Identifier: MIT
//! [`Guest`]: a handle bound to one guest, and the objects it hands out,
//! in the style of kvm-ioctls (`Kvm` -> `VmFd` -> `VcpuFd`): the domain is
//! given once, every method takes none, and what is created is released
//! when dropped.
//!
//! - [`Guest`] issues the guest's DMOPs; opened with [`Guest::open`] it is
//!   confined to the guest from the start.
//! - [`IoreqServer`], from [`Guest::create_ioreq_server`], owns the
//!   server: its id, its mode, the guest's vCPU count and the mapped ioreq
//!   pages. Dropping it unmaps the pages and destroys the server.
//! - [`BoundPort`](crate::BoundPort), from
//!   [`EventChannel::bind`](crate::EventChannel::bind), is an event-channel
//!   port unbound on drop.
//!
//! The domid-per-call [`DeviceModel`] stays for the C drop-in and for
//! tools that serve several guests.

use dmop_abi::dmop::*;
use dmop_abi::types::{DomId, IoservId};

use crate::dm::{DeviceModel, IoreqServerInfo};
use crate::error::{Error, Result};
use crate::ioreq::IoreqPages;

/// A device model's handle on one guest.
///
/// # Example
///
/// ```no_run
/// use dmop_abi::dmop::{BufioreqMode, IoRangeType};
/// use dmop_abi::types::DomId;
/// use xendevicemodel::{EventChannel, Guest};
///
/// let guest = Guest::open(DomId(5))?; // confined to domain 5 from here on
/// let ev = EventChannel::open()?;
/// ev.restrict(guest.domid())?;
/// let server = guest.create_ioreq_server(BufioreqMode::OFF)?;
/// server.map_io_range(IoRangeType::PORT, 0x3f8, 0x3ff)?;
/// server.set_enabled(true)?;
/// let slot = server.pages().slot(0).expect("vCPU 0");
/// let port = ev.bind(guest.domid(), slot.vp_eport())?;
/// if let Some(req) = slot.begin() {
///     slot.complete(0);
///     port.notify()?;
/// }
/// // Dropping `port`, then `server`: the port is unbound, the pages are
/// // unmapped and the server is destroyed.
/// # Ok::<(), xendevicemodel::Error>(())
/// ```
#[derive(Debug)]
pub struct Guest {
    dm: DeviceModel,
    domid: DomId,
}

impl Guest {
    /// Opens the default privcmd node and confines it to `domid` at once
    /// (fails closed: no handle unless the restriction holds).
    pub fn open(domid: DomId) -> Result<Self> {
        let g = Self::new(DeviceModel::open()?, domid)?;
        g.restrict()?;
        Ok(g)
    }

    /// Binds `dm` to `domid` without restricting it (see
    /// [`Guest::restrict`]): `EINVAL` if `domid` is not an ordinary
    /// domain, `EPERM` if `dm` is already confined to another.
    pub fn new(dm: DeviceModel, domid: DomId) -> Result<Self> {
        if !domid.is_ordinary() {
            return Err(Error::new("bind a guest", libc::EINVAL));
        }
        if dm.restricted_to().is_some_and(|d| d != domid) {
            return Err(Error::new("bind a guest", libc::EPERM));
        }
        Ok(Self { dm, domid })
    }

    /// Confines the handle's descriptor to the guest, for good.
    pub fn restrict(&self) -> Result<()> {
        self.dm.restrict(self.domid)
    }

    /// The guest.
    pub fn domid(&self) -> DomId {
        self.domid
    }

    /// The underlying handle (for what only the domid-per-call API has).
    pub fn device_model(&self) -> &DeviceModel {
        &self.dm
    }

    /// Creates an ioreq server for the guest and maps its ioreq pages (the
    /// buffered page too unless `mode` is `OFF`). On a failure after the
    /// server exists, it is destroyed again.
    pub fn create_ioreq_server(&self, mode: BufioreqMode) -> Result<IoreqServer> {
        let nr_vcpus = self.nr_vcpus()?;
        let id = self.dm.create_ioreq_server(self.domid, mode)?;
        // From here the server is ours: dropped on any failure.
        let mut server = IoreqServer {
            dm: self.dm.clone(),
            domid: self.domid,
            id,
            mode,
            nr_vcpus,
            pages: None,
        };
        server.pages = Some(IoreqPages::map(
            &self.dm,
            self.domid,
            id,
            nr_vcpus,
            mode != BufioreqMode::OFF,
        )?);
        Ok(server)
    }

    /// The guest's vCPU count.
    pub fn nr_vcpus(&self) -> Result<u32> {
        self.dm.nr_vcpus(self.domid)
    }

    /// Sets an ISA IRQ line's level (x86).
    pub fn set_isa_irq_level(&self, irq: u8, level: u8) -> Result<()> {
        self.dm.set_isa_irq_level(self.domid, irq, level)
    }

    /// Sets an interrupt line's level (Arm: a GIC SPI).
    pub fn set_irq_level(&self, irq: u32, level: u8) -> Result<()> {
        self.dm.set_irq_level(self.domid, irq, level)
    }

    /// Sets a PCI INTx line's level (x86).
    pub fn set_pci_intx_level(
        &self,
        segment: u16,
        bus: u8,
        device: u8,
        intx: u8,
        level: u8,
    ) -> Result<()> {
        self.dm
            .set_pci_intx_level(self.domid, segment, bus, device, intx, level)
    }

    /// Routes a PCI link to an ISA IRQ (x86).
    pub fn set_pci_link_route(&self, link: u8, irq: u8) -> Result<()> {
        self.dm.set_pci_link_route(self.domid, link, irq)
    }

    /// Injects an MSI (x86).
    pub fn inject_msi(&self, addr: u64, data: u32) -> Result<()> {
        self.dm.inject_msi(self.domid, addr, data)
    }

    /// Injects an event into a vCPU (x86).
    pub fn inject_event(
        &self,
        vcpu: u32,
        vector: u8,
        ty: EventType,
        error_code: u32,
        insn_len: u8,
        extra: u64,
    ) -> Result<()> {
        self.dm
            .inject_event(self.domid, vcpu, vector, ty, error_code, insn_len, extra)
    }

    /// The dirty bitmap of `nr` pages from `first_pfn` (x86).
    pub fn track_dirty_vram(&self, first_pfn: u64, nr: u32, bitmap: &mut [u8]) -> Result<()> {
        self.dm.track_dirty_vram(self.domid, first_pfn, nr, bitmap)
    }

    /// Marks `nr` pages from `first_pfn` modified (x86).
    pub fn modified_memory(&self, first_pfn: u64, nr: u32) -> Result<()> {
        self.dm.modified_memory(self.domid, first_pfn, nr)
    }

    /// Marks several extents modified (x86).
    pub fn modified_memory_bulk(&self, extents: &mut [ModifiedMemoryExtent]) -> Result<()> {
        self.dm.modified_memory_bulk(self.domid, extents)
    }

    /// Sets the type of `nr` pages from `first_pfn` (x86).
    pub fn set_mem_type(&self, mem_type: HvmMemType, first_pfn: u64, nr: u32) -> Result<()> {
        self.dm.set_mem_type(self.domid, mem_type, first_pfn, nr)
    }

    /// Shuts the guest down with `reason`.
    pub fn shutdown(&self, reason: ShutdownReason) -> Result<()> {
        self.dm.shutdown(self.domid, reason)
    }

    /// Moves `size` gfns from `src_gfn` to `dst_gfn` (x86).
    pub fn relocate_memory(&self, size: u32, src_gfn: u64, dst_gfn: u64) -> Result<()> {
        self.dm.relocate_memory(self.domid, size, src_gfn, dst_gfn)
    }

    /// Pins the cache attribute of `start..=end` (x86).
    pub fn pin_memory_cacheattr(&self, start: u64, end: u64, ty: CacheAttr) -> Result<()> {
        self.dm.pin_memory_cacheattr(self.domid, start, end, ty)
    }
}

/// An ioreq server of a [`Guest`], destroyed on drop; its ioreq pages are
/// mapped for the guest's vCPUs while it lives. It holds its own reference
/// to the guest's descriptor, so it may outlive the [`Guest`] it came
/// from, sit next to it in a struct, or move to another thread.
#[derive(Debug)]
pub struct IoreqServer {
    dm: DeviceModel,
    domid: DomId,
    id: IoservId,
    mode: BufioreqMode,
    nr_vcpus: u32,
    /// Always `Some` but in `drop`, which unmaps them before the server goes.
    pages: Option<IoreqPages>,
}

impl IoreqServer {
    /// The server's id.
    pub fn id(&self) -> IoservId {
        self.id
    }

    /// Its buffered-ioreq mode.
    pub fn mode(&self) -> BufioreqMode {
        self.mode
    }

    /// The guest's vCPU count when the server was created (one slot each).
    pub fn nr_vcpus(&self) -> u32 {
        self.nr_vcpus
    }

    /// The mapped ioreq pages: a slot per vCPU, and the buffered ring.
    pub fn pages(&self) -> &IoreqPages {
        self.pages.as_ref().expect("mapped while the server lives")
    }

    /// The buffered-ioreq event channel (without the legacy gfns).
    pub fn info(&self) -> Result<IoreqServerInfo> {
        self.dm.get_ioreq_server_info(self.domid, self.id, false)
    }

    /// Claims `start..=end` (inclusive) of ports or MMIO.
    pub fn map_io_range(&self, ty: IoRangeType, start: u64, end: u64) -> Result<()> {
        self.dm
            .map_io_range_to_ioreq_server(self.domid, self.id, ty, start, end)
    }

    /// Releases `start..=end`.
    pub fn unmap_io_range(&self, ty: IoRangeType, start: u64, end: u64) -> Result<()> {
        self.dm
            .unmap_io_range_from_ioreq_server(self.domid, self.id, ty, start, end)
    }

    /// Claims one PCI function's config space.
    pub fn map_pcidev(&self, segment: u16, bus: u8, device: u8, function: u8) -> Result<()> {
        self.dm
            .map_pcidev_to_ioreq_server(self.domid, self.id, segment, bus, device, function)
    }

    /// Releases one PCI function's config space.
    pub fn unmap_pcidev(&self, segment: u16, bus: u8, device: u8, function: u8) -> Result<()> {
        self.dm
            .unmap_pcidev_from_ioreq_server(self.domid, self.id, segment, bus, device, function)
    }

    /// Forwards writes to pages of type `HVMMEM_ioreq_server` (x86).
    pub fn map_mem_type(&self, ty: HvmMemType, flags: MemAccessFlags) -> Result<()> {
        self.dm
            .map_mem_type_to_ioreq_server(self.domid, self.id, ty, flags)
    }

    /// Enables or disables the server.
    pub fn set_enabled(&self, enabled: bool) -> Result<()> {
        self.dm.set_ioreq_server_state(self.domid, self.id, enabled)
    }
}

impl Drop for IoreqServer {
    fn drop(&mut self) {
        // The pages first: the server's frames go back to Xen with it.
        drop(self.pages.take());
        let _ = self.dm.destroy_ioreq_server(self.domid, self.id);
    }
}
