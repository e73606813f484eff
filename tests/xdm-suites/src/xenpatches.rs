// SPDX-License-Identifier: MIT
//! The suites of `xen-patches/`, run on the patched hypervisor and
//! xenstored:
//! - `xen-patches`: the DMOP dispatcher refuses every number that is not an
//!   active x86 op (`EOPNOTSUPP`), and xenstored's `XS_ONE_TIME_RESTRICT`
//!   does what docs/misc/xenstore.txt says, malformed input included,
//!   with xenstored alive at the end;
//! - `xen-guard-retired`: on the test-only hypervisor whose header retires
//!   DMOP 20 (nr_vcpus), that number is refused while the others work.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use dmop_abi::dmop::{DmopCode, XenDmOp};
use dmop_abi::types::DomId;
use dmop_abi::xs_wire::{XsMsgType, XsdSockmsg};
use xenstore_client::{Error, Xenstore, SOCKET_PATH, XENBUS_PATH};
use zerocopy::IntoBytes;

use crate::devicemodel::wait_for;
use crate::raw::{self, Errno};
use crate::tap::Tap;
use crate::xl::{self, Guest};

fn raw_op(fd: &std::os::fd::OwnedFd, dom: DomId, op: u32) -> Result<i32, Errno> {
    let mut o = XenDmOp::new(DmopCode(op));
    raw::dm_op(fd, dom, &mut [o.as_mut_bytes()])
}

fn dmop_checks(t: &mut Tap, dom: DomId) {
    let Ok(fd) = raw::open("/dev/xen/privcmd") else {
        t.check("open /dev/xen/privcmd", false, "");
        return;
    };
    // An op of the other architecture's dispatcher: assigned, but not
    // active here.
    let (other, other_why, other_short) = if cfg!(target_arch = "aarch64") {
        (7, "7, track_dirty_vram: x86 only", "7 (x86 only)")
    } else {
        (19, "19, set_irq_level: Arm only", "19 (Arm only)")
    };
    for (op, why) in [
        (0, "0, never assigned"),
        (other, other_why),
        (21, "21, past the last op"),
        (0x8000_0000, "0x80000000"),
        (u32::MAX, "0xffffffff"),
    ] {
        t.eq(
            &format!("DMOP {why}: EOPNOTSUPP, by design"),
            raw_op(&fd, dom, op).err(),
            Some(Errno(libc::EOPNOTSUPP)),
        );
    }
    // What only the guard does: upstream looks the number up in the op
    // table first (0 and the other architecture's op are in range, with no
    // size) and then answers a set `pad` EINVAL; the guard refuses the
    // number before reading on.
    for (op, why) in [(0, "0"), (other, other_short)] {
        let mut o = XenDmOp::new(DmopCode(op));
        o.pad = 1;
        t.eq(
            &format!("DMOP {why} with a nonzero pad: EOPNOTSUPP (refused before the op table; upstream: EINVAL)"),
            raw::dm_op(&fd, dom, &mut [o.as_mut_bytes()]).err(),
            Some(Errno(libc::EOPNOTSUPP)),
        );
    }
    t.eq(
        "DMOP 20, nr_vcpus, an active op, still works",
        raw::nr_vcpus(&fd, dom),
        Ok(1),
    );
    match raw::create_ioreq_server(&fd, dom) {
        Ok(id) => {
            t.check("DMOP 1, create_ioreq_server, works", true, "");
            t.eq(
                "DMOP 6, destroy_ioreq_server, works",
                raw::destroy_ioreq_server(&fd, dom, id),
                Ok(0),
            );
        }
        Err(e) => {
            t.check(
                "DMOP 1, create_ioreq_server, works",
                false,
                format_args!("{e:?}"),
            );
        }
    }
}

/// `xen-guard-retired`: DMOP 20 retired by the test-only header.
pub fn run_retired() -> i32 {
    let mut t = Tap::new("xen-guard-retired");
    let g = match Guest::create("xp-retired", &xl::fake_dm_path(), true, "") {
        Ok(g) => g,
        Err(e) => {
            t.check("a guest to issue DMOPs on", false, e);
            return t.finish();
        }
    };
    let Ok(fd) = raw::open("/dev/xen/privcmd") else {
        t.check("open /dev/xen/privcmd", false, "");
        return t.finish();
    };
    t.eq(
        "DMOP 20 (nr_vcpus), retired in this test build: EOPNOTSUPP",
        raw::nr_vcpus(&fd, g.domid).err(),
        Some(Errno(libc::EOPNOTSUPP)),
    );
    t.eq(
        "... and not dispatched to any other op",
        raw_op(&fd, g.domid, 20).err(),
        Some(Errno(libc::EOPNOTSUPP)),
    );
    match raw::create_ioreq_server(&fd, g.domid) {
        Ok(id) => {
            t.check(
                "DMOP 1 (create_ioreq_server), still active, works",
                true,
                "",
            );
            let _ = raw::destroy_ioreq_server(&fd, g.domid, id);
        }
        Err(e) => {
            t.check(
                "DMOP 1 (create_ioreq_server), still active, works",
                false,
                format_args!("{e:?}"),
            );
        }
    }
    t.eq(
        "DMOP 0 still EOPNOTSUPP",
        raw_op(&fd, g.domid, 0).err(),
        Some(Errno(libc::EOPNOTSUPP)),
    );
    drop(g);
    t.finish()
}

fn xs_err<T: std::fmt::Debug>(r: &Result<T, Error>) -> String {
    match r {
        Ok(v) => format!("ok {v:?}"),
        Err(Error::Xenstore(_, e)) => e.clone(),
        Err(e) => format!("{e}"),
    }
}

/// A raw `XS_ONE_TIME_RESTRICT` with `payload` as is; xenstored's answer
/// (`ok`, or the error name).
fn raw_otr(xs: &mut Xenstore, payload: &[u8]) -> String {
    xs_err(&xs.request(
        "raw one-time-restrict",
        XsMsgType::ONE_TIME_RESTRICT,
        0,
        payload,
    ))
}

fn xenstored_pid() -> String {
    std::fs::read_to_string("/run/xenstored.pid")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The same request over dom0's kernel ring (`/dev/xen/xenbus`), which the
/// kernel passes through as it is: dom0's connection is privileged too.
fn xenbus_checks(t: &mut Tap, a: DomId, a_name: &str) {
    let mut xs = match Xenstore::open_xenbus(XENBUS_PATH) {
        Ok(x) => x,
        Err(e) => {
            t.check("open /dev/xen/xenbus", false, e);
            return;
        }
    };
    t.eq(
        "xenbus: a plain read",
        xs.read("/local/domain/0/name").ok(),
        Some(b"Domain-0".to_vec()),
    );
    t.check(
        "xenbus: the probe finds XS_ONE_TIME_RESTRICT",
        xs.supports_one_time_restrict(a).unwrap_or(false),
        "",
    );
    xs.act_as(Some(a));
    t.eq(
        &format!("xenbus, as d{}: its own name", a.0),
        xs.read(&format!("/local/domain/{}/name", a.0)).ok(),
        Some(a_name.as_bytes().to_vec()),
    );
    t.eq(
        &format!("xenbus, as d{}: dom0's name: EACCES", a.0),
        xs_err(&xs.read("/local/domain/0/name")),
        "EACCES".to_string(),
    );
}

fn xenstore_checks(t: &mut Tap, a: DomId, b: DomId, a_name: &str) {
    let pid_before = xenstored_pid();
    let mut xs = match Xenstore::open_socket(SOCKET_PATH) {
        Ok(x) => x,
        Err(e) => {
            t.check("connect to xenstored", false, e);
            return;
        }
    };
    let (ad, bd) = (a.0, b.0);
    let mine = format!("/local/domain/{ad}/data/xdm-otr");
    let w = xs.request_as(
        a,
        "write",
        XsMsgType::WRITE,
        0,
        format!("{mine}\0v1").as_bytes(),
    );
    t.check(
        &format!("as d{ad}: write {mine} (the guest may)"),
        w.is_ok(),
        xs_err(&w),
    );
    let back = xs.read(&mine);
    t.eq("... the value is there", back.ok(), Some(b"v1".to_vec()));
    let perms = xs.get_perms(&mine).unwrap_or_default();
    t.check(
        &format!("... and the new node is d{ad}'s, as if the guest had created it"),
        perms.first().is_some_and(|p| p[1..] == ad.to_string()),
        format_args!("perms {perms:?}"),
    );
    let r = xs.request_as(a, "read", XsMsgType::READ, 0, b"name\0");
    t.eq(
        &format!("as d{ad}: a relative path is the guest's (name)"),
        r.map(|x| x.1).ok(),
        Some(a_name.as_bytes().to_vec()),
    );
    let d = xs.request_as(
        a,
        "directory",
        XsMsgType::DIRECTORY,
        0,
        format!("/local/domain/{ad}\0").as_bytes(),
    );
    t.check(&format!("as d{ad}: list its home"), d.is_ok(), xs_err(&d));
    for (what, ty, payload, want) in [
        (
            "read dom0's /local/domain/0/name".to_string(),
            XsMsgType::READ,
            "/local/domain/0/name\0".to_string(),
            "EACCES",
        ),
        (
            format!("write d{bd}'s data"),
            XsMsgType::WRITE,
            format!("/local/domain/{bd}/data/xdm-otr\0x"),
            "EACCES",
        ),
        (
            "write /tool/xdm-otr".to_string(),
            XsMsgType::WRITE,
            "/tool/xdm-otr\0x".to_string(),
            "EACCES",
        ),
        (
            "rm /local/domain/0".to_string(),
            XsMsgType::RM,
            "/local/domain/0\0".to_string(),
            "EACCES",
        ),
        (
            "give its node to dom0 (set_perms)".to_string(),
            XsMsgType::SET_PERMS,
            format!("{mine}\0n0\0"),
            "EPERM",
        ),
    ] {
        let r = xs.request_as(a, "restricted request", ty, 0, payload.as_bytes());
        t.eq(
            &format!("as d{ad}: {what}: {want}"),
            xs_err(&r),
            want.to_string(),
        );
    }
    // The transaction id is the header's.
    match xs.request("transaction_start", XsMsgType::TRANSACTION_START, 0, b"\0") {
        Ok((_, id)) => {
            let tx: u32 = String::from_utf8_lossy(id.strip_suffix(&[0]).unwrap_or(&id))
                .parse()
                .unwrap_or(0);
            let path = format!("/local/domain/{ad}/data/xdm-otr-tx");
            let w = xs.request_as(
                a,
                "write in tx",
                XsMsgType::WRITE,
                tx,
                format!("{path}\0in-tx").as_bytes(),
            );
            t.check(
                "a restricted write in a transaction (its id from the header)",
                w.is_ok(),
                xs_err(&w),
            );
            t.eq(
                "... is not visible outside the transaction",
                xs_err(&xs.read(&path)),
                "ENOENT".to_string(),
            );
            let end = xs.request("transaction_end", XsMsgType::TRANSACTION_END, tx, b"T\0");
            t.check("... the transaction commits", end.is_ok(), xs_err(&end));
            t.eq(
                "... and then it is",
                xs.read(&path).ok(),
                Some(b"in-tx".to_vec()),
            );
        }
        Err(e) => {
            t.check("transaction_start", false, e);
        }
    }
    // Malformed prefixes: EINVAL, and the connection goes on.
    let a_s = ad.to_string();
    for (what, payload) in [
        ("an empty payload", Vec::new()),
        ("a domid without its NUL", a_s.as_bytes().to_vec()),
        ("no type", format!("{a_s}\0").into_bytes()),
        ("a type without its NUL", format!("{a_s}\02").into_bytes()),
        ("a domid of six digits", b"000001\x002\x00name\x00".to_vec()),
        ("a signed domid", b"-1\x002\x00name\x00".to_vec()),
        ("dom0", b"0\x002\x00name\x00".to_vec()),
        ("DOMID_SELF (32752)", b"32752\x002\x00name\x00".to_vec()),
        (
            "a watch",
            format!("{a_s}\x004\x00/\x00tok\x00").into_bytes(),
        ),
        (
            "a transaction start",
            format!("{a_s}\x006\x00\x00").into_bytes(),
        ),
        (
            "an introduce",
            format!("{a_s}\x008\x00{a_s}\x001\x001\x00").into_bytes(),
        ),
        (
            "one-time-restrict inside one-time-restrict",
            format!("{a_s}\x0023\x00{a_s}\x002\x00name\x00").into_bytes(),
        ),
        (
            "an unknown type",
            format!("{a_s}\x0099\x00name\x00").into_bytes(),
        ),
    ] {
        t.eq(
            &format!("malformed: {what}: EINVAL"),
            raw_otr(&mut xs, &payload),
            "EINVAL".to_string(),
        );
    }
    // Oversized, within the protocol's maximum (a message over it is
    // dropped with its connection by xenstored's framing, as any: below).
    for (what, payload) in [
        ("a type field of twenty digits", format!("{a_s}\x0000000000000000000002\x00name\x00").into_bytes()),
        ("a whole XENSTORE_PAYLOAD_MAX (4096 bytes) of one domid field", vec![b'1'; 4096]),
        (
            "a well-formed prefix, then a path longer than the guest may use (xenstored's own check, as the guest)",
            format!("{a_s}\x002\x00/local/domain/{a_s}/{}\x00", "x".repeat(3100)).into_bytes(),
        ),
    ] {
        t.eq(&format!("oversized: {what}: EINVAL"), raw_otr(&mut xs, &payload), "EINVAL".to_string());
    }
    t.eq(
        "a domain xenstored does not know: ENOENT",
        raw_otr(&mut xs, b"9999\x002\x00name\x00"),
        "ENOENT".to_string(),
    );
    t.eq(
        "the same connection still works",
        xs.read("/local/domain/0/name").ok(),
        Some(b"Domain-0".to_vec()),
    );
    // Protocol abuse on other connections: cut short, and over the maximum.
    if let Ok(mut s) = UnixStream::connect(SOCKET_PATH) {
        let h = XsdSockmsg {
            r#type: XsMsgType::ONE_TIME_RESTRICT,
            req_id: 1,
            tx_id: 0,
            len: 100,
        };
        let _ = s.write_all(h.as_bytes());
        let _ = s.write_all(b"1\0");
    }
    if let Ok(mut s) = UnixStream::connect(SOCKET_PATH) {
        let h = XsdSockmsg {
            r#type: XsMsgType::ONE_TIME_RESTRICT,
            req_id: 1,
            tx_id: 0,
            len: 5000,
        };
        let _ = s.write_all(h.as_bytes());
        let _ = s.write_all(&vec![b'1'; 5000]);
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let mut b = [0u8; 16];
        let n = s.read(&mut b).unwrap_or(0);
        t.eq(
            "a message over XENSTORE_PAYLOAD_MAX: xenstored drops that connection",
            n,
            0,
        );
    }
    let mut fresh = Xenstore::open_socket(SOCKET_PATH);
    let alive = fresh.as_mut().map(|x| x.read("/local/domain/0/name"));
    t.check(
        "xenstored survived all of it (a new connection is served)",
        matches!(alive, Ok(Ok(ref v)) if v == b"Domain-0"),
        format_args!("{alive:?}"),
    );
    t.eq(
        "... and it is the same xenstored",
        xenstored_pid(),
        pid_before,
    );
    let _ = xs.rm(&mine);
}

/// `xen-patches`.
pub fn run() -> i32 {
    let mut t = Tap::new("xen-patches");
    let (a, b) = match (
        Guest::create("xp-a", &xl::fake_dm_path(), true, ""),
        Guest::create("xp-b", &xl::fake_dm_path(), true, ""),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (a, b) => {
            t.check("two guests", false, format_args!("{a:?} {b:?}"));
            return t.finish();
        }
    };
    t.note("patch 1: the DMOP freeze guard");
    dmop_checks(&mut t, a.domid);
    t.note("patch 2: XS_ONE_TIME_RESTRICT");
    xenstore_checks(&mut t, a.domid, b.domid, "xp-a");
    xenbus_checks(&mut t, a.domid, "xp-a");
    drop(a);
    drop(b);
    // An unprivileged sender: the test guest itself, over its own ring
    // (x86's firmware guest; Arm's guest is a paused kernel).
    if !cfg!(target_arch = "x86_64") {
        t.note("the guest's own XS_ONE_TIME_RESTRICT: x86's test guest sends it; not run here");
        return t.finish();
    }
    let _ = xl::run("xl", &["dmesg", "-c"]);
    match Guest::create("xp-guest", &xl::fake_dm_path(), false, "") {
        Ok(g) => {
            let tag = format!("(d{})", g.domid.0);
            let line = wait_for(60, || {
                let (_, d) = xl::run("xl", &["dmesg"]);
                d.lines()
                    .find(|l| l.contains(&tag) && l.contains("XS_ONE_TIME_RESTRICT from the guest"))
                    .map(str::to_string)
            });
            let (_, d) = xl::run("xl", &["dmesg"]);
            t.check(
                "the guest reads its own name over its own connection",
                d.lines()
                    .any(|l| l.contains(&tag) && l.contains("the guest reads its name: xp-guest")),
                d.lines()
                    .filter(|l| l.contains(&tag))
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
            t.check(
                "XS_ONE_TIME_RESTRICT from an unprivileged connection (the guest's): EACCES",
                line.as_deref()
                    .is_some_and(|l| l.trim_end().ends_with("EACCES")),
                format_args!("{line:?}"),
            );
            drop(g);
        }
        Err(e) => {
            t.check("the test guest starts", false, e);
        }
    }
    t.finish()
}
