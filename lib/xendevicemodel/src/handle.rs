// SPDX-License-Identifier: MIT
//! The file descriptors this library holds, and restricting all of them.
//!
//! Every privcmd and evtchn descriptor opened through this crate is
//! registered here (weakly: a closed handle drops out). [`restrict_all`]
//! confines each to one domain and fails closed: a descriptor that cannot
//! be restricted is replaced by `/dev/null` (so nothing can use it
//! unrestricted any more) and reported.

use std::fmt;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, Weak};

use dmop_abi::types::DomId;

use crate::error::{Error, Result};
use crate::sys;

/// What a descriptor is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandleKind {
    /// A privcmd node (`/dev/xen/privcmd` or `/dev/xen/privcmd-restrict`).
    Privcmd,
    /// `/dev/xen/evtchn`.
    Evtchn,
}

impl fmt::Display for HandleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HandleKind::Privcmd => "privcmd",
            HandleKind::Evtchn => "evtchn",
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Unrestricted,
    Restricted(DomId),
    /// Replaced by /dev/null after a failed restriction.
    Neutralized,
}

/// A descriptor shared by a handle and whatever it maps.
#[derive(Debug)]
pub(crate) struct Shared {
    fd: OwnedFd,
    kind: HandleKind,
    path: String,
    state: Mutex<State>,
}

static REGISTRY: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    /// Registers a descriptor.
    pub(crate) fn new(
        fd: OwnedFd,
        kind: HandleKind,
        path: &str,
        restricted: Option<DomId>,
    ) -> Arc<Self> {
        let s = Arc::new(Self {
            fd,
            kind,
            path: path.to_string(),
            state: Mutex::new(restricted.map_or(State::Unrestricted, State::Restricted)),
        });
        let mut r = lock(&REGISTRY);
        r.retain(|w| w.strong_count() > 0);
        r.push(Arc::downgrade(&s));
        s
    }

    pub(crate) fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub(crate) fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// The domain the descriptor is restricted to, if it is.
    pub(crate) fn restricted_to(&self) -> Option<DomId> {
        match *lock(&self.state) {
            State::Restricted(d) => Some(d),
            _ => None,
        }
    }

    /// Restricts the descriptor to `domid` (again to the same one: success).
    pub(crate) fn restrict(&self, domid: DomId) -> Result<()> {
        if !domid.is_ordinary() {
            // DOMID_INVALID is the C privcmd's "unrestricted" marker: a
            // restriction to it would succeed and confine nothing.
            return Err(Error::new("restrict", libc::EINVAL));
        }
        let mut st = lock(&self.state);
        match *st {
            // The evtchn driver answers a second restrict with EACCES even
            // for the same domain; privcmd answers 0, and is asked again
            // (as libxendevicemodel does) so that its answer is the kernel's.
            State::Restricted(d) if d == domid && self.kind == HandleKind::Evtchn => return Ok(()),
            State::Neutralized => return Err(Error::new("restrict", libc::EBADF)),
            _ => {}
        }
        match self.kind {
            HandleKind::Privcmd => sys::privcmd_restrict(self.raw(), domid),
            HandleKind::Evtchn => sys::evtchn_restrict(self.raw(), domid),
        }?;
        *st = State::Restricted(domid);
        Ok(())
    }

    /// Replaces the descriptor by /dev/null: every later use fails.
    fn neutralize(&self) -> std::result::Result<(), i32> {
        use rustix::fs::{Mode, OFlags};
        let null = rustix::fs::open("/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| e.raw_os_error())?;
        // dup3 wants the target as an `OwnedFd` it may replace; this is a
        // second one for the number `self.fd` owns, never dropped, so the
        // number is still closed once, by `self.fd`.
        // SAFETY: `self.fd` keeps the number open for the whole call.
        let mut same = std::mem::ManuallyDrop::new(unsafe { OwnedFd::from_raw_fd(self.raw()) });
        rustix::io::dup3(&null, &mut same, rustix::io::DupFlags::CLOEXEC)
            .map_err(|e| e.raw_os_error())?;
        *lock(&self.state) = State::Neutralized;
        Ok(())
    }
}

/// One descriptor [`restrict_all`] could not restrict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestrictFailure {
    /// Its kind.
    pub kind: HandleKind,
    /// The node it was opened from.
    pub path: String,
    /// The descriptor number.
    pub fd: RawFd,
    /// Why the restriction failed.
    pub error: Error,
    /// Whether it was neutralized (replaced by /dev/null). If not, it is
    /// still open unrestricted: the process must not go on.
    pub neutralized: bool,
}

/// [`restrict_all`] failed for some descriptors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestrictAllError {
    /// The domain asked for.
    pub domid: DomId,
    /// The descriptors that could not be restricted.
    pub failures: Vec<RestrictFailure>,
    /// How many were restricted.
    pub restricted: usize,
}

impl fmt::Display for RestrictAllError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "restricting to domain {} failed for {} descriptor(s):",
            self.domid.0,
            self.failures.len()
        )?;
        for x in &self.failures {
            write!(
                f,
                " [{} fd {} ({}): {}; {}]",
                x.kind,
                x.fd,
                x.path,
                x.error,
                if x.neutralized {
                    "replaced by /dev/null"
                } else {
                    "STILL OPEN"
                }
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for RestrictAllError {}

/// What [`restrict_all`] restricted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restricted {
    /// (kind, node, fd) of every descriptor now confined to the domain.
    pub handles: Vec<(HandleKind, String, RawFd)>,
}

/// Restricts every privcmd and evtchn descriptor this process holds through
/// this library to `domid`.
///
/// Fails closed: every descriptor that cannot be restricted is replaced by
/// `/dev/null` and reported in the error, whose [`RestrictFailure::neutralized`]
/// says whether that worked. Restricting to a reserved id (such as
/// `DOMID_INVALID`, which the C privcmd treats as "no restriction") is
/// refused with `EINVAL`.
///
/// # Example
///
/// ```no_run
/// use xendevicemodel::{restrict_all, DeviceModel, EventChannel};
/// use dmop_abi::types::DomId;
///
/// let dm = DeviceModel::open()?;
/// let evtchn = EventChannel::open()?;
/// match restrict_all(DomId(7)) {
///     Ok(r) => println!("{} descriptors confined to domain 7", r.handles.len()),
///     Err(e) => {
///         eprintln!("{e}");
///         std::process::exit(1);
///     }
/// }
/// # Ok::<(), xendevicemodel::Error>(())
/// ```
pub fn restrict_all(domid: DomId) -> std::result::Result<Restricted, RestrictAllError> {
    let live: Vec<Arc<Shared>> = {
        let mut r = lock(&REGISTRY);
        r.retain(|w| w.strong_count() > 0);
        r.iter().filter_map(Weak::upgrade).collect()
    };
    let mut handles = Vec::new();
    let mut failures = Vec::new();
    for s in live {
        match s.restrict(domid) {
            Ok(()) => handles.push((s.kind, s.path.clone(), s.raw())),
            Err(error) => {
                let neutralized = s.neutralize().is_ok();
                event!(
                    warn,
                    "restrict_all({}): {} {}: {error}: {}",
                    domid.0,
                    s.kind,
                    s.path,
                    if neutralized {
                        "replaced by /dev/null"
                    } else {
                        "NOT neutralised: still open as it was"
                    }
                );
                failures.push(RestrictFailure {
                    kind: s.kind,
                    path: s.path.clone(),
                    fd: s.raw(),
                    error,
                    neutralized,
                });
            }
        }
    }
    if failures.is_empty() {
        Ok(Restricted { handles })
    } else {
        Err(RestrictAllError {
            domid,
            restricted: handles.len(),
            failures,
        })
    }
}
