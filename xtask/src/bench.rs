// SPDX-License-Identifier: MIT
//! `cargo xtask bench`: performance goals, measured against the reference
//! in the same run, printed as ratios. Benchmarks are not tests: they
//! report, and fail only when they cannot measure.

use std::path::{Path, PathBuf};

use dmop_abi_tools::capture_shim;

use crate::ctx::{Context, Ctx, Result};
use crate::deps;
use crate::sh::cmd;

/// One measured comparison.
pub struct Ratio {
    /// What was measured.
    pub what: String,
    /// The reference's figure.
    pub reference: f64,
    /// Ours.
    pub ours: f64,
    /// Unit of both figures.
    pub unit: &'static str,
    /// Whether more is better (rates) or less (costs).
    pub higher_is_better: bool,
    /// The goal, as a ratio ours/reference (or reference/ours for costs).
    pub goal: f64,
}

impl Ratio {
    /// The figure of merit: how many times better ours is.
    pub fn factor(&self) -> f64 {
        if self.higher_is_better {
            self.ours / self.reference
        } else {
            self.reference / self.ours
        }
    }
}

/// Prints the table of results.
pub fn print(results: &[Ratio]) {
    println!(
        "\n{:<56} {:>10} {:>10} {:>7}  goal",
        "benchmark", "reference", "ours", "factor"
    );
    for r in results {
        let goal = if r.goal == 0.0 {
            "informative".to_string()
        } else {
            format!(
                "{} {:.2}x",
                if r.factor() >= r.goal {
                    "met:"
                } else {
                    "MISSED:"
                },
                r.goal
            )
        };
        println!(
            "{:<56} {:>10.1} {:>10.1} {:>6.2}x  {goal} ({})",
            r.what,
            r.reference,
            r.ours,
            r.factor(),
            r.unit
        );
    }
}

fn callgrind_total(file: &Path) -> Result<u64> {
    let text = std::fs::read_to_string(file).ctx(format!("reading {}", file.display()))?;
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary: ")
                .or_else(|| l.strip_prefix("totals: "))
        })
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| crate::ctx::Error(format!("no instruction total in {}", file.display())))
}

/// Instructions per call of three libxendevicemodel functions, Debian's C
/// library against our drop-in, counted by callgrind with the privcmd
/// ioctl answered locally by an LD_PRELOAD shim (the same for both).
pub fn library(ctx: &Ctx) -> Result<Vec<Ratio>> {
    let dir = ctx.cache.join("bench/library");
    std::fs::create_dir_all(dir.join("ours"))?;
    let mut out = Vec::new();
    ctx.step(
        "bench: libxendevicemodel instructions per call (callgrind)",
        || {
            cmd("cargo")
                .args(["build", "-q", "--release", "-p", "xendevicemodel-c"])
                .dir(&ctx.root)
                .run()?;
            let so = crate::dropin::link(ctx, &ctx.root.join("target/release"), "cc", "")?;
            std::fs::copy(so, dir.join("ours/libxendevicemodel.so.1"))?;
            std::fs::write(dir.join("capture_abi.h"), capture_shim::header())?;
            let log = ctx.log("bench-library.log");
            cmd("gcc")
                .args(["-shared", "-fPIC", "-O2", "-I"])
                .arg(&dir)
                .arg("-o")
                .arg(dir.join("shim.so"))
                .arg(ctx.root.join("lib/xendevicemodel-c/tests/c/capture.c"))
                .arg("-ldl")
                .run_logged(&log, "compiling the ioctl shim")?;
            cmd("gcc")
                .args(["-O2", "-o"])
                .arg(dir.join("dmop_calls"))
                .arg(ctx.root.join("tests/bench/dmop_calls.c"))
                .arg("-lxendevicemodel")
                .run_logged(&log, "compiling the caller")?;
            const N: u64 = 2000;
            for (op, func) in [
                ("set_isa_irq_level", "xendevicemodel_set_isa_irq_level"),
                ("inject_msi", "xendevicemodel_inject_msi"),
                (
                    "map_io_range",
                    "xendevicemodel_map_io_range_to_ioreq_server",
                ),
            ] {
                let mut per_call = [0f64; 2];
                for (i, ours) in [false, true].into_iter().enumerate() {
                    let file: PathBuf = dir.join(format!(
                        "callgrind.{op}.{}",
                        if ours { "ours" } else { "debian" }
                    ));
                    let mut c = cmd("valgrind")
                        .args(["--tool=callgrind", "--collect-atstart=no"])
                        .arg(format!("--toggle-collect={func}"))
                        .arg(format!("--callgrind-out-file={}", file.display()))
                        .arg(dir.join("dmop_calls"))
                        .args([op, &N.to_string()])
                        .env("LD_PRELOAD", dir.join("shim.so"));
                    if ours {
                        c = c.env("LD_LIBRARY_PATH", dir.join("ours"));
                    }
                    c.run_logged(&log, &format!("callgrind {op}"))?;
                    per_call[i] = callgrind_total(&file)? as f64 / N as f64;
                }
                out.push(Ratio {
                    what: format!("libxendevicemodel {op} (Debian's vs ours)"),
                    reference: per_call[0],
                    ours: per_call[1],
                    unit: "instructions per call, lower is better",
                    higher_is_better: false,
                    goal: 1.0,
                });
            }
            Ok(format!("{} ops measured", out.len()))
        },
    )?;
    Ok(out)
}

/// Boots the test bed once with the in-VM benchmark suites and reads their
/// `BENCH name reference ours` lines.
pub fn in_vm(
    ctx: &Ctx,
    release: crate::xen::Release,
    suites: &[&str],
) -> Result<Vec<(String, f64, f64)>> {
    let bed = crate::testbed::prepare_bench(ctx, release)?;
    let mut out = Vec::new();
    ctx.step(
        &format!(
            "bench: in the test bed, {} ({})",
            release.label(),
            suites.join(", ")
        ),
        || {
            let cfg = crate::testbed::config(
                &bed,
                suites,
                std::time::Duration::from_secs(900),
                &format!("vm-bench-{}.log", release.version()),
            );
            let run = crate::vm::run(ctx, &cfg)?;
            crate::vm::verdict(&run, &cfg.suites)?;
            for s in &run.suites {
                for l in &s.output {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    if let ["BENCH", name, r, o] = f[..] {
                        let (Ok(r), Ok(o)) = (r.parse::<f64>(), o.parse::<f64>()) else {
                            continue;
                        };
                        out.push((name.to_string(), r, o));
                    }
                }
            }
            if out.is_empty() {
                crate::bail!("no BENCH lines in {}", run.log.display());
            }
            Ok(format!("{} figures", out.len()))
        },
    )?;
    Ok(out)
}

/// `cargo xtask bench [--xen 4.17|4.20]`: the library's figures on the
/// host, the in-VM ones on `release`'s bed (Debian's QEMU of that release
/// as the reference).
pub fn run(ctx: &Ctx, release: crate::xen::Release) -> Result<()> {
    deps::all(ctx)?;
    let mut results = library(ctx)?;
    for (name, reference, ours) in in_vm(
        ctx,
        release,
        &["bench-privcmd", "bench-dm", "bench-eventfd", "bench-virtio"],
    )? {
        if let Some(what) = name.strip_prefix("virtio-") {
            // The goals: throughput at least QEMU's, 4 KiB IOPS 1.2 times,
            // CPU per request at most QEMU's; as shipped (ioeventfds), the
            // ioreq loop's figures for information.
            let (what, variant) = match what.strip_suffix("-no-ioeventfd") {
                Some(w) => (w, " --no-ioeventfd"),
                None => (what, ""),
            };
            let (label, unit, higher, goal) = match what {
                "seq-read-MBps" => (
                    "guest virtio-blk sequential read, 1 MiB O_DIRECT",
                    "MB/s",
                    true,
                    1.0,
                ),
                "seq-write-MBps" => (
                    "guest virtio-blk sequential write, 1 MiB O_DIRECT",
                    "MB/s",
                    true,
                    1.0,
                ),
                "rand-read-4k-iops" => (
                    "guest virtio-blk 4 KiB random reads, O_DIRECT",
                    "IOPS",
                    true,
                    1.2,
                ),
                _ => (
                    "device-model CPU time per 1000 guest requests",
                    "ms, lower is better",
                    false,
                    1.0,
                ),
            };
            results.push(Ratio {
                what: format!("{label} (QEMU vs xen-thin-dm{variant})"),
                reference,
                ours,
                unit,
                higher_is_better: higher,
                goal: if variant.is_empty() { goal } else { 0.0 },
            });
            continue;
        }
        if let Some(variant) = name.strip_prefix("pio-round-trips") {
            let polling_off = variant == "-no-polling";
            results.push(Ratio {
                what: format!(
                    "guest port I/O round trips (Debian QEMU vs xen-thin-dm{})",
                    if polling_off { " --poll-max-us 0" } else { "" }
                ),
                reference,
                ours,
                unit: "round trips/s, higher is better",
                higher_is_better: true,
                goal: if polling_off { 0.0 } else { 1.5 },
            });
            continue;
        }
        if name == "mmio-notify-round-trips" {
            results.push(Ratio {
                what: "guest virtio notifies (ioreq loop vs ioeventfd)".into(),
                reference,
                ours,
                unit: "round trips/s, higher is better",
                higher_is_better: true,
                goal: 2.0,
            });
            continue;
        }
        if name == "irq-injections" {
            results.push(Ratio {
                what: "backend interrupt injections (DM_OP ioctl vs irqfd)".into(),
                reference,
                ours,
                unit: "injections/s, higher is better",
                higher_is_better: true,
                goal: 2.0,
            });
            continue;
        }
        if let Some(op) = name.strip_prefix("overhead-") {
            results.push(Ratio {
                what: format!(
                    "privcmd {op}: time added above the bare hypercall (C driver vs ours)"
                ),
                reference,
                ours,
                unit: "ns per call, lower is better",
                higher_is_better: false,
                goal: 2.0,
            });
            continue;
        }
        let xen_bound = name.ends_with("xen-bound");
        results.push(Ratio {
            what: format!("privcmd {name} (C driver vs ours)"),
            reference,
            ours,
            unit: if xen_bound {
                "calls/s; Xen's own scan dominates"
            } else {
                "calls/s, higher is better"
            },
            higher_is_better: true,
            goal: if xen_bound { 0.0 } else { 1.25 },
        });
    }
    print(&results);
    Ok(())
}
