// SPDX-License-Identifier: GPL-2.0
//! The Rust halves of the KUnit cases in `c/kunit.c`: each returns 0, or
//! the number of its first failing check.

use core::ffi::c_int;

use crate::dmop_abi::privcmd::{PrivcmdRestrictUid, RestrictUidFlags};
use crate::dmop_abi::types::DomId;
use crate::policy::{self, BindingChange, Bindings, DmOpLimits, OpenDecision, Refusal, Restriction};

fn run(checks: &[bool]) -> c_int {
    checks.iter().position(|ok| !ok).map_or(0, |i| i as c_int + 1)
}

/// RESTRICT: once, to one ordinary domain, never lifted.
#[no_mangle]
pub(crate) extern "C" fn prm_kunit_restriction() -> c_int {
    let r = Restriction::none();
    let fresh = r.get().is_none() && r.allows(DomId(0)) && r.allows(DomId(7));
    let invalid = r.restrict(DomId::INVALID) == Err(Refusal::Inval) && r.get().is_none();
    let first = r.restrict(DomId(7)).is_ok();
    let again = r.restrict(DomId(7)).is_ok();
    let other = r.restrict(DomId(8)) == Err(Refusal::Inval);
    run(&[fresh, invalid, first, again, other, r.get() == Some(DomId(7)), r.check(DomId(0)) == Err(Refusal::Perm), r.check(DomId(7)).is_ok()])
}

/// Bindings: bind, rebind, unbind, refuse reserved ids, fill up.
#[no_mangle]
pub(crate) extern "C" fn prm_kunit_bindings() -> c_int {
    let b = Bindings::new();
    let bind = b.bind(1000, DomId(3)).is_ok() && b.lookup(1000) == Some(DomId(3));
    let rebind = b.bind(1000, DomId(4)).is_ok() && b.lookup(1000) == Some(DomId(4));
    let mut n = 0;
    b.for_each(|_, _| n += 1);
    let reserved = b.bind(1001, DomId::INVALID) == Err(Refusal::Inval);
    let unbind = b.unbind(1000).is_ok() && b.lookup(1000).is_none() && b.unbind(1000) == Err(Refusal::NoEnt);
    let mut full = true;
    for uid in 0..policy::MAX_BINDINGS as u32 {
        full &= b.bind(uid, DomId(1)).is_ok();
    }
    let over = b.bind(5000, DomId(1)) == Err(Refusal::NoSpace);
    b.clear();
    run(&[bind, rebind, n == 1, reserved, unbind, full, over, b.lookup(0).is_none()])
}

/// Restrict-at-open: bound uid confined, admin free, others refused.
#[no_mangle]
pub(crate) extern "C" fn prm_kunit_open_policy() -> c_int {
    run(&[
        policy::decide_open(Some(DomId(5)), false) == Ok(OpenDecision::Restricted(DomId(5))),
        policy::decide_open(Some(DomId(5)), true) == Ok(OpenDecision::Restricted(DomId(5))),
        policy::decide_open(None, true) == Ok(OpenDecision::Unrestricted),
        policy::decide_open(None, false) == Err(Refusal::Access),
    ])
}

/// IOCTL_PRIVCMD_RESTRICT_UID: admin on an unrestricted fd only.
#[no_mangle]
pub(crate) extern "C" fn prm_kunit_restrict_uid() -> c_int {
    let free = Restriction::none();
    let bound = Restriction::to(DomId(2));
    let bind = PrivcmdRestrictUid { uid: 1000, domid: DomId(3), flags: RestrictUidFlags(0) };
    let unbind = PrivcmdRestrictUid { flags: RestrictUidFlags::UNBIND, ..bind };
    let bogus = PrivcmdRestrictUid { flags: RestrictUidFlags(0x40), ..bind };
    run(&[
        policy::decide_restrict_uid(true, &free, &bind) == Ok(BindingChange::Bind(1000, DomId(3))),
        policy::decide_restrict_uid(true, &free, &unbind) == Ok(BindingChange::Unbind(1000)),
        policy::decide_restrict_uid(false, &free, &bind) == Err(Refusal::Perm),
        policy::decide_restrict_uid(true, &bound, &bind) == Err(Refusal::Perm),
        policy::decide_restrict_uid(true, &free, &bogus) == Err(Refusal::Inval),
    ])
}

/// DM_OP limits.
#[no_mangle]
pub(crate) extern "C" fn prm_kunit_limits() -> c_int {
    let l = DmOpLimits { max_bufs: 16, max_size: 4096 };
    run(&[
        l.check_count(16).is_ok(),
        l.check_count(17) == Err(Refusal::TooBig),
        l.check_size(4096).is_ok(),
        l.check_size(4097) == Err(Refusal::TooBig),
    ])
}
