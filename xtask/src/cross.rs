// SPDX-License-Identifier: MIT
//! dom0's programs for another architecture, built with what Debian ships
//! and nothing downloaded as a toolchain:
//!
//! - the compiler is Debian's rustc (rustc-web, the one the kernel is built
//!   with), whose LLVM targets every architecture;
//! - the target's standard library is Debian's own build of it for that
//!   architecture (`libstd-rust-web-dev:arm64`), at exactly the host
//!   rustc's version (rustc refuses a standard library of another build),
//!   fetched through the machine's apt sources in a private state and
//!   unpacked next to a link to the host's into one sysroot;
//! - the linker is gcc's cross compiler with Debian's cross C library
//!   (`gcc-aarch64-linux-gnu`, `libc6-dev-arm64-cross`), through the same
//!   version-script wrapper as the host build;
//! - Xen's C libraries (for the drop-in's link) are the target
//!   release's own, from the unpacked packages.

use std::path::PathBuf;

use crate::arch::Arch;
use crate::ctx::{Ctx, Key, Result};
use crate::sh::cmd;
use crate::xen::Dist;

/// The sysroot rustc takes for `arch`: the host's standard library
/// (build scripts and proc-macros run on the host) and `arch`'s, both of
/// the host rustc's version. Its path carries its key, so a new rustc-web
/// gives a new path, and cargo rebuilds what the old one built.
pub fn sysroot(ctx: &Ctx, arch: Arch) -> Result<PathBuf> {
    let version = crate::deps::version("rustc-web")?;
    let pkg = format!("libstd-rust-web-dev={version}");
    let host = "x86_64-unknown-linux-gnu";
    let host_std = PathBuf::from(format!("/usr/lib/rustlib/{host}"));
    let key = Key::new("rust-std")
        .str(arch.debian())
        .str(&version)
        .finish();
    let dir = ctx.cache.join("rust-std").join(arch.name()).join(&key);
    let sysroot = dir.join("sysroot");
    ctx.step(
        &format!(
            "{}: Debian's Rust standard library for {} ({pkg})",
            arch.name(),
            arch.rust_target()
        ),
        || {
            if !host_std.join("lib").is_dir() {
                crate::bail!(
                    "{} is missing: the host's standard library of rustc-web (package libstd-rust-web-dev)",
                    host_std.display()
                );
            }
            let built = ctx.cached(&dir, &key, |d| {
                let debs = d.join("debs");
                std::fs::create_dir_all(&debs)?;
                let log = ctx.log(&format!("rust-std-{}.log", arch.name()));
                let _ = std::fs::remove_file(&log);
                let download = |apt: &[String]| {
                    cmd("apt-get")
                        .args(apt)
                        .arg("download")
                        .arg(&pkg)
                        .dir(&debs)
                        .run_logged(&log, &format!("apt-get download {pkg} ({})", arch.debian()))
                };
                // Lists from before an upgrade of rustc-web know only the
                // older version: refreshed once before giving up.
                if download(&crate::xen::foreign_apt(ctx, arch, false)?).is_err() {
                    download(&crate::xen::foreign_apt(ctx, arch, true)?).map_err(|_| {
                        crate::ctx::Error(format!(
                            "the machine's apt sources serve no {pkg} for {} (it must match the host's rustc-web exactly; log: {})",
                            arch.debian(),
                            log.display()
                        ))
                    })?;
                }
                let unpacked = d.join("unpacked");
                for e in std::fs::read_dir(&debs)? {
                    cmd("dpkg")
                        .arg("-x")
                        .arg(e?.path())
                        .arg(&unpacked)
                        .run_logged(&log, "dpkg -x")?;
                }
                std::fs::remove_dir_all(&debs)?;
                let lib = sysroot.join("lib/rustlib");
                std::fs::create_dir_all(&lib)?;
                std::os::unix::fs::symlink(&host_std, lib.join(host))?;
                let target = unpacked.join("usr/lib/rustlib").join(arch.rust_target());
                if !target.join("lib").is_dir() {
                    crate::bail!("{pkg} for {} has no {}", arch.debian(), target.display());
                }
                std::os::unix::fs::symlink(&target, lib.join(arch.rust_target()))?;
                Ok(())
            })?;
            Ok(if built { "unpacked".into() } else { "cached".into() })
        },
    )?;
    Ok(sysroot)
}

/// `cargo build --release -p PKG...` for `dist`'s architecture, in its own
/// target directory (`target/<arch>`: the host build uses another rustc).
/// Returns the directory the release artifacts land in.
pub fn cargo_build(ctx: &Ctx, dist: &Dist, pkgs: &[&str], features: &[&str]) -> Result<PathBuf> {
    let arch = dist.arch;
    let sysroot = sysroot(ctx, arch)?;
    let target_dir = ctx.root.join("target").join(arch.name());
    std::fs::create_dir_all(&target_dir)?;
    let libs = dist.root.join("usr/lib").join(arch.tuple());
    let var = arch.rust_target().to_uppercase().replace('-', "_");
    let rustflags = format!(
        "--sysroot {} -L native={} -C link-arg=-Wl,-rpath-link,{}",
        sysroot.display(),
        libs.display(),
        libs.display()
    );
    let mut c = cmd("cargo")
        .args(["build", "-q", "--release", "--target", arch.rust_target()])
        .env("RUSTC", "/usr/bin/rustc")
        .env("CARGO_TARGET_DIR", &target_dir)
        .env(
            format!("CARGO_TARGET_{var}_LINKER"),
            format!("{}-gcc", arch.tuple()),
        )
        .env(format!("CARGO_TARGET_{var}_RUSTFLAGS"), &rustflags)
        // Either would override the flags above (and drop the sysroot).
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .dir(&ctx.root);
    for p in pkgs {
        c = c.args(["-p", p]);
    }
    for f in features {
        c = c.args(["--features", f]);
    }
    c.run()?;
    Ok(target_dir.join(arch.rust_target()).join("release"))
}
