// SPDX-License-Identifier: MIT
//! The virtio-mmio transport (virtio 1.x, "version 2" register layout): a
//! window of registers the board places at a guest-physical address, and
//! an interrupt line: an ISA IRQ on x86, where Linux finds the device from
//! its command line (`virtio_mmio.device=4K@BASE:IRQ`), or an SPI of Arm's
//! GIC, where the toolstack's device tree describes it.

use virtio_bindings::virtio_mmio::*;
use virtio_queue::QueueT;

use super::core::{Core, QueueReg};
use super::VirtioDevice;
use crate::device::{all_ones, Access, Ctx, Device, Region};

/// "virt", little-endian.
const MAGIC: u32 = 0x7472_6976;
/// The virtio 1.x register layout.
const VERSION: u32 = 2;
/// The vendor id the device reports ("XTDM").
const VENDOR: u32 = u32::from_le_bytes(*b"XTDM");
/// The transport's register window on x86 (a page).
pub const WINDOW: u64 = 0x1000;
/// The register window on Arm: the 0x200 bytes libxl gives each virtio-mmio
/// device in the guest's device tree (its slots are that far apart). The
/// registers end at 0x100; the device's configuration follows.
pub const GIC_WINDOW: u64 = 0x200;

/// The transport's interrupt line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line {
    /// An ISA IRQ (x86: `set_isa_irq_level`).
    Isa(u8),
    /// An SPI of the guest's GIC (Arm: `set_irq_level`), edge-triggered as
    /// libxl's device tree declares it.
    Spi(u32),
}

/// The Linux command-line argument that makes a virtio-mmio device at
/// `base` on ISA IRQ `irq` known to the kernel.
///
/// ```
/// assert_eq!(xen_thin_dm::virtio::mmio_kernel_arg(0xfe00_0000, 6), "virtio_mmio.device=4K@0xfe000000:6");
/// ```
pub fn kernel_arg(base: u64, irq: u8) -> String {
    format!("virtio_mmio.device=4K@{base:#x}:{irq}")
}

/// A virtio device on the virtio-mmio transport: one MMIO region, which a
/// board places (a slot of [`crate::board`]).
pub struct VirtioMmio<D: VirtioDevice> {
    core: Core<D>,
    window: u64,
    irq: Line,
    interrupt_status: u32,
    line: bool,
}

impl<D: VirtioDevice> VirtioMmio<D> {
    /// `dev` with its registers in a page and its interrupt on ISA IRQ
    /// `irq`.
    pub fn new(dev: D, irq: u8) -> Self {
        Self::with_line(dev, WINDOW, Line::Isa(irq))
    }

    /// `dev` as a guest on Arm sees it: its registers in 0x200 bytes
    /// (libxl's window) and its interrupt on GIC SPI `spi`.
    ///
    /// ```
    /// use xen_thin_dm::virtio::{VirtioMmio, VirtioRng};
    /// use xen_thin_dm::{Device, Region};
    ///
    /// let rng = VirtioRng::new(std::fs::File::open("/dev/urandom")?);
    /// let t = VirtioMmio::on_gic(rng, 33);
    /// assert_eq!(t.regions(), vec![Region::Mmio(0x200)]);
    /// assert!(!t.isa_line());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn on_gic(dev: D, spi: u32) -> Self {
        Self::with_line(dev, GIC_WINDOW, Line::Spi(spi))
    }

    fn with_line(dev: D, window: u64, irq: Line) -> Self {
        let name = format!("virtio-mmio {}", dev.name());
        Self {
            core: Core::new(dev, name),
            window,
            irq,
            interrupt_status: 0,
            line: false,
        }
    }

    /// What Linux's command line needs to find it at `base` ([`kernel_arg`]),
    /// for an ISA line; none on a GIC, where the device tree names it.
    pub fn cmdline(&self, base: u64) -> Option<String> {
        match self.irq {
            Line::Isa(irq) => Some(kernel_arg(base, irq)),
            Line::Spi(_) => None,
        }
    }

    /// Whether its interrupt is an ISA line (a PC's), not a GIC's SPI.
    pub fn isa_line(&self) -> bool {
        matches!(self.irq, Line::Isa(_))
    }

    fn set_line(&self, ctx: &mut Ctx<'_>, level: bool) {
        match self.irq {
            Line::Isa(irq) => ctx.set_isa_irq(irq, level),
            Line::Spi(spi) => ctx.set_irq(spi, level),
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

    /// The interrupt line follows `interrupt_status`. A new cause while the
    /// line is up is a fresh edge (down, then up), so an edge-triggered
    /// controller (the PIC, which Linux programs ISA lines as; Arm's vGIC,
    /// which injects on every rise and ignores a fall) never misses it.
    fn update_irq(&mut self, ctx: &mut Ctx<'_>, new_cause: bool) {
        let want = self.interrupt_status != 0;
        if want && self.line && new_cause {
            self.set_line(ctx, false);
            self.set_line(ctx, true);
        } else if want != self.line {
            self.set_line(ctx, want);
        }
        self.line = want;
    }

    /// Delivers the interrupt causes the core raised.
    fn interrupt(&mut self, causes: u32, ctx: &mut Ctx<'_>) {
        if causes != 0 {
            self.interrupt_status |= causes;
            self.update_irq(ctx, true);
        }
    }

    fn notify(&mut self, index: u32, ctx: &mut Ctx<'_>) {
        let causes = self.core.notify(index, ctx.memory());
        self.interrupt(causes, ctx);
    }

    fn read_reg(&mut self, reg: u32) -> u32 {
        let c = &mut self.core;
        match reg {
            VIRTIO_MMIO_MAGIC_VALUE => MAGIC,
            VIRTIO_MMIO_VERSION => VERSION,
            VIRTIO_MMIO_DEVICE_ID => c.dev.device_id(),
            VIRTIO_MMIO_VENDOR_ID => VENDOR,
            VIRTIO_MMIO_DEVICE_FEATURES => c.device_features(),
            VIRTIO_MMIO_QUEUE_NUM_MAX => c.queue().map_or(0, |q| u32::from(q.max_size())),
            VIRTIO_MMIO_QUEUE_READY => c.queue().map_or(0, |q| u32::from(q.ready())),
            VIRTIO_MMIO_INTERRUPT_STATUS => self.interrupt_status,
            VIRTIO_MMIO_STATUS => c.status,
            VIRTIO_MMIO_CONFIG_GENERATION => c.config_generation,
            _ => 0,
        }
    }

    fn write_reg(&mut self, reg: u32, v: u32, ctx: &mut Ctx<'_>) {
        let qreg = match reg {
            VIRTIO_MMIO_QUEUE_NUM => Some(QueueReg::Size),
            VIRTIO_MMIO_QUEUE_READY => Some(QueueReg::Ready),
            VIRTIO_MMIO_QUEUE_DESC_LOW => Some(QueueReg::DescLow),
            VIRTIO_MMIO_QUEUE_DESC_HIGH => Some(QueueReg::DescHigh),
            VIRTIO_MMIO_QUEUE_AVAIL_LOW => Some(QueueReg::AvailLow),
            VIRTIO_MMIO_QUEUE_AVAIL_HIGH => Some(QueueReg::AvailHigh),
            VIRTIO_MMIO_QUEUE_USED_LOW => Some(QueueReg::UsedLow),
            VIRTIO_MMIO_QUEUE_USED_HIGH => Some(QueueReg::UsedHigh),
            _ => None,
        };
        let causes = if let Some(r) = qreg {
            self.core.write_queue(r, v)
        } else {
            match reg {
                VIRTIO_MMIO_DEVICE_FEATURES_SEL => {
                    self.core.device_features_sel = v;
                    0
                }
                VIRTIO_MMIO_DRIVER_FEATURES_SEL => {
                    self.core.driver_features_sel = v;
                    0
                }
                VIRTIO_MMIO_DRIVER_FEATURES => self.core.write_driver_features(v),
                VIRTIO_MMIO_QUEUE_SEL => {
                    self.core.queue_sel = v;
                    0
                }
                // The queue is the low 16 bits, as the kernel's ioeventfd
                // rule takes it: both paths agree on which queue a value
                // names.
                VIRTIO_MMIO_QUEUE_NOTIFY => {
                    self.notify(v & 0xffff, ctx);
                    0
                }
                VIRTIO_MMIO_INTERRUPT_ACK => {
                    self.interrupt_status &= !v;
                    self.update_irq(ctx, false);
                    0
                }
                VIRTIO_MMIO_STATUS => {
                    let causes = self.core.set_status(v);
                    if v == 0 {
                        self.interrupt_status = 0;
                        self.update_irq(ctx, false);
                    }
                    causes
                }
                _ => 0,
            }
        };
        self.interrupt(causes, ctx);
    }
}

impl<D: VirtioDevice> Device for VirtioMmio<D> {
    fn name(&self) -> &str {
        &self.core.name
    }

    fn regions(&self) -> Vec<Region> {
        vec![Region::Mmio(self.window)]
    }

    fn needs_guest_memory(&self) -> bool {
        true
    }

    fn read(&mut self, a: Access, _: &mut Ctx<'_>) -> u64 {
        let off = a.addr;
        if off >= u64::from(VIRTIO_MMIO_CONFIG) {
            let mut b = [0u8; 8];
            let n = usize::from(a.size.min(8));
            self.core
                .dev
                .read_config(off - u64::from(VIRTIO_MMIO_CONFIG), &mut b[..n]);
            return u64::from_le_bytes(b);
        }
        if a.size != 4 || off % 4 != 0 {
            return all_ones(a.size);
        }
        u64::from(self.read_reg(off as u32))
    }

    fn write(&mut self, a: Access, value: u64, ctx: &mut Ctx<'_>) {
        let off = a.addr;
        if off >= u64::from(VIRTIO_MMIO_CONFIG) {
            let n = usize::from(a.size.min(8));
            self.core.dev.write_config(
                off - u64::from(VIRTIO_MMIO_CONFIG),
                &value.to_le_bytes()[..n],
            );
            return;
        }
        if a.size != 4 || off % 4 != 0 {
            return;
        }
        self.write_reg(off as u32, value as u32, ctx);
    }

    fn fds(&self) -> Vec<std::os::fd::RawFd> {
        self.core.dev.fds()
    }

    fn doorbells(&self) -> Vec<(u8, xendevicemodel::IoeventfdMatch)> {
        (0..self.core.queues.len())
            .map(|q| {
                // At the region's start: the machine adds where it sits.
                let rule = xendevicemodel::IoeventfdMatch::MmioQueueNotify {
                    base: 0,
                    len: 4,
                    queue: q as u16,
                };
                (0, rule)
            })
            .collect()
    }

    fn doorbell(&mut self, index: usize, ctx: &mut Ctx<'_>) {
        // The same as the write the kernel answered: a notify of that queue.
        self.notify(index as u32, ctx);
    }

    fn has_deferred(&self) -> bool {
        self.core.pending != 0
    }

    fn serve_deferred(&mut self, ctx: &mut Ctx<'_>) {
        let causes = self.core.serve_pending(ctx.memory());
        self.interrupt(causes, ctx);
    }
}
