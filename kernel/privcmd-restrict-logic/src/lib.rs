// SPDX-License-Identifier: GPL-2.0
//! The privcmd-restrict module's decisions (`src/policy.rs`), compiled on
//! the host exactly as the module includes them, with dmop-abi's source
//! mounted at the same path, and unit-tested here.
//!
//! It has no dependencies: it is the module's own code, on the host.
#![allow(dead_code)]

#[path = "../../privcmd-restrict/src/dmop_abi/mod.rs"]
mod dmop_abi;
#[path = "../../privcmd-restrict/src/policy.rs"]
mod policy;

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::dmop_abi::dmop::{DmopCode, TrackDirtyVram, XenDmOp};
    use crate::dmop_abi::privcmd::{PrivcmdRestrictUid, RestrictUidFlags};
    use crate::dmop_abi::types::DomId;
    use crate::policy::*;

    #[test]
    fn restriction_is_set_once_and_never_lifted() {
        let lives = Lives::<16>::new();
        let r = Restriction::none();
        assert!(r.check(DomId(0), &lives).is_ok() && r.check(DomId(9), &lives).is_ok());
        assert_eq!(
            r.restrict(DomId::INVALID, &lives),
            Err(Refusal::Inval),
            "DOMID_INVALID would restrict nothing"
        );
        assert_eq!(r.restrict(DomId(0x7ff0), &lives), Err(Refusal::Inval));
        assert_eq!(r.get(), None);
        assert_eq!(r.restrict(DomId(9), &lives), Ok(()));
        assert_eq!(r.restrict(DomId(9), &lives), Ok(()));
        assert_eq!(r.restrict(DomId(10), &lives), Err(Refusal::Inval));
        assert_eq!(r.get(), Some(DomId(9)));
        assert_eq!(r.check(DomId(0), &lives), Err(Refusal::Perm));
        assert_eq!(r.check(DomId(DomId::INVALID.0), &lives), Err(Refusal::Perm));
        assert_eq!(r.check(DomId(9), &lives), Ok(()));
    }

    #[test]
    fn an_fd_dies_with_its_guest_and_a_reused_id_does_not_revive_it() {
        let lives = Lives::<16>::new();
        let old = Restriction::none();
        old.restrict(DomId(9), &lives).unwrap();
        let at_open = Restriction::to(DomId(9), lives.enter(DomId(9)));
        let mut watched = Vec::new();
        lives.for_each_watched(|d| watched.push(d));
        assert_eq!(watched, [DomId(9)]);
        lives.died(DomId(9));
        for r in [&old, &at_open] {
            assert_eq!(
                r.check(DomId(9), &lives),
                Err(Refusal::Gone),
                "its guest is gone"
            );
            assert_eq!(
                r.check(DomId(3), &lives),
                Err(Refusal::Gone),
                "whatever the op names"
            );
            assert_eq!(r.restrict(DomId(9), &lives), Err(Refusal::Gone));
            assert_eq!(r.restrict(DomId(3), &lives), Err(Refusal::Gone));
        }
        // Xen hands id 9 to a new guest: a new fd reaches it, the old ones never.
        let new = Restriction::none();
        new.restrict(DomId(9), &lives).unwrap();
        assert_eq!(new.check(DomId(9), &lives), Ok(()));
        assert_eq!(old.check(DomId(9), &lives), Err(Refusal::Gone));
        for r in [&old, &at_open, &new] {
            r.release(&lives);
        }
        let mut left = 0;
        lives.for_each_watched(|_| left += 1);
        assert_eq!(left, 0, "every count given back");
        assert!(
            !Lives::<4>::new().alive(DomId(9), Lives::<4>::new().enter(DomId(9))),
            "an id beyond the table is never alive"
        );
    }

    #[test]
    fn racing_restrictions_leave_exactly_one_winner_and_one_count() {
        for _ in 0..50 {
            let lives = Arc::new(Lives::<16>::new());
            let r = Arc::new(Restriction::none());
            let wins: usize = (1..=8u16)
                .map(|d| {
                    let (r, lives) = (r.clone(), lives.clone());
                    std::thread::spawn(move || r.restrict(DomId(d), &*lives).is_ok())
                })
                .collect::<Vec<_>>()
                .into_iter()
                .map(|h| usize::from(h.join().unwrap()))
                .sum();
            assert_eq!(wins, 1);
            let mut watched = Vec::new();
            lives.for_each_watched(|d| watched.push(d));
            assert_eq!(
                watched,
                [r.get().unwrap()],
                "the losers gave their counts back"
            );
        }
    }

    #[test]
    fn bindings_bind_rebind_unbind_and_fill_up() {
        let mut b = BindingTable::new();
        assert_eq!(b.bind(Kuid(1000), DomId(3)), Ok(()));
        assert_eq!(
            b.bind(Kuid(1000), DomId(4)),
            Ok(()),
            "rebinding moves the uid"
        );
        assert_eq!(b.lookup(Kuid(1000)), Some(DomId(4)));
        let mut n = 0;
        b.for_each(|_, _| n += 1);
        assert_eq!(n, 1, "a uid has one slot");
        assert_eq!(b.bind(Kuid(1), DomId::INVALID), Err(Refusal::Inval));
        assert_eq!(
            b.bind(Kuid::INVALID, DomId(1)),
            Err(Refusal::Inval),
            "the invalid uid"
        );
        assert_eq!(
            b.bind(Kuid::ROOT, DomId(1)),
            Err(Refusal::Inval),
            "root would confine every privileged tool"
        );
        assert_eq!(
            b.bind(Kuid(1), DomId(0)),
            Err(Refusal::Inval),
            "dom0 is no device model's guest"
        );
        assert_eq!(b.unbind(Kuid(1000)), Ok(()));
        assert_eq!(b.unbind(Kuid(1000)), Err(Refusal::NoEnt));
        for uid in 1..=MAX_BINDINGS as u32 {
            b.bind(Kuid(uid), DomId(uid as u16 % 100 + 1)).unwrap();
        }
        assert_eq!(b.bind(Kuid(99_999), DomId(1)), Err(Refusal::NoSpace));
        assert_eq!(b.unbind_domain(DomId(2)), 1, "its guest is gone");
        assert_eq!(b.lookup(Kuid(1)), None);
        assert_eq!(
            b.lookup(Kuid(2)),
            Some(DomId(3)),
            "other guests' bindings stay"
        );
        assert_eq!(
            b.bind(Kuid(5), DomId(77)),
            Ok(()),
            "rebinding works when full"
        );
        b.clear();
        assert_eq!(b.lookup(Kuid(5)), None);
    }

    #[test]
    fn concurrent_binds_of_one_uid_never_duplicate_it() {
        // The module keeps the table under a SpinLock; a Mutex stands in here.
        let b = Arc::new(std::sync::Mutex::new(BindingTable::new()));
        let hs: Vec<_> = (1..=8u16)
            .map(|d| {
                let b = b.clone();
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        b.lock().unwrap().bind(Kuid(42), DomId(d)).unwrap();
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        let mut n = 0;
        b.lock()
            .unwrap()
            .for_each(|u, _| n += usize::from(u == Kuid(42)));
        assert_eq!(n, 1);
    }

    fn open_as(
        uid: u32,
        initial_userns: bool,
        admin: bool,
        lookup: impl FnOnce(Kuid) -> Option<DomId>,
    ) -> Result<OpenDecision, Refusal> {
        decide_open(
            Opener {
                fsuid: Kuid(uid),
                initial_userns,
            },
            lookup,
            move || admin,
        )
    }

    #[test]
    fn a_bound_opener_is_never_asked_for_cap_sys_admin() {
        let asked = std::cell::Cell::new(false);
        let r = decide_open(
            Opener {
                fsuid: Kuid(5001),
                initial_userns: true,
            },
            |u| (u == Kuid(5001)).then_some(DomId(5)),
            || {
                asked.set(true);
                true
            },
        );
        assert_eq!(r, Ok(OpenDecision::Restricted(DomId(5))));
        assert!(!asked.get(), "no capability check, so no audit denial");
    }

    #[test]
    fn open_policy() {
        let bound = |u: Kuid| (u == Kuid(5001)).then_some(DomId(5));
        assert_eq!(
            open_as(5001, true, false, bound),
            Ok(OpenDecision::Restricted(DomId(5)))
        );
        assert_eq!(
            open_as(5001, true, true, bound),
            Ok(OpenDecision::Restricted(DomId(5))),
            "a binding applies to admins too"
        );
        assert_eq!(
            open_as(0, true, true, bound),
            Ok(OpenDecision::Unrestricted)
        );
        assert_eq!(open_as(4343, true, false, bound), Err(Refusal::Access));
    }

    #[test]
    fn an_opener_inside_a_user_namespace_is_refused_before_its_uid_is_looked_at() {
        // Its kuid may be bound (the same user in a namespace of its own) or
        // not (a user mapping itself to a bound number, or unmapped and seen
        // as the overflow uid): EPERM in every case, without a lookup.
        for (uid, admin) in [(5001, false), (5001, true), (65534, false), (1000, false)] {
            let looked = std::cell::Cell::new(false);
            let r = open_as(uid, false, admin, |_| {
                looked.set(true);
                Some(DomId(5))
            });
            assert_eq!(r, Err(Refusal::Perm), "uid {uid}");
            assert!(!looked.get());
        }
    }

    #[test]
    fn restrict_uid_needs_an_admin_on_an_unrestricted_fd_and_a_mapped_uid() {
        let free = Restriction::none();
        let bound = Restriction::to(DomId(2), 0);
        let arg = PrivcmdRestrictUid {
            uid: 7,
            domid: DomId(3),
            flags: RestrictUidFlags(0),
        };
        let k = Some(Kuid(7));
        assert_eq!(
            decide_restrict_uid(true, &free, &arg, k),
            Ok(BindingChange::Bind(Kuid(7), DomId(3)))
        );
        assert_eq!(
            decide_restrict_uid(
                true,
                &free,
                &PrivcmdRestrictUid {
                    flags: RestrictUidFlags::UNBIND,
                    ..arg
                },
                k
            ),
            Ok(BindingChange::Unbind(Kuid(7)))
        );
        assert_eq!(
            decide_restrict_uid(false, &free, &arg, k),
            Err(Refusal::Perm)
        );
        assert_eq!(
            decide_restrict_uid(true, &bound, &arg, k),
            Err(Refusal::Perm)
        );
        assert_eq!(
            decide_restrict_uid(
                true,
                &free,
                &PrivcmdRestrictUid {
                    flags: RestrictUidFlags(3),
                    ..arg
                },
                k
            ),
            Err(Refusal::Inval)
        );
        assert_eq!(
            decide_restrict_uid(true, &free, &arg, None),
            Err(Refusal::Inval),
            "a uid the caller's namespace does not map"
        );
        assert_eq!(
            decide_restrict_uid(true, &free, &arg, Some(Kuid::INVALID)),
            Err(Refusal::Inval)
        );
    }

    #[test]
    fn frame_counts_are_bounded_before_anything_is_sized_by_them() {
        assert_eq!(frame_count(0), Err(Refusal::Inval));
        assert_eq!(frame_count(1), Ok(1));
        assert_eq!(frame_count(i32::MAX as u64), Ok(i32::MAX as usize));
        for n in [1u64 << 31, (1 << 32) - 1, 1 << 32, (1 << 32) + 1, u64::MAX] {
            assert_eq!(
                frame_count(n),
                Err(Refusal::Inval),
                "{n:#x} would truncate in the remap's int"
            );
        }
        assert!(resource_range_fits(0, 2, 2));
        assert!(resource_range_fits(1, 1, 2));
        assert!(!resource_range_fits(1, 2, 2));
        assert!(!resource_range_fits(0, 3, 2));
        assert!(
            !resource_range_fits(u64::MAX, 1, u32::MAX),
            "no wrap-around"
        );
    }

    #[test]
    fn a_chunk_stopped_part_way_is_an_error_and_names_the_untried_frames() {
        let mut e = [0, -14, NOT_TRIED, NOT_TRIED];
        assert_eq!(chunk_outcome(&mut e, -12), Err(-12));
        assert_eq!(e, [0, -14, -12, -12]);
        let mut e = [NOT_TRIED; 3];
        assert_eq!(
            chunk_outcome(&mut e, -22),
            Err(-22),
            "nothing tried: the vma check failed"
        );
        let mut e = [0, NOT_TRIED];
        assert_eq!(
            chunk_outcome(&mut e, 1),
            Err(-14),
            "untried frames with no error given: EFAULT"
        );
        assert_eq!(e, [0, -14]);
        let mut e = [0, -2, 0];
        assert_eq!(chunk_outcome(&mut e, 2), Ok(true), "a paged-out frame");
        let mut e = [0, -22];
        assert_eq!(
            chunk_outcome(&mut e, -22),
            Ok(false),
            "the last frame's own error, already in place"
        );
        let mut e = [0, 0];
        assert_eq!(chunk_outcome(&mut e, 2), Ok(false));
    }

    #[test]
    fn dm_op_limits() {
        let l = DmOpLimits {
            max_bufs: 16,
            max_size: 4096,
        };
        assert_eq!(l.check_count(16), Ok(()));
        assert_eq!(l.check_count(17), Err(Refusal::TooBig));
        assert_eq!(l.check_size(4096), Ok(()));
        assert_eq!(l.check_size(4097), Err(Refusal::TooBig));
    }

    fn op_bytes(code: DmopCode, nr: u32) -> Vec<u8> {
        use zerocopy_free::as_bytes;
        let op = match code {
            DmopCode::TRACK_DIRTY_VRAM => {
                let mut o = XenDmOp::new(code);
                let p = TrackDirtyVram {
                    nr,
                    ..TrackDirtyVram::ZEROED
                };
                as_bytes(&p)
                    .iter()
                    .enumerate()
                    .for_each(|(i, b)| set_u(&mut o, i, *b));
                o
            }
            _ => XenDmOp::new(code),
        };
        as_bytes(&op).to_vec()
    }

    fn set_u(o: &mut XenDmOp, i: usize, b: u8) {
        let mut bytes = zerocopy_free::as_bytes(&o.u).to_vec();
        bytes[i] = b;
        for (k, w) in o.u.iter_mut().enumerate() {
            *w = u64::from_ne_bytes(bytes[k * 8..k * 8 + 8].try_into().unwrap());
        }
    }

    /// Byte views without zerocopy (the module has none either).
    mod zerocopy_free {
        pub fn as_bytes<T>(v: &T) -> &[u8] {
            // SAFETY: the ABI structs are plain integers with no padding.
            unsafe {
                std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>())
            }
        }
    }

    #[test]
    fn an_irqfd_may_only_inject_interrupts() {
        for code in [
            DmopCode::SET_ISA_IRQ_LEVEL,
            DmopCode::SET_PCI_INTX_LEVEL,
            DmopCode::INJECT_MSI,
            DmopCode::SET_IRQ_LEVEL,
        ] {
            assert!(irqfd_op_allowed(&op_bytes(code, 0)), "{code:?}");
        }
        for code in [
            DmopCode::DESTROY_IOREQ_SERVER,
            DmopCode::SET_MEM_TYPE,
            DmopCode::RELOCATE_MEMORY,
            DmopCode::TRACK_DIRTY_VRAM,
            DmopCode(0),
            DmopCode(u32::MAX),
        ] {
            assert!(
                !irqfd_op_allowed(&op_bytes(code, 0)),
                "{code:?} runs with interrupts off"
            );
        }
        assert!(
            !irqfd_op_allowed(&op_bytes(DmopCode::INJECT_MSI, 0)[..7]),
            "shorter than the header"
        );
    }

    #[test]
    fn only_track_dirty_vram_has_an_output_only_buffer() {
        let vram = op_bytes(DmopCode::TRACK_DIRTY_VRAM, 100);
        assert_eq!(
            output_only_len(&vram, 2),
            Some(13),
            "ceil(100 / 8) bytes of bitmap"
        );
        assert_eq!(
            output_only_len(&op_bytes(DmopCode::TRACK_DIRTY_VRAM, 0), 2),
            Some(0)
        );
        assert_eq!(output_only_len(&vram, 1), None, "no buffer 1");
        assert_eq!(
            output_only_len(&vram[..10], 2),
            None,
            "buffer 0 too short to hold nr"
        );
        assert_eq!(
            output_only_len(&op_bytes(DmopCode::MODIFIED_MEMORY, 5), 2),
            None,
            "extents are read by Xen"
        );
    }

    #[test]
    fn bindings_listing_fits_or_stops_cleanly() {
        let mut b = BindingTable::new();
        b.bind(Kuid(1000), DomId(3)).unwrap();
        b.bind(Kuid(1001), DomId(12)).unwrap();
        let mut out = [0u8; 64];
        let n = format_bindings(&b, &mut out);
        assert_eq!(std::str::from_utf8(&out[..n]).unwrap(), "1000 3\n1001 12\n");
        let mut tiny = [0u8; 9];
        let n = format_bindings(&b, &mut tiny);
        assert!(n <= 9);
    }

    #[test]
    fn an_ioeventfd_rule_is_upstreams_or_an_address_with_an_optional_datamatch() {
        use crate::dmop_abi::privcmd::{IoeventfdExtFlags as X, IoeventfdFlags as F};
        let of = |flags: u32, addr: u64, len: u32, vq: u32| {
            IoeventfdMatch::of(flags, addr, len, vq, 1, [0; 2])
        };
        // Upstream: QueueNotify at addr + 0x50, the low 16 bits are the queue.
        let up = of(0, 0x1000, 4, 3).unwrap();
        assert!(up.answers(0x1050, 4, 3));
        assert!(up.answers(0x1050, 4, 0xabcd_0003), "high bits ignored");
        assert!(!up.answers(0x1050, 4, 2), "another queue");
        assert!(!up.answers(0x1000, 4, 3), "the base itself");
        assert!(!up.answers(0x1050, 2, 3), "another width");
        assert_eq!(
            of(0, 0x1000, 2, 0x1_0000),
            Err(Refusal::Inval),
            "no such queue"
        );
        assert_eq!(of(0, u64::MAX - 0x20, 4, 0), Err(Refusal::Inval), "wraps");
        // An address, any data.
        let any = of(X::ADDR.0, 0x2000, 2, 77).unwrap();
        assert!(any.answers(0x2000, 2, 0) && any.answers(0x2000, 2, 0xffff));
        assert!(!any.answers(0x2002, 2, 0));
        // An address and a datamatch over the whole write.
        let dm = of(X::ADDR.0 | X::DATAMATCH.0, 0x3000, 4, 0xdead_beef).unwrap();
        assert!(dm.answers(0x3000, 4, 0xdead_beef));
        assert!(!dm.answers(0x3000, 4, 0xdead_beee));
        let dm8 = of(X::ADDR.0 | X::DATAMATCH.0, 0x3000, 8, 5).unwrap();
        assert!(dm8.answers(0x3000, 8, 5) && !dm8.answers(0x3000, 8, 5 | 1 << 40));
        assert_eq!(
            of(X::ADDR.0 | X::DATAMATCH.0, 0x3000, 1, 0x100),
            Err(Refusal::Inval),
            "a byte cannot carry 0x100"
        );
        // Refused shapes.
        assert_eq!(
            of(X::DATAMATCH.0, 0x3000, 4, 1),
            Err(Refusal::Inval),
            "datamatch needs ADDR"
        );
        assert_eq!(of(8, 0x3000, 4, 1), Err(Refusal::Inval), "unknown flag");
        for len in [0, 3, 5, 16] {
            assert_eq!(
                of(X::ADDR.0, 0x3000, len, 0),
                Err(Refusal::Inval),
                "len {len}"
            );
        }
        assert_eq!(
            of(X::ADDR.0, u64::MAX - 1, 4, 0),
            Err(Refusal::Inval),
            "wraps"
        );
        assert!(
            of(F::DEASSIGN.0, 0x1000, 4, 3).is_ok(),
            "deassign names the same rule"
        );
        assert_eq!(
            IoeventfdMatch::of(0, 0, 4, 0, 0, [0; 2]),
            Err(Refusal::Inval),
            "no vCPU"
        );
        assert!(IoeventfdMatch::of(0, 0, 4, 0, MAX_IOREQ_VCPUS, [0; 2]).is_ok());
        assert_eq!(
            IoeventfdMatch::of(0, 0, 4, 0, MAX_IOREQ_VCPUS + 1, [0; 2]),
            Err(Refusal::Inval),
            "more vCPUs than one ioreq page holds"
        );
        assert_eq!(
            IoeventfdMatch::of(0, 0, 4, 0, 1, [0, 1]),
            Err(Refusal::Inval),
            "pad"
        );
        // Collisions: some write would match both.
        assert!(any.collides(&of(X::ADDR.0 | X::DATAMATCH.0, 0x2000, 2, 9).unwrap()));
        assert!(dm.collides(&dm));
        assert!(!dm.collides(&of(X::ADDR.0 | X::DATAMATCH.0, 0x3000, 4, 1).unwrap()));
        assert!(!up.collides(&of(0, 0x1000, 4, 4).unwrap()), "two queues");
        assert!(
            !any.collides(&of(X::ADDR.0, 0x2000, 4, 0).unwrap()),
            "two widths"
        );
    }
}
