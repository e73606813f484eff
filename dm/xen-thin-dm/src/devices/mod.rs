// SPDX-License-Identifier: MIT
//! The devices of xen-thin-dm.

mod debug_exit;
mod host_bridge;
mod pci_counter;
mod scratch;
mod uart;

pub use debug_exit::DebugExit;
pub use host_bridge::HostBridge;
pub use pci_counter::PciCounter;
pub use scratch::Scratch;
pub use uart::Uart16550;

/// A writer that passes on at most `budget` bytes and drops the rest: the
/// guest's console output cannot fill dom0's disk. (`RLIMIT_FSIZE` bounds
/// every file the device model writes, a disk image included, so with a
/// disk it is raised to the disk's size and the log's bound is this.)
/// Writers made with [`sharing`](Self::sharing) one [`Budget`] share it:
/// a guest with a UART and a virtio console gets one budget, not two.
///
/// ```
/// use std::io::Write;
/// use xen_thin_dm::devices::{Budget, Capped};
/// let mut w = Capped::new(Vec::new(), 4);
/// w.write_all(b"hello")?;
/// assert_eq!(w.into_inner(), b"hell");
///
/// let budget = Budget::new(6);
/// let (mut a, mut b) = (Capped::sharing(Vec::new(), &budget), Capped::sharing(Vec::new(), &budget));
/// a.write_all(b"four")?;
/// b.write_all(b"four")?;
/// assert_eq!((a.into_inner(), b.into_inner()), (b"four".to_vec(), b"fo".to_vec()));
/// assert_eq!(budget.left(), 0);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Capped<W> {
    inner: W,
    left: Budget,
}

/// Bytes that writers sharing it may still pass on.
#[derive(Clone, Debug)]
pub struct Budget(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl Budget {
    /// A budget of `bytes`.
    pub fn new(bytes: u64) -> Self {
        Self(std::sync::Arc::new(bytes.into()))
    }

    /// What is left of it.
    pub fn left(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Takes up to `want` bytes of it; returns how many it took.
    fn take(&self, want: u64) -> u64 {
        use std::sync::atomic::Ordering::Relaxed;
        let prev = self
            .0
            .fetch_update(Relaxed, Relaxed, |left| Some(left - left.min(want)))
            .unwrap_or(0);
        prev.min(want)
    }

    /// Gives back `n` bytes taken and not used.
    fn give_back(&self, n: u64) {
        self.0.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }
}

impl<W: std::io::Write> Capped<W> {
    /// `inner`, passing on `budget` bytes.
    pub fn new(inner: W, budget: u64) -> Self {
        Self::sharing(inner, &Budget::new(budget))
    }

    /// `inner`, passing on what is left of `budget`, shared with the other
    /// writers made from it.
    pub fn sharing(inner: W, budget: &Budget) -> Self {
        Self {
            inner,
            left: budget.clone(),
        }
    }

    /// The wrapped writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: std::io::Write> std::io::Write for Capped<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.left.take(buf.len() as u64) as usize;
        if n == 0 {
            // Over the budget: dropped, as if written.
            return Ok(buf.len());
        }
        match self.inner.write(&buf[..n]) {
            Ok(w) => {
                self.left.give_back((n - w) as u64);
                Ok(w)
            }
            Err(e) => {
                self.left.give_back(n as u64);
                Err(e)
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
