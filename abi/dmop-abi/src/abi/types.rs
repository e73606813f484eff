// SPDX-License-Identifier: MIT
//! Ids and scalar types shared by every part of the ABI (`xen/xen.h`,
//! `xen/event_channel.h`, `xen/hvm/dm_op.h`).

use super::layout::{AbiZero, ConstDesc};

c_enum! {
    #[c(header = "xen/xen.h")]
    /// A domain id (`domid_t`). Ordinary domains are below
    /// [`DomId::FIRST_RESERVED`]; the values from there up name pseudo-domains.
    pub struct DomId(u16) {
        /// The calling domain itself.
        SELF = 0x7ff0 => "DOMID_SELF",
        /// First id that cannot name an ordinary domain (equal to `SELF`).
        FIRST_RESERVED = 0x7ff0 => "DOMID_FIRST_RESERVED",
        /// Restricts page-table updates to I/O memory.
        IO = 0x7ff1 => "DOMID_IO",
        /// Xen's own heap.
        XEN = 0x7ff2 => "DOMID_XEN",
        /// Owner of shared copy-on-write pages.
        COW = 0x7ff3 => "DOMID_COW",
        /// No domain. Linux's privcmd also uses it for "not restricted", so
        /// restricting to it restricts nothing (see the privcmd module).
        INVALID = 0x7ff4 => "DOMID_INVALID",
        /// The idle domain.
        IDLE = 0x7fff => "DOMID_IDLE",
    }
}

impl DomId {
    /// Whether this id can name an ordinary domain (dom0 included).
    pub const fn is_ordinary(self) -> bool {
        self.0 < Self::FIRST_RESERVED.0
    }

    /// Whether this id can name a guest: an ordinary domain other than
    /// dom0 (what a device model serves, and what privcmd-restrict binds
    /// and maps).
    pub const fn is_guest(self) -> bool {
        self.is_ordinary() && self.0 != 0
    }
}

c_enum! {
    #[c(header = "xen/hvm/dm_op.h")]
    /// An ioreq server id (`ioservid_t`), chosen by Xen at creation.
    pub struct IoservId(u16) {}
}

c_enum! {
    #[c(header = "xen/event_channel.h")]
    /// An event-channel port (`evtchn_port_t`).
    pub struct EvtchnPort(u32) {}
}

/// `xen_ulong_t`: `unsigned long` on x86, 64 bits on Arm (both widths).
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
pub type XenUlong = core::ffi::c_ulong;
/// `xen_ulong_t`: `unsigned long` on x86, 64 bits on Arm (both widths).
#[cfg(any(target_arch = "arm", target_arch = "aarch64"))]
pub type XenUlong = u64;

/// `xen_pfn_t`: a frame number; `unsigned long` on x86, 64 bits on Arm.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
pub type XenPfn = core::ffi::c_ulong;
/// `xen_pfn_t`: a frame number; `unsigned long` on x86, 64 bits on Arm.
#[cfg(any(target_arch = "arm", target_arch = "aarch64"))]
pub type XenPfn = u64;

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
type HandleRepr = usize;
#[cfg(any(target_arch = "arm", target_arch = "aarch64"))]
type HandleRepr = u64;

/// A Xen guest handle (`XEN_GUEST_HANDLE(T)`): an address in the caller's
/// address space. It is pointer-sized on x86 and always 64 bits on Arm,
/// where the header wraps the pointer in a union with a `uint64_t`.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "zerocopy",
    derive(
        zerocopy::FromBytes,
        zerocopy::IntoBytes,
        zerocopy::KnownLayout,
        zerocopy::Immutable
    )
)]
pub struct GuestHandle(pub HandleRepr);

impl GuestHandle {
    /// The handle of an address.
    pub fn from_addr(addr: usize) -> Self {
        Self(addr as HandleRepr)
    }

    /// The address this handle holds.
    #[allow(clippy::unnecessary_cast)] // u64 on Arm, usize on x86
    pub const fn addr(self) -> usize {
        self.0 as usize
    }
}

impl AbiZero for GuestHandle {
    const ZERO: Self = Self(0);
}

impl core::fmt::Debug for GuestHandle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "GuestHandle({:#x})", self.0)
    }
}

/// A pointer into the user address space of the calling process, as the
/// privcmd uapi structs carry them (`void __user *`): pointer-sized.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "zerocopy",
    derive(
        zerocopy::FromBytes,
        zerocopy::IntoBytes,
        zerocopy::KnownLayout,
        zerocopy::Immutable
    )
)]
pub struct UserPtr(pub usize);

impl UserPtr {
    /// The null pointer.
    pub const NULL: Self = Self(0);

    /// The address of a pointer.
    pub fn from_ptr<T>(p: *const T) -> Self {
        Self(p as usize)
    }

    /// The address this pointer holds.
    pub const fn addr(self) -> usize {
        self.0
    }
}

impl AbiZero for UserPtr {
    const ZERO: Self = Self(0);
}

impl core::fmt::Debug for UserPtr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "UserPtr({:#x})", self.0)
    }
}

/// Padding that exists only where pointers are 64 bits wide: `[u8; 4]` on
/// 64-bit targets, `[u8; 0]` on 32-bit ones (a `u16`/`u32` pair followed by
/// a pointer needs no padding there).
pub type PtrPad = [u8; core::mem::size_of::<usize>() - 4];

/// Tail padding that exists only on 32-bit Arm, where a `__u64` member makes
/// a struct 8-aligned but the last member is a 4-byte pointer.
#[cfg(target_arch = "arm")]
pub type Arm32TailPad = [u8; 4];
/// Tail padding that exists only on 32-bit Arm, where a `__u64` member makes
/// a struct 8-aligned but the last member is a 4-byte pointer.
#[cfg(not(target_arch = "arm"))]
pub type Arm32TailPad = [u8; 0];

/// Sizes of the scalar typedefs, checked against the headers like any constant.
pub const TYPE_SIZES: &[ConstDesc] = &[
    ConstDesc {
        name: "sizeof(domid_t)",
        header: "xen/xen.h",
        value: core::mem::size_of::<DomId>() as u64,
    },
    ConstDesc {
        name: "sizeof(ioservid_t)",
        header: "xen/hvm/dm_op.h",
        value: core::mem::size_of::<IoservId>() as u64,
    },
    ConstDesc {
        name: "sizeof(evtchn_port_t)",
        header: "xen/event_channel.h",
        value: core::mem::size_of::<EvtchnPort>() as u64,
    },
    ConstDesc {
        name: "sizeof(xen_ulong_t)",
        header: "xen/xen.h",
        value: core::mem::size_of::<XenUlong>() as u64,
    },
    ConstDesc {
        name: "sizeof(xen_pfn_t)",
        header: "xen/xen.h",
        value: core::mem::size_of::<XenPfn>() as u64,
    },
];
