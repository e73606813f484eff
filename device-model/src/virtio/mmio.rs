// SPDX-License-Identifier: MIT
//! The virtio-mmio transport (virtio 1.x, "version 2" register layout): a
//! page of registers the board places at a guest-physical address, and an
//! ISA interrupt line. Linux finds it from its command line
//! (`virtio_mmio.device=4K@BASE:IRQ`) or a device tree.

use std::ops::RangeInclusive;

use virtio_bindings::virtio_config::{
    VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_DRIVER_OK,
    VIRTIO_CONFIG_S_FAILED, VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_CONFIG_S_NEEDS_RESET,
    VIRTIO_F_VERSION_1,
};
use virtio_bindings::virtio_mmio::*;
use virtio_bindings::virtio_ring::{VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC};
use virtio_queue::{Queue, QueueT};

use super::VirtioDevice;
use crate::device::{all_ones, Access, Ctx, Device};

/// "virt", little-endian.
const MAGIC: u32 = 0x7472_6976;
/// The virtio 1.x register layout.
const VERSION: u32 = 2;
/// The vendor id the device reports ("XTDM").
const VENDOR: u32 = u32::from_le_bytes(*b"XTDM");
/// The transport's register window.
pub const WINDOW: u64 = 0x1000;
/// Rounds of serving a queue per notify.
const MAX_ROUNDS: u32 = 8;
/// Device errors logged per device; later ones are only counted.
const LOGGED_ERRORS: u32 = 8;

/// A virtio device on the virtio-mmio transport.
pub struct VirtioMmio<D: VirtioDevice> {
    dev: D,
    base: u64,
    irq: u8,
    name: String,
    status: u32,
    device_features_sel: u32,
    driver_features_sel: u32,
    driver_features: u64,
    queue_sel: u32,
    queues: Vec<Queue>,
    interrupt_status: u32,
    config_generation: u32,
    line: bool,
    errors: u32,
    /// Queues (by bit) whose driver added buffers faster than one notify's
    /// rounds served them: served again before the device model sleeps.
    pending: u64,
}

impl<D: VirtioDevice> VirtioMmio<D> {
    /// `dev` with its registers at `base` (a page) and its interrupt on
    /// ISA IRQ `irq`.
    pub fn new(dev: D, base: u64, irq: u8) -> Self {
        assert!(
            dev.queue_max_sizes().len() <= 64,
            "a device has at most 64 queues here"
        );
        let queues = dev
            .queue_max_sizes()
            .iter()
            .map(|&n| Queue::new(n).expect("a device's queue size is a power of two"))
            .collect();
        let name = format!("virtio-mmio {}", dev.name());
        Self {
            dev,
            base,
            irq,
            name,
            status: 0,
            device_features_sel: 0,
            driver_features_sel: 0,
            driver_features: 0,
            queue_sel: 0,
            queues,
            interrupt_status: 0,
            config_generation: 0,
            line: false,
            errors: 0,
            pending: 0,
        }
    }

    /// What Linux's command line needs to find it:
    /// `virtio_mmio.device=4K@0x...:IRQ`.
    pub fn cmdline(&self) -> String {
        format!("virtio_mmio.device=4K@{:#x}:{}", self.base, self.irq)
    }

    /// The device behind the transport.
    pub fn device(&self) -> &D {
        &self.dev
    }

    /// Device errors seen (each set `DEVICE_NEEDS_RESET`).
    pub fn errors(&self) -> u32 {
        self.errors
    }

    fn offered(&self) -> u64 {
        self.dev.features()
            | 1 << VIRTIO_F_VERSION_1
            | 1 << VIRTIO_RING_F_INDIRECT_DESC
            | 1 << VIRTIO_RING_F_EVENT_IDX
    }

    fn queue(&mut self) -> Option<&mut Queue> {
        self.queues.get_mut(self.queue_sel as usize)
    }

    /// The interrupt line follows `interrupt_status`. A new cause while the
    /// line is up is a fresh edge (down, then up), so an edge-triggered
    /// controller (the PIC, which Linux programs ISA lines as) never misses
    /// it.
    fn update_irq(&mut self, ctx: &mut Ctx<'_>, new_cause: bool) {
        let want = self.interrupt_status != 0;
        if want && self.line && new_cause {
            ctx.set_isa_irq(self.irq, false);
            ctx.set_isa_irq(self.irq, true);
        } else if want != self.line {
            ctx.set_isa_irq(self.irq, want);
        }
        self.line = want;
    }

    fn interrupt(&mut self, cause: u32, ctx: &mut Ctx<'_>) {
        self.interrupt_status |= cause;
        self.update_irq(ctx, true);
    }

    /// The driver broke the rules: the device stops using its queues until
    /// it is reset, and says so.
    fn needs_reset(&mut self, why: &str, ctx: &mut Ctx<'_>) {
        self.errors = self.errors.saturating_add(1);
        if self.errors <= LOGGED_ERRORS {
            crate::server::log(&format!(
                "{}: the driver broke the virtio rules ({why}): DEVICE_NEEDS_RESET",
                self.name
            ));
        }
        if self.status & VIRTIO_CONFIG_S_NEEDS_RESET == 0 {
            self.status |= VIRTIO_CONFIG_S_NEEDS_RESET;
            self.interrupt(VIRTIO_MMIO_INT_CONFIG, ctx);
        }
    }

    fn reset(&mut self, ctx: &mut Ctx<'_>) {
        self.status = 0;
        self.driver_features = 0;
        self.device_features_sel = 0;
        self.driver_features_sel = 0;
        self.queue_sel = 0;
        for q in &mut self.queues {
            q.reset();
        }
        self.interrupt_status = 0;
        self.pending = 0;
        self.update_irq(ctx, false);
        self.dev.reset();
    }

    fn set_status(&mut self, v: u32, ctx: &mut Ctx<'_>) {
        if v == 0 {
            self.reset(ctx);
            return;
        }
        let old = self.status;
        // The driver only adds bits (a reset is the only way back);
        // NEEDS_RESET is the device's.
        let kept = old & !VIRTIO_CONFIG_S_NEEDS_RESET;
        if v & kept != kept {
            self.needs_reset("status bits cleared without a reset", ctx);
            return;
        }
        let added = v & !old;
        let mut status = old | (added & !VIRTIO_CONFIG_S_NEEDS_RESET);
        if added & VIRTIO_CONFIG_S_FEATURES_OK != 0 {
            let offered = self.offered();
            let ok = old & VIRTIO_CONFIG_S_DRIVER != 0
                && self.driver_features & !offered == 0
                && self.driver_features & (1 << VIRTIO_F_VERSION_1) != 0;
            if !ok {
                // The driver reads FEATURES_OK back and gives up.
                status &= !VIRTIO_CONFIG_S_FEATURES_OK;
            }
        }
        if added & VIRTIO_CONFIG_S_DRIVER_OK != 0 {
            if status & VIRTIO_CONFIG_S_FEATURES_OK == 0 {
                self.status = status & !VIRTIO_CONFIG_S_DRIVER_OK;
                self.needs_reset("DRIVER_OK before FEATURES_OK", ctx);
                return;
            }
            let event_idx = self.driver_features & (1 << VIRTIO_RING_F_EVENT_IDX) != 0;
            for q in &mut self.queues {
                q.set_event_idx(event_idx);
            }
            self.dev.activate(self.driver_features);
        }
        let _ = (VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_FAILED);
        self.status = status;
    }

    fn notify(&mut self, index: u32, ctx: &mut Ctx<'_>) {
        if let Some(bit) = 1u64.checked_shl(index) {
            self.pending &= !bit;
        }
        let live = VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_NEEDS_RESET;
        if self.status & live != VIRTIO_CONFIG_S_DRIVER_OK {
            return;
        }
        let Some(mem) = ctx.memory() else {
            self.needs_reset("no guest memory is mapped", ctx);
            return;
        };
        let Some(q) = self.queues.get_mut(index as usize) else {
            self.needs_reset("notify of a queue that does not exist", ctx);
            return;
        };
        if !q.ready() {
            return;
        }
        if !q.is_valid(mem) {
            self.needs_reset("queue rings outside guest RAM or a bad size", ctx);
            return;
        }
        // Serve what is there; then publish where the device is
        // (`avail_event`, with EVENT_IDX: a driver that never sees it moving
        // stops notifying) and serve again if buffers came meanwhile. A
        // bounded number of rounds: another vCPU adding buffers forever
        // cannot hold this one. Buffers still there after the last round
        // are not forgotten (the driver, told the device is on them, will
        // not notify again): the queue stays pending, and the device model
        // serves it before it sleeps.
        let mut used = false;
        let mut more = false;
        for _ in 0..MAX_ROUNDS {
            match self.dev.process(index as usize, q, mem) {
                Ok(false) => {
                    more = false;
                    break;
                }
                Ok(true) => used = true,
                Err(e) => return self.needs_reset(&e.0, ctx),
            }
            match q.enable_notification(mem) {
                Ok(true) => more = true,
                Ok(false) => {
                    more = false;
                    break;
                }
                Err(e) => return self.needs_reset(&format!("used ring: {e}"), ctx),
            }
        }
        if more {
            // `index` is a queue of the device: below its count, which
            // `new` keeps under 64.
            self.pending |= 1 << index;
        }
        if used {
            match q.needs_notification(mem) {
                Ok(true) => self.interrupt(VIRTIO_MMIO_INT_VRING, ctx),
                Ok(false) => {}
                Err(e) => self.needs_reset(&format!("used ring: {e}"), ctx),
            }
        }
    }

    fn read_reg(&mut self, reg: u32) -> u32 {
        match reg {
            VIRTIO_MMIO_MAGIC_VALUE => MAGIC,
            VIRTIO_MMIO_VERSION => VERSION,
            VIRTIO_MMIO_DEVICE_ID => self.dev.device_id(),
            VIRTIO_MMIO_VENDOR_ID => VENDOR,
            VIRTIO_MMIO_DEVICE_FEATURES => match self.device_features_sel {
                0 => self.offered() as u32,
                1 => (self.offered() >> 32) as u32,
                _ => 0,
            },
            VIRTIO_MMIO_QUEUE_NUM_MAX => self.queue().map_or(0, |q| u32::from(q.max_size())),
            VIRTIO_MMIO_QUEUE_READY => self.queue().map_or(0, |q| u32::from(q.ready())),
            VIRTIO_MMIO_INTERRUPT_STATUS => self.interrupt_status,
            VIRTIO_MMIO_STATUS => self.status,
            VIRTIO_MMIO_CONFIG_GENERATION => self.config_generation,
            _ => 0,
        }
    }

    fn write_reg(&mut self, reg: u32, v: u32, ctx: &mut Ctx<'_>) {
        // Queue registers may change only while the driver sets the device
        // up (before DRIVER_OK) and the queue is not live.
        let setting_up = self.status & VIRTIO_CONFIG_S_DRIVER_OK == 0;
        match reg {
            VIRTIO_MMIO_DEVICE_FEATURES_SEL => self.device_features_sel = v,
            VIRTIO_MMIO_DRIVER_FEATURES_SEL => self.driver_features_sel = v,
            VIRTIO_MMIO_DRIVER_FEATURES => {
                let negotiating = self.status & VIRTIO_CONFIG_S_DRIVER != 0
                    && self.status & VIRTIO_CONFIG_S_FEATURES_OK == 0;
                if !negotiating {
                    self.needs_reset("features written outside negotiation", ctx);
                    return;
                }
                match self.driver_features_sel {
                    0 => {
                        self.driver_features = (self.driver_features & !0xffff_ffff) | u64::from(v)
                    }
                    1 => {
                        self.driver_features =
                            (self.driver_features & 0xffff_ffff) | (u64::from(v) << 32)
                    }
                    _ => {}
                }
            }
            VIRTIO_MMIO_QUEUE_SEL => self.queue_sel = v,
            VIRTIO_MMIO_QUEUE_NUM if setting_up => {
                if let Some(q) = self.queue() {
                    q.set_size(v as u16);
                }
            }
            VIRTIO_MMIO_QUEUE_READY if setting_up => {
                if let Some(q) = self.queue() {
                    q.set_ready(v == 1);
                }
            }
            VIRTIO_MMIO_QUEUE_DESC_LOW if setting_up => {
                if let Some(q) = self.queue() {
                    q.set_desc_table_address(Some(v), None);
                }
            }
            VIRTIO_MMIO_QUEUE_DESC_HIGH if setting_up => {
                if let Some(q) = self.queue() {
                    q.set_desc_table_address(None, Some(v));
                }
            }
            VIRTIO_MMIO_QUEUE_AVAIL_LOW if setting_up => {
                if let Some(q) = self.queue() {
                    q.set_avail_ring_address(Some(v), None);
                }
            }
            VIRTIO_MMIO_QUEUE_AVAIL_HIGH if setting_up => {
                if let Some(q) = self.queue() {
                    q.set_avail_ring_address(None, Some(v));
                }
            }
            VIRTIO_MMIO_QUEUE_USED_LOW if setting_up => {
                if let Some(q) = self.queue() {
                    q.set_used_ring_address(Some(v), None);
                }
            }
            VIRTIO_MMIO_QUEUE_USED_HIGH if setting_up => {
                if let Some(q) = self.queue() {
                    q.set_used_ring_address(None, Some(v));
                }
            }
            VIRTIO_MMIO_QUEUE_NUM
            | VIRTIO_MMIO_QUEUE_READY
            | VIRTIO_MMIO_QUEUE_DESC_LOW
            | VIRTIO_MMIO_QUEUE_DESC_HIGH
            | VIRTIO_MMIO_QUEUE_AVAIL_LOW
            | VIRTIO_MMIO_QUEUE_AVAIL_HIGH
            | VIRTIO_MMIO_QUEUE_USED_LOW
            | VIRTIO_MMIO_QUEUE_USED_HIGH => {
                self.needs_reset("queue changed while the device is live", ctx)
            }
            // The queue is the low 16 bits, as the kernel's ioeventfd rule
            // takes it: both paths agree on which queue a value names.
            VIRTIO_MMIO_QUEUE_NOTIFY => self.notify(v & 0xffff, ctx),
            VIRTIO_MMIO_INTERRUPT_ACK => {
                self.interrupt_status &= !v;
                self.update_irq(ctx, false);
            }
            VIRTIO_MMIO_STATUS => self.set_status(v, ctx),
            _ => {}
        }
    }
}

impl<D: VirtioDevice> Device for VirtioMmio<D> {
    fn name(&self) -> &str {
        &self.name
    }

    fn mmio(&self) -> Vec<RangeInclusive<u64>> {
        vec![self.base..=self.base + WINDOW - 1]
    }

    fn needs_guest_memory(&self) -> bool {
        true
    }

    fn read(&mut self, a: Access, _: &mut Ctx<'_>) -> u64 {
        let off = a.addr.wrapping_sub(self.base);
        if off >= u64::from(VIRTIO_MMIO_CONFIG) {
            let mut b = [0u8; 8];
            let n = usize::from(a.size.min(8));
            self.dev
                .read_config(off - u64::from(VIRTIO_MMIO_CONFIG), &mut b[..n]);
            return u64::from_le_bytes(b);
        }
        if a.size != 4 || off % 4 != 0 {
            return all_ones(a.size);
        }
        u64::from(self.read_reg(off as u32))
    }

    fn write(&mut self, a: Access, value: u64, ctx: &mut Ctx<'_>) {
        let off = a.addr.wrapping_sub(self.base);
        if off >= u64::from(VIRTIO_MMIO_CONFIG) {
            let n = usize::from(a.size.min(8));
            self.dev.write_config(
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
        self.dev.fds()
    }

    fn doorbells(&self) -> Vec<xendevicemodel::IoeventfdMatch> {
        (0..self.queues.len())
            .map(|q| xendevicemodel::IoeventfdMatch::MmioQueueNotify {
                base: self.base,
                len: 4,
                queue: q as u16,
            })
            .collect()
    }

    fn doorbell(&mut self, index: usize, ctx: &mut Ctx<'_>) {
        // The same as the write the kernel answered: a notify of that queue.
        self.notify(index as u32, ctx);
    }

    fn has_deferred(&self) -> bool {
        self.pending != 0
    }

    fn serve_deferred(&mut self, ctx: &mut Ctx<'_>) {
        let pending = self.pending;
        for index in 0..64 {
            if pending & (1 << index) != 0 {
                self.notify(index, ctx);
            }
        }
    }
}
