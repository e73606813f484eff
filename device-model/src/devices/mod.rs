// SPDX-License-Identifier: MIT
//! The devices of xen-thin-dm.

mod debug_exit;
mod pci_counter;
mod scratch;
mod uart;

pub use debug_exit::DebugExit;
pub use pci_counter::PciCounter;
pub use scratch::Scratch;
pub use uart::Uart16550;

/// A writer that passes on at most `budget` bytes and drops the rest: the
/// guest's console output cannot fill dom0's disk. (`RLIMIT_FSIZE` bounds
/// every file the device model writes, a disk image included, so with a
/// disk it is raised to the disk's size and the log's bound is this.)
///
/// ```
/// use std::io::Write;
/// let mut w = xen_thin_dm::devices::Capped::new(Vec::new(), 4);
/// w.write_all(b"hello")?;
/// assert_eq!(w.into_inner(), b"hell");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Capped<W> {
    inner: W,
    left: u64,
}

impl<W: std::io::Write> Capped<W> {
    /// `inner`, passing on `budget` bytes.
    pub fn new(inner: W, budget: u64) -> Self {
        Self {
            inner,
            left: budget,
        }
    }

    /// The wrapped writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: std::io::Write> std::io::Write for Capped<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            // Over the budget: dropped, as if written.
            return Ok(buf.len());
        }
        let n = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.write(&buf[..n])?;
        self.left -= n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
