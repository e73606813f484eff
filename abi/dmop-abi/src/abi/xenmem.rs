// SPDX-License-Identifier: MIT
//! Hypercall numbers and the resource-mapping call a device model needs
//! beyond the DMOPs (`xen/xen.h`, `xen/memory.h`).

use super::layout::{AbiZero, ConstDesc, FieldLayout, StructLayout};
use super::types::{DomId, GuestHandle};

c_consts! {
    HYPERCALL_CONSTANTS in "xen/xen.h" {
        /// `__HYPERVISOR_memory_op`.
        pub const HYPERVISOR_MEMORY_OP: u32 = 12 => "__HYPERVISOR_memory_op";
        /// `__HYPERVISOR_dm_op`: `dm_op(domid_t, unsigned int nr_bufs, xen_dm_op_buf_t *bufs)`.
        pub const HYPERVISOR_DM_OP: u32 = 41 => "__HYPERVISOR_dm_op";
    }
}

c_consts! {
    MEMORY_CONSTANTS in "xen/memory.h" {
        /// `XENMEM_acquire_resource`: maps a domain's resource frames.
        pub const XENMEM_ACQUIRE_RESOURCE: u32 = 28 => "XENMEM_acquire_resource";
        /// Frame of an ioreq server resource that holds the buffered page.
        pub const XENMEM_RESOURCE_IOREQ_SERVER_FRAME_BUFIOREQ: u64 = 0 => "XENMEM_resource_ioreq_server_frame_bufioreq";
    }
}

c_enum! {
    #[c(header = "xen/memory.h")]
    /// A resource type of [`XenMemAcquireResource`] (`XENMEM_resource_*`).
    pub struct ResourceType(u16) {
        /// An ioreq server's pages; `id` is the server id.
        IOREQ_SERVER = 0 => "XENMEM_resource_ioreq_server",
        /// Grant-table frames.
        GRANT_TABLE = 1 => "XENMEM_resource_grant_table",
        /// A vCPU's processor-trace buffer.
        VMTRACE_BUF = 2 => "XENMEM_resource_vmtrace_buf",
    }
}

/// Frame of an ioreq server resource that holds synchronous page `n`
/// (`XENMEM_resource_ioreq_server_frame_ioreq(n)`).
pub const fn ioreq_server_frame_ioreq(n: u64) -> u64 {
    1 + n
}

/// The C macro calls that must give the same values as [`ioreq_server_frame_ioreq`].
pub const FRAME_CHECKS: &[ConstDesc] = &[
    ConstDesc {
        name: "XENMEM_resource_ioreq_server_frame_ioreq(0)",
        header: "xen/memory.h",
        value: ioreq_server_frame_ioreq(0),
    },
    ConstDesc {
        name: "XENMEM_resource_ioreq_server_frame_ioreq(7)",
        header: "xen/memory.h",
        value: ioreq_server_frame_ioreq(7),
    },
];

abi_struct! {
    #[c(name = "xen_mem_acquire_resource", header = "xen/memory.h")]
    /// `struct xen_mem_acquire_resource`, the argument of
    /// `memory_op(XENMEM_acquire_resource)`. A PV caller (dom0) gets the MFNs
    /// written to `frame_list`.
    pub struct XenMemAcquireResource {
        /// IN: the domain whose resource is mapped.
        pub domid: DomId,
        /// IN: the resource type.
        pub r#type: ResourceType = "type",
        /// IN: type-specific id (the ioreq server id).
        pub id: u32,
        /// IN/OUT: number of frames; 0 with a null list asks for the size.
        pub nr_frames: u32,
        /// Must be zero.
        pub pad: u32,
        /// IN: first frame.
        pub frame: u64,
        /// IN/OUT: the frame list.
        pub frame_list: GuestHandle,
    }
}
