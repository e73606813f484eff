// SPDX-License-Identifier: MIT
//! The fuzz targets (`tests/xdm-fuzz/`): cargo-afl installed into the cache, the
//! targets built instrumented, and each fuzzed for a bounded time from its
//! seeds (the harnesses' own tests, seeds replayed, run with the
//! workspace's). A crash fails the step, naming the
//! input AFL saved and what the target printed on it.

use std::path::{Path, PathBuf};

use crate::bail;
use crate::ctx::{Ctx, Result};
use crate::sh::cmd;

/// cargo-afl's version (it builds AFL++ when it is installed).
pub const CARGO_AFL_VERSION: &str = "0.18.2";
/// The targets, in `tests/xdm-fuzz/src/bin`.
pub const TARGETS: &[&str] = &["blk_requests", "mmio_transport"];
/// Seconds each target is fuzzed in `cargo xtask test` (`XDM_FUZZ_SECS`).
const DEFAULT_SECS: u64 = 20;

fn tools(ctx: &Ctx) -> PathBuf {
    crate::deps::tool_root(ctx, "cargo-afl", CARGO_AFL_VERSION)
}

/// The PATH with the cache's cargo-afl first.
fn path_with_tools(ctx: &Ctx) -> std::ffi::OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::iter::once(tools(ctx).join("bin")).chain(std::env::split_paths(&path));
    std::env::join_paths(dirs).expect("no ':' in the cache's path")
}

/// `cargo afl ...`, building into `target/fuzz`.
fn cargo_afl(ctx: &Ctx) -> crate::sh::Cmd {
    cmd("cargo")
        .arg("afl")
        .env("PATH", path_with_tools(ctx))
        .env("CARGO_TARGET_DIR", ctx.root.join("target/fuzz"))
}

/// Installs cargo-afl (and with it AFL++, built for this toolchain).
fn install(ctx: &Ctx) -> Result<String> {
    let note = if crate::deps::cargo_install(
        ctx,
        "cargo-afl",
        "cargo-afl",
        CARGO_AFL_VERSION,
        "cargo-afl",
    )? {
        format!("installed cargo-afl {CARGO_AFL_VERSION}")
    } else {
        format!("cargo-afl {CARGO_AFL_VERSION} present")
    };
    // AFL++ for this toolchain: built by the install, or by this for a
    // toolchain that changed since; "already built" is the usual answer.
    let out = std::process::Command::new("cargo")
        .args(["afl", "config", "--build"])
        .env("PATH", path_with_tools(ctx))
        .output()?;
    let text = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && !text.contains("already built") {
        bail!("cargo afl config --build failed:\n{text}");
    }
    Ok(note)
}

/// The instrumented targets' directory.
fn bins(ctx: &Ctx) -> PathBuf {
    ctx.root.join("target/fuzz/release")
}

/// Everything `cargo xtask test` does with the fuzz targets; `secs` per
/// target (default `XDM_FUZZ_SECS`, else 20).
pub fn test(ctx: &Ctx, secs: Option<u64>) -> Result<()> {
    ctx.step("fuzz: cargo-afl", || install(ctx))?;
    ctx.step("fuzz: build the targets (cargo afl build)", || {
        cargo_afl(ctx)
            .args(["build", "--release", "--features", "afl", "-p", "xdm-fuzz"])
            .dir(&ctx.root)
            .run_logged(&ctx.log("fuzz-build.log"), "cargo afl build")?;
        Ok(format!("built {}", TARGETS.join(", ")))
    })?;
    let work = ctx.cache.join("fuzz");
    let seeds = work.join("seeds");
    let _ = std::fs::remove_dir_all(&seeds);
    cmd(bins(ctx).join("fuzz-seeds")).arg(&seeds).run()?;
    let secs = secs
        .or_else(|| std::env::var("XDM_FUZZ_SECS").ok()?.parse().ok())
        .unwrap_or(DEFAULT_SECS);
    // One target per core, side by side.
    let (seeds, work) = (&seeds, &work);
    crate::ctx::side_by_side(
        TARGETS
            .iter()
            .map(|target| {
                Box::new(move || {
                    ctx.step(&format!("fuzz: {target} for {secs} s"), || {
                        fuzz_one(ctx, target, &seeds.join(target), &work.join(target), secs)
                    })
                }) as Box<dyn FnOnce() -> Result<()> + Send>
            })
            .collect(),
    )
}

/// Fuzzes `target` from `seeds` for `secs` seconds into `out`.
fn fuzz_one(ctx: &Ctx, target: &str, seeds: &Path, out: &Path, secs: u64) -> Result<String> {
    let _ = std::fs::remove_dir_all(out);
    let log = ctx.log(&format!("fuzz-{target}.log"));
    let _ = std::fs::remove_file(&log);
    cargo_afl(ctx)
        .arg("fuzz")
        .arg("-i")
        .arg(seeds)
        .arg("-o")
        .arg(out)
        .args(["-V", &secs.to_string()])
        // A hang is an input that runs for a second (one takes about 50 us).
        .args(["-t", "1000"])
        .arg(bins(ctx).join(target))
        .env("AFL_NO_UI", "1")
        .env("AFL_SKIP_CPUFREQ", "1")
        .env("AFL_NO_AFFINITY", "1")
        .env("AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES", "1")
        .run_logged(&log, &format!("afl-fuzz {target}"))?;
    let stats = std::fs::read_to_string(out.join("default/fuzzer_stats")).map_err(|e| {
        crate::ctx::Error(format!(
            "{target}: no fuzzer_stats ({e}); see {}",
            log.display()
        ))
    })?;
    let stat = |k: &str| {
        stats
            .lines()
            .find_map(|l| {
                let (key, v) = l.split_once(':')?;
                (key.trim() == k).then(|| v.trim().to_string())
            })
            .unwrap_or_else(|| "?".into())
    };
    // A crash or a hang (an input that ran past AFL's time limit: the
    // device model must never hang on what a guest wrote) fails the step.
    let saved = |dir: &str| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(out.join("default").join(dir))
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.file_name().is_some_and(|n| n != "README.txt"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    for (dir, what) in [("crashes", "crashing"), ("hangs", "hanging")] {
        let found = saved(dir);
        if let Some(first) = found.first() {
            bail!(
                "{target}: {} {what} input(s), the first {}; replayed:\n{}",
                found.len(),
                first.display(),
                replay(&bins(ctx).join(target), first)
            );
        }
    }
    Ok(format!(
        "{} execs, {} corpus entries, coverage {}, no crash",
        stat("execs_done"),
        stat("corpus_count"),
        stat("bitmap_cvg")
    ))
}

/// Runs `bin` on `input` outside AFL for at most 10 s; what it printed on
/// stderr (its panic), or that it did not finish.
fn replay(bin: &Path, input: &Path) -> String {
    let Ok(stdin) = std::fs::File::open(input) else {
        return format!("{}: unreadable", input.display());
    };
    let child = std::process::Command::new(bin)
        .stdin(stdin)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        return format!("{}: cannot run", bin.display());
    };
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(10) {
        if let Ok(Some(_)) = child.try_wait() {
            let mut said = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut said);
            }
            return said.lines().take(12).collect::<Vec<_>>().join("\n");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    "still running after 10 s: a hang".into()
}
