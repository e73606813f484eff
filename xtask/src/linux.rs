// SPDX-License-Identifier: MIT
//! Linux 6.12 from Debian's linux-source-6.12: the source tree, its exported
//! uapi headers per architecture, and the dom0 kernel.

use std::path::PathBuf;

use crate::ctx::{Ctx, Key, Result};
use crate::deps;
use crate::sh::cmd;

/// The unpacked kernel source.
pub struct Source {
    /// The tree (never built in: every build uses `O=`).
    pub dir: PathBuf,
    /// Debian's package version.
    pub version: String,
}

/// Unpacks `/usr/src/linux-source-6.12.tar.xz` once per package version.
pub fn source(ctx: &Ctx) -> Result<Source> {
    let version = deps::version("linux-source-6.12")?;
    let dir = ctx.cache.join("linux").join(&version).join("src");
    let mut out = None;
    ctx.step("linux: unpack linux-source-6.12", || {
        let key = Key::new("linux-src").str(&version).finish();
        let built = ctx.cached(&dir, &key, |d| {
            cmd("tar")
                .args(["xf", "/usr/src/linux-source-6.12.tar.xz", "--strip-components=1", "-C"])
                .arg(d)
                .run_logged(&ctx.log("linux-unpack.log"), "unpacking linux-source")
        })?;
        out = Some(Source { dir: dir.clone(), version: version.clone() });
        Ok(if built { format!("unpacked {version}") } else { format!("cached {version}") })
    })?;
    Ok(out.expect("set by the step"))
}

/// Exports the uapi headers (`make headers`) for x86, arm64 and arm into
/// `<dir>/<ARCH>/include`, and returns `<dir>`.
pub fn uapi_headers(ctx: &Ctx, src: &Source) -> Result<PathBuf> {
    let dir = ctx.cache.join("linux").join(&src.version).join("uapi");
    ctx.step("linux: export uapi headers (x86, arm64, arm)", || {
        let key = Key::new("linux-uapi").str(&src.version).finish();
        let built = ctx.cached(&dir, &key, |d| {
            for arch in ["x86", "arm64", "arm"] {
                let obj = d.join(format!("build-{arch}"));
                cmd("make")
                    .arg("-C")
                    .arg(&src.dir)
                    .arg(format!("O={}", obj.display()))
                    .arg(format!("ARCH={arch}"))
                    .args(["-s", "headers"])
                    .run_logged(&ctx.log("linux-uapi.log"), &format!("make headers ARCH={arch}"))?;
                std::fs::create_dir_all(d.join(arch))?;
                std::fs::rename(obj.join("usr/include"), d.join(arch).join("include"))?;
                std::fs::remove_dir_all(&obj)?;
            }
            Ok(())
        })?;
        Ok(if built { "exported".into() } else { "cached".into() })
    })?;
    Ok(dir)
}
