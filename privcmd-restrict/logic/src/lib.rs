// SPDX-License-Identifier: GPL-2.0
//! The privcmd-restrict module's decisions (`src/policy.rs`), compiled on
//! the host exactly as the module includes them, with dmop-abi's source
//! mounted at the same path, and unit-tested here.
#![allow(dead_code)]

#[path = "../../src/dmop_abi/mod.rs"]
mod dmop_abi;
#[path = "../../src/policy.rs"]
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
        let r = Restriction::none();
        assert!(r.allows(DomId(0)) && r.allows(DomId(9)));
        assert_eq!(r.restrict(DomId::INVALID), Err(Refusal::Inval), "DOMID_INVALID would restrict nothing");
        assert_eq!(r.restrict(DomId(0x7ff0)), Err(Refusal::Inval));
        assert_eq!(r.get(), None);
        assert_eq!(r.restrict(DomId(9)), Ok(()));
        assert_eq!(r.restrict(DomId(9)), Ok(()));
        assert_eq!(r.restrict(DomId(10)), Err(Refusal::Inval));
        assert_eq!(r.get(), Some(DomId(9)));
        assert_eq!(r.check(DomId(0)), Err(Refusal::Perm));
        assert_eq!(r.check(DomId(DomId::INVALID.0)), Err(Refusal::Perm));
        assert_eq!(r.check(DomId(9)), Ok(()));
    }

    #[test]
    fn racing_restrictions_leave_exactly_one_winner() {
        for _ in 0..50 {
            let r = Arc::new(Restriction::none());
            let wins: usize = (1..=8u16)
                .map(|d| {
                    let r = r.clone();
                    std::thread::spawn(move || r.restrict(DomId(d)).is_ok())
                })
                .collect::<Vec<_>>()
                .into_iter()
                .map(|h| usize::from(h.join().unwrap()))
                .sum();
            assert_eq!(wins, 1);
            assert!(r.get().is_some());
        }
    }

    #[test]
    fn bindings_bind_rebind_unbind_and_fill_up() {
        let b = Bindings::new();
        assert_eq!(b.bind(1000, DomId(3)), Ok(()));
        assert_eq!(b.bind(1000, DomId(4)), Ok(()), "rebinding moves the uid");
        assert_eq!(b.lookup(1000), Some(DomId(4)));
        let mut n = 0;
        b.for_each(|_, _| n += 1);
        assert_eq!(n, 1, "a uid has one slot");
        assert_eq!(b.bind(1, DomId::INVALID), Err(Refusal::Inval));
        assert_eq!(b.bind(u32::MAX, DomId(1)), Err(Refusal::Inval), "the invalid uid");
        assert_eq!(b.unbind(1000), Ok(()));
        assert_eq!(b.unbind(1000), Err(Refusal::NoEnt));
        for uid in 0..MAX_BINDINGS as u32 {
            b.bind(uid, DomId(uid as u16 % 100)).unwrap();
        }
        assert_eq!(b.bind(99_999, DomId(1)), Err(Refusal::NoSpace));
        assert_eq!(b.bind(5, DomId(77)), Ok(()), "rebinding works when full");
        b.clear();
        assert_eq!(b.lookup(5), None);
    }

    #[test]
    fn concurrent_binds_of_one_uid_never_duplicate_it() {
        let b = Arc::new(Bindings::new());
        let hs: Vec<_> = (1..=8u16)
            .map(|d| {
                let b = b.clone();
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        b.bind(42, DomId(d)).unwrap();
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        let mut n = 0;
        b.for_each(|u, _| n += usize::from(u == 42));
        assert_eq!(n, 1);
    }

    #[test]
    fn open_policy() {
        assert_eq!(decide_open(Some(DomId(5)), false), Ok(OpenDecision::Restricted(DomId(5))));
        assert_eq!(decide_open(Some(DomId(5)), true), Ok(OpenDecision::Restricted(DomId(5))), "a binding applies to admins too");
        assert_eq!(decide_open(None, true), Ok(OpenDecision::Unrestricted));
        assert_eq!(decide_open(None, false), Err(Refusal::Access));
    }

    #[test]
    fn restrict_uid_needs_an_admin_on_an_unrestricted_fd() {
        let free = Restriction::none();
        let bound = Restriction::to(DomId(2));
        let arg = PrivcmdRestrictUid { uid: 7, domid: DomId(3), flags: RestrictUidFlags(0) };
        assert_eq!(decide_restrict_uid(true, &free, &arg), Ok(BindingChange::Bind(7, DomId(3))));
        assert_eq!(decide_restrict_uid(true, &free, &PrivcmdRestrictUid { flags: RestrictUidFlags::UNBIND, ..arg }), Ok(BindingChange::Unbind(7)));
        assert_eq!(decide_restrict_uid(false, &free, &arg), Err(Refusal::Perm));
        assert_eq!(decide_restrict_uid(true, &bound, &arg), Err(Refusal::Perm));
        assert_eq!(decide_restrict_uid(true, &free, &PrivcmdRestrictUid { flags: RestrictUidFlags(3), ..arg }), Err(Refusal::Inval));
    }

    #[test]
    fn dm_op_limits() {
        let l = DmOpLimits { max_bufs: 16, max_size: 4096 };
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
                let p = TrackDirtyVram { nr, ..TrackDirtyVram::ZEROED };
                as_bytes(&p).iter().enumerate().for_each(|(i, b)| set_u(&mut o, i, *b));
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
            unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>()) }
        }
    }

    #[test]
    fn only_track_dirty_vram_has_an_output_only_buffer() {
        let vram = op_bytes(DmopCode::TRACK_DIRTY_VRAM, 100);
        assert_eq!(output_only_len(&vram, 2), Some(13), "ceil(100 / 8) bytes of bitmap");
        assert_eq!(output_only_len(&op_bytes(DmopCode::TRACK_DIRTY_VRAM, 0), 2), Some(0));
        assert_eq!(output_only_len(&vram, 1), None, "no buffer 1");
        assert_eq!(output_only_len(&vram[..10], 2), None, "buffer 0 too short to hold nr");
        assert_eq!(output_only_len(&op_bytes(DmopCode::MODIFIED_MEMORY, 5), 2), None, "extents are read by Xen");
    }

    #[test]
    fn bindings_listing_fits_or_stops_cleanly() {
        let b = Bindings::new();
        b.bind(1000, DomId(3)).unwrap();
        b.bind(1001, DomId(12)).unwrap();
        let mut out = [0u8; 64];
        let n = format_bindings(&b, &mut out);
        assert_eq!(std::str::from_utf8(&out[..n]).unwrap(), "1000 3\n1001 12\n");
        let mut tiny = [0u8; 9];
        let n = format_bindings(&b, &mut tiny);
        assert!(n <= 9);
    }
}
