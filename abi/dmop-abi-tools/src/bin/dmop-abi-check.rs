// SPDX-License-Identifier: MIT
//! `dmop-abi-check`: compares installed Xen and Linux headers with the
//! frozen device-model ABI.
//!
//! Exit status: 0 compatible, 1 incompatible (one line per finding), 2 bad
//! input (a missing directory or header, headers that do not compile).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use dmop_abi_tools::headers::{self, CheckError, CheckOptions};
use dmop_abi_tools::manifest::{Arch, Manifest};

/// Compare installed Xen/Linux headers with the frozen device-model ABI.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Directory holding Xen's public headers (xen/hvm/dm_op.h, ...), e.g. /usr/include.
    #[arg(long, value_name = "DIR")]
    xen_include: PathBuf,
    /// Directory holding Linux's exported uapi headers (xen/privcmd.h, xen/evtchn.h).
    #[arg(long, value_name = "DIR")]
    kernel_include: Option<PathBuf>,
    /// Architecture to compile the headers for: a target triple (x86_64-linux-gnu,
    /// i386-linux-gnu, aarch64-linux-gnu, arm-linux-gnueabihf) or x86_64, x86_32, arm64, arm32.
    #[arg(long, value_name = "TRIPLE")]
    target: Option<String>,
    /// The C compiler that compiles the probes (clang; `cc` can only check the host).
    #[arg(long, value_name = "PATH")]
    cc: Option<PathBuf>,
    /// Print a JSON report instead of text.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if e.use_stderr() => {
            let msg = e.to_string();
            let first = msg.lines().next().unwrap_or("bad arguments");
            eprintln!("dmop-abi-check: {}", first.trim_start_matches("error: "));
            eprintln!("usage: dmop-abi-check --xen-include DIR [--kernel-include DIR] [--target TRIPLE] [--json]");
            return ExitCode::from(2);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    let arch = match &cli.target {
        None => Arch::host(),
        Some(t) => match Arch::parse(t) {
            Some(a) => a,
            None => {
                eprintln!("dmop-abi-check: --target {t}: not an architecture of the Xen device-model ABI (x86_64, i386, aarch64, arm)");
                return ExitCode::from(2);
            }
        },
    };
    let manifest = Manifest::frozen();
    let opts = CheckOptions {
        xen_include: cli.xen_include,
        kernel_include: cli.kernel_include,
        arch,
        cc: cli.cc.unwrap_or_else(headers::default_cc),
    };
    let report = match headers::check(&manifest, &opts) {
        Ok(r) => r,
        Err(e) => {
            let kind = match e {
                CheckError::BadInput(_) => "bad input",
                CheckError::Unparsable(_) => "unparsable headers",
                _ => "cannot check",
            };
            eprintln!("dmop-abi-check: {kind}: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.json {
        let doc = serde_json::json!({
            "compatible": report.compatible(),
            "report": report,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("serializable")
        );
    } else {
        for f in &report.findings {
            println!("INCOMPATIBLE {f}");
        }
        for n in &report.notes {
            println!("note: {n}");
        }
        for s in &report.skipped {
            println!("skipped: {s}");
        }
        println!(
            "{}: {} values compared against the frozen ABI version {} for {}: {} incompatibilities",
            if report.compatible() {
                "compatible"
            } else {
                "INCOMPATIBLE"
            },
            report.compared,
            report.abi_version,
            report.arch,
            report.findings.len()
        );
    }
    if report.compatible() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
