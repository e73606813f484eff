// SPDX-License-Identifier: MIT
//! `cargo xtask`: sets up, boots and tests the project.
//!
//! It takes the facts it shares with the product from the crates that own
//! them (dmop-abi, xen-thin-dm's board and test platform, the suites'
//! contract); nothing depends on it.
//!
//! The two commands the README names are `cargo xtask demo` and
//! `cargo xtask test`; each installs and builds what it needs, caching
//! under `target/testbed` (or `$XDM_CACHE`), and prints the time per step.

mod arch;
mod bench;
mod cross;
mod ctx;
mod deps;
mod dropin;
mod fuzz;
mod guest;
mod host;
mod image;
mod install;
mod linux;
mod linuxguest;
mod module;
mod sh;
mod testbed;
mod vm;
mod xen;
mod xenpatch;

use std::process::ExitCode;
use std::time::Duration;

use ctx::{Ctx, Result};
use sh::cmd;

const USAGE: &str = "\
usage: cargo xtask <command>

  demo [--xen 4.17|4.20 | --arch arm64]
                boot Xen with the deprivileged device model and show it working
                (default: the newest release, then the patched 4.17; arm64:
                the confined node on Xen for Arm, then its patched build)
  test          run every test: host tests and the in-VM suites, on every release
                (--host: run the suites natively on a real Xen dom0 instead)
  bench [--xen 4.17|4.20]
                run the benchmarks (prints ratios against the reference,
                Debian's QEMU of that release; default 4.17)
  fuzz [SECS]   fuzz each target for SECS seconds (default 20, as in test)

  vm [--xen 4.17|4.20] [--arch x86_64|arm64] [--suite NAME]... [--shell]
     [--timeout SECS] [--patched | --test-retired | --bench-image]
                boot the test bed, run suites in dom0 (or give a dom0 shell);
                Xen 4.17 (Debian 12) on x86_64 unless --xen or --arch say
                otherwise (arm64: Xen 4.17 only)
  install-lib [--prefix DIR] [--destdir DIR] [--includedir DIR]
                install the drop-in libxendevicemodel.so.1 and its pkg-config file
  dkms-tree DIR write privcmd-restrict's source tree for DKMS
  deps          install the host packages and bindgen-cli
  kernel        build the dom0 kernel
  abi-freeze    record the code's ABI in abi/dmop-abi/abi/frozen.toml (--check: report only)
  xen-patches refresh [--check]
                rewrite the guard header patch 1 adds from the manifest
                (--check: only say whether it is current)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = args.first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    let ctx = match Ctx::new() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("xtask: {e}");
            return ExitCode::FAILURE;
        }
    };
    let r = match command.as_str() {
        "deps" => deps::all(&ctx),
        "kernel" => (|| {
            deps::all(&ctx)?;
            let src = linux::source(&ctx)?;
            linux::kernel(&ctx, &src, arch::Arch::X86_64).map(|k| println!("{}", k.image.display()))
        })(),
        "abi-freeze" => abi_freeze(&ctx, rest),
        "xen-patches" => match rest {
            [r] if r == "refresh" => xenpatch::refresh(&ctx, false),
            [r, c] if r == "refresh" && c == "--check" => xenpatch::refresh(&ctx, true),
            _ => Err(ctx::Error("xen-patches: only `refresh [--check]`".into())),
        },
        "test" => test(&ctx, rest),
        "vm" => vm_cmd(&ctx, rest),
        "install-lib" => install::run(&ctx, rest),
        "dkms-tree" => module::dkms_tree(&ctx, rest),
        "bench" => match rest {
            [] => bench::run(&ctx, xen::Release::Xen417),
            [x, v] if x == "--xen" => xen::Release::parse(v).and_then(|r| bench::run(&ctx, r)),
            [x] if x == "--xen" => Err(ctx::Error(
                "bench: --xen needs a release (4.17 or 4.20)".into(),
            )),
            [a, ..] => Err(ctx::Error(format!(
                "bench: unexpected argument `{a}` (only --xen 4.17|4.20)"
            ))),
        },
        "fuzz" => match rest {
            [] => fuzz::test(&ctx, None),
            [s] => match s.parse() {
                Ok(secs) => fuzz::test(&ctx, Some(secs)),
                Err(_) => Err(ctx::Error(format!(
                    "fuzz: `{s}` is not a number of seconds"
                ))),
            },
            [_, a, ..] => Err(ctx::Error(format!("fuzz: unexpected argument `{a}`"))),
        },
        "demo" => demo(&ctx, rest),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => {
            eprintln!("xtask: unknown command `{other}`");
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    ctx.summary();
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nxtask {command}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo xtask abi-freeze [--check]`.
fn abi_freeze(ctx: &Ctx, rest: &[String]) -> Result<()> {
    let check = match rest {
        [] => false,
        [a] if a == "--check" => true,
        [a, ..] => bail!("abi-freeze: unexpected argument `{a}`"),
    };
    ctx.step("deps: Debian packages", || {
        deps::apt(ctx, deps::APT_PACKAGES)
    })?;
    ctx.step("abi: freeze", || {
        // Built apart, with the compile-time checks off, so that the tool can
        // read code those checks would reject, and reject it with a reason.
        let mut c = cmd("cargo")
            .args([
                "run",
                "-q",
                "-p",
                "dmop-abi-tools",
                "--bin",
                "dmop-abi-freeze",
                "--features",
                "freeze",
                "--",
            ])
            .env("RUSTFLAGS", "--cfg dmop_abi_unfrozen")
            .env("CARGO_TARGET_DIR", ctx.root.join("target/abi-freeze"))
            .dir(&ctx.root);
        if check {
            c = c.arg("--check");
        }
        c.run()?;
        Ok("done".into())
    })
}

/// `cargo xtask vm`.
fn vm_cmd(ctx: &Ctx, rest: &[String]) -> Result<()> {
    let mut suites = Vec::new();
    let mut shell = false;
    let mut timeout = 600u64;
    let mut bench_image = false;
    let mut patched = false;
    let mut test_retired = false;
    let mut release = xen::Release::Xen417;
    let mut arch = arch::Arch::X86_64;
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--arch" => arch = arch::Arch::parse(it.next().ok_or_else(|| ctx::Error("vm: --arch needs an architecture (x86_64 or arm64)".into()))?)?,
            "--xen" => release = xen::Release::parse(it.next().ok_or_else(|| ctx::Error("vm: --xen needs a release (4.17 or 4.20)".into()))?)?,
            "--suite" => suites.push(it.next().ok_or_else(|| ctx::Error("vm: --suite needs a name".into()))?.clone()),
            "--shell" => shell = true,
            "--bench-image" => bench_image = true,
            "--patched" => patched = true,
            "--test-retired" => {
                patched = true;
                test_retired = true;
            }
            "--timeout" => {
                let v = it.next().ok_or_else(|| ctx::Error("vm: --timeout needs seconds".into()))?;
                timeout = v.parse().map_err(|_| ctx::Error(format!("vm: --timeout {v}: not a number of seconds")))?;
            }
            other => bail!("vm: unexpected argument `{other}` (--xen 4.17|4.20, --arch x86_64|arm64, --suite NAME, --shell, --timeout SECS, --bench-image, --patched, --test-retired)"),
        }
    }
    if release != xen::Release::Xen417 && patched {
        bail!("vm: --patched and --test-retired run on Xen 4.17 only (Xen 4.20's source is not served here)");
    }
    if suites.is_empty() && !shell {
        bail!("vm: name a suite (--suite xen-smoke) or ask for --shell");
    }
    testbed::known_suites(&suites.iter().map(String::as_str).collect::<Vec<_>>())?;
    if arch == arch::Arch::Arm64 && (release != xen::Release::Xen417 || bench_image || test_retired)
    {
        bail!("vm: the arm64 bed runs Xen 4.17, unpatched or --patched (no --bench-image, --test-retired)");
    }
    let bed = if arch == arch::Arch::Arm64 {
        deps::all(ctx)?;
        let src = linux::source(ctx)?;
        testbed::prepare_arm64(ctx, &src, patched)?
    } else if patched {
        deps::all(ctx)?;
        let src = linux::source(ctx)?;
        let (mut bed, p) = testbed::prepare_patched(ctx, &src)?;
        if test_retired {
            bed.xen = p.xen_test_retired;
        }
        bed
    } else if bench_image {
        testbed::prepare_bench(ctx, release)?
    } else {
        testbed::prepare(ctx, release)?
    };
    let names: Vec<&str> = suites.iter().map(String::as_str).collect();
    if shell {
        let mut cfg = testbed::config(&bed, &names, Duration::from_secs(timeout), "vm-shell.log");
        cfg.shell = true;
        println!("==> booting Xen; dom0 gives a shell on this terminal once the suites ran (exit it to power off)");
        vm::run(ctx, &cfg)?;
        return Ok(());
    }
    let on = if arch.is_host() {
        String::new()
    } else {
        format!(", {}", arch.name())
    };
    let label = match (test_retired, patched) {
        (true, _) => "vm (Xen 4.17, test-only, DMOP 20 retired)".to_string(),
        (_, true) => format!("vm (Xen 4.17 patched{on})"),
        _ => format!("vm ({}{on})", bed.release.label()),
    };
    testbed::run_suites(ctx, &bed, &label, &names, Duration::from_secs(timeout))
}

/// The crates published (a device-model builder's libraries, and the
/// tools distributions run), packaged and verified by `cargo publish
/// --dry-run` in every test run.
const PUBLISHED: &[&str] = &[
    "dmop-abi",
    "dmop-abi-tools",
    "xendevicemodel",
    "xenstore-client",
];

/// Every workspace crate's `rust-version` is at least that of each crate
/// in its normal and build dependencies, as the lockfile resolves them:
/// an MSRV the lockfile does not meet is caught here (this machine has no
/// older toolchain to build with).
fn msrv_check(ctx: &Ctx) -> Result<String> {
    use serde_json::Value;
    use std::collections::{BTreeMap, BTreeSet};
    let json = cmd("cargo")
        .args([
            "metadata",
            "-q",
            "--format-version",
            "1",
            "--locked",
            "--all-features",
        ])
        .dir(&ctx.root)
        .read()?;
    let m: Value = serde_json::from_str(&json)
        .map_err(|e| crate::ctx::Error(format!("cargo metadata: {e}")))?;
    // "1.85" and "1.85.0" are the same; no rust-version is "0".
    let version = |v: &Value| -> [u64; 3] {
        let mut out = [0; 3];
        for (o, p) in out.iter_mut().zip(v.as_str().unwrap_or("0").split('.')) {
            *o = p.parse().unwrap_or(0);
        }
        out
    };
    let s = |v: &Value| v.as_str().unwrap_or("none").to_string();
    let pkgs: BTreeMap<&str, &Value> = m["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["id"].as_str()?, p)))
        .collect();
    let deps: BTreeMap<&str, Vec<&str>> = m["resolve"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| {
            let d = n["deps"].as_array()?.iter().filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|k| k["kind"].is_null() || k["kind"] == "build")
            });
            Some((
                n["id"].as_str()?,
                d.filter_map(|d| d["pkg"].as_str()).collect(),
            ))
        })
        .collect();
    let mut bad = Vec::new();
    let mut checked = Vec::new();
    for w in m["workspace_members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let own = &pkgs[w]["rust_version"];
        let (mut seen, mut todo) = (BTreeSet::new(), vec![w]);
        while let Some(id) = todo.pop() {
            for &d in deps.get(id).into_iter().flatten() {
                if seen.insert(d) {
                    todo.push(d);
                    let theirs = &pkgs[d]["rust_version"];
                    if version(theirs) > version(own) {
                        bad.push(format!(
                            "{} (rust-version {}) depends on {} {} (rust-version {})",
                            s(&pkgs[w]["name"]),
                            s(own),
                            s(&pkgs[d]["name"]),
                            s(&pkgs[d]["version"]),
                            s(theirs)
                        ));
                    }
                }
            }
        }
        checked.push(format!("{} {}", s(&pkgs[w]["name"]), s(own)));
    }
    if !bad.is_empty() {
        bail!(
            "rust-version not met by the lockfile:\n  {}",
            bad.join("\n  ")
        );
    }
    Ok(checked.join(", "))
}

/// `cargo xtask test [--host]`.
fn test(ctx: &Ctx, rest: &[String]) -> Result<()> {
    match rest {
        [] => {}
        [h] if h == "--host" => return host::test(ctx),
        [a, ..] => bail!("test: unexpected argument `{a}` (only --host)"),
    }
    deps::all(ctx)?;
    let src = linux::source(ctx)?;
    let uapi = linux::uapi_headers(ctx, &src)?;
    ctx.step("host: rustfmt", || {
        cmd("cargo")
            .args(["fmt", "--all", "--check"])
            .dir(&ctx.root)
            .run()?;
        Ok("formatted".into())
    })?;
    ctx.step("host: clippy", || {
        cmd("cargo")
            .args([
                "clippy",
                "-q",
                "--workspace",
                "--all-targets",
                "--features",
                "xen-thin-dm/escape-test,xen-thin-dm/test-platform,xendevicemodel/log,dmop-abi-tools/freeze",
                "--",
                "-D",
                "warnings",
            ])
            .dir(&ctx.root)
            .run()?;
        Ok("clean".into())
    })?;
    ctx.step("host: rustdoc (warnings are errors)", || {
        cmd("cargo")
            .args(["doc", "-q", "--no-deps", "--workspace"])
            .args([
                "--features",
                "xen-thin-dm/escape-test,xen-thin-dm/test-platform,xendevicemodel/log,dmop-abi-tools/freeze",
            ])
            .env("RUSTDOCFLAGS", "-D warnings")
            .dir(&ctx.root)
            .run()?;
        Ok("clean".into())
    })?;
    ctx.step("host: dmop-abi depends on zerocopy alone", || {
        // `cargo tree` lists the crate, then what it depends on at run time.
        for (features, allowed) in [(&[][..], &["zerocopy"][..]), (&["--no-default-features"][..], &[][..])] {
            let tree = cmd("cargo")
                .args(["tree", "-q", "-p", "dmop-abi", "-e", "normal,build", "--target", "all", "--depth", "1", "--prefix", "none"])
                .args(features)
                .dir(&ctx.root)
                .read()?;
            let deps: Vec<&str> = tree.lines().skip(1).filter_map(|l| l.split_whitespace().next()).collect();
            if deps != allowed {
                bail!("dmop-abi {features:?} depends on {deps:?}; only {allowed:?} is allowed (the ABI crate takes nothing else)");
            }
        }
        Ok("zerocopy (default), nothing (no default features)".into())
    })?;
    ctx.step(
        "host: each crate's rust-version covers what it depends on",
        || msrv_check(ctx),
    )?;
    ctx.step(
        "host: cargo publish --dry-run (the published crates)",
        || {
            let mut c = cmd("cargo").args(["publish", "-q", "--dry-run", "--allow-dirty"]);
            for p in PUBLISHED {
                c = c.args(["-p", p]);
            }
            c.dir(&ctx.root)
                .run_logged(&ctx.log("publish.log"), "cargo publish --dry-run")?;
            Ok(PUBLISHED.join(", "))
        },
    )?;
    ctx.step(
        "host: cargo build (debug: the C drop-in the tests load)",
        || {
            cmd("cargo")
                .args(["build", "-q", "--workspace"])
                .args([
                    "--features",
                    "xen-thin-dm/escape-test,xen-thin-dm/test-platform,xendevicemodel/log,dmop-abi-tools/freeze",
                ])
                .dir(&ctx.root)
                .run()?;
            Ok("built".into())
        },
    )?;
    ctx.step("host: cargo test (all, ignored included)", || {
        cmd("cargo")
            .args(["test", "-q", "--workspace"])
            .args([
                "--features",
                "xen-thin-dm/escape-test,xen-thin-dm/test-platform,xendevicemodel/log,dmop-abi-tools/freeze",
            ])
            .args(["--", "--include-ignored"])
            .env("DMOP_ABI_LINUX_HEADERS", &uapi)
            .dir(&ctx.root)
            .run()?;
        Ok("passed".into())
    })?;
    ctx.step(
        "host: xen-thin-dm as a production build (no escape self-test, no test platform)",
        || {
            cmd("cargo")
                .args([
                    "clippy",
                    "-q",
                    "-p",
                    "xen-thin-dm",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ])
                .dir(&ctx.root)
                .run()?;
            cmd("cargo")
                .args(["test", "-q", "-p", "xen-thin-dm", "--lib"])
                .dir(&ctx.root)
                .run()?;
            Ok("clippy-clean, unit tests pass".into())
        },
    )?;
    // The checker's header tests again, on every other release's headers
    // (the host's libxen-dev is 4.17's).
    for release in xen::Release::ALL.into_iter().skip(1) {
        let dist = xen::dist(ctx, release)?;
        ctx.step(
            &format!(
                "abi: dmop-abi-check against {}'s headers (libxen-dev) and Linux 6.12's uapi",
                release.label()
            ),
            || {
                cmd("cargo")
                    .args([
                        "test",
                        "-q",
                        "-p",
                        "dmop-abi-tools",
                        "--test",
                        "headers",
                        "--",
                        "--include-ignored",
                    ])
                    .env("DMOP_ABI_XEN_INCLUDE", dist.root.join("usr/include"))
                    .env("DMOP_ABI_LINUX_HEADERS", &uapi)
                    .dir(&ctx.root)
                    .run()?;
                Ok("compatible on x86_64, i386, aarch64, arm".into())
            },
        )?;
    }
    fuzz::test(ctx, None)?;
    let bed = testbed::prepare_from(ctx, &src, xen::Release::Xen417)?;
    testbed::run_suites(
        ctx,
        &bed,
        &format!("vm ({})", bed.release.label()),
        TEST_SUITES,
        Duration::from_secs(900),
    )?;
    testbed::self_test(ctx, &bed)?;
    // xen-patches: the series on Debian's Xen source, built, guarded, booted.
    let (mut patched_bed, patched) = testbed::prepare_patched(ctx, &src)?;
    xenpatch::guard_rejects_altered_layout(ctx, &patched)?;
    let suites = [
        "xen-smoke",
        "library",
        "xen-patches",
        "devicemodel",
        "demo-patched",
    ];
    testbed::run_suites(
        ctx,
        &patched_bed,
        "vm (Xen 4.17 patched)",
        &suites,
        Duration::from_secs(900),
    )?;
    patched_bed.xen = patched.xen_test_retired.clone();
    testbed::run_suites(
        ctx,
        &patched_bed,
        "vm (Xen 4.17, test-only, DMOP 20 retired)",
        &["xen-guard-retired"],
        Duration::from_secs(300),
    )?;
    // The same binaries and module on every other release.
    for release in xen::Release::ALL.into_iter().skip(1) {
        let bed = testbed::prepare_from(ctx, &src, release)?;
        testbed::run_suites(
            ctx,
            &bed,
            &format!("vm ({})", release.label()),
            TEST_SUITES,
            Duration::from_secs(900),
        )?;
    }
    // arm64: the stack cross-built, on Xen built with IOREQ_SERVER, then
    // on the patched Xen and xenstored.
    let bed = testbed::prepare_arm64(ctx, &src, false)?;
    testbed::run_suites(
        ctx,
        &bed,
        &format!("vm ({}, arm64)", bed.release.label()),
        ARM64_SUITES,
        Duration::from_secs(600),
    )?;
    let bed = testbed::prepare_arm64(ctx, &src, true)?;
    testbed::run_suites(
        ctx,
        &bed,
        "vm (Xen 4.17 patched, arm64)",
        &["xen-smoke", "xen-patches", "virtio", "demo-arm64"],
        Duration::from_secs(600),
    )?;
    Ok(())
}

/// The suites `test` runs on the arm64 bed (devicemodel and demo-testbed
/// serve x86's test firmware; virtio has an Arm guest of its own).
const ARM64_SUITES: &[&str] = &["xen-smoke", "library", "privcmd", "virtio", "demo-arm64"];

/// The suites `test` runs on each release's unpatched bed.
const TEST_SUITES: &[&str] = &[
    "xen-smoke",
    "library",
    "privcmd",
    "devicemodel",
    "virtio",
    "demo-testbed",
];

/// `cargo xtask demo`.
fn demo(ctx: &Ctx, rest: &[String]) -> Result<()> {
    let release = match rest {
        [] => xen::Release::NEWEST,
        [x, v] if x == "--xen" => xen::Release::parse(v)?,
        [x, a] if x == "--arch" => match arch::Arch::parse(a)? {
            arch::Arch::X86_64 => xen::Release::NEWEST,
            arch::Arch::Arm64 => return demo_arm64(ctx),
        },
        [x] if x == "--xen" || x == "--arch" => {
            bail!("demo: {x} needs a value (--xen 4.17|4.20, --arch x86_64|arm64)")
        }
        [a, ..] => bail!(
            "demo: unexpected argument `{a}` (one of --xen 4.17|4.20 or --arch x86_64|arm64; arm64 runs Xen 4.17)"
        ),
    };
    deps::all(ctx)?;
    let src = linux::source(ctx)?;
    let bed = testbed::prepare_from(ctx, &src, release)?;
    demo_boot(
        ctx,
        &bed,
        &format!("demo: boot Debian's {}, dom0 and a guest", release.label()),
        "demo-testbed",
        "vm-demo.log",
    )?;
    // The same stack on the hypervisor and xenstored of xen-patches/.
    let (bed, patched) = testbed::prepare_patched(ctx, &src)?;
    xenpatch::guard_rejects_altered_layout(ctx, &patched)?;
    demo_boot(
        ctx,
        &bed,
        "demo: boot the patched Xen 4.17 and xenstored, dom0 and a guest",
        "demo-patched",
        "vm-demo-patched.log",
    )
}

/// `cargo xtask demo --arch arm64`: the arm64 bed, then its patched
/// hypervisor and xenstored.
fn demo_arm64(ctx: &Ctx) -> Result<()> {
    deps::all(ctx)?;
    let src = linux::source(ctx)?;
    let bed = testbed::prepare_arm64(ctx, &src, false)?;
    // Then the virtio suite: an Arm guest on a disk its confined device
    // model serves (its checks echoed, one line each).
    demo_boot_with(
        ctx,
        &bed,
        "demo: boot Xen 4.17 for arm64 (Debian's source, IOREQ_SERVER), dom0 and a guest; then an arm64 Linux guest on a virtio disk its confined device model serves",
        &["demo-arm64", "virtio"],
        "vm-demo-arm64.log",
        |l| l.starts_with("| ") || l == "|" || l.starts_with("ok ") || l.starts_with("not ok "),
    )?;
    let bed = testbed::prepare_arm64(ctx, &src, true)?;
    demo_boot(
        ctx,
        &bed,
        "demo: boot the patched Xen 4.17 for arm64, dom0 and a guest",
        "demo-arm64",
        "vm-demo-arm64-patched.log",
    )
}

/// One boot of the demo: `suite`'s lines for the reader are echoed.
fn demo_boot(ctx: &Ctx, bed: &testbed::Bed, step: &str, suite: &str, log: &str) -> Result<()> {
    demo_boot_with(ctx, bed, step, &[suite], log, |l| {
        l.starts_with("| ") || l == "|"
    })
}

/// One boot of the demo running `suites`, echoing the lines `echo` picks.
fn demo_boot_with(
    ctx: &Ctx,
    bed: &testbed::Bed,
    step: &str,
    suites: &[&str],
    log: &str,
    echo: fn(&str) -> bool,
) -> Result<()> {
    ctx.step(step, || {
        let mut cfg = testbed::config(bed, suites, Duration::from_secs(300), log);
        cfg.echo = echo;
        let run = vm::run(ctx, &cfg)?;
        vm::verdict(&run, &cfg.suites)?;
        Ok(format!(
            "shown in {:.0}s (full serial log: {})",
            run.took.as_secs_f64(),
            run.log.display()
        ))
    })
}
