// SPDX-License-Identifier: MIT
//! `dmop-abi-freeze`: records the code's ABI in `abi/frozen.toml` and
//! regenerates `src/abi/frozen.rs`, refusing every change the policy forbids.
//!
//! Run through `cargo xtask abi-freeze`, which builds this tool with
//! `--cfg dmop_abi_unfrozen` so that it can read code that the current
//! frozen checks would reject, and reject it itself with a reason.
//! `--check` only reports what a freeze would do.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use dmop_abi_tools::cross::CrossRustc;
use dmop_abi_tools::manifest::{self, Arch, Manifest};

/// Freeze the code's device-model ABI into abi/frozen.toml.
#[derive(Parser, Debug)]
#[command(about, long_about = None)]
struct Cli {
    /// Report what would change; write nothing.
    #[arg(long)]
    check: bool,
    /// Cache for cross-compiled `core` (default: target/dmop-abi-cross).
    #[arg(long, value_name = "DIR")]
    work: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The workspace's dmop-abi, the one linked into this tool: the op list
    // and the host's layouts come from the tool, the other architectures'
    // from that crate's sources.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dmop-abi");
    if !root.join("src/abi").is_dir() {
        eprintln!(
            "dmop-abi-freeze: no dmop-abi sources at {}: the tool freezes the workspace it was built in (cargo xtask abi-freeze)",
            root.display()
        );
        return ExitCode::from(2);
    }
    let manifest_path = root.join("abi/frozen.toml");
    let frozen_rs_path = root.join("src/abi/frozen.rs");
    let work = cli
        .work
        .unwrap_or_else(|| root.join("../../target/dmop-abi-cross"));
    let prev = match std::fs::read_to_string(&manifest_path)
        .map_err(|e| e.to_string())
        .and_then(|t| Manifest::parse(&t).map_err(|e| e.to_string()))
    {
        Ok(m) => m,
        Err(e) => {
            eprintln!("dmop-abi-freeze: {}: {e}", manifest_path.display());
            return ExitCode::from(2);
        }
    };
    let rustc = match CrossRustc::debian(&work) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("dmop-abi-freeze: {e}");
            return ExitCode::from(2);
        }
    };
    let mut views = BTreeMap::new();
    for arch in Arch::ALL {
        eprintln!(
            "dmop-abi-freeze: deriving the {arch} layouts from the code ({})",
            arch.rust_target()
        );
        let flat = match rustc.flat(
            arch,
            &root.join("src/abi"),
            &["dmop_abi_unfrozen"],
            "freeze",
        ) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("dmop-abi-freeze: {e}");
                return ExitCode::from(2);
            }
        };
        match manifest::view_from_flat(arch, &flat) {
            Ok(v) => {
                views.insert(arch, v);
            }
            Err(e) => {
                eprintln!("dmop-abi-freeze: {e}");
                return ExitCode::from(2);
            }
        }
    }
    // The toolchain that built this tool and Debian's must agree on the host.
    if views[&Arch::host()] != manifest::host_view() {
        eprintln!(
            "dmop-abi-freeze: the cross-compiled {} layouts differ from this build's own; refusing",
            Arch::host()
        );
        return ExitCode::from(2);
    }
    let mut next = manifest::manifest_from_code(prev.abi_version, manifest::code_dmops(), views);
    manifest::carry_retired_layouts(&prev, &mut next);
    if next.dmops != prev.dmops || next.views != prev.views {
        next.abi_version = prev.abi_version + 1;
    }
    let errs = manifest::check_evolution(&prev, &next);
    if !errs.is_empty() {
        eprintln!("dmop-abi-freeze: the code changes the frozen ABI in ways the policy forbids (docs/abi-policy.md):");
        for e in &errs {
            eprintln!("  - {e}");
        }
        return ExitCode::from(1);
    }
    if next.abi_version == prev.abi_version {
        println!(
            "dmop-abi-freeze: the code matches the frozen ABI version {}; nothing to do",
            prev.abi_version
        );
    } else {
        println!(
            "dmop-abi-freeze: ABI version {} -> {}",
            prev.abi_version, next.abi_version
        );
    }
    let toml = next.to_toml();
    let rs = manifest::frozen_rs(&next);
    let same = std::fs::read_to_string(&manifest_path).ok().as_deref() == Some(toml.as_str())
        && std::fs::read_to_string(&frozen_rs_path).ok().as_deref() == Some(rs.as_str());
    if cli.check {
        if same {
            println!("dmop-abi-freeze: abi/frozen.toml and src/abi/frozen.rs are up to date");
            return ExitCode::SUCCESS;
        }
        println!("dmop-abi-freeze: a freeze would rewrite abi/frozen.toml and src/abi/frozen.rs");
        return ExitCode::from(1);
    }
    if let Err(e) =
        std::fs::write(&manifest_path, &toml).and_then(|_| std::fs::write(&frozen_rs_path, &rs))
    {
        eprintln!("dmop-abi-freeze: writing: {e}");
        return ExitCode::from(2);
    }
    println!(
        "dmop-abi-freeze: wrote {} and {}",
        manifest_path.display(),
        frozen_rs_path.display()
    );
    ExitCode::SUCCESS
}
