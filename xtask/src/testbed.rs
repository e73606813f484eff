// SPDX-License-Identifier: MIT
//! The test bed: everything a boot needs, prepared (or taken from the
//! cache) in order, and the ways to run suites on it.

use std::path::PathBuf;
use std::time::Duration;

use xdm_suites::contract;

use crate::arch::Arch;
use crate::ctx::{Ctx, Result};
use crate::image::{self, Item};
use crate::linux::{self, Kernel, Source};
use crate::sh::cmd;
use crate::vm::{self, VmConfig, VmRun};
use crate::xen::{self, Dist, Release};
use crate::{deps, guest};

/// A prepared test bed.
pub struct Bed {
    /// The architecture it boots.
    pub arch: Arch,
    /// The dom0 kernel.
    pub kernel: Kernel,
    /// The dom0 initramfs with every suite.
    pub initrd: PathBuf,
    /// The hypervisor it boots: Debian's, or the patched build.
    pub xen: PathBuf,
    /// The Xen release of its hypervisor and dom0 userspace.
    pub release: Release,
    /// A short name for live output ("4.20", "4.17-patched"): each
    /// echoed line says which bed it came from.
    pub tag: String,
}

/// C programs of `tests/dom0/c` built for every dom0, against Xen's
/// headers and Debian's libraries: (name, the Xen library it links, whose
/// soname is the same in every release).
const DOM0_C_PROGRAMS: &[(&str, &str)] = &[("dmcheck", "xendevicemodel")];

/// C programs built only against a release's own headers and libraries
/// (the cross builds): libxenctrl's soname names its release, so the host
/// build (Debian 12's) could not run on another release's dom0. `rawdom`
/// serves the privcmd suite on an auto-translated (Arm) dom0 only.
const RELEASE_C_PROGRAMS: &[(&str, &str)] = &[("rawdom", "xenctrl")];

/// The project's packages that run in dom0.
const DOM0_PACKAGES: &[&str] = &["xdm-suites", "xendevicemodel-c", "xen-thin-dm"];

/// Their features in the bed: the device model's escape self-test, which
/// the suites and the demo run (a production build has none of it).
const DOM0_FEATURES: &[&str] = &["xen-thin-dm/escape-test", "xen-thin-dm/test-platform"];

/// The project's programs that run in dom0, built for `dist`'s
/// architecture (on x86_64, for the host: dom0 runs the same Debian
/// userspace).
pub fn dom0_programs(ctx: &Ctx, dist: &Dist) -> Result<Vec<Item>> {
    if dist.arch.is_host() {
        host_programs(ctx)
    } else {
        cross_programs(ctx, dist)
    }
}

/// dom0's programs built for the host.
pub fn host_programs(ctx: &Ctx) -> Result<Vec<Item>> {
    let rel = ctx.root.join("target/release");
    let c_dir = ctx.cache.join("dom0-c");
    ctx.step("host: build the dom0 programs (release)", || {
        let mut c = cmd("cargo").args(["build", "-q", "--release"]);
        for p in DOM0_PACKAGES {
            c = c.args(["-p", p]);
        }
        for f in DOM0_FEATURES {
            c = c.args(["--features", f]);
        }
        c.dir(&ctx.root).run()?;
        crate::dropin::link(ctx, &rel, "gcc", "")?;
        // C programs built against Xen 4.17's headers and Debian's libraries.
        std::fs::create_dir_all(&c_dir)?;
        for (prog, lib) in DOM0_C_PROGRAMS {
            cmd("gcc")
                .args(["-O2", "-Wall", "-Werror", "-o"])
                .arg(c_dir.join(prog))
                .arg(ctx.root.join(format!("tests/dom0/c/{prog}.c")))
                .arg(format!("-l{lib}"))
                .run_logged(&ctx.log("dom0-c.log"), &format!("compiling {prog}"))?;
        }
        Ok("built".into())
    })?;
    dom0_items(ctx, &rel, &c_dir, DOM0_C_PROGRAMS)
}

/// dom0's programs for another architecture ([`crate::cross`]); the C
/// programs with gcc's cross compiler, against the release's own headers
/// and libraries.
fn cross_programs(ctx: &Ctx, dist: &Dist) -> Result<Vec<Item>> {
    let arch = dist.arch;
    let c_dir = ctx.cache.join("dom0-c").join(arch.name());
    let mut rel = PathBuf::new();
    ctx.step(
        &format!("{}: cross-build the dom0 programs (release)", arch.name()),
        || {
            rel = crate::cross::cargo_build(ctx, dist, DOM0_PACKAGES, DOM0_FEATURES)?;
            std::fs::create_dir_all(&c_dir)?;
            let log = ctx.log(&format!("dom0-c-{}.log", arch.name()));
            let _ = std::fs::remove_file(&log);
            let libs = dist.root.join("usr/lib").join(arch.tuple());
            crate::dropin::link(
                ctx,
                &rel,
                &format!("{}-gcc", arch.tuple()),
                &format!("-L{} -Wl,-rpath-link,{}", libs.display(), libs.display()),
            )?;
            for (prog, lib) in DOM0_C_PROGRAMS.iter().chain(RELEASE_C_PROGRAMS) {
                cmd(format!("{}-gcc", arch.tuple()))
                    .args(["-O2", "-Wall", "-Werror", "-o"])
                    .arg(c_dir.join(prog))
                    .arg(ctx.root.join(format!("tests/dom0/c/{prog}.c")))
                    .arg("-I")
                    .arg(dist.root.join("usr/include"))
                    .arg("-L")
                    .arg(&libs)
                    .arg(format!("-Wl,-rpath-link,{}", libs.display()))
                    .arg(format!("-l{lib}"))
                    .run_logged(&log, &format!("compiling {prog} for {}", arch.name()))?;
            }
            Ok(format!("built for {}", arch.rust_target()))
        },
    )?;
    let all: Vec<(&str, &str)> = DOM0_C_PROGRAMS
        .iter()
        .chain(RELEASE_C_PROGRAMS)
        .copied()
        .collect();
    dom0_items(ctx, &rel, &c_dir, &all)
}

/// `/etc/xdm/paths.sh`, for the image's shell scripts: where the contract
/// ([`contract`]) puts what the project ships, as shell variables. Written
/// only when it changes (the image's cache key reads it).
fn contract_paths(ctx: &Ctx) -> Result<PathBuf> {
    let text = format!(
        "# Generated by xtask from xdm_suites::contract.\nXDM_THIN_DM={}\nXDM_OUR_LIB_DIR={}\nXDM_MODULE={}\n",
        contract::THIN_DM,
        contract::OUR_LIB_DIR,
        contract::MODULE
    );
    let path = ctx.cache.join("contract-paths.sh");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
        std::fs::write(&path, text)?;
    }
    Ok(path)
}

/// The image's entries for the programs built into `rel` (Rust) and
/// `c_dir` (C), and the suites' scripts.
fn dom0_items(
    ctx: &Ctx,
    rel: &std::path::Path,
    c_dir: &std::path::Path,
    c_programs: &[(&str, &str)],
) -> Result<Vec<Item>> {
    let mut items = vec![
        Item::new(rel.join("xdm-suite"), "/usr/bin/xdm-suite"),
        Item::new(rel.join("xen-thin-dm"), contract::THIN_DM),
        Item::new(rel.join("xen-thin-dm-backend"), contract::THIN_DM_BACKEND),
        Item::new(ctx.root.join("tests/dom0/fake-dm"), contract::FAKE_DM),
        Item::new(
            rel.join("xendevicemodel-c").join(crate::dropin::SONAME),
            &format!("{}/libxendevicemodel.so.1", contract::OUR_LIB_DIR),
        ),
    ];
    items.push(Item::new(contract_paths(ctx)?, "/etc/xdm/paths.sh"));
    for (prog, _) in c_programs {
        items.push(Item::new(
            c_dir.join(prog),
            &format!("{}/{prog}", contract::LIBEXEC),
        ));
    }
    for e in std::fs::read_dir(ctx.root.join("tests/dom0/suites"))? {
        let p = e?.path();
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        items.push(Item::new(p, &format!("/suites/{name}")));
    }
    Ok(items)
}

/// Prepares everything for a boot on `release`.
pub fn prepare(ctx: &Ctx, release: Release) -> Result<Bed> {
    deps::all(ctx)?;
    let src = linux::source(ctx)?;
    prepare_from(ctx, &src, release)
}

/// Prepares everything for a boot on `release`, with the packages and
/// source in place.
pub fn prepare_from(ctx: &Ctx, src: &Source, release: Release) -> Result<Bed> {
    prepare_image(ctx, src, release, "test", |_, _| Ok(Vec::new()))
}

/// The benchmark bed: the test bed plus Debian's QEMU for Xen (the
/// reference device model), which only the benchmarks need.
pub fn prepare_bench(ctx: &Ctx, release: Release) -> Result<Bed> {
    deps::all(ctx)?;
    let src = linux::source(ctx)?;
    prepare_image(ctx, &src, release, "bench", |dist, linux_guest| {
        let qemu = "usr/libexec/xen-qemu-system-i386";
        // libxl hands SeaBIOS to every qemu-xen guest's firmware, even one
        // that (like the benchmark guest) does not use it.
        let bios = "usr/share/seabios/bios-256k.bin";
        let mut items = vec![
            Item::new(dist.root.join(qemu), &format!("/{qemu}")),
            Item::new(dist.root.join(bios), &format!("/{bios}")),
            // The virtio benchmark's guest: its firmware for xen-thin-dm,
            // its kernel for QEMU's direct boot, and the option ROMs QEMU
            // boots a kernel with.
            Item::new(
                linux_guest.bench_firmware.clone(),
                contract::LINUXBOOT_BENCH,
            ),
            Item::new(linux_guest.bzimage.clone(), contract::LINUX_GUEST),
            Item::new(
                linux_guest.bench_cmdline.clone(),
                contract::LINUX_BENCH_CMDLINE,
            ),
        ];
        // QEMU's data from its own release: the host's for the host's
        // release, the unpacked packages' otherwise.
        let data = if dist.release.is_host() {
            std::path::PathBuf::from("/usr/share/qemu")
        } else {
            dist.root.join("usr/share/qemu")
        };
        for rom in ["linuxboot.bin", "linuxboot_dma.bin"] {
            let p = data.join(rom);
            if !p.exists() {
                crate::bail!("{}: missing (package qemu-system-data)", p.display());
            }
            items.push(Item::new(p, &format!("/usr/share/qemu/{rom}")));
        }
        // QEMU loads a keymap even with no display (testbed.md).
        let keymaps = data.join("keymaps");
        let keymaps = keymaps.as_path();
        for e in std::fs::read_dir(keymaps).map_err(|e| {
            crate::ctx::Error(format!(
                "{}: {e} (package qemu-system-data)",
                keymaps.display()
            ))
        })? {
            let p = e?.path();
            let dst = format!(
                "/usr/share/qemu/keymaps/{}",
                p.file_name().unwrap_or_default().to_string_lossy()
            );
            items.push(Item::new(p, &dst));
        }
        Ok(items)
    })
}

/// The patched bed: the hypervisor and xenstored of `xen-patches/`, and
/// the patched build itself (for the guard's other tests).
pub fn prepare_patched(ctx: &Ctx, src: &Source) -> Result<(Bed, crate::xenpatch::Patched)> {
    let release = Release::Xen417;
    let dist = xen::dist(ctx, release)?;
    let patched = crate::xenpatch::build(ctx, &dist)?;
    let xenstored = patched.xenstored.clone();
    let mut bed = prepare_image(ctx, src, release, "patched", move |dist, _| {
        // Over Debian's: the image's init starts it from there.
        Ok(vec![Item::new(
            xenstored,
            &format!("{}/bin/xenstored", dist.libexec()),
        )])
    })?;
    bed.xen = patched.xen.clone();
    bed.tag = format!("{}-patched", release.version());
    Ok((bed, patched))
}

fn prepare_image(
    ctx: &Ctx,
    src: &Source,
    release: Release,
    name: &str,
    extra: impl FnOnce(&Dist, &crate::linuxguest::LinuxGuest) -> Result<Vec<Item>>,
) -> Result<Bed> {
    let kernel = linux::kernel(ctx, src, Arch::X86_64)?;
    // The guests are built once, from the host release's packages, and
    // booted on every release.
    let base = xen::dist(ctx, Release::Xen417)?;
    let other = match release {
        Release::Xen417 => None,
        r => Some(xen::dist(ctx, r)?),
    };
    let dist = other.as_ref().unwrap_or(&base);
    let guests = guest::build(ctx)?;
    let modules = crate::module::build(ctx, &kernel, &kernel.key, Arch::X86_64)?;
    let mut items = dom0_programs(ctx, dist)?;
    items.push(Item::new(guests.test, contract::TEST_GUEST));
    items.push(Item::new(guests.bench, contract::BENCH_GUEST));
    let linux_guest = crate::linuxguest::build(ctx, src, &base)?;
    items.push(Item::new(linux_guest.firmware.clone(), contract::LINUXBOOT));
    items.push(Item::new(linux_guest.disk.clone(), contract::LINUX_DISK));
    items.push(Item::new(modules.module, contract::MODULE));
    items.push(Item::new(modules.kunit, contract::KUNIT_MODULE));
    items.push(Item::new(modules.hcbench, contract::HCBENCH_MODULE));
    items.push(Item::new(
        ctx.root.join("tests/dom0/setup"),
        "/etc/xdm/setup",
    ));
    items.extend(extra(dist, &linux_guest)?);
    let name = format!("{name}-{}", release.version());
    let initrd = image::initramfs(ctx, dist, &name, &items)?;
    Ok(Bed {
        arch: Arch::X86_64,
        kernel,
        initrd,
        xen: dist
            .xen
            .clone()
            .ok_or_else(|| crate::ctx::Error("the x86_64 packages had no hypervisor".into()))?,
        release,
        tag: release.version().to_string(),
    })
}

/// The arm64 bed: Xen 4.17 built for arm64 with IOREQ_SERVER (Debian's
/// source; with `patched`, the xen-patches series applied), the project's
/// Linux 6.12 cross-built for arm64 as dom0, Debian 12's arm64 Xen tools
/// and userspace, and the project's programs cross-built. The guests'
/// kernel is dom0's own (a paused guest never runs it).
pub fn prepare_arm64(ctx: &Ctx, src: &Source, patched: bool) -> Result<Bed> {
    let arch = Arch::Arm64;
    let release = Release::Xen417;
    let kernel = linux::kernel(ctx, src, arch)?;
    let dist = xen::dist_for(ctx, release, arch)?;
    let mut items = Vec::new();
    let xen = if patched {
        let host = xen::dist(ctx, release)?;
        let p = crate::xenpatch::build(ctx, &host)?;
        // Over Debian's: the image's init starts it from there.
        items.push(Item::new(
            crate::xenpatch::xenstored_for(ctx, &p, &dist)?,
            &format!("{}/bin/xenstored", dist.libexec()),
        ));
        p.xen_arm64
    } else {
        crate::xenpatch::build_arm64_unpatched(ctx)?
    };
    let modules = crate::module::build(ctx, &kernel, &kernel.key, arch)?;
    items.extend(dom0_programs(ctx, &dist)?);
    items.push(Item::new(kernel.image.clone(), contract::ARM64_GUEST));
    // The virtio guest on Arm: dom0's kernel (it has virtio-mmio,
    // virtio-blk and ext4) with this root disk.
    items.push(Item::new(
        crate::linuxguest::arm64_disk(ctx, &dist)?,
        contract::LINUX_DISK_ARM64,
    ));
    items.push(Item::new(modules.module, contract::MODULE));
    items.push(Item::new(modules.kunit, contract::KUNIT_MODULE));
    items.push(Item::new(
        ctx.root.join("tests/dom0/setup"),
        "/etc/xdm/setup",
    ));
    let name = format!(
        "{}-{}{}",
        arch.name(),
        release.version(),
        if patched { "-patched" } else { "" }
    );
    let initrd = image::initramfs(ctx, &dist, &name, &items)?;
    Ok(Bed {
        arch,
        kernel,
        initrd,
        xen,
        release,
        tag: name,
    })
}

/// A boot configuration on `bed` running `suites`.
pub fn config(bed: &Bed, suites: &[&str], timeout: Duration, log: &str) -> VmConfig {
    VmConfig {
        xen: bed.xen.clone(),
        arch: bed.arch,
        kernel: bed.kernel.image.clone(),
        initrd: bed.initrd.clone(),
        suites: suites.iter().map(|s| s.to_string()).collect(),
        dom0_args: Vec::new(),
        timeout,
        shell: false,
        log_name: log.to_string(),
        echo: vm::echo_suites,
        tag: bed.tag.clone(),
    }
}

/// A name the suites do not know is a one-line error (before any boot).
pub fn known_suites(suites: &[&str]) -> Result<()> {
    let known = |s: &&str| contract::SUITES.contains(s) || contract::SCRIPT_SUITES.contains(s);
    if let Some(bad) = suites.iter().find(|s| !known(s)) {
        crate::bail!(
            "no suite `{bad}` (one of: {}, {})",
            contract::SUITES.join(", "),
            contract::SCRIPT_SUITES.join(", ")
        );
    }
    Ok(())
}

/// Boots, runs `suites`, and fails unless all of them pass. The step is
/// named `{label}: {suites}`.
pub fn run_suites(
    ctx: &Ctx,
    bed: &Bed,
    label: &str,
    suites: &[&str],
    timeout: Duration,
) -> Result<()> {
    known_suites(suites)?;
    let log = format!("vm-{}-{}.log", bed.tag, suites.join("+"));
    ctx.step(&format!("{label}: {}", suites.join(", ")), || {
        let run = vm::run(ctx, &config(bed, suites, timeout, &log))?;
        vm::print_summary(&run);
        let expected: Vec<String> = suites.iter().map(|s| s.to_string()).collect();
        vm::verdict(&run, &expected)?;
        Ok(format!(
            "{} suite(s) passed in {:.0}s{}",
            suites.len(),
            run.took.as_secs_f64(),
            run.info
                .iter()
                .map(|i| format!("; {i}"))
                .collect::<String>()
        ))
    })
}

/// The harness tests itself: a deliberately failing in-VM check must fail
/// the run with a clear message, and a timeout must leave no QEMU behind.
pub fn self_test(ctx: &Ctx, bed: &Bed) -> Result<()> {
    ctx.step(
        "harness: a deliberately failing in-VM check fails the run",
        || {
            let mut cfg = config(
                bed,
                &["harness-fail"],
                Duration::from_secs(180),
                "vm-harness-fail.log",
            );
            cfg.tag = "harness".into();
            cfg.dom0_args.push("xdm.daemons=0".into());
            let run = vm::run(ctx, &cfg)?;
            match vm::verdict(&run, &cfg.suites) {
                Ok(()) => crate::bail!("the harness passed a suite with a failing check"),
                Err(e) if e.0.contains("a deliberately failing check") => Ok(format!(
                    "refused as it must: {}",
                    e.0.lines().next().unwrap_or("")
                )),
                Err(e) => crate::bail!("failed, but not for the failing check: {e}"),
            }
        },
    )?;
    ctx.step(
        "harness: a timeout stops the run and leaves no QEMU",
        || {
            let mut cfg = config(
                bed,
                &["harness-hang"],
                Duration::from_secs(20),
                "vm-harness-hang.log",
            );
            cfg.tag = "harness".into();
            cfg.dom0_args.push("xdm.daemons=0".into());
            let run: VmRun = vm::run(ctx, &cfg)?;
            if run.outcome != vm::Outcome::Timeout {
                crate::bail!("expected a timeout, got {:?}", run.outcome);
            }
            if !run.suites.iter().any(|s| s.name == "harness-hang") {
                crate::bail!("the hanging suite never started: the timeout hit the boot instead");
            }
            if vm::qemu_alive(run.qemu_pid) {
                crate::bail!(
                    "QEMU (pid {}) is still running after the timeout",
                    run.qemu_pid
                );
            }
            let e = vm::verdict(&run, &cfg.suites).expect_err("a timeout fails");
            if !e.0.contains("timed out") || !e.0.contains("last 40 lines") {
                crate::bail!("the timeout's message lacks the reason or the log tail: {e}");
            }
            Ok(format!(
                "timed out after {:.0}s, QEMU {} gone",
                run.took.as_secs_f64(),
                run.qemu_pid
            ))
        },
    )
}

#[cfg(test)]
mod tests {
    /// The script suites the image carries are the ones the contract names.
    #[test]
    fn script_suites_match_the_contract() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/dom0/suites");
        let mut found: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        found.sort();
        let mut named: Vec<String> = xdm_suites::contract::SCRIPT_SUITES
            .iter()
            .map(|s| s.to_string())
            .collect();
        named.sort();
        assert_eq!(found, named);
    }
}
