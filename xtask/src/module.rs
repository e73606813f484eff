// SPDX-License-Identifier: MIT
//! The privcmd-restrict kernel module, built against the test bed's kernel
//! from a copy of its sources with dmop-abi's ABI directory in place of the
//! symlink (what DKMS and a source package ship).

use std::path::{Path, PathBuf};

use crate::arch::Arch;
use crate::ctx::{Ctx, Key, Result};
use crate::linux::Kernel;
use crate::sh::cmd;

/// The module's source files.
pub const SOURCES: &[&str] = &["Kbuild", "Makefile", "src", "c", "dkms.conf"];

/// Copies the module's sources into `to`, dereferencing the dmop-abi link.
pub fn copy_sources(root: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    let mut c = cmd("cp").arg("-rL");
    for s in SOURCES {
        c = c.arg(root.join("kernel/privcmd-restrict").join(s));
    }
    c.arg(to).run()
}

/// The built modules.
pub struct Modules {
    /// `privcmd_restrict.ko`, the product.
    pub module: PathBuf,
    /// `privcmd_restrict_kunit.ko`, its KUnit suite (a test module).
    pub kunit: PathBuf,
    /// `privcmd_restrict_hcbench.ko`, the bare hypercall's timer (benchmarks).
    pub hcbench: PathBuf,
}

/// Builds `privcmd_restrict.ko` and its KUnit test module against
/// `kernel` (built for `arch`).
pub fn build(ctx: &Ctx, kernel: &Kernel, kernel_key: &str, arch: Arch) -> Result<Modules> {
    let key = Key::new("privcmd-restrict")
        .str(kernel_key)
        .dir(&ctx.root.join("kernel/privcmd-restrict/src"))?
        .dir(&ctx.root.join("kernel/privcmd-restrict/c"))?
        .file(&ctx.root.join("kernel/privcmd-restrict/Kbuild"))?
        .dir(&ctx.root.join("abi/dmop-abi/src/abi"))?
        .finish();
    // Each architecture's builds apart: one never evicts the other's.
    let (dir, log) = if arch.is_host() {
        (ctx.cache.join("module").join(&key), ctx.log("module.log"))
    } else {
        (
            ctx.cache.join(format!("module-{}", arch.name())).join(&key),
            ctx.log(&format!("module-{}.log", arch.name())),
        )
    };
    let src = dir.join("src");
    ctx.step(
        &format!(
            "module: build privcmd-restrict against the {} dom0 kernel",
            arch.name()
        ),
        || {
            let built = ctx.cached(&dir, &key, |_| {
                copy_sources(&ctx.root, &src)?;
                // The log is appended to: start it afresh, so that the warning
                // check below reads this build's output only.
                let _ = std::fs::remove_file(&log);
                cmd("make")
                    .arg("-C")
                    .arg(&kernel.build)
                    .arg(format!("M={}", src.display()))
                    .args(&kernel.make_vars)
                    .args(["W=1", "PRM_BENCH=1", "modules"])
                    .run_logged(&log, "building the module")?;
                // The kernel's Rust lints are warnings; here they are errors.
                if std::fs::read_to_string(&log)?.contains("warning:") {
                    crate::bail!("the module built with warnings; see {}", log.display());
                }
                Ok(())
            })?;
            Ok(if built {
                "built".into()
            } else {
                "cached".into()
            })
        },
    )?;
    if arch.is_host() {
        // The sources' style, once (it does not depend on the architecture).
        lint(ctx, kernel)?;
    }
    Ok(Modules {
        module: src.join("privcmd_restrict.ko"),
        kunit: src.join("privcmd_restrict_kunit.ko"),
        hcbench: src.join("privcmd_restrict_hcbench.ko"),
    })
}

/// The module's sources in the kernel's own style: `checkpatch.pl` on the
/// C (no warning allowed), and rustfmt with the kernel's `.rustfmt.toml` on
/// the Rust (the crate roots; their modules follow).
fn lint(ctx: &Ctx, kernel: &Kernel) -> Result<()> {
    let ksrc = kernel.build.join("source");
    let module = ctx.root.join("kernel/privcmd-restrict");
    ctx.step("module: checkpatch and the kernel's rustfmt", || {
        let mut c = cmd("perl").arg(ksrc.join("scripts/checkpatch.pl")).args(["--no-tree", "--terse", "--show-types", "-f"]);
        let mut n = 0;
        for e in std::fs::read_dir(module.join("c"))? {
            let p = e?.path();
            if p.extension().is_some_and(|x| x == "c" || x == "h") {
                c = c.arg(p);
                n += 1;
            }
        }
        c.run().map_err(|e| crate::ctx::Error(format!("checkpatch found problems in kernel/privcmd-restrict/c (above): {e}")))?;
        cmd("rustfmt")
            .args(["--check", "--edition", "2021", "--config-path"])
            .arg(ksrc.join(".rustfmt.toml"))
            .arg(module.join("src/main.rs"))
            .arg(module.join("src/kunit.rs"))
            .arg(module.join("src/hcbench.rs"))
            .run()
            .map_err(|e| crate::ctx::Error(format!("kernel/privcmd-restrict/src is not formatted as the kernel's rustfmt wants (diff above): {e}")))?;
        Ok(format!("{n} C files clean, Rust formatted"))
    })
}

/// `cargo xtask dkms-tree DIR`: a self-contained source tree for DKMS or a
/// source package (dmop-abi's ABI copied in place of the link).
pub fn dkms_tree(ctx: &Ctx, args: &[String]) -> Result<()> {
    let [dir] = args else {
        crate::bail!("usage: cargo xtask dkms-tree DIR (e.g. /usr/src/privcmd-restrict-0.1.0)");
    };
    let to = PathBuf::from(dir);
    if to.exists() && std::fs::read_dir(&to)?.next().is_some() {
        crate::bail!("{} exists and is not empty", to.display());
    }
    ctx.step("dkms-tree: privcmd-restrict sources", || {
        copy_sources(&ctx.root, &to)?;
        Ok(format!("written to {}", to.display()))
    })
}
