// SPDX-License-Identifier: MIT
//! `xen-smoke`: the test bed works, and the C privcmd and evtchn drivers
//! behave as the project's restriction semantics assume.

use dmop_abi::dmop::{DmOpBuf, DmopCode, ModifiedMemory, NrVcpus, XenDmOp};
use dmop_abi::types::{DomId, GuestHandle};
use zerocopy::IntoBytes;

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
                "xl create -p of a test guest (x86: HVM with a device_model_override; Arm: PVH)",
                false,
                e,
            );
            return t.finish();
        }
    };
    t.check(
        "xl create -p of a test guest (x86: HVM with a device_model_override; Arm: PVH)",
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
    xen_answers(&mut t, a);
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

/// The Xen version dom0 booted (`4.17.7`, `4.20.5-pre`), from
/// `XDM_XEN_VERSION` (init sets it from `xl info`).
pub fn xen_version() -> String {
    std::env::var("XDM_XEN_VERSION").unwrap_or_default()
}

/// Which of the two observed behaviours of Xen's dm_op entry a version
/// has: `Some(false)` before the stricter buffer checks (4.17.5, the source
/// xen-patches is built from), `Some(true)` with them (Debian's 4.17.7 and
/// 4.20), `None` for a version not yet observed on the bed.
fn strict_buffers(version: &str) -> Option<bool> {
    let mut n = version
        .split(|c: char| !c.is_ascii_digit())
        .map(|x| x.parse::<u32>().ok());
    match (n.next()??, n.next()??, n.next().flatten()) {
        (4, 17, Some(p)) if p <= 5 => Some(false),
        (4, 17, Some(p)) if p >= 7 => Some(true),
        (4, 20, _) => Some(true),
        _ => None,
    }
}

/// What Xen itself answers to malformed dm_op hypercalls, made raw through
/// an unrestricted fd of the C driver (no driver checks in between), with
/// the answer expected of each behaviour. The differences are listed in
/// docs/abi-policy.md; a version with no expectation fails, so a new one
/// is looked at before it is trusted.
fn xen_answers(t: &mut Tap, a: DomId) {
    let Ok(fd) = raw::open("/dev/xen/privcmd") else {
        t.check("open /dev/xen/privcmd for raw hypercalls", false, "");
        return;
    };
    let version = xen_version();
    let strict = strict_buffers(&version);
    t.note(format!(
        "Xen {version}'s own answers to malformed dm_ops ({})",
        match strict {
            Some(true) => "the stricter buffer checks",
            Some(false) => "before the stricter buffer checks",
            None => "a version not yet observed",
        }
    ));
    let buf = |b: &mut [u8]| DmOpBuf {
        h: GuestHandle::from_addr(b.as_mut_ptr() as usize),
        size: b.len() as _,
    };
    // Each case: its name, Xen's answer, and the answers expected before
    // and with the stricter checks.
    type Answer = Result<i32, Errno>;
    let mut cases: Vec<(&str, Answer, [Answer; 2])> = Vec::new();
    let einval = Err(Errno(libc::EINVAL));
    let efault = Err(Errno(libc::EFAULT));

    let mut op = XenDmOp::with_payload(DmopCode::NR_VCPUS, &NrVcpus::ZEROED);
    let mut bufs = [buf(op.as_mut_bytes())];
    // SAFETY: one descriptor of a live buffer.
    let got = unsafe { raw::hypercall_dm_op(&fd, a, 1, bufs.as_mut_ptr()) };
    cases.push(("nr_vcpus, well formed (the reference)", got, [Ok(0), Ok(0)]));

    // SAFETY: no descriptors.
    let got = unsafe { raw::hypercall_dm_op(&fd, a, 0, std::ptr::null_mut()) };
    // Before: Xen reads buffer 0's descriptor, which nobody wrote.
    let enodata = Err(Errno(libc::ENODATA));
    cases.push(("no buffers at all (nr_bufs = 0)", got, [efault, enodata]));

    let mut op = XenDmOp::with_payload(DmopCode::NR_VCPUS, &NrVcpus::ZEROED);
    let mut spare = [0u8; 64];
    let mut spare2 = [0u8; 64];
    let mut bufs = [buf(op.as_mut_bytes()), buf(&mut spare), buf(&mut spare2)];
    // SAFETY: three descriptors of live buffers.
    let got = unsafe { raw::hypercall_dm_op(&fd, a, 3, bufs.as_mut_ptr()) };
    let e2big = Err(Errno(libc::E2BIG));
    cases.push(("three buffers (Xen takes two at most)", got, [e2big, e2big]));

    let mut op = XenDmOp::with_payload(DmopCode::NR_VCPUS, &NrVcpus::ZEROED);
    let mut bufs = [buf(&mut op.as_mut_bytes()[..4])];
    // SAFETY: one descriptor of a live buffer.
    let got = unsafe { raw::hypercall_dm_op(&fd, a, 1, bufs.as_mut_ptr()) };
    cases.push(("buffer 0 shorter than the op header", got, [efault, efault]));

    let mut op = XenDmOp::new(DmopCode(0x7fff));
    let mut bufs = [buf(op.as_mut_bytes())];
    // SAFETY: one descriptor of a live buffer.
    let got = unsafe { raw::hypercall_dm_op(&fd, a, 1, bufs.as_mut_ptr()) };
    let nosup = Err(Errno(libc::EOPNOTSUPP));
    cases.push(("an op number never assigned (0x7fff)", got, [nosup, nosup]));

    let mm = ModifiedMemory {
        nr_extents: 1,
        ..ModifiedMemory::ZEROED
    };
    let mut op = XenDmOp::with_payload(DmopCode::MODIFIED_MEMORY, &mm);
    let mut bufs = [buf(op.as_mut_bytes())];
    // SAFETY: one descriptor of a live buffer.
    let got = unsafe { raw::hypercall_dm_op(&fd, a, 1, bufs.as_mut_ptr()) };
    // Before: a guest not in log-dirty mode answers 0 before the extents
    // are looked at. Arm's dispatcher has no modified_memory at all.
    let arm = cfg!(target_arch = "aarch64");
    cases.push((
        "modified_memory of one extent with no extent buffer (nr_bufs = 1)",
        got,
        if arm { [nosup, nosup] } else { [Ok(0), einval] },
    ));

    let mm = ModifiedMemory {
        nr_extents: 4,
        ..ModifiedMemory::ZEROED
    };
    let mut op = XenDmOp::with_payload(DmopCode::MODIFIED_MEMORY, &mm);
    let mut one = [0u8; 16];
    let mut bufs = [buf(op.as_mut_bytes()), buf(&mut one)];
    // SAFETY: two descriptors of live buffers.
    let got = unsafe { raw::hypercall_dm_op(&fd, a, 2, bufs.as_mut_ptr()) };
    cases.push((
        "modified_memory of four extents with a buffer of one (guest not log-dirty)",
        got,
        if arm { [nosup, nosup] } else { [Ok(0), Ok(0)] },
    ));

    for (name, got, want) in cases {
        let name = format!("Xen {version}: {name}");
        match strict {
            Some(s) => t.eq(&name, got, want[usize::from(s)]),
            None => t.check(
                &name,
                false,
                format_args!("no expected answer for this version yet; Xen answered {got:?}"),
            ),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::strict_buffers;

    #[test]
    fn versions_map_to_the_behaviour_observed() {
        assert_eq!(strict_buffers("4.17.5"), Some(false));
        assert_eq!(strict_buffers("4.17.7"), Some(true));
        assert_eq!(strict_buffers("4.20.5-pre"), Some(true));
        assert_eq!(strict_buffers("4.17.6"), None);
        assert_eq!(strict_buffers("4.19.1"), None);
        assert_eq!(strict_buffers(""), None);
    }
}
