// SPDX-License-Identifier: MIT
//! Host dependencies: Debian packages by name, bindgen-cli by cargo.
//! Idempotent: only what is missing is installed.

use std::path::PathBuf;

use crate::bail;
use crate::ctx::{Ctx, Result};
use crate::sh::cmd;

/// Debian packages the host needs, with why. Xen itself, its tools and the
/// dom0 userspace are never installed: they are downloaded and unpacked
/// into the cache (see `xen.rs`).
pub const APT_PACKAGES: &[(&str, &str)] = &[
    (
        "clang",
        "dmop-abi-check: compiles header probes for x86_64, i386, aarch64, arm32; LLVM=1 kernel",
    ),
    ("lld", "the kernel build with LLVM=1"),
    ("llvm", "the kernel build with LLVM=1"),
    ("libclang-dev", "bindgen for the kernel's Rust bindings"),
    (
        "libxen-dev",
        "Xen 4.17's public headers and Debian's C libxendevicemodel",
    ),
    (
        "rustc-web",
        "rustc 1.96, the compiler the Rust-for-Linux kernel is built with",
    ),
    (
        "rust-web-src",
        "core's source for the kernel and the cross-architecture ABI build",
    ),
    ("linux-source-6.12", "the dom0 kernel, and its uapi headers"),
    ("make", "kernel and C builds"),
    ("gcc", "C helpers, test guests, the kernel's host programs"),
    ("libc6-dev", "C test programs"),
    ("flex", "kernel build"),
    ("bison", "kernel build"),
    ("bc", "kernel build"),
    ("libelf-dev", "kernel build (objtool)"),
    ("libssl-dev", "kernel build (host tools)"),
    ("cpio", "the dom0 initramfs"),
    ("xz-utils", "unpacking linux-source"),
    ("qemu-system-x86", "the emulator the test bed boots Xen in"),
    ("valgrind", "cargo xtask bench: instruction counts"),
    ("patch", "applying xen-patches to Xen's source"),
    (
        "gcc-aarch64-linux-gnu",
        "the arm64 hypervisors; the linker of dom0's arm64 programs",
    ),
    (
        "libc6-dev-arm64-cross",
        "the C library dom0's arm64 programs link against",
    ),
    (
        "qemu-system-arm",
        "the emulator the arm64 bed boots Xen in (qemu-system-aarch64)",
    ),
    ("python3", "the hypervisor build's scripts"),
    (
        "e2fsprogs",
        "the virtio guest's root filesystem (mkfs.ext4 -d)",
    ),
];

/// apt's retries of a failed download (a mirror's hiccup need not fail a run).
pub const APT_RETRIES: &str = "Acquire::Retries=3";

/// bindgen-cli version for the kernel: Debian's 0.60 is below 6.12's minimum (0.65.1).
pub const BINDGEN_VERSION: &str = "0.69.5";

fn installed(pkg: &str) -> bool {
    cmd("dpkg-query")
        .args(["-W", "-f", "${db:Status-Status}", pkg])
        .read()
        .map(|s| s.trim() == "installed")
        .unwrap_or(false)
}

/// The installed version of a Debian package.
pub fn version(pkg: &str) -> Result<String> {
    Ok(cmd("dpkg-query")
        .args(["-W", "-f", "${Version}", pkg])
        .read()?
        .trim()
        .to_string())
}

/// Installs the missing packages.
pub fn apt(ctx: &Ctx, pkgs: &[(&str, &str)]) -> Result<String> {
    let missing: Vec<&str> = pkgs
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| !installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(format!("{} packages present", pkgs.len()));
    }
    for (p, why) in pkgs.iter().filter(|(p, _)| missing.contains(p)) {
        println!("    installing {p}: {why}");
    }
    if not_root() {
        bail!(
            "installing {} needs root: run as root or `apt-get install {}`",
            missing.join(" "),
            missing.join(" ")
        );
    }
    let log = ctx.log("apt.log");
    let install = || {
        cmd("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args([
                "-o",
                APT_RETRIES,
                "install",
                "-y",
                "--no-install-recommends",
            ])
            .args(&missing)
            .run_logged(&log, "apt-get install")
    };
    if install().is_err() {
        println!("    apt-get install failed; updating the package lists and retrying");
        cmd("apt-get")
            .args(["-o", APT_RETRIES, "update"])
            .run_logged(&log, "apt-get update")?;
        install()?;
    }
    Ok(format!("installed {}", missing.join(" ")))
}

fn not_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() != 0 }
}

/// Where a tool installed by `cargo install` goes: its own root in the
/// cache (`tools/NAME-VERSION`), so that versions never mix.
pub fn tool_root(ctx: &Ctx, name: &str, version: &str) -> PathBuf {
    ctx.cache.join(format!("tools/{name}-{version}"))
}

/// Installs crate `krate` at `version` (`--locked`) into the cache root
/// of tool `name`, once: whether it installed it now (false: `bin` was
/// there).
pub fn cargo_install(ctx: &Ctx, krate: &str, name: &str, version: &str, bin: &str) -> Result<bool> {
    let root = tool_root(ctx, name, version);
    if root.join("bin").join(bin).exists() {
        return Ok(false);
    }
    cmd("cargo")
        .args(["install", krate, "--version", version, "--locked", "--root"])
        .arg(&root)
        .run_logged(
            &ctx.log(&format!("{krate}.log")),
            &format!("cargo install {krate}"),
        )?;
    Ok(true)
}

/// Where bindgen-cli lives once installed.
pub fn bindgen(ctx: &Ctx) -> PathBuf {
    tool_root(ctx, "bindgen", BINDGEN_VERSION).join("bin/bindgen")
}

/// Installs bindgen-cli into the cache, once.
pub fn install_bindgen(ctx: &Ctx) -> Result<String> {
    Ok(
        if cargo_install(ctx, "bindgen-cli", "bindgen", BINDGEN_VERSION, "bindgen")? {
            format!("built bindgen {BINDGEN_VERSION}")
        } else {
            format!("bindgen {BINDGEN_VERSION} present")
        },
    )
}

/// Everything: packages and bindgen.
pub fn all(ctx: &Ctx) -> Result<()> {
    ctx.step("deps: Debian packages", || apt(ctx, APT_PACKAGES))?;
    ctx.step("deps: bindgen-cli", || install_bindgen(ctx))
}
