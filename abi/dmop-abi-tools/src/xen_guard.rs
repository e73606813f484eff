// SPDX-License-Identifier: MIT
//! The hypervisor's side of the freeze: a C header, generated from the
//! frozen manifest, that the DMOP dispatcher of a patched Xen includes
//! (`xen-patches/`, patch 1).
//!
//! It holds a compile-time check of every frozen DMOP struct's size and of
//! each named field's offset and size, so that a Xen change breaking a
//! frozen layout fails the hypervisor build with a message naming the op
//! and the field; and `dmop_frozen_refused()`, the dispatchers' table of
//! numbers they must answer `-EOPNOTSUPP` without dispatching: retired
//! numbers, numbers never assigned, and the other architecture's ops.
//!
//! The hypervisor is built for x86_64, arm64 and arm32, and the DMOP
//! structs are laid out alike on all three (the manifest says so: only
//! 32-bit x86 toolstacks differ, and the hypervisor is never built for
//! that). The header has one set of checks for all three; the generator
//! refuses a manifest where the three disagree rather than guard one.
//!
//! # Example
//!
//! ```
//! use dmop_abi_tools::manifest::Manifest;
//! use dmop_abi_tools::xen_guard;
//!
//! let h = xen_guard::header(&Manifest::frozen(), &[]).unwrap();
//! assert!(h.contains("_Static_assert(sizeof(struct xen_dm_op_nr_vcpus) == 4"));
//! assert!(h.contains("case 20: /* nr_vcpus */"));
//! ```

use std::fmt::Write as _;

use crate::manifest::{Arch, Manifest, Status};

/// The header the DMOP structs are defined in, in the manifest.
const DM_OP_HEADER: &str = "xen/hvm/dm_op.h";

/// Writes the guard header for `manifest`. `test_retire` marks these active
/// numbers retired, for a test build of the dispatcher only: the header then
/// says so in its first lines, and the real manifest is never changed.
pub fn header(manifest: &Manifest, test_retire: &[u32]) -> Result<String, String> {
    for n in test_retire {
        match manifest.dmop(*n) {
            Some(e) if e.status == Status::Active => {}
            _ => {
                return Err(format!(
                    "--test-retire {n}: not an active DMOP number of the manifest"
                ))
            }
        }
    }
    let view = manifest.view(Arch::X86_64);
    for arch in [Arch::Arm64, Arch::Arm32] {
        let other = manifest.view(arch);
        for s in view.structs.iter().filter(|s| s.header == DM_OP_HEADER) {
            if other.struct_view(&s.name) != Some(s) {
                return Err(format!(
                    "manifest: struct {} is laid out differently on {} and x86_64: the guard has one set of checks for every hypervisor",
                    s.name,
                    arch.name()
                ));
            }
        }
    }
    let retired = |n: u32| test_retire.contains(&n);
    let is_retired =
        |e: &&crate::manifest::DmopEntry| e.status == Status::Retired || retired(e.number);

    let mut test_build = String::new();
    if !test_retire.is_empty() {
        let _ = writeln!(test_build, " *");
        let _ = writeln!(
            test_build,
            " * TEST BUILD ONLY: DMOP(s) {test_retire:?} marked retired to test the"
        );
        let _ = writeln!(
            test_build,
            " * dispatcher; the real manifest retires no such number."
        );
    }

    // The frame: op and pad, and where the payload starts. Not the union's
    // size: a new op with a larger struct may grow it without moving anything.
    let frame = view
        .struct_view("xen_dm_op")
        .ok_or("manifest: no struct xen_dm_op")?;
    let mut frame_checks = String::new();
    for f in frame.fields.iter().filter(|f| !f.implicit) {
        let what = format!("frozen DMOP frame: field {} of struct xen_dm_op", f.name);
        field_checks(
            &mut frame_checks,
            "xen_dm_op",
            &f.name,
            f.offset,
            (f.name != "u").then_some(f.size),
            &what,
        );
    }

    let mut structs = String::new();
    let mut checked = Vec::new();
    for e in manifest
        .dmops
        .iter()
        .filter(|e| e.status == Status::Active && !retired(e.number))
    {
        let s = view
            .struct_view(&e.payload)
            .ok_or_else(|| format!("manifest: no struct {} for DMOP {}", e.payload, e.number))?;
        if s.header != DM_OP_HEADER {
            return Err(format!(
                "manifest: struct {} of DMOP {} is not from {DM_OP_HEADER}",
                s.name, e.number
            ));
        }
        let ops: Vec<String> = manifest
            .dmops
            .iter()
            .filter(|o| o.payload == s.name && o.status == Status::Active && !retired(o.number))
            .map(|o| format!("{} {}", o.number, o.name))
            .collect();
        if checked.contains(&s.name) {
            continue;
        }
        checked.push(s.name.clone());
        let who = format!("frozen DMOP {}", ops.join(", "));
        let what = format!("{who}: struct {}", s.name);
        struct_checks(
            &mut structs,
            s,
            &who,
            &what,
            &format!(" of struct {}", s.name),
        );
    }
    // Other structs of the DMOP header (modified_memory's extents...).
    for s in view
        .structs
        .iter()
        .filter(|s| s.header == DM_OP_HEADER && s.name != "xen_dm_op" && s.name != "xen_dm_op_buf")
    {
        if checked.contains(&s.name) || manifest.dmops.iter().any(|e| e.payload == s.name) {
            continue;
        }
        checked.push(s.name.clone());
        let who = format!("frozen DMOP argument struct {}", s.name);
        struct_checks(&mut structs, s, &who, &who, "");
    }

    let mut retired_list = String::new();
    let mut retired_cases = String::new();
    for e in manifest.dmops.iter().filter(is_retired) {
        let test = if retired(e.number) {
            " (test build only)"
        } else {
            ""
        };
        let _ = writeln!(retired_list, " *   {} {}{test}", e.number, e.name);
        let _ = writeln!(
            retired_cases,
            "    case {}: /* {}, retired */",
            e.number, e.name
        );
    }
    if retired_list.is_empty() {
        retired_list.push_str(" *   (none)\n");
    } else {
        retired_cases.push_str("        return true;\n");
    }
    let cases = |arch: &str| {
        let mut c = String::new();
        for e in manifest.dmops.iter().filter(|e| {
            e.status == Status::Active && !retired(e.number) && e.arch.iter().any(|a| a == arch)
        }) {
            let _ = writeln!(c, "    case {}: /* {} */", e.number, e.name);
        }
        c
    };
    fill(
        TEMPLATE,
        &[
            ("@TEST_BUILD@", &test_build),
            ("@FRAME_CHECKS@", &frame_checks),
            ("@STRUCT_CHECKS@", &structs),
            ("@RETIRED_LIST@", &retired_list),
            ("@RETIRED_CASES@", &retired_cases),
            ("@X86_CASES@", &cases("x86")),
            ("@ARM_CASES@", &cases("arm")),
        ],
    )
}

/// The header's fixed text (`templates/dmop-frozen.h.in`); each `@NAME@`
/// is replaced by generated lines.
const TEMPLATE: &str = include_str!("../templates/dmop-frozen.h.in");

/// `template` with each placeholder replaced; each must occur exactly
/// once (a test checks that none is left).
fn fill(template: &str, values: &[(&str, &str)]) -> Result<String, String> {
    let mut out = template.to_string();
    for (name, value) in values {
        if out.matches(name).count() != 1 {
            return Err(format!("template: {name} is not there exactly once"));
        }
        out = out.replacen(name, value, 1);
    }
    Ok(out)
}

/// A C file that compiles only against a `xen/io/xs_wire.h` patched by
/// `xen-patches/` whose `XS_ONE_TIME_RESTRICT` is dmop-abi's: the compiler
/// compares the patched header with this crate (`gcc -fsyntax-only`).
pub fn xenstore_probe() -> String {
    use dmop_abi::xs_wire::{XS_ONE_TIME_RESTRICT, XS_TYPE_COUNT};
    format!(
        "/* Generated by dmop-abi-xen-guard --xenstore-probe. */\n\
         #include <stdint.h>\n\
         #include <xen/io/xs_wire.h>\n\
         _Static_assert(XS_ONE_TIME_RESTRICT == {XS_ONE_TIME_RESTRICT}, \"XS_ONE_TIME_RESTRICT is {XS_ONE_TIME_RESTRICT} in dmop-abi\");\n\
         _Static_assert(XS_TYPE_COUNT == {}, \"the patched XS_TYPE_COUNT is upstream's {XS_TYPE_COUNT} plus one\");\n",
        XS_TYPE_COUNT + 1
    )
}

fn bytes(n: u64) -> String {
    if n == 1 {
        "1 byte".into()
    } else {
        format!("{n} bytes")
    }
}

/// The checks of one struct: a comment naming it (`what`), its size, and
/// each named field's offset and size (`{who}: field F{field_of}`), then
/// a blank line.
fn struct_checks(
    h: &mut String,
    s: &crate::manifest::StructView,
    who: &str,
    what: &str,
    field_of: &str,
) {
    let _ = writeln!(h, "/* {what} */");
    let _ = writeln!(
        h,
        "_Static_assert(sizeof(struct {}) == {}, \"{what} must be {} (frozen by dmop-abi)\");",
        s.name,
        s.size,
        bytes(s.size)
    );
    for f in s.fields.iter().filter(|f| !f.implicit) {
        field_checks(
            h,
            &s.name,
            &f.name,
            f.offset,
            Some(f.size),
            &format!("{who}: field {}{field_of}", f.name),
        );
    }
    let _ = writeln!(h);
}

fn field_checks(h: &mut String, s: &str, f: &str, offset: u64, size: Option<u64>, what: &str) {
    let _ = writeln!(h, "_Static_assert(offsetof(struct {s}, {f}) == {offset}, \"{what} must be at offset {offset}\");");
    if let Some(size) = size {
        let _ = writeln!(
            h,
            "_Static_assert(sizeof(((struct {s} *)0)->{f}) == {size}, \"{what} must be {}\");",
            bytes(size)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dispatcher's cases under `#if`/`#elif` line `cond`.
    fn cases<'a>(h: &'a str, cond: &str) -> Vec<&'a str> {
        h.lines()
            .skip_while(|l| *l != cond)
            .skip(1)
            .take_while(|l| !l.starts_with('#'))
            .collect()
    }

    /// Every placeholder of the template is filled (the header has no `@`
    /// of its own), with and without a test retirement.
    #[test]
    fn the_template_is_filled() {
        let m = Manifest::frozen();
        for retire in [&[][..], &[7][..]] {
            let h = header(&m, retire).unwrap();
            assert!(!h.contains('@'), "{h}");
            assert!(h.ends_with("#endif /* XEN_DMOP_FROZEN_H */\n"));
        }
        assert!(fill("a @X@ b", &[("@Y@", "")]).is_err());
    }

    #[test]
    fn every_active_op_is_dispatched_on_its_architectures_and_nothing_else() {
        let m = Manifest::frozen();
        let h = header(&m, &[]).unwrap();
        for (cond, arch) in [
            ("#if defined(CONFIG_X86)", "x86"),
            ("#elif defined(CONFIG_ARM)", "arm"),
        ] {
            let listed = cases(&h, cond);
            for e in &m.dmops {
                let line = format!("    case {}: /* {} */", e.number, e.name);
                assert_eq!(
                    listed.contains(&line.as_str()),
                    e.status == Status::Active && e.arch.iter().any(|a| a == arch),
                    "{arch}: {line}"
                );
            }
        }
        assert!(
            cases(&h, "#elif defined(CONFIG_ARM)").contains(&"    case 19: /* set_irq_level */")
        );
        assert!(!cases(&h, "#if defined(CONFIG_X86)").contains(&"    case 19: /* set_irq_level */"));
        assert!(
            h.contains("# error"),
            "an architecture with no list does not build"
        );
        assert!(!h.contains("case 0:"), "0 was never assigned");
        assert!(h.contains("(none)"), "the real manifest retires nothing");
        assert!(!h.contains("TEST BUILD"));
    }

    #[test]
    fn a_test_retirement_moves_the_number_and_says_so() {
        let h = header(&Manifest::frozen(), &[20]).unwrap();
        assert!(h.contains("TEST BUILD ONLY"));
        assert!(h.contains("    case 20: /* nr_vcpus, retired */\n        return true;"));
        for cond in ["#if defined(CONFIG_X86)", "#elif defined(CONFIG_ARM)"] {
            assert!(
                !cases(&h, cond)
                    .iter()
                    .any(|l| l.starts_with("    case 20:")),
                "{cond}: a retired number is no longer dispatched"
            );
        }
        assert!(
            !h.contains("struct xen_dm_op_nr_vcpus) =="),
            "a retired op's struct is no longer frozen"
        );
        assert!(header(&Manifest::frozen(), &[0]).is_err());
        assert!(header(&Manifest::frozen(), &[99]).is_err());
    }

    #[test]
    fn fields_are_checked_by_offset_and_size_with_the_op_named() {
        let h = header(&Manifest::frozen(), &[]).unwrap();
        assert!(h.contains(
            "_Static_assert(offsetof(struct xen_dm_op_set_pci_intx_level, device) == 3, \"frozen DMOP 8 set_pci_intx_level: field device of struct xen_dm_op_set_pci_intx_level must be at offset 3\");"
        ), "{h}");
        assert!(h.contains("frozen DMOP 3 map_io_range_to_ioreq_server, 4 unmap_io_range_from_ioreq_server: struct xen_dm_op_ioreq_server_range"));
        assert!(
            !h.contains("sizeof(((struct xen_dm_op *)0)->u)"),
            "the union may grow"
        );
    }

    #[test]
    fn a_layout_that_differs_on_arm_is_refused() {
        for arch in [Arch::Arm64, Arch::Arm32] {
            let mut m = Manifest::frozen();
            let v = m.views.get_mut(&arch).unwrap();
            let s = v
                .structs
                .iter_mut()
                .find(|s| s.name == "xen_dm_op_nr_vcpus")
                .unwrap();
            s.size += 4;
            let e = header(&m, &[]).unwrap_err();
            assert!(
                e.contains("xen_dm_op_nr_vcpus") && e.contains(arch.name()),
                "{e}"
            );
        }
    }
}
