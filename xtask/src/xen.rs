// SPDX-License-Identifier: MIT
//! Debian's Xen and the dom0 userspace packages of each release the bed
//! runs, downloaded with `apt-get download` and unpacked with `dpkg -x`
//! into the cache: nothing of Xen is ever installed on the host.
//!
//! Xen 4.17 is Debian 12's, the machine's own release: its packages come
//! through the machine's apt state and dom0 takes its C library from the
//! host. Xen 4.20 is Debian 13's: its packages come through a private apt
//! state (a `deb` entry for trixie on the archive the machine's sources
//! name, lists and cache under the cache; nothing is added to the
//! machine's sources), and dom0 takes every library, the C library
//! included, from trixie's packages.

use std::path::PathBuf;

use crate::arch::Arch;
use crate::ctx::{Context, Ctx, Key, Result};
use crate::sh::cmd;

/// A Xen release the bed boots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    /// Xen 4.17, Debian 12 (bookworm).
    Xen417,
    /// Xen 4.20, Debian 13 (trixie).
    Xen420,
}

impl Release {
    /// Every release, oldest first.
    pub const ALL: [Release; 2] = [Release::Xen417, Release::Xen420];
    /// The one `demo` shows by default (the newer).
    pub const NEWEST: Release = Release::Xen420;

    /// `4.17`.
    pub fn version(self) -> &'static str {
        match self {
            Release::Xen417 => "4.17",
            Release::Xen420 => "4.20",
        }
    }

    /// The Debian suite it comes from.
    pub fn suite(self) -> &'static str {
        match self {
            Release::Xen417 => "bookworm",
            Release::Xen420 => "trixie",
        }
    }

    /// `Xen 4.20 (Debian 13)`: how steps name it.
    pub fn label(self) -> String {
        let debian = match self {
            Release::Xen417 => 12,
            Release::Xen420 => 13,
        };
        format!("Xen {} (Debian {debian})", self.version())
    }

    /// True if it is the machine's own Debian release: its packages come
    /// through the machine's apt, and its dom0 may take the host's C library.
    pub fn is_host(self) -> bool {
        self == Release::Xen417
    }

    /// Parses `--xen`'s argument.
    pub fn parse(s: &str) -> Result<Release> {
        Release::ALL
            .into_iter()
            .find(|r| r.version() == s)
            .ok_or_else(|| {
                crate::ctx::Error(format!(
                    "--xen {s}: unknown release (one of: {})",
                    Release::ALL.map(|r| r.version()).join(", ")
                ))
            })
    }

    /// The packages unpacked for a bed of `arch`. arm64's hypervisor is
    /// not among them: the bed builds its own (Debian's arm64 build has no
    /// IOREQ_SERVER, so no DMOP reaches it).
    pub fn packages(self, arch: Arch) -> Vec<String> {
        let v = self.version();
        let mut p: Vec<String> = [format!("xen-utils-{v}"), format!("libxenmisc{v}")].into();
        if arch.is_host() {
            p.push(format!("xen-hypervisor-{v}-amd64"));
            // hvmloader's firmware and the benchmarks' reference device model.
            p.extend(["qemu-system-xen", "seabios"].map(String::from));
        }
        p.extend(
            [
                "xen-utils-common",
                "xenstore-utils",
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
            ]
            .map(String::from),
        );
        if arch == Arch::Arm64 {
            // libxenlight builds guests' device trees with libfdt on Arm.
            p.push("libfdt1".into());
        }
        if !self.is_host() || !arch.is_host() {
            // The C library and what libxenlight needs besides Xen's own:
            // dom0 runs this release's userspace, not the host's.
            p.extend(
                [
                    "libc6",
                    "libgcc-s1",
                    "libuuid1",
                    "zlib1g",
                    "liblzma5",
                    "libzstd1",
                    // Xen's public headers, for the ABI checker
                    "libxen-dev",
                ]
                .map(String::from),
            );
        }
        p
    }
}

/// The unpacked distribution.
pub struct Dist {
    /// Which release it is.
    pub release: Release,
    /// For which architecture.
    pub arch: Arch,
    /// Root of the unpacked packages (`usr/lib/xen-4.17/bin/xl`, ...).
    pub root: PathBuf,
    /// Debian's hypervisor, uncompressed (QEMU's `-kernel` takes a
    /// multiboot ELF); none on arm64, whose hypervisor the bed builds.
    pub xen: Option<PathBuf>,
    /// `package=version` of everything unpacked.
    pub versions: Vec<String>,
}

impl Dist {
    /// `/usr/lib/xen-4.17`: where the release keeps its tools, as an
    /// absolute path in dom0 (and, without the `/`, under [`Dist::root`]).
    pub fn libexec(&self) -> String {
        format!("/usr/lib/xen-{}", self.release.version())
    }

    /// True if it is the machine's own release and architecture: its dom0
    /// may take libraries the packages lack from the host.
    pub fn is_host(&self) -> bool {
        self.release.is_host() && self.arch.is_host()
    }
}

/// The candidate versions of packages, from apt's lists (`apt` adds
/// options, such as a private state).
pub fn candidates(apt: &[String], pkgs: &[String]) -> Result<Vec<String>> {
    let out = cmd("apt-cache").args(apt).arg("policy").args(pkgs).read()?;
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

/// The real packages `pkg` needs to run (its Depends and Pre-Depends,
/// recursively), as apt's lists resolve them; virtual names are left out
/// (apt lists the packages that provide them).
pub fn closure(apt: &[String], pkg: &str) -> Result<Vec<String>> {
    let out = cmd("apt-cache")
        .args(apt)
        .args([
            "depends",
            "--recurse",
            "--no-recommends",
            "--no-suggests",
            "--no-conflicts",
            "--no-breaks",
            "--no-replaces",
            "--no-enhances",
        ])
        .arg(pkg)
        .read()?;
    let mut v: Vec<String> = out
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with('<') && !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .collect();
    v.sort();
    v.dedup();
    if !v.iter().any(|p| p == pkg) {
        crate::bail!("apt-cache depends named no {pkg}: {}", out.trim());
    }
    Ok(v)
}

/// Whether `stamp` (written after an update that brought lists) is younger
/// than [`LISTS_FRESH`]: apt keeps the archive's dates on the lists
/// themselves.
fn stamp_fresh(stamp: &std::path::Path) -> bool {
    std::fs::metadata(stamp)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|a| a < LISTS_FRESH)
}

/// Whether apt's lists directory `dir` holds a file whose name `is` picks.
fn has_list(dir: &std::path::Path, is: impl Fn(&str) -> bool) -> bool {
    std::fs::read_dir(dir)
        .ok()
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .any(|e| is(&e.file_name().to_string_lossy()))
}

/// How long a private suite's package lists are trusted before the next
/// run refreshes them (the machine's own lists are the `deps` step's).
const LISTS_FRESH: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// apt options that reach `release`'s packages: none for the machine's own
/// release; a private state, its lists refreshed once a day, otherwise.
/// Fails with one line naming what it could not fetch.
fn apt_for(ctx: &Ctx, release: Release, arch: Arch) -> Result<Vec<String>> {
    if !arch.is_host() {
        if !release.is_host() {
            crate::bail!(
                "the {} bed runs {} only",
                arch.name(),
                Release::Xen417.label()
            );
        }
        return foreign_apt(ctx, arch, false);
    }
    if release.is_host() {
        return Ok(Vec::new());
    }
    let suite = release.suite();
    let name = format!("apt-{suite}");
    let apt = crate::xenpatch::private_apt(ctx, &name, "deb [arch=amd64]", suite)?;
    let (uri, _) = crate::xenpatch::machine_archive()?;
    let log = ctx.log(&format!("{name}.log"));
    let lists = ctx.cache.join(&name).join("lists");
    // A Packages list, stored as apt is configured to (`_Packages`,
    // `_Packages.lz4`, ...).
    let have_lists = || {
        has_list(&lists, |n| {
            n.ends_with("_Packages") || n.contains("_Packages.")
        })
    };
    // apt keeps the archive's dates on its lists: their age is told by a
    // stamp written after each update that brought lists.
    let stamp = ctx.cache.join(&name).join("updated");
    let fresh = have_lists() && stamp_fresh(&stamp);
    let hv = format!("xen-hypervisor-{}-amd64", release.version());
    if !fresh {
        // This update's words only (its failures are read below).
        let _ = std::fs::remove_file(&log);
        cmd("apt-get")
            .args(&apt)
            .args(["update", "-q"])
            .run_logged(&log, "apt-get update (private state)")
            .map_err(|_| {
                crate::ctx::Error(format!(
                    "cannot fetch Debian {suite}'s package lists from {uri} (apt-get update in a private state; log: {})",
                    log.display()
                ))
            })?;
        let said = std::fs::read_to_string(&log).unwrap_or_default();
        if have_lists() && !said.contains("Failed to fetch") {
            std::fs::write(&stamp, "")?;
        }
    }
    // apt-get update says "W: Failed to fetch" and exits 0 on a list it
    // could not get: no Packages list at all is a failed fetch.
    if !have_lists() {
        let why = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .find_map(|l| {
                l.strip_prefix("W: Failed to fetch ")
                    .or(l.strip_prefix("E: "))
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "no package list arrived".into());
        crate::bail!(
            "cannot fetch Debian {suite}'s package lists from {uri}: {} (log: {})",
            why.split_whitespace().collect::<Vec<_>>().join(" "),
            log.display()
        );
    }
    if candidates(&apt, std::slice::from_ref(&hv)).is_err() {
        crate::bail!(
            "the archive {uri} serves no {hv} in {suite} main: cannot set up the {} bed",
            release.label()
        );
    }
    Ok(apt)
}

/// The machine's own apt sources, read for another architecture's
/// packages (`APT::Architectures`), with lists, cache and status in a
/// private state: the same archives (security updates included) that the
/// host's packages come from, so that a package built with the host's
/// (Debian's Rust standard library for the host's rustc) is found at the
/// host's version. (`XDM_DEBIAN_ARCHIVE` does not apply: it names one
/// archive, and the standard library may come from the security suite.)
/// Its lists are refreshed once a day, or now with `refresh`.
pub fn foreign_apt(ctx: &Ctx, arch: Arch, refresh: bool) -> Result<Vec<String>> {
    let name = format!("apt-{}-{}", Release::Xen417.suite(), arch.debian());
    let root = ctx.cache.join(&name);
    for d in ["lists/partial", "cache/archives/partial"] {
        std::fs::create_dir_all(root.join(d))?;
    }
    if !root.join("status").exists() {
        std::fs::write(root.join("status"), "")?;
    }
    let p = |s: &str| root.join(s).display().to_string();
    let apt: Vec<String> = [
        format!("APT::Architecture={}", arch.debian()),
        format!("APT::Architectures={}", arch.debian()),
        format!("Dir::State::Lists={}", p("lists")),
        format!("Dir::Cache={}", p("cache")),
        format!("Dir::State::status={}", p("status")),
        crate::deps::APT_RETRIES.into(),
    ]
    .into_iter()
    .flat_map(|o| ["-o".to_string(), o])
    .collect();
    let lists = root.join("lists");
    let suffix = format!("binary-{}_Packages", arch.debian());
    let have_lists = || has_list(&lists, |n| n.contains(&suffix));
    let stamp = root.join("updated");
    let fresh = have_lists() && stamp_fresh(&stamp);
    if refresh || !fresh {
        let log = ctx.log(&format!("{name}.log"));
        let _ = std::fs::remove_file(&log);
        cmd("apt-get")
            .args(&apt)
            .args(["update", "-q"])
            .run_logged(
                &log,
                &format!("apt-get update for {} (private state)", arch.debian()),
            )?;
        // A source that serves no such lists (a third-party one) only
        // warns; no list at all is a failure.
        if !have_lists() {
            let said = std::fs::read_to_string(&log).unwrap_or_default();
            let why = said
                .lines()
                .find(|l| l.starts_with("W: Failed to fetch") || l.starts_with("E: "))
                .unwrap_or("no entry of theirs serves that architecture (an [arch=] restriction, or a mirror of amd64 only)");
            crate::bail!(
                "the machine's apt sources gave no {} package list: {} (log: {})",
                arch.debian(),
                why.trim(),
                log.display()
            );
        }
        std::fs::write(&stamp, "")?;
    }
    Ok(apt)
}

/// Downloads and unpacks `release`'s packages for the host's
/// architecture (once per set of versions).
pub fn dist(ctx: &Ctx, release: Release) -> Result<Dist> {
    dist_for(ctx, release, Arch::X86_64)
}

/// Downloads and unpacks `release`'s packages for `arch` (once per set of
/// versions).
pub fn dist_for(ctx: &Ctx, release: Release, arch: Arch) -> Result<Dist> {
    let v = release.version();
    let mut out = None;
    let for_arch = if arch.is_host() {
        String::new()
    } else {
        format!(" for {}", arch.name())
    };
    ctx.step(
        &format!(
            "xen {v}: download and unpack {}'s Xen and dom0 packages{for_arch}",
            release.label()
        ),
        || {
            let apt = apt_for(ctx, release, arch)?;
            let mut pkgs = release.packages(arch);
            if !release.is_host() {
                // The benchmark's reference, Debian's QEMU, runs on this
                // release's libraries too: what it needs, as apt resolves it.
                pkgs.extend(closure(&apt, "qemu-system-xen")?);
                pkgs.sort();
                pkgs.dedup();
            }
            let versions = candidates(&apt, &pkgs)?;
            let key = Key::new("xen-dist")
                .str(arch.debian())
                .str(&versions.join(" "))
                .finish();
            // One directory per release and architecture: a newer set of
            // its packages replaces only its older set.
            let sub = if arch.is_host() {
                v.to_string()
            } else {
                format!("{v}-{}", arch.name())
            };
            let dir = ctx.cache.join("xen-dist").join(&sub).join(&key);
            let root = dir.join("root");
            let xen = dir.join("xen");
            let log = ctx.log(&format!("xen-dist-{sub}.log"));
            let built = ctx.cached(&dir, &key, |d| {
                let debs = d.join("debs");
                std::fs::create_dir_all(&debs)?;
                cmd("apt-get")
                    .args(&apt)
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
                if arch.is_host() {
                    let gz = root.join(format!("boot/xen-{v}-amd64.gz"));
                    let data = cmd("zcat")
                        .arg(&gz)
                        .read_bytes()
                        .ctx("uncompressing the hypervisor")?;
                    std::fs::write(&xen, data)?;
                }
                std::fs::remove_dir_all(&debs)?;
                Ok(())
            })?;
            let hv = ["xen-hypervisor", "xen-utils-4"]
                .iter()
                .find_map(|w| versions.iter().find(|p| p.starts_with(w)))
                .cloned()
                .unwrap_or_default();
            out = Some(Dist {
                release,
                arch,
                root,
                xen: arch.is_host().then_some(xen),
                versions,
            });
            Ok(format!(
                "{} ({hv})",
                if built { "unpacked" } else { "cached" }
            ))
        },
    )?;
    Ok(out.expect("set by the step"))
}
