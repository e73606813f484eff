// SPDX-License-Identifier: MIT
//! `dmop-abi-check` against the real headers (Xen 4.17 from libxen-dev,
//! Linux 6.12's exported uapi) on all four architectures, and against
//! mutated copies of them.
//!
//! Needs clang and libxen-dev, and for the Linux part the directory named
//! by `DMOP_ABI_LINUX_HEADERS` holding `<ARCH>/include` trees from
//! `make headers`; `cargo xtask test` prepares both and runs these with
//! `--include-ignored`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dmop_abi_tools::headers::{self, CheckOptions};
use dmop_abi_tools::manifest::{Arch, Manifest, Status};

const NEEDS: &str = "needs clang and libxen-dev: cargo xtask test runs it";

fn xen_include() -> PathBuf {
    std::env::var_os("DMOP_ABI_XEN_INCLUDE")
        .map_or_else(|| PathBuf::from("/usr/include"), PathBuf::from)
}

fn linux_headers(arch: Arch) -> PathBuf {
    let root = std::env::var_os("DMOP_ABI_LINUX_HEADERS").expect(
        "DMOP_ABI_LINUX_HEADERS must name exported Linux 6.12 headers (cargo xtask test sets it)",
    );
    Path::new(&root).join(arch.linux_arch()).join("include")
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dmop-abi-check"))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A copy of Xen's headers with `edits` applied to `xen/hvm/dm_op.h`.
fn xen_copy(edits: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let st = Command::new("cp")
        .arg("-r")
        .arg(xen_include().join("xen"))
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(st.success());
    let p = dir.path().join("xen/hvm/dm_op.h");
    let mut t = std::fs::read_to_string(&p).unwrap();
    for (from, to) in edits {
        assert!(t.contains(from), "edit does not apply: {from}");
        t = t.replacen(from, to, 1);
    }
    std::fs::write(&p, t).unwrap();
    dir
}

#[test]
#[ignore = "needs clang and libxen-dev: cargo xtask test runs it"]
fn xen_headers_match_on_every_architecture() {
    let _ = NEEDS;
    for arch in Arch::ALL {
        let inc = xen_include();
        let o = run(&[
            "--xen-include",
            inc.to_str().unwrap(),
            "--target",
            arch.clang_target(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{arch}:\n{}", text(&o));
        assert!(text(&o).contains("compatible:"), "{}", text(&o));
    }
}

/// The checker on Xen's headers and Linux's uapi for `arch`.
fn check_with_kernel(arch: Arch) -> std::process::Output {
    let k = linux_headers(arch);
    let inc = xen_include();
    run(&[
        "--xen-include",
        inc.to_str().unwrap(),
        "--kernel-include",
        k.to_str().unwrap(),
        "--target",
        arch.clang_target(),
    ])
}

#[test]
#[ignore = "needs clang, libxen-dev and exported Linux headers: cargo xtask test runs it"]
fn linux_uapi_headers_match_on_every_architecture() {
    for arch in Arch::ALL {
        let o = check_with_kernel(arch);
        assert_eq!(o.status.code(), Some(0), "{arch}:\n{}", text(&o));
        assert!(
            !text(&o).contains("skipped"),
            "the uapi part was checked: {}",
            text(&o)
        );
    }
}

#[test]
#[ignore = "needs clang, libxen-dev and exported Linux headers: cargo xtask test runs it"]
fn an_ioctl_no_freeze_recorded_is_named() {
    // Linux 6.12's evtchn.h has IOCTL_EVTCHN_BIND_STATIC, which the
    // project neither uses nor freezes.
    let o = check_with_kernel(Arch::X86_64);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.lines()
            .any(|l| l.starts_with("note: IOCTL_EVTCHN_BIND_STATIC:") && l.contains("not frozen")),
        "{out}"
    );
    // A frozen one is compared, not noted.
    assert!(!out.contains("note: IOCTL_PRIVCMD_DM_OP:"), "{out}");
}

#[test]
#[ignore = "needs clang and libxen-dev: cargo xtask test runs it"]
fn a_widened_field_is_named_with_its_op() {
    let d = xen_copy(&[(
        "    /* IN - flags */\n    uint16_t flags;",
        "    /* IN - flags */\n    uint32_t flags;",
    )]);
    let o = run(&["--xen-include", d.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.lines()
            .any(|l| l.contains("dmop 2 get_ioreq_server_info")
                && l.contains("field flags")
                && l.contains("size: expected 2, found 4")),
        "{out}"
    );
    // One line per finding, each self-contained.
    assert!(
        out.lines()
            .filter(|l| l.starts_with("INCOMPATIBLE x86_64"))
            .count()
            >= 2,
        "{out}"
    );
}

#[test]
#[ignore = "needs clang and libxen-dev: cargo xtask test runs it"]
fn a_renumbered_op_is_named() {
    let d = xen_copy(&[(
        "#define XEN_DMOP_set_ioreq_server_state 5",
        "#define XEN_DMOP_set_ioreq_server_state 25",
    )]);
    let o = run(&["--xen-include", d.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o)
            .lines()
            .any(|l| l.contains("dmop 5 set_ioreq_server_state")
                && l.contains("renumbered: expected 5, found 25")),
        "{}",
        text(&o)
    );
}

#[test]
#[ignore = "needs clang and libxen-dev: cargo xtask test runs it"]
fn a_removed_field_is_named() {
    let d = xen_copy(&[(
        "    /* IN - instruction length */\n    uint8_t insn_len;\n",
        "",
    )]);
    let o = run(&["--xen-include", d.path().to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    assert_eq!(j["compatible"], false);
    let findings = j["report"]["findings"].as_array().unwrap();
    assert!(
        findings.iter().any(|f| f["field"] == "insn_len"
            && f["what"] == "missing"
            && f["ops"][0] == "13 inject_event"),
        "{j:#}"
    );
}

#[test]
#[ignore = "needs clang and libxen-dev: cargo xtask test runs it"]
fn a_retired_number_given_to_another_op_is_refused() {
    // A manifest that retired 20 (as `old_nr_vcpus`): the real header still
    // hands 20 out, to `nr_vcpus`.
    let mut m = Manifest::frozen();
    let d = m.dmops.iter_mut().find(|d| d.number == 20).unwrap();
    d.status = Status::Retired;
    d.name = "old_nr_vcpus".into();
    let opts = CheckOptions {
        xen_include: xen_include(),
        kernel_include: None,
        arch: Arch::X86_64,
        cc: headers::default_cc(),
    };
    let r = headers::check(&m, &opts).unwrap();
    assert!(
        r.findings
            .iter()
            .any(|f| f.what == "retired number reused" && f.found == "XEN_DMOP_nr_vcpus = 20"),
        "{:#?}",
        r.findings
    );
}

#[test]
#[ignore = "needs clang and libxen-dev: cargo xtask test runs it"]
fn an_op_the_manifest_does_not_know_is_a_note_not_a_failure() {
    let d = xen_copy(&[(
        "#define XEN_DMOP_nr_vcpus 20",
        "#define XEN_DMOP_nr_vcpus 20\n#define XEN_DMOP_future_op 21",
    )]);
    let o = run(&["--xen-include", d.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("note: XEN_DMOP_future_op = 21"),
        "{}",
        text(&o)
    );
}

#[test]
#[ignore = "needs clang and libxen-dev: cargo xtask test runs it"]
fn bad_input_exits_2_with_one_clear_line() {
    let empty = tempfile::tempdir().unwrap();
    let o = run(&["--xen-include", empty.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("xen/xen.h not found"), "{}", text(&o));

    let d = xen_copy(&[]);
    std::fs::remove_file(d.path().join("xen/hvm/dm_op.h")).unwrap();
    let o = run(&["--xen-include", d.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("xen/hvm/dm_op.h not found"),
        "{}",
        text(&o)
    );

    let o = run(&["--xen-include", "/nonexistent/dir"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("no such directory"), "{}", text(&o));

    let d = xen_copy(&[(
        "struct xen_dm_op_nr_vcpus {",
        "struct xen_dm_op_nr_vcpus { this is not C",
    )]);
    let o = run(&["--xen-include", d.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("unparsable headers") && text(&o).contains("dm_op.h"),
        "{}",
        text(&o)
    );

    let o = run(&["--xen-include", "/usr/include", "--target", "sparc64"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).lines().count(),
        1,
        "{}",
        text(&o)
    );

    let o = run(&["--kernel-include", "/usr/include"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("--xen-include"), "{}", text(&o));
}
