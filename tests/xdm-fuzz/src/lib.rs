// SPDX-License-Identifier: MIT
//! Fuzz harnesses for what a guest controls in xen-thin-dm's virtio
//! devices: the virtqueues and requests it writes into its RAM, and the
//! transport registers it writes. Each harness drives the real device
//! code over anonymous memory standing in for guest RAM, with a disk in a
//! memfd, and asserts what must hold whatever the guest does: no panic,
//! the disk never grows, a read-only disk never changes.
//!
//! Test code: it uses xen-thin-dm's devices; no product crate depends on it.
//!
//! The targets (`src/bin`) wrap them for cargo-afl; `cargo xtask test`
//! builds them with `cargo afl build` and runs each for a bounded time,
//! and its unit tests replay the seeds without AFL.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::FromRawFd;

use virtio_bindings::virtio_blk::{
    VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT,
};
use virtio_bindings::virtio_config::{
    VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_DRIVER_OK,
    VIRTIO_CONFIG_S_FEATURES_OK,
};
use virtio_bindings::virtio_mmio::*;
use virtio_bindings::virtio_ring::{VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};
use xen_thin_dm::virtio::{BlockBackend, VirtioBlk, VirtioMmio};
use xen_thin_dm::{Access, Action, Ctx, Device, Space};

/// Guest RAM of the harnesses.
pub const RAM: usize = 0x10000;
const IRQ: u8 = 6;
/// Where [`blk_requests`] puts its queue.
pub const DESC: u64 = 0x0;
/// The available ring.
pub const AVAIL: u64 = 0x100;
/// The used ring.
pub const USED: u64 = 0x200;
const SECTORS: u64 = 32;
/// Bytes of [`blk_requests`]'s input before the RAM image.
pub const PREFIX: usize = 4;

/// A disk of `SECTORS` sectors in a memfd, each sector filled with its number.
fn disk() -> (File, Vec<u8>) {
    // SAFETY: a NUL-terminated name and no flags.
    let fd = unsafe { libc::memfd_create(c"xdm-fuzz-disk".as_ptr(), 0) };
    assert!(fd >= 0, "memfd_create: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` is a new descriptor nothing else owns.
    let mut f = unsafe { File::from_raw_fd(fd) };
    let content: Vec<u8> = (0..SECTORS * 512).map(|i| (i / 512) as u8).collect();
    f.write_all(&content).expect("write the disk");
    (f, content)
}

fn content(f: &mut File) -> Vec<u8> {
    let mut v = Vec::new();
    f.seek(SeekFrom::Start(0)).expect("seek");
    f.read_to_end(&mut v).expect("read the disk");
    v
}

/// A virtio-blk device on the transport, with its disk and guest RAM.
struct Bed {
    dev: VirtioMmio<VirtioBlk>,
    mem: GuestMemoryMmap,
    actions: Vec<Action>,
    file: File,
    before: Vec<u8>,
    read_only: bool,
}

impl Bed {
    fn new(read_only: bool) -> Self {
        let (file, before) = disk();
        let backend = BlockBackend::from_file(
            file.try_clone().expect("dup"),
            SECTORS * 512,
            read_only,
            std::path::Path::new("fuzz"),
        )
        .expect("a disk of whole sectors");
        let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), RAM)]).expect("RAM");
        Self {
            dev: VirtioMmio::new(VirtioBlk::new(backend), IRQ),
            mem,
            actions: Vec::new(),
            file,
            before,
            read_only,
        }
    }

    fn access(&mut self, off: u64, size: u8, write: Option<u64>) -> u64 {
        let mut ctx = Ctx::new(&mut self.actions, None).with_memory(Some(&self.mem));
        let a = Access {
            // The offset in its one region, as the machine routes it (any
            // offset at all here, beyond the window too).
            space: Space::Mmio(0),
            addr: off,
            size,
        };
        let v = match write {
            Some(v) => {
                self.dev.write(a, v, &mut ctx);
                0
            }
            None => self.dev.read(a, &mut ctx),
        };
        // The server lets a device finish what it left for later. Nothing
        // adds buffers here, so that ends: at least eight chains a turn,
        // at most 256 in the queue.
        let mut turns = 0;
        while self.dev.has_deferred() {
            assert!(turns < 64, "work left pending after 64 turns");
            let mut ctx = Ctx::new(&mut self.actions, None).with_memory(Some(&self.mem));
            self.dev.serve_deferred(&mut ctx);
            turns += 1;
        }
        self.actions.clear();
        v
    }

    fn wr(&mut self, reg: u32, v: u32) {
        self.access(u64::from(reg), 4, Some(u64::from(v)));
    }

    /// What a driver does: negotiate VERSION_1 and `features`, set queue
    /// 0 up at DESC/AVAIL/USED with `size` entries, DRIVER_OK.
    fn set_up(&mut self, features: u32, size: u16) {
        let s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
        self.wr(VIRTIO_MMIO_STATUS, 0);
        self.wr(VIRTIO_MMIO_STATUS, s);
        self.wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
        self.wr(VIRTIO_MMIO_DRIVER_FEATURES, 1);
        self.wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
        self.wr(VIRTIO_MMIO_DRIVER_FEATURES, features);
        self.wr(VIRTIO_MMIO_STATUS, s | VIRTIO_CONFIG_S_FEATURES_OK);
        self.wr(VIRTIO_MMIO_QUEUE_SEL, 0);
        self.wr(VIRTIO_MMIO_QUEUE_NUM, u32::from(size));
        self.wr(VIRTIO_MMIO_QUEUE_DESC_LOW, DESC as u32);
        self.wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, AVAIL as u32);
        self.wr(VIRTIO_MMIO_QUEUE_USED_LOW, USED as u32);
        self.wr(VIRTIO_MMIO_QUEUE_READY, 1);
        let s = s | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
        self.wr(VIRTIO_MMIO_STATUS, s);
    }

    /// What must hold whatever the guest did.
    fn check(&mut self) {
        let now = content(&mut self.file);
        assert_eq!(now.len(), self.before.len(), "the disk changed size");
        if self.read_only {
            assert!(now == self.before, "a read-only disk changed");
        }
    }
}

/// Input: 4 bytes of set-up (flags: bit 0 EVENT_IDX, bit 1 read-only
/// disk, bit 2 INDIRECT_DESC; the queue size's log2; notifies to make),
/// then the guest RAM image from address 0 (descriptor table at 0, rings
/// at 0x100 and 0x200, anything after: a large queue's table overlaps its
/// rings, which the device must survive too). A request's header, data and
/// status live wherever its descriptors say.
pub fn blk_requests(data: &[u8]) {
    blk_requests_bed(data);
}

fn blk_requests_bed(data: &[u8]) -> Option<Bed> {
    if data.len() < PREFIX {
        return None;
    }
    let (prefix, image) = data.split_at(PREFIX);
    let mut b = Bed::new(prefix[0] & 2 != 0);
    let image = &image[..image.len().min(RAM)];
    b.mem
        .write_slice(image, GuestAddress(0))
        .expect("within RAM");
    let mut features = 0;
    if prefix[0] & 1 != 0 {
        features |= 1 << VIRTIO_RING_F_EVENT_IDX;
    }
    if prefix[0] & 4 != 0 {
        features |= 1 << VIRTIO_RING_F_INDIRECT_DESC;
    }
    let size = 1u16 << (1 + prefix[1] % 8);
    b.set_up(features, size);
    for _ in 0..=prefix[2] % 4 {
        b.wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    }
    b.wr(VIRTIO_MMIO_INTERRUPT_ACK, 3);
    b.check();
    Some(b)
}

/// Input: 6-byte operations on the transport and guest RAM: byte 0's low
/// two bits pick one (read a register, write one, write RAM, reset the
/// device), its next two the access size; byte 1 the register (times 4,
/// configuration space included) or the RAM offset (times 4); bytes 2-5
/// the value. Bit 7 of the first operation's byte 0 makes the disk
/// read-only.
pub fn mmio_transport(data: &[u8]) {
    mmio_transport_bed(data);
}

fn mmio_transport_bed(data: &[u8]) -> Bed {
    let mut b = Bed::new(data.first().is_some_and(|f| f & 0x80 != 0));
    for op in data.chunks_exact(6) {
        let value = u32::from_le_bytes([op[2], op[3], op[4], op[5]]);
        let size = [1u8, 2, 4, 8][usize::from(op[0] >> 2 & 3)];
        match op[0] & 3 {
            0 => {
                b.access(u64::from(op[1]) * 4, size, None);
            }
            1 => {
                b.access(u64::from(op[1]) * 4, size, Some(u64::from(value)));
            }
            2 => {
                let at = u64::from(op[1]) * 4;
                b.mem
                    .write_obj(value, GuestAddress(at))
                    .expect("within RAM");
            }
            _ => b.wr(VIRTIO_MMIO_STATUS, 0),
        }
    }
    b.check();
    b
}

/// A descriptor: address, length, flags, next.
fn desc(ram: &mut [u8], i: u16, addr: u64, len: u32, flags: u16, next: u16) {
    let at = DESC as usize + 16 * usize::from(i);
    ram[at..at + 8].copy_from_slice(&addr.to_le_bytes());
    ram[at + 8..at + 12].copy_from_slice(&len.to_le_bytes());
    ram[at + 12..at + 14].copy_from_slice(&flags.to_le_bytes());
    ram[at + 14..at + 16].copy_from_slice(&next.to_le_bytes());
}

const NEXT: u16 = 1;
const WRITE: u16 = 2;
const INDIRECT: u16 = 4;

/// Where the seeds put a request's header, status byte and data.
const HEADER: u64 = 0x300;
const STATUS: u64 = 0x340;
const DATA: u64 = 0x400;

/// A RAM image with one request in chain 0, made available (a queue of 16).
fn one_request(ty: u32, sector: u64, len: u32) -> Vec<u8> {
    let mut ram = vec![0u8; DATA as usize];
    let h = HEADER as usize;
    ram[h..h + 4].copy_from_slice(&ty.to_le_bytes());
    ram[h + 8..h + 16].copy_from_slice(&sector.to_le_bytes());
    let data_flags = if ty == VIRTIO_BLK_T_IN || ty == VIRTIO_BLK_T_GET_ID {
        WRITE
    } else {
        0
    };
    desc(&mut ram, 0, HEADER, 16, NEXT, 1);
    if len == 0 {
        desc(&mut ram, 1, STATUS, 1, WRITE, 0);
    } else {
        desc(&mut ram, 1, DATA, len, NEXT | data_flags, 2);
        desc(&mut ram, 2, STATUS, 1, WRITE, 0);
    }
    // avail: flags 0, idx 1, ring[0] = 0.
    ram[AVAIL as usize + 2..AVAIL as usize + 4].copy_from_slice(&1u16.to_le_bytes());
    ram
}

/// The seed inputs: (target, name, bytes).
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut v = Vec::new();
    // Flags, a queue of 16, one notify.
    let prefix = |flags: u8| vec![flags, 3, 0, 0];
    for (name, ty, sector, len) in [
        ("read", VIRTIO_BLK_T_IN, 1, 1024),
        ("write", VIRTIO_BLK_T_OUT, 2, 512),
        ("flush", VIRTIO_BLK_T_FLUSH, 0, 0),
        ("get-id", VIRTIO_BLK_T_GET_ID, 0, 20),
    ] {
        for flags in [0u8, 1, 2] {
            let mut input = prefix(flags);
            input.extend(one_request(ty, sector, len));
            v.push(("blk_requests", format!("{name}-{flags}"), input));
        }
    }
    // An indirect request: descriptor 0 points at a table of three.
    let mut ram = one_request(VIRTIO_BLK_T_IN, 0, 512);
    let table = 0x380u64;
    for i in 0..3u16 {
        let at = DESC as usize + 16 * usize::from(i);
        let entry: [u8; 16] = ram[at..at + 16].try_into().expect("16 bytes");
        let to = table as usize + 16 * usize::from(i);
        ram[to..to + 16].copy_from_slice(&entry);
    }
    desc(&mut ram, 0, table, 48, INDIRECT, 0);
    let mut input = prefix(4);
    input.extend(ram);
    v.push(("blk_requests", "indirect".into(), input));

    // The transport: what Linux does, then one read request.
    let op = |kind: u8, size: u8, reg: u32, value: u32| {
        let mut o = vec![kind | size << 2, (reg / 4) as u8];
        o.extend(value.to_le_bytes());
        o
    };
    let s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
    let mut ops = Vec::new();
    for (reg, value) in [
        (VIRTIO_MMIO_STATUS, 0),
        (VIRTIO_MMIO_STATUS, s),
        (VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1),
        (VIRTIO_MMIO_DRIVER_FEATURES, 1),
        (VIRTIO_MMIO_STATUS, s | VIRTIO_CONFIG_S_FEATURES_OK),
        (VIRTIO_MMIO_QUEUE_NUM, 8),
        (VIRTIO_MMIO_QUEUE_DESC_LOW, 0x100),
        (VIRTIO_MMIO_QUEUE_AVAIL_LOW, 0x200),
        (VIRTIO_MMIO_QUEUE_USED_LOW, 0x280),
        (VIRTIO_MMIO_QUEUE_READY, 1),
        (
            VIRTIO_MMIO_STATUS,
            s | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK,
        ),
    ] {
        ops.extend(op(1, 2, reg, value));
    }
    // RAM: a read of sector 1 in chain 0 (header at 0x300, 64 bytes of data
    // at 0x340, status at 0x3f0), made available (avail idx 1 at 0x202).
    let ram = |addr: u32, value: u32| op(2, 2, addr, value);
    for (i, (addr, len, flags)) in [(0x300u32, 16u32, 1u32), (0x340, 64, 3), (0x3f0, 1, 2)]
        .into_iter()
        .enumerate()
    {
        let at = 0x100 + 16 * i as u32;
        ops.extend(ram(at, addr));
        ops.extend(ram(at + 8, len));
        // flags, then next in the upper half.
        ops.extend(ram(at + 12, flags | (i as u32 + 1) << 16));
    }
    ops.extend(ram(0x300, VIRTIO_BLK_T_IN));
    ops.extend(ram(0x308, 1));
    ops.extend(ram(0x200, 0x1_0000));
    ops.extend(op(0, 2, VIRTIO_MMIO_CONFIG, 0));
    ops.extend(op(1, 2, VIRTIO_MMIO_QUEUE_NOTIFY, 0));
    ops.extend(op(0, 2, VIRTIO_MMIO_INTERRUPT_STATUS, 0));
    v.push(("mmio_transport", "linux-init".into(), ops));
    v
}

/// The seeds, replayed without AFL (the targets link AFL++'s runtime, so
/// only `cargo afl build --features afl` builds them).
#[cfg(test)]
mod tests {
    use vm_memory::{Bytes, GuestAddress};

    #[test]
    fn every_seed_runs_clean() {
        let seeds = super::seeds();
        assert!(seeds.len() >= 10);
        for (target, name, bytes) in seeds {
            match target {
                "blk_requests" => super::blk_requests(&bytes),
                "mmio_transport" => super::mmio_transport(&bytes),
                t => panic!("seed {name} of an unknown target {t}"),
            }
        }
    }

    #[test]
    fn the_request_seeds_are_served_ok() {
        // Seeds that reach the device's request handling, not just its
        // rule checks: each request's status byte says OK.
        for (target, name, bytes) in super::seeds() {
            if target != "blk_requests" || name.starts_with("write-2") {
                continue;
            }
            let b = super::blk_requests_bed(&bytes).unwrap();
            let status: u8 = b.mem.read_obj(GuestAddress(super::STATUS)).unwrap();
            assert_eq!(status, 0, "seed {name}");
        }
    }

    #[test]
    fn the_transport_seed_reaches_a_request() {
        // Its read of sector 1 is answered OK, with the sector's bytes.
        let seed = super::seeds()
            .into_iter()
            .find(|(t, n, _)| *t == "mmio_transport" && n == "linux-init")
            .unwrap()
            .2;
        let b = super::mmio_transport_bed(&seed);
        assert_eq!(b.mem.read_obj::<u8>(GuestAddress(0x3f0)).unwrap(), 0);
        assert_eq!(b.mem.read_obj::<u8>(GuestAddress(0x340)).unwrap(), 1);
    }

    #[test]
    fn short_and_empty_inputs_are_harmless() {
        for n in 0..16 {
            let v = vec![0xffu8; n];
            super::blk_requests(&v);
            super::mmio_transport(&v);
        }
    }

    #[test]
    fn the_harness_catches_a_changed_read_only_disk() {
        // The check can fail: a read-only disk written behind the device's back.
        let mut b = super::Bed::new(true);
        use std::os::unix::fs::FileExt;
        b.file.write_all_at(b"x", 0).unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| b.check()));
        assert!(r.is_err());
    }
}
