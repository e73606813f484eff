// SPDX-License-Identifier: MIT
//! The virtio-pci transport, modern interface (virtio 1.x, section 4.1):
//! a PCI function (vendor 0x1af4, device 0x1040 + the virtio id) whose
//! capabilities point into one 32 KiB memory BAR the guest places:
//!
//! | BAR offset | structure |
//! |---|---|
//! | 0x0000 | common configuration (`struct virtio_pci_common_cfg`, 0x38 bytes) |
//! | 0x1000 | ISR status (read to clear) |
//! | 0x2000 | device configuration |
//! | 0x3000 | notifications: queue `q` at `q * 4` |
//! | 0x4000 | MSI-X table: one vector per queue, plus one for configuration changes |
//! | 0x5000 | MSI-X pending bits |
//!
//! Interrupts are MSI-X messages once the driver enables MSI-X (each
//! sent with Xen's `inject_msi` DMOP to the address and data the driver
//! wrote in the table; a masked vector's message waits in the pending
//! bits until it is unmasked, and so does any message while the guest
//! has Bus Master Enable off; a message Xen remaps to a pirq, vector byte
//! 0, ignores the mask bits, which a Linux guest on Xen's pirqs never
//! clears), and INTx (pin A, through
//! `set_pci_intx_level`) otherwise. A driver that assigns a vector the
//! table does not have reads `VIRTIO_MSI_NO_VECTOR` back, and an event
//! with no vector sends nothing, as the spec has it. A device reset
//! (status 0) unassigns every vector; the table and the MSI-X enable are
//! the PCI function's and stay. With INTx, the command register's INTx
//! Disable holds the line low; whatever the interrupt, its Bus Master
//! Enable gates the queues (no guest RAM touched without it); the
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

use super::core::{Core, QueueReg, INT_CONFIG, INT_VRING};
use super::VirtioDevice;
use crate::device::{all_ones, Access, Ctx, Device, PciFunction, Space};

/// virtio's PCI vendor id.
pub const VENDOR: u16 = 0x1af4;
/// Modern virtio-pci device ids are this plus the virtio device id.
pub const DEVICE_BASE: u16 = 0x1040;
/// The BAR that holds every structure, and its size.
pub const BAR: u8 = 0;
/// Its size.
pub const BAR_SIZE: u32 = 0x8000;

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
/// The MSI-X table, in the same BAR.
pub const MSIX_TABLE_OFFSET: u32 = 0x4000;
/// The MSI-X pending bits, in the same BAR.
pub const MSIX_PBA_OFFSET: u32 = 0x5000;
/// The MSI-X capability id.
pub const PCI_CAP_ID_MSIX: u8 = 0x11;
/// MSI-X message control: MSI-X Enable.
pub const MSIX_ENABLE: u16 = 1 << 15;
/// MSI-X message control: Function Mask.
pub const MSIX_MASKALL: u16 = 1 << 14;
/// MSI-X vector control: Mask Bit.
pub const MSIX_VECTOR_MASKED: u32 = 1;
/// Bytes per MSI-X table entry.
const MSIX_ENTRY: u64 = 16;

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

/// `VIRTIO_MSI_NO_VECTOR`: no vector assigned.
pub const NO_VECTOR: u16 = 0xffff;

/// The function's MSI-X state: the table and pending bits in the BAR,
/// the enable and function mask in config space, and which vector each
/// virtio event uses (virtio's common configuration).
struct Msix {
    /// Where the capability starts in config space.
    cap: u16,
    /// `MSIX_ENABLE` and `MSIX_MASKALL` as the driver set them.
    control: u16,
    /// Per vector: message address low and high, data, vector control.
    table: Vec<[u32; 4]>,
    /// Pending bits, one per vector (at most 64 vectors).
    pba: u64,
    /// `config_msix_vector`.
    config_vector: u16,
    /// `queue_msix_vector`, per queue.
    queue_vectors: Vec<u16>,
}

impl Msix {
    fn new(cap: u16, queues: usize) -> Self {
        let vectors = (queues + 1).min(64);
        Self {
            cap,
            control: 0,
            table: vec![[0, 0, 0, MSIX_VECTOR_MASKED]; vectors],
            pba: 0,
            config_vector: NO_VECTOR,
            queue_vectors: vec![NO_VECTOR; queues],
        }
    }

    fn enabled(&self) -> bool {
        self.control & MSIX_ENABLE != 0
    }

    /// Message control as the driver reads it: the table size (N - 1)
    /// and the two bits it may set.
    fn control_word(&self) -> u16 {
        (self.table.len() as u16 - 1) | self.control
    }

    /// The vector a driver's write assigns: one of the table's, or none.
    fn checked(&self, v: u16) -> u16 {
        if usize::from(v) < self.table.len() {
            v
        } else {
            NO_VECTOR
        }
    }

    /// Whether vector `e`'s message must wait: it or the function is
    /// masked. Not for a message Xen remaps to a pirq (vector byte 0 in the
    /// data, an address written): a Linux HVM guest using Xen's pirqs
    /// masks those through its event channels and never clears the mask
    /// bits, as QEMU's Xen code knows too.
    fn masked(&self, e: &[u32; 4]) -> bool {
        let pirq = e[2] & 0xff == 0 && (e[0] | e[1]) != 0;
        !pirq && (self.control & MSIX_MASKALL != 0 || e[3] & MSIX_VECTOR_MASKED != 0)
    }

    /// Vector `v`'s message, sent, or pending while it or the function is
    /// masked or the function may not master the bus (`bus_master`: an
    /// MSI is a memory write). `NO_VECTOR` (or any vector not in the
    /// table) sends nothing.
    fn signal(&mut self, v: u16, bus_master: bool, ctx: &mut Ctx<'_>) {
        let Some(e) = self.table.get(usize::from(v)) else {
            return;
        };
        if !bus_master || self.masked(e) {
            self.pba |= 1 << v;
            return;
        }
        ctx.inject_msi(u64::from(e[0]) | u64::from(e[1]) << 32, e[2]);
    }

    /// Sends the pending messages that may go now.
    fn flush(&mut self, bus_master: bool, ctx: &mut Ctx<'_>) {
        // Nothing pending is the common case: every interrupt looks.
        if self.pba == 0 || !self.enabled() || !bus_master {
            return;
        }
        for v in 0..self.table.len() {
            let e = self.table[v];
            if self.pba & (1 << v) != 0 && !self.masked(&e) {
                self.pba &= !(1 << v);
                ctx.inject_msi(u64::from(e[0]) | u64::from(e[1]) << 32, e[2]);
            }
        }
    }

    /// A read of the table or the pending bits (`off` from the table's
    /// start): aligned dwords and qwords only, as the PCI spec allows.
    fn read(&self, off: u64, size: u8) -> u64 {
        let table_end = self.table.len() as u64 * MSIX_ENTRY;
        let pba = u64::from(MSIX_PBA_OFFSET - MSIX_TABLE_OFFSET);
        if !matches!(size, 4 | 8) || off % u64::from(size) != 0 {
            return all_ones(size);
        }
        let dword = |at: u64| -> u64 {
            if at < table_end {
                u64::from(self.table[(at / MSIX_ENTRY) as usize][(at % MSIX_ENTRY / 4) as usize])
            } else if (pba..pba + 8).contains(&at) {
                (self.pba >> ((at - pba) * 8)) & 0xffff_ffff
            } else {
                0xffff_ffff
            }
        };
        let lo = dword(off);
        if size == 8 {
            lo | dword(off + 4) << 32
        } else {
            lo
        }
    }

    /// A write of the table (the pending bits are read-only); unmasking
    /// sends what was pending.
    fn write(&mut self, off: u64, size: u8, value: u64, bus_master: bool, ctx: &mut Ctx<'_>) {
        let table_end = self.table.len() as u64 * MSIX_ENTRY;
        if !matches!(size, 4 | 8) || off % u64::from(size) != 0 || off >= table_end {
            return;
        }
        let words: &[(u64, u32)] = if size == 8 {
            &[(off, value as u32), (off + 4, (value >> 32) as u32)]
        } else {
            &[(off, value as u32)]
        };
        for &(at, v) in words {
            let e = &mut self.table[(at / MSIX_ENTRY) as usize];
            match at % MSIX_ENTRY / 4 {
                // The address is dword-aligned: its low two bits read zero.
                0 => e[0] = v & !3,
                1 => e[1] = v,
                2 => e[2] = v,
                // Only the mask bit of the vector control is defined.
                _ => e[3] = v & MSIX_VECTOR_MASKED,
            }
        }
        self.flush(bus_master, ctx);
    }
}

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
    msix: Msix,
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
        let msix = Msix::new(0, dev.queue_max_sizes().len());
        let mut body = msix.control_word().to_le_bytes().to_vec();
        body.extend((MSIX_TABLE_OFFSET | u32::from(BAR)).to_le_bytes());
        body.extend((MSIX_PBA_OFFSET | u32::from(BAR)).to_le_bytes());
        let msix_cap = u16::from(func.add_capability(PCI_CAP_ID_MSIX, &body));
        // Message control is the device's: the driver's enable and mask
        // change how it interrupts.
        func.claim_window(msix_cap + 2..=msix_cap + 3);
        let name = format!("virtio-pci {}", dev.name());
        Self {
            core: Core::new(dev, name),
            func,
            isr: 0,
            line: false,
            cfg_cap,
            cfg_window: [0; 16],
            msix: Msix {
                cap: msix_cap,
                ..msix
            },
        }
    }

    /// A config-space access to MSI-X's message control (`reg` absolute,
    /// inside it): the driver sets Enable and Function Mask; the table
    /// size is read-only. Enabling MSI-X drops the INTx line, and
    /// unmasking sends what was pending.
    fn msix_control_io(
        &mut self,
        reg: u64,
        size: u8,
        write: Option<u64>,
        ctx: &mut Ctx<'_>,
    ) -> u64 {
        let at = reg.saturating_sub(u64::from(self.msix.cap) + 2) as usize;
        let n = usize::from(size);
        let mut bytes = self.msix.control_word().to_le_bytes();
        let Some(v) = write else {
            let mut b = [0u8; 8];
            b[..n.min(2 - at.min(2))].copy_from_slice(&bytes[at.min(2)..(at + n).min(2)]);
            return u64::from_le_bytes(b);
        };
        for (i, b) in v.to_le_bytes()[..n].iter().enumerate() {
            if let Some(slot) = bytes.get_mut(at + i) {
                *slot = *b;
            }
        }
        self.msix.control = u16::from_le_bytes(bytes) & (MSIX_ENABLE | MSIX_MASKALL);
        self.func
            .set_window_bytes(self.msix.cap + 2, &self.msix.control_word().to_le_bytes());
        if self.msix.enabled() {
            self.lower(ctx);
            self.msix.flush(self.func.bus_master(), ctx);
        }
        0
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

    /// A config-space access the machine routed here (one of the
    /// function's windows): `VIRTIO_PCI_CAP_PCI_CFG`'s, or MSI-X's message
    /// control.
    fn config_io(&mut self, a: Access, write: Option<u64>, ctx: &mut Ctx<'_>) -> u64 {
        let ctl = u64::from(self.msix.cap) + 2;
        if (ctl..ctl + 2).contains(&a.addr) {
            return self.msix_control_io(a.addr, a.size, write, ctx);
        }
        self.window_io(a.addr, a.size, write, ctx)
    }

    /// The device behind the transport.
    pub fn device(&self) -> &D {
        &self.core.dev
    }

    /// Device errors seen (each set `DEVICE_NEEDS_RESET`).
    pub fn errors(&self) -> u32 {
        self.core.errors
    }

    /// Delivers `causes` (a used ring of `queue` moved, the configuration
    /// changed). With MSI-X enabled: the message of the event's vector
    /// (the ISR keeps only the configuration bit, as the spec asks).
    /// Otherwise the INTA line follows the ISR (held low while the guest
    /// disabled INTx; the status register's Interrupt Status says it
    /// anyway); a new cause while it is up is a fresh edge (down, then
    /// up), for an edge-triggered PIC.
    fn interrupt(&mut self, causes: u32, queue: Option<u32>, ctx: &mut Ctx<'_>) {
        if causes == 0 {
            return;
        }
        if self.msix.enabled() {
            let bm = self.func.bus_master();
            // What waited for the bus master bit goes first.
            self.msix.flush(bm, ctx);
            if causes & INT_CONFIG != 0 {
                self.isr |= INT_CONFIG;
                self.msix.signal(self.msix.config_vector, bm, ctx);
            }
            if causes & INT_VRING != 0 {
                let v = queue
                    .and_then(|q| self.msix.queue_vectors.get(q as usize).copied())
                    .unwrap_or(NO_VECTOR);
                self.msix.signal(v, bm, ctx);
            }
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
        self.interrupt(causes, Some(index), ctx);
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
        put(MSIX, &self.msix.config_vector.to_le_bytes());
        put(NUMQ, &(c.queues.len() as u16).to_le_bytes());
        put(STATUS, &[c.status as u8]);
        put(CFGGENERATION, &[c.config_generation as u8]);
        put(Q_SELECT, &(c.queue_sel as u16).to_le_bytes());
        let sel = c.queue_sel as u16;
        let qv = self.msix.queue_vectors.get(usize::from(sel)).copied();
        put(Q_MSIX, &qv.unwrap_or(NO_VECTOR).to_le_bytes());
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
                        self.msix.config_vector = NO_VECTOR;
                        self.msix.queue_vectors.fill(NO_VECTOR);
                        // Nothing of the old driver's is delivered later.
                        self.msix.pba = 0;
                    }
                    causes
                }
                (MSIX, 2) => {
                    self.msix.config_vector = self.msix.checked(v as u16);
                    0
                }
                (Q_MSIX, 2) => {
                    let v = self.msix.checked(v as u16);
                    let sel = self.core.queue_sel as usize;
                    if let Some(q) = self.msix.queue_vectors.get_mut(sel) {
                        *q = v;
                    }
                    0
                }
                _ => 0,
            }
        };
        self.interrupt(causes, None, ctx);
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
            return self.config_io(a, None, ctx);
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
        let table = u64::from(MSIX_TABLE_OFFSET);
        if (table..table + 0x2000).contains(&off) {
            return self.msix.read(off - table, a.size);
        }
        all_ones(a.size)
    }

    fn write(&mut self, a: Access, value: u64, ctx: &mut Ctx<'_>) {
        if a.space == Space::Config {
            self.config_io(a, Some(value), ctx);
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
        } else if (u64::from(MSIX_TABLE_OFFSET)..u64::from(MSIX_PBA_OFFSET)).contains(&off) {
            let bm = self.func.bus_master();
            self.msix
                .write(off - u64::from(MSIX_TABLE_OFFSET), a.size, value, bm, ctx);
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
        // Queue by queue: with MSI-X each has its own vector; with INTx
        // one edge says it all.
        let mut all = 0;
        for index in 0..self.core.queues.len() as u32 {
            if self.core.pending & (1 << index) != 0 {
                let causes = self.core.notify(index, ctx.memory());
                if self.msix.enabled() {
                    self.interrupt(causes, Some(index), ctx);
                } else {
                    all |= causes;
                }
            }
        }
        self.interrupt(all, None, ctx);
    }
}
