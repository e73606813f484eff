// SPDX-License-Identifier: MIT
//! The guest's RAM, for devices that read and write it themselves (virtio's
//! queues and buffers), as a rust-vmm [`GuestMemoryMmap`].
//!
//! The layout comes from the table the domain builder wrote into the guest
//! before it ran ([`HvmInfoTable`], read at attach while the guest is
//! paused), checked before it is believed. RAM is mapped through the
//! device model's own privcmd descriptor, so with privcmd-restrict (or
//! `IOCTL_PRIVCMD_RESTRICT`) it can only be this guest's memory. Frames that
//! do not map (holes the builder left, ballooned pages) are left out: a
//! descriptor pointing at them fails its request instead of faulting the
//! device model. The ioreq pages are never guest RAM while the server is
//! enabled, so no queue can point into them.
//!
//! Why not vm-memory's own `xen` backend: it opens `/dev/xen/privcmd` and
//! issues its own ioctls per region, which neither a restricted descriptor
//! opened before deprivileging nor the seccomp list allows. The regions here
//! are vm-memory's ordinary mmap regions over mappings this process made.

use std::ops::Range;

use dmop_abi::hvm::{
    HvmInfoTable, HVM_INFO_OFFSET, HVM_INFO_PFN, HVM_INFO_SIGNATURE, HVM_MAX_VCPUS,
};
use dmop_abi::types::DomId;
use vm_memory::{GuestAddress, GuestMemoryMmap, GuestRegionMmap, MmapRegion};
use xendevicemodel::{DeviceModel, ForeignMapping};

/// The most guest RAM the device model maps (64 GiB); a larger guest is
/// refused at attach rather than mapped in part.
pub const MAX_GUEST_RAM: u64 = 64 << 30;

const PAGE: u64 = 4096;
const FOUR_GIB_PFN: u64 = 1 << 20;
/// The highest low-RAM end an HVM guest has: the 4 GiB hole starts at
/// 0xf0000000 at the latest.
const LOW_RAM_MAX_PFN: u64 = 0xf0000;
/// The VGA hole, in frames: never RAM in an HVM guest.
const VGA_HOLE: Range<u64> = 0xa0..0xc0;
/// Frames per mapping call: bounds the kernel's and this process's
/// per-call arrays.
const CHUNK: usize = 16384;

/// RAM ranges (in frames) from a table's bytes, checked: signature,
/// length, checksum, ranges that stay where the ABI says they are, and the
/// total under [`MAX_GUEST_RAM`].
///
/// ```
/// use xen_thin_dm::guest_ram::ram_ranges;
///
/// let mut t = [0u8; 48];
/// t[..8].copy_from_slice(b"HVM INFO");
/// t[8..12].copy_from_slice(&48u32.to_le_bytes());
/// t[16..20].copy_from_slice(&1u32.to_le_bytes()); // one vCPU
/// t[20..24].copy_from_slice(&0x8000u32.to_le_bytes()); // 128 MiB
/// t[24..28].copy_from_slice(&0xfeff0u32.to_le_bytes());
/// let sum = t.iter().fold(0u8, |a, b| a.wrapping_add(*b));
/// t[12] = 0u8.wrapping_sub(sum);
/// assert_eq!(ram_ranges(&t)?, vec![0..0xa0, 0xc0..0x8000]);
/// t[21] ^= 1;
/// assert!(ram_ranges(&t).is_err(), "checksum");
/// // Whatever a (restored) guest wrote there, Xen's special pages below
/// // 4 GiB are never RAM: no reserved start, or low RAM into the hole, is refused.
/// let set = |t: &mut [u8; 48], at: usize, v: u32| {
///     t[at..at + 4].copy_from_slice(&v.to_le_bytes());
///     t[12] = 0;
///     let sum = t.iter().fold(0u8, |a, b| a.wrapping_add(*b));
///     t[12] = 0u8.wrapping_sub(sum);
/// };
/// t[21] ^= 1;
/// set(&mut t, 24, 0);
/// assert!(ram_ranges(&t).is_err(), "no reserved start");
/// set(&mut t, 24, 0xfeff0);
/// set(&mut t, 20, 0xfeff0);
/// assert!(ram_ranges(&t).is_err(), "low RAM over the special pages");
/// set(&mut t, 20, 0x8000);
/// assert_eq!(ram_ranges(&t)?, vec![0..0xa0, 0xc0..0x8000]);
/// # Ok::<(), String>(())
/// ```
pub fn ram_ranges(table: &[u8]) -> Result<Vec<Range<u64>>, String> {
    use zerocopy::FromBytes;
    let size = std::mem::size_of::<HvmInfoTable>();
    let (t, _) = HvmInfoTable::read_from_prefix(table)
        .map_err(|_| "the HVM info table is cut short".to_string())?;
    if t.signature != HVM_INFO_SIGNATURE {
        return Err("no HVM info table (signature)".into());
    }
    let len = t.length as usize;
    if len < size || len > table.len() {
        return Err(format!("HVM info table length {len} is not usable"));
    }
    if table[..len].iter().fold(0u8, |a, b| a.wrapping_add(*b)) != 0 {
        return Err("HVM info table checksum is wrong".into());
    }
    if t.nr_vcpus == 0 || t.nr_vcpus as usize > HVM_MAX_VCPUS {
        return Err(format!("HVM info table: {} vCPUs", t.nr_vcpus));
    }
    let low = u64::from(t.low_mem_pgend);
    let reserved = u64::from(t.reserved_mem_pgstart);
    let high = u64::from(t.high_mem_pgend);
    // Whatever the table says (a restored guest wrote its own RAM), low
    // RAM ends below the 4 GiB hole, where Xen's special pages (legacy
    // ioreq pages among them) live, and below the reserved start.
    if low > LOW_RAM_MAX_PFN || reserved == 0 || low > reserved {
        return Err(format!(
            "HVM info table: low RAM end {low:#x} is beyond its reserved start {reserved:#x}"
        ));
    }
    if high != 0 && high < FOUR_GIB_PFN {
        return Err(format!(
            "HVM info table: high RAM end {high:#x} is below 4 GiB"
        ));
    }
    let mut ranges = Vec::new();
    if low > 0 {
        ranges.push(0..low.min(VGA_HOLE.start));
        if low > VGA_HOLE.end {
            ranges.push(VGA_HOLE.end..low);
        }
    }
    if high > FOUR_GIB_PFN {
        ranges.push(FOUR_GIB_PFN..high);
    }
    let total: u64 = ranges.iter().map(|r| r.end - r.start).sum();
    if total * PAGE > MAX_GUEST_RAM {
        return Err(format!(
            "the guest has {} MiB of RAM; the device model maps at most {} MiB",
            (total * PAGE) >> 20,
            MAX_GUEST_RAM >> 20
        ));
    }
    Ok(ranges)
}

/// The guest's RAM, mapped. The vm-memory regions point into mappings
/// that stay for the life of the process: a [`GuestMemoryMmap`] is `Clone`,
/// and a clone (a device's, a queue worker's) must never outlive the
/// memory it points into. A device model maps its guest's RAM once.
pub struct GuestRam {
    mem: GuestMemoryMmap,
    frames: u64,
    missing: u64,
}

impl std::fmt::Debug for GuestRam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestRam")
            .field("frames", &self.frames)
            .field("missing", &self.missing)
            .finish()
    }
}

impl GuestRam {
    /// Reads the guest's memory map and maps its RAM through `dm`.
    pub fn map(dm: &DeviceModel, dom: DomId) -> Result<Self, String> {
        let info = ForeignMapping::map(dm, dom, &[HVM_INFO_PFN])
            .map_err(|e| format!("mapping the guest's HVM info page: {e}"))?;
        let mut page = vec![0u8; PAGE as usize];
        if !info.read(0, &mut page) {
            return Err("reading the guest's HVM info page".into());
        }
        drop(info);
        let ranges = ram_ranges(&page[HVM_INFO_OFFSET as usize..])?;
        Self::map_frames(dm, dom, ranges)
    }

    /// Maps the guest's RAM at the frames of `ranges` (a layout the caller
    /// knows, as an Arm guest's: [`crate::board::arm_ram_frames`]). Frames
    /// that do not map are left out; more than [`MAX_GUEST_RAM`] is
    /// refused.
    pub fn map_frames(
        dm: &DeviceModel,
        dom: DomId,
        ranges: Vec<Range<u64>>,
    ) -> Result<Self, String> {
        let total: u64 = ranges.iter().map(|r| r.end.saturating_sub(r.start)).sum();
        if total.saturating_mul(PAGE) > MAX_GUEST_RAM {
            return Err(format!(
                "the guest has {} MiB of RAM; the device model maps at most {} MiB",
                total.saturating_mul(PAGE) >> 20,
                MAX_GUEST_RAM >> 20
            ));
        }
        let mut regions = Vec::new();
        let (mut frames, mut missing) = (0, 0);
        for r in ranges {
            let gfns: Vec<u64> = r.collect();
            for chunk in gfns.chunks(CHUNK) {
                let (map, errs) = ForeignMapping::map_sparse(dm, dom, chunk)
                    .map_err(|e| format!("mapping guest RAM at frame {:#x}: {e}", chunk[0]))?;
                // Runs of frames that mapped become regions.
                let mut i = 0;
                while i < chunk.len() {
                    if errs[i] != 0 {
                        missing += 1;
                        i += 1;
                        continue;
                    }
                    let start = i;
                    while i < chunk.len()
                        && errs[i] == 0
                        && chunk[i] == chunk[start] + (i - start) as u64
                    {
                        i += 1;
                    }
                    let len = (i - start) * PAGE as usize;
                    // SAFETY: pages [start, i) of `map` are mapped (their
                    // frames had no error), read-write and shared, and stay
                    // so for the life of the process: `map` is leaked below.
                    let region = unsafe {
                        MmapRegion::build_raw(
                            map.as_ptr().add(start * PAGE as usize),
                            len,
                            libc::PROT_READ | libc::PROT_WRITE,
                            libc::MAP_SHARED,
                        )
                    }
                    .map_err(|e| format!("guest RAM region: {e}"))?;
                    let region = GuestRegionMmap::new(region, GuestAddress(chunk[start] * PAGE))
                        .ok_or("guest RAM region beyond the address space")?;
                    regions.push(region);
                    frames += (i - start) as u64;
                }
                // Never unmapped: see GuestRam.
                std::mem::forget(map);
            }
        }
        if frames == 0 {
            return Err("none of the guest's RAM could be mapped".into());
        }
        let mem = GuestMemoryMmap::from_regions(regions)
            .map_err(|e| format!("guest RAM regions: {e}"))?;
        Ok(Self {
            mem,
            frames,
            missing,
        })
    }

    /// The RAM, for vm-memory and virtio-queue.
    pub fn memory(&self) -> &GuestMemoryMmap {
        &self.mem
    }

    /// Frames mapped, and frames of the layout that did not map.
    pub fn frames(&self) -> (u64, u64) {
        (self.frames, self.missing)
    }
}
