// SPDX-License-Identifier: MIT
//! The device-model hypercall, `__HYPERVISOR_dm_op` (`xen/hvm/dm_op.h`).
//!
//! `dm_op(domid, nr_bufs, bufs)` takes the target domain as an argument of
//! its own, outside every buffer: a kernel can confine a file descriptor to
//! one domain without understanding any op. `bufs[0]` holds a [`XenDmOp`]
//! (the op number and its payload); some ops read a second buffer
//! (`track_dirty_vram` writes a bitmap, `modified_memory` reads an array of
//! [`ModifiedMemoryExtent`]).
//!
//! Op numbers are frozen: an op whose layout has to change incompatibly is
//! given a new number and the old one is retired, never reused
//! ([`RETIRED_DMOPS`], `docs/abi-policy.md`).

use super::layout::{AbiZero, Arches, ConstDesc, FieldLayout, StructLayout};
use super::types::{EvtchnPort, GuestHandle, IoservId, XenUlong};

c_enum! {
    #[c(header = "xen/hvm/dm_op.h")]
    /// A DMOP number (`XEN_DMOP_*`), the `op` field of [`XenDmOp`].
    pub struct DmopCode(u32) {
        /// Creates an ioreq server ([`CreateIoreqServer`]).
        CREATE_IOREQ_SERVER = 1 => "XEN_DMOP_create_ioreq_server",
        /// Reads an ioreq server's ports and legacy gfns ([`GetIoreqServerInfo`]).
        GET_IOREQ_SERVER_INFO = 2 => "XEN_DMOP_get_ioreq_server_info",
        /// Claims a port, MMIO or PCI range ([`IoreqServerRange`]).
        MAP_IO_RANGE_TO_IOREQ_SERVER = 3 => "XEN_DMOP_map_io_range_to_ioreq_server",
        /// Releases a claimed range ([`IoreqServerRange`]).
        UNMAP_IO_RANGE_FROM_IOREQ_SERVER = 4 => "XEN_DMOP_unmap_io_range_from_ioreq_server",
        /// Enables or disables an ioreq server ([`SetIoreqServerState`]).
        SET_IOREQ_SERVER_STATE = 5 => "XEN_DMOP_set_ioreq_server_state",
        /// Destroys an ioreq server ([`DestroyIoreqServer`]).
        DESTROY_IOREQ_SERVER = 6 => "XEN_DMOP_destroy_ioreq_server",
        /// Reads and clears the dirty bitmap of a VRAM range ([`TrackDirtyVram`]).
        TRACK_DIRTY_VRAM = 7 => "XEN_DMOP_track_dirty_vram",
        /// Sets a PCI INTx line level ([`SetPciIntxLevel`]).
        SET_PCI_INTX_LEVEL = 8 => "XEN_DMOP_set_pci_intx_level",
        /// Sets an ISA IRQ level ([`SetIsaIrqLevel`]).
        SET_ISA_IRQ_LEVEL = 9 => "XEN_DMOP_set_isa_irq_level",
        /// Routes a PCI link to an ISA IRQ ([`SetPciLinkRoute`]).
        SET_PCI_LINK_ROUTE = 10 => "XEN_DMOP_set_pci_link_route",
        /// Marks guest pages dirty for live migration ([`ModifiedMemory`]).
        MODIFIED_MEMORY = 11 => "XEN_DMOP_modified_memory",
        /// Changes the p2m type of guest pages ([`SetMemType`]).
        SET_MEM_TYPE = 12 => "XEN_DMOP_set_mem_type",
        /// Injects an event into a vCPU ([`InjectEvent`]).
        INJECT_EVENT = 13 => "XEN_DMOP_inject_event",
        /// Injects an MSI ([`InjectMsi`]).
        INJECT_MSI = 14 => "XEN_DMOP_inject_msi",
        /// Forwards accesses to pages of a memory type ([`MapMemTypeToIoreqServer`]).
        MAP_MEM_TYPE_TO_IOREQ_SERVER = 15 => "XEN_DMOP_map_mem_type_to_ioreq_server",
        /// Shuts the guest down ([`RemoteShutdown`]).
        REMOTE_SHUTDOWN = 16 => "XEN_DMOP_remote_shutdown",
        /// Moves guest frames ([`RelocateMemory`]).
        RELOCATE_MEMORY = 17 => "XEN_DMOP_relocate_memory",
        /// Pins the cache attribute of a gfn range ([`PinMemoryCacheattr`]).
        PIN_MEMORY_CACHEATTR = 18 => "XEN_DMOP_pin_memory_cacheattr",
        /// Sets the level of an interrupt line (Arm) ([`SetIrqLevel`]).
        SET_IRQ_LEVEL = 19 => "XEN_DMOP_set_irq_level",
        /// Reads the guest's vCPU count ([`NrVcpus`]).
        NR_VCPUS = 20 => "XEN_DMOP_nr_vcpus",
    }
}

c_enum! {
    #[c(header = "xen/hvm/hvm_op.h")]
    /// Whether (and how) an ioreq server handles buffered ioreqs
    /// (`HVM_IOREQSRV_BUFIOREQ_*`).
    pub struct BufioreqMode(u8) {
        /// No buffered ioreqs.
        OFF = 0 => "HVM_IOREQSRV_BUFIOREQ_OFF",
        /// Buffered ioreqs with the legacy (non-atomic) pointer update.
        LEGACY = 1 => "HVM_IOREQSRV_BUFIOREQ_LEGACY",
        /// Buffered ioreqs; Xen updates both pointers with one atomic write.
        ATOMIC = 2 => "HVM_IOREQSRV_BUFIOREQ_ATOMIC",
    }
}

c_enum! {
    #[c(header = "xen/hvm/dm_op.h")]
    /// Flags of [`GetIoreqServerInfo`].
    pub struct IoreqServerInfoFlags(u16) {
        /// Do not map the legacy gfns; only the ports are wanted.
        NO_GFNS = 1 => "XEN_DMOP_no_gfns",
    }
}

c_enum! {
    #[c(header = "xen/hvm/dm_op.h")]
    /// The kind of range an ioreq server claims (`XEN_DMOP_IO_RANGE_*`).
    pub struct IoRangeType(u32) {
        /// I/O ports.
        PORT = 0 => "XEN_DMOP_IO_RANGE_PORT",
        /// Guest-physical MMIO.
        MEMORY = 1 => "XEN_DMOP_IO_RANGE_MEMORY",
        /// PCI config space of segment/bus/device/function values ([`pci_sbdf`]).
        PCI = 2 => "XEN_DMOP_IO_RANGE_PCI",
    }
}

c_enum! {
    #[c(header = "xen/hvm/dm_op.h")]
    /// The type of an injected event (`XEN_DMOP_EVENT_*`, the x86 event types).
    pub struct EventType(u8) {
        /// External interrupt.
        EXT_INT = 0 => "XEN_DMOP_EVENT_ext_int",
        /// Non-maskable interrupt.
        NMI = 2 => "XEN_DMOP_EVENT_nmi",
        /// Hardware exception.
        HW_EXC = 3 => "XEN_DMOP_EVENT_hw_exc",
        /// Software interrupt (`INT n`).
        SW_INT = 4 => "XEN_DMOP_EVENT_sw_int",
        /// Privileged software exception (`ICEBP`).
        PRI_SW_EXC = 5 => "XEN_DMOP_EVENT_pri_sw_exc",
        /// Software exception (`INT3`, `INTO`).
        SW_EXC = 6 => "XEN_DMOP_EVENT_sw_exc",
    }
}

c_enum! {
    #[c(header = "xen/hvm/dm_op.h")]
    /// Which accesses [`MapMemTypeToIoreqServer`] forwards (a flag set; 0 unmaps).
    pub struct MemAccessFlags(u32) {
        /// Forward reads.
        READ = 1 => "XEN_DMOP_IOREQ_MEM_ACCESS_READ",
        /// Forward writes.
        WRITE = 2 => "XEN_DMOP_IOREQ_MEM_ACCESS_WRITE",
    }
}

c_enum! {
    #[c(header = "xen/hvm/dm_op.h")]
    /// A cache attribute for [`PinMemoryCacheattr`] (x86 MTRR/PAT codes).
    pub struct CacheAttr(u32) {
        /// Uncacheable.
        UC = 0 => "XEN_DMOP_MEM_CACHEATTR_UC",
        /// Write-combining.
        WC = 1 => "XEN_DMOP_MEM_CACHEATTR_WC",
        /// Write-through.
        WT = 4 => "XEN_DMOP_MEM_CACHEATTR_WT",
        /// Write-protected.
        WP = 5 => "XEN_DMOP_MEM_CACHEATTR_WP",
        /// Write-back.
        WB = 6 => "XEN_DMOP_MEM_CACHEATTR_WB",
        /// Uncached, overridable by MTRRs (UC-).
        UCM = 7 => "XEN_DMOP_MEM_CACHEATTR_UCM",
        /// Removes a pinned range.
        DELETE = 0xffff_ffff => "XEN_DMOP_DELETE_MEM_CACHEATTR",
    }
}

c_enum! {
    #[c(header = "xen/hvm/hvm_op.h")]
    /// A p2m memory type (`hvmmem_type_t`, carried in 16 bits by the DMOPs).
    pub struct HvmMemType(u16) {
        /// Ordinary read/write RAM.
        RAM_RW = 0 => "HVMMEM_ram_rw",
        /// Read-only RAM; writes are discarded.
        RAM_RO = 1 => "HVMMEM_ram_ro",
        /// Reads and writes go to the device model.
        MMIO_DM = 2 => "HVMMEM_mmio_dm",
        /// Retired: was `HVMMEM_mmio_write_dm`; setting it fails since Xen 4.7.
        UNUSED = 3 => "HVMMEM_unused",
        /// Claimed by an ioreq server through [`MapMemTypeToIoreqServer`].
        IOREQ_SERVER = 4 => "HVMMEM_ioreq_server",
    }
}

c_enum! {
    #[c(header = "xen/sched.h")]
    /// Why a domain shuts down (`SHUTDOWN_*`), for [`RemoteShutdown`].
    pub struct ShutdownReason(u32) {
        /// Normal exit: clean up and destroy.
        POWEROFF = 0 => "SHUTDOWN_poweroff",
        /// Clean up, destroy and restart.
        REBOOT = 1 => "SHUTDOWN_reboot",
        /// Suspend: save state, destroy.
        SUSPEND = 2 => "SHUTDOWN_suspend",
        /// The guest crashed.
        CRASH = 3 => "SHUTDOWN_crash",
        /// A watchdog expired.
        WATCHDOG = 4 => "SHUTDOWN_watchdog",
        /// Soft reset.
        SOFT_RESET = 5 => "SHUTDOWN_soft_reset",
    }
}

/// Packs a PCI segment/bus/device/function into the value an
/// [`IoRangeType::PCI`] range holds (`XEN_DMOP_PCI_SBDF`), computed in 64
/// bits as libxendevicemodel does (it casts every argument to `uint64_t`;
/// the macro given plain `int`s would sign-extend segments from 0x8000 up).
pub const fn pci_sbdf(segment: u16, bus: u8, device: u8, function: u8) -> u64 {
    ((segment as u64) << 16)
        | ((bus as u64) << 8)
        | (((device & 0x1f) as u64) << 3)
        | ((function & 7) as u64)
}

/// The C macro calls that must give the same values as [`pci_sbdf`].
pub const SBDF_CHECKS: &[ConstDesc] = &[
    ConstDesc {
        name: "XEN_DMOP_PCI_SBDF((uint64_t)0, (uint64_t)0, (uint64_t)0, (uint64_t)0)",
        header: "xen/hvm/dm_op.h",
        value: pci_sbdf(0, 0, 0, 0),
    },
    ConstDesc {
        name: "XEN_DMOP_PCI_SBDF((uint64_t)0xffff, (uint64_t)0xff, (uint64_t)0x1f, (uint64_t)7)",
        header: "xen/hvm/dm_op.h",
        value: pci_sbdf(0xffff, 0xff, 0x1f, 7),
    },
    ConstDesc {
        name: "XEN_DMOP_PCI_SBDF((uint64_t)0x1234, (uint64_t)0x56, (uint64_t)0x0a, (uint64_t)3)",
        header: "xen/hvm/dm_op.h",
        value: pci_sbdf(0x1234, 0x56, 0x0a, 3),
    },
];

abi_struct! {
    #[c(name = "xen_dm_op_create_ioreq_server", header = "xen/hvm/dm_op.h")]
    /// `XEN_DMOP_create_ioreq_server`: Xen picks the id and writes it back.
    pub struct CreateIoreqServer {
        /// IN: whether and how the server handles buffered ioreqs.
        pub handle_bufioreq: BufioreqMode,
        /// Must be zero.
        pub pad: [u8; 3],
        /// OUT: the new server's id.
        pub id: IoservId,
    }
}

abi_struct! {
    #[c(name = "xen_dm_op_get_ioreq_server_info", header = "xen/hvm/dm_op.h", uint64_aligned)]
    /// `XEN_DMOP_get_ioreq_server_info`.
    pub struct GetIoreqServerInfo {
        /// IN: server id.
        pub id: IoservId,
        /// IN: [`IoreqServerInfoFlags`].
        pub flags: IoreqServerInfoFlags,
        /// OUT: the buffered-ioreq event channel.
        pub bufioreq_port: EvtchnPort,
        /// OUT: gfn of the synchronous ioreq page (legacy mapping path).
        pub ioreq_gfn: u64,
        /// OUT: gfn of the buffered ioreq page (legacy mapping path).
        pub bufioreq_gfn: u64,
    }
}

abi_struct! {
    #[c(name = "xen_dm_op_ioreq_server_range", header = "xen/hvm/dm_op.h", uint64_aligned)]
    /// `XEN_DMOP_map_io_range_to_ioreq_server` and
    /// `XEN_DMOP_unmap_io_range_from_ioreq_server`: an inclusive range.
    pub struct IoreqServerRange {
        /// IN: server id.
        pub id: IoservId,
        /// Must be zero.
        pub pad: u16,
        /// IN: what kind of range.
        pub r#type: IoRangeType = "type",
        /// IN: first port, address or SBDF of the range.
        pub start: u64,
        /// IN: last port, address or SBDF of the range (inclusive).
        pub end: u64,
    }
}

abi_struct! {
    #[c(name = "xen_dm_op_set_ioreq_server_state", header = "xen/hvm/dm_op.h")]
    /// `XEN_DMOP_set_ioreq_server_state`.
    pub struct SetIoreqServerState {
        /// IN: server id.
        pub id: IoservId,
        /// IN: 1 to enable, 0 to disable.
        pub enabled: u8,
        /// Must be zero.
        pub pad: u8,
    }
}

abi_struct! {
    #[c(name = "xen_dm_op_destroy_ioreq_server", header = "xen/hvm/dm_op.h")]
    /// `XEN_DMOP_destroy_ioreq_server`.
    pub struct DestroyIoreqServer {
        /// IN: server id.
        pub id: IoservId,
        /// Must be zero.
        pub pad: u16,
    }
}

abi_struct! {
    #[c(name = "xen_dm_op_track_dirty_vram", header = "xen/hvm/dm_op.h", uint64_aligned)]
    /// `XEN_DMOP_track_dirty_vram`: the dirty bitmap (one bit a page,
    /// `ceil(nr / 8)` bytes) is written to buffer 1.
    pub struct TrackDirtyVram {
        /// IN: number of pages to track.
        pub nr: u32,
        /// Must be zero.
        pub pad: u32,
        /// IN: first pfn to track.
        pub first_pfn: u64,
    }
}

abi_struct! {
    #[c(name = "xen_dm_op_set_pci_intx_level", header = "xen/hvm/dm_op.h")]
    /// `XEN_DMOP_set_pci_intx_level`.
    pub struct SetPciIntxLevel {
        /// IN: PCI segment.
        pub domain: u16,
        /// IN: bus.
        pub bus: u8,
        /// IN: device.
        pub device: u8,
        /// IN: INTx pin (0 = INTA .. 3 = INTD).
        pub intx: u8,
        /// IN: 1 asserted, 0 deasserted.
        pub level: u8,
    }
}

abi_struct! {
    #[c(name = "xen_dm_op_set_isa_irq_level", header = "xen/hvm/dm_op.h")]
    /// `XEN_DMOP_set_isa_irq_level`.
    pub struct SetIsaIrqLevel {
        /// IN: ISA IRQ (0-15).
        pub isa_irq: u8,
        /// IN: 1 asserted, 0 deasserted.
        pub level: u8,
    }
}

abi_struct! {
    #[c(name = "xen_dm_op_set_pci_link_route", header = "xen/hvm/dm_op.h")]
    /// `XEN_DMOP_set_pci_link_route`.
    pub struct SetPciLinkRoute {
        /// IN: PCI INTx link (0-3).
        pub link: u8,
        /// IN: ISA IRQ (1-15), or 0 to disable the link.
        pub isa_irq: u8,
    }
}

abi_struct! {
    #[c(name = "xen_dm_op_modified_memory", header = "xen/hvm/dm_op.h")]
    /// `XEN_DMOP_modified_memory`: buffer 1 holds `nr_extents`
    /// [`ModifiedMemoryExtent`]s.
    pub struct ModifiedMemory {
        /// IN: number of extents; OUT: index + 1 of a failing extent.
        pub nr_extents: u32,
        /// IN/OUT: continuation state; must be zero on the first call.
        pub opaque: u32,
    }
}

abi_struct! {
    #[c(name = "xen_dm_op_modified_memory_extent", header = "xen/hvm/dm_op.h", uint64_aligned)]
    /// One extent of [`ModifiedMemory`], in buffer 1.
    pub struct ModifiedMemoryExtent {
        /// Number of contiguous pages.
        pub nr: u32,
        /// Must be zero.
        pub pad: u32,
        /// First pfn.
        pub first_pfn: u64,
    }
}

abi_struct! {
    #[c(name = "xen_dm_op_set_mem_type", header = "xen/hvm/dm_op.h", uint64_aligned)]
    /// `XEN_DMOP_set_mem_type`.
    pub struct SetMemType {
        /// IN: number of contiguous pages.
        pub nr: u32,
        /// IN: the new type.
        pub mem_type: HvmMemType,
        /// Must be zero.
        pub pad: u16,
        /// IN: first pfn.
        pub first_pfn: u64,
    }
}

abi_struct! {
    #[c(name = "xen_dm_op_inject_event", header = "xen/hvm/dm_op.h", uint64_aligned)]
    /// `XEN_DMOP_inject_event`.
    pub struct InjectEvent {
        /// IN: vCPU index.
        pub vcpuid: u32,
        /// IN: vector.
        pub vector: u8,
        /// IN: event type.
        pub r#type: EventType = "type",
        /// IN: instruction length (software events).
        pub insn_len: u8,
        /// Must be zero.
        pub pad0: u8,
        /// IN: error code, or `!0` for none.
        pub error_code: u32,
        /// Must be zero.
        pub pad1: u32,
        /// IN: `%cr2` for #PF, pending debug state for #DB.
        pub cr2: u64,
    }
}

abi_struct! {
    #[c(name = "xen_dm_op_inject_msi", header = "xen/hvm/dm_op.h", uint64_aligned)]
    /// `XEN_DMOP_inject_msi`.
    pub struct InjectMsi {
        /// IN: MSI data.
        pub data: u32,
        /// Must be zero.
        pub pad: u32,
        /// IN: MSI address (0xfeexxxxx).
        pub addr: u64,
    }
}

abi_struct! {
    #[c(name = "xen_dm_op_map_mem_type_to_ioreq_server", header = "xen/hvm/dm_op.h")]
    /// `XEN_DMOP_map_mem_type_to_ioreq_server`.
    pub struct MapMemTypeToIoreqServer {
        /// IN: server id.
        pub id: IoservId,
        /// IN: memory type (only [`HvmMemType::IOREQ_SERVER`]).
        pub r#type: HvmMemType = "type",
        /// IN: accesses to forward; 0 unmaps.
        pub flags: MemAccessFlags,
        /// IN/OUT: continuation state; must be zero.
        pub opaque: u64,
    }
}

abi_struct! {
    #[c(name = "xen_dm_op_remote_shutdown", header = "xen/hvm/dm_op.h")]
    /// `XEN_DMOP_remote_shutdown`.
    pub struct RemoteShutdown {
        /// IN: why.
        pub reason: ShutdownReason,
    }
}

abi_struct! {
    #[c(name = "xen_dm_op_relocate_memory", header = "xen/hvm/dm_op.h", uint64_aligned)]
    /// `XEN_DMOP_relocate_memory`.
    pub struct RelocateMemory {
        /// IN/OUT: number of gfns to move.
        pub size: u32,
        /// Must be zero.
        pub pad: u32,
        /// IN/OUT: first gfn to move.
        pub src_gfn: u64,
        /// IN/OUT: where it goes.
        pub dst_gfn: u64,
    }
}

abi_struct! {
    #[c(name = "xen_dm_op_pin_memory_cacheattr", header = "xen/hvm/dm_op.h", uint64_aligned)]
    /// `XEN_DMOP_pin_memory_cacheattr`.
    pub struct PinMemoryCacheattr {
        /// IN: first gfn.
        pub start: u64,
        /// IN: last gfn (inclusive).
        pub end: u64,
        /// IN: the attribute, or [`CacheAttr::DELETE`].
        pub r#type: CacheAttr = "type",
        /// Must be zero.
        pub pad: u32,
    }
}

abi_struct! {
    #[c(name = "xen_dm_op_set_irq_level", header = "xen/hvm/dm_op.h")]
    /// `XEN_DMOP_set_irq_level` (Arm).
    pub struct SetIrqLevel {
        /// IN: interrupt line.
        pub irq: u32,
        /// IN: 1 asserted, 0 deasserted.
        pub level: u8,
        /// Must be zero.
        pub pad: [u8; 3],
    }
}

abi_struct! {
    #[c(name = "xen_dm_op_nr_vcpus", header = "xen/hvm/dm_op.h")]
    /// `XEN_DMOP_nr_vcpus`.
    pub struct NrVcpus {
        /// OUT: number of vCPUs of the domain.
        pub vcpus: u32,
    }
}

/// Size of the payload union `u` of [`XenDmOp`]: the largest op struct.
pub const DMOP_PAYLOAD_SIZE: usize = 24;

abi_struct! {
    #[c(name = "xen_dm_op", header = "xen/hvm/dm_op.h", uint64_aligned)]
    /// `struct xen_dm_op`, the content of buffer 0: an op number and its
    /// payload. The payload is a union in C; here it is its bytes, aligned
    /// as the union is (`XenDmOp::with_payload` fills it from an op struct
    /// when the crate is built with zerocopy).
    pub struct XenDmOp {
        /// The op.
        pub op: DmopCode,
        /// Must be zero.
        pub pad: u32,
        /// The op's struct, zero-filled to the size of the union.
        pub u: [u64; DMOP_PAYLOAD_SIZE / 8],
    }
}

impl XenDmOp {
    /// Offset of the payload in buffer 0 (`offsetof(struct xen_dm_op, u)`).
    pub const PAYLOAD_OFFSET: usize = core::mem::offset_of!(XenDmOp, u);

    /// A header for `op` with an all-zero payload.
    pub const fn new(op: DmopCode) -> Self {
        let mut this = Self::ZEROED;
        this.op = op;
        this
    }
}

abi_struct! {
    #[c(name = "xen_dm_op_buf", header = "xen/hvm/dm_op.h")]
    /// `struct xen_dm_op_buf`: one buffer argument of the hypercall.
    pub struct DmOpBuf {
        /// Address of the buffer in the caller.
        pub h: GuestHandle,
        /// Its length in bytes.
        pub size: XenUlong,
    }
}

/// A DMOP the ABI defines.
#[derive(Clone, Copy, Debug)]
pub struct DmopDesc {
    /// Its number.
    pub code: DmopCode,
    /// Its name: the C macro without `XEN_DMOP_`.
    pub name: &'static str,
    /// Where Xen handles it; elsewhere it gets `EOPNOTSUPP`.
    pub arch: Arches,
    /// The struct in the payload union.
    pub payload: &'static StructLayout,
}

/// A DMOP number that no longer names an op. It stays reserved forever.
#[derive(Clone, Copy, Debug)]
pub struct RetiredDmop {
    /// The number.
    pub code: DmopCode,
    /// The name the op had.
    pub name: &'static str,
    /// ABI version of the manifest that retired it.
    pub retired_in: u32,
    /// The number that replaced it, if one did.
    pub replaced_by: Option<DmopCode>,
}

/// Every active DMOP, in number order.
pub const DMOPS: &[DmopDesc] = &[
    op(
        DmopCode::CREATE_IOREQ_SERVER,
        "create_ioreq_server",
        Arches::ALL,
        &CreateIoreqServer::LAYOUT,
    ),
    op(
        DmopCode::GET_IOREQ_SERVER_INFO,
        "get_ioreq_server_info",
        Arches::ALL,
        &GetIoreqServerInfo::LAYOUT,
    ),
    op(
        DmopCode::MAP_IO_RANGE_TO_IOREQ_SERVER,
        "map_io_range_to_ioreq_server",
        Arches::ALL,
        &IoreqServerRange::LAYOUT,
    ),
    op(
        DmopCode::UNMAP_IO_RANGE_FROM_IOREQ_SERVER,
        "unmap_io_range_from_ioreq_server",
        Arches::ALL,
        &IoreqServerRange::LAYOUT,
    ),
    op(
        DmopCode::SET_IOREQ_SERVER_STATE,
        "set_ioreq_server_state",
        Arches::ALL,
        &SetIoreqServerState::LAYOUT,
    ),
    op(
        DmopCode::DESTROY_IOREQ_SERVER,
        "destroy_ioreq_server",
        Arches::ALL,
        &DestroyIoreqServer::LAYOUT,
    ),
    op(
        DmopCode::TRACK_DIRTY_VRAM,
        "track_dirty_vram",
        Arches::X86,
        &TrackDirtyVram::LAYOUT,
    ),
    op(
        DmopCode::SET_PCI_INTX_LEVEL,
        "set_pci_intx_level",
        Arches::X86,
        &SetPciIntxLevel::LAYOUT,
    ),
    op(
        DmopCode::SET_ISA_IRQ_LEVEL,
        "set_isa_irq_level",
        Arches::X86,
        &SetIsaIrqLevel::LAYOUT,
    ),
    op(
        DmopCode::SET_PCI_LINK_ROUTE,
        "set_pci_link_route",
        Arches::X86,
        &SetPciLinkRoute::LAYOUT,
    ),
    op(
        DmopCode::MODIFIED_MEMORY,
        "modified_memory",
        Arches::X86,
        &ModifiedMemory::LAYOUT,
    ),
    op(
        DmopCode::SET_MEM_TYPE,
        "set_mem_type",
        Arches::X86,
        &SetMemType::LAYOUT,
    ),
    op(
        DmopCode::INJECT_EVENT,
        "inject_event",
        Arches::X86,
        &InjectEvent::LAYOUT,
    ),
    op(
        DmopCode::INJECT_MSI,
        "inject_msi",
        Arches::X86,
        &InjectMsi::LAYOUT,
    ),
    op(
        DmopCode::MAP_MEM_TYPE_TO_IOREQ_SERVER,
        "map_mem_type_to_ioreq_server",
        Arches::X86,
        &MapMemTypeToIoreqServer::LAYOUT,
    ),
    op(
        DmopCode::REMOTE_SHUTDOWN,
        "remote_shutdown",
        Arches::X86,
        &RemoteShutdown::LAYOUT,
    ),
    op(
        DmopCode::RELOCATE_MEMORY,
        "relocate_memory",
        Arches::X86,
        &RelocateMemory::LAYOUT,
    ),
    op(
        DmopCode::PIN_MEMORY_CACHEATTR,
        "pin_memory_cacheattr",
        Arches::X86,
        &PinMemoryCacheattr::LAYOUT,
    ),
    op(
        DmopCode::SET_IRQ_LEVEL,
        "set_irq_level",
        Arches::ARM,
        &SetIrqLevel::LAYOUT,
    ),
    op(
        DmopCode::NR_VCPUS,
        "nr_vcpus",
        Arches::ALL,
        &NrVcpus::LAYOUT,
    ),
];

/// Every retired DMOP number. None so far: Xen has only ever appended ops.
pub const RETIRED_DMOPS: &[RetiredDmop] = &[];

const fn op(
    code: DmopCode,
    name: &'static str,
    arch: Arches,
    payload: &'static StructLayout,
) -> DmopDesc {
    DmopDesc {
        code,
        name,
        arch,
        payload,
    }
}

/// The descriptor of an active op.
pub const fn dmop(code: DmopCode) -> Option<&'static DmopDesc> {
    let mut i = 0;
    while i < DMOPS.len() {
        if DMOPS[i].code.0 == code.0 {
            return Some(&DMOPS[i]);
        }
        i += 1;
    }
    None
}

/// Whether `code` is a retired number.
pub const fn is_retired(code: DmopCode) -> bool {
    let mut i = 0;
    while i < RETIRED_DMOPS.len() {
        if RETIRED_DMOPS[i].code.0 == code.0 {
            return true;
        }
        i += 1;
    }
    false
}

/// Fails compilation when a number is used twice, an active op uses a
/// retired number, a name is used twice, op 0 is assigned (it never was),
/// or a payload does not fit the union.
pub const fn check_op_tables(ops: &[DmopDesc], retired: &[RetiredDmop]) {
    let mut i = 0;
    while i < ops.len() {
        assert!(
            ops[i].code.0 != 0,
            "dmop-abi: DMOP number 0 was never assigned and must stay unassigned"
        );
        assert!(
            ops[i].payload.size <= DMOP_PAYLOAD_SIZE,
            "dmop-abi: a DMOP payload is larger than the xen_dm_op union"
        );
        let mut j = i + 1;
        while j < ops.len() {
            assert!(
                ops[i].code.0 != ops[j].code.0,
                "dmop-abi: two active DMOPs share a number"
            );
            assert!(
                !super::layout::str_eq(ops[i].name, ops[j].name),
                "dmop-abi: two active DMOPs share a name"
            );
            j += 1;
        }
        let mut r = 0;
        while r < retired.len() {
            assert!(
                ops[i].code.0 != retired[r].code.0,
                "dmop-abi: an active DMOP uses a retired number"
            );
            r += 1;
        }
        i += 1;
    }
    let mut r = 0;
    while r < retired.len() {
        let mut s = r + 1;
        while s < retired.len() {
            assert!(
                retired[r].code.0 != retired[s].code.0,
                "dmop-abi: a number is retired twice"
            );
            s += 1;
        }
        r += 1;
    }
}

const _: () = check_op_tables(DMOPS, RETIRED_DMOPS);
