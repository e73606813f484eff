// SPDX-License-Identifier: MIT
//! The privcmd-restrict kernel module, built against the test bed's kernel
//! from a copy of its sources with dmop-abi's ABI directory in place of the
//! symlink (what DKMS and a source package ship).

use std::path::{Path, PathBuf};

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
        c = c.arg(root.join("privcmd-restrict").join(s));
    }
    c.arg(to).run()
}

/// The built modules.
pub struct Modules {
    /// `privcmd_restrict.ko`, the product.
    pub module: PathBuf,
    /// `privcmd_restrict_kunit.ko`, its KUnit suite (a test module).
    pub kunit: PathBuf,
}

/// Builds `privcmd_restrict.ko` and its KUnit test module.
pub fn build(ctx: &Ctx, kernel: &Kernel, kernel_key: &str) -> Result<Modules> {
    let key = Key::new("privcmd-restrict")
        .str(kernel_key)
        .dir(&ctx.root.join("privcmd-restrict/src"))?
        .dir(&ctx.root.join("privcmd-restrict/c"))?
        .file(&ctx.root.join("privcmd-restrict/Kbuild"))?
        .dir(&ctx.root.join("dmop-abi/src/abi"))?
        .finish();
    let dir = ctx.cache.join("module").join(&key);
    let src = dir.join("src");
    ctx.step("module: build privcmd-restrict against the dom0 kernel", || {
        let built = ctx.cached(&dir, &key, |_| {
            copy_sources(&ctx.root, &src)?;
            cmd("make")
                .arg("-C")
                .arg(&kernel.build)
                .arg(format!("M={}", src.display()))
                .args(&kernel.make_vars)
                .args(["W=1", "modules"])
                .run_logged(&ctx.log("module.log"), "building the module")?;
            // The kernel's Rust lints are warnings; here they are errors.
            let log = std::fs::read_to_string(ctx.log("module.log"))?;
            if log.contains("warning:") {
                crate::bail!("the module built with warnings; see {}", ctx.log("module.log").display());
            }
            Ok(())
        })?;
        Ok(if built { "built".into() } else { "cached".into() })
    })?;
    Ok(Modules { module: src.join("privcmd_restrict.ko"), kunit: src.join("privcmd_restrict_kunit.ko") })
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
