// SPDX-License-Identifier: MIT
//! The transport and virtio-blk driven the way a driver does, over
//! anonymous memory standing in for guest RAM. (The proof that a real
//! driver works is the `virtio` suite: Linux on Xen.)

use std::io::{Read, Seek, SeekFrom, Write};

use virtio_bindings::virtio_blk::*;
use virtio_bindings::virtio_config::*;
use virtio_bindings::virtio_mmio::*;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::{BlockBackend, VirtioBlk, VirtioMmio};
use crate::device::{Access, Action, Ctx, Device, Space};

const BASE: u64 = 0xfe00_0000;
const IRQ: u8 = 5;
const DESC: u64 = 0x1000;
const AVAIL: u64 = 0x2000;
const USED: u64 = 0x3000;
const HDR: u64 = 0x4000;
const DATA: u64 = 0x10000;
const STATUS: u64 = 0x5000;
const RAM: usize = 0x40000;
const DISK: u64 = 64 * 512;
const NEXT: u16 = 1;
const WRITE: u16 = 2;

struct Bed {
    dev: VirtioMmio<VirtioBlk>,
    mem: GuestMemoryMmap,
    actions: Vec<Action>,
    file: std::fs::File,
    avail: u16,
}

impl Bed {
    fn new(read_only: bool) -> Self {
        Self::with(read_only, false)
    }

    /// The same disk as an Arm guest sees it: on GIC SPI [`SPI`].
    fn on_gic() -> Self {
        Self::with(false, true)
    }

    fn with(read_only: bool, gic: bool) -> Self {
        let mut file = tempfile();
        file.write_all(&(0..DISK).map(|i| (i / 512) as u8).collect::<Vec<_>>())
            .unwrap();
        let disk = BlockBackend::from_file(
            file.try_clone().unwrap(),
            DISK,
            read_only,
            std::path::Path::new("disk"),
        )
        .unwrap();
        let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), RAM)]).unwrap();
        let blk = VirtioBlk::new(disk);
        Self {
            dev: if gic {
                VirtioMmio::on_gic(blk, SPI)
            } else {
                VirtioMmio::new(blk, IRQ)
            },
            mem,
            actions: Vec::new(),
            file,
            avail: 0,
        }
    }

    fn rd(&mut self, reg: u32) -> u32 {
        let mut ctx = Ctx::new(&mut self.actions, None).with_memory(Some(&self.mem));
        let a = Access {
            space: Space::Mmio(0),
            addr: u64::from(reg),
            size: 4,
        };
        self.dev.read(a, &mut ctx) as u32
    }

    fn wr(&mut self, reg: u32, v: u32) {
        let mut ctx = Ctx::new(&mut self.actions, None).with_memory(Some(&self.mem));
        let a = Access {
            space: Space::Mmio(0),
            addr: u64::from(reg),
            size: 4,
        };
        self.dev.write(a, u64::from(v), &mut ctx);
    }

    /// What Linux does: reset, negotiate VERSION_1, set up queue 0 of 8.
    fn set_up(&mut self) {
        self.set_up_with(0);
    }

    /// The same, acking the low feature bits `low` too.
    fn set_up_with(&mut self, low: u32) {
        assert_eq!(self.rd(VIRTIO_MMIO_MAGIC_VALUE), 0x7472_6976);
        assert_eq!(self.rd(VIRTIO_MMIO_VERSION), 2);
        assert_eq!(self.rd(VIRTIO_MMIO_DEVICE_ID), 2);
        self.wr(VIRTIO_MMIO_STATUS, 0);
        self.wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
        self.wr(
            VIRTIO_MMIO_STATUS,
            VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER,
        );
        self.wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
        assert_ne!(
            self.rd(VIRTIO_MMIO_DEVICE_FEATURES) & 1,
            0,
            "VERSION_1 offered"
        );
        self.wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
        self.wr(VIRTIO_MMIO_DRIVER_FEATURES, 1);
        self.wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
        self.wr(VIRTIO_MMIO_DRIVER_FEATURES, low);
        let s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK;
        self.wr(VIRTIO_MMIO_STATUS, s);
        assert_ne!(self.rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
        self.wr(VIRTIO_MMIO_QUEUE_SEL, 0);
        assert_eq!(self.rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
        self.wr(VIRTIO_MMIO_QUEUE_NUM, 8);
        self.wr(VIRTIO_MMIO_QUEUE_DESC_LOW, DESC as u32);
        self.wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, AVAIL as u32);
        self.wr(VIRTIO_MMIO_QUEUE_USED_LOW, USED as u32);
        self.wr(VIRTIO_MMIO_QUEUE_READY, 1);
        self.wr(VIRTIO_MMIO_STATUS, s | VIRTIO_CONFIG_S_DRIVER_OK);
        assert_eq!(self.rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
    }

    fn desc(&self, i: u16, addr: u64, len: u32, flags: u16, next: u16) {
        let at = DESC + 16 * u64::from(i);
        self.mem.write_obj(addr, GuestAddress(at)).unwrap();
        self.mem.write_obj(len, GuestAddress(at + 8)).unwrap();
        self.mem.write_obj(flags, GuestAddress(at + 12)).unwrap();
        self.mem.write_obj(next, GuestAddress(at + 14)).unwrap();
    }

    /// Offers chain `head`, notifies, returns the used length.
    fn submit(&mut self, head: u16) -> Option<u32> {
        let slot = u64::from(self.avail % 8);
        self.mem
            .write_obj(head, GuestAddress(AVAIL + 4 + 2 * slot))
            .unwrap();
        self.avail = self.avail.wrapping_add(1);
        self.mem
            .write_obj(self.avail, GuestAddress(AVAIL + 2))
            .unwrap();
        let before: u16 = self.mem.read_obj(GuestAddress(USED + 2)).unwrap();
        self.wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
        let after: u16 = self.mem.read_obj(GuestAddress(USED + 2)).unwrap();
        (after != before).then(|| {
            let e = USED + 4 + 8 * u64::from(before % 8);
            self.mem.read_obj::<u32>(GuestAddress(e + 4)).unwrap()
        })
    }

    /// A three-descriptor request: header, data, status.
    fn request(&mut self, ty: u32, sector: u64, len: u32) -> (Option<u32>, u8) {
        self.mem.write_obj(ty, GuestAddress(HDR)).unwrap();
        self.mem.write_obj(0u32, GuestAddress(HDR + 4)).unwrap();
        self.mem.write_obj(sector, GuestAddress(HDR + 8)).unwrap();
        self.mem.write_obj(0xeeu8, GuestAddress(STATUS)).unwrap();
        let data_flags = if ty == VIRTIO_BLK_T_IN { WRITE } else { 0 };
        self.desc(0, HDR, 16, NEXT, 1);
        self.desc(1, DATA, len, NEXT | data_flags, 2);
        self.desc(2, STATUS, 1, WRITE, 0);
        let used = self.submit(0);
        (used, self.mem.read_obj(GuestAddress(STATUS)).unwrap())
    }

    fn disk(&mut self) -> Vec<u8> {
        let mut v = Vec::new();
        self.file.seek(SeekFrom::Start(0)).unwrap();
        self.file.read_to_end(&mut v).unwrap();
        v
    }

    fn needs_reset(&mut self) -> bool {
        self.rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET != 0
    }
}

fn tempfile() -> std::fs::File {
    let p = std::env::temp_dir().join(format!(
        "xtdm-blk-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&p)
        .unwrap();
    std::fs::remove_file(&p).unwrap();
    f
}

/// An Arm guest's slot: libxl's first SPI.
const SPI: u32 = 33;

#[test]
fn on_a_gic_the_interrupt_is_an_spi_and_the_window_libxls() {
    let mut b = Bed::on_gic();
    assert_eq!(b.dev.regions(), vec![crate::Region::Mmio(0x200)]);
    b.set_up();
    assert_eq!(b.rd(VIRTIO_MMIO_CONFIG), 64, "capacity in sectors");
    assert_eq!(
        b.request(VIRTIO_BLK_T_IN, 0, 512),
        (Some(513), VIRTIO_BLK_S_OK as u8)
    );
    assert!(
        b.actions.contains(&Action::Irq(SPI, true)),
        "{:?}",
        b.actions
    );
    assert!(
        !b.actions.iter().any(|a| matches!(a, Action::IsaIrq(..))),
        "no ISA line on Arm: {:?}",
        b.actions
    );
    // A second completion before the ack is a fresh rising edge (Xen's
    // vGIC injects on each rise and ignores falls).
    let n = b.actions.len();
    assert_eq!(
        b.request(VIRTIO_BLK_T_IN, 1, 512),
        (Some(513), VIRTIO_BLK_S_OK as u8)
    );
    assert_eq!(
        &b.actions[n..],
        &[Action::Irq(SPI, false), Action::Irq(SPI, true)],
        "a new cause while the line is up"
    );
    b.wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
    assert_eq!(b.actions.last(), Some(&Action::Irq(SPI, false)));
}

#[test]
fn a_driver_writes_and_reads_sectors_and_is_interrupted() {
    let mut b = Bed::new(false);
    b.set_up();
    assert_eq!(b.rd(VIRTIO_MMIO_CONFIG), 64, "capacity in sectors");
    b.mem
        .write_slice(&[0xab; 1024], GuestAddress(DATA))
        .unwrap();
    assert_eq!(
        b.request(VIRTIO_BLK_T_OUT, 2, 1024),
        (Some(1), VIRTIO_BLK_S_OK as u8)
    );
    assert!(
        b.actions.contains(&Action::IsaIrq(IRQ, true)),
        "{:?}",
        b.actions
    );
    assert_eq!(b.rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
    b.wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
    assert_eq!(b.actions.last(), Some(&Action::IsaIrq(IRQ, false)));
    let disk = b.disk();
    assert!(disk[1024..2048].iter().all(|&x| x == 0xab));
    assert!(disk[..1024]
        .iter()
        .enumerate()
        .all(|(i, &x)| x == (i / 512) as u8));
    assert!(disk[2048..]
        .iter()
        .enumerate()
        .all(|(i, &x)| x == (i / 512 + 4) as u8));
    b.mem.write_slice(&[0; 1536], GuestAddress(DATA)).unwrap();
    assert_eq!(
        b.request(VIRTIO_BLK_T_IN, 1, 1536),
        (Some(1537), VIRTIO_BLK_S_OK as u8)
    );
    let mut got = [0u8; 1536];
    b.mem.read_slice(&mut got, GuestAddress(DATA)).unwrap();
    assert!(got[..512].iter().all(|&x| x == 1));
    assert!(got[512..].iter().all(|&x| x == 0xab));
    assert_eq!(b.request(VIRTIO_BLK_T_FLUSH, 0, 0).1, VIRTIO_BLK_S_OK as u8);
    assert_eq!(b.request(99, 0, 512).1, VIRTIO_BLK_S_UNSUPP as u8);
    assert!(!b.needs_reset());
}

#[test]
fn a_read_only_disk_refuses_writes_and_stays_unchanged() {
    let mut b = Bed::new(true);
    b.set_up();
    let before = b.disk();
    b.mem.write_slice(&[0xcd; 512], GuestAddress(DATA)).unwrap();
    assert_eq!(
        b.request(VIRTIO_BLK_T_OUT, 0, 512).1,
        VIRTIO_BLK_S_IOERR as u8
    );
    assert_eq!(b.disk(), before);
    assert_eq!(b.request(VIRTIO_BLK_T_IN, 0, 512).1, VIRTIO_BLK_S_OK as u8);
}

#[test]
fn nothing_is_read_or_written_beyond_the_disk() {
    let mut b = Bed::new(false);
    b.set_up();
    let before = b.disk();
    for (sector, len) in [
        (63, 1024),
        (64, 512),
        (u64::MAX / 512, 512),
        (u64::MAX, 512),
    ] {
        assert_eq!(
            b.request(VIRTIO_BLK_T_OUT, sector, len).1,
            VIRTIO_BLK_S_IOERR as u8,
            "write at {sector}"
        );
        assert_eq!(
            b.request(VIRTIO_BLK_T_IN, sector, len).1,
            VIRTIO_BLK_S_IOERR as u8
        );
    }
    assert_eq!(b.disk(), before);
    // The last sector itself is fine.
    assert_eq!(b.request(VIRTIO_BLK_T_IN, 63, 512).1, VIRTIO_BLK_S_OK as u8);
}

#[test]
fn buffers_outside_guest_ram_fail_the_request() {
    let mut b = Bed::new(false);
    b.set_up();
    let before = b.disk();
    // Data beyond RAM.
    b.mem
        .write_obj(VIRTIO_BLK_T_OUT, GuestAddress(HDR))
        .unwrap();
    b.mem.write_obj(0u64, GuestAddress(HDR + 8)).unwrap();
    b.desc(0, HDR, 16, NEXT, 1);
    b.desc(1, RAM as u64 - 256, 512, NEXT, 2);
    b.desc(2, STATUS, 1, WRITE, 0);
    assert_eq!(b.submit(0), Some(1));
    assert_eq!(
        b.mem.read_obj::<u8>(GuestAddress(STATUS)).unwrap(),
        VIRTIO_BLK_S_IOERR as u8
    );
    // A length that wraps the address space.
    b.desc(1, u64::MAX - 16, 512, NEXT, 2);
    assert_eq!(b.submit(0), Some(1));
    // The status byte itself outside RAM: the request cannot be answered.
    b.desc(1, DATA, 512, NEXT, 2);
    b.desc(2, 1 << 40, 1, WRITE, 0);
    assert_eq!(b.submit(0), Some(0));
    assert_eq!(b.disk(), before);
    assert!(
        !b.needs_reset(),
        "bad buffers fail requests, not the device"
    );
    assert_eq!(b.request(VIRTIO_BLK_T_IN, 0, 512).1, VIRTIO_BLK_S_OK as u8);
}

#[test]
fn a_looping_chain_ends_and_the_device_keeps_serving() {
    let mut b = Bed::new(false);
    b.set_up();
    b.desc(0, HDR, 16, NEXT, 1);
    b.desc(1, DATA, 512, NEXT | WRITE, 0); // back to the head, forever
    assert_eq!(
        b.submit(0),
        Some(0),
        "no status byte: unanswerable, used with 0"
    );
    // A head beyond the queue.
    assert_eq!(b.submit(200), None);
    assert!(b.needs_reset(), "a head beyond the queue");
    b.wr(VIRTIO_MMIO_STATUS, 0);
    b.avail = 0;
    b.mem
        .write_slice(&[0u8; 0x3000], GuestAddress(DESC))
        .unwrap();
    b.set_up();
    assert_eq!(
        b.request(VIRTIO_BLK_T_IN, 5, 512),
        (Some(513), VIRTIO_BLK_S_OK as u8)
    );
}

#[test]
fn rule_breaking_drivers_get_needs_reset_and_a_reset_recovers() {
    let mut b = Bed::new(false);
    b.set_up();
    // An available index far ahead of the device.
    b.mem.write_obj(1000u16, GuestAddress(AVAIL + 2)).unwrap();
    b.wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    assert!(b.needs_reset(), "avail index beyond the queue");
    assert_ne!(
        b.rd(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG,
        0
    );
    // A notify for a queue that does not exist, after a reset.
    b.wr(VIRTIO_MMIO_STATUS, 0);
    b.mem.write_obj(0u16, GuestAddress(AVAIL + 2)).unwrap();
    b.mem.write_obj(0u16, GuestAddress(USED + 2)).unwrap();
    b.avail = 0;
    b.set_up();
    b.wr(VIRTIO_MMIO_QUEUE_NOTIFY, 7);
    assert!(b.needs_reset(), "queue 7");
    // DRIVER_OK before FEATURES_OK.
    b.wr(VIRTIO_MMIO_STATUS, 0);
    b.wr(
        VIRTIO_MMIO_STATUS,
        VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER,
    );
    b.wr(
        VIRTIO_MMIO_STATUS,
        VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_DRIVER_OK,
    );
    assert!(b.needs_reset(), "DRIVER_OK first");
    // Features the device never offered are not accepted.
    b.wr(VIRTIO_MMIO_STATUS, 0);
    b.wr(
        VIRTIO_MMIO_STATUS,
        VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER,
    );
    b.wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    b.wr(VIRTIO_MMIO_DRIVER_FEATURES, 1 | 1 << 20);
    b.wr(
        VIRTIO_MMIO_STATUS,
        VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK,
    );
    assert_eq!(b.rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
    // Rings outside RAM.
    b.wr(VIRTIO_MMIO_STATUS, 0);
    b.avail = 0;
    b.set_up();
    b.wr(VIRTIO_MMIO_STATUS, 0);
    b.wr(
        VIRTIO_MMIO_STATUS,
        VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER,
    );
    b.wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    b.wr(VIRTIO_MMIO_DRIVER_FEATURES, 1);
    let s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK;
    b.wr(VIRTIO_MMIO_STATUS, s);
    b.wr(VIRTIO_MMIO_QUEUE_NUM, 8);
    b.wr(VIRTIO_MMIO_QUEUE_DESC_LOW, 0xffff_f000);
    b.wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, AVAIL as u32);
    b.wr(VIRTIO_MMIO_QUEUE_USED_LOW, USED as u32);
    b.wr(VIRTIO_MMIO_QUEUE_READY, 1);
    b.wr(VIRTIO_MMIO_STATUS, s | VIRTIO_CONFIG_S_DRIVER_OK);
    b.wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    assert!(b.needs_reset(), "descriptor table outside RAM");
    // And a full reset brings it back.
    b.wr(VIRTIO_MMIO_STATUS, 0);
    b.mem.write_obj(0u16, GuestAddress(AVAIL + 2)).unwrap();
    b.mem.write_obj(0u16, GuestAddress(USED + 2)).unwrap();
    b.avail = 0;
    b.set_up();
    assert_eq!(
        b.request(VIRTIO_BLK_T_IN, 3, 512),
        (Some(513), VIRTIO_BLK_S_OK as u8)
    );
}

#[test]
fn a_request_of_too_many_descriptors_fails_with_its_status() {
    let mut b = Bed::new(false);
    b.set_up();
    let before = b.disk();
    // An indirect table of 200 one-byte data descriptors plus header and
    // status: more than seg_max.
    const TABLE: u64 = 0x20000;
    let n = 202u16;
    let put = |i: u16, addr: u64, len: u32, flags: u16, next: u16| {
        let at = TABLE + 16 * u64::from(i);
        b.mem.write_obj(addr, GuestAddress(at)).unwrap();
        b.mem.write_obj(len, GuestAddress(at + 8)).unwrap();
        b.mem.write_obj(flags, GuestAddress(at + 12)).unwrap();
        b.mem.write_obj(next, GuestAddress(at + 14)).unwrap();
    };
    put(0, HDR, 16, NEXT, 1);
    for i in 1..n - 1 {
        put(i, DATA + u64::from(i), 1, NEXT, i + 1);
    }
    put(n - 1, STATUS, 1, WRITE, 0);
    b.mem
        .write_obj(VIRTIO_BLK_T_OUT, GuestAddress(HDR))
        .unwrap();
    b.mem.write_obj(0u64, GuestAddress(HDR + 8)).unwrap();
    b.mem.write_obj(0xeeu8, GuestAddress(STATUS)).unwrap();
    const INDIRECT: u16 = 4;
    b.desc(0, TABLE, 16 * u32::from(n), INDIRECT, 0);
    assert_eq!(b.submit(0), Some(1));
    assert_eq!(
        b.mem.read_obj::<u8>(GuestAddress(STATUS)).unwrap(),
        VIRTIO_BLK_S_IOERR as u8
    );
    assert_eq!(b.disk(), before);
    assert!(!b.needs_reset());
}

#[test]
fn with_event_idx_the_device_says_where_it_is_so_the_driver_keeps_notifying() {
    // A driver with VIRTIO_RING_F_EVENT_IDX kicks only when its new
    // available index passes the device's avail_event (after the used
    // ring's entries); a device that never writes it gets one kick only.
    let mut b = Bed::new(false);
    b.set_up_with(1 << virtio_bindings::virtio_ring::VIRTIO_RING_F_EVENT_IDX);
    let avail_event = GuestAddress(USED + 4 + 8 * 8);
    for n in 1..=3u16 {
        assert_eq!(b.request(VIRTIO_BLK_T_IN, 0, 512).1, VIRTIO_BLK_S_OK as u8);
        assert_eq!(
            b.mem.read_obj::<u16>(avail_event).unwrap(),
            n,
            "after request {n}"
        );
    }
}

/// A device whose driver, on another vCPU, makes one more buffer available
/// each time the device serves its queue, `left` times.
struct Flood {
    left: u32,
    served: u32,
}

impl super::VirtioDevice for Flood {
    fn name(&self) -> &str {
        "flood"
    }
    fn device_id(&self) -> u32 {
        4
    }
    fn features(&self) -> u64 {
        0
    }
    fn queue_max_sizes(&self) -> &[u16] {
        &[8]
    }
    fn read_config(&self, _: u64, data: &mut [u8]) {
        data.fill(0);
    }
    fn process(
        &mut self,
        _: usize,
        queue: &mut virtio_queue::Queue,
        mem: &GuestMemoryMmap,
    ) -> Result<bool, super::DeviceError> {
        let served = &mut self.served;
        let used = super::serve_chains(
            queue,
            mem,
            1,
            1,
            |_, _| {
                *served += 1;
                0
            },
            || false,
        )?;
        if self.left > 0 {
            self.left -= 1;
            let idx: u16 = mem.read_obj(GuestAddress(AVAIL + 2)).unwrap();
            mem.write_obj(0u16, GuestAddress(AVAIL + 4 + 2 * u64::from(idx % 8)))
                .unwrap();
            mem.write_obj(idx.wrapping_add(1), GuestAddress(AVAIL + 2))
                .unwrap();
        }
        Ok(used)
    }
}

#[test]
fn buffers_a_driver_keeps_adding_are_served_later_not_forgotten() {
    // One notify serves a bounded number of rounds (another vCPU adding
    // buffers forever cannot hold the device model); what is left must be
    // served before the device model sleeps, or a driver that was told the
    // device is on it (EVENT_IDX) waits for good.
    let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), RAM)]).unwrap();
    let mut actions = Vec::new();
    let mut dev = VirtioMmio::new(
        Flood {
            left: 100,
            served: 0,
        },
        IRQ,
    );
    let mut wr = |dev: &mut VirtioMmio<Flood>, reg: u32, v: u32| {
        let mut ctx = Ctx::new(&mut actions, None).with_memory(Some(&mem));
        let a = Access {
            space: Space::Mmio(0),
            addr: u64::from(reg),
            size: 4,
        };
        dev.write(a, u64::from(v), &mut ctx);
    };
    let s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
    wr(&mut dev, VIRTIO_MMIO_STATUS, s);
    wr(&mut dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    wr(&mut dev, VIRTIO_MMIO_DRIVER_FEATURES, 1);
    wr(
        &mut dev,
        VIRTIO_MMIO_STATUS,
        s | VIRTIO_CONFIG_S_FEATURES_OK,
    );
    wr(&mut dev, VIRTIO_MMIO_QUEUE_NUM, 8);
    wr(&mut dev, VIRTIO_MMIO_QUEUE_DESC_LOW, DESC as u32);
    wr(&mut dev, VIRTIO_MMIO_QUEUE_AVAIL_LOW, AVAIL as u32);
    wr(&mut dev, VIRTIO_MMIO_QUEUE_USED_LOW, USED as u32);
    wr(&mut dev, VIRTIO_MMIO_QUEUE_READY, 1);
    let s = s | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
    wr(&mut dev, VIRTIO_MMIO_STATUS, s);
    // Descriptor 0: one byte for the device; offered once.
    mem.write_obj(DATA, GuestAddress(DESC)).unwrap();
    mem.write_obj(1u32, GuestAddress(DESC + 8)).unwrap();
    mem.write_obj(WRITE, GuestAddress(DESC + 12)).unwrap();
    mem.write_obj(0u16, GuestAddress(AVAIL + 4)).unwrap();
    mem.write_obj(1u16, GuestAddress(AVAIL + 2)).unwrap();
    wr(&mut dev, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    let served = dev.device().served;
    assert!(
        (1..101).contains(&served),
        "one notify is bounded: served {served}"
    );
    assert!(dev.has_deferred(), "the rest is left pending");
    let mut turns = 0;
    while dev.has_deferred() {
        let mut ctx = Ctx::new(&mut actions, None).with_memory(Some(&mem));
        dev.serve_deferred(&mut ctx);
        turns += 1;
        assert!(turns < 1000, "deferred work ends when the driver stops");
    }
    assert_eq!(dev.device().served, 101, "every buffer served");
    let used: u16 = mem.read_obj(GuestAddress(USED + 2)).unwrap();
    assert_eq!(used, 101);
    assert!(
        actions.contains(&Action::IsaIrq(IRQ, true)),
        "the driver is interrupted"
    );
}

#[test]
fn a_chain_too_long_to_walk_is_used_unanswered() {
    // An indirect table of 2000 descriptors: the device stops looking for
    // the status byte after a bound, instead of walking every descriptor
    // of every such request; the request is used with nothing written.
    let mut b = Bed::new(false);
    b.set_up();
    let before = b.disk();
    const TABLE: u64 = 0x20000;
    let n = 2000u16;
    for i in 0..n {
        let at = TABLE + 16 * u64::from(i);
        let (addr, flags) = match i {
            0 => (HDR, NEXT),
            i if i == n - 1 => (STATUS, WRITE),
            _ => (DATA, NEXT),
        };
        b.mem.write_obj(addr, GuestAddress(at)).unwrap();
        b.mem
            .write_obj(if i == 0 { 16u32 } else { 1 }, GuestAddress(at + 8))
            .unwrap();
        b.mem.write_obj(flags, GuestAddress(at + 12)).unwrap();
        b.mem.write_obj(i + 1, GuestAddress(at + 14)).unwrap();
    }
    b.mem
        .write_obj(VIRTIO_BLK_T_OUT, GuestAddress(HDR))
        .unwrap();
    b.mem.write_obj(0u64, GuestAddress(HDR + 8)).unwrap();
    b.mem.write_obj(0xeeu8, GuestAddress(STATUS)).unwrap();
    const INDIRECT: u16 = 4;
    b.desc(0, TABLE, 16 * u32::from(n), INDIRECT, 0);
    assert_eq!(b.submit(0), Some(0), "used, nothing written");
    assert_eq!(
        b.mem.read_obj::<u8>(GuestAddress(STATUS)).unwrap(),
        0xee,
        "its end was never reached"
    );
    assert_eq!(b.disk(), before);
    assert!(!b.needs_reset());
    assert_eq!(b.dev.device().counts()[3], 1, "counted as unanswered");
    // The device goes on serving.
    assert_eq!(b.request(VIRTIO_BLK_T_IN, 0, 512).1, VIRTIO_BLK_S_OK as u8);
}

#[test]
fn a_doorbell_is_a_queue_notify_the_kernel_answered() {
    // With an ioeventfd the guest's QueueNotify write never reaches the
    // device as an access; the loop rings the doorbell instead.
    let mut b = Bed::new(false);
    b.set_up();
    assert_eq!(
        b.dev.doorbells(),
        vec![(
            0,
            xendevicemodel::IoeventfdMatch::MmioQueueNotify {
                base: 0,
                len: 4,
                queue: 0
            }
        )],
        "at the start of its region, wherever that is"
    );
    b.mem.write_obj(VIRTIO_BLK_T_IN, GuestAddress(HDR)).unwrap();
    b.mem.write_obj(3u64, GuestAddress(HDR + 8)).unwrap();
    b.mem.write_obj(0xeeu8, GuestAddress(STATUS)).unwrap();
    b.desc(0, HDR, 16, NEXT, 1);
    b.desc(1, DATA, 512, NEXT | WRITE, 2);
    b.desc(2, STATUS, 1, WRITE, 0);
    b.mem.write_obj(0u16, GuestAddress(AVAIL + 4)).unwrap();
    b.mem.write_obj(1u16, GuestAddress(AVAIL + 2)).unwrap();
    let mut ctx = Ctx::new(&mut b.actions, None).with_memory(Some(&b.mem));
    b.dev.doorbell(0, &mut ctx);
    assert_eq!(b.mem.read_obj::<u16>(GuestAddress(USED + 2)).unwrap(), 1);
    assert_eq!(
        b.mem.read_obj::<u8>(GuestAddress(STATUS)).unwrap(),
        VIRTIO_BLK_S_OK as u8
    );
    assert_eq!(
        b.mem.read_obj::<u8>(GuestAddress(DATA)).unwrap(),
        3,
        "sector 3's bytes"
    );
    assert!(b.actions.contains(&Action::IsaIrq(IRQ, true)));
}

#[test]
fn a_chain_cut_short_is_not_answered_into_its_data_buffer() {
    // Header, then a writable data buffer whose next index is beyond the
    // queue: virtio-queue ends the chain there. Its last descriptor still
    // says "next", so it is no status byte: the request is used
    // unanswered and the data buffer is left alone (not "OK" in its last byte).
    let mut b = Bed::new(false);
    b.set_up();
    b.mem.write_obj(VIRTIO_BLK_T_IN, GuestAddress(HDR)).unwrap();
    b.mem.write_obj(0u64, GuestAddress(HDR + 8)).unwrap();
    b.mem.write_slice(&[0xee; 512], GuestAddress(DATA)).unwrap();
    b.desc(0, HDR, 16, NEXT, 1);
    b.desc(1, DATA, 512, NEXT | WRITE, 200);
    assert_eq!(b.submit(0), Some(0), "used, nothing written");
    let mut data = [0u8; 512];
    b.mem.read_slice(&mut data, GuestAddress(DATA)).unwrap();
    assert_eq!(data, [0xee; 512], "the data buffer is untouched");
    assert_eq!(b.request(VIRTIO_BLK_T_IN, 0, 512).1, VIRTIO_BLK_S_OK as u8);
}

#[test]
fn one_turn_of_the_queue_moves_a_bounded_number_of_bytes() {
    // Four requests asking for 512 MiB each (failed: more than the device
    // takes): a turn stops once what it was asked to move passes its budget,
    // and the rest stays available for the next turn.
    use super::VirtioDevice;
    use virtio_queue::{Queue, QueueT};
    let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), RAM)]).unwrap();
    let disk = BlockBackend::from_file(tempfile(), DISK, false, std::path::Path::new("d")).unwrap();
    let mut blk = VirtioBlk::new(disk);
    let mut q = Queue::new(16).unwrap();
    q.set_size(16);
    q.set_desc_table_address(Some(DESC as u32), Some(0));
    q.set_avail_ring_address(Some(AVAIL as u32), Some(0));
    q.set_used_ring_address(Some(USED as u32), Some(0));
    q.set_ready(true);
    mem.write_obj(VIRTIO_BLK_T_IN, GuestAddress(HDR)).unwrap();
    for r in 0..4u16 {
        let d = 3 * r;
        for (i, (addr, len, flags)) in [
            (HDR, 16u32, NEXT),
            (DATA, 0x2000_0000, NEXT | WRITE),
            (STATUS + u64::from(r), 1, WRITE),
        ]
        .into_iter()
        .enumerate()
        {
            let at = DESC + 16 * u64::from(d + i as u16);
            mem.write_obj(addr, GuestAddress(at)).unwrap();
            mem.write_obj(len, GuestAddress(at + 8)).unwrap();
            mem.write_obj(flags, GuestAddress(at + 12)).unwrap();
            mem.write_obj(d + i as u16 + 1, GuestAddress(at + 14))
                .unwrap();
        }
        mem.write_obj(d, GuestAddress(AVAIL + 4 + 2 * u64::from(r)))
            .unwrap();
    }
    mem.write_obj(4u16, GuestAddress(AVAIL + 2)).unwrap();
    assert_eq!(blk.process(0, &mut q, &mem), Ok(true));
    let used: u16 = mem.read_obj(GuestAddress(USED + 2)).unwrap();
    assert_eq!(used, 1, "the first request spent the turn's budget");
    assert_eq!(
        mem.read_obj::<u8>(GuestAddress(STATUS)).unwrap(),
        VIRTIO_BLK_S_IOERR as u8,
        "over seg_max x size_max: failed"
    );
    assert_eq!(blk.process(0, &mut q, &mem), Ok(true));
    let used: u16 = mem.read_obj(GuestAddress(USED + 2)).unwrap();
    assert_eq!(used, 2, "the next turn takes the next");
}

#[test]
fn virtio_pci_is_driven_as_linux_drives_it() {
    use super::pci::{common, VirtioPci};
    let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), RAM)]).unwrap();
    let mut file = tempfile();
    file.write_all(&(0..DISK).map(|i| (i / 512) as u8).collect::<Vec<_>>())
        .unwrap();
    let disk = BlockBackend::from_file(file, DISK, false, std::path::Path::new("d")).unwrap();
    let mut dev = VirtioPci::new(VirtioBlk::new(disk), 4, 10);
    let mut actions = Vec::new();
    let io = |dev: &mut VirtioPci<VirtioBlk>,
              actions: &mut Vec<Action>,
              off: u64,
              size: u8,
              w: Option<u64>| {
        let mut ctx = Ctx::new(actions, Some(4)).with_memory(Some(&mem));
        let a = Access {
            space: Space::Bar(0),
            addr: off,
            size,
        };
        match w {
            Some(v) => {
                dev.write(a, v, &mut ctx);
                0
            }
            None => dev.read(a, &mut ctx),
        }
    };
    // Config space: ids, INTA on line 10, and the four structures found
    // the way Linux's virtio_pci_modern does, walking vendor capabilities.
    let f = dev.pci().unwrap();
    assert_eq!(f.read(0, 4), 0x1042_1af4);
    assert_eq!(f.read(0x3c, 2), 0x010a, "pin A, line 10");
    let mut types = Vec::new();
    let mut at = f.read(0x34, 1) as u16;
    while at != 0 {
        // Vendor-specific (virtio's); the one other is MSI-X.
        if f.read(at, 1) == 0x09 {
            types.push((f.read(at + 3, 1), f.read(at + 8, 4)));
        } else {
            assert_eq!(f.read(at, 1), 0x11, "MSI-X");
        }
        at = f.read(at + 1, 1) as u16;
    }
    assert_eq!(
        types,
        vec![(1, 0), (2, 0x3000), (3, 0x1000), (4, 0x2000), (5, 0)]
    );
    // Memory decoding and bus mastering on, as Linux's pci_enable_device
    // and pci_set_master do.
    dev.pci().unwrap().write(0x04, 2, 0x6);
    // Negotiation and queue 0.
    let s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
    io(
        &mut dev,
        &mut actions,
        common::STATUS,
        1,
        Some(u64::from(s)),
    );
    io(&mut dev, &mut actions, common::DFSELECT, 4, Some(1));
    assert_eq!(
        io(&mut dev, &mut actions, common::DF, 4, None) & 1,
        1,
        "VERSION_1"
    );
    io(&mut dev, &mut actions, common::GFSELECT, 4, Some(1));
    io(&mut dev, &mut actions, common::GF, 4, Some(1));
    let s = s | VIRTIO_CONFIG_S_FEATURES_OK;
    io(
        &mut dev,
        &mut actions,
        common::STATUS,
        1,
        Some(u64::from(s)),
    );
    assert_eq!(
        io(&mut dev, &mut actions, common::STATUS, 1, None),
        u64::from(s)
    );
    assert_eq!(io(&mut dev, &mut actions, common::NUMQ, 2, None), 1);
    io(&mut dev, &mut actions, common::Q_SELECT, 2, Some(0));
    assert_eq!(io(&mut dev, &mut actions, common::Q_SIZE, 2, None), 256);
    assert_eq!(
        io(&mut dev, &mut actions, common::Q_MSIX, 2, None),
        0xffff,
        "no vector until the driver assigns one"
    );
    io(&mut dev, &mut actions, common::Q_SIZE, 2, Some(8));
    io(&mut dev, &mut actions, common::Q_DESCLO, 4, Some(DESC));
    io(&mut dev, &mut actions, common::Q_DESCLO + 4, 4, Some(0));
    io(&mut dev, &mut actions, common::Q_AVAILLO, 4, Some(AVAIL));
    io(&mut dev, &mut actions, common::Q_USEDLO, 4, Some(USED));
    io(&mut dev, &mut actions, common::Q_ENABLE, 2, Some(1));
    assert_eq!(io(&mut dev, &mut actions, common::Q_DESCLO, 4, None), DESC);
    io(
        &mut dev,
        &mut actions,
        common::STATUS,
        1,
        Some(u64::from(s | VIRTIO_CONFIG_S_DRIVER_OK)),
    );
    assert_eq!(
        io(&mut dev, &mut actions, 0x2000, 4, None),
        DISK / 512,
        "capacity"
    );
    // A read of sector 3, notified at queue 0's address.
    mem.write_obj(VIRTIO_BLK_T_IN, GuestAddress(HDR)).unwrap();
    mem.write_obj(3u64, GuestAddress(HDR + 8)).unwrap();
    for (i, (addr, len, flags)) in [
        (HDR, 16u32, NEXT),
        (DATA, 512, NEXT | WRITE),
        (STATUS, 1, WRITE),
    ]
    .into_iter()
    .enumerate()
    {
        let d = DESC + 16 * i as u64;
        mem.write_obj(addr, GuestAddress(d)).unwrap();
        mem.write_obj(len, GuestAddress(d + 8)).unwrap();
        mem.write_obj(flags, GuestAddress(d + 12)).unwrap();
        mem.write_obj(i as u16 + 1, GuestAddress(d + 14)).unwrap();
    }
    mem.write_obj(1u16, GuestAddress(AVAIL + 2)).unwrap();
    io(&mut dev, &mut actions, 0x3000, 2, Some(0));
    assert_eq!(mem.read_obj::<u16>(GuestAddress(USED + 2)).unwrap(), 1);
    assert_eq!(mem.read_obj::<u8>(GuestAddress(STATUS)).unwrap(), 0);
    assert_eq!(mem.read_obj::<u8>(GuestAddress(DATA)).unwrap(), 3);
    // INTA rose; reading the ISR says why and drops it.
    assert_eq!(actions, vec![Action::PciIntx(4, 0, true)]);
    actions.clear();
    assert_eq!(
        io(&mut dev, &mut actions, 0x1000, 1, None),
        1,
        "a used ring moved"
    );
    assert_eq!(actions, vec![Action::PciIntx(4, 0, false)]);
    assert_eq!(
        io(&mut dev, &mut actions, 0x1000, 1, None),
        0,
        "read to clear"
    );
    // Without bus mastering the queue is left alone.
    dev.pci().unwrap().write(0x04, 2, 0x2);
    mem.write_obj(2u16, GuestAddress(AVAIL + 2)).unwrap();
    io(&mut dev, &mut actions, 0x3000, 2, Some(0));
    assert_eq!(
        mem.read_obj::<u16>(GuestAddress(USED + 2)).unwrap(),
        1,
        "not served"
    );
    dev.pci().unwrap().write(0x04, 2, 0x6);
    // Rule breaks: a live queue changed, a missing queue notified.
    io(&mut dev, &mut actions, common::Q_SIZE, 2, Some(4));
    assert_ne!(
        io(&mut dev, &mut actions, common::STATUS, 1, None) & 0x40,
        0,
        "NEEDS_RESET"
    );
    io(&mut dev, &mut actions, common::STATUS, 1, Some(0));
    assert_eq!(
        io(&mut dev, &mut actions, common::STATUS, 1, None),
        0,
        "reset"
    );
    assert_eq!(
        io(&mut dev, &mut actions, common::Q_SIZE, 2, None),
        256,
        "the queue reset too"
    );
}

/// A machine with a virtio-blk (an empty disk) on virtio-pci at 00:04.0.
fn pci_blk_machine() -> crate::Machine {
    use super::pci::VirtioPci;
    let mut file = tempfile();
    file.write_all(&vec![0u8; DISK as usize]).unwrap();
    let disk = BlockBackend::from_file(file, DISK, false, std::path::Path::new("d")).unwrap();
    crate::Machine::new(vec![crate::Placed::pci(VirtioPci::new(
        VirtioBlk::new(disk),
        4,
        10,
    ))])
    .unwrap()
}

/// `VIRTIO_PCI_CAP_PCI_CFG`: the BAR reached through config space alone,
/// as firmware does when the BAR is out of its reach (memory decoding off
/// here), routed by the machine to the device; accesses the window cannot
/// make do nothing and read all ones.
#[test]
fn virtio_pci_cfg_window_reaches_the_bar() {
    use super::pci::{common, CAP_PCI_CFG};
    let mut m = pci_blk_machine();
    let sbdf = dmop_abi::dmop::pci_sbdf(0, 0, 4, 0) as u32;
    let mut cfg = |reg: u16, size: u8, w: Option<u32>| m.pci_config(sbdf, reg, size, w).0;
    // Find the capability as a driver would.
    let mut at = cfg(0x34, 1, None) as u16;
    while at != 0 && cfg(at + 3, 1, None) != u64::from(CAP_PCI_CFG) {
        at = cfg(at + 1, 1, None) as u16;
    }
    assert_ne!(at, 0, "a VIRTIO_PCI_CAP_PCI_CFG capability");
    assert_eq!(cfg(at + 2, 1, None), 20, "cap_len covers pci_cfg_data");
    let (bar, offset, length, data) = (at + 4, at + 8, at + 12, at + 16);
    // The capacity (device config at 0x2000), 4 bytes.
    cfg(bar, 1, Some(0));
    cfg(offset, 4, Some(0x2000));
    cfg(length, 4, Some(4));
    assert_eq!(
        cfg(offset, 4, None),
        0x2000,
        "the driver's registers read back"
    );
    assert_eq!(
        cfg(data, 4, None),
        DISK / 512,
        "capacity through the window"
    );
    // A write: the device status, one byte, then read back in the BAR.
    cfg(offset, 4, Some(common::STATUS as u32));
    cfg(length, 4, Some(1));
    cfg(data, 1, Some(VIRTIO_CONFIG_S_ACKNOWLEDGE));
    assert_eq!(cfg(data, 1, None), u64::from(VIRTIO_CONFIG_S_ACKNOWLEDGE));
    // cap.length 1: a write takes the first byte of pci_cfg_data (the
    // status again), a read fills only that byte.
    cfg(data, 4, Some(0xaabb_cc00 | VIRTIO_CONFIG_S_ACKNOWLEDGE));
    assert_eq!(
        cfg(data, 4, None),
        u64::from(0xaabb_cc00 | VIRTIO_CONFIG_S_ACKNOWLEDGE),
        "the rest of pci_cfg_data is left alone"
    );
    // What the window cannot do: another BAR, length 3, misaligned, past the BAR.
    for (b, o, l) in [
        (1u32, 0u32, 4u32),
        (0, 0, 3),
        (0, 2, 4),
        (0, 0x8000, 4),
        (0, 0xffff_fffe, 2),
    ] {
        cfg(bar, 1, Some(b));
        cfg(offset, 4, Some(o));
        cfg(length, 4, Some(l));
        cfg(data, 4, Some(0));
        assert_eq!(
            cfg(data, 4, None),
            0xffff_ffff,
            "bar {b} offset {o:#x} length {l}"
        );
    }
    // The status was not touched by any of them.
    cfg(bar, 1, Some(0));
    cfg(offset, 4, Some(common::STATUS as u32));
    cfg(length, 4, Some(1));
    assert_eq!(cfg(data, 1, None), u64::from(VIRTIO_CONFIG_S_ACKNOWLEDGE));
    // The header outside the window is the function's own, read-only.
    assert_eq!(cfg(0, 4, None), 0x1042_1af4);
}

/// MSI-X on virtio-pci, driven as Linux's virtio_pci and MSI-X code do:
/// the capability, vectors assigned and read back, the table programmed,
/// then every event a message to the address and data of its vector;
/// masked vectors (one, or the whole function) keep theirs pending until
/// unmasked; a vector the table lacks reads back as none; INTx before
/// MSI-X is enabled and never after; a reset unassigns the vectors.
#[test]
fn virtio_pci_msix_sends_each_event_to_its_vector() {
    use super::pci::{common, VirtioPci, NO_VECTOR, PCI_CAP_ID_MSIX};
    let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), RAM)]).unwrap();
    let mut file = tempfile();
    file.write_all(&vec![7u8; DISK as usize]).unwrap();
    let disk = BlockBackend::from_file(file, DISK, false, std::path::Path::new("d")).unwrap();
    let mut dev = VirtioPci::new(VirtioBlk::new(disk), 4, 10);
    // An access as the machine makes it: config registers in the
    // function's windows reach the device, the rest its header.
    let io = |dev: &mut VirtioPci<VirtioBlk>, space: Space, off: u64, size: u8, w: Option<u64>| {
        let mut actions = Vec::new();
        if space == Space::Config && !dev.pci().unwrap().in_window(off as u16, size) {
            let f = dev.pci().unwrap();
            return match w {
                Some(v) => {
                    f.write(off as u16, size, v as u32);
                    (0, Vec::new())
                }
                None => (u64::from(f.read(off as u16, size)), Vec::new()),
            };
        }
        let mut ctx = Ctx::new(&mut actions, Some(4)).with_memory(Some(&mem));
        let a = Access {
            space,
            addr: off,
            size,
        };
        let v = match w {
            Some(v) => {
                dev.write(a, v, &mut ctx);
                0
            }
            None => dev.read(a, &mut ctx),
        };
        (v, actions)
    };
    let bar = Space::Bar(0);
    let cfg = Space::Config;
    // The capability: 2 vectors (queue 0 and configuration), table and
    // pending bits in BAR 0.
    let mut cap = io(&mut dev, cfg, 0x34, 1, None).0;
    while cap != 0 && io(&mut dev, cfg, cap, 1, None).0 != u64::from(PCI_CAP_ID_MSIX) {
        cap = io(&mut dev, cfg, cap + 1, 1, None).0;
    }
    assert_ne!(cap, 0, "an MSI-X capability");
    assert_eq!(
        io(&mut dev, cfg, cap + 2, 2, None).0,
        1,
        "table size 2, disabled"
    );
    assert_eq!(
        io(&mut dev, cfg, cap + 4, 4, None).0,
        0x4000,
        "table in BAR 0"
    );
    assert_eq!(
        io(&mut dev, cfg, cap + 8, 4, None).0,
        0x5000,
        "pending bits in BAR 0"
    );
    io(&mut dev, cfg, 0x04, 2, Some(0x6));
    // Set up queue 0 (as in the INTx test), with vectors.
    let s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
    io(&mut dev, bar, common::STATUS, 1, Some(u64::from(s)));
    io(&mut dev, bar, common::GFSELECT, 4, Some(1));
    io(&mut dev, bar, common::GF, 4, Some(1));
    let s = s | VIRTIO_CONFIG_S_FEATURES_OK;
    io(&mut dev, bar, common::STATUS, 1, Some(u64::from(s)));
    io(&mut dev, bar, common::MSIX, 2, Some(1));
    assert_eq!(
        io(&mut dev, bar, common::MSIX, 2, None).0,
        1,
        "config vector 1"
    );
    io(&mut dev, bar, common::Q_SELECT, 2, Some(0));
    io(&mut dev, bar, common::Q_MSIX, 2, Some(2));
    assert_eq!(
        io(&mut dev, bar, common::Q_MSIX, 2, None).0,
        u64::from(NO_VECTOR),
        "a vector the table lacks is refused"
    );
    io(&mut dev, bar, common::Q_MSIX, 2, Some(0));
    assert_eq!(io(&mut dev, bar, common::Q_MSIX, 2, None).0, 0);
    io(&mut dev, bar, common::Q_SIZE, 2, Some(8));
    io(&mut dev, bar, common::Q_DESCLO, 4, Some(DESC));
    io(&mut dev, bar, common::Q_AVAILLO, 4, Some(AVAIL));
    io(&mut dev, bar, common::Q_USEDLO, 4, Some(USED));
    io(&mut dev, bar, common::Q_ENABLE, 2, Some(1));
    io(
        &mut dev,
        bar,
        common::STATUS,
        1,
        Some(u64::from(s | VIRTIO_CONFIG_S_DRIVER_OK)),
    );
    // The table: vector 0 to 0xfee00000/0x41 (as a qword), vector 1 to
    // 0xfee01000/0x42, both still masked (their reset state).
    let t = 0x4000u64;
    io(&mut dev, bar, t, 8, Some(0xfee0_0000));
    io(&mut dev, bar, t + 8, 4, Some(0x41));
    io(&mut dev, bar, t + 16, 4, Some(0xfee0_1000));
    io(&mut dev, bar, t + 24, 4, Some(0x42));
    assert_eq!(io(&mut dev, bar, t + 12, 4, None).0, 1, "masked at reset");
    assert_eq!(io(&mut dev, bar, t, 8, None).0, 0xfee0_0000);
    // One request of sector `n`, served on its notify; what it sent.
    let mut avail = 0u16;
    let mut request = |dev: &mut VirtioPci<VirtioBlk>, n: u64| {
        mem.write_obj(VIRTIO_BLK_T_IN, GuestAddress(HDR)).unwrap();
        mem.write_obj(n, GuestAddress(HDR + 8)).unwrap();
        for (i, (addr, len, flags)) in [
            (HDR, 16u32, NEXT),
            (DATA, 512, NEXT | WRITE),
            (STATUS, 1, WRITE),
        ]
        .into_iter()
        .enumerate()
        {
            let d = DESC + 16 * i as u64;
            mem.write_obj(addr, GuestAddress(d)).unwrap();
            mem.write_obj(len, GuestAddress(d + 8)).unwrap();
            mem.write_obj(flags, GuestAddress(d + 12)).unwrap();
            mem.write_obj(i as u16 + 1, GuestAddress(d + 14)).unwrap();
        }
        mem.write_obj(0u16, GuestAddress(AVAIL + 4 + 2 * u64::from(avail % 8)))
            .unwrap();
        avail += 1;
        mem.write_obj(avail, GuestAddress(AVAIL + 2)).unwrap();
        let sent = io(dev, bar, 0x3000, 2, Some(0)).1;
        assert_eq!(
            mem.read_obj::<u16>(GuestAddress(USED + 2)).unwrap(),
            avail,
            "served"
        );
        sent
    };
    // MSI-X disabled: INTx.
    assert_eq!(request(&mut dev, 1), vec![Action::PciIntx(4, 0, true)]);
    assert_eq!(
        io(&mut dev, bar, 0x1000, 1, None).0,
        1,
        "the ISR's queue bit"
    );
    // Raised again, and left up for the enable to drop.
    assert_eq!(request(&mut dev, 1), vec![Action::PciIntx(4, 0, true)]);
    // Enabled with the function masked: the line drops, and the message
    // waits in the pending bits.
    assert_eq!(
        io(&mut dev, cfg, cap + 2, 2, Some(0xc000)).1,
        vec![Action::PciIntx(4, 0, false)]
    );
    assert_eq!(io(&mut dev, cfg, cap + 2, 2, None).0, 0xc001);
    assert_eq!(
        io(&mut dev, cfg, cap, 4, None).0 >> 16,
        0xc001,
        "the header's copy, for a read across the window's edge"
    );
    io(&mut dev, bar, t + 12, 4, Some(0));
    io(&mut dev, bar, t + 28, 4, Some(0));
    assert_eq!(request(&mut dev, 2), vec![], "function masked");
    assert_eq!(io(&mut dev, bar, 0x5000, 4, None).0, 1, "vector 0 pending");
    assert_eq!(
        io(&mut dev, cfg, cap + 3, 1, Some(0x80)).1,
        vec![Action::Msi(0xfee0_0000, 0x41)],
        "unmasking the function sends it"
    );
    assert_eq!(io(&mut dev, bar, 0x5000, 4, None).0, 0);
    // Unmasked: each request is a message, never INTx.
    assert_eq!(request(&mut dev, 3), vec![Action::Msi(0xfee0_0000, 0x41)]);
    // Vector 0 masked alone: pending, then sent on unmask.
    io(&mut dev, bar, t + 12, 4, Some(1));
    assert_eq!(request(&mut dev, 4), vec![]);
    assert_eq!(io(&mut dev, bar, 0x5000, 8, None).0, 1);
    assert_eq!(
        io(&mut dev, bar, t + 12, 4, Some(0)).1,
        vec![Action::Msi(0xfee0_0000, 0x41)]
    );
    // A message Xen remaps to a pirq (vector byte 0, as a Linux HVM guest
    // on Xen's pirqs writes it, never touching the mask bits) is sent
    // though its vector is masked.
    io(&mut dev, bar, t + 8, 4, Some(0));
    io(&mut dev, bar, t, 4, Some(0xfee0_5000));
    io(&mut dev, bar, t + 12, 4, Some(1));
    assert_eq!(
        request(&mut dev, 5),
        vec![Action::Msi(0xfee0_5000, 0)],
        "a pirq message ignores the mask bit"
    );
    // Without bus mastering no message goes (an MSI is a memory write): a
    // rule break, a configuration change for vector 1, waits pending...
    io(&mut dev, cfg, 0x04, 2, Some(0x2));
    assert_eq!(
        io(&mut dev, bar, common::Q_SIZE, 2, Some(4)).1,
        vec![],
        "no message without bus mastering"
    );
    assert_eq!(io(&mut dev, bar, 0x5000, 4, None).0, 2, "vector 1 pending");
    // ... and goes once mastering is back and the vector is looked at.
    io(&mut dev, cfg, 0x04, 2, Some(0x6));
    io(&mut dev, bar, t + 28, 4, Some(1));
    assert_eq!(
        io(&mut dev, bar, t + 28, 4, Some(0)).1,
        vec![Action::Msi(0xfee0_1000, 0x42)]
    );
    assert_eq!(
        io(&mut dev, bar, 0x1000, 1, None).0,
        3,
        "the ISR's configuration bit (the queue bit is the INTx request's)"
    );
    // A reset unassigns both vectors; the table stays.
    io(&mut dev, bar, common::STATUS, 1, Some(0));
    assert_eq!(
        io(&mut dev, bar, common::MSIX, 2, None).0,
        u64::from(NO_VECTOR)
    );
    assert_eq!(
        io(&mut dev, bar, common::Q_MSIX, 2, None).0,
        u64::from(NO_VECTOR)
    );
    assert_eq!(
        io(&mut dev, bar, t, 4, None).0,
        0xfee0_5000,
        "the table stays"
    );
}

/// The machine puts a device's doorbells where the board placed its
/// region, and routes its accesses there as offsets.
#[test]
fn the_machine_places_doorbells_and_accesses_where_the_region_sits() {
    use super::VirtioRng;
    let rng = VirtioRng::new(std::fs::File::open("/dev/urandom").unwrap());
    let mut m =
        crate::Machine::new(vec![crate::Placed::at(VirtioMmio::new(rng, IRQ), &[BASE])]).unwrap();
    assert_eq!(m.mmio_ranges(), vec![BASE..=BASE + 0xfff]);
    assert_eq!(
        m.doorbells(),
        vec![(
            0,
            0,
            xendevicemodel::IoeventfdMatch::MmioQueueNotify {
                base: BASE,
                len: 4,
                queue: 0
            }
        )]
    );
    assert_eq!(
        m.mmio(BASE + u64::from(VIRTIO_MMIO_MAGIC_VALUE), 4, None),
        0x7472_6976,
        "\"virt\" at the placed base"
    );
    assert_eq!(m.mmio(BASE - 4, 4, None), 0xffff_ffff, "nothing below it");
}

/// A dword config write at the MSI-X capability (id, next pointer and
/// message control at once) reaches the device's message control through
/// the machine; the read-only bytes stay.
#[test]
fn a_dword_write_across_msix_control_reaches_the_device() {
    use super::pci::PCI_CAP_ID_MSIX;
    let mut m = pci_blk_machine();
    let sbdf = dmop_abi::dmop::pci_sbdf(0, 0, 4, 0) as u32;
    let mut cfg = |reg: u16, size: u8, w: Option<u32>| m.pci_config(sbdf, reg, size, w).0;
    let mut cap = cfg(0x34, 1, None) as u16;
    while cap != 0 && cfg(cap, 1, None) != u64::from(PCI_CAP_ID_MSIX) {
        cap = cfg(cap + 1, 1, None) as u16;
    }
    assert_ne!(cap, 0);
    let head = cfg(cap, 4, None) as u32;
    cfg(cap, 4, Some((0x8000 << 16) | 0xffff));
    assert_eq!(cfg(cap + 2, 2, None), 0x8001, "enabled, table size kept");
    assert_eq!(
        cfg(cap, 4, None) as u32,
        (head & 0xffff) | (0x8001 << 16),
        "id and next pointer read-only"
    );
}
