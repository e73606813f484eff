// SPDX-License-Identifier: MIT
//! [`Irqfd`]: a DMOP the kernel makes whenever an eventfd is signalled
//! (`IOCTL_PRIVCMD_IRQFD`), the way a virtio backend interrupts its guest
//! without a system call of its own per interrupt.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use dmop_abi::dmop::XenDmOp;
use dmop_abi::privcmd::{self, IrqfdFlags, PrivcmdIrqfd};
use dmop_abi::types::DomId;
use zerocopy::IntoBytes;

use crate::error::{Error, Result};
use crate::handle::Shared;
use crate::DeviceModel;

/// An irqfd: while it lives, every signal of its eventfd makes the kernel
/// issue its DMOP on its guest. Dropping it removes it (the kernel also
/// removes it when the privcmd descriptor is closed). Its eventfd can be
/// handed to whatever signals it (a vhost-user peer, another thread):
/// [`AsFd`] gives it, [`signal`](Self::signal) writes it.
///
/// On privcmd-restrict the irqfd is confined as the descriptor's DMOPs are,
/// at creation and again at every signal.
///
/// # Example
///
/// ```no_run
/// use dmop_abi::dmop::{DmopCode, SetPciIntxLevel, XenDmOp};
/// use dmop_abi::types::DomId;
/// use xendevicemodel::{DeviceModel, PRIVCMD_RESTRICT_PATH};
///
/// let guest = DomId(7);
/// let dm = DeviceModel::open_bound(PRIVCMD_RESTRICT_PATH, guest)?;
/// // Raise INTx A of device 00:03.0 whenever the eventfd is signalled.
/// let raise = XenDmOp::with_payload(
///     DmopCode::SET_PCI_INTX_LEVEL,
///     &SetPciIntxLevel { device: 3, intx: 0, level: 1, ..SetPciIntxLevel::ZEROED },
/// );
/// let irq = dm.irqfd(guest, &raise)?;
/// irq.signal()?; // the kernel makes the DMOP
/// # Ok::<(), xendevicemodel::Error>(())
/// ```
#[derive(Debug)]
pub struct Irqfd {
    shared: Arc<Shared>,
    eventfd: OwnedFd,
    domid: DomId,
    op: XenDmOp,
}

impl Irqfd {
    /// Signals the eventfd (adds 1), as a backend's other threads would.
    pub fn signal(&self) -> Result<()> {
        let one = 1u64.to_ne_bytes();
        match rustix::io::write(&self.eventfd, &one) {
            Ok(8) => Ok(()),
            Ok(_) => Err(Error::new("irqfd signal", libc::EIO)),
            Err(e) => Err(Error::new("irqfd signal", e.raw_os_error())),
        }
    }

    /// The guest the DMOP is made on.
    pub fn domid(&self) -> DomId {
        self.domid
    }

    fn ioctl(&self, flags: IrqfdFlags, name: &'static str) -> Result<()> {
        irqfd_ioctl(
            &self.shared,
            &self.eventfd,
            self.domid,
            &self.op,
            flags,
            name,
        )
    }
}

/// `IOCTL_PRIVCMD_IRQFD` on `shared`'s descriptor.
fn irqfd_ioctl(
    shared: &Shared,
    eventfd: &OwnedFd,
    domid: DomId,
    op: &XenDmOp,
    flags: IrqfdFlags,
    name: &'static str,
) -> Result<()> {
    let mut op = *op;
    let mut arg = PrivcmdIrqfd {
        dm_op: op.as_mut_bytes().as_mut_ptr() as u64,
        size: size_of::<XenDmOp>() as u32,
        fd: eventfd.as_raw_fd() as u32,
        flags,
        dom: domid,
        ..PrivcmdIrqfd::ZEROED
    };
    // SAFETY: IOCTL_PRIVCMD_IRQFD with its struct; the op buffer lives across the call.
    unsafe {
        crate::sys::ioctl(
            shared.raw(),
            privcmd::IOCTL_PRIVCMD_IRQFD,
            (&raw mut arg).cast(),
            name,
        )
    }
    .map(|_| ())
}

impl AsFd for Irqfd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.eventfd.as_fd()
    }
}

impl Drop for Irqfd {
    fn drop(&mut self) {
        // Nothing to report to: a descriptor already closed took it along.
        let _ = self.ioctl(IrqfdFlags::DEASSIGN, "irqfd deassign");
    }
}

impl DeviceModel {
    /// Makes the kernel issue `op` (a whole `xen_dm_op`, as
    /// [`XenDmOp::with_payload`] builds) on `domid` whenever the returned
    /// irqfd's eventfd is signalled. The kernel copies `op` now; later
    /// changes to the caller's value do nothing. Needs a privcmd node with
    /// `IOCTL_PRIVCMD_IRQFD` (Linux 6.7's, or privcmd-restrict's): `ENOTTY`
    /// otherwise; `EPERM` for another domain on a restricted descriptor;
    /// `EOPNOTSUPP` on a handle without a privcmd descriptor.
    pub fn irqfd(&self, domid: DomId, op: &XenDmOp) -> Result<Irqfd> {
        let shared = self.shared("irqfd")?;
        let eventfd = crate::sys::eventfd(rustix::event::EventfdFlags::empty(), "irqfd eventfd")?;
        irqfd_ioctl(&shared, &eventfd, domid, op, IrqfdFlags(0), "irqfd")?;
        Ok(Irqfd {
            shared,
            eventfd,
            domid,
            op: *op,
        })
    }
}
