// SPDX-License-Identifier: MIT
//! The code's layouts on all four architectures, derived by compiling the
//! ABI source for each target with Debian's rustc (the kernel's compiler)
//! and reading them out of the objects, equal the frozen manifest's.
//!
//! Needs rustc-web and rust-web-src; `cargo xtask test` installs them and
//! runs these with `--include-ignored`.

use std::path::Path;

use dmop_abi_tools::cross::CrossRustc;
use dmop_abi_tools::manifest::{diff_code_view, view_from_flat, Arch, Manifest};

fn work() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/dmop-abi-cross")
}

#[test]
#[ignore = "needs Debian's rustc-web and rust-web-src: cargo xtask test runs it"]
fn every_architecture_matches_the_manifest() {
    let rustc = CrossRustc::debian(&work()).expect("Debian rustc");
    let m = Manifest::frozen();
    let abi = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dmop-abi/src/abi");
    for arch in Arch::ALL {
        // With the frozen checks on: that this compiles at all already
        // proves the layouts; the comparison says where, if not.
        let flat = rustc
            .flat(arch, &abi, &[], "test")
            .unwrap_or_else(|e| panic!("{arch}: {e}"));
        let view = view_from_flat(arch, &flat).unwrap();
        let f = diff_code_view(&m, &view);
        assert!(
            f.is_empty(),
            "{arch}:\n{}",
            f.iter().map(|f| format!("  {f}\n")).collect::<String>()
        );
    }
}

#[test]
#[ignore = "needs Debian's rustc-web and rust-web-src: cargo xtask test runs it"]
fn a_32_bit_layout_change_is_caught_on_that_target_only() {
    // Make the pointer of `privcmd_dm_op` a u64: x86_64 keeps its layout,
    // i386 (where pointers are 4 bytes) must be caught.
    let dir = tempfile::tempdir().unwrap();
    let abi = dir.path().join("abi");
    std::fs::create_dir(&abi).unwrap();
    for e in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../dmop-abi/src/abi"))
        .unwrap()
    {
        let e = e.unwrap();
        std::fs::copy(e.path(), abi.join(e.file_name())).unwrap();
    }
    let p = abi.join("privcmd.rs");
    let t = std::fs::read_to_string(&p).unwrap();
    let from = "        pub pad0: PtrPad = implicit,\n        /// `const struct privcmd_dm_op_buf *`.\n        pub ubufs: UserPtr,";
    assert!(t.contains(from));
    std::fs::write(&p, t.replace(from, "        pub pad0: PtrPad = implicit,\n        /// `const struct privcmd_dm_op_buf *`.\n        pub ubufs: u64,")).unwrap();
    let rustc = CrossRustc::debian(&work()).expect("Debian rustc");
    if let Err(e) = rustc.flat(Arch::X86_64, &abi, &[], "mutant") {
        panic!("x86_64 layout is unchanged, yet: {e}");
    }
    let err = rustc
        .flat(Arch::X86_32, &abi, &[], "mutant")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("frozen ABI: sizeof/alignof(struct privcmd_dm_op) changed; frozen at 8/4"),
        "{err}"
    );
}
