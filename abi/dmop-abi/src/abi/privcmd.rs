// SPDX-License-Identifier: MIT
//! The Linux privcmd uapi (`include/uapi/xen/privcmd.h`), the device
//! `/dev/xen/privcmd` through which dom0 userspace issues hypercalls, and
//! this project's addition to it for the `privcmd-restrict` node.
//!
//! Pointers in these structs are user addresses, pointer-sized: the structs
//! are smaller on 32-bit targets and so are the encoded ioctl numbers.
//!
//! Restriction, as the C driver implements it: a new fd is unrestricted;
//! `IOCTL_PRIVCMD_RESTRICT(d)` confines it to domain `d` for good (again to
//! `d`: success; to another domain: `EINVAL`); a confined fd gets `EPERM`
//! for `HYPERCALL` and for any op on another domain. The C driver keeps
//! [`DomId::INVALID`] as its "unrestricted" marker, so restricting to it
//! succeeds and confines nothing; `privcmd-restrict` refuses it.

use super::ioctl::{ioc, IoctlDesc, IOC_NONE, IOC_WRITE};
use super::layout::{AbiZero, ConstDesc, FieldLayout, StructLayout};
use super::types::{Arm32TailPad, DomId, PtrPad, UserPtr};

abi_struct! {
    #[c(name = "privcmd_hypercall", header = "xen/privcmd.h")]
    /// `struct privcmd_hypercall`: any hypercall, by number and five arguments.
    pub struct PrivcmdHypercall {
        /// Hypercall number.
        pub op: u64,
        /// Arguments.
        pub arg: [u64; 5],
    }
}

abi_struct! {
    #[c(name = "privcmd_mmap_entry", header = "xen/privcmd.h")]
    /// `struct privcmd_mmap_entry`.
    pub struct PrivcmdMmapEntry {
        /// Virtual address in the caller.
        pub va: u64,
        /// First frame (a gfn, despite the name).
        pub mfn: u64,
        /// Number of pages.
        pub npages: u64,
    }
}

abi_struct! {
    #[c(name = "privcmd_mmap", header = "xen/privcmd.h")]
    /// `struct privcmd_mmap` (`IOCTL_PRIVCMD_MMAP`).
    pub struct PrivcmdMmap {
        /// Number of entries.
        pub num: i32,
        /// Target domain.
        pub dom: DomId,
        /// Padding C inserts before the pointer.
        pub pad0: [u8; 2] = implicit,
        /// `struct privcmd_mmap_entry *`.
        pub entry: UserPtr,
    }
}

abi_struct! {
    #[c(name = "privcmd_mmapbatch", header = "xen/privcmd.h")]
    /// `struct privcmd_mmapbatch` (`IOCTL_PRIVCMD_MMAPBATCH`, superseded by v2).
    pub struct PrivcmdMmapbatch {
        /// Number of pages.
        pub num: i32,
        /// Target domain.
        pub dom: DomId,
        /// Padding C inserts before `addr`.
        pub pad0: [u8; 2] = implicit,
        /// Virtual address of the mapping.
        pub addr: u64,
        /// `xen_pfn_t *`: frames in, error bits or'd in on failure.
        pub arr: UserPtr,
        /// Tail padding (32-bit Arm only).
        pub tail: Arm32TailPad = implicit,
    }
}

abi_struct! {
    #[c(name = "privcmd_mmapbatch_v2", header = "xen/privcmd.h")]
    /// `struct privcmd_mmapbatch_v2` (`IOCTL_PRIVCMD_MMAPBATCH_V2`).
    pub struct PrivcmdMmapbatchV2 {
        /// Number of pages.
        pub num: u32,
        /// Target domain.
        pub dom: DomId,
        /// Padding C inserts before `addr`.
        pub pad0: [u8; 2] = implicit,
        /// Virtual address of the mapping (from `mmap` of the privcmd fd).
        pub addr: u64,
        /// `const xen_pfn_t *`: the guest frames.
        pub arr: UserPtr,
        /// `int *`: per-page error codes out.
        pub err: UserPtr,
    }
}

abi_struct! {
    #[c(name = "privcmd_dm_op_buf", header = "xen/privcmd.h")]
    /// `struct privcmd_dm_op_buf`.
    pub struct PrivcmdDmOpBuf {
        /// `void *`: the buffer.
        pub uptr: UserPtr,
        /// `size_t`: its length.
        pub size: usize,
    }
}

abi_struct! {
    #[c(name = "privcmd_dm_op", header = "xen/privcmd.h")]
    /// `struct privcmd_dm_op` (`IOCTL_PRIVCMD_DM_OP`): the target domain sits
    /// here, outside the buffers, where the driver checks it.
    pub struct PrivcmdDmOp {
        /// Target domain.
        pub dom: DomId,
        /// Number of buffers.
        pub num: u16,
        /// Padding C inserts before the pointer (64-bit only).
        pub pad0: PtrPad = implicit,
        /// `const struct privcmd_dm_op_buf *`.
        pub ubufs: UserPtr,
    }
}

abi_struct! {
    #[c(name = "privcmd_mmap_resource", header = "xen/privcmd.h")]
    /// `struct privcmd_mmap_resource` (`IOCTL_PRIVCMD_MMAP_RESOURCE`).
    pub struct PrivcmdMmapResource {
        /// Target domain.
        pub dom: DomId,
        /// Padding C inserts before `type`.
        pub pad0: [u8; 2] = implicit,
        /// `XENMEM_resource_*`.
        pub r#type: u32 = "type",
        /// Type-specific id (the ioreq server id).
        pub id: u32,
        /// First frame.
        pub idx: u32,
        /// Number of frames.
        pub num: u64,
        /// Virtual address (from `mmap` of the privcmd fd), or 0 to query the size.
        pub addr: u64,
    }
}

c_enum! {
    #[c(header = "xen/privcmd.h")]
    /// Flags of [`PrivcmdIrqfd`].
    pub struct IrqfdFlags(u32) {
        /// Remove the irqfd.
        DEASSIGN = 1 => "PRIVCMD_IRQFD_FLAG_DEASSIGN",
    }
}

abi_struct! {
    #[c(name = "privcmd_irqfd", header = "xen/privcmd.h")]
    /// `struct privcmd_irqfd` (`IOCTL_PRIVCMD_IRQFD`): a DMOP the kernel
    /// issues when an eventfd fires.
    pub struct PrivcmdIrqfd {
        /// User address of the DMOP buffer.
        pub dm_op: u64,
        /// Its size.
        pub size: u32,
        /// The eventfd.
        pub fd: u32,
        /// [`IrqfdFlags`].
        pub flags: IrqfdFlags,
        /// Target domain.
        pub dom: DomId,
        /// Padding.
        pub pad: [u8; 2],
    }
}

c_enum! {
    #[c(header = "xen/privcmd.h")]
    /// Flags of [`PrivcmdIoeventfd`].
    pub struct IoeventfdFlags(u32) {
        /// Remove the ioeventfd.
        DEASSIGN = 1 => "PRIVCMD_IOEVENTFD_FLAG_DEASSIGN",
    }
}

abi_struct! {
    #[c(name = "privcmd_ioeventfd", header = "xen/privcmd.h")]
    /// `struct privcmd_ioeventfd` (`IOCTL_PRIVCMD_IOEVENTFD`): the kernel
    /// answers MMIO writes at `addr` by signalling an eventfd.
    pub struct PrivcmdIoeventfd {
        /// User address of the mapped ioreq page.
        pub ioreq: u64,
        /// User address of the per-vCPU event-channel ports.
        pub ports: u64,
        /// Guest-physical address watched.
        pub addr: u64,
        /// Access size.
        pub addr_len: u32,
        /// The eventfd.
        pub event_fd: u32,
        /// Number of vCPUs.
        pub vcpus: u32,
        /// Virtqueue index written.
        pub vq: u32,
        /// [`IoeventfdFlags`].
        pub flags: IoeventfdFlags,
        /// Target domain.
        pub dom: DomId,
        /// Padding.
        pub pad: [u8; 2],
    }
}

abi_struct! {
    #[c(name = "privcmd_pcidev_get_gsi", header = "xen/privcmd.h")]
    /// `struct privcmd_pcidev_get_gsi` (`IOCTL_PRIVCMD_PCIDEV_GET_GSI`).
    pub struct PrivcmdPcidevGetGsi {
        /// IN: the device's SBDF.
        pub sbdf: u32,
        /// OUT: its GSI.
        pub gsi: u32,
    }
}

c_consts! {
    PRIVCMD_CONSTANTS in "xen/privcmd.h" {
        /// Or'd into an `IOCTL_PRIVCMD_MMAPBATCH` frame that failed.
        pub const PRIVCMD_MMAPBATCH_MFN_ERROR: u32 = 0xf000_0000 => "PRIVCMD_MMAPBATCH_MFN_ERROR";
        /// Or'd into an `IOCTL_PRIVCMD_MMAPBATCH` frame that is paged out.
        pub const PRIVCMD_MMAPBATCH_PAGED_ERROR: u32 = 0x8000_0000 => "PRIVCMD_MMAPBATCH_PAGED_ERROR";
    }
}

ioctls! {
    PRIVCMD_IOCTLS in "xen/privcmd.h" {
        /// Any hypercall. Refused on a restricted fd, and always on `privcmd-restrict`.
        pub const IOCTL_PRIVCMD_HYPERCALL = none(b'P', 0, PrivcmdHypercall => "struct privcmd_hypercall");
        /// Maps foreign frames (legacy).
        pub const IOCTL_PRIVCMD_MMAP = none(b'P', 2, PrivcmdMmap => "struct privcmd_mmap");
        /// Maps foreign frames in a batch (legacy).
        pub const IOCTL_PRIVCMD_MMAPBATCH = none(b'P', 3, PrivcmdMmapbatch => "struct privcmd_mmapbatch");
        /// Maps foreign frames in a batch, with per-page errors.
        pub const IOCTL_PRIVCMD_MMAPBATCH_V2 = none(b'P', 4, PrivcmdMmapbatchV2 => "struct privcmd_mmapbatch_v2");
        /// Issues `dm_op` on the domain in the struct.
        pub const IOCTL_PRIVCMD_DM_OP = none(b'P', 5, PrivcmdDmOp => "struct privcmd_dm_op");
        /// Confines the fd to one domain, for good. The argument is a `domid_t`.
        pub const IOCTL_PRIVCMD_RESTRICT = none(b'P', 6, DomId => "domid_t");
        /// Maps a domain's resource frames (`XENMEM_acquire_resource`).
        pub const IOCTL_PRIVCMD_MMAP_RESOURCE = none(b'P', 7, PrivcmdMmapResource => "struct privcmd_mmap_resource");
        /// Binds an eventfd to a DMOP.
        pub const IOCTL_PRIVCMD_IRQFD = write(b'P', 8, PrivcmdIrqfd => "struct privcmd_irqfd");
        /// Binds an eventfd to MMIO writes.
        pub const IOCTL_PRIVCMD_IOEVENTFD = write(b'P', 9, PrivcmdIoeventfd => "struct privcmd_ioeventfd");
        /// Reads a PCI device's GSI.
        pub const IOCTL_PRIVCMD_PCIDEV_GET_GSI = none(b'P', 10, PrivcmdPcidevGetGsi => "struct privcmd_pcidev_get_gsi");
    }
}

c_enum! {
    #[c(header = "dmop-abi")]
    /// Flags of [`PrivcmdIoeventfd`] that are this project's own, beside
    /// upstream's [`IoeventfdFlags::DEASSIGN`] (Linux refuses them with
    /// `EINVAL`, so a caller can tell the nodes apart). Without them an
    /// ioeventfd matches upstream's rule: a write of `addr_len` bytes at
    /// `addr` + 0x50 (virtio-mmio's QueueNotify) whose low 16 bits are `vq`.
    pub struct IoeventfdExtFlags(u32) {
        /// Match writes at `addr` itself (any register: a virtio-pci notify
        /// address), of any value unless [`DATAMATCH`](Self::DATAMATCH).
        ADDR = 2 => "PRIVCMD_IOEVENTFD_FLAG_ADDR",
        /// With [`ADDR`](Self::ADDR): only a write of exactly `vq`
        /// (zero-extended to `addr_len` bytes) matches.
        DATAMATCH = 4 => "PRIVCMD_IOEVENTFD_FLAG_DATAMATCH",
    }
}

c_enum! {
    #[c(header = "dmop-abi")]
    /// Flags of [`PrivcmdRestrictUid`]. This project's own, not upstream's.
    pub struct RestrictUidFlags(u16) {
        /// Remove the binding of `uid` instead of adding one.
        UNBIND = 1 => "PRIVCMD_RESTRICT_UID_UNBIND",
    }
}

abi_struct! {
    #[c(name = "privcmd_restrict_uid", header = "dmop-abi")]
    /// Argument of [`IOCTL_PRIVCMD_RESTRICT_UID`]: this project's own.
    pub struct PrivcmdRestrictUid {
        /// The user id whose opens of the node are confined.
        pub uid: u32,
        /// The domain they are confined to.
        pub domid: DomId,
        /// [`RestrictUidFlags`].
        pub flags: RestrictUidFlags,
    }
}

ioctls! {
    PROJECT_IOCTLS in "dmop-abi" {
        /// `privcmd-restrict` only: binds (or with
        /// [`RestrictUidFlags::UNBIND`] unbinds) a uid to a domain, so that
        /// every open of the node by that uid returns an fd already
        /// restricted to it (restrict-at-open). Needs `CAP_SYS_ADMIN` and an
        /// unrestricted fd. Number 0xe0 lies far outside upstream's range
        /// (0 to 10 as of Linux 6.12), which grows from 0.
        pub const IOCTL_PRIVCMD_RESTRICT_UID = write(b'P', 0xe0, PrivcmdRestrictUid => "struct privcmd_restrict_uid");
    }
}

/// Upstream privcmd ioctl numbers are assigned from 0 up; ours must stay
/// clear of them.
const _: () = assert!(
    super::ioctl::ioc_nr(IOCTL_PRIVCMD_RESTRICT_UID) >= 0x80,
    "project ioctls live at 0x80 and above"
);
