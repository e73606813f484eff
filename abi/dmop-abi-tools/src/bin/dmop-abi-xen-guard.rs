// SPDX-License-Identifier: MIT
//! `dmop-abi-xen-guard`: writes the C header of the hypervisor's DMOP
//! freeze guard (`xen/include/xen/dmop-frozen.h` in a patched Xen) from the
//! frozen manifest. `--test-retire N` marks an active op retired, for a
//! test build of the dispatcher only. `--check FILE` compares a Xen tree's
//! header with the manifest's (for distributions carrying the patch):
//! exit 0 when equal, 1 when stale, 2 on an error.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use dmop_abi_tools::manifest::Manifest;

/// Write the hypervisor's DMOP freeze-guard header from the frozen manifest.
#[derive(Parser, Debug)]
#[command(about, long_about = None)]
struct Cli {
    /// Where to write it (default: standard output).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Mark this active DMOP retired (test builds only; repeatable).
    #[arg(long, value_name = "N")]
    test_retire: Vec<u32>,
    /// Write instead the C probe of the patched xs_wire.h (XS_ONE_TIME_RESTRICT).
    #[arg(long, conflicts_with = "test_retire")]
    xenstore_probe: bool,
    /// Compare FILE (a patched Xen's xen/include/xen/dmop-frozen.h) with
    /// the header the manifest gives; exit 1 if it differs.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["out", "xenstore_probe"])]
    check: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let made = if cli.xenstore_probe {
        Ok(dmop_abi_tools::xen_guard::xenstore_probe())
    } else {
        dmop_abi_tools::xen_guard::header(&Manifest::frozen(), &cli.test_retire)
    };
    let text = match made {
        Ok(t) => t,
        Err(e) => {
            eprintln!("dmop-abi-xen-guard: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(p) = cli.check {
        let have = match std::fs::read_to_string(&p) {
            Ok(h) => h,
            Err(e) => {
                eprintln!("dmop-abi-xen-guard: {}: {e}", p.display());
                return ExitCode::from(2);
            }
        };
        return match have.lines().zip(text.lines()).position(|(a, b)| a != b) {
            None if have.lines().count() == text.lines().count() => {
                println!("{}: the manifest's header", p.display());
                ExitCode::SUCCESS
            }
            at => {
                let n = at.unwrap_or_else(|| have.lines().count().min(text.lines().count()));
                println!(
                    "{}: STALE at line {}: has {:?}, the manifest gives {:?} (regenerate it with this tool and rebuild Xen)",
                    p.display(),
                    n + 1,
                    have.lines().nth(n).unwrap_or("(end of file)"),
                    text.lines().nth(n).unwrap_or("(end of file)")
                );
                ExitCode::from(1)
            }
        };
    }
    match cli.out {
        None => print!("{text}"),
        Some(p) => {
            if let Err(e) = std::fs::write(&p, text) {
                eprintln!("dmop-abi-xen-guard: {}: {e}", p.display());
                return ExitCode::from(2);
            }
        }
    }
    ExitCode::SUCCESS
}
