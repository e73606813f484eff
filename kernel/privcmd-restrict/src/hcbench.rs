// SPDX-License-Identifier: GPL-2.0
//! The Rust half of `privcmd_restrict_hcbench.ko`, a test-only module for
//! the benchmarks (the benchmark image loads it; nothing ships it): it
//! builds, from dmop-abi, the DM_OP that `bench-privcmd` makes through both
//! drivers, so that `c/hcbench.c` can time the bare hypercall on it.
// The crate compiles the whole ABI and uses a little of it.
#![allow(dead_code)]

#[path = "dmop_abi/mod.rs"]
mod dmop_abi;

use dmop_abi::dmop::{DmopCode, TrackDirtyVram, XenDmOp};

/// The size of buffer 0 (`struct xen_dm_op`).
#[no_mangle]
pub extern "C" fn prm_hcbench_op_size() -> usize {
    core::mem::size_of::<XenDmOp>()
}

/// Writes the benchmark's op at `op`: `nr_vcpus` for `pages` 0, else
/// `track_dirty_vram` of `pages` pages from pfn 0x100 (bench-privcmd's).
///
/// # Safety
///
/// `op` points at [`prm_hcbench_op_size`] writable bytes, 8-aligned.
#[no_mangle]
pub unsafe extern "C" fn prm_hcbench_op(op: *mut XenDmOp, pages: u32) {
    let mut o = XenDmOp::new(if pages == 0 {
        DmopCode::NR_VCPUS
    } else {
        DmopCode::TRACK_DIRTY_VRAM
    });
    if pages > 0 {
        let t = TrackDirtyVram {
            nr: pages,
            pad: 0,
            first_pfn: 0x100,
        };
        // SAFETY: the payload is 24 bytes, 8-aligned; TrackDirtyVram is 16
        // bytes with alignment 8.
        unsafe { o.u.as_mut_ptr().cast::<TrackDirtyVram>().write(t) };
    }
    // SAFETY: as the caller vouches.
    unsafe { op.write(o) };
}
