// SPDX-License-Identifier: MIT
//! The dom0 initramfs: busybox, Xen's daemons and xl with their libraries,
//! the project's binaries, suites and test guests, and `tests/dom0/init`.

use std::collections::BTreeSet;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::ctx::{Context, Ctx, Key, Result};
use crate::sh::cmd;
use crate::xen::Dist;

/// A file to put in the image: host path, path in the image, mode.
#[derive(Clone, Debug)]
pub struct Item {
    /// Where it is on the host.
    pub src: PathBuf,
    /// Absolute path in the image.
    pub dst: String,
}

impl Item {
    /// A file copied to `dst`.
    pub fn new(src: impl Into<PathBuf>, dst: &str) -> Self {
        Self {
            src: src.into(),
            dst: dst.to_string(),
        }
    }
}

const XEN_BINS: &[&str] = &[
    "xl",
    "xenstored",
    "xen-init-dom0",
    "xenconsoled",
    // the privcmd suite reads a guest's virtual PIC to see irqfds fire
    "xen-hvmctx",
];
const XENSTORE_LINKS: &[&str] = &[
    "read", "write", "ls", "list", "rm", "exists", "watch", "chmod",
];

/// Builds (or reuses) the initramfs with `items` added to the base system.
pub fn initramfs(ctx: &Ctx, dist: &Dist, name: &str, items: &[Item]) -> Result<PathBuf> {
    let init = ctx.root.join("tests/dom0/init");
    let mut key = Key::new("initramfs")
        .str(&dist.versions.join(" "))
        .file(&init)?;
    for it in items {
        key = key.str(&it.dst).file(&it.src)?;
    }
    let key = key.finish();
    let dir = ctx.cache.join("images").join(name);
    let out = dir.join("initrd.gz");
    ctx.step(&format!("image: dom0 initramfs ({name})"), || {
        let built = ctx.cached(&dir, &key, |d| {
            let root = d.join("root");
            assemble(ctx, dist, &root, &init, items)?;
            let list = cmd("sh")
                .arg("-c")
                .arg("find . | LC_ALL=C sort")
                .dir(&root)
                .read()?;
            let cpio = d.join("initrd.cpio");
            let mut child = std::process::Command::new("cpio")
                .args(["-o", "-H", "newc", "--quiet", "-O"])
                .arg(&cpio)
                .current_dir(&root)
                .stdin(std::process::Stdio::piped())
                .spawn()
                .ctx("running cpio")?;
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("piped")
                .write_all(list.as_bytes())?;
            if !child.wait()?.success() {
                crate::bail!("cpio failed");
            }
            let gz = cmd("gzip").args(["-1", "-c"]).arg(&cpio).read_bytes()?;
            std::fs::write(&out, gz)?;
            std::fs::remove_file(&cpio)?;
            std::fs::remove_dir_all(&root)?;
            Ok(())
        })?;
        let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
        Ok(format!(
            "{} ({:.1} MB)",
            if built { "built" } else { "cached" },
            size as f64 / 1e6
        ))
    })?;
    Ok(out)
}

fn mkdirs(root: &Path, dirs: &[&str]) -> Result<()> {
    for d in dirs {
        std::fs::create_dir_all(root.join(d))?;
    }
    Ok(())
}

fn put(root: &Path, src: &Path, dst: &str) -> Result<()> {
    let to = root.join(dst.trim_start_matches('/'));
    if let Some(p) = to.parent() {
        std::fs::create_dir_all(p)?;
    }
    // Follow symlinks on the host: the image gets the file itself.
    std::fs::copy(src, &to).ctx(format!("copying {} into the image as {dst}", src.display()))?;
    Ok(())
}

fn assemble(ctx: &Ctx, dist: &Dist, root: &Path, init: &Path, items: &[Item]) -> Result<()> {
    mkdirs(
        root,
        &[
            "bin",
            "dev",
            "proc",
            "sys",
            "tmp",
            "run",
            "root",
            "etc/xen",
            "usr/lib/x86_64-linux-gnu",
            "usr/lib64",
            "usr/bin",
            "usr/sbin",
            "var/lib",
            "var/log",
        ],
    )?;
    // Debian's merged /usr.
    symlink("usr/lib", root.join("lib"))?;
    symlink("usr/lib64", root.join("lib64"))?;
    symlink("bin", root.join("sbin"))?;
    symlink("../run", root.join("var/run"))?;
    let x = &dist.root;
    put(root, &x.join("bin/busybox"), "/bin/busybox")?;
    let applets = cmd(x.join("bin/busybox")).arg("--list").read()?;
    for a in applets.lines().filter(|a| !a.is_empty() && *a != "busybox") {
        let p = root.join("bin").join(a);
        if !p.exists() {
            symlink("busybox", p)?;
        }
    }
    let mut dynamic = Vec::new();
    for b in XEN_BINS {
        let dst = format!("/usr/lib/xen-4.17/bin/{b}");
        put(root, &x.join(dst.trim_start_matches('/')), &dst)?;
        dynamic.push(x.join(dst.trim_start_matches('/')));
    }
    put(root, &x.join("usr/bin/xenstore"), "/usr/bin/xenstore")?;
    dynamic.push(x.join("usr/bin/xenstore"));
    for l in XENSTORE_LINKS {
        symlink("xenstore", root.join(format!("usr/bin/xenstore-{l}")))?;
    }
    put(
        root,
        &x.join("usr/lib/xen-4.17/boot/hvmloader"),
        "/usr/lib/xen-4.17/boot/hvmloader",
    )?;
    put(root, &x.join("etc/xen/xl.conf"), "/etc/xen/xl.conf")?;
    // xl's pthread_cancel loads libgcc_s at run time: ldd cannot see it.
    put(
        root,
        Path::new("/lib/x86_64-linux-gnu/libgcc_s.so.1"),
        "/usr/lib/x86_64-linux-gnu/libgcc_s.so.1",
    )?;
    put(root, init, "/init")?;
    for it in items {
        put(root, &it.src, &it.dst)?;
        if is_dynamic_elf(&it.src) {
            dynamic.push(it.src.clone());
        }
    }
    copy_libraries(x, root, &dynamic)?;
    // Executables stay executable.
    for f in walk_files(root)? {
        let meta = std::fs::symlink_metadata(&f)?;
        if meta.file_type().is_file() {
            let exec = is_elf(&f)
                || std::fs::read(&f)
                    .map(|d| d.starts_with(b"#!"))
                    .unwrap_or(false);
            let mode = if exec { 0o755 } else { 0o644 };
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode))?;
        }
    }
    let _ = ctx;
    Ok(())
}

fn is_elf(p: &Path) -> bool {
    std::fs::read(p)
        .map(|d| d.starts_with(b"\x7fELF"))
        .unwrap_or(false)
}

fn is_dynamic_elf(p: &Path) -> bool {
    // A 64-bit ELF with a PT_INTERP is dynamically linked; the test guests
    // (32-bit, static) are not.
    let Ok(d) = std::fs::read(p) else {
        return false;
    };
    d.starts_with(b"\x7fELF\x02") && d.windows(b"ld-linux".len()).any(|w| w == b"ld-linux")
}

fn walk_files(d: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![d.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let e = e?;
            let t = e.file_type()?;
            if t.is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    Ok(out)
}

/// Copies every shared library the binaries need, found by `ldd` with the
/// unpacked Xen libraries first in the search path.
fn copy_libraries(x: &Path, root: &Path, bins: &[PathBuf]) -> Result<()> {
    let xen_libs = x.join("usr/lib/x86_64-linux-gnu");
    let mut libs = BTreeSet::new();
    let mut missing = Vec::new();
    for b in bins {
        let out = cmd("ldd")
            .arg(b)
            .env("LD_LIBRARY_PATH", &xen_libs)
            .read()
            .ctx(format!("ldd {}", b.display()))?;
        for line in out.lines() {
            let line = line.trim();
            if line.contains("not found") {
                missing.push(format!("{}: {line}", b.display()));
            } else if let Some((_, rest)) = line.split_once("=> ") {
                if let Some(path) = rest
                    .split_whitespace()
                    .next()
                    .filter(|p| p.starts_with('/'))
                {
                    libs.insert(PathBuf::from(path));
                }
            } else if let Some(path) = line
                .split_whitespace()
                .next()
                .filter(|p| p.starts_with('/'))
            {
                libs.insert(PathBuf::from(path));
            }
        }
    }
    if !missing.is_empty() {
        crate::bail!(
            "libraries missing for the dom0 image:\n{}",
            missing.join("\n")
        );
    }
    for l in libs {
        let dst = match l.strip_prefix(x) {
            Ok(rel) => format!("/{}", rel.display()),
            Err(_) => l.display().to_string(),
        };
        put(root, &l, &dst)?;
    }
    Ok(())
}
