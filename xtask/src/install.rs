// SPDX-License-Identifier: MIT
//! `cargo xtask install-lib`: installs the drop-in libxendevicemodel the way
//! a distribution lays it out, with its pkg-config file.

use std::os::unix::fs::symlink;
use std::path::PathBuf;

use crate::bail;
use crate::ctx::{Ctx, Result};
use crate::sh::cmd;

/// Installs into `--destdir`/`--prefix` (default `/usr/local`).
pub fn run(ctx: &Ctx, args: &[String]) -> Result<()> {
    let mut prefix = PathBuf::from("/usr/local");
    let mut destdir = PathBuf::from("/");
    let mut includedir = PathBuf::from("/usr/include");
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || {
            it.next()
                .cloned()
                .ok_or_else(|| crate::ctx::Error(format!("install-lib: {a} needs a value")))
        };
        match a.as_str() {
            "--prefix" => prefix = PathBuf::from(val()?),
            "--destdir" => destdir = PathBuf::from(val()?),
            "--includedir" => includedir = PathBuf::from(val()?),
            other => bail!(
                "unexpected argument `{other}` (--prefix DIR, --destdir DIR, --includedir DIR)"
            ),
        }
    }
    ctx.step(
        "install-lib: libxendevicemodel.so.1 and xendevicemodel.pc",
        || {
            cmd("cargo")
                .args(["build", "-q", "--release", "-p", "xendevicemodel-c"])
                .dir(&ctx.root)
                .run()?;
            let so = crate::dropin::link(ctx, &ctx.root.join("target/release"), "cc", "")?;
            let libdir = prefix.join("lib");
            let root = destdir.join(libdir.strip_prefix("/").unwrap_or(&libdir));
            std::fs::create_dir_all(root.join("pkgconfig"))?;
            let real = root.join("libxendevicemodel.so.1.4");
            std::fs::copy(so, &real)?;
            for (link, to) in [
                ("libxendevicemodel.so.1", "libxendevicemodel.so.1.4"),
                ("libxendevicemodel.so", "libxendevicemodel.so.1"),
            ] {
                let l = root.join(link);
                let _ = std::fs::remove_file(&l);
                symlink(to, l)?;
            }
            let pc = std::fs::read_to_string(
                ctx.root.join("lib/xendevicemodel-c/xendevicemodel.pc.in"),
            )?
            .replace("@PREFIX@", &prefix.display().to_string())
            .replace("@LIBDIR@", &libdir.display().to_string())
            .replace("@INCLUDEDIR@", &includedir.display().to_string());
            std::fs::write(root.join("pkgconfig/xendevicemodel.pc"), pc)?;
            Ok(format!("installed into {}", root.display()))
        },
    )
}
