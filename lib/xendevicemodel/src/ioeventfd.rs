// SPDX-License-Identifier: MIT
//! [`Ioeventfd`]: an eventfd the kernel signals when the guest makes a
//! matching write (`IOCTL_PRIVCMD_IOEVENTFD`), completing the ioreq itself,
//! the way a virtio backend hears a queue notify without a round trip
//! through its own ioreq loop.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use dmop_abi::privcmd::{self, IoeventfdExtFlags, IoeventfdFlags, PrivcmdIoeventfd};
use dmop_abi::types::{DomId, EvtchnPort};

use crate::error::{Error, Result};
use crate::handle::Shared;
use crate::ioreq::IoreqPages;
use crate::DeviceModel;

/// Which guest writes an [`Ioeventfd`] answers. Only plain writes of
/// exactly `len` bytes match (a read, a string or `rep` access goes to the
/// ioreq loop as before).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IoeventfdMatch {
    /// Upstream Linux's rule: virtio-mmio's QueueNotify (`base` + 0x50)
    /// written with `queue` in its low 16 bits. Works on either node.
    MmioQueueNotify {
        /// The virtio-mmio device's base address.
        base: u64,
        /// Access size: 1, 2, 4 or 8 (virtio-mmio uses 4).
        len: u32,
        /// The queue index.
        queue: u16,
    },
    /// Any write at `addr` (a virtio-pci notify address with a per-queue
    /// offset). privcmd-restrict only: Linux answers `EINVAL`.
    Write {
        /// Guest-physical address.
        addr: u64,
        /// Access size: 1, 2, 4 or 8.
        len: u32,
    },
    /// A write of exactly `value` at `addr` (a virtio-pci notify address
    /// shared by every queue, the queue index being the value).
    /// privcmd-restrict only.
    WriteValue {
        /// Guest-physical address.
        addr: u64,
        /// Access size: 1, 2, 4 or 8.
        len: u32,
        /// The value written, zero-extended to `len` bytes.
        value: u32,
    },
}

/// Where virtio-mmio's QueueNotify register is, from the device's base.
const MMIO_QUEUE_NOTIFY: u64 = 0x50;

impl IoeventfdMatch {
    /// The guest write it matches: its address and its length in bytes
    /// (`None` if the address wraps).
    ///
    /// ```
    /// use xendevicemodel::IoeventfdMatch;
    ///
    /// let rule = IoeventfdMatch::MmioQueueNotify { base: 0xfe00_0000, len: 4, queue: 0 };
    /// assert_eq!(rule.written(), Some((0xfe00_0050, 4)));
    /// ```
    pub fn written(&self) -> Option<(u64, u32)> {
        match *self {
            Self::MmioQueueNotify { base, len, .. } => {
                Some((base.checked_add(MMIO_QUEUE_NOTIFY)?, len))
            }
            Self::Write { addr, len } | Self::WriteValue { addr, len, .. } => Some((addr, len)),
        }
    }

    /// The same rule `by` bytes higher in guest memory (`None` if it
    /// would wrap): a rule written for a device's registers at 0, moved to
    /// where they sit.
    ///
    /// ```
    /// use xendevicemodel::IoeventfdMatch;
    ///
    /// let rule = IoeventfdMatch::Write { addr: 0x3000, len: 2 };
    /// assert_eq!(rule.moved(0xe000_0000), Some(IoeventfdMatch::Write { addr: 0xe000_3000, len: 2 }));
    /// assert_eq!(rule.moved(u64::MAX), None);
    /// ```
    pub fn moved(self, by: u64) -> Option<Self> {
        Some(match self {
            Self::MmioQueueNotify { base, len, queue } => Self::MmioQueueNotify {
                base: base.checked_add(by)?,
                len,
                queue,
            },
            Self::Write { addr, len } => Self::Write {
                addr: addr.checked_add(by)?,
                len,
            },
            Self::WriteValue { addr, len, value } => Self::WriteValue {
                addr: addr.checked_add(by)?,
                len,
                value,
            },
        })
    }

    /// `(addr, addr_len, vq, flags)` of the ioctl.
    fn fields(self) -> (u64, u32, u32, u32) {
        match self {
            Self::MmioQueueNotify { base, len, queue } => (base, len, u32::from(queue), 0),
            Self::Write { addr, len } => (addr, len, 0, IoeventfdExtFlags::ADDR.0),
            Self::WriteValue { addr, len, value } => (
                addr,
                len,
                value,
                IoeventfdExtFlags::ADDR.0 | IoeventfdExtFlags::DATAMATCH.0,
            ),
        }
    }
}

/// An ioeventfd: while it lives, a guest write it matches, received by the
/// ioreq server whose pages it was made on, is completed by the kernel and
/// adds 1 to its eventfd; the device model's ioreq loop never sees it.
/// Dropping it removes it (the kernel also removes it when the privcmd
/// descriptor is closed, and as soon as the guest starts dying).
///
/// The eventfd is non-blocking: wait for it with `poll` or `epoll` on
/// [`AsFd`], then [`take`](Self::take) the count. The ioreq loop must go on
/// serving the server's event channels (they still carry every other
/// request) and must take requests with [`IoreqSlot::begin`](crate::IoreqSlot::begin),
/// whose compare-and-swap leaves a request the kernel answered alone.
///
/// # Example
///
/// ```no_run
/// use dmop_abi::types::{DomId, IoservId};
/// use dmop_abi::dmop::BufioreqMode;
/// use xendevicemodel::{DeviceModel, EventChannel, IoeventfdMatch, IoreqPages, PRIVCMD_RESTRICT_PATH};
///
/// let guest = DomId(7);
/// let dm = DeviceModel::open_bound(PRIVCMD_RESTRICT_PATH, guest)?;
/// let server = dm.create_ioreq_server(guest, BufioreqMode::OFF)?;
/// let pages = IoreqPages::map(&dm, guest, server, dm.nr_vcpus(guest)?, false)?;
/// let evtchn = EventChannel::open()?;
/// dm.set_ioreq_server_state(guest, server, true)?;
/// let ports = (0..pages.nr_vcpus())
///     .map(|v| evtchn.bind_interdomain(guest, pages.slot(v).unwrap().vp_eport()))
///     .collect::<Result<Vec<_>, _>>()?;
/// // Queue 0 of a virtio-pci device whose notify address is 0xfe001000.
/// let kick = dm.ioeventfd(&pages, &ports, IoeventfdMatch::Write { addr: 0xfe00_1000, len: 2 })?;
/// // ... poll(kick.as_fd()) ...
/// let notifies = kick.take()?;
/// # let _ = notifies;
/// # Ok::<(), xendevicemodel::Error>(())
/// ```
#[derive(Debug)]
pub struct Ioeventfd {
    shared: Arc<Shared>,
    eventfd: OwnedFd,
    /// The request, for the deassign (its `ports` pointer cleared).
    arg: PrivcmdIoeventfd,
}

impl Ioeventfd {
    /// The writes matched since the last call (0 if none): reads the eventfd.
    pub fn take(&self) -> Result<u64> {
        let mut v = [0u8; 8];
        match rustix::io::read(&self.eventfd, &mut v) {
            Ok(8) => Ok(u64::from_ne_bytes(v)),
            Ok(_) => Err(Error::new("ioeventfd read", libc::EIO)),
            Err(rustix::io::Errno::AGAIN) => Ok(0),
            Err(e) => Err(Error::new("ioeventfd read", e.raw_os_error())),
        }
    }

    /// The guest whose writes it answers.
    pub fn domid(&self) -> DomId {
        self.arg.dom
    }
}

impl AsFd for Ioeventfd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.eventfd.as_fd()
    }
}

impl Drop for Ioeventfd {
    fn drop(&mut self) {
        let mut arg = self.arg;
        arg.flags = IoeventfdFlags(arg.flags.0 | IoeventfdFlags::DEASSIGN.0);
        // Nothing to report to: a descriptor already closed took it along.
        // SAFETY: IOCTL_PRIVCMD_IOEVENTFD with its struct (no buffer read on deassign).
        let _ = unsafe {
            crate::sys::ioctl(
                self.shared.raw(),
                privcmd::IOCTL_PRIVCMD_IOEVENTFD,
                (&raw mut arg).cast(),
                "ioeventfd deassign",
            )
        };
    }
}

impl DeviceModel {
    /// Makes the kernel answer the guest writes `rule` matches that the
    /// ioreq server of `pages` receives: it completes each and signals the
    /// returned ioeventfd. `ports` are the server's vCPU event channels as
    /// this process bound them (one per vCPU of `pages`, in order). The
    /// kernel checks that `pages` is a mapping of this node, that each port
    /// is an interdomain channel to that vCPU's slot in the guest, and that
    /// the fd may reach the guest (`EPERM` otherwise on a restricted one);
    /// `EBUSY` if the eventfd is already there, `EEXIST` if another
    /// ioeventfd on the page matches an overlapping write. Needs a node
    /// with `IOCTL_PRIVCMD_IOEVENTFD`: `ENOTTY` otherwise; upstream Linux
    /// supports [`IoeventfdMatch::MmioQueueNotify`] only, and not on a PV
    /// dom0 (it oopses there; privcmd-restrict does not).
    pub fn ioeventfd(
        &self,
        pages: &IoreqPages,
        ports: &[EvtchnPort],
        rule: IoeventfdMatch,
    ) -> Result<Ioeventfd> {
        let shared = self.shared("ioeventfd")?;
        let eventfd =
            crate::sys::eventfd(rustix::event::EventfdFlags::NONBLOCK, "ioeventfd eventfd")?;
        let (addr, addr_len, vq, flags) = rule.fields();
        let ports: Vec<u32> = ports.iter().map(|p| p.0).collect();
        let mut arg = PrivcmdIoeventfd {
            ioreq: pages.sync_page_addr(),
            ports: ports.as_ptr() as u64,
            addr,
            addr_len,
            event_fd: eventfd.as_raw_fd() as u32,
            vcpus: ports.len() as u32,
            vq,
            flags: IoeventfdFlags(flags),
            dom: pages.domid(),
            ..PrivcmdIoeventfd::ZEROED
        };
        // SAFETY: IOCTL_PRIVCMD_IOEVENTFD with its struct; `ports` lives across the call.
        unsafe {
            crate::sys::ioctl(
                shared.raw(),
                privcmd::IOCTL_PRIVCMD_IOEVENTFD,
                (&raw mut arg).cast(),
                "ioeventfd",
            )
        }?;
        arg.ports = 0;
        Ok(Ioeventfd {
            shared,
            eventfd,
            arg,
        })
    }
}
