// SPDX-License-Identifier: MIT
//! A small xenstore client: the wire protocol of `xen/io/xs_wire.h` over
//! xenstored's Unix socket or `/dev/xen/xenbus`.
//!
//! It depends on dmop-abi (the wire's numbers) and libc only: it speaks the
//! protocol itself, with no Xen C library and nothing of a device model.
//!
//! Message numbers and the header come from dmop-abi (`xs_wire`).
//!
//! # Example
//!
//! ```no_run
//! use xenstore_client::Xenstore;
//!
//! let mut xs = Xenstore::open()?;
//! xs.write("/local/domain/0/device-model/3/state", b"running")?;
//! assert_eq!(xs.read("/local/domain/0/device-model/3/state")?, b"running");
//! # Ok::<(), xenstore_client::Error>(())
//! ```
#![deny(missing_docs)]

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use dmop_abi::types::DomId;
use dmop_abi::xs_wire::{XsMsgType, XsdSockmsg, XENSTORE_PAYLOAD_MAX};
use zerocopy::{FromBytes, IntoBytes};

/// xenstored's socket.
pub const SOCKET_PATH: &str = "/run/xenstored/socket";
/// The kernel's xenstore device (a ring to xenstored, for guests and dom0).
pub const XENBUS_PATH: &str = "/dev/xen/xenbus";

/// A failed xenstore request.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The connection failed.
    Io(&'static str, std::io::Error),
    /// xenstored answered with an error (its errno name: `EACCES`, `ENOENT`...).
    Xenstore(&'static str, String),
    /// A malformed answer, or a request too large for the protocol.
    Protocol(&'static str, String),
}

impl Error {
    /// The errno name xenstored answered with, if it did.
    pub fn xs_errno(&self) -> Option<&str> {
        match self {
            Error::Xenstore(_, e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(op, e) => write!(f, "xenstore {op}: {e}"),
            Error::Xenstore(op, e) => write!(f, "xenstore {op}: {e}"),
            Error::Protocol(op, e) => write!(f, "xenstore {op}: protocol error: {e}"),
        }
    }
}

impl std::error::Error for Error {}

/// Result of this crate.
pub type Result<T> = std::result::Result<T, Error>;

enum Conn {
    Socket(UnixStream),
    Xenbus(File),
}

pub mod forward;

impl Conn {
    fn send(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Socket(s) => s.write_all(buf),
            // The xenbus device takes one whole message per write.
            Conn::Xenbus(f) => f.write_all(buf),
        }
    }

    fn recv(
        &mut self,
        buf: &mut [u8],
        timeout: Option<std::time::Duration>,
    ) -> std::io::Result<()> {
        match self {
            // SO_RCVTIMEO (set by `set_timeout`) bounds each read.
            Conn::Socket(s) => s.read_exact(buf).map_err(|e| match e.kind() {
                // What SO_RCVTIMEO's expiry looks like.
                std::io::ErrorKind::WouldBlock => std::io::ErrorKind::TimedOut.into(),
                _ => e,
            }),
            Conn::Xenbus(f) => {
                // An empty body is nothing to wait for (the device queues
                // no part for it). Otherwise the device hands out a
                // message's parts together: waiting for the first byte
                // bounds the read.
                if buf.is_empty() {
                    return Ok(());
                }
                if let Some(t) = timeout {
                    use std::os::fd::AsRawFd;
                    let mut p = libc::pollfd {
                        fd: f.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    // Rounded up: a timeout under 1 ms must still wait.
                    let ms = libc::c_int::try_from(t.as_micros().div_ceil(1000))
                        .unwrap_or(libc::c_int::MAX);
                    loop {
                        // SAFETY: one valid pollfd, for the duration of the call.
                        match unsafe { libc::poll(&mut p, 1, ms) } {
                            0 => return Err(std::io::ErrorKind::TimedOut.into()),
                            n if n < 0 => {
                                let e = std::io::Error::last_os_error();
                                if e.kind() != std::io::ErrorKind::Interrupted {
                                    return Err(e);
                                }
                            }
                            _ => break,
                        }
                    }
                }
                f.read_exact(buf)
            }
        }
    }
}

/// A connection to xenstored.
pub struct Xenstore {
    conn: Conn,
    next_req: u32,
    act_as: Option<DomId>,
    timeout: Option<std::time::Duration>,
}

impl fmt::Debug for Xenstore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Xenstore")
            .field(
                "via",
                &match self.conn {
                    Conn::Socket(_) => "socket",
                    Conn::Xenbus(_) => "xenbus",
                },
            )
            .finish()
    }
}

impl Xenstore {
    /// Connects through xenstored's socket, else through `/dev/xen/xenbus`.
    pub fn open() -> Result<Self> {
        Self::open_socket(SOCKET_PATH).or_else(|_| Self::open_xenbus(XENBUS_PATH))
    }

    /// Connects through a socket.
    pub fn open_socket(path: &str) -> Result<Self> {
        let s = UnixStream::connect(path).map_err(|e| Error::Io("connect", e))?;
        Ok(Self {
            conn: Conn::Socket(s),
            next_req: 1,
            act_as: None,
            timeout: None,
        })
    }

    /// Speaks the protocol over an already connected stream (for instance
    /// the device model's end of a [`forward`]er's socket pair).
    pub fn from_stream(s: UnixStream) -> Self {
        Self {
            conn: Conn::Socket(s),
            next_req: 1,
            act_as: None,
            timeout: None,
        }
    }

    /// From now on, sends every node request (read, write, mkdir, rm,
    /// directory, permissions) with `XS_ONE_TIME_RESTRICT`, acting as
    /// `domid`: xenstored runs each with exactly that domain's permissions.
    /// Needs a privileged connection and a xenstored with `xen-patches/`.
    ///
    /// This is for a trusted sender (a toolstack acting for a guest). It
    /// confines nothing against the holder of the connection, which can
    /// always send unwrapped requests: to confine a deprivileged process,
    /// give it a [`forward`]er's end instead.
    pub fn act_as(&mut self, domid: Option<DomId>) {
        self.act_as = domid;
    }

    /// Bounds how long a request waits for each part of its answer (and,
    /// on a socket, for its sending): past it, the request fails with
    /// [`Error::Io`] (`TimedOut`), so a silent xenstored cannot hang the
    /// caller. The bound is per read, not per request: a xenstored that
    /// keeps sending watch events, or trickles its answer, is waited for.
    /// After a timeout the connection is out of step with xenstored (an
    /// answer may still come): drop it and connect again. `None` (the
    /// default) waits for good.
    pub fn set_timeout(&mut self, timeout: Option<std::time::Duration>) -> Result<()> {
        if timeout == Some(std::time::Duration::ZERO) {
            return Err(Error::Protocol("set_timeout", "a zero timeout".into()));
        }
        if let Conn::Socket(s) = &self.conn {
            s.set_read_timeout(timeout)
                .and_then(|()| s.set_write_timeout(timeout))
                .map_err(|e| Error::Io("set_timeout", e))?;
        }
        self.timeout = timeout;
        Ok(())
    }

    /// Connects through the xenbus device.
    pub fn open_xenbus(path: &str) -> Result<Self> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| Error::Io("open xenbus", e))?;
        Ok(Self {
            conn: Conn::Xenbus(f),
            next_req: 1,
            act_as: None,
            timeout: None,
        })
    }

    /// Sends one request and returns the answer's type and payload; an
    /// `XS_ERROR` answer becomes [`Error::Xenstore`]. Watch events that
    /// arrive in between are dropped. Acting as a domain ([`act_as`](Self::act_as)),
    /// node requests go wrapped in `XS_ONE_TIME_RESTRICT`.
    pub fn request(
        &mut self,
        op: &'static str,
        ty: XsMsgType,
        tx_id: u32,
        payload: &[u8],
    ) -> Result<(XsMsgType, Vec<u8>)> {
        match self.act_as {
            Some(d) if forward::is_node_op(ty) => self.request_as(d, op, ty, tx_id, payload),
            _ => self.exchange(op, ty, tx_id, payload),
        }
    }

    /// Sends one request with `XS_ONE_TIME_RESTRICT`: xenstored runs it with
    /// exactly `domid`'s permissions (a patched xenstored; others answer
    /// `ENOSYS`).
    pub fn request_as(
        &mut self,
        domid: DomId,
        op: &'static str,
        ty: XsMsgType,
        tx_id: u32,
        payload: &[u8],
    ) -> Result<(XsMsgType, Vec<u8>)> {
        let wrapped = forward::one_time_restrict_payload(domid, ty, payload);
        self.exchange(op, XsMsgType::ONE_TIME_RESTRICT, tx_id, &wrapped)
    }

    /// Whether `XS_ONE_TIME_RESTRICT` works here for `domid` (an introduced
    /// guest): a restricted read of its home succeeds. Any xenstore error
    /// (`ENOSYS` from an upstream xenstored, `EACCES` on an unprivileged
    /// connection...) means no.
    pub fn supports_one_time_restrict(&mut self, domid: DomId) -> Result<bool> {
        let home = format!("/local/domain/{}", domid.0);
        match self.request_as(
            domid,
            "one-time-restrict probe",
            XsMsgType::READ,
            0,
            &nul(&home),
        ) {
            Ok(_) => Ok(true),
            Err(Error::Xenstore(..)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn exchange(
        &mut self,
        op: &'static str,
        ty: XsMsgType,
        tx_id: u32,
        payload: &[u8],
    ) -> Result<(XsMsgType, Vec<u8>)> {
        if payload.len() > XENSTORE_PAYLOAD_MAX {
            return Err(Error::Protocol(
                op,
                format!("payload of {} bytes", payload.len()),
            ));
        }
        let req_id = self.next_req;
        self.next_req = self.next_req.wrapping_add(1);
        let (hdr, body) = self.exchange_raw(
            op,
            XsdSockmsg {
                r#type: ty,
                req_id,
                tx_id,
                len: payload.len() as u32,
            },
            payload,
        )?;
        if hdr.req_id != req_id {
            return Err(Error::Protocol(
                op,
                format!(
                    "answer to request {} while waiting for {req_id}",
                    hdr.req_id
                ),
            ));
        }
        if hdr.r#type == XsMsgType::ERROR {
            let name =
                String::from_utf8_lossy(body.strip_suffix(&[0]).unwrap_or(&body)).into_owned();
            return Err(Error::Xenstore(op, name));
        }
        Ok((hdr.r#type, body))
    }

    /// Sends one message as given (header and payload) and returns the
    /// next answer that is not a watch event, header and payload, without
    /// interpreting it.
    pub fn exchange_raw(
        &mut self,
        op: &'static str,
        hdr: XsdSockmsg,
        payload: &[u8],
    ) -> Result<(XsdSockmsg, Vec<u8>)> {
        let mut msg = Vec::with_capacity(16 + payload.len());
        msg.extend_from_slice(hdr.as_bytes());
        msg.extend_from_slice(payload);
        self.conn.send(&msg).map_err(|e| Error::Io(op, e))?;
        loop {
            let mut h = [0u8; 16];
            self.conn
                .recv(&mut h, self.timeout)
                .map_err(|e| Error::Io(op, e))?;
            let hdr = XsdSockmsg::read_from_bytes(&h)
                .map_err(|_| Error::Protocol(op, "short header".into()))?;
            if hdr.len as usize > XENSTORE_PAYLOAD_MAX {
                return Err(Error::Protocol(op, format!("answer of {} bytes", hdr.len)));
            }
            let mut body = vec![0u8; hdr.len as usize];
            self.conn
                .recv(&mut body, self.timeout)
                .map_err(|e| Error::Io(op, e))?;
            if hdr.r#type == XsMsgType::WATCH_EVENT {
                continue;
            }
            return Ok((hdr, body));
        }
    }

    /// The connection's descriptor.
    pub fn as_raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        match &self.conn {
            Conn::Socket(s) => s.as_raw_fd(),
            Conn::Xenbus(f) => f.as_raw_fd(),
        }
    }

    /// Reads a node.
    pub fn read(&mut self, path: &str) -> Result<Vec<u8>> {
        Ok(self.request("read", XsMsgType::READ, 0, &nul(path))?.1)
    }

    /// Writes a node (creating it).
    pub fn write(&mut self, path: &str, value: &[u8]) -> Result<()> {
        let mut p = nul(path);
        p.extend_from_slice(value);
        self.request("write", XsMsgType::WRITE, 0, &p).map(|_| ())
    }

    /// Creates a node.
    pub fn mkdir(&mut self, path: &str) -> Result<()> {
        self.request("mkdir", XsMsgType::MKDIR, 0, &nul(path))
            .map(|_| ())
    }

    /// Removes a node and its children.
    pub fn rm(&mut self, path: &str) -> Result<()> {
        self.request("rm", XsMsgType::RM, 0, &nul(path)).map(|_| ())
    }

    /// Lists a node's children.
    pub fn directory(&mut self, path: &str) -> Result<Vec<String>> {
        let b = self
            .request("directory", XsMsgType::DIRECTORY, 0, &nul(path))?
            .1;
        Ok(split(&b))
    }

    /// A node's permissions, as xenstored prints them (`n0`, `r3`, ...).
    pub fn get_perms(&mut self, path: &str) -> Result<Vec<String>> {
        let b = self
            .request("get_perms", XsMsgType::GET_PERMS, 0, &nul(path))?
            .1;
        Ok(split(&b))
    }

    /// Sets a node's permissions (`n0`, `b3`...: owner first).
    pub fn set_perms(&mut self, path: &str, perms: &[&str]) -> Result<()> {
        let mut p = nul(path);
        for x in perms {
            p.extend_from_slice(x.as_bytes());
            p.push(0);
        }
        self.request("set_perms", XsMsgType::SET_PERMS, 0, &p)
            .map(|_| ())
    }
}

fn nul(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

fn split(b: &[u8]) -> Vec<String> {
    b.split(|&c| c == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// A xenstored that never answers: with a timeout the request fails
    /// in about that time; the connection is not left hanging.
    #[test]
    fn a_silent_xenstored_times_out() {
        let (ours, _silent) = UnixStream::pair().unwrap();
        let mut xs = Xenstore::from_stream(ours);
        assert!(xs.set_timeout(Some(Duration::ZERO)).is_err());
        xs.set_timeout(Some(Duration::from_millis(200))).unwrap();
        let start = Instant::now();
        let e = xs.read("/local/domain/0/name").unwrap_err();
        let waited = start.elapsed();
        assert!(
            matches!(&e, Error::Io(_, io) if io.kind() == std::io::ErrorKind::TimedOut),
            "{e}"
        );
        assert!(
            waited >= Duration::from_millis(150) && waited < Duration::from_secs(5),
            "{waited:?}"
        );
    }

    /// Through the xenbus path (a file): an answer with an empty body
    /// comes back at once, a silent peer times out.
    #[test]
    fn xenbus_timeouts_wait_for_parts_only() {
        use std::io::Write as _;
        use std::os::fd::OwnedFd;
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let mut xs = Xenstore {
            conn: Conn::Xenbus(File::from(OwnedFd::from(ours))),
            next_req: 1,
            act_as: None,
            timeout: None,
        };
        xs.set_timeout(Some(Duration::from_millis(300))).unwrap();
        // The answer to request 1: XS_WRITE, no payload.
        let hdr = XsdSockmsg {
            r#type: XsMsgType::WRITE,
            req_id: 1,
            tx_id: 0,
            len: 0,
        };
        theirs.write_all(hdr.as_bytes()).unwrap();
        let start = Instant::now();
        xs.write("/x", b"").unwrap();
        assert!(
            start.elapsed() < Duration::from_millis(250),
            "{:?}",
            start.elapsed()
        );
        let start = Instant::now();
        let e = xs.read("/x").unwrap_err();
        assert!(
            matches!(&e, Error::Io(_, io) if io.kind() == std::io::ErrorKind::TimedOut),
            "{e}"
        );
        assert!(
            start.elapsed() >= Duration::from_millis(250),
            "{:?}",
            start.elapsed()
        );
    }
}
