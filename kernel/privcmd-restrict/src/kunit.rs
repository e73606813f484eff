// SPDX-License-Identifier: GPL-2.0
//! The Rust half of `privcmd_restrict_kunit.ko`, the module's KUnit suite,
//! built as a separate test module so that loading privcmd-restrict itself
//! never taints a kernel (a module carrying KUnit suites is a test module).
//! It compiles the module's own `policy.rs` and dmop-abi source, as the
//! module does; each case in `c/kunit.c` calls a function here that returns
//! 0, or the number of its first failing check.
// The suite exercises the decisions; the rest of policy.rs it only compiles.
#![allow(dead_code)]

use core::ffi::c_int;

#[path = "dmop_abi/mod.rs"]
mod dmop_abi;
mod policy;

use dmop_abi::privcmd::{PrivcmdRestrictUid, RestrictUidFlags};
use dmop_abi::types::DomId;
use kernel::prelude::*;
use policy::{
    BindingChange, BindingTable, DmOpLimits, IoeventfdMatch, Kuid, Lives, OpenDecision, Opener,
    Refusal, Restriction,
};

fn run(checks: &[bool]) -> c_int {
    checks
        .iter()
        .position(|ok| !ok)
        .map_or(0, |i| i as c_int + 1)
}

/// RESTRICT: once, to one ordinary domain, never lifted; closed to it
/// (ESRCH) once its domain's generation moves on.
#[no_mangle]
pub extern "C" fn prm_kunit_restriction() -> c_int {
    let lives = KBox::new(Lives::<16>::new(), GFP_KERNEL);
    let Ok(lives) = lives else {
        return -1;
    };
    let r = Restriction::none();
    let fresh = r.get().is_none()
        && r.check(DomId(0), &*lives).is_ok()
        && r.check(DomId(7), &*lives).is_ok();
    let invalid = r.restrict(DomId::INVALID, &*lives) == Err(Refusal::Inval) && r.get().is_none();
    let first = r.restrict(DomId(7), &*lives).is_ok();
    let again = r.restrict(DomId(7), &*lives).is_ok();
    let other = r.restrict(DomId(8), &*lives) == Err(Refusal::Inval);
    let mut watched = 0;
    lives.for_each_watched(|d| watched += usize::from(d == DomId(7)));
    let confined = r.get() == Some(DomId(7))
        && r.check(DomId(0), &*lives) == Err(Refusal::Perm)
        && r.check(DomId(7), &*lives).is_ok();
    lives.died(DomId(7));
    let dead = r.check(DomId(7), &*lives) == Err(Refusal::Gone)
        && r.check(DomId(0), &*lives) == Err(Refusal::Gone)
        && r.restrict(DomId(7), &*lives) == Err(Refusal::Gone);
    let fresh_fd = Restriction::none();
    let reborn =
        fresh_fd.restrict(DomId(7), &*lives).is_ok() && fresh_fd.check(DomId(7), &*lives).is_ok();
    r.release(&*lives);
    fresh_fd.release(&*lives);
    let mut left = 0;
    lives.for_each_watched(|_| left += 1);
    run(&[
        fresh,
        invalid,
        first,
        again,
        other,
        watched == 1,
        confined,
        dead,
        reborn,
        left == 0,
    ])
}

/// Bindings: bind, rebind, unbind; root, dom0 and reserved ids refused; fill up.
#[no_mangle]
pub extern "C" fn prm_kunit_bindings() -> c_int {
    let mut b = BindingTable::new();
    let bind = b.bind(Kuid(1000), DomId(3)).is_ok() && b.lookup(Kuid(1000)) == Some(DomId(3));
    let rebind = b.bind(Kuid(1000), DomId(4)).is_ok() && b.lookup(Kuid(1000)) == Some(DomId(4));
    let mut n = 0;
    b.for_each(|_, _| n += 1);
    let refused = [
        (Kuid(1001), DomId::INVALID),
        (Kuid(1001), DomId(0)),
        (Kuid::ROOT, DomId(3)),
        (Kuid::INVALID, DomId(3)),
    ]
    .iter()
    .all(|(u, d)| b.bind(*u, *d) == Err(Refusal::Inval));
    let unbind = b.unbind(Kuid(1000)).is_ok()
        && b.lookup(Kuid(1000)).is_none()
        && b.unbind(Kuid(1000)) == Err(Refusal::NoEnt);
    let mut full = true;
    for uid in 1..=policy::MAX_BINDINGS as u32 {
        full &= b.bind(Kuid(uid), DomId(1)).is_ok();
    }
    let over = b.bind(Kuid(5000), DomId(1)) == Err(Refusal::NoSpace);
    let gone = b.unbind_domain(DomId(1)) == policy::MAX_BINDINGS && b.lookup(Kuid(1)).is_none();
    b.clear();
    run(&[
        bind,
        rebind,
        n == 1,
        refused,
        unbind,
        full,
        over,
        gone,
        b.lookup(Kuid(1)).is_none(),
    ])
}

/// Restrict-at-open: bound kuid confined, admin free, others refused, and
/// any opener inside a user namespace refused before its uid is looked at.
#[no_mangle]
pub extern "C" fn prm_kunit_open_policy() -> c_int {
    let mut asked = false;
    let bound_no_cap = policy::decide_open(
        Opener {
            fsuid: Kuid(5001),
            initial_userns: true,
        },
        |u| (u == Kuid(5001)).then_some(DomId(5)),
        || {
            asked = true;
            false
        },
    ) == Ok(OpenDecision::Restricted(DomId(5)))
        && !asked;
    let bound = |u: Kuid| (u == Kuid(5001)).then_some(DomId(5));
    let mut looked = false;
    let in_ns = open_as(5001, false, false, |_| {
        looked = true;
        Some(DomId(5))
    });
    run(&[
        open_as(5001, true, false, bound) == Ok(OpenDecision::Restricted(DomId(5))),
        open_as(5001, true, true, bound) == Ok(OpenDecision::Restricted(DomId(5))),
        open_as(0, true, true, bound) == Ok(OpenDecision::Unrestricted),
        open_as(4343, true, false, bound) == Err(Refusal::Access),
        in_ns == Err(Refusal::Perm) && !looked,
        bound_no_cap,
    ])
}

fn open_as(
    uid: u32,
    initial_userns: bool,
    admin: bool,
    lookup: impl FnOnce(Kuid) -> Option<DomId>,
) -> Result<OpenDecision, Refusal> {
    policy::decide_open(
        Opener {
            fsuid: Kuid(uid),
            initial_userns,
        },
        lookup,
        move || admin,
    )
}

/// IOCTL_PRIVCMD_RESTRICT_UID: admin on an unrestricted fd only, a uid
/// that maps to a kuid.
#[no_mangle]
pub extern "C" fn prm_kunit_restrict_uid() -> c_int {
    let free = Restriction::none();
    let bound = Restriction::to(DomId(2), 0);
    let bind = PrivcmdRestrictUid {
        uid: 1000,
        domid: DomId(3),
        flags: RestrictUidFlags(0),
    };
    let unbind = PrivcmdRestrictUid {
        flags: RestrictUidFlags::UNBIND,
        ..bind
    };
    let bogus = PrivcmdRestrictUid {
        flags: RestrictUidFlags(0x40),
        ..bind
    };
    let k = Some(Kuid(1000));
    run(&[
        policy::decide_restrict_uid(true, &free, &bind, k)
            == Ok(BindingChange::Bind(Kuid(1000), DomId(3))),
        policy::decide_restrict_uid(true, &free, &unbind, k)
            == Ok(BindingChange::Unbind(Kuid(1000))),
        policy::decide_restrict_uid(false, &free, &bind, k) == Err(Refusal::Perm),
        policy::decide_restrict_uid(true, &bound, &bind, k) == Err(Refusal::Perm),
        policy::decide_restrict_uid(true, &free, &bogus, k) == Err(Refusal::Inval),
        policy::decide_restrict_uid(true, &free, &bind, None) == Err(Refusal::Inval),
    ])
}

/// DM_OP limits; the frame counts of the mapping ioctls; a chunk's outcome.
#[no_mangle]
pub extern "C" fn prm_kunit_limits() -> c_int {
    let l = DmOpLimits {
        max_bufs: 16,
        max_size: 4096,
    };
    let mut stopped = [0, -14, policy::NOT_TRIED, policy::NOT_TRIED];
    let stop =
        policy::chunk_outcome(&mut stopped, -12) == Err(-12) && stopped == [0, -14, -12, -12];
    let mut paged = [0, -2];
    let mut last_failed = [0, -22];
    run(&[
        l.check_count(16).is_ok(),
        l.check_count(17) == Err(Refusal::TooBig),
        l.check_size(4096).is_ok(),
        l.check_size(4097) == Err(Refusal::TooBig),
        policy::frame_count(0) == Err(Refusal::Inval),
        policy::frame_count(1) == Ok(1),
        policy::frame_count(i32::MAX as u64) == Ok(i32::MAX as usize),
        policy::frame_count(1 << 31) == Err(Refusal::Inval),
        policy::frame_count(1 << 32) == Err(Refusal::Inval),
        policy::frame_count((1 << 32) + 1) == Err(Refusal::Inval),
        policy::resource_range_fits(0, 2, 2)
            && !policy::resource_range_fits(1, 2, 2)
            && !policy::resource_range_fits(u64::MAX, 1, 2),
        stop,
        policy::chunk_outcome(&mut paged, -2) == Ok(true),
        policy::chunk_outcome(&mut last_failed, -22) == Ok(false),
    ])
}

/// IOCTL_PRIVCMD_IOEVENTFD's rules: upstream's QueueNotify, an address,
/// an address with a datamatch; the shapes refused; collisions.
#[no_mangle]
pub extern "C" fn prm_kunit_ioeventfd() -> c_int {
    use dmop_abi::privcmd::IoeventfdExtFlags as X;
    let of = |flags: u32, addr: u64, len: u32, vq: u32| {
        IoeventfdMatch::of(flags, addr, len, vq, 1, [0; 2])
    };
    let (Ok(up), Ok(any), Ok(dm)) = (
        of(0, 0x1000, 4, 3),
        of(X::ADDR.0, 0x2000, 2, 0),
        of(X::ADDR.0 | X::DATAMATCH.0, 0x3000, 4, 0xdead_beef),
    ) else {
        return -1;
    };
    run(&[
        up.answers(0x1050, 4, 0xabcd_0003),
        !up.answers(0x1050, 4, 2) && !up.answers(0x1000, 4, 3),
        any.answers(0x2000, 2, 0xffff) && !any.answers(0x2000, 4, 0),
        dm.answers(0x3000, 4, 0xdead_beef) && !dm.answers(0x3000, 4, 0xdead_beee),
        of(X::DATAMATCH.0, 0x3000, 4, 1) == Err(Refusal::Inval),
        of(X::ADDR.0, 0x3000, 3, 0) == Err(Refusal::Inval),
        of(X::ADDR.0, u64::MAX - 1, 4, 0) == Err(Refusal::Inval),
        of(0, 0x1000, 2, 0x1_0000) == Err(Refusal::Inval),
        IoeventfdMatch::of(0, 0, 4, 0, policy::MAX_IOREQ_VCPUS + 1, [0; 2]) == Err(Refusal::Inval),
        any.collides(&any) && !up.collides(&dm),
    ])
}
