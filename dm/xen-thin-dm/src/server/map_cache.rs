// SPDX-License-Identifier: MIT
//! The map cache: guest pages a request's data names, mapped through the
//! (restricted) privcmd descriptor on demand and bounded in number.

use std::collections::HashMap;

use xendevicemodel::{ForeignMapping, Guest};

/// Guest memory mappings for requests whose data is a guest address,
/// through the (restricted) privcmd descriptor; dropped on
/// `IOREQ_TYPE_INVALIDATE` and when full.
pub(super) struct MapCache {
    pub(super) pages: HashMap<u64, ForeignMapping>,
}

const MAPCACHE_PAGES: usize = 256;
const PAGE: u64 = 4096;

impl MapCache {
    fn page(&mut self, guest: &Guest, gfn: u64) -> Option<&ForeignMapping> {
        if !self.pages.contains_key(&gfn) {
            if self.pages.len() >= MAPCACHE_PAGES {
                self.pages.clear();
            }
            let m = ForeignMapping::map(guest.device_model(), guest.domid(), &[gfn]).ok()?;
            self.pages.insert(gfn, m);
        }
        self.pages.get(&gfn)
    }

    /// Copies guest memory at `gpa` into `buf`; false if a page is not the guest's.
    pub(super) fn read(&mut self, guest: &Guest, gpa: u64, buf: &mut [u8]) -> bool {
        let mut done = 0;
        while done < buf.len() {
            let a = gpa + done as u64;
            let n = ((PAGE - a % PAGE) as usize).min(buf.len() - done);
            match self.page(guest, a / PAGE) {
                Some(m) if m.read((a % PAGE) as usize, &mut buf[done..done + n]) => done += n,
                _ => return false,
            }
        }
        true
    }

    /// Copies `buf` into guest memory at `gpa`; false if a page is not the guest's.
    pub(super) fn write(&mut self, guest: &Guest, gpa: u64, buf: &[u8]) -> bool {
        let mut done = 0;
        while done < buf.len() {
            let a = gpa + done as u64;
            let n = ((PAGE - a % PAGE) as usize).min(buf.len() - done);
            match self.page(guest, a / PAGE) {
                Some(m) if m.write((a % PAGE) as usize, &buf[done..done + n]) => done += n,
                _ => return false,
            }
        }
        true
    }
}
