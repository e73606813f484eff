// SPDX-License-Identifier: MIT
//! Compiles the ABI source for another architecture and reads its layouts
//! out of the object, without running anything built for that target.
//!
//! Debian's `rustc-web` (the compiler the kernel is built with) can build
//! `core` for any target from `rust-web-src`. The ABI directory is compiled
//! as a `no_std` crate with no dependency at all and the kernel's strict
//! lints, exactly as the `privcmd-restrict` module includes it; its
//! [`registry::flatten`](dmop_abi::registry::flatten) table lands in a
//! named static of the object, which [`crate::objread`] reads back.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::manifest::Arch;

/// A failure to build or read a cross-compiled probe.
#[derive(Debug)]
pub struct CrossError(pub String);

impl std::fmt::Display for CrossError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CrossError {}

/// The lints the kernel's Rust build applies, as errors.
pub const KERNEL_LINT_FLAGS: &[&str] = &[
    "-Dwarnings",
    "-Dunsafe_op_in_unsafe_fn",
    "-Dnon_ascii_idents",
    "-Drust_2018_idioms",
    "-Dmissing_docs",
];

/// A rustc able to build `core` for foreign targets.
#[derive(Debug, Clone)]
pub struct CrossRustc {
    /// The compiler (Debian's `/usr/bin/rustc`).
    pub rustc: PathBuf,
    /// The standard library source (`/usr/src/rustc-<version>/library`).
    pub lib_src: PathBuf,
    /// Where built `core` metadata and probes are kept.
    pub work: PathBuf,
}

fn run(cmd: &mut Command, what: &str) -> Result<String, CrossError> {
    let out = cmd
        .output()
        .map_err(|e| CrossError(format!("{what}: cannot run {:?}: {e}", cmd.get_program())))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err
            .lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return Err(CrossError(format!(
            "{what} failed ({}):\n{}",
            out.status,
            tail.join("\n")
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl CrossRustc {
    /// Debian's compiler and library source, with `work` as the cache.
    /// `DMOP_ABI_RUSTC` and `DMOP_ABI_RUST_LIB_SRC` override the defaults.
    pub fn debian(work: &Path) -> Result<Self, CrossError> {
        let rustc = std::env::var_os("DMOP_ABI_RUSTC")
            .map_or_else(|| PathBuf::from("/usr/bin/rustc"), PathBuf::from);
        if !rustc.exists() {
            return Err(CrossError(format!(
                "{} not found: install Debian's rustc-web and rust-web-src (`cargo xtask deps`)",
                rustc.display()
            )));
        }
        let lib_src = match std::env::var_os("DMOP_ABI_RUST_LIB_SRC") {
            Some(p) => PathBuf::from(p),
            None => {
                let version = run(Command::new(&rustc).arg("--version"), "rustc --version")?;
                let v = version.split_whitespace().nth(1).unwrap_or("").to_string();
                PathBuf::from(format!("/usr/src/rustc-{v}/library"))
            }
        };
        if !lib_src.join("core/src/lib.rs").exists() {
            return Err(CrossError(format!(
                "{} has no core source: install rust-web-src (`cargo xtask deps`)",
                lib_src.display()
            )));
        }
        Ok(Self {
            rustc,
            lib_src,
            work: work.to_path_buf(),
        })
    }

    /// An empty directory given as `--sysroot`, so that the compiler's own
    /// `core` (present for its host) never competes with the one built here.
    fn empty_sysroot(&self) -> Result<PathBuf, CrossError> {
        let d = self.work.join("empty-sysroot");
        fs::create_dir_all(&d).map_err(|e| CrossError(format!("{}: {e}", d.display())))?;
        Ok(d)
    }

    fn version_key(&self) -> Result<String, CrossError> {
        let v = run(Command::new(&self.rustc).arg("-vV"), "rustc -vV")?;
        let release = v
            .lines()
            .find_map(|l| l.strip_prefix("release: "))
            .unwrap_or("unknown");
        let hash = v
            .lines()
            .find_map(|l| l.strip_prefix("commit-hash: "))
            .unwrap_or("unknown");
        Ok(format!("{release}-{}", &hash[..hash.len().min(10)]))
    }

    /// Builds (once) the metadata of `core` and an empty
    /// `compiler_builtins` for `arch`, and returns their directory.
    pub fn sysroot(&self, arch: Arch) -> Result<PathBuf, CrossError> {
        let dir = self
            .work
            .join(format!("{}-mir", self.version_key()?))
            .join(arch.rust_target());
        let core = dir.join("libcore.rmeta");
        let cb = dir.join("libcompiler_builtins.rmeta");
        if core.exists() && cb.exists() {
            return Ok(dir);
        }
        fs::create_dir_all(&dir).map_err(|e| CrossError(format!("{}: {e}", dir.display())))?;
        let manifest = fs::read_to_string(self.lib_src.join("core/Cargo.toml")).unwrap_or_default();
        let edition = manifest
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("edition = ")
                    .map(|v| v.trim_matches('"').to_string())
            })
            .unwrap_or_else(|| "2021".to_string());
        // Tests build this concurrently: every builder has its own temporary
        // files, and the atomic renames make the last one win.
        let unique = format!("{}-{:?}", std::process::id(), std::thread::current().id())
            .replace(['(', ')'], "");
        let tmp = dir.join(format!("libcore.rmeta.{unique}.tmp"));
        run(
            Command::new(&self.rustc)
                .env("RUSTC_BOOTSTRAP", "1")
                .args([
                    "--crate-type",
                    "rlib",
                    "--crate-name",
                    "core",
                    "--edition",
                    &edition,
                ])
                // Metadata only, but with the MIR of every item, so that
                // generic core code used by the probe can be instantiated.
                .args([
                    "--target",
                    arch.rust_target(),
                    "-Copt-level=0",
                    "-Zalways-encode-mir",
                    "--cap-lints",
                    "allow",
                    "--emit=metadata",
                    "-o",
                ])
                .arg(&tmp)
                .arg(self.lib_src.join("core/src/lib.rs")),
            &format!("building core for {}", arch.rust_target()),
        )?;
        fs::rename(&tmp, &core).map_err(|e| CrossError(e.to_string()))?;
        let cb_src = dir.join(format!("compiler_builtins.{unique}.rs"));
        let cb_tmp = dir.join(format!("libcompiler_builtins.rmeta.{unique}.tmp"));
        fs::write(
            &cb_src,
            "#![feature(compiler_builtins)]\n#![compiler_builtins]\n#![no_builtins]\n#![no_std]\n",
        )
        .map_err(|e| CrossError(e.to_string()))?;
        run(
            Command::new(&self.rustc)
                .env("RUSTC_BOOTSTRAP", "1")
                .args([
                    "--crate-type",
                    "rlib",
                    "--crate-name",
                    "compiler_builtins",
                    "--edition",
                    "2021",
                ])
                .args([
                    "--target",
                    arch.rust_target(),
                    "--cap-lints",
                    "allow",
                    "--emit=metadata",
                    "--sysroot",
                ])
                .arg(self.empty_sysroot()?)
                .arg("-L")
                .arg(&dir)
                .arg("-o")
                .arg(&cb_tmp)
                .arg(&cb_src),
            "building compiler_builtins metadata",
        )?;
        fs::rename(&cb_tmp, &cb).map_err(|e| CrossError(e.to_string()))?;
        let _ = fs::remove_file(&cb_src);
        Ok(dir)
    }

    /// Compiles the ABI directory `abi_dir` (the one holding `mod.rs`) for
    /// `arch` as a dependency-free `no_std` crate with the kernel's lints,
    /// plus `cfgs`, and returns the object file.
    pub fn compile_abi(
        &self,
        arch: Arch,
        abi_dir: &Path,
        cfgs: &[&str],
        tag: &str,
    ) -> Result<PathBuf, CrossError> {
        let sysroot = self.sysroot(arch)?;
        let dir = self.work.join("probes").join(tag).join(arch.name());
        fs::create_dir_all(&dir).map_err(|e| CrossError(e.to_string()))?;
        let root = dir.join("probe.rs");
        let abi = abi_dir
            .canonicalize()
            .map_err(|e| CrossError(format!("{}: {e}", abi_dir.display())))?;
        fs::write(&root, probe_root(&abi.join("mod.rs"))).map_err(|e| CrossError(e.to_string()))?;
        let obj = dir.join("probe.o");
        let _ = fs::remove_file(&obj);
        let mut cmd = Command::new(&self.rustc);
        cmd.args([
            "--edition",
            "2021",
            "--crate-type",
            "lib",
            "--crate-name",
            "dmop_abi_probe",
        ])
        .args([
            "--target",
            arch.rust_target(),
            "-Cpanic=abort",
            "-Copt-level=0",
            "--emit=obj",
        ])
        .args(KERNEL_LINT_FLAGS)
        .arg("--sysroot")
        .arg(self.empty_sysroot()?)
        .arg("-L")
        .arg(&sysroot)
        .arg("-o")
        .arg(&obj)
        .arg(&root);
        for c in cfgs {
            cmd.args(["--cfg", c]);
        }
        run(
            &mut cmd,
            &format!("compiling the ABI source for {}", arch.rust_target()),
        )?;
        Ok(obj)
    }

    /// The [`registry::flatten`](dmop_abi::registry::flatten) table of the
    /// ABI directory as compiled for `arch`.
    pub fn flat(
        &self,
        arch: Arch,
        abi_dir: &Path,
        cfgs: &[&str],
        tag: &str,
    ) -> Result<Vec<u64>, CrossError> {
        let obj = self.compile_abi(arch, abi_dir, cfgs, tag)?;
        let bytes = crate::objread::symbol_bytes(&obj, "DMOP_ABI_FLAT").map_err(CrossError)?;
        Ok(crate::objread::le_u64s(&bytes))
    }
}

/// The crate root that mounts the ABI directory the way the kernel module
/// does and exports its table.
pub fn probe_root(mod_rs: &Path) -> String {
    format!(
        "//! Layout probe: the ABI source compiled alone, as the kernel includes it.\n\
         #![no_std]\n\
         #[path = {path:?}]\n\
         mod dmop_abi;\n\
         /// Every number of the ABI tables, as this target lays them out.\n\
         #[no_mangle]\n\
         #[used]\n\
         pub static DMOP_ABI_FLAT: [u64; dmop_abi::registry::FLAT_LEN] = dmop_abi::registry::flatten();\n",
        path = mod_rs.display().to_string()
    )
}
