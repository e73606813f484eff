// SPDX-License-Identifier: MIT
//! `xen-patches/` in the test bed: Debian's Xen source (the upstream tree
//! of its orig tarball, without Debian's patches), the series applied, the
//! hypervisor and xenstored built (only those), and the freeze guard's own
//! tests: a test-only hypervisor with a retired DMOP, and a build that must
//! fail on an altered layout. The arm64 hypervisor is built too (with
//! IOREQ_SERVER, so that Arm's DMOP dispatcher is compiled): the guard is
//! in both dispatchers. It is built, not booted: the bed is x86.

use std::path::{Path, PathBuf};

use crate::bail;
use crate::ctx::{Context, Ctx, Key, Result};
use crate::sh::cmd;
use crate::xen::Dist;

/// The Debian source package the series is made against.
pub const SOURCE_VERSION: &str = "4.17.5+72-g01140da4e8-1";
/// Its upstream version (the orig tarball's).
pub const UPSTREAM_VERSION: &str = "4.17.5+72-g01140da4e8";
/// The suite and component whose sources the series is made against.
const SRC_SUITE: &str = "bookworm";
const SRC_COMPONENT: &str = "main";
/// The DMOP the test-only build retires (nr_vcpus: easy to call, and
/// nothing in the boot needs it).
pub const TEST_RETIRED_DMOP: u32 = 20;

/// The patched build.
pub struct Patched {
    /// The patched hypervisor (multiboot ELF).
    pub xen: PathBuf,
    /// The test-only hypervisor that retires [`TEST_RETIRED_DMOP`].
    pub xen_test_retired: PathBuf,
    /// The patched xenstored.
    pub xenstored: PathBuf,
    /// The patched, built source tree.
    pub tree: PathBuf,
    /// The patched arm64 hypervisor (built, not booted).
    pub xen_arm64: PathBuf,
    /// Its built source tree.
    pub tree_arm64: PathBuf,
}

/// `make` arguments of the arm64 cross build.
const ARM64: &[&str] = &["XEN_TARGET_ARCH=arm64", "CROSS_COMPILE=aarch64-linux-gnu-"];
/// Added to arm64's defconfig: Arm's DMOP dispatcher is compiled only with
/// IOREQ_SERVER, which Arm offers to EXPERT configurations.
const ARM64_CONFIG: &str = "CONFIG_EXPERT=y\nCONFIG_IOREQ_SERVER=y\n";

/// The archive (its URI and Signed-By, if any) that the machine's own apt
/// sources use for [`SRC_SUITE`]'s [`SRC_COMPONENT`] packages, from
/// `/etc/apt/sources.list` and the deb822 files of `sources.list.d`;
/// `$XDM_DEBIAN_ARCHIVE`, if set, names another (a mirror; its keys are
/// the Debian archive keyring's).
pub fn machine_archive() -> Result<(String, Option<String>)> {
    if let Some(uri) = std::env::var_os("XDM_DEBIAN_ARCHIVE").filter(|u| !u.is_empty()) {
        return Ok((uri.to_string_lossy().into_owned(), None));
    }
    let mut found = None;
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(rd) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        more.sort();
        files.extend(more);
    }
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let deb822 = f.extension().is_some_and(|x| x == "sources");
        let one_line = f.extension().is_some_and(|x| x == "list") || f.ends_with("sources.list");
        if deb822 || one_line {
            found = found.or_else(|| archive_in(&text, deb822));
        }
    }
    found.ok_or_else(|| {
        crate::ctx::Error(format!(
            "the machine's apt sources name no archive for {SRC_SUITE} {SRC_COMPONENT}: cannot fetch Debian's Xen source"
        ))
    })
}

/// The first archive an apt sources file's text names for [`SRC_SUITE`]'s
/// [`SRC_COMPONENT`] binary packages, with its Signed-By: deb822 stanzas
/// (`Enabled: no` skipped) or one-line entries (`deb [options] URI SUITE
/// COMPONENT...`, `signed-by=` taken from the options).
fn archive_in(text: &str, deb822: bool) -> Option<(String, Option<String>)> {
    if deb822 {
        // Stanzas are separated by blank lines (whitespace only, CRLF too).
        let mut stanzas = vec![String::new()];
        for l in text.lines() {
            if l.trim().is_empty() {
                stanzas.push(String::new());
            } else if let Some(s) = stanzas.last_mut() {
                s.push_str(l);
                s.push('\n');
            }
        }
        for stanza in &stanzas {
            let field = |k: &str| {
                stanza.lines().find_map(|l| {
                    let (name, v) = l.split_once(':')?;
                    name.trim()
                        .eq_ignore_ascii_case(k)
                        .then(|| v.trim().to_string())
                })
            };
            let has =
                |k: &str, w: &str| field(k).is_some_and(|v| v.split_whitespace().any(|x| x == w));
            let enabled = field("Enabled")
                .is_none_or(|v| !v.eq_ignore_ascii_case("no") && !v.eq_ignore_ascii_case("false"));
            if enabled
                && has("Types", "deb")
                && has("Suites", SRC_SUITE)
                && has("Components", SRC_COMPONENT)
            {
                if let Some(uri) =
                    field("URIs").and_then(|u| u.split_whitespace().next().map(str::to_string))
                {
                    return Some((uri, field("Signed-By")));
                }
            }
        }
        return None;
    }
    for l in text.lines() {
        let l = l.split('#').next().unwrap_or("").trim();
        let Some(rest) = l
            .strip_prefix("deb")
            .filter(|r| r.starts_with(char::is_whitespace))
            .map(str::trim_start)
        else {
            continue;
        };
        let (options, rest) = match rest.strip_prefix('[') {
            Some(r) => match r.split_once(']') {
                Some((o, r)) => (o, r),
                None => continue,
            },
            None => ("", rest),
        };
        let signed_by = options
            .split_whitespace()
            .find_map(|o| o.strip_prefix("signed-by="))
            .map(str::to_string);
        let w: Vec<&str> = rest.split_whitespace().collect();
        if let [uri, suite, comps @ ..] = &w[..] {
            if *suite == SRC_SUITE && comps.contains(&SRC_COMPONENT) {
                return Some((uri.to_string(), signed_by));
            }
        }
    }
    None
}

/// apt options for a private state named `name` under the cache: one
/// `kind` entry (`deb-src`, or `deb [arch=amd64]`) for `suite` main on the
/// machine's own archive, and lists and a cache of its own: nothing is
/// added to the machine's apt sources.
pub fn private_apt(ctx: &Ctx, name: &str, kind: &str, suite: &str) -> Result<Vec<String>> {
    let root = ctx.cache.join(name);
    for d in [
        "lists/partial",
        "cache/archives/partial",
        "etc/sources.list.d",
    ] {
        std::fs::create_dir_all(root.join(d))?;
    }
    if !root.join("status").exists() {
        std::fs::write(root.join("status"), "")?;
    }
    let (uri, signed_by) = machine_archive()?;
    let signed = signed_by
        .filter(|s| !s.contains('\n') && !s.is_empty())
        .unwrap_or_else(|| "/usr/share/keyrings/debian-archive-keyring.gpg".into());
    let (kind, opts) = match kind.split_once(" [") {
        Some((k, o)) => (k, format!("{} ", o.trim_end_matches(']'))),
        None => (kind, String::new()),
    };
    std::fs::write(
        root.join("etc/sources.list"),
        format!("{kind} [{opts}signed-by={signed}] {uri} {suite} {SRC_COMPONENT}\n"),
    )?;
    let p = |s: &str| root.join(s).display().to_string();
    Ok(vec![
        "-o".into(),
        format!("Dir::Etc::SourceList={}", p("etc/sources.list")),
        "-o".into(),
        format!("Dir::Etc::SourceParts={}", p("etc/sources.list.d")),
        "-o".into(),
        format!("Dir::State::Lists={}", p("lists")),
        "-o".into(),
        format!("Dir::Cache={}", p("cache")),
        // No package is installed from it: the host's dpkg state is not its.
        "-o".into(),
        format!("Dir::State::status={}", p("status")),
        "-o".into(),
        crate::deps::APT_RETRIES.into(),
    ])
}

/// Fetches the orig tarball through apt, from the archive the machine's
/// apt sources name, in a private apt state ([`private_apt`]).
fn fetch(ctx: &Ctx) -> Result<PathBuf> {
    let dir = ctx.cache.join("xen-src").join(SOURCE_VERSION);
    let tarball = dir.join(format!("xen_{UPSTREAM_VERSION}.orig.tar.xz"));
    let log = ctx.log("xen-src.log");
    ctx.step(&format!("xen-patches: fetch Debian's Xen source ({SOURCE_VERSION})"), || {
        if tarball.exists() {
            return Ok("cached".into());
        }
        std::fs::create_dir_all(&dir)?;
        let want = format!("xen={SOURCE_VERSION}");
        let apt = private_apt(ctx, "apt-src", "deb-src", SRC_SUITE)?;
        let known = || {
            cmd("apt-cache")
                .args(&apt)
                .args(["showsrc", "xen"])
                .read()
                .map(|o| o.lines().any(|l| l.trim() == format!("Version: {SOURCE_VERSION}")))
                .unwrap_or(false)
        };
        if !known() {
            println!("    apt sources of {SRC_SUITE} {SRC_COMPONENT} in a private state: {}", ctx.cache.join("apt-src").display());
            cmd("apt-get").args(&apt).args(["update", "-q"]).run_logged(&log, "apt-get update (private sources state)")?;
            if !known() {
                let have: Vec<String> = cmd("apt-cache")
                    .args(&apt)
                    .args(["showsrc", "xen"])
                    .read()
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|l| l.strip_prefix("Version: ").map(str::to_string))
                    .collect();
                bail!(
                    "apt has no source package {want}, the one the series is made against (apt has: {}; log: {}). \
                     If the archive moved on, refresh the series against the new source and SOURCE_VERSION in xtask/src/xenpatch.rs",
                    if have.is_empty() { "none".to_string() } else { have.join(", ") },
                    log.display()
                );
            }
        }
        cmd("apt-get").args(&apt).args(["source", "--download-only", "-q", &want]).dir(&dir).run_logged(&log, "apt-get source")?;
        if !tarball.exists() {
            bail!("apt-get source did not give {}", tarball.display());
        }
        Ok("downloaded".into())
    })?;
    Ok(tarball)
}

/// The series, in order, from `xen-patches/series`.
pub fn series(root: &Path) -> Result<Vec<PathBuf>> {
    let dir = root.join("xen-patches");
    let text = std::fs::read_to_string(dir.join("series")).ctx("reading xen-patches/series")?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| dir.join(l))
        .collect())
}

/// The guard header from the manifest (`dmop-abi-xen-guard`).
fn guard_tool(ctx: &Ctx, args: &[&str]) -> Result<String> {
    cmd("cargo")
        .args([
            "run",
            "-q",
            "--release",
            "-p",
            "dmop-abi-tools",
            "--bin",
            "dmop-abi-xen-guard",
            "--",
        ])
        .args(args)
        .dir(&ctx.root)
        .read()
}

fn guard_header(ctx: &Ctx, test_retire: Option<u32>) -> Result<String> {
    match test_retire {
        Some(n) => guard_tool(ctx, &["--test-retire", &n.to_string()]),
        None => guard_tool(ctx, &[]),
    }
}

const GUARD_HEADER: &str = "xen/include/xen/dmop-frozen.h";

/// `cargo xtask xen-patches refresh`: rewrites the guard header that patch
/// 1 adds with the one the manifest gives now (the file's hunk, its blob
/// index and its diffstat counts), so that nobody pastes it by hand.
/// `--check` only says whether the series is current (exit 1 if not).
pub fn refresh(ctx: &Ctx, check: bool) -> Result<()> {
    let header = guard_header(ctx, None)?;
    let patches = series(&ctx.root)?;
    let marker = format!("diff --git a/{GUARD_HEADER} b/{GUARD_HEADER}\n");
    let Some(path) = patches
        .iter()
        .find(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains(&marker)))
    else {
        bail!("no patch of xen-patches/series adds {GUARD_HEADER}");
    };
    let old = std::fs::read_to_string(path)?;
    let new = with_new_file(&old, GUARD_HEADER, &header, &blob_id(&ctx.root, &header)?)?;
    if new_file_text(&new, GUARD_HEADER).as_deref() != Some(header.as_str()) {
        bail!("xen-patches: rewriting {GUARD_HEADER} did not give the manifest's header back (a bug in refresh)");
    }
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    if new == old {
        println!("xen-patches: {name} already carries the manifest's {GUARD_HEADER}");
        return Ok(());
    }
    if check {
        bail!("{name} carries a stale {GUARD_HEADER}: run `cargo xtask xen-patches refresh`");
    }
    std::fs::write(path, new)?;
    println!("xen-patches: rewrote {GUARD_HEADER} in {name} from the manifest");
    Ok(())
}

/// Git's abbreviated blob id of `text` (the patch's `index` line).
fn blob_id(root: &Path, text: &str) -> Result<String> {
    let mut child = std::process::Command::new("git")
        .args(["hash-object", "--stdin"])
        .current_dir(root)
        .stderr(std::process::Stdio::inherit())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ctx("running git hash-object")?;
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("piped");
        stdin.write_all(text.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || id.len() < 7 {
        bail!("git hash-object failed");
    }
    Ok(id[..7].to_string())
}

/// Where the section of a patch starting at `start` (a `diff --git` line)
/// ends: at the next file's `diff --git` line or at the signature (`-- `).
fn section_end(patch: &str, start: usize) -> Option<usize> {
    let body = &patch[start..];
    let next_diff = body.find("\ndiff --git ").map(|i| start + i + 1);
    let signature = body.find("\n-- \n").map(|i| start + i + 1);
    next_diff.into_iter().chain(signature).min()
}

/// The text of the file `file` that `patch` creates (its hunk's `+` lines).
fn new_file_text(patch: &str, file: &str) -> Option<String> {
    let start = patch.find(&format!("diff --git a/{file} b/{file}\n"))?;
    let section = &patch[start..section_end(patch, start)?];
    let hunk = section.find("\n@@ -0,0 +1")?;
    let mut text = String::new();
    for l in section[hunk + 1..].lines().skip(1) {
        text.push_str(l.strip_prefix('+')?);
        text.push('\n');
    }
    Some(text)
}

/// `patch` with the file `file` that it creates replaced by `text`: the
/// file's section (index line and hunk) and the diffstat's counts.
fn with_new_file(patch: &str, file: &str, text: &str, blob: &str) -> Result<String> {
    let start_marker = format!("diff --git a/{file} b/{file}\n");
    let start = patch
        .find(&start_marker)
        .ok_or_else(|| crate::ctx::Error(format!("the patch does not add {file}")))?;
    let end = section_end(patch, start)
        .ok_or_else(|| crate::ctx::Error(format!("the section of {file} has no end")))?;
    let section = &patch[start..end];
    let hunk_at = section
        .find("\n@@ -0,0 +1")
        .ok_or_else(|| crate::ctx::Error(format!("{file}: not a new file's hunk")))?;
    let old_lines = section[hunk_at..]
        .lines()
        .skip(2)
        .filter(|l| l.starts_with('+'))
        .count();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    for l in section[..hunk_at + 1].lines() {
        if let Some(rest) = l.strip_prefix("index 0000000..") {
            let mode = rest.split_once(' ').map(|(_, m)| m).unwrap_or("");
            out.push_str(&format!(
                "index 0000000..{blob}{}{mode}\n",
                if mode.is_empty() { "" } else { " " }
            ));
        } else {
            out.push_str(l);
            out.push('\n');
        }
    }
    // Git writes a one-line file's hunk without the count.
    out.push_str(&match lines.len() {
        1 => "@@ -0,0 +1 @@\n".to_string(),
        n => format!("@@ -0,0 +1,{n} @@\n"),
    });
    for l in &lines {
        out.push('+');
        out.push_str(l);
        out.push('\n');
    }
    // The diffstat: the file's count and the total.
    let head = &patch[..start];
    let mut fixed = String::new();
    for l in head.lines() {
        let t = l.trim_start();
        if t.starts_with(file) && l.contains('|') {
            let (name, rest) = l.split_once('|').expect("checked");
            let bar = rest
                .trim_start()
                .split_once(' ')
                .map(|(_, b)| b)
                .unwrap_or("");
            let width = rest.trim_start().split(' ').next().unwrap_or("").len();
            fixed.push_str(&format!("{name}| {:>width$} {bar}\n", lines.len()));
        } else if let Some((n, tail)) = t
            .split_once(" files changed, ")
            .and_then(|(n, r)| Some((n, r.split_once(" insertions(+)")?)))
        {
            let total: usize = tail.0.parse().unwrap_or(0);
            let total = total + lines.len() - old_lines.min(total + lines.len());
            fixed.push_str(&format!(
                " {n} files changed, {total} insertions(+){}\n",
                tail.1
            ));
        } else {
            fixed.push_str(l);
            fixed.push('\n');
        }
    }
    Ok(format!("{fixed}{out}{}", &patch[end..]))
}

/// Extracts the orig tarball, applies the series, checks the guard header
/// in the series is the manifest's, builds the hypervisor with Debian's
/// configuration and xenstored against Debian's libraries; then the
/// test-only hypervisor, in a scratch copy; then the arm64 hypervisor,
/// cross-built from its own patched tree.
pub fn build(ctx: &Ctx, dist: &Dist) -> Result<Patched> {
    let tarball = fetch(ctx)?;
    let patches = series(&ctx.root)?;
    let header = guard_header(ctx, None)?;
    let retired_header = guard_header(ctx, Some(TEST_RETIRED_DMOP))?;
    let xs_probe = guard_tool(ctx, &["--xenstore-probe"])?;
    let config = dist.root.join("boot/xen-4.17-amd64.config");
    let cross = crate::deps::version("gcc-aarch64-linux-gnu")?;
    let mut key = Key::new("xen-patched")
        .str(SOURCE_VERSION)
        .file(&config)?
        .str(&header)
        .str(&retired_header)
        .str(&xs_probe)
        .str(&ARM64.join(" "))
        .str(ARM64_CONFIG)
        .str(&cross);
    for p in &patches {
        key = key.file(p)?;
    }
    let key = key.finish();
    let dir = ctx.cache.join("xen-patched").join(&key);
    let tree = dir.join("tree");
    let tree_arm64 = dir.join("tree-arm64");
    let out = Patched {
        xen: dir.join("xen"),
        xen_test_retired: dir.join("xen-test-retired"),
        xenstored: dir.join("xenstored"),
        tree: tree.clone(),
        xen_arm64: dir.join("xen-arm64"),
        tree_arm64: tree_arm64.clone(),
    };
    let log = ctx.log("xen-patched.log");
    ctx.step("xen-patches: apply the series, build the hypervisors (x86_64; arm64) and xenstored", || {
        let built = ctx.cached(&dir, &key, |d| {
            unpack_and_apply(&tarball, &patches, &tree, &log)?;
            let in_series = std::fs::read_to_string(tree.join(GUARD_HEADER)).ctx(format!("the series adds no {GUARD_HEADER}"))?;
            if in_series != header {
                bail!(
                    "{GUARD_HEADER} in xen-patches is not the one the manifest gives: the series is stale \
                     (run `cargo xtask xen-patches refresh`)"
                );
            }
            let xen = tree.join("xen");
            std::fs::copy(&config, xen.join(".config"))?;
            cmd("make").args(["-C"]).arg(&xen).arg("olddefconfig").run_logged(&log, "configuring the hypervisor")?;
            cmd("make").args(["-C"]).arg(&xen).arg(format!("-j{}", jobs())).run_logged(&log, "building the hypervisor")?;
            std::fs::copy(xen.join("xen"), d.join("xen"))?;
            build_xenstored(&tree, &d.join("xenstored"), &log)?;
            // The patched xs_wire.h against dmop-abi, by the compiler.
            let probe = tree.join("xdm-include/xs-probe.c");
            std::fs::write(&probe, &xs_probe)?;
            cmd("gcc")
                .args(["-fsyntax-only", "-I"])
                .arg(tree.join("xdm-include"))
                .arg(&probe)
                .run_logged(&log, "the patched xs_wire.h disagrees with dmop-abi's XS_ONE_TIME_RESTRICT")?;
            // The test-only hypervisor: a scratch copy (timestamps kept, so
            // only the dispatcher is rebuilt) with a retired entry.
            let scratch = scratch_copy(&tree, &d.join("scratch-retired"), &log)?;
            std::fs::write(scratch.join("include/xen/dmop-frozen.h"), &retired_header)?;
            cmd("make").args(["-C"]).arg(&scratch).arg(format!("-j{}", jobs())).run_logged(&log, "building the test-only hypervisor")?;
            std::fs::copy(scratch.join("xen"), d.join("xen-test-retired"))?;
            std::fs::remove_dir_all(d.join("scratch-retired"))?;
            // arm64, from its own tree.
            build_arm64(&tarball, &patches, &tree_arm64, &d.join("xen-arm64"), &log)?;
            Ok(())
        })?;
        check_arm64_image(&out.xen_arm64)?;
        Ok(if built { "built".into() } else { "cached".into() })
    })?;
    Ok(out)
}

/// Fails unless `image` has the arm64 image header's magic ("ARM\x64" at
/// 0x38).
fn check_arm64_image(image: &Path) -> Result<()> {
    let arm = std::fs::read(image).ctx(format!("reading {}", image.display()))?;
    if arm.get(0x38..0x3c) != Some(b"ARM\x64") {
        bail!("{} is not an arm64 image", image.display());
    }
    Ok(())
}

/// Unpacks the source into `tree`, applies `patches` (none for Debian's
/// own source), and cross-builds the arm64 hypervisor into `out`: arm64's
/// defconfig plus [`ARM64_CONFIG`], because Arm compiles its DMOP
/// dispatcher only with IOREQ_SERVER, which it offers to EXPERT
/// configurations.
fn build_arm64(
    tarball: &Path,
    patches: &[PathBuf],
    tree: &Path,
    out: &Path,
    log: &Path,
) -> Result<()> {
    unpack_and_apply(tarball, patches, tree, log)?;
    let xen = tree.join("xen");
    let make = || cmd("make").args(["-C"]).arg(&xen).args(ARM64);
    make()
        .arg("defconfig")
        .run_logged(log, "configuring the arm64 hypervisor")?;
    let mut config = std::fs::read_to_string(xen.join(".config"))?;
    config.push_str(ARM64_CONFIG);
    std::fs::write(xen.join(".config"), config)?;
    make()
        .arg("olddefconfig")
        .run_logged(log, "configuring the arm64 hypervisor")?;
    make()
        .arg(format!("-j{}", jobs()))
        .run_logged(log, "building the arm64 hypervisor")?;
    if !xen.join("arch/arm/dm.o").exists() {
        bail!(
            "the arm64 build did not compile Arm's DMOP dispatcher (arch/arm/dm.c): is IOREQ_SERVER still offered? (log: {})",
            log.display()
        );
    }
    std::fs::copy(xen.join("xen"), out)?;
    Ok(())
}

/// The unpatched arm64 hypervisor of the arm64 bed: Debian's Xen source
/// as the patched build takes it, without the series, built as
/// [`build_arm64`] says (Debian's own arm64 build has no IOREQ_SERVER).
pub fn build_arm64_unpatched(ctx: &Ctx) -> Result<PathBuf> {
    let tarball = fetch(ctx)?;
    let cross = crate::deps::version("gcc-aarch64-linux-gnu")?;
    let key = Key::new("xen-arm64")
        .str(SOURCE_VERSION)
        .str(&ARM64.join(" "))
        .str(ARM64_CONFIG)
        .str(&cross)
        .finish();
    let dir = ctx.cache.join("xen-arm64").join(&key);
    let image = dir.join("xen");
    let log = ctx.log("xen-arm64.log");
    ctx.step(
        &format!(
            "xen arm64: build the hypervisor from Debian's source ({SOURCE_VERSION}, IOREQ_SERVER)"
        ),
        || {
            let built = ctx.cached(&dir, &key, |d| {
                let tree = d.join("tree");
                build_arm64(&tarball, &[], &tree, &image, &log)?;
                std::fs::remove_dir_all(&tree)?;
                Ok(())
            })?;
            check_arm64_image(&image)?;
            Ok(if built {
                "built".into()
            } else {
                "cached".into()
            })
        },
    )?;
    Ok(image)
}

/// Unpacks the orig tarball into `tree` and applies the series, each patch
/// checked with a dry run first.
fn unpack_and_apply(tarball: &Path, patches: &[PathBuf], tree: &Path, log: &Path) -> Result<()> {
    std::fs::create_dir_all(tree)?;
    cmd("tar")
        .args(["-xf"])
        .arg(tarball)
        .args(["--strip-components=1", "-C"])
        .arg(tree)
        .run_logged(log, "unpacking the orig tarball")?;
    for p in patches {
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        cmd("patch")
            .args(["-p1", "--dry-run", "--quiet", "-i"])
            .arg(p)
            .dir(tree)
            .run_logged(log, &format!("{name} does not apply to the upstream tree"))?;
        cmd("patch")
            .args(["-p1", "--quiet", "-i"])
            .arg(p)
            .dir(tree)
            .run_logged(log, &format!("applying {name}"))?;
    }
    Ok(())
}

/// A scratch copy of the built hypervisor: `xen/` copied with its
/// timestamps (so make rebuilds only what changes), the rest of the tree
/// (Config.mk, config/, scripts/...) linked. Returns the copy's `xen/`.
fn scratch_copy(tree: &Path, scratch: &Path, log: &Path) -> Result<PathBuf> {
    if scratch.exists() {
        std::fs::remove_dir_all(scratch)?;
    }
    std::fs::create_dir_all(scratch)?;
    for e in std::fs::read_dir(tree)? {
        let p = e?.path();
        let name = p.file_name().unwrap_or_default().to_os_string();
        if name != "xen" {
            std::os::unix::fs::symlink(&p, scratch.join(&name))?;
        }
    }
    cmd("cp")
        .arg("-a")
        .arg(tree.join("xen"))
        .arg(scratch.join("xen"))
        .run_logged(log, "copying the built hypervisor tree")?;
    Ok(scratch.join("xen"))
}

fn jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// Builds C xenstored from the patched tree, against the tree's public
/// headers (the patched `xs_wire.h`) and Debian's libraries.
fn build_xenstored(tree: &Path, out: &Path, log: &Path) -> Result<()> {
    build_xenstored_with(tree, &tree.join("xdm-include"), out, log, "gcc", &[])
}

/// The patched xenstored for another architecture's dom0: the same
/// patched sources, gcc's cross compiler, that release's Xen headers and
/// libraries (from its unpacked packages).
pub fn xenstored_for(ctx: &Ctx, patched: &Patched, dist: &Dist) -> Result<PathBuf> {
    let arch = dist.arch;
    let cc = format!("{}-gcc", arch.tuple());
    let cross = crate::deps::version(&format!("gcc-{}", arch.tuple()))?;
    let key = Key::new("xenstored-cross")
        .str(&patched.tree.display().to_string())
        .str(&dist.versions.join(" "))
        .str(&cross)
        .finish();
    let dir = ctx
        .cache
        .join(format!("xenstored-{}", arch.name()))
        .join(&key);
    let out = dir.join("xenstored");
    let log = ctx.log(&format!("xenstored-{}.log", arch.name()));
    ctx.step(
        &format!("xen-patches: the patched xenstored for {}", arch.name()),
        || {
            let built = ctx.cached(&dir, &key, |_| {
                let libs = dist.root.join("usr/lib").join(arch.tuple());
                let extra = [
                    format!("-I{}", dist.root.join("usr/include").display()),
                    format!("-L{}", libs.display()),
                    format!("-Wl,-rpath-link,{}", libs.display()),
                ];
                // Its own include directory: the patched tree is the
                // patched build's, never written here.
                build_xenstored_with(&patched.tree, &dir.join("include"), &out, &log, &cc, &extra)
            })?;
            Ok(if built {
                "built".into()
            } else {
                "cached".into()
            })
        },
    )?;
    Ok(out)
}

fn build_xenstored_with(
    tree: &Path,
    inc: &Path,
    out: &Path,
    log: &Path,
    cc: &str,
    extra: &[String],
) -> Result<()> {
    let src = tree.join("tools/xenstore");
    let inc = inc.to_path_buf();
    std::fs::create_dir_all(&inc)?;
    let link = inc.join("xen");
    if !link.exists() {
        std::os::unix::fs::symlink(tree.join("xen/include/public"), &link)?;
    }
    // What tools/configure would have written, for the parts xenstored uses.
    let config = inc.join("config.h");
    std::fs::write(
        &config,
        "#define INCLUDE_ENDIAN_H <endian.h>\n#define HAVE_PIPE2 1\n#define _FILE_OFFSET_BITS 64\n",
    )?;
    cmd(cc)
        .args([
            "-O2",
            "-g",
            "-Wall",
            "-Werror",
            "-Wno-unused-result",
            "-Wno-unused-but-set-variable",
            "-include",
        ])
        .arg(&config)
        .args([
            "-DXEN_RUN_STORED=\"/var/run/xenstored\"",
            "-D__XEN_TOOLS__",
            "-D__XEN_INTERFACE_VERSION__=__XEN_LATEST_INTERFACE_VERSION__",
        ])
        .arg("-I")
        .arg(&inc)
        .args(["-I", "include", "-I", "../include", "-o"])
        .arg(out)
        .args([
            "xenstored_core.c",
            "xenstored_watch.c",
            "xenstored_domain.c",
            "xenstored_transaction.c",
            "xenstored_control.c",
            "xs_lib.c",
            "talloc.c",
            "utils.c",
            "tdb.c",
            "hashtable.c",
            "xenstored_posix.c",
        ])
        .args(extra)
        .args(["-lxenevtchn", "-lxengnttab", "-lxenctrl", "-lrt"])
        .dir(&src)
        .run_logged(log, "building xenstored")
}

/// The guard's own test: in a scratch copy of each built, patched
/// hypervisor tree (x86_64, arm64), a frozen struct altered the way a
/// careless Xen change would; compiling the dispatcher must fail, naming
/// the op and the field.
pub fn guard_rejects_altered_layout(ctx: &Ctx, patched: &Patched) -> Result<()> {
    ctx.step("xen-patches: an altered frozen struct fails the hypervisor builds (x86_64, arm64; scratch copies)", || {
        let want = "frozen DMOP 1 create_ioreq_server: field id of struct xen_dm_op_create_ioreq_server must be at offset 4";
        for (arch, tree, args, object) in
            [("x86_64", &patched.tree, &[][..], "arch/x86/hvm/dm.o"), ("arm64", &patched.tree_arm64, ARM64, "arch/arm/dm.o")]
        {
            let top = ctx.cache.join("xen-guard-scratch");
            let log = ctx.log(&format!("xen-guard-scratch-{arch}.log"));
            let scratch = scratch_copy(tree, &top, &log)?;
            let h = scratch.join("include/public/hvm/dm_op.h");
            let text = std::fs::read_to_string(&h)?;
            // create_ioreq_server's padding grows by two bytes: `id` moves.
            let altered = text.replacen("    uint8_t handle_bufioreq;\n    uint8_t pad[3];", "    uint8_t handle_bufioreq;\n    uint8_t pad[5];", 1);
            if altered == text {
                bail!("dm_op.h no longer has create_ioreq_server's pad[3]: update this test");
            }
            std::fs::write(&h, altered)?;
            let o = std::process::Command::new("make").arg("-C").arg(&scratch).args(args).arg(object).output().ctx("running make")?;
            let err = String::from_utf8_lossy(&o.stderr).into_owned();
            std::fs::write(&log, format!("{}{err}", String::from_utf8_lossy(&o.stdout)))?;
            std::fs::remove_dir_all(&top)?;
            if o.status.success() {
                bail!("{arch}: the hypervisor's DMOP code compiled with an altered frozen struct: the guard does not hold (log: {})", log.display());
            }
            if !err.contains(want) {
                bail!("{arch}: the build failed, but not on the guard's assertion ({want:?}); log: {}", log.display());
            }
        }
        Ok(format!("both refused as they must: \"{want}\""))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_archive_is_read_from_either_format_with_its_options() {
        use super::archive_in;
        let deb822 = "Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n\n\
                      Types: deb deb-src\nURIs: http://deb.example/debian\nSuites: bookworm bookworm-updates\n\
                      Components: main contrib\nSigned-By: /k.gpg\n";
        assert_eq!(
            archive_in(deb822, true),
            Some(("http://deb.example/debian".into(), Some("/k.gpg".into()))),
            "a disabled stanza is skipped"
        );
        let one = "# deb http://commented.example/debian bookworm main\n\
                   deb-src http://src.example/debian bookworm main\n\
                   deb [ arch=amd64 signed-by=/usr/share/keyrings/k.gpg ] http://m.example/debian bookworm main # mirror\n";
        assert_eq!(
            archive_in(one, false),
            Some((
                "http://m.example/debian".into(),
                Some("/usr/share/keyrings/k.gpg".into())
            ))
        );
        assert_eq!(
            archive_in("deb http://x.example/debian trixie main\n", false),
            None
        );
        assert_eq!(
            archive_in("deb\thttp://t.example/debian bookworm main\r\n", false),
            Some(("http://t.example/debian".into(), None)),
            "a tab after deb, CRLF"
        );
        let crlf = "Types: deb\r\nURIs: http://a.example/debian\r\nSuites: bookworm\r\nComponents: main\r\nEnabled: false\r\n \r\n\
                    Types: deb\r\nURIs: http://b.example/debian\r\nSuites: bookworm\r\nComponents: main\r\n";
        assert_eq!(
            archive_in(crlf, true),
            Some(("http://b.example/debian".into(), None)),
            "CRLF, a whitespace-only separator, Enabled: false"
        );
    }

    use super::*;

    fn series_patch() -> String {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let p = series(&root).unwrap().into_iter().next().unwrap();
        std::fs::read_to_string(p).unwrap()
    }

    fn index_blob(patch: &str) -> String {
        let at = patch.find("index 0000000..").unwrap() + "index 0000000..".len();
        patch[at..at + 7].to_string()
    }

    /// The checked-in patch, rewritten with its own header, is itself.
    #[test]
    fn the_series_round_trips() {
        let patch = series_patch();
        let text = new_file_text(&patch, GUARD_HEADER).unwrap();
        assert!(text.starts_with("/* SPDX-License-Identifier: MIT */"));
        let again = with_new_file(&patch, GUARD_HEADER, &text, &index_blob(&patch)).unwrap();
        assert_eq!(again, patch);
    }

    /// A header two lines shorter: the hunk, the diffstat and the total
    /// follow, the rest of the patch stays, and the text reads back.
    #[test]
    fn a_changed_header_is_rewritten() {
        let patch = series_patch();
        let text = new_file_text(&patch, GUARD_HEADER).unwrap();
        let n = text.lines().count();
        let shorter: String = text.lines().skip(2).map(|l| format!("{l}\n")).collect();
        let out = with_new_file(&patch, GUARD_HEADER, &shorter, "abcdef0").unwrap();
        assert_eq!(new_file_text(&out, GUARD_HEADER).unwrap(), shorter);
        assert!(out.contains(&format!("@@ -0,0 +1,{} @@\n", n - 2)));
        assert!(out.contains("index 0000000..abcdef0\n"));
        assert!(out.contains(&format!("| {} +", n - 2)), "diffstat");
        let tail = |p: &str| p[p.find("\n-- \n").unwrap()..].to_string();
        assert_eq!(tail(&out), tail(&patch), "the signature and after");
        let before = |p: &str| {
            p[..p.find(&format!("diff --git a/{GUARD_HEADER}")).unwrap()]
                .lines()
                .count()
        };
        assert_eq!(before(&out), before(&patch), "the other files' sections");
    }

    /// A one-line new file, followed by another file's diff: git's short
    /// hunk header, and the next section untouched.
    #[test]
    fn a_one_line_file_before_another() {
        let patch = "Subject: x\n---\n a | 1 +\n b | 1 +\n 2 files changed, 2 insertions(+)\n\n\
                     diff --git a/a b/a\nnew file mode 100644\nindex 0000000..1111111\n--- /dev/null\n+++ b/a\n@@ -0,0 +1 @@\n+one\n\
                     diff --git a/b b/b\nnew file mode 100644\nindex 0000000..2222222\n--- /dev/null\n+++ b/b\n@@ -0,0 +1 @@\n+bé\n-- \n2.47.3\n";
        assert_eq!(new_file_text(patch, "a").as_deref(), Some("one\n"));
        let out = with_new_file(patch, "a", "uno\n", "3333333").unwrap();
        assert!(
            out.contains("@@ -0,0 +1 @@\n+uno\ndiff --git a/b b/b\n"),
            "{out}"
        );
        assert_eq!(new_file_text(&out, "b").as_deref(), Some("bé\n"));
        let two = with_new_file(patch, "b", "x\ny\n", "4444444").unwrap();
        assert!(two.contains(" 2 files changed, 3 insertions(+)"), "{two}");
        assert!(two.ends_with("+x\n+y\n-- \n2.47.3\n"), "{two}");
    }
}
