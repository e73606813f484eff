// SPDX-License-Identifier: MIT
//! The HVM domain builder's table of a guest's memory map
//! (`xen/hvm/hvm_info_table.h`): the toolstack writes it into guest memory
//! before the guest runs, and firmware (hvmloader) reads it. A device model
//! that maps guest RAM reads it to learn where RAM is, at attach time, while
//! the guest is still paused.

use super::layout::{AbiZero, ConstDesc, FieldLayout, StructLayout};

c_consts! {
    HVM_INFO_CONSTANTS in "xen/hvm/hvm_info_table.h" {
        /// The guest frame that holds the table.
        pub const HVM_INFO_PFN: u64 = 0x9f => "HVM_INFO_PFN";
        /// The table's offset in that frame.
        pub const HVM_INFO_OFFSET: u64 = 0x800 => "HVM_INFO_OFFSET";
        /// The table's guest-physical address.
        pub const HVM_INFO_PADDR: u64 = 0x9f800 => "HVM_INFO_PADDR";
        /// vCPUs the table's `vcpu_online` bitmap covers.
        pub const HVM_MAX_VCPUS: usize = 128 => "HVM_MAX_VCPUS";
    }
}

/// The table's signature.
pub const HVM_INFO_SIGNATURE: [u8; 8] = *b"HVM INFO";

abi_struct! {
    #[c(name = "hvm_info_table", header = "xen/hvm/hvm_info_table.h")]
    /// `struct hvm_info_table`: RAM is `[0, low_mem_pgend)` pages (less the
    /// VGA hole 0xa0000-0xbffff) and `[4 GiB, high_mem_pgend)`; frames from
    /// `reserved_mem_pgstart` to 4 GiB are Xen's special pages. A zero field
    /// means the range does not exist. The bytes of the first `length`
    /// bytes sum to zero (mod 256).
    pub struct HvmInfoTable {
        /// `"HVM INFO"`.
        pub signature: [u8; 8],
        /// Bytes of the table covered by the checksum.
        pub length: u32,
        /// Makes the bytes sum to zero.
        pub checksum: u8,
        /// Whether firmware should describe APICs.
        pub apic_mode: u8,
        /// Padding C inserts before `nr_vcpus`.
        pub pad0: [u8; 2] = implicit,
        /// vCPUs of the domain.
        pub nr_vcpus: u32,
        /// End (exclusive frame) of RAM below 4 GiB.
        pub low_mem_pgend: u32,
        /// First frame reserved for special mappings below 4 GiB.
        pub reserved_mem_pgstart: u32,
        /// End (exclusive frame) of RAM above 4 GiB, or 0.
        pub high_mem_pgend: u32,
        /// vCPUs online at boot, one bit each.
        pub vcpu_online: [u8; HVM_MAX_VCPUS / 8],
    }
}
