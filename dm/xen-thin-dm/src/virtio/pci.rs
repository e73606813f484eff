// SPDX-License-Identifier: MIT
//! The virtio-pci transport, modern interface (virtio 1.x, section 4.1):
//! a PCI function (vendor 0x1af4, device 0x1040 + the virtio id) whose
//! capabilities point into one 16 KiB memory BAR the guest places:
//!
//! | BAR offset | structure |
//! |---|---|
//! | 0x0000 | common configuration (`struct virtio_pci_common_cfg`, 0x38 bytes) |
//! | 0x1000 | ISR status (read to clear) |
//! | 0x2000 | device configuration |
//! | 0x3000 | notifications: queue `q` at `q * 4` |
//!
//! Interrupts are INTx (pin A, through `set_pci_intx_level`): no MSI-X
//! capability, so drivers read `VIRTIO_MSI_NO_VECTOR` and use the line.
//! The command register's INTx Disable holds the line low and its Bus
//! Master Enable gates the queues (no guest RAM touched without it); the
//! status register's Interrupt Status mirrors the ISR. The
//! `VIRTIO_PCI_CAP_PCI_CFG` capability (which the spec requires; Linux
//! does not use it, firmware such as SeaBIOS does when the BAR is out of
//! its reach) is a window onto the BAR through config space: the driver
//! writes `cap.bar`, `cap.offset` and `cap.length` (1, 2 or 4), then reads
//! or writes `pci_cfg_data`, and the device makes that access in the BAR.
//! An access the window cannot make (another BAR, a length not 1, 2 or 4,
//! an offset not aligned to it or past the BAR) does nothing and reads
//! all ones. A config access that straddles the window's edge (part in the
//! capability's fixed bytes, part in the window) is not the window's: it
//! reads the fixed bytes and zeros, and its writes are dropped, as for any
//! read-only register.
//! The numbers are the spec's; virtio-bindings 0.2 has no virtio_pci, and
//! `tests/virtio_pci_abi.rs` checks them against Linux's
//! `<linux/virtio_pci.h>` with a compiler.

use virtio_queue::QueueT;

use super::core::{Core, QueueReg};
use super::VirtioDevice;
use crate::device::{all_ones, Access, Ctx, Device, PciFunction, Space};

/// virtio's PCI vendor id.
pub const VENDOR: u16 = 0x1af4;
/// Modern virtio-pci device ids are this plus the virtio device id.
pub const DEVICE_BASE: u16 = 0x1040;
/// The BAR that holds every structure, and its size.
pub const BAR: u8 = 0;
/// Its size.
pub const BAR_SIZE: u32 = 0x4000;

/// `cfg_type` of a `struct virtio_pci_cap`.
pub const CAP_COMMON_CFG: u8 = 1;
/// Notifications.
pub const CAP_NOTIFY_CFG: u8 = 2;
/// ISR status.
pub const CAP_ISR_CFG: u8 = 3;
/// Device configuration.
pub const CAP_DEVICE_CFG: u8 = 4;
/// The config-space window onto the BAR (`struct virtio_pci_cfg_cap`).
pub const CAP_PCI_CFG: u8 = 5;
/// The vendor-specific capability id virtio uses.
pub const PCI_CAP_ID_VNDR: u8 = 0x09;

/// Where each structure is in the BAR.
pub const COMMON_OFFSET: u32 = 0x0000;
/// Size of the common configuration.
pub const COMMON_LEN: u32 = 0x38;
/// ISR status.
pub const ISR_OFFSET: u32 = 0x1000;
/// Device configuration.
pub const DEVICE_OFFSET: u32 = 0x2000;
/// Notifications.
pub const NOTIFY_OFFSET: u32 = 0x3000;
/// Bytes between two queues' notify addresses.
pub const NOTIFY_OFF_MULTIPLIER: u32 = 4;

/// `struct virtio_pci_common_cfg` field offsets.
pub mod common {
    /// `device_feature_select`, 32 bits.
    pub const DFSELECT: u64 = 0x00;
    /// `device_feature`.
    pub const DF: u64 = 0x04;
    /// `driver_feature_select`.
    pub const GFSELECT: u64 = 0x08;
    /// `driver_feature`.
    pub const GF: u64 = 0x0c;
    /// `config_msix_vector`, 16 bits.
    pub const MSIX: u64 = 0x10;
    /// `num_queues`, 16 bits.
    pub const NUMQ: u64 = 0x12;
    /// `device_status`, 8 bits.
    pub const STATUS: u64 = 0x14;
    /// `config_generation`, 8 bits.
    pub const CFGGENERATION: u64 = 0x15;
    /// `queue_select`, 16 bits.
    pub const Q_SELECT: u64 = 0x16;
    /// `queue_size`, 16 bits.
    pub const Q_SIZE: u64 = 0x18;
    /// `queue_msix_vector`, 16 bits.
    pub const Q_MSIX: u64 = 0x1a;
    /// `queue_enable`, 16 bits.
    pub const Q_ENABLE: u64 = 0x1c;
    /// `queue_notify_off`, 16 bits.
    pub const Q_NOFF: u64 = 0x1e;
    /// `queue_desc`, 64 bits (written as two halves).
    pub const Q_DESCLO: u64 = 0x20;
    /// `queue_driver` (the available ring).
    pub const Q_AVAILLO: u64 = 0x28;
    /// `queue_device` (the used ring).
    pub const Q_USEDLO: u64 = 0x30;
}

/// What reads of an MSI-X vector give: no vector (INTx is used).
const NO_VECTOR: u16 = 0xffff;

/// A virtio device on the virtio-pci transport.
pub struct VirtioPci<D: VirtioDevice> {
    core: Core<D>,
    func: PciFunction,
    isr: u32,
    line: bool,
    /// Where the `VIRTIO_PCI_CAP_PCI_CFG` capability starts in config space.
    cfg_cap: u16,
    /// Its bytes from `cap.bar` (cap + 4) to the end of `pci_cfg_data`
    /// (cap + 20), as the driver last wrote them.
    cfg_window: [u8; 16],
}

/// Where `cap.bar`, `cap.offset`, `cap.length` and `pci_cfg_data` sit in
/// [`VirtioPci`]'s copy of the window (capability offset minus 4).
mod window {
    pub const BAR: usize = 0;
    pub const OFFSET: usize = 4;
    pub const LENGTH: usize = 8;
    pub const DATA: usize = 12;
}

/// The bytes of a `struct virtio_pci_cap` after its id and next pointer.
fn cap_body(cfg_type: u8, offset: u32, length: u32, extra: &[u8]) -> Vec<u8> {
    let mut b = vec![(16 + extra.len()) as u8, cfg_type, BAR, 0, 0, 0];
    b.extend(offset.to_le_bytes());
    b.extend(length.to_le_bytes());
    b.extend(extra);
    b
}

impl<D: VirtioDevice> VirtioPci<D> {
    /// `dev` as PCI function `slot` on bus 0, its INTA line routed to ISA
    /// IRQ `irq` (the interrupt line register says so, as firmware would
    /// have written it).
    pub fn new(dev: D, slot: u8, irq: u8) -> Self {
        let id = dev.device_id();
        let class = match id {
            2 => 0x01_8000, // mass storage, other
            3 => 0x07_8000, // communication, other
            _ => 0xff_0000,
        };
        let mut func = PciFunction::new(slot, VENDOR, DEVICE_BASE + id as u16, class)
            .with_ids(1, VENDOR, 0x0040)
            .with_memory_bar(usize::from(BAR), BAR_SIZE)
            .with_interrupt_line(irq);
        func.add_capability(
            PCI_CAP_ID_VNDR,
            &cap_body(CAP_COMMON_CFG, COMMON_OFFSET, COMMON_LEN, &[]),
        );
        func.add_capability(
            PCI_CAP_ID_VNDR,
            &cap_body(
                CAP_NOTIFY_CFG,
                NOTIFY_OFFSET,
                0x1000,
                &NOTIFY_OFF_MULTIPLIER.to_le_bytes(),
            ),
        );
        func.add_capability(PCI_CAP_ID_VNDR, &cap_body(CAP_ISR_CFG, ISR_OFFSET, 4, &[]));
        func.add_capability(
            PCI_CAP_ID_VNDR,
            &cap_body(CAP_DEVICE_CFG, DEVICE_OFFSET, 0x1000, &[]),
        );
        let cfg_cap =
            u16::from(func.add_capability(PCI_CAP_ID_VNDR, &cap_body(CAP_PCI_CFG, 0, 0, &[0; 4])));
        func.claim_window(cfg_cap + 4..=cfg_cap + 19);
        let name = format!("virtio-pci {}", dev.name());
        Self {
            core: Core::new(dev, name),
            func,
            isr: 0,
            line: false,
            cfg_cap,
            cfg_window: [0; 16],
        }
    }

    /// The BAR access the window's registers name, if it is one the
    /// window makes: BAR 0, 1, 2 or 4 bytes, aligned, inside the BAR.
    fn window_access(&self) -> Option<Access> {
        let w = &self.cfg_window;
        let word = |at: usize| u32::from_le_bytes([w[at], w[at + 1], w[at + 2], w[at + 3]]);
        let (offset, length) = (word(window::OFFSET), word(window::LENGTH));
        let ok = w[window::BAR] == BAR
            && matches!(length, 1 | 2 | 4)
            && offset % length == 0
            && offset
                .checked_add(length)
                .is_some_and(|end| end <= BAR_SIZE);
        ok.then_some(Access {
            space: Space::Bar(BAR),
            addr: u64::from(offset),
            size: length as u8,
        })
    }

    /// A config-space access inside the window (`reg` is absolute).
    fn window_io(&mut self, reg: u64, size: u8, write: Option<u64>, ctx: &mut Ctx<'_>) -> u64 {
        let n = usize::from(size);
        // The machine routes only accesses wholly inside the window here.
        let Some(at) = reg
            .checked_sub(u64::from(self.cfg_cap) + 4)
            .map(|a| a as usize)
            .filter(|&a| n <= 8 && a + n <= self.cfg_window.len())
        else {
            return all_ones(size);
        };
        let data = window::DATA..window::DATA + 4;
        // Whether the access touches pci_cfg_data (it may start before it).
        let touches_data = at + n > window::DATA;
        match write {
            Some(v) => {
                let bytes = v.to_le_bytes();
                for (i, b) in bytes[..n].iter().enumerate() {
                    let r = at + i;
                    // bar, offset, length and the data are the driver's;
                    // id and padding (cap + 5..8) read zero.
                    if r == window::BAR || r >= window::OFFSET {
                        self.cfg_window[r] = *b;
                    }
                }
                if touches_data {
                    if let Some(a) = self.window_access() {
                        let mut d = [0u8; 8];
                        d[..4].copy_from_slice(&self.cfg_window[data.clone()]);
                        self.write(a, u64::from_le_bytes(d), ctx);
                    }
                }
                0
            }
            None => {
                if touches_data {
                    // The BAR's bytes go to the first cap.length bytes of
                    // pci_cfg_data; an access the window cannot make
                    // reads all ones.
                    match self.window_access() {
                        Some(a) => {
                            let v = self.read(a, ctx) & all_ones(a.size);
                            let len = usize::from(a.size);
                            self.cfg_window[window::DATA..window::DATA + len]
                                .copy_from_slice(&v.to_le_bytes()[..len]);
                        }
                        None => self.cfg_window[data.clone()].fill(0xff),
                    }
                }
                let mut b = [0u8; 8];
                b[..n].copy_from_slice(&self.cfg_window[at..at + n]);
                u64::from_le_bytes(b)
            }
        }
    }

    /// The device behind the transport.
    pub fn device(&self) -> &D {
        &self.core.dev
    }

    /// Device errors seen (each set `DEVICE_NEEDS_RESET`).
    pub fn errors(&self) -> u32 {
        self.core.errors
    }

    /// The INTA line follows the ISR (held low while the guest disabled
    /// INTx; the status register's Interrupt Status says it anyway); a new
    /// cause while it is up is a fresh edge (down, then up), for an
    /// edge-triggered PIC.
    fn interrupt(&mut self, causes: u32, ctx: &mut Ctx<'_>) {
        if causes == 0 {
            return;
        }
        self.isr |= causes;
        self.func.set_interrupt_status(true);
        if self.func.intx_disabled() {
            return;
        }
        if self.line {
            ctx.set_intx(false);
        }
        ctx.set_intx(true);
        self.line = true;
    }

    /// Drops the line (the ISR was read, or the device reset).
    fn lower(&mut self, ctx: &mut Ctx<'_>) {
        self.func.set_interrupt_status(false);
        if self.line {
            ctx.set_intx(false);
            self.line = false;
        }
    }

    /// A notify of queue `index`: served only while the guest lets the
    /// function master the bus (it reaches guest RAM).
    fn notify(&mut self, index: u32, ctx: &mut Ctx<'_>) {
        if !self.func.bus_master() {
            return;
        }
        let causes = self.core.notify(index, ctx.memory());
        self.interrupt(causes, ctx);
    }

    /// The common configuration as the driver reads it.
    fn common_image(&mut self) -> [u8; COMMON_LEN as usize] {
        use common::*;
        let mut b = [0u8; COMMON_LEN as usize];
        let mut put = |at: u64, v: &[u8]| {
            b[at as usize..at as usize + v.len()].copy_from_slice(v);
        };
        let c = &mut self.core;
        put(DFSELECT, &c.device_features_sel.to_le_bytes());
        put(DF, &c.device_features().to_le_bytes());
        put(GFSELECT, &c.driver_features_sel.to_le_bytes());
        let gf = match c.driver_features_sel {
            0 => c.driver_features as u32,
            1 => (c.driver_features >> 32) as u32,
            _ => 0,
        };
        put(GF, &gf.to_le_bytes());
        put(MSIX, &NO_VECTOR.to_le_bytes());
        put(NUMQ, &(c.queues.len() as u16).to_le_bytes());
        put(STATUS, &[c.status as u8]);
        put(CFGGENERATION, &[c.config_generation as u8]);
        put(Q_SELECT, &(c.queue_sel as u16).to_le_bytes());
        put(Q_MSIX, &NO_VECTOR.to_le_bytes());
        let sel = c.queue_sel as u16;
        if let Some(q) = c.queue() {
            put(Q_SIZE, &q.size().to_le_bytes());
            put(Q_ENABLE, &u16::from(q.ready()).to_le_bytes());
            put(Q_NOFF, &sel.to_le_bytes());
            put(Q_DESCLO, &q.desc_table().to_le_bytes());
            put(Q_AVAILLO, &q.avail_ring().to_le_bytes());
            put(Q_USEDLO, &q.used_ring().to_le_bytes());
        }
        b
    }

    fn read_common(&mut self, off: u64, size: u8) -> u64 {
        let img = self.common_image();
        let n = usize::from(size);
        match img.get(off as usize..off as usize + n) {
            Some(bytes) => {
                let mut v = [0u8; 8];
                v[..n].copy_from_slice(bytes);
                u64::from_le_bytes(v)
            }
            None => all_ones(size),
        }
    }

    fn write_common(&mut self, off: u64, size: u8, v: u32, ctx: &mut Ctx<'_>) {
        use common::*;
        let qreg = match (off, size) {
            (Q_SIZE, 2) => Some(QueueReg::Size),
            (Q_ENABLE, 2) => Some(QueueReg::Ready),
            (Q_DESCLO, 4) => Some(QueueReg::DescLow),
            (o, 4) if o == Q_DESCLO + 4 => Some(QueueReg::DescHigh),
            (Q_AVAILLO, 4) => Some(QueueReg::AvailLow),
            (o, 4) if o == Q_AVAILLO + 4 => Some(QueueReg::AvailHigh),
            (Q_USEDLO, 4) => Some(QueueReg::UsedLow),
            (o, 4) if o == Q_USEDLO + 4 => Some(QueueReg::UsedHigh),
            _ => None,
        };
        let causes = if let Some(r) = qreg {
            self.core.write_queue(r, v)
        } else {
            match (off, size) {
                (DFSELECT, 4) => {
                    self.core.device_features_sel = v;
                    0
                }
                (GFSELECT, 4) => {
                    self.core.driver_features_sel = v;
                    0
                }
                (GF, 4) => self.core.write_driver_features(v),
                (Q_SELECT, 2) => {
                    self.core.queue_sel = v & 0xffff;
                    0
                }
                (STATUS, 1) => {
                    let causes = self.core.set_status(v & 0xff);
                    if v & 0xff == 0 {
                        self.isr = 0;
                        self.lower(ctx);
                    }
                    causes
                }
                // No MSI-X: the vectors stay NO_VECTOR.
                _ => 0,
            }
        };
        self.interrupt(causes, ctx);
    }
}

impl<D: VirtioDevice> Device for VirtioPci<D> {
    fn name(&self) -> &str {
        &self.core.name
    }

    fn pci(&mut self) -> Option<&mut PciFunction> {
        Some(&mut self.func)
    }

    fn needs_guest_memory(&self) -> bool {
        true
    }

    fn read(&mut self, a: Access, ctx: &mut Ctx<'_>) -> u64 {
        if a.space == Space::Config {
            return self.window_io(a.addr, a.size, None, ctx);
        }
        if a.space != Space::Bar(BAR) {
            return all_ones(a.size);
        }
        let off = a.addr;
        let (common, isr, device) = (
            u64::from(COMMON_OFFSET),
            u64::from(ISR_OFFSET),
            u64::from(DEVICE_OFFSET),
        );
        if (common..common + u64::from(COMMON_LEN)).contains(&off) {
            return self.read_common(off - common, a.size);
        }
        if off == isr {
            // Reading the ISR clears it and drops the line.
            let v = self.isr;
            self.isr = 0;
            self.lower(ctx);
            return u64::from(v);
        }
        if (isr..isr + 4).contains(&off) {
            return 0;
        }
        if (device..device + 0x1000).contains(&off) {
            let mut b = [0u8; 8];
            let n = usize::from(a.size.min(8));
            self.core.dev.read_config(off - device, &mut b[..n]);
            return u64::from_le_bytes(b);
        }
        all_ones(a.size)
    }

    fn write(&mut self, a: Access, value: u64, ctx: &mut Ctx<'_>) {
        if a.space == Space::Config {
            self.window_io(a.addr, a.size, Some(value), ctx);
            return;
        }
        if a.space != Space::Bar(BAR) {
            return;
        }
        let off = a.addr;
        let (common, device, notify) = (
            u64::from(COMMON_OFFSET),
            u64::from(DEVICE_OFFSET),
            u64::from(NOTIFY_OFFSET),
        );
        if (common..common + u64::from(COMMON_LEN)).contains(&off) {
            self.write_common(off - common, a.size, value as u32, ctx);
        } else if (device..device + 0x1000).contains(&off) {
            let n = usize::from(a.size.min(8));
            self.core
                .dev
                .write_config(off - device, &value.to_le_bytes()[..n]);
        } else if (notify..notify + 0x1000).contains(&off) {
            // The address names the queue; the value (without
            // VIRTIO_F_NOTIFICATION_DATA) carries nothing more.
            self.notify(
                ((off - notify) / u64::from(NOTIFY_OFF_MULTIPLIER)) as u32,
                ctx,
            );
        }
    }

    fn fds(&self) -> Vec<std::os::fd::RawFd> {
        self.core.dev.fds()
    }

    fn has_deferred(&self) -> bool {
        self.core.pending != 0
    }

    fn serve_deferred(&mut self, ctx: &mut Ctx<'_>) {
        if !self.func.bus_master() {
            self.core.pending = 0;
            return;
        }
        let causes = self.core.serve_pending(ctx.memory());
        self.interrupt(causes, ctx);
    }
}
