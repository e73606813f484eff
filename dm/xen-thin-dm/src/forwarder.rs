// SPDX-License-Identifier: MIT
//! The xenstore forwarder process: how the deprivileged device model keeps
//! xenstore access with exactly its guest's permissions.
//!
//! Forked before the device model opens any Xen descriptor, it keeps the
//! privileged xenstore connection and one end of a socket pair, closes
//! every other descriptor, deprivileges itself like the device model (with
//! an allow-list of a dozen system calls and no ioctl), and forwards the
//! device model's node requests wrapped in `XS_ONE_TIME_RESTRICT` for the
//! guest (`xenstore_client::forward`). The device model never holds a
//! connection to xenstored. It ends when the device model's end of the
//! pair closes, and is killed if the device model dies.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

use dmop_abi::types::DomId;
use xenstore_client::{forward, Xenstore};

use crate::depriv::{self, Plan, Profile};

/// The forwarder, seen from the device model.
#[derive(Debug)]
pub struct Forwarder {
    /// Its pid.
    pub pid: libc::pid_t,
    /// The device model's end: plain xenstore protocol.
    pub client: Xenstore,
}

/// Forks the forwarder for `domid`, giving it `upstream` (a privileged
/// connection); it runs as `uid`/`gid`. The caller's copy of `upstream`
/// is closed.
pub fn spawn(upstream: Xenstore, domid: DomId, uid: u32, gid: u32) -> Result<Forwarder, String> {
    let (dm_end, fwd_end) = UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
    // SAFETY: the process is single-threaded here; the child only runs
    // `child` and exits.
    match unsafe { libc::fork() } {
        -1 => Err(format!("fork: {}", std::io::Error::last_os_error())),
        0 => {
            drop(dm_end);
            let code = child(upstream, fwd_end, domid, uid, gid);
            // SAFETY: leaving the child without running the parent's exit handlers.
            unsafe { libc::_exit(code) }
        }
        pid => {
            drop(fwd_end);
            drop(upstream);
            Ok(Forwarder {
                pid,
                client: Xenstore::from_stream(dm_end),
            })
        }
    }
}

fn child(mut upstream: Xenstore, mut client: UnixStream, domid: DomId, uid: u32, gid: u32) -> i32 {
    depriv::ignore_group_signals();
    let say = |m: &str| {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "xen-thin-dm: xenstore forwarder: {m}");
    };
    // Nothing but stdio and the two sockets.
    let mut keep = [upstream.as_raw_fd(), client.as_raw_fd()];
    depriv::close_all_but(&mut keep);
    let plan = Plan {
        domid,
        uid,
        gid,
        as_root: true,
        max_file_size: 1 << 20,
        profile: Profile::XenstoreForwarder,
        known_fds: keep.to_vec(),
        disks: Vec::new(),
    };
    // The uid change clears the parent-death signal: set it after, then
    // make sure the device model did not die in between.
    let hook = &mut || {
        // SAFETY: prctl and getppid with integer arguments.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            if libc::getppid() == 1 {
                libc::_exit(0);
            }
        }
    };
    if let Err(f) = depriv::apply_with(&plan, hook) {
        say(&f.to_string());
        return 1;
    }
    match forward::serve(&mut client, &mut upstream, domid) {
        forward::End::ClientGone => 0,
        forward::End::ClientProtocol(m) => {
            say(&format!(
                "the device model broke the protocol ({m}): dropped"
            ));
            1
        }
        forward::End::Upstream(e) => {
            say(&format!("xenstored: {e}"));
            1
        }
    }
}
