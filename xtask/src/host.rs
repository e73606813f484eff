// SPDX-License-Identifier: MIT
//! `cargo xtask test --host`: the in-VM suites run natively, on a machine
//! that is itself a Xen dom0 (with xenstored, xl and the project's kernel
//! pieces already in place), instead of in the QEMU test bed.

use crate::bail;
use crate::ctx::{Ctx, Result};
use crate::sh::cmd;
use crate::{guest, testbed};

/// The suites that run on a real host.
pub const HOST_SUITES: &[&str] = &["xen-smoke"];

/// Runs the suites natively; refuses unless this is a Xen control domain.
pub fn test(ctx: &Ctx) -> Result<()> {
    let caps = std::fs::read_to_string("/proc/xen/capabilities").unwrap_or_default();
    if caps.trim() != "control_d" {
        bail!(
            "--host needs a Xen dom0 (/proc/xen/capabilities says {:?}); without one, `cargo xtask test` boots the test bed",
            caps.trim()
        );
    }
    let guests = guest::build(ctx)?;
    testbed::host_programs(ctx)?;
    let bin = ctx.root.join("target/release");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for s in HOST_SUITES {
        ctx.step(&format!("host xen: {s}"), || {
            let ok = cmd(bin.join("xdm-suite"))
                .arg(s)
                .env("PATH", &path)
                .env("XDM_TEST_GUEST", &guests.test)
                .env("XDM_BENCH_GUEST", &guests.bench)
                .env("XDM_THIN_DM", bin.join("xen-thin-dm"))
                .env("XDM_FAKE_DM", ctx.root.join("tests/dom0/fake-dm"))
                .status()?;
            if !ok {
                bail!("suite {s} failed (its TAP output is above)");
            }
            Ok("passed".into())
        })?;
    }
    Ok(())
}
