// SPDX-License-Identifier: MIT
//! virtio-console, one port, no multiport: what the guest writes on its
//! transmit queue goes to the device model's log (or a file), as the UART's
//! output does. The receive queue is never filled (the guest has no input).

use std::io::Write;
use std::os::fd::RawFd;

use virtio_queue::Queue;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::{DeviceError, VirtioDevice};

const QUEUE_SIZE: u16 = 64;
const RECEIVE: usize = 0;
const TRANSMIT: usize = 1;
/// Bytes taken from one transmit buffer at most.
const MAX_PER_BUFFER: usize = 4096;

/// virtio-console writing to `out`.
pub struct VirtioConsole {
    out: Box<dyn Write + Send>,
    fd: Option<RawFd>,
    written: u64,
}

impl std::fmt::Debug for VirtioConsole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtioConsole")
            .field("written", &self.written)
            .finish()
    }
}

impl VirtioConsole {
    /// A console whose output goes to `out` (holding descriptor `fd`, if
    /// it is a file the device model opened).
    pub fn new(out: Box<dyn Write + Send>, fd: Option<RawFd>) -> Self {
        Self {
            out,
            fd,
            written: 0,
        }
    }

    /// Bytes the guest wrote.
    pub fn written(&self) -> u64 {
        self.written
    }
}

impl VirtioDevice for VirtioConsole {
    fn name(&self) -> &str {
        "console"
    }

    fn device_id(&self) -> u32 {
        3
    }

    fn features(&self) -> u64 {
        0
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE, QUEUE_SIZE]
    }

    fn read_config(&self, _: u64, data: &mut [u8]) {
        // cols, rows, max_nr_ports: only meaningful with features we do
        // not offer.
        data.fill(0);
    }

    fn process(
        &mut self,
        index: usize,
        queue: &mut Queue,
        mem: &GuestMemoryMmap,
    ) -> Result<bool, DeviceError> {
        match index {
            // Input buffers wait for input that never comes.
            RECEIVE => return Ok(false),
            TRANSMIT => {}
            _ => return Err(DeviceError(format!("console has no queue {index}"))),
        }
        let mut buf = vec![0u8; MAX_PER_BUFFER];
        let transmit = |descs: &[virtio_queue::desc::split::Descriptor], _| {
            for d in descs.iter().filter(|d| !d.is_write_only()) {
                let n = (d.len() as usize).min(MAX_PER_BUFFER);
                if mem
                    .read_slice(&mut buf[..n], GuestAddress(d.addr().0))
                    .is_ok()
                {
                    // The log may be full: output is dropped, the guest
                    // is not stopped.
                    let _ = self.out.write_all(&buf[..n]);
                    self.written += n as u64;
                }
            }
            let _ = self.out.flush();
            0
        };
        super::serve_chains(queue, mem, 16, 16, transmit, || false)
    }

    fn fds(&self) -> Vec<RawFd> {
        self.fd.into_iter().collect()
    }
}
