// SPDX-License-Identifier: MIT
//! virtio-rng (entropy): fills the guest's buffers from a source opened
//! before the device model deprivileged itself (`/dev/urandom` by default).

use std::io::Read;
use std::os::fd::{AsRawFd, RawFd};

use virtio_queue::desc::split::Descriptor;
use virtio_queue::Queue;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::{DeviceError, VirtioDevice};

const QUEUE_SIZE: u16 = 64;
/// Bytes given per request at most: a driver asking for more gets this
/// much (the used length says so).
const MAX_PER_REQUEST: usize = 4096;

/// virtio-rng over `source`.
pub struct VirtioRng {
    source: std::fs::File,
    given: u64,
}

impl std::fmt::Debug for VirtioRng {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtioRng")
            .field("given", &self.given)
            .finish()
    }
}

impl VirtioRng {
    /// Entropy from `source` (opened now, before deprivileging).
    pub fn new(source: std::fs::File) -> Self {
        Self { source, given: 0 }
    }

    /// Bytes handed to the guest so far.
    pub fn given(&self) -> u64 {
        self.given
    }

    fn fill(&mut self, mem: &GuestMemoryMmap, descs: &[Descriptor]) -> u32 {
        let mut buf = [0u8; MAX_PER_REQUEST];
        let mut total = 0usize;
        for d in descs.iter().filter(|d| d.is_write_only()) {
            let want = (d.len() as usize).min(MAX_PER_REQUEST - total);
            if want == 0 {
                break;
            }
            if self.source.read_exact(&mut buf[..want]).is_err()
                || mem
                    .write_slice(&buf[..want], GuestAddress(d.addr().0))
                    .is_err()
            {
                break;
            }
            total += want;
        }
        self.given += total as u64;
        total as u32
    }
}

impl VirtioDevice for VirtioRng {
    fn name(&self) -> &str {
        "rng"
    }

    fn device_id(&self) -> u32 {
        4
    }

    fn features(&self) -> u64 {
        0
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE]
    }

    fn read_config(&self, _: u64, data: &mut [u8]) {
        data.fill(0);
    }

    fn process(
        &mut self,
        index: usize,
        queue: &mut Queue,
        mem: &GuestMemoryMmap,
    ) -> Result<bool, DeviceError> {
        if index != 0 {
            return Err(DeviceError(format!("rng has no queue {index}")));
        }
        super::serve_chains(
            queue,
            mem,
            16,
            16,
            |descs, _| self.fill(mem, descs),
            || false,
        )
    }

    fn fds(&self) -> Vec<RawFd> {
        vec![self.source.as_raw_fd()]
    }
}
