// SPDX-License-Identifier: MIT
//! What every virtio transport shares: the device status and feature
//! negotiation, the queues and their registers' rules, serving a notify,
//! and `DEVICE_NEEDS_RESET` when the driver breaks the rules. A transport
//! adds where its registers are and how it interrupts: each method here
//! returns the interrupt causes it raised (`INT_VRING`, `INT_CONFIG`, the
//! bits of virtio-mmio's InterruptStatus and of virtio-pci's ISR alike),
//! for the transport to deliver.

use virtio_bindings::virtio_config::{
    VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_FEATURES_OK,
    VIRTIO_CONFIG_S_NEEDS_RESET, VIRTIO_F_VERSION_1,
};
use virtio_bindings::virtio_ring::{VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC};
use virtio_queue::{Queue, QueueT};
use vm_memory::GuestMemoryMmap;

use super::VirtioDevice;

/// Interrupt cause: a queue's used ring moved.
pub(crate) const INT_VRING: u32 = 1;
/// Interrupt cause: the configuration (or the device status) changed.
pub(crate) const INT_CONFIG: u32 = 2;
/// Rounds of serving a queue per notify.
const MAX_ROUNDS: u32 = 8;
/// Device errors logged per device; later ones are only counted.
const LOGGED_ERRORS: u32 = 8;

/// The registers of the selected queue, as both transports have them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QueueReg {
    Size,
    Ready,
    DescLow,
    DescHigh,
    AvailLow,
    AvailHigh,
    UsedLow,
    UsedHigh,
}

/// A virtio device's state, whatever the transport.
pub(crate) struct Core<D: VirtioDevice> {
    pub dev: D,
    pub name: String,
    pub status: u32,
    pub device_features_sel: u32,
    pub driver_features_sel: u32,
    pub driver_features: u64,
    pub queue_sel: u32,
    pub queues: Vec<Queue>,
    pub config_generation: u32,
    pub errors: u32,
    /// Queues (by bit) whose driver added buffers faster than one notify's
    /// rounds served them: served again before the device model sleeps.
    pub pending: u64,
}

impl<D: VirtioDevice> Core<D> {
    /// `dev`, named `name` in logs. At most 64 queues.
    pub fn new(dev: D, name: String) -> Self {
        assert!(
            dev.queue_max_sizes().len() <= 64,
            "a device has at most 64 queues here"
        );
        let queues = dev
            .queue_max_sizes()
            .iter()
            .map(|&n| Queue::new(n).expect("a device's queue size is a power of two"))
            .collect();
        Self {
            dev,
            name,
            status: 0,
            device_features_sel: 0,
            driver_features_sel: 0,
            driver_features: 0,
            queue_sel: 0,
            queues,
            config_generation: 0,
            errors: 0,
            pending: 0,
        }
    }

    /// The features the device offers: its own and the transport's.
    pub fn offered(&self) -> u64 {
        self.dev.features()
            | 1 << VIRTIO_F_VERSION_1
            | 1 << VIRTIO_RING_F_INDIRECT_DESC
            | 1 << VIRTIO_RING_F_EVENT_IDX
    }

    /// The 32 offered feature bits `device_features_sel` selects.
    pub fn device_features(&self) -> u32 {
        match self.device_features_sel {
            0 => self.offered() as u32,
            1 => (self.offered() >> 32) as u32,
            _ => 0,
        }
    }

    /// The selected queue.
    pub fn queue(&mut self) -> Option<&mut Queue> {
        self.queues.get_mut(self.queue_sel as usize)
    }

    /// Whether the driver is still setting the device up: queue registers
    /// may change only then (before `DRIVER_OK`).
    pub fn setting_up(&self) -> bool {
        self.status & VIRTIO_CONFIG_S_DRIVER_OK == 0
    }

    /// The driver broke the rules: the device stops using its queues until
    /// it is reset, and says so (a configuration interrupt, once).
    pub fn needs_reset(&mut self, why: &str) -> u32 {
        self.errors = self.errors.saturating_add(1);
        if self.errors <= LOGGED_ERRORS {
            crate::server::log(&format!(
                "{}: the driver broke the virtio rules ({why}): DEVICE_NEEDS_RESET",
                self.name
            ));
        }
        if self.status & VIRTIO_CONFIG_S_NEEDS_RESET == 0 {
            self.status |= VIRTIO_CONFIG_S_NEEDS_RESET;
            return INT_CONFIG;
        }
        0
    }

    /// The driver reset the device (status 0).
    pub fn reset(&mut self) {
        self.status = 0;
        self.driver_features = 0;
        self.device_features_sel = 0;
        self.driver_features_sel = 0;
        self.queue_sel = 0;
        for q in &mut self.queues {
            q.reset();
        }
        self.pending = 0;
        self.dev.reset();
    }

    /// A driver write of 32 feature bits, at `driver_features_sel`.
    pub fn write_driver_features(&mut self, v: u32) -> u32 {
        let negotiating = self.status & VIRTIO_CONFIG_S_DRIVER != 0
            && self.status & VIRTIO_CONFIG_S_FEATURES_OK == 0;
        if !negotiating {
            return self.needs_reset("features written outside negotiation");
        }
        match self.driver_features_sel {
            0 => self.driver_features = (self.driver_features & !0xffff_ffff) | u64::from(v),
            1 => self.driver_features = (self.driver_features & 0xffff_ffff) | (u64::from(v) << 32),
            _ => {}
        }
        0
    }

    /// A driver write of the device status (0 resets; the transport resets
    /// its interrupt state too).
    pub fn set_status(&mut self, v: u32) -> u32 {
        if v == 0 {
            self.reset();
            return 0;
        }
        let old = self.status;
        // The driver only adds bits (a reset is the only way back);
        // NEEDS_RESET is the device's.
        let kept = old & !VIRTIO_CONFIG_S_NEEDS_RESET;
        if v & kept != kept {
            return self.needs_reset("status bits cleared without a reset");
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
                return self.needs_reset("DRIVER_OK before FEATURES_OK");
            }
            let event_idx = self.driver_features & (1 << VIRTIO_RING_F_EVENT_IDX) != 0;
            for q in &mut self.queues {
                q.set_event_idx(event_idx);
            }
            self.dev.activate(self.driver_features);
        }
        self.status = status;
        0
    }

    /// A driver write of a register of the selected queue: while setting
    /// the device up only (a rule break once it is live).
    pub fn write_queue(&mut self, reg: QueueReg, v: u32) -> u32 {
        if !self.setting_up() {
            return self.needs_reset("queue changed while the device is live");
        }
        let Some(q) = self.queue() else {
            return 0;
        };
        match reg {
            QueueReg::Size => q.set_size(v as u16),
            QueueReg::Ready => q.set_ready(v == 1),
            QueueReg::DescLow => q.set_desc_table_address(Some(v), None),
            QueueReg::DescHigh => q.set_desc_table_address(None, Some(v)),
            QueueReg::AvailLow => q.set_avail_ring_address(Some(v), None),
            QueueReg::AvailHigh => q.set_avail_ring_address(None, Some(v)),
            QueueReg::UsedLow => q.set_used_ring_address(Some(v), None),
            QueueReg::UsedHigh => q.set_used_ring_address(None, Some(v)),
        }
        0
    }

    /// The driver notified queue `index`: serves it (with guest RAM `mem`).
    pub fn notify(&mut self, index: u32, mem: Option<&GuestMemoryMmap>) -> u32 {
        if let Some(bit) = 1u64.checked_shl(index) {
            self.pending &= !bit;
        }
        let live = VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_NEEDS_RESET;
        if self.status & live != VIRTIO_CONFIG_S_DRIVER_OK {
            return 0;
        }
        let Some(mem) = mem else {
            return self.needs_reset("no guest memory is mapped");
        };
        let Some(q) = self.queues.get_mut(index as usize) else {
            return self.needs_reset("notify of a queue that does not exist");
        };
        if !q.ready() {
            return 0;
        }
        if !q.is_valid(mem) {
            return self.needs_reset("queue rings outside guest RAM or a bad size");
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
                Err(e) => return self.needs_reset(&e.0),
            }
            match q.enable_notification(mem) {
                Ok(true) => more = true,
                Ok(false) => {
                    more = false;
                    break;
                }
                Err(e) => return self.needs_reset(&format!("used ring: {e}")),
            }
        }
        if more {
            // `index` is a queue of the device: below its count, which
            // `new` keeps under 64.
            self.pending |= 1 << index;
        }
        if used {
            match q.needs_notification(mem) {
                Ok(true) => return INT_VRING,
                Ok(false) => {}
                Err(e) => return self.needs_reset(&format!("used ring: {e}")),
            }
        }
        0
    }

    /// Serves the queues left pending; the causes raised.
    pub fn serve_pending(&mut self, mem: Option<&GuestMemoryMmap>) -> u32 {
        let pending = self.pending;
        let mut causes = 0;
        for index in 0..64 {
            if pending & (1 << index) != 0 {
                causes |= self.notify(index, mem);
            }
        }
        causes
    }
}
