// SPDX-License-Identifier: MIT
//! The restricting forwarder: gives an untrusted client (a deprivileged
//! device model) xenstore access with exactly one guest's permissions.
//!
//! The forwarder holds a privileged connection to xenstored; the client
//! holds only its end of a socket pair and speaks the plain protocol. Each
//! node request of the client (read, write, mkdir, rm, directory,
//! permissions) goes to xenstored wrapped in `XS_ONE_TIME_RESTRICT` for the
//! guest, so xenstored checks it with the guest's permissions; every other
//! request (watches, transactions, domain management, and
//! `XS_ONE_TIME_RESTRICT` itself) is answered `EACCES` by the forwarder and
//! never reaches xenstored, and a transaction id is refused (`EINVAL`): the
//! client cannot start transactions, so it has none. The client cannot send anything unwrapped: it
//! has no connection to xenstored. The forwarder reads only headers and
//! lengths; payloads pass through as bytes.
//!
//! # Example
//!
//! ```
//! use dmop_abi::types::DomId;
//! use dmop_abi::xs_wire::XsMsgType;
//! use xenstore_client::forward;
//!
//! assert!(forward::is_node_op(XsMsgType::WRITE));
//! assert!(!forward::is_node_op(XsMsgType::WATCH));
//! assert_eq!(forward::one_time_restrict_payload(DomId(7), XsMsgType::READ, b"name\0"), b"7\x002\x00name\x00");
//! ```

use std::io::{Read, Write};

use dmop_abi::types::DomId;
use dmop_abi::xs_wire::{XsMsgType, XsdSockmsg, XENSTORE_PAYLOAD_MAX};
use zerocopy::{FromBytes, IntoBytes};

use crate::{Error, Xenstore};

/// The requests that may be sent for a domain: those xenstored's
/// `XS_ONE_TIME_RESTRICT` accepts.
pub const NODE_OPS: [XsMsgType; 8] = [
    XsMsgType::DIRECTORY,
    XsMsgType::READ,
    XsMsgType::GET_PERMS,
    XsMsgType::WRITE,
    XsMsgType::MKDIR,
    XsMsgType::RM,
    XsMsgType::SET_PERMS,
    XsMsgType::DIRECTORY_PART,
];

/// Whether `ty` is a node request ([`NODE_OPS`]).
pub fn is_node_op(ty: XsMsgType) -> bool {
    NODE_OPS.contains(&ty)
}

/// The payload of an `XS_ONE_TIME_RESTRICT` carrying a request of type
/// `ty` with `payload`, for `domid`: `<domid>\0<type>\0<payload>`.
pub fn one_time_restrict_payload(domid: DomId, ty: XsMsgType, payload: &[u8]) -> Vec<u8> {
    let mut v = format!("{}\0{}\0", domid.0, ty.0).into_bytes();
    v.extend_from_slice(payload);
    v
}

/// How a forwarding session ended.
#[derive(Debug)]
pub enum End {
    /// The client closed its end.
    ClientGone,
    /// The client broke the protocol (a length over the maximum, or a
    /// message cut short); its connection is dropped.
    ClientProtocol(String),
    /// xenstored's connection failed.
    Upstream(Error),
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn error_reply(client: &mut impl Write, req: &XsdSockmsg, errno: &str) -> std::io::Result<()> {
    let body = format!("{errno}\0");
    let h = XsdSockmsg {
        r#type: XsMsgType::ERROR,
        req_id: req.req_id,
        tx_id: req.tx_id,
        len: body.len() as u32,
    };
    let mut m = h.as_bytes().to_vec();
    m.extend_from_slice(body.as_bytes());
    client.write_all(&m)
}

/// Serves `client` until it closes: node requests go to `upstream` (a
/// privileged connection) wrapped for `domid`; answers come back as they
/// are; anything else is answered `EACCES` here. A request that would not
/// fit in one message once wrapped is answered `E2BIG`.
pub fn serve(client: &mut (impl Read + Write), upstream: &mut Xenstore, domid: DomId) -> End {
    loop {
        let mut h = [0u8; 16];
        match read_full(client, &mut h) {
            Ok(true) => {}
            Ok(false) => return End::ClientGone,
            Err(e) => return End::ClientProtocol(format!("header: {e}")),
        }
        let hdr = XsdSockmsg::read_from_bytes(&h).expect("16 bytes");
        if hdr.len as usize > XENSTORE_PAYLOAD_MAX {
            return End::ClientProtocol(format!("a payload of {} bytes", hdr.len));
        }
        let mut body = vec![0u8; hdr.len as usize];
        if let Err(e) = read_full(client, &mut body).and_then(|full| {
            if full || body.is_empty() {
                Ok(())
            } else {
                Err(std::io::ErrorKind::UnexpectedEof.into())
            }
        }) {
            return End::ClientProtocol(format!("payload: {e}"));
        }
        let sent = if !is_node_op(hdr.r#type) {
            error_reply(client, &hdr, "EACCES")
        } else if hdr.tx_id != 0 {
            // The client cannot start transactions, so it has none.
            error_reply(client, &hdr, "EINVAL")
        } else {
            let wrapped = one_time_restrict_payload(domid, hdr.r#type, &body);
            if wrapped.len() > XENSTORE_PAYLOAD_MAX {
                error_reply(client, &hdr, "E2BIG")
            } else {
                let out = XsdSockmsg {
                    r#type: XsMsgType::ONE_TIME_RESTRICT,
                    req_id: hdr.req_id,
                    tx_id: hdr.tx_id,
                    len: wrapped.len() as u32,
                };
                match upstream.exchange_raw("forward", out, &wrapped) {
                    Ok((ah, ab)) => {
                        let mut m = ah.as_bytes().to_vec();
                        m.extend_from_slice(&ab);
                        client.write_all(&m)
                    }
                    Err(e) => return End::Upstream(e),
                }
            }
        };
        if let Err(e) = sent {
            return End::ClientProtocol(format!("answering: {e}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixStream;
    use std::thread;

    use super::*;

    /// A fake xenstored: records each message and answers "OK" (or the
    /// payload's first string, reversed, for reads).
    fn fake_xenstored(mut s: UnixStream) -> thread::JoinHandle<Vec<(XsdSockmsg, Vec<u8>)>> {
        thread::spawn(move || {
            let mut seen = Vec::new();
            loop {
                let mut h = [0u8; 16];
                if !read_full(&mut s, &mut h).unwrap_or(false) {
                    return seen;
                }
                let hdr = XsdSockmsg::read_from_bytes(&h).unwrap();
                let mut b = vec![0u8; hdr.len as usize];
                read_full(&mut s, &mut b).unwrap();
                let reply = b"OK\0".to_vec();
                let rh = XsdSockmsg {
                    r#type: XsMsgType::WRITE,
                    req_id: hdr.req_id,
                    tx_id: hdr.tx_id,
                    len: reply.len() as u32,
                };
                let mut m = rh.as_bytes().to_vec();
                m.extend_from_slice(&reply);
                s.write_all(&m).unwrap();
                seen.push((hdr, b));
            }
        })
    }

    fn send(c: &mut UnixStream, ty: XsMsgType, req_id: u32, body: &[u8]) -> (XsdSockmsg, Vec<u8>) {
        let h = XsdSockmsg {
            r#type: ty,
            req_id,
            tx_id: 0,
            len: body.len() as u32,
        };
        let mut m = h.as_bytes().to_vec();
        m.extend_from_slice(body);
        c.write_all(&m).unwrap();
        let mut rh = [0u8; 16];
        read_full(c, &mut rh).unwrap();
        let rh = XsdSockmsg::read_from_bytes(&rh).unwrap();
        let mut rb = vec![0u8; rh.len as usize];
        read_full(c, &mut rb).unwrap();
        (rh, rb)
    }

    #[test]
    fn node_requests_go_wrapped_and_everything_else_is_refused_here() {
        let (up_ours, up_theirs) = UnixStream::pair().unwrap();
        let daemon = fake_xenstored(up_theirs);
        let (mut client, mut fwd_end) = UnixStream::pair().unwrap();
        let fwd = thread::spawn(move || {
            let mut up = Xenstore::from_stream(up_ours);
            serve(&mut fwd_end, &mut up, DomId(7))
        });
        let (h, b) = send(&mut client, XsMsgType::WRITE, 41, b"data/x\0v");
        assert_eq!(
            (h.req_id, h.r#type, b.as_slice()),
            (41, XsMsgType::WRITE, &b"OK\0"[..]),
            "the answer comes back as is"
        );
        for ty in [
            XsMsgType::WATCH,
            XsMsgType::TRANSACTION_START,
            XsMsgType::INTRODUCE,
            XsMsgType::ONE_TIME_RESTRICT,
            XsMsgType(999),
        ] {
            let (h, b) = send(&mut client, ty, 42, b"x\0");
            assert_eq!(
                (h.r#type, h.req_id, b.as_slice()),
                (XsMsgType::ERROR, 42, &b"EACCES\0"[..]),
                "{ty:?}"
            );
        }
        let h = XsdSockmsg {
            r#type: XsMsgType::READ,
            req_id: 44,
            tx_id: 3,
            len: 2,
        };
        let mut m = h.as_bytes().to_vec();
        m.extend_from_slice(b"x\0");
        client.write_all(&m).unwrap();
        let mut rh = [0u8; 16];
        read_full(&mut client, &mut rh).unwrap();
        let rh = XsdSockmsg::read_from_bytes(&rh).unwrap();
        let mut rb = vec![0u8; rh.len as usize];
        read_full(&mut client, &mut rb).unwrap();
        assert_eq!(
            (rh.r#type, rh.req_id, rb.as_slice()),
            (XsMsgType::ERROR, 44, &b"EINVAL\0"[..]),
            "no transactions"
        );
        let big = vec![b'a'; XENSTORE_PAYLOAD_MAX - 2];
        let (h, b) = send(&mut client, XsMsgType::WRITE, 43, &big);
        assert_eq!(
            (h.r#type, b.as_slice()),
            (XsMsgType::ERROR, &b"E2BIG\0"[..]),
            "too big once wrapped"
        );
        drop(client);
        assert!(matches!(fwd.join().unwrap(), End::ClientGone));
        let seen = daemon.join().unwrap();
        assert_eq!(seen.len(), 1, "only the node request reached xenstored");
        assert_eq!(seen[0].0.r#type, XsMsgType::ONE_TIME_RESTRICT);
        assert_eq!(seen[0].0.req_id, 41, "the client's request id");
        assert_eq!(seen[0].1, b"7\x0011\x00data/x\x00v");
    }

    #[test]
    fn a_client_that_breaks_the_protocol_is_dropped() {
        let (up_ours, _up_theirs) = UnixStream::pair().unwrap();
        let (mut client, mut fwd_end) = UnixStream::pair().unwrap();
        let fwd = thread::spawn(move || {
            serve(&mut fwd_end, &mut Xenstore::from_stream(up_ours), DomId(7))
        });
        let h = XsdSockmsg {
            r#type: XsMsgType::READ,
            req_id: 1,
            tx_id: 0,
            len: 5000,
        };
        client.write_all(h.as_bytes()).unwrap();
        assert!(matches!(fwd.join().unwrap(), End::ClientProtocol(m) if m.contains("5000")));
    }
}
