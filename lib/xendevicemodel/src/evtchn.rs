// SPDX-License-Identifier: MIT
//! Event channels through `/dev/xen/evtchn`.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;

use dmop_abi::evtchn::{self, EvtchnBindInterdomain, EvtchnNotify, EvtchnUnbind};
use dmop_abi::types::{DomId, EvtchnPort};
use zerocopy::IntoBytes;

use crate::error::{Error, Result};
use crate::handle::{HandleKind, Shared};
use crate::sys;

/// The default event-channel device.
pub const EVTCHN_PATH: &str = "/dev/xen/evtchn";

/// An event-channel handle: bind ports of a remote domain, notify them,
/// read which local ports fired, unmask them.
///
/// # Example
///
/// ```no_run
/// use xendevicemodel::EventChannel;
/// use dmop_abi::types::{DomId, EvtchnPort};
///
/// let ev = EventChannel::open()?;
/// ev.restrict(DomId(5))?;
/// let local = ev.bind_interdomain(DomId(5), EvtchnPort(3))?;
/// ev.notify(local)?;
/// let mut fired = [EvtchnPort(0); 8];
/// let n = ev.pending(&mut fired)?;
/// for p in &fired[..n] {
///     ev.unmask(*p)?;
/// }
/// # Ok::<(), xendevicemodel::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct EventChannel {
    shared: Arc<Shared>,
}

impl EventChannel {
    /// Opens `/dev/xen/evtchn` (close-on-exec).
    pub fn open() -> Result<Self> {
        Self::open_path(EVTCHN_PATH)
    }

    /// Opens another event-channel node.
    pub fn open_path(path: &str) -> Result<Self> {
        let fd = sys::open(path, "open event channel device")?;
        Ok(Self {
            shared: Shared::new(fd, HandleKind::Evtchn, path, None),
        })
    }

    /// Uses an already open event-channel descriptor.
    pub fn from_fd(fd: std::os::fd::OwnedFd) -> Self {
        Self {
            shared: Shared::new(fd, HandleKind::Evtchn, "(descriptor)", None),
        }
    }

    /// Confines the handle to `domid`: from now on it can only bind to that
    /// domain (again to the same domain: success; reserved ids: `EINVAL`).
    pub fn restrict(&self, domid: DomId) -> Result<()> {
        self.shared.restrict(domid)
    }

    /// The domain the handle is restricted to.
    pub fn restricted_to(&self) -> Option<DomId> {
        self.shared.restricted_to()
    }

    /// Binds `remote_port` of `remote`; returns the local port.
    pub fn bind_interdomain(&self, remote: DomId, remote_port: EvtchnPort) -> Result<EvtchnPort> {
        let mut b = EvtchnBindInterdomain {
            remote_domain: u32::from(remote.0),
            remote_port: remote_port.0,
        };
        // SAFETY: the argument is the struct the ioctl reads.
        let r = unsafe {
            sys::ioctl(
                self.shared.raw(),
                evtchn::IOCTL_EVTCHN_BIND_INTERDOMAIN,
                (&raw mut b).cast(),
                "bind_interdomain",
            )
        }?;
        Ok(EvtchnPort(r as u32))
    }

    /// Binds `remote_port` of `remote` as a [`BoundPort`], which unbinds
    /// the local port when dropped (it holds its own reference to this
    /// descriptor).
    pub fn bind(&self, remote: DomId, remote_port: EvtchnPort) -> Result<BoundPort> {
        Ok(BoundPort {
            port: self.bind_interdomain(remote, remote_port)?,
            ev: self.clone(),
        })
    }

    /// Unbinds a local port.
    pub fn unbind(&self, port: EvtchnPort) -> Result<()> {
        let mut u = EvtchnUnbind { port: port.0 };
        // SAFETY: the argument is the struct the ioctl reads.
        unsafe {
            sys::ioctl(
                self.shared.raw(),
                evtchn::IOCTL_EVTCHN_UNBIND,
                (&raw mut u).cast(),
                "unbind",
            )
        }
        .map(|_| ())
    }

    /// Notifies the remote end of a local port.
    pub fn notify(&self, port: EvtchnPort) -> Result<()> {
        let mut n = EvtchnNotify { port: port.0 };
        // SAFETY: the argument is the struct the ioctl reads.
        unsafe {
            sys::ioctl(
                self.shared.raw(),
                evtchn::IOCTL_EVTCHN_NOTIFY,
                (&raw mut n).cast(),
                "notify",
            )
        }
        .map(|_| ())
    }

    /// Reads the local ports that fired into `out` (they stay masked until
    /// [`unmask`](Self::unmask)); returns how many. Blocks unless the
    /// descriptor is non-blocking and returns `EAGAIN` then.
    pub fn pending(&self, out: &mut [EvtchnPort]) -> Result<usize> {
        let n = rustix::io::read(self.shared.fd(), out.as_mut_bytes())
            .map_err(sys::errno("read pending ports"))?;
        Ok(n / 4)
    }

    /// Unmasks a local port so that it can fire again.
    pub fn unmask(&self, port: EvtchnPort) -> Result<()> {
        let n =
            rustix::io::write(self.shared.fd(), port.as_bytes()).map_err(sys::errno("unmask"))?;
        if n != 4 {
            return Err(Error::new("unmask", libc::EIO));
        }
        Ok(())
    }

    /// Makes reads non-blocking (for use with poll/epoll).
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
        let fd = self.shared.fd();
        let mut fl = fcntl_getfl(fd).map_err(sys::errno("fcntl"))?;
        fl.set(OFlags::NONBLOCK, nonblocking);
        fcntl_setfl(fd, fl).map_err(sys::errno("fcntl"))
    }
}

impl AsRawFd for EventChannel {
    fn as_raw_fd(&self) -> RawFd {
        self.shared.raw()
    }
}

impl AsFd for EventChannel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.shared.fd().as_fd()
    }
}

/// A local event-channel port bound by [`EventChannel::bind`], unbound
/// when dropped. Do not [`EventChannel::unbind`] its port yourself: the
/// number may be reused by then, and the drop would unbind another's.
#[derive(Debug)]
pub struct BoundPort {
    ev: EventChannel,
    port: EvtchnPort,
}

impl BoundPort {
    /// The local port (what [`EventChannel::pending`] reports).
    pub fn port(&self) -> EvtchnPort {
        self.port
    }

    /// Notifies the remote end.
    pub fn notify(&self) -> Result<()> {
        self.ev.notify(self.port)
    }

    /// Unmasks the port so that it can fire again.
    pub fn unmask(&self) -> Result<()> {
        self.ev.unmask(self.port)
    }
}

impl Drop for BoundPort {
    fn drop(&mut self) {
        let _ = self.ev.unbind(self.port);
    }
}
