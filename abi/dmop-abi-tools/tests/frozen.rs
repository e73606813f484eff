// SPDX-License-Identifier: MIT
//! The code against the frozen manifest, and the rules of the freeze.

use dmop_abi::dmop::{DmopCode, XenDmOp};
use dmop_abi::ioreq::{BufIoreq, Ioreq, IoreqDir, IoreqState};
use dmop_abi::registry;
use dmop_abi_tools::manifest::{
    self, check_evolution, code_dmops, diff_code_dmops, diff_code_view, host_view, Arch, DmopEntry,
    Manifest, Status,
};

fn frozen() -> Manifest {
    Manifest::frozen()
}

fn show(findings: &[manifest::Finding]) -> String {
    findings.iter().map(|f| format!("  {f}\n")).collect()
}

#[test]
fn manifest_is_in_canonical_form() {
    // The checked-in file is exactly what the freeze writes: nobody edited it by hand.
    assert_eq!(
        frozen().to_toml(),
        manifest::FROZEN_TOML,
        "abi/frozen.toml is not in the form the freeze writes"
    );
}

#[test]
fn code_matches_the_frozen_manifest() {
    let m = frozen();
    let view = host_view();
    assert_eq!(
        view.arch,
        Arch::X86_64,
        "the tests derive the host view on x86_64"
    );
    let f = diff_code_view(&m, &view);
    assert!(
        f.is_empty(),
        "the code differs from abi/frozen.toml:\n{}",
        show(&f)
    );
    let f = diff_code_dmops(&m, &code_dmops());
    assert!(
        f.is_empty(),
        "the DMOP table differs from abi/frozen.toml:\n{}",
        show(&f)
    );
    assert_eq!(registry::ABI_VERSION, m.abi_version);
}

#[test]
fn compile_time_checks_are_generated_from_the_manifest() {
    let generated = manifest::frozen_rs(&frozen());
    let checked_in = include_str!("../../dmop-abi/src/abi/frozen.rs");
    assert!(
        generated == checked_in,
        "src/abi/frozen.rs is stale: run `cargo xtask abi-freeze`"
    );
}

#[test]
fn every_op_of_dm_op_h_is_frozen_with_its_architectures() {
    let m = frozen();
    let active: Vec<u32> = m
        .dmops
        .iter()
        .filter(|d| d.status == Status::Active)
        .map(|d| d.number)
        .collect();
    assert_eq!(active, (1..=20).collect::<Vec<_>>());
    let arch = |n: u32| m.dmop(n).unwrap().arch.join(",");
    assert_eq!(arch(1), "x86,arm");
    assert_eq!(arch(7), "x86");
    assert_eq!(arch(19), "arm");
    assert_eq!(arch(20), "x86,arm");
    assert!(m.dmop(0).is_none(), "op 0 was never assigned");
}

#[test]
fn a_changed_field_is_reported_with_its_op_and_field() {
    let m = frozen();
    let mut view = host_view();
    let s = view
        .structs
        .iter_mut()
        .find(|s| s.name == "xen_dm_op_get_ioreq_server_info")
        .unwrap();
    s.fields
        .iter_mut()
        .find(|f| f.name == "flags")
        .unwrap()
        .size = 4;
    let f = diff_code_view(&m, &view);
    assert_eq!(f.len(), 1, "{}", show(&f));
    let line = f[0].to_string();
    assert!(line.contains("dmop 2 get_ioreq_server_info"), "{line}");
    assert!(line.contains("field flags"), "{line}");
    assert!(line.contains("expected 2, found 4"), "{line}");
}

#[test]
fn a_struct_missing_from_the_manifest_is_not_frozen() {
    let mut m = frozen();
    for v in m.views.values_mut() {
        v.structs.retain(|s| s.name != "xen_dm_op_nr_vcpus");
    }
    let f = diff_code_view(&m, &host_view());
    assert!(
        f.iter()
            .any(|x| x.item == "struct xen_dm_op_nr_vcpus" && x.what == "not frozen"),
        "{}",
        show(&f)
    );
}

fn retire(m: &mut Manifest, number: u32, version: u32) {
    let d = m.dmops.iter_mut().find(|d| d.number == number).unwrap();
    d.status = Status::Retired;
    d.retired_in = Some(version);
}

#[test]
fn reusing_a_retired_number_is_reported() {
    // The manifest retired 20; the code still (or again) has an active op 20.
    let mut m = frozen();
    retire(&mut m, 20, 2);
    let f = diff_code_dmops(&m, &code_dmops());
    assert!(
        f.iter()
            .any(|x| x.item == "dmop 20" && x.what == "reuse of a retired number"),
        "{}",
        show(&f)
    );
}

fn with_new_op(m: &Manifest, number: u32, name: &str) -> Manifest {
    let mut next = m.clone();
    next.abi_version += 1;
    next.dmops.push(DmopEntry {
        number,
        name: name.into(),
        status: Status::Active,
        arch: vec!["x86".into()],
        payload: "xen_dm_op_nr_vcpus".into(),
        retired_in: None,
        replaced_by: None,
    });
    next
}

#[test]
fn a_new_op_must_take_a_new_number() {
    let prev = frozen();
    let ok = with_new_op(&prev, 21, "new_thing");
    assert!(
        check_evolution(&prev, &ok).is_empty(),
        "{:?}",
        check_evolution(&prev, &ok)
    );
    // With 25 given out (and retired), 21 is free but still refused.
    let mut prev25 = prev.clone();
    prev25.dmops.push(DmopEntry {
        number: 25,
        name: "gone".into(),
        status: Status::Retired,
        arch: vec![],
        payload: String::new(),
        retired_in: Some(1),
        replaced_by: None,
    });
    let bad = with_new_op(&prev25, 21, "late");
    let errs = check_evolution(&prev25, &bad);
    assert!(
        errs.iter()
            .any(|e| e.contains("takes number 21") && e.contains("take 26")),
        "{errs:?}"
    );
}

#[test]
fn a_retired_number_can_never_be_given_to_another_op() {
    let prev = frozen();
    let mut retired = prev.clone();
    retired.abi_version += 1;
    let v = retired.abi_version;
    retire(&mut retired, 20, v);
    assert!(
        check_evolution(&prev, &retired).is_empty(),
        "{:?}",
        check_evolution(&prev, &retired)
    );
    // Giving 20 to another op afterwards: its meaning changes.
    let mut reused = retired.clone();
    reused.abi_version += 1;
    let d = reused.dmops.iter_mut().find(|d| d.number == 20).unwrap();
    d.name = "something_else".into();
    d.status = Status::Active;
    d.retired_in = None;
    let errs = check_evolution(&retired, &reused);
    assert!(
        errs.iter().any(|e| e.contains("never changes meaning")),
        "{errs:?}"
    );
    assert!(
        errs.iter().any(|e| e.contains("can never be active again")),
        "{errs:?}"
    );
}

#[test]
fn a_frozen_layout_can_only_change_by_retirement() {
    let prev = frozen();
    let mut next = prev.clone();
    next.abi_version += 1;
    for v in next.views.values_mut() {
        let s = v
            .structs
            .iter_mut()
            .find(|s| s.name == "xen_dm_op_inject_msi")
            .unwrap();
        s.fields[0].size = 8;
    }
    let errs = check_evolution(&prev, &next);
    assert!(
        errs.iter()
            .any(|e| e.contains("xen_dm_op_inject_msi") && e.contains("dmop 14 inject_msi")),
        "{errs:?}"
    );
}

#[test]
fn the_abi_version_moves_with_every_change_and_only_then() {
    let prev = frozen();
    let mut unbumped = with_new_op(&prev, 21, "x");
    unbumped.abi_version = prev.abi_version;
    assert!(check_evolution(&prev, &unbumped)
        .iter()
        .any(|e| e.contains("abi_version must go")));
    let mut bumped_for_nothing = prev.clone();
    bumped_for_nothing.abi_version += 1;
    assert!(check_evolution(&prev, &bumped_for_nothing)
        .iter()
        .any(|e| e.contains("must stay")));
}

#[test]
fn manifest_round_trips_every_architecture() {
    let m = frozen();
    let again = Manifest::parse(&m.to_toml()).unwrap();
    assert_eq!(m, again);
    // The 32-bit layouts differ where pointers do.
    let dm_op = |a| m.view(a).struct_view("privcmd_dm_op").unwrap().size;
    assert_eq!(
        (
            dm_op(Arch::X86_64),
            dm_op(Arch::X86_32),
            dm_op(Arch::Arm64),
            dm_op(Arch::Arm32)
        ),
        (16, 8, 16, 8)
    );
    let batch = |a| m.view(a).struct_view("privcmd_mmapbatch").unwrap().size;
    assert_eq!(
        (batch(Arch::X86_32), batch(Arch::Arm32)),
        (20, 24),
        "i386 and arm32 align __u64 differently"
    );
}

#[test]
fn malformed_manifests_are_refused_with_a_reason() {
    let e = Manifest::parse(
        "abi_version = 1\n[[dmop]]\nnumber = 1\nname = \"x\"\nstatus = \"dormant\"\n",
    )
    .unwrap_err();
    assert!(e.to_string().contains("unknown status"), "{e}");
    let e = Manifest::parse("abi_version = 1\nsurprise = 2\n").unwrap_err();
    assert!(e.to_string().contains("surprise"), "{e}");
}

#[test]
fn ioreq_bit_fields_sit_where_the_layout_says() {
    use zerocopy::IntoBytes;
    let layout = &Ioreq::LAYOUT;
    for (name, set) in [
        (
            "state",
            &(|r: &mut Ioreq| r.set_state_raw(0xff)) as &dyn Fn(&mut Ioreq),
        ),
        ("data_is_ptr", &|r: &mut Ioreq| r.set_data_is_ptr(true)),
        ("dir", &|r: &mut Ioreq| r.set_dir(IoreqDir::READ)),
        ("df", &|r: &mut Ioreq| r.set_df(true)),
        ("_pad1", &|r: &mut Ioreq| r.set_pad1_raw(1)),
    ] {
        let mut r = Ioreq::ZEROED;
        set(&mut r);
        let bit = layout.bit(name).unwrap();
        let set_bits: Vec<usize> = (0..256)
            .filter(|i| r.as_bytes()[i / 8] & (1 << (i % 8)) != 0)
            .collect();
        let expected: Vec<usize> = (bit.bit_offset..bit.bit_offset + bit.width).collect();
        assert_eq!(set_bits, expected, "bit field {name}");
    }
    let mut r = Ioreq::ZEROED;
    r.set_state(IoreqState::IORESP_READY);
    r.set_dir(IoreqDir::READ);
    assert_eq!(r.state(), IoreqState::IORESP_READY);
    assert_eq!(r.dir(), IoreqDir::READ);
    assert!(!r.df() && !r.data_is_ptr());
}

#[test]
fn buffered_ioreq_fields_round_trip() {
    use zerocopy::IntoBytes;
    let mut b = BufIoreq::ZEROED;
    b.set_addr(0xfffff);
    assert_eq!(b.as_bytes(), &[0, 0xf0, 0xff, 0xff, 0, 0, 0, 0]);
    b.set_size_log2(3);
    b.set_dir_raw(1);
    assert_eq!(
        (b.addr(), b.size_bytes(), b.dir()),
        (0xfffff, 8, IoreqDir::READ)
    );
    b.set_addr(0x1_2345); // wider than 20 bits: the excess is dropped
    assert_eq!(b.addr(), 0x1_2345 & 0xfffff);
}

#[test]
fn the_dmop_header_puts_the_payload_at_offset_eight() {
    assert_eq!(XenDmOp::PAYLOAD_OFFSET, 8);
    let op = XenDmOp::new(DmopCode::NR_VCPUS);
    assert_eq!(op.op, DmopCode::NR_VCPUS);
    assert_eq!(core::mem::size_of::<XenDmOp>(), 32);
    assert_eq!(format!("{:?}", DmopCode(20)), "DmopCode::NR_VCPUS");
    assert_eq!(format!("{:?}", DmopCode(99)), "DmopCode(0x63)");
}
