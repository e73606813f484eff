// SPDX-License-Identifier: MIT
//! The frozen device-model ABI, in plain `core` Rust.
//!
//! This directory is the single source of the ABI for every part of the
//! project. It depends on nothing but `core`, so that the `privcmd-restrict`
//! kernel module includes these very files (`#[path = ...] mod dmop_abi;`)
//! instead of a copy. The zerocopy derives exist only when the `dmop-abi`
//! crate is built with its `zerocopy` feature; every layout assertion is
//! plain `const` code and runs in every build, the kernel's included.
#![allow(unexpected_cfgs, unreachable_pub, dead_code)]

#[macro_use]
mod macros;
#[macro_use]
pub mod ioctl;

pub mod layout;

pub mod dmop;
pub mod evtchn;
pub mod hvm;
pub mod ioreq;
pub mod privcmd;
pub mod types;
pub mod xenmem;
pub mod xs_wire;

mod frozen;

#[cfg(not(any(
    target_arch = "x86",
    target_arch = "x86_64",
    target_arch = "arm",
    target_arch = "aarch64"
)))]
compile_error!("Xen's device-model ABI is defined for x86 and Arm only");

/// Every table of the ABI, for the freeze machinery and the header checker.
pub mod registry {
    use super::dmop::*;
    use super::evtchn::*;
    use super::hvm::*;
    use super::ioctl::IoctlDesc;
    use super::ioreq::*;
    use super::layout::{ConstDesc, StructLayout};
    use super::privcmd::*;
    use super::types::*;
    use super::xenmem::*;
    use super::xs_wire::*;

    /// Version of the frozen ABI these definitions implement: the
    /// `abi_version` of `abi/frozen.toml` they were frozen as.
    pub const ABI_VERSION: u32 = super::frozen::ABI_VERSION;

    /// Every ABI struct.
    pub const STRUCTS: &[&StructLayout] = &[
        &XenDmOp::LAYOUT,
        &DmOpBuf::LAYOUT,
        &CreateIoreqServer::LAYOUT,
        &GetIoreqServerInfo::LAYOUT,
        &IoreqServerRange::LAYOUT,
        &SetIoreqServerState::LAYOUT,
        &DestroyIoreqServer::LAYOUT,
        &TrackDirtyVram::LAYOUT,
        &SetPciIntxLevel::LAYOUT,
        &SetIsaIrqLevel::LAYOUT,
        &SetPciLinkRoute::LAYOUT,
        &ModifiedMemory::LAYOUT,
        &ModifiedMemoryExtent::LAYOUT,
        &SetMemType::LAYOUT,
        &InjectEvent::LAYOUT,
        &InjectMsi::LAYOUT,
        &MapMemTypeToIoreqServer::LAYOUT,
        &RemoteShutdown::LAYOUT,
        &RelocateMemory::LAYOUT,
        &PinMemoryCacheattr::LAYOUT,
        &SetIrqLevel::LAYOUT,
        &NrVcpus::LAYOUT,
        &Ioreq::LAYOUT,
        &SharedIopage::LAYOUT,
        &BufIoreq::LAYOUT,
        &BufferedIopage::LAYOUT,
        &XenMemAcquireResource::LAYOUT,
        &PrivcmdHypercall::LAYOUT,
        &PrivcmdMmapEntry::LAYOUT,
        &PrivcmdMmap::LAYOUT,
        &PrivcmdMmapbatch::LAYOUT,
        &PrivcmdMmapbatchV2::LAYOUT,
        &PrivcmdDmOpBuf::LAYOUT,
        &PrivcmdDmOp::LAYOUT,
        &PrivcmdMmapResource::LAYOUT,
        &PrivcmdIrqfd::LAYOUT,
        &PrivcmdIoeventfd::LAYOUT,
        &PrivcmdPcidevGetGsi::LAYOUT,
        &PrivcmdRestrictUid::LAYOUT,
        &EvtchnBindVirq::LAYOUT,
        &EvtchnBindInterdomain::LAYOUT,
        &EvtchnBindUnboundPort::LAYOUT,
        &EvtchnUnbind::LAYOUT,
        &EvtchnNotify::LAYOUT,
        &EvtchnRestrictDomid::LAYOUT,
        &XsdSockmsg::LAYOUT,
        &HvmInfoTable::LAYOUT,
    ];

    /// Every named constant except the DMOP numbers (those are [`DMOPS`]).
    pub const CONSTANT_TABLES: &[&[ConstDesc]] = &[
        TYPE_SIZES,
        DomId::C_CONSTANTS,
        HYPERCALL_CONSTANTS,
        BufioreqMode::C_CONSTANTS,
        IoreqServerInfoFlags::C_CONSTANTS,
        IoRangeType::C_CONSTANTS,
        SBDF_CHECKS,
        EventType::C_CONSTANTS,
        MemAccessFlags::C_CONSTANTS,
        CacheAttr::C_CONSTANTS,
        HvmMemType::C_CONSTANTS,
        ShutdownReason::C_CONSTANTS,
        IoreqState::C_CONSTANTS,
        IoreqType::C_CONSTANTS,
        IoreqDir::C_CONSTANTS,
        IOREQ_CONSTANTS,
        MEMORY_CONSTANTS,
        ResourceType::C_CONSTANTS,
        FRAME_CHECKS,
        PRIVCMD_CONSTANTS,
        IrqfdFlags::C_CONSTANTS,
        IoeventfdFlags::C_CONSTANTS,
        RestrictUidFlags::C_CONSTANTS,
        IoeventfdExtFlags::C_CONSTANTS,
        XsMsgType::C_CONSTANTS,
        XS_WIRE_CONSTANTS,
        XS_PROJECT_CONSTANTS,
        HVM_INFO_CONSTANTS,
    ];

    /// Every ioctl.
    pub const IOCTL_TABLES: &[&[IoctlDesc]] = &[PRIVCMD_IOCTLS, EVTCHN_IOCTLS, PROJECT_IOCTLS];

    /// The struct with this C name.
    pub const fn struct_layout(name: &str) -> Option<&'static StructLayout> {
        let mut i = 0;
        while i < STRUCTS.len() {
            if super::layout::str_eq(STRUCTS[i].name, name) {
                return Some(STRUCTS[i]);
            }
            i += 1;
        }
        None
    }

    /// The constant with this C expression.
    pub const fn constant(name: &str) -> Option<&'static ConstDesc> {
        let mut t = 0;
        while t < CONSTANT_TABLES.len() {
            let table = CONSTANT_TABLES[t];
            let mut i = 0;
            while i < table.len() {
                if super::layout::str_eq(table[i].name, name) {
                    return Some(&table[i]);
                }
                i += 1;
            }
            t += 1;
        }
        None
    }

    /// The ioctl with this C name.
    pub const fn ioctl(name: &str) -> Option<&'static IoctlDesc> {
        let mut t = 0;
        while t < IOCTL_TABLES.len() {
            let table = IOCTL_TABLES[t];
            let mut i = 0;
            while i < table.len() {
                if super::layout::str_eq(table[i].name, name) {
                    return Some(&table[i]);
                }
                i += 1;
            }
            t += 1;
        }
        None
    }

    const fn check_unique_names() {
        let mut i = 0;
        while i < STRUCTS.len() {
            let mut j = i + 1;
            while j < STRUCTS.len() {
                assert!(
                    !super::layout::str_eq(STRUCTS[i].name, STRUCTS[j].name),
                    "dmop-abi: two structs share a C name"
                );
                j += 1;
            }
            i += 1;
        }
    }
    const _: () = check_unique_names();

    /// Number of values [`flatten`] produces. The order and count of the
    /// tables do not depend on the target, only the values do.
    pub const FLAT_LEN: usize = flat_len();

    const fn flat_len() -> usize {
        let mut n = 0;
        let mut i = 0;
        while i < STRUCTS.len() {
            n += 2 + 2 * STRUCTS[i].fields.len() + 2 * STRUCTS[i].bits.len();
            i += 1;
        }
        let mut t = 0;
        while t < CONSTANT_TABLES.len() {
            n += CONSTANT_TABLES[t].len();
            t += 1;
        }
        t = 0;
        while t < IOCTL_TABLES.len() {
            n += 2 * IOCTL_TABLES[t].len();
            t += 1;
        }
        n + DMOPS.len()
    }

    /// Every number of the tables, in table order: for each struct its size,
    /// alignment, each field's offset and size and each bit field's offset
    /// and width; each constant; each ioctl's size and value; each DMOP
    /// number. Compiled for another target and read out of the object, this
    /// is how the layouts of that target are derived from this code.
    pub const fn flatten() -> [u64; FLAT_LEN] {
        let mut out = [0u64; FLAT_LEN];
        let mut n = 0;
        let mut i = 0;
        while i < STRUCTS.len() {
            let s = STRUCTS[i];
            out[n] = s.size as u64;
            out[n + 1] = s.align as u64;
            n += 2;
            let mut f = 0;
            while f < s.fields.len() {
                out[n] = s.fields[f].offset as u64;
                out[n + 1] = s.fields[f].size as u64;
                n += 2;
                f += 1;
            }
            let mut b = 0;
            while b < s.bits.len() {
                out[n] = s.bits[b].bit_offset as u64;
                out[n + 1] = s.bits[b].width as u64;
                n += 2;
                b += 1;
            }
            i += 1;
        }
        let mut t = 0;
        while t < CONSTANT_TABLES.len() {
            let mut c = 0;
            while c < CONSTANT_TABLES[t].len() {
                out[n] = CONSTANT_TABLES[t][c].value;
                n += 1;
                c += 1;
            }
            t += 1;
        }
        t = 0;
        while t < IOCTL_TABLES.len() {
            let mut c = 0;
            while c < IOCTL_TABLES[t].len() {
                out[n] = IOCTL_TABLES[t][c].size as u64;
                out[n + 1] = IOCTL_TABLES[t][c].value as u64;
                n += 2;
                c += 1;
            }
            t += 1;
        }
        let mut d = 0;
        while d < DMOPS.len() {
            out[n] = DMOPS[d].code.0 as u64;
            n += 1;
            d += 1;
        }
        assert!(n == FLAT_LEN);
        out
    }
}
