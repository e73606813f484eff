// SPDX-License-Identifier: MIT
//! The dom0 initramfs: busybox, Xen's daemons and xl with their libraries,
//! the project's binaries, suites and test guests, and `tests/dom0/init`.

use std::collections::BTreeSet;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::arch::Arch;
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

const XEN_BINS: &[&str] = &["xl", "xenstored", "xen-init-dom0", "xenconsoled"];
/// x86 only: the privcmd suite reads a guest's virtual PIC to see irqfds fire.
const XEN_BINS_X86: &[&str] = &["xen-hvmctx"];
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
            &format!("usr/lib/{}", dist.arch.tuple()),
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
    // bookworm's package has /bin/busybox, trixie's (merged /usr) /usr/bin.
    let busybox = ["bin/busybox", "usr/bin/busybox"]
        .map(|b| x.join(b))
        .into_iter()
        .find(|b| b.exists())
        .ok_or_else(|| crate::ctx::Error("busybox-static unpacked no busybox".into()))?;
    put(root, &busybox, "/bin/busybox")?;
    if dist.arch.is_host() {
        let applets = cmd(&busybox).arg("--list").read()?;
        for a in applets.lines().filter(|a| !a.is_empty() && *a != "busybox") {
            let p = root.join("bin").join(a);
            if !p.exists() {
                symlink("busybox", p)?;
            }
        }
    } else {
        // Another architecture's busybox cannot list its applets here:
        // init links them (`busybox --install -s`) before anything else.
        symlink("busybox", root.join("bin/sh"))?;
    }
    let mut dynamic = Vec::new();
    let libexec = dist.libexec();
    let x86: &[&str] = if dist.arch == Arch::X86_64 {
        XEN_BINS_X86
    } else {
        &[]
    };
    for b in XEN_BINS.iter().chain(x86) {
        let dst = format!("{libexec}/bin/{b}");
        put(root, &x.join(dst.trim_start_matches('/')), &dst)?;
        dynamic.push(x.join(dst.trim_start_matches('/')));
    }
    put(root, &x.join("usr/bin/xenstore"), "/usr/bin/xenstore")?;
    dynamic.push(x.join("usr/bin/xenstore"));
    for l in XENSTORE_LINKS {
        symlink("xenstore", root.join(format!("usr/bin/xenstore-{l}")))?;
    }
    if dist.arch.is_host() {
        // x86's HVM firmware loader (Arm guests boot their kernel directly).
        let hvmloader = format!("{libexec}/boot/hvmloader");
        put(root, &x.join(hvmloader.trim_start_matches('/')), &hvmloader)?;
    }
    put(root, &x.join("etc/xen/xl.conf"), "/etc/xen/xl.conf")?;
    let search = library_dirs(dist);
    // xl's pthread_cancel loads libgcc_s at run time: no NEEDED names it.
    let gcc_s = find_library(&search, "libgcc_s.so.1")
        .ok_or_else(|| crate::ctx::Error("libgcc_s.so.1 not found for the dom0 image".into()))?;
    let libdir = format!("/usr/lib/{}", dist.arch.tuple());
    put(root, &gcc_s, &format!("{libdir}/libgcc_s.so.1"))?;
    put(root, init, "/init")?;
    for it in items {
        put(root, &it.src, &it.dst)?;
        if is_dynamic_elf(&it.src) {
            dynamic.push(it.src.clone());
        }
    }
    copy_libraries(dist.arch, &search, root, &dynamic)?;
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

/// Where the image's shared libraries are looked for, in order: the
/// unpacked packages first; the host's own only for the host's release
/// (another release's dom0 must not mix in the host's C library).
fn library_dirs(dist: &Dist) -> Vec<PathBuf> {
    let t = dist.arch.tuple();
    let mut dirs = vec![
        dist.root.join(format!("usr/lib/{t}")),
        dist.root.join(format!("lib/{t}")),
    ];
    if dist.is_host() {
        dirs.push(PathBuf::from(format!("/lib/{t}")));
        dirs.push(PathBuf::from(format!("/usr/lib/{t}")));
    }
    dirs
}

fn find_library(dirs: &[PathBuf], name: &str) -> Option<PathBuf> {
    dirs.iter().map(|d| d.join(name)).find(|p| p.exists())
}

/// The `DT_NEEDED` names of an ELF file (from `readelf -d`: the binaries
/// may belong to another Debian release, so the host's `ldd` cannot load
/// them).
fn needed(elf: &Path) -> Result<Vec<String>> {
    let out = cmd("readelf")
        .args(["-d", "-W"])
        .arg(elf)
        .read()
        .ctx(format!("readelf -d {}", elf.display()))?;
    Ok(out
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| {
            let a = l.find('[')?;
            let b = l.rfind(']')?;
            Some(l[a + 1..b].to_string())
        })
        .collect())
}

/// Copies every shared library the binaries need (their `DT_NEEDED`
/// closure, found in `dirs`) and the dynamic loader to Debian's paths.
fn copy_libraries(arch: Arch, dirs: &[PathBuf], root: &Path, bins: &[PathBuf]) -> Result<()> {
    let libdir = format!("/usr/lib/{}", arch.tuple());
    let mut seen = BTreeSet::new();
    let mut queue: Vec<(PathBuf, String)> = bins
        .iter()
        .map(|b| (b.clone(), b.display().to_string()))
        .collect();
    let mut missing = Vec::new();
    let loader = arch.loader();
    seen.insert(loader.to_string());
    while let Some((elf, who)) = queue.pop() {
        for n in needed(&elf)? {
            if !seen.insert(n.clone()) {
                continue;
            }
            match find_library(dirs, &n) {
                Some(p) => {
                    put(root, &p, &format!("{libdir}/{n}"))?;
                    queue.push((p, n));
                }
                None => missing.push(format!("{n} (needed by {who})")),
            }
        }
    }
    if !missing.is_empty() {
        crate::bail!(
            "libraries missing for the dom0 image (searched {}):\n{}",
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            missing.join("\n")
        );
    }
    let ld = find_library(dirs, loader)
        .ok_or_else(|| crate::ctx::Error(format!("{loader} not found for the dom0 image")))?;
    put(root, &ld, &format!("{libdir}/{loader}"))?;
    // The ELF interpreter path, a link to the multiarch copy.
    let (link, target) = arch.loader_link();
    symlink(target, root.join(link.trim_start_matches('/')))?;
    Ok(())
}
