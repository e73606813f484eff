// SPDX-License-Identifier: MIT
//! Virtio devices: a [`VirtioDevice`] is what a device does with its
//! queues and configuration; a transport ([`VirtioMmio`]) makes it a
//! [`Device`](crate::Device) the guest finds and drives.
//!
//! The split virtqueue is rust-vmm's `virtio-queue` (it bounds chains by
//! the queue size, so a looping chain ends, and checks every descriptor
//! against guest memory); the constants are `virtio-bindings`. What is
//! written here is the register file and the device's request handling.
//!
//! A guest that breaks the rules (rings outside its RAM, an available index
//! beyond the queue, a malformed request) gets a failed request or the
//! device's `DEVICE_NEEDS_RESET` status, never a dead device model: the
//! other devices keep serving.

mod blk;
mod console;
mod core;
mod mmio;
pub mod pci;
mod rng;

pub use blk::{BlockBackend, VirtioBlk};
pub use console::VirtioConsole;
pub use mmio::{kernel_arg as mmio_kernel_arg, Line as MmioLine, VirtioMmio};
pub use pci::VirtioPci;
pub use rng::VirtioRng;

use virtio_queue::desc::split::Descriptor;
use virtio_queue::{DescriptorChain, Queue, QueueT};
use vm_memory::GuestMemoryMmap;

/// What a chain holds beyond the descriptors a device keeps.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Tail {
    /// Nothing: the chain ended within them.
    None,
    /// Its last descriptor: the chain ended within the walk's bound.
    Last(Descriptor),
    /// It goes on beyond the walk's bound (or the device did not look).
    Endless,
}

/// Serves the chains the driver made available, at most a queue's worth,
/// and stops early once `enough` says so (a device's budget of work per
/// turn: what is left stays available, and the transport comes back to
/// it): `serve` gets each chain's first `keep` descriptors and what follows
/// them ([`Tail`]): the chain is walked up to `walk` descriptors in all to
/// find its last one, never further (an indirect table may hold 65535,
/// which a hostile driver would make the device walk for every request).
/// A chain virtio-queue cut short (a loop, a next index beyond the queue,
/// over 4 GiB in all) ends on a descriptor that still says "next": it is
/// [`Tail::Endless`] too, so no device takes a data buffer for its last.
/// `serve` returns the used length. Returns whether any chain was used.
pub(crate) fn serve_chains(
    queue: &mut Queue,
    mem: &GuestMemoryMmap,
    keep: usize,
    walk: usize,
    mut serve: impl FnMut(&[Descriptor], Tail) -> u32,
    enough: impl Fn() -> bool,
) -> Result<bool, DeviceError> {
    let mut used = false;
    for _ in 0..queue.max_size() {
        if enough() {
            break;
        }
        let Some(chain) = next_chain(queue, mem)? else {
            break;
        };
        let head = chain.head_index();
        let mut descs = Vec::new();
        let mut tail = Tail::None;
        for (n, d) in chain.enumerate() {
            if n < keep {
                descs.push(d);
            } else if n < walk.max(keep) {
                tail = Tail::Last(d);
            } else {
                tail = Tail::Endless;
                break;
            }
        }
        let last = match tail {
            Tail::Last(d) => Some(d),
            Tail::None => descs.last().copied(),
            Tail::Endless => None,
        };
        if last.is_some_and(|d| d.has_next()) {
            tail = Tail::Endless;
        }
        let len = serve(&descs, tail);
        queue
            .add_used(mem, head, len)
            .map_err(|e| DeviceError(format!("used ring: {e}")))?;
        used = true;
    }
    Ok(used)
}

/// The next chain the driver made available, `None` when there is none;
/// an error when the ring is broken: the available index more than a
/// queue's worth ahead of the device, an entry virtio-queue cannot read, or
/// a head beyond the queue (which virtio-queue hands out as it is).
pub(crate) fn next_chain<'m>(
    queue: &mut Queue,
    mem: &'m GuestMemoryMmap,
) -> Result<Option<DescriptorChain<&'m GuestMemoryMmap>>, DeviceError> {
    let avail = queue
        .avail_idx(mem, std::sync::atomic::Ordering::Acquire)
        .map_err(|e| DeviceError(format!("available ring: {e}")))?;
    let pending = avail - std::num::Wrapping(queue.next_avail());
    if pending.0 == 0 {
        return Ok(None);
    }
    if pending.0 > queue.size() {
        return Err(DeviceError(format!(
            "available index {} is {} ahead of the device, beyond the queue size {}",
            avail.0,
            pending.0,
            queue.size()
        )));
    }
    match queue.pop_descriptor_chain(mem) {
        Some(c) if c.head_index() < queue.size() => Ok(Some(c)),
        Some(c) => Err(DeviceError(format!(
            "descriptor head {} beyond the queue",
            c.head_index()
        ))),
        None => Err(DeviceError("an available ring entry is unreadable".into())),
    }
}

/// A request the device could not make sense of: the driver broke the
/// virtio rules, so the device asks to be reset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceError(pub String);

impl std::fmt::Display for DeviceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a virtio device does, whatever the transport.
pub trait VirtioDevice: Send {
    /// A name for logs.
    fn name(&self) -> &str;

    /// Its virtio device id (2: block, 3: console, 4: entropy).
    fn device_id(&self) -> u32;

    /// The device-specific feature bits it offers (the transport adds
    /// `VIRTIO_F_VERSION_1` and the ring features).
    fn features(&self) -> u64;

    /// The maximum size of each of its queues.
    fn queue_max_sizes(&self) -> &[u16];

    /// Reads its configuration space at `offset` into `data`; bytes beyond
    /// it read zero.
    fn read_config(&self, offset: u64, data: &mut [u8]);

    /// A driver write to its configuration space (ignored by default).
    fn write_config(&mut self, offset: u64, data: &[u8]) {
        let _ = (offset, data);
    }

    /// The driver accepted `features` and set `DRIVER_OK`.
    fn activate(&mut self, features: u64) {
        let _ = features;
    }

    /// The driver reset the device.
    fn reset(&mut self) {}

    /// Handles the available buffers of queue `index`. Returns whether
    /// buffers were used (the transport decides whether to interrupt), or
    /// the reason the device must be reset.
    fn process(
        &mut self,
        index: usize,
        queue: &mut Queue,
        mem: &GuestMemoryMmap,
    ) -> Result<bool, DeviceError>;

    /// The descriptors it holds (a disk image...), declared to the
    /// deprivileging.
    fn fds(&self) -> Vec<std::os::fd::RawFd> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests;
