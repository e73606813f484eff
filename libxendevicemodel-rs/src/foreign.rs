// SPDX-License-Identifier: MIT
//! Mappings of guest memory, for requests whose data is a guest address
//! (`data_is_ptr`). They go through the same privcmd descriptor, so a
//! restricted descriptor maps only its own guest's memory.

use std::sync::Arc;

use dmop_abi::types::{DomId, XenPfn};

use crate::dm::DeviceModel;
use crate::error::Result;
use crate::handle::Shared;
use crate::ioreq::map_foreign;
use crate::sys::{self, Mmap};

/// Guest frames mapped read-write into this process; unmapped on drop.
#[derive(Debug)]
pub struct ForeignMapping {
    map: Mmap,
    _fd: Arc<Shared>,
}

impl ForeignMapping {
    /// Maps the guest frames `gfns` of `domid`, contiguously, in order.
    pub fn map(dm: &DeviceModel, domid: DomId, gfns: &[u64]) -> Result<Self> {
        let shared = dm.shared("map guest memory")?;
        let pfns: Vec<XenPfn> = gfns.iter().map(|&g| g as XenPfn).collect();
        let map = map_foreign(&shared, domid, &pfns, "map guest memory")?;
        Ok(Self { map, _fd: shared })
    }

    /// The mapping's length in bytes.
    pub fn len(&self) -> usize {
        self.map.len
    }

    /// Whether it maps nothing.
    pub fn is_empty(&self) -> bool {
        self.map.len == 0
    }

    /// Copies out `dst.len()` bytes from `offset`; `false` if out of range.
    /// Volatile: the guest may change its memory at any time.
    pub fn read(&self, offset: usize, dst: &mut [u8]) -> bool {
        if offset
            .checked_add(dst.len())
            .is_none_or(|e| e > self.map.len)
        {
            return false;
        }
        for (i, d) in dst.iter_mut().enumerate() {
            // SAFETY: offset + i < len: within the mapping.
            *d = unsafe { std::ptr::read_volatile(self.map.ptr.add(offset + i)) };
        }
        true
    }

    /// Copies `src` in at `offset`; `false` if out of range.
    pub fn write(&self, offset: usize, src: &[u8]) -> bool {
        if offset
            .checked_add(src.len())
            .is_none_or(|e| e > self.map.len)
        {
            return false;
        }
        for (i, s) in src.iter().enumerate() {
            // SAFETY: offset + i < len: within the mapping.
            unsafe { std::ptr::write_volatile(self.map.ptr.add(offset + i), *s) };
        }
        true
    }

    /// The page size the mapping is made of.
    pub fn page_size() -> usize {
        sys::page_size()
    }
}
