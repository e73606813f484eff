// SPDX-License-Identifier: MIT
//! The ABI source as the kernel module uses it: compiled alone, `no_std`,
//! with no dependency and the kernel's lints, by plain `rustc`. Also the
//! proof that the compile-time checks stop a build that breaks the freeze.

use std::path::{Path, PathBuf};
use std::process::Command;

use dmop_abi_tools::cross::{probe_root, KERNEL_LINT_FLAGS};

fn abi_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../dmop-abi/src/abi")
}

/// Compiles `abi` (a directory with `mod.rs`) as the kernel would and
/// returns the compiler's success and diagnostics.
fn compile(abi: &Path, out: &Path) -> (bool, String) {
    let root = out.join("root.rs");
    std::fs::write(&root, probe_root(&abi.join("mod.rs"))).unwrap();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let o = Command::new(rustc)
        .args([
            "--edition",
            "2021",
            "--crate-type",
            "lib",
            "--crate-name",
            "dmop_abi_kernel_like",
            "-Cpanic=abort",
        ])
        .args(KERNEL_LINT_FLAGS)
        .arg("--emit=metadata")
        .arg("--out-dir")
        .arg(out)
        .arg(&root)
        .output()
        .expect("run rustc");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A copy of the ABI source with one textual edit (which must apply).
fn mutated(edits: &[(&str, &str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let abi = dir.path().join("abi");
    std::fs::create_dir(&abi).unwrap();
    for e in std::fs::read_dir(abi_dir()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), abi.join(e.file_name())).unwrap();
    }
    for (file, from, to) in edits {
        let p = abi.join(file);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains(from), "edit of {file} does not apply: {from}");
        std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
    }
    dir
}

#[test]
fn abi_source_compiles_alone_as_no_std_without_dependencies() {
    let out = tempfile::tempdir().unwrap();
    let (ok, err) = compile(&abi_dir(), out.path());
    assert!(
        ok,
        "the ABI source must build with core alone and the kernel's lints:\n{err}"
    );
    // It really is core-only: nothing but core may be named.
    for e in std::fs::read_dir(abi_dir()).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        for forbidden in ["extern crate", "std::", "alloc::"] {
            assert!(
                !text
                    .lines()
                    .any(|l| !l.trim_start().starts_with("//") && l.contains(forbidden)),
                "{forbidden} in the core ABI source"
            );
        }
    }
}

#[test]
fn changing_a_frozen_struct_stops_the_build() {
    // Swap two one-byte fields: still well formed, but both move.
    let dir = mutated(&[(
        "dmop.rs",
        "        pub enabled: u8,\n        /// Must be zero.\n        pub pad: u8,",
        "        pub pad: u8,\n        /// IN: 1 to enable, 0 to disable.\n        pub enabled: u8,",
    )]);
    let (ok, err) = compile(&dir.path().join("abi"), dir.path());
    assert!(!ok, "a moved frozen field must not build");
    assert!(
        err.contains("frozen ABI: xen_dm_op_set_ioreq_server_state.enabled moved or resized; frozen at offset 2 size 1"),
        "the error names the struct, the field and the frozen values:\n{err}"
    );
}

#[test]
fn reusing_a_retired_number_stops_the_build() {
    let dir = mutated(&[(
        "dmop.rs",
        "pub const RETIRED_DMOPS: &[RetiredDmop] = &[];",
        "pub const RETIRED_DMOPS: &[RetiredDmop] = &[RetiredDmop { code: DmopCode::NR_VCPUS, name: \"old_nr_vcpus\", retired_in: 2, replaced_by: None }];",
    )]);
    let (ok, err) = compile(&dir.path().join("abi"), dir.path());
    assert!(!ok);
    assert!(
        err.contains("an active DMOP uses a retired number"),
        "{err}"
    );
}

#[test]
fn implicit_padding_stops_the_build() {
    // Dropping a named pad leaves a hole C would fill silently.
    let dir = mutated(&[(
        "dmop.rs",
        "        /// Must be zero.\n        pub pad: u16,\n        /// IN: what kind of range.",
        "        /// IN: what kind of range.",
    )]);
    let (ok, err) = compile(&dir.path().join("abi"), dir.path());
    assert!(!ok);
    assert!(err.contains("implicit padding"), "{err}");
}

#[test]
fn assigning_op_zero_stops_the_build() {
    let dir = mutated(&[("dmop.rs", "NR_VCPUS = 20 =>", "NR_VCPUS = 0 =>")]);
    let (ok, err) = compile(&dir.path().join("abi"), dir.path());
    assert!(!ok);
    assert!(err.contains("DMOP number 0 was never assigned"), "{err}");
}
