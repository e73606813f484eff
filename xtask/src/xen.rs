// SPDX-License-Identifier: MIT
//! Debian's Xen 4.17 and the dom0 userspace packages, downloaded with
//! `apt-get download` and unpacked with `dpkg -x` into the cache: nothing
//! of Xen is ever installed on the host.

use std::path::PathBuf;

use crate::ctx::{Context, Ctx, Key, Result};
use crate::sh::cmd;

/// The packages unpacked for the test bed.
pub const PACKAGES: &[&str] = &[
    "xen-hypervisor-4.17-amd64",
    "xen-utils-4.17",
    "xen-utils-common",
    "xenstore-utils",
    "libxenmisc4.17",
    "libxencall1",
    "libxendevicemodel1",
    "libxenevtchn1",
    "libxenforeignmemory1",
    "libxengnttab1",
    "libxenhypfs1",
    "libxenstore4",
    "libxentoolcore1",
    "libxentoollog1",
    "libyajl2",
    "busybox-static",
    "qemu-system-xen",
    "seabios",
];

/// The unpacked distribution.
pub struct Dist {
    /// Root of the unpacked packages (`usr/lib/xen-4.17/bin/xl`, ...).
    pub root: PathBuf,
    /// The hypervisor, uncompressed (QEMU's `-kernel` takes a multiboot ELF).
    pub xen: PathBuf,
    /// `package=version` of everything unpacked.
    pub versions: Vec<String>,
}

/// The candidate versions of packages, from apt's lists.
pub fn candidates(pkgs: &[&str]) -> Result<Vec<String>> {
    let out = cmd("apt-cache").arg("policy").args(pkgs).read()?;
    let mut v = Vec::new();
    let mut cur: Option<String> = None;
    for line in out.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            cur = Some(line.trim_end_matches(':').to_string());
        } else if let (Some(p), Some(c)) = (&cur, line.trim().strip_prefix("Candidate: ")) {
            if c == "(none)" {
                crate::bail!("apt knows no candidate for {p}: run `apt-get update`");
            }
            v.push(format!("{p}={c}"));
        }
    }
    if v.len() != pkgs.len() {
        crate::bail!(
            "apt-cache policy answered for {} of {} packages: {}",
            v.len(),
            pkgs.len(),
            out.trim()
        );
    }
    Ok(v)
}

/// Downloads and unpacks [`PACKAGES`] (once per set of versions).
pub fn dist(ctx: &Ctx) -> Result<Dist> {
    let versions = candidates(PACKAGES)?;
    let key = Key::new("xen-dist").str(&versions.join(" ")).finish();
    let dir = ctx.cache.join("xen-dist").join(&key);
    let root = dir.join("root");
    let xen = dir.join("xen");
    let log = ctx.log("xen-dist.log");
    ctx.step(
        "xen: download and unpack Debian's Xen 4.17 and dom0 packages",
        || {
            let built = ctx.cached(&dir, &key, |d| {
                let debs = d.join("debs");
                std::fs::create_dir_all(&debs)?;
                cmd("apt-get")
                    .args(["-o", crate::deps::APT_RETRIES, "download"])
                    .args(&versions)
                    .dir(&debs)
                    .run_logged(&log, "apt-get download")?;
                for e in std::fs::read_dir(&debs)? {
                    let p = e?.path();
                    cmd("dpkg")
                        .arg("-x")
                        .arg(&p)
                        .arg(&root)
                        .run_logged(&log, "dpkg -x")?;
                }
                let gz = root.join("boot/xen-4.17-amd64.gz");
                let data = cmd("zcat")
                    .arg(&gz)
                    .read_bytes()
                    .ctx("uncompressing the hypervisor")?;
                std::fs::write(&xen, data)?;
                std::fs::remove_dir_all(&debs)?;
                Ok(())
            })?;
            let ver = versions
                .iter()
                .find(|v| v.starts_with("xen-hypervisor"))
                .cloned()
                .unwrap_or_default();
            Ok(format!(
                "{} ({ver})",
                if built { "unpacked" } else { "cached" }
            ))
        },
    )?;
    Ok(Dist {
        root,
        xen,
        versions,
    })
}
