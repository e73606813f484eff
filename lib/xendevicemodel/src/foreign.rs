// SPDX-License-Identifier: MIT
//! Mappings of guest memory, for requests whose data is a guest address
//! (`data_is_ptr`). They go through the same privcmd descriptor, so a
//! restricted descriptor maps only its own guest's memory.

use std::sync::Arc;

use dmop_abi::types::{DomId, XenPfn};

use crate::dm::DeviceModel;
use crate::error::Result;
use crate::handle::Shared;
use crate::ioreq::{map_foreign, map_foreign_sparse};
use crate::sys::{self, Mmap};

/// Guest frames mapped read-write into this process; unmapped on drop.
#[derive(Debug)]
pub struct ForeignMapping {
    map: Mmap,
    /// Per page, whether its frame mapped; `None`: all did.
    holes: Option<Vec<bool>>,
    _fd: Arc<Shared>,
}

impl ForeignMapping {
    /// Maps the guest frames `gfns` of `domid`, contiguously, in order.
    pub fn map(dm: &DeviceModel, domid: DomId, gfns: &[u64]) -> Result<Self> {
        let shared = dm.shared("map guest memory")?;
        let pfns: Vec<XenPfn> = gfns.iter().map(|&g| g as XenPfn).collect();
        let map = map_foreign(&shared, domid, &pfns, "map guest memory")?;
        Ok(Self {
            map,
            holes: None,
            _fd: shared,
        })
    }

    /// Maps the guest frames `gfns` of `domid` contiguously, in order,
    /// keeping what maps: returns the mapping and one result per frame (0,
    /// or the negative errno Xen gave). Frames reported paged out
    /// (`ENOENT`) are asked for again for a while first. A failed frame's
    /// page of the mapping is a hole: touching it through
    /// [`as_ptr`](Self::as_ptr) faults, so a user keeps only the frames
    /// that mapped; [`read`](Self::read) and [`write`](Self::write) refuse
    /// a range that touches a hole.
    ///
    /// ```no_run
    /// # use xendevicemodel::{DeviceModel, ForeignMapping};
    /// # use dmop_abi::types::DomId;
    /// let dm = DeviceModel::open()?;
    /// dm.restrict(DomId(5))?;
    /// let (ram, errs) = ForeignMapping::map_sparse(&dm, DomId(5), &(0..256).collect::<Vec<_>>())?;
    /// let mapped = errs.iter().filter(|&&e| e == 0).count();
    /// println!("{mapped} of {} frames mapped at {:p}", errs.len(), ram.as_ptr());
    /// # Ok::<(), xendevicemodel::Error>(())
    /// ```
    pub fn map_sparse(dm: &DeviceModel, domid: DomId, gfns: &[u64]) -> Result<(Self, Vec<i32>)> {
        let shared = dm.shared("map guest memory")?;
        let pfns: Vec<XenPfn> = gfns.iter().map(|&g| g as XenPfn).collect();
        let (map, errs) = map_foreign_sparse(&shared, domid, &pfns, "map guest memory")?;
        let holes = errs
            .iter()
            .any(|&e| e != 0)
            .then(|| errs.iter().map(|&e| e != 0).collect());
        Ok((
            Self {
                map,
                holes,
                _fd: shared,
            },
            errs,
        ))
    }

    /// The start of the mapping in this process. Pages whose frame mapped
    /// may be accessed (volatile: the guest changes them at any time)
    /// while `self` lives; others fault.
    pub fn as_ptr(&self) -> *mut u8 {
        self.map.ptr
    }

    /// The mapping's length in bytes.
    pub fn len(&self) -> usize {
        self.map.len
    }

    /// Whether it maps nothing.
    pub fn is_empty(&self) -> bool {
        self.map.len == 0
    }

    /// Whether `[offset, offset + len)` is within the mapping and touches
    /// no page whose frame failed to map.
    fn usable(&self, offset: usize, len: usize) -> bool {
        let Some(end) = offset.checked_add(len).filter(|&e| e <= self.map.len) else {
            return false;
        };
        match &self.holes {
            None => true,
            Some(_) if len == 0 => true,
            Some(holes) => {
                let page = sys::page_size();
                !holes[offset / page..=(end - 1) / page].iter().any(|&h| h)
            }
        }
    }

    /// Copies out `dst.len()` bytes from `offset`; `false` if out of range
    /// or over a page that did not map. Volatile: the guest may change its
    /// memory at any time.
    pub fn read(&self, offset: usize, dst: &mut [u8]) -> bool {
        if !self.usable(offset, dst.len()) {
            return false;
        }
        for (i, d) in dst.iter_mut().enumerate() {
            // SAFETY: offset + i < len, on a page whose frame mapped.
            *d = unsafe { std::ptr::read_volatile(self.map.ptr.add(offset + i)) };
        }
        true
    }

    /// Copies `src` in at `offset`; `false` if out of range or over a page
    /// that did not map.
    pub fn write(&self, offset: usize, src: &[u8]) -> bool {
        if !self.usable(offset, src.len()) {
            return false;
        }
        for (i, s) in src.iter().enumerate() {
            // SAFETY: offset + i < len, on a page whose frame mapped.
            unsafe { std::ptr::write_volatile(self.map.ptr.add(offset + i), *s) };
        }
        true
    }

    /// The page size the mapping is made of.
    pub fn page_size() -> usize {
        sys::page_size()
    }
}
