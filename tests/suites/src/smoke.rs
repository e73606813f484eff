// SPDX-License-Identifier: MIT
//! `xen-smoke`: the test bed works, and the C privcmd and evtchn drivers
//! behave as the project's restriction semantics assume.

use dmop_abi::types::DomId;

use crate::raw::{self, Errno};
use crate::tap::Tap;
use crate::xl::{self, Guest};

/// Runs the suite; returns the exit status.
pub fn run() -> i32 {
    let mut t = Tap::new("xen-smoke");
    let caps = std::fs::read_to_string("/proc/xen/capabilities").unwrap_or_default();
    t.eq(
        "dom0 is the control domain (/proc/xen/capabilities)",
        caps.trim(),
        "control_d",
    );
    let (ok, name) = xl::run("xenstore-read", &["/local/domain/0/name"]);
    t.check(
        "xenstored answers: /local/domain/0/name",
        ok && name.trim() == "Domain-0",
        &name,
    );
    // The project's xenstore client, both ways in.
    for (how, xs) in [
        (
            "xenstored's socket",
            xenstore_client::Xenstore::open_socket(xenstore_client::SOCKET_PATH),
        ),
        (
            "/dev/xen/xenbus",
            xenstore_client::Xenstore::open_xenbus(xenstore_client::XENBUS_PATH),
        ),
    ] {
        let got = xs.and_then(|mut x| x.read("/local/domain/0/name"));
        t.check(
            &format!("xenstore-client over {how} reads /local/domain/0/name"),
            got.as_deref().ok() == Some(&b"Domain-0"[..]),
            format_args!("{got:?}"),
        );
    }
    let (ok, list) = xl::run("xl", &["list"]);
    t.check(
        "xl list shows Domain-0",
        ok && list.lines().any(|l| l.starts_with("Domain-0 ")),
        &list,
    );

    let guest = match Guest::create("smoke", &xl::fake_dm_path(), true, "") {
        Ok(g) => g,
        Err(e) => {
            t.check(
                "xl create -p of an HVM test guest with a device_model_override",
                false,
                e,
            );
            return t.finish();
        }
    };
    t.check(
        "xl create -p of an HVM test guest with a device_model_override",
        true,
        "",
    );
    let state = guest.state().unwrap_or_default();
    t.check(
        "the guest is listed paused",
        state.contains('p'),
        format_args!("state {state:?}"),
    );
    let a = guest.domid;
    t.note(format!("guest domid {}", a.0));

    privcmd_checks(&mut t, a);
    evtchn_checks(&mut t, a);

    drop(guest);
    t.check(
        "xl destroy removes the guest",
        xl::list_state("smoke").is_none(),
        "still listed",
    );
    t.finish()
}

fn privcmd_checks(t: &mut Tap, a: DomId) {
    let fd = match raw::open("/dev/xen/privcmd") {
        Ok(fd) => fd,
        Err(e) => {
            t.check("open /dev/xen/privcmd", false, format_args!("{e:?}"));
            return;
        }
    };
    t.eq(
        "DM_OP with num = 0 (libxendevicemodel's probe) answers 0",
        raw::dm_op_empty(&fd, DomId::INVALID),
        Ok(0),
    );
    t.eq(
        "DM_OP on a domain that does not exist: ESRCH",
        raw::create_ioreq_server(&fd, DomId(999)).err(),
        Some(Errno(libc::ESRCH)),
    );
    t.eq(
        "DM_OP on dom0 itself: EPERM (Xen refuses)",
        raw::create_ioreq_server(&fd, DomId(0)).err(),
        Some(Errno(libc::EPERM)),
    );
    match raw::create_ioreq_server(&fd, a) {
        Ok(id) => {
            t.check(
                "DM_OP create_ioreq_server on the guest (unrestricted fd)",
                true,
                "",
            );
            t.eq(
                "DM_OP destroy_ioreq_server on the guest",
                raw::destroy_ioreq_server(&fd, a, id),
                Ok(0),
            );
        }
        Err(e) => {
            t.check(
                "DM_OP create_ioreq_server on the guest (unrestricted fd)",
                false,
                format_args!("{e:?}"),
            );
        }
    }
    t.check(
        "HYPERCALL works on an unrestricted fd",
        raw::hypercall_xen_version(&fd).is_ok_and(|v| v > 0),
        "",
    );

    // The C driver's marker for "unrestricted" is DOMID_INVALID itself.
    let quirk = raw::open("/dev/xen/privcmd").expect("second open");
    t.eq(
        "RESTRICT(DOMID_INVALID) answers 0 on the C driver",
        raw::restrict(&quirk, DomId::INVALID),
        Ok(0),
    );
    t.eq(
        "... and leaves the fd unrestricted (an op on domain 999 reaches Xen: ESRCH, not the driver's EPERM)",
        raw::create_ioreq_server(&quirk, DomId(999)).err(),
        Some(Errno(libc::ESRCH)),
    );

    t.eq("RESTRICT(guest) answers 0", raw::restrict(&fd, a), Ok(0));
    t.eq(
        "RESTRICT(guest) again answers 0",
        raw::restrict(&fd, a),
        Ok(0),
    );
    t.eq(
        "RESTRICT(another domain) afterwards: EINVAL",
        raw::restrict(&fd, DomId(a.0 + 1)),
        Err(Errno(libc::EINVAL)),
    );
    t.eq(
        "restricted DM_OP on dom0: EPERM",
        raw::create_ioreq_server(&fd, DomId(0)).err(),
        Some(Errno(libc::EPERM)),
    );
    t.eq(
        "restricted DM_OP on domain 999: EPERM",
        raw::create_ioreq_server(&fd, DomId(999)).err(),
        Some(Errno(libc::EPERM)),
    );
    t.eq(
        "restricted HYPERCALL: EPERM",
        raw::hypercall_xen_version(&fd),
        Err(Errno(libc::EPERM)),
    );
    t.eq(
        "restricted DM_OP probe (num = 0, dom = DOMID_INVALID): EPERM, the domain is checked first",
        raw::dm_op_empty(&fd, DomId::INVALID),
        Err(Errno(libc::EPERM)),
    );
    match raw::create_ioreq_server(&fd, a) {
        Ok(id) => {
            t.check("restricted DM_OP on its own guest works", true, "");
            t.eq(
                "restricted destroy_ioreq_server on its own guest",
                raw::destroy_ioreq_server(&fd, a, id),
                Ok(0),
            );
        }
        Err(e) => {
            t.check(
                "restricted DM_OP on its own guest works",
                false,
                format_args!("{e:?}"),
            );
        }
    }
}

fn evtchn_checks(t: &mut Tap, a: DomId) {
    let fd = match raw::open("/dev/xen/evtchn") {
        Ok(fd) => fd,
        Err(e) => {
            t.check("open /dev/xen/evtchn", false, format_args!("{e:?}"));
            return;
        }
    };
    t.check(
        "evtchn BIND_UNBOUND_PORT before restricting",
        raw::evtchn_bind_unbound(&fd, a).is_ok(),
        "",
    );
    t.eq(
        "evtchn RESTRICT_DOMID(guest) answers 0",
        raw::evtchn_restrict(&fd, a),
        Ok(0),
    );
    t.eq(
        "evtchn RESTRICT_DOMID again: EACCES",
        raw::evtchn_restrict(&fd, a),
        Err(Errno(libc::EACCES)),
    );
    t.eq(
        "evtchn BIND_UNBOUND_PORT after restricting: EACCES",
        raw::evtchn_bind_unbound(&fd, a),
        Err(Errno(libc::EACCES)),
    );
}
