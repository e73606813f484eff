// SPDX-License-Identifier: MIT
//! `cargo xtask`: sets up, boots and tests the project.
//!
//! The two commands the README names are `cargo xtask demo` and
//! `cargo xtask test`; each installs and builds what it needs, caching
//! under `target/testbed` (or `$XDM_CACHE`), and prints the time per step.

mod ctx;
mod deps;
mod linux;
mod sh;

use std::process::ExitCode;

use ctx::{Ctx, Result};
use sh::cmd;

const USAGE: &str = "\
usage: cargo xtask <command>

  demo          boot Xen with the deprivileged device model and show it working
  test          run every test: host tests and the in-VM suites
  bench         run the benchmarks (prints ratios against the reference)

  deps          install the host packages and bindgen-cli
  abi-freeze    record the code's ABI in dmop-abi/abi/frozen.toml (--check: report only)
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
        "abi-freeze" => abi_freeze(&ctx, rest),
        "test" => test(&ctx, rest),
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

fn no_args(command: &str, rest: &[String]) -> Result<()> {
    if let Some(a) = rest.first() {
        bail!("{command}: unexpected argument `{a}`");
    }
    Ok(())
}

/// `cargo xtask abi-freeze [--check]`.
fn abi_freeze(ctx: &Ctx, rest: &[String]) -> Result<()> {
    let check = match rest {
        [] => false,
        [a] if a == "--check" => true,
        [a, ..] => bail!("abi-freeze: unexpected argument `{a}`"),
    };
    ctx.step("deps: Debian packages", || deps::apt(ctx, deps::APT_PACKAGES))?;
    ctx.step("abi: freeze", || {
        // Built apart, with the compile-time checks off, so that the tool can
        // read code those checks would reject, and reject it with a reason.
        let mut c = cmd("cargo")
            .args(["run", "-q", "-p", "dmop-abi", "--bin", "dmop-abi-freeze", "--"])
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

/// `cargo xtask test`.
fn test(ctx: &Ctx, rest: &[String]) -> Result<()> {
    no_args("test", rest)?;
    deps::all(ctx)?;
    let src = linux::source(ctx)?;
    let uapi = linux::uapi_headers(ctx, &src)?;
    ctx.step("host: clippy", || {
        cmd("cargo")
            .args(["clippy", "-q", "--workspace", "--all-targets", "--", "-D", "warnings"])
            .dir(&ctx.root)
            .run()?;
        Ok("clean".into())
    })?;
    ctx.step("host: cargo test (all, ignored included)", || {
        cmd("cargo")
            .args(["test", "-q", "--workspace", "--", "--include-ignored"])
            .env("DMOP_ABI_LINUX_HEADERS", &uapi)
            .dir(&ctx.root)
            .run()?;
        Ok("passed".into())
    })
}

/// `cargo xtask demo`.
fn demo(ctx: &Ctx, rest: &[String]) -> Result<()> {
    no_args("demo", rest)?;
    deps::all(ctx)?;
    ctx.step("demo: the frozen ABI against this machine's headers", || {
        cmd("cargo")
            .args(["run", "-q", "-p", "dmop-abi", "--bin", "dmop-abi-check", "--", "--xen-include", "/usr/include"])
            .dir(&ctx.root)
            .run()?;
        Ok("compatible".into())
    })?;
    println!("\nThe test bed (Xen under QEMU) is not there yet: the demo will boot it once it lands.");
    Ok(())
}
