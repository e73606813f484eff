// SPDX-License-Identifier: MIT
//! The ioreq pages shared by Xen and an ioreq server (`xen/hvm/ioreq.h`).
//!
//! The synchronous page holds one [`Ioreq`] per vCPU. Its `state` moves
//! `NONE -> READY` (Xen, then a notification on `vp_eport`),
//! `READY -> INPROCESS` (the device model, after a read barrier),
//! `INPROCESS -> IORESP_READY` (the device model, after a write barrier,
//! then a notification) and back to `NONE` (Xen). The buffered page is a
//! ring of [`BufIoreq`] for writes that need no answer.

use super::layout::{
    bitfield_get, bitfield_set, AbiZero, BitLayout, ConstDesc, FieldLayout, StructLayout,
};
use super::types::EvtchnPort;

c_enum! {
    #[c(header = "xen/hvm/ioreq.h")]
    /// Where an [`Ioreq`] is in its life (`STATE_IOREQ_*`, `STATE_IORESP_*`).
    pub struct IoreqState(u8) {
        /// The slot is free.
        NONE = 0 => "STATE_IOREQ_NONE",
        /// Xen has filled the slot for the device model.
        READY = 1 => "STATE_IOREQ_READY",
        /// The device model is handling it.
        INPROCESS = 2 => "STATE_IOREQ_INPROCESS",
        /// The device model has answered.
        IORESP_READY = 3 => "STATE_IORESP_READY",
    }
}

c_enum! {
    #[c(header = "xen/hvm/ioreq.h")]
    /// What an ioreq asks for (`IOREQ_TYPE_*`).
    pub struct IoreqType(u8) {
        /// Port I/O.
        PIO = 0 => "IOREQ_TYPE_PIO",
        /// MMIO.
        COPY = 1 => "IOREQ_TYPE_COPY",
        /// PCI config space; `addr` holds the SBDF in bits 32-63 and the register offset below.
        PCI_CONFIG = 2 => "IOREQ_TYPE_PCI_CONFIG",
        /// The guest changed its RTC offset.
        TIMEOFFSET = 7 => "IOREQ_TYPE_TIMEOFFSET",
        /// Invalidate the device model's map cache.
        INVALIDATE = 8 => "IOREQ_TYPE_INVALIDATE",
    }
}

c_enum! {
    #[c(header = "xen/hvm/ioreq.h")]
    /// Direction of an ioreq (`IOREQ_READ`, `IOREQ_WRITE`).
    pub struct IoreqDir(u8) {
        /// The guest writes.
        WRITE = 0 => "IOREQ_WRITE",
        /// The guest reads: the device model fills `data`.
        READ = 1 => "IOREQ_READ",
    }
}

abi_struct! {
    #[c(name = "ioreq", header = "xen/hvm/ioreq.h")]
    /// `ioreq_t`: one synchronous request, in the vCPU's slot of the shared page.
    pub struct Ioreq {
        /// Guest-physical address, port, or PCI SBDF and register.
        pub addr: u64,
        /// The data, or the guest-physical address of it when `data_is_ptr`.
        pub data: u64,
        /// Repetitions (`rep` prefixes).
        pub count: u32,
        /// Bytes per repetition.
        pub size: u32,
        /// Event channel Xen and the device model notify each other on.
        pub vp_eport: EvtchnPort,
        /// Padding.
        pub _pad0: u16,
        /// Storage of the bit fields `state`, `data_is_ptr`, `dir`, `df`, `_pad1`.
        pub bits: u8 = implicit,
        /// What is requested.
        pub r#type: IoreqType = "type",
    }
    bits {
        /// `state` (4 bits): an [`IoreqState`] value.
        "state" => state_raw / set_state_raw: u8 = bits[0..4],
        /// `data_is_ptr` (1 bit): `data` is a guest-physical address.
        "data_is_ptr" => data_is_ptr_raw / set_data_is_ptr_raw: u8 = bits[4..5],
        /// `dir` (1 bit): an [`IoreqDir`] value.
        "dir" => dir_raw / set_dir_raw: u8 = bits[5..6],
        /// `df` (1 bit): the direction flag; repetitions walk down.
        "df" => df_raw / set_df_raw: u8 = bits[6..7],
        /// `_pad1` (1 bit).
        "_pad1" => pad1_raw / set_pad1_raw: u8 = bits[7..8],
    }
}

impl Ioreq {
    /// The request state.
    pub fn state(&self) -> IoreqState {
        IoreqState(self.state_raw())
    }
    /// Sets the request state.
    pub fn set_state(&mut self, s: IoreqState) {
        self.set_state_raw(s.0)
    }
    /// Whether `data` is the guest-physical address of the data.
    pub fn data_is_ptr(&self) -> bool {
        self.data_is_ptr_raw() != 0
    }
    /// Sets `data_is_ptr`.
    pub fn set_data_is_ptr(&mut self, v: bool) {
        self.set_data_is_ptr_raw(v as u8)
    }
    /// The direction.
    pub fn dir(&self) -> IoreqDir {
        IoreqDir(self.dir_raw())
    }
    /// Sets the direction.
    pub fn set_dir(&mut self, d: IoreqDir) {
        self.set_dir_raw(d.0)
    }
    /// Whether repetitions walk down (the direction flag).
    pub fn df(&self) -> bool {
        self.df_raw() != 0
    }
    /// Sets the direction flag.
    pub fn set_df(&mut self, v: bool) {
        self.set_df_raw(v as u8)
    }
}

abi_struct! {
    #[c(name = "shared_iopage", header = "xen/hvm/ioreq.h")]
    /// `shared_iopage_t`: the synchronous page. Its C definition has one slot;
    /// the page holds one [`Ioreq`] per vCPU, `vcpu_ioreq[vcpu]`.
    pub struct SharedIopage {
        /// The slots, indexed by vCPU.
        pub vcpu_ioreq: [Ioreq; 1],
    }
}

abi_struct! {
    #[c(name = "buf_ioreq", header = "xen/hvm/ioreq.h")]
    /// `buf_ioreq_t`: one buffered write. An 8-byte write takes two slots,
    /// the second holding the high 32 bits in `data`.
    pub struct BufIoreq {
        /// What is requested ([`IoreqType::PIO`] or [`IoreqType::COPY`]).
        pub r#type: IoreqType = "type",
        /// Storage of the bit fields `pad`, `dir`, `size` and `addr`.
        pub bits: [u8; 3] = implicit,
        /// The data (low 32 bits).
        pub data: u32,
    }
    bits {
        /// `pad` (1 bit).
        "pad" => pad_raw / set_pad_raw: u8 = bits[0..1],
        /// `dir` (1 bit): an [`IoreqDir`] value.
        "dir" => dir_raw / set_dir_raw: u8 = bits[1..2],
        /// `size` (2 bits): log2 of the access size.
        "size" => size_log2 / set_size_log2: u8 = bits[2..4],
        /// `addr` (20 bits): the port or the low 20 bits of the address.
        "addr" => addr / set_addr: u32 = bits[4..24],
    }
}

impl BufIoreq {
    /// The direction.
    pub fn dir(&self) -> IoreqDir {
        IoreqDir(self.dir_raw())
    }
    /// Access size in bytes (1, 2, 4 or 8).
    pub fn size_bytes(&self) -> u32 {
        1 << self.size_log2()
    }
}

c_consts! {
    IOREQ_CONSTANTS in "xen/hvm/ioreq.h" {
        /// Slots of the buffered ring.
        pub const IOREQ_BUFFER_SLOT_NUM: usize = 511 => "IOREQ_BUFFER_SLOT_NUM";
    }
}

abi_struct! {
    #[c(name = "buffered_iopage", header = "xen/hvm/ioreq.h")]
    /// `buffered_iopage_t`: the buffered ring. Xen advances `write_pointer`;
    /// the device model consumes slots `read_pointer % IOREQ_BUFFER_SLOT_NUM`
    /// and advances `read_pointer`.
    pub struct BufferedIopage {
        /// Next slot the device model reads (free-running).
        pub read_pointer: u32,
        /// Next slot Xen writes (free-running).
        pub write_pointer: u32,
        /// The ring.
        pub buf_ioreq: [BufIoreq; IOREQ_BUFFER_SLOT_NUM],
    }
}

const _: () = assert!(
    core::mem::size_of::<BufferedIopage>() <= 4096,
    "the buffered page must fit one page"
);
