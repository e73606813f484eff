// SPDX-License-Identifier: MIT
//! The Linux event-channel device uapi (`include/uapi/xen/evtchn.h`),
//! `/dev/xen/evtchn`.
//!
//! Bind ioctls return the new local port. `read()` yields pending local
//! ports as `u32`s; writing ports back unmasks them. After
//! `IOCTL_EVTCHN_RESTRICT_DOMID(d)`: `BIND_VIRQ` and `BIND_UNBOUND_PORT`
//! give `EACCES`, `BIND_INTERDOMAIN` works only towards `d`, and a second
//! restrict gives `EACCES`.

use super::ioctl::{ioc, IoctlDesc, IOC_NONE};
use super::layout::{AbiZero, FieldLayout, StructLayout};
use super::types::DomId;

abi_struct! {
    #[c(name = "ioctl_evtchn_bind_virq", header = "xen/evtchn.h")]
    /// `struct ioctl_evtchn_bind_virq`.
    pub struct EvtchnBindVirq {
        /// The virtual IRQ.
        pub virq: u32,
    }
}

abi_struct! {
    #[c(name = "ioctl_evtchn_bind_interdomain", header = "xen/evtchn.h")]
    /// `struct ioctl_evtchn_bind_interdomain`.
    pub struct EvtchnBindInterdomain {
        /// The remote domain.
        pub remote_domain: u32,
        /// Its unbound port.
        pub remote_port: u32,
    }
}

abi_struct! {
    #[c(name = "ioctl_evtchn_bind_unbound_port", header = "xen/evtchn.h")]
    /// `struct ioctl_evtchn_bind_unbound_port`.
    pub struct EvtchnBindUnboundPort {
        /// The domain allowed to bind the new port.
        pub remote_domain: u32,
    }
}

abi_struct! {
    #[c(name = "ioctl_evtchn_unbind", header = "xen/evtchn.h")]
    /// `struct ioctl_evtchn_unbind`.
    pub struct EvtchnUnbind {
        /// Local port.
        pub port: u32,
    }
}

abi_struct! {
    #[c(name = "ioctl_evtchn_notify", header = "xen/evtchn.h")]
    /// `struct ioctl_evtchn_notify`.
    pub struct EvtchnNotify {
        /// Local port.
        pub port: u32,
    }
}

abi_struct! {
    #[c(name = "ioctl_evtchn_restrict_domid", header = "xen/evtchn.h")]
    /// `struct ioctl_evtchn_restrict_domid`.
    pub struct EvtchnRestrictDomid {
        /// The only domain the fd may bind to from now on.
        pub domid: DomId,
    }
}

ioctls! {
    EVTCHN_IOCTLS in "xen/evtchn.h" {
        /// Binds a virtual IRQ; returns the local port.
        pub const IOCTL_EVTCHN_BIND_VIRQ = none(b'E', 0, EvtchnBindVirq => "struct ioctl_evtchn_bind_virq");
        /// Binds to a remote domain's port; returns the local port.
        pub const IOCTL_EVTCHN_BIND_INTERDOMAIN = none(b'E', 1, EvtchnBindInterdomain => "struct ioctl_evtchn_bind_interdomain");
        /// Allocates a port a remote domain may bind; returns it.
        pub const IOCTL_EVTCHN_BIND_UNBOUND_PORT = none(b'E', 2, EvtchnBindUnboundPort => "struct ioctl_evtchn_bind_unbound_port");
        /// Unbinds a local port.
        pub const IOCTL_EVTCHN_UNBIND = none(b'E', 3, EvtchnUnbind => "struct ioctl_evtchn_unbind");
        /// Notifies the remote end of a local port.
        pub const IOCTL_EVTCHN_NOTIFY = none(b'E', 4, EvtchnNotify => "struct ioctl_evtchn_notify");
        /// Clears the pending-event ring.
        pub const IOCTL_EVTCHN_RESET = none(b'E', 5);
        /// Confines the fd to one remote domain.
        pub const IOCTL_EVTCHN_RESTRICT_DOMID = none(b'E', 6, EvtchnRestrictDomid => "struct ioctl_evtchn_restrict_domid");
    }
}
