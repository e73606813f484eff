// SPDX-License-Identifier: MIT
//! The test guests: freestanding 32-bit ELFs that Xen loads as HVM
//! firmware (`firmware_override`), built with the host's gcc: the test
//! guest, and the same source with `-DTG_BENCH` as the benchmark guest.

use std::path::PathBuf;

use crate::ctx::{Ctx, Key, Result};
use crate::sh::cmd;

/// The built guests.
pub struct Guests {
    /// `testguest.elf`: exercises a device model and reports SUCCESS or FAILURE.
    pub test: PathBuf,
    /// `benchguest.elf`: times port round trips.
    pub bench: PathBuf,
}

/// Builds `tests/guests` into `testguest.elf` and `benchguest.elf`.
pub fn build(ctx: &Ctx) -> Result<Guests> {
    let src = ctx.root.join("tests/guests");
    let key = Key::new("testguest").dir(&src)?.str(&cmd("gcc").arg("--version").read()?).finish();
    let dir = ctx.cache.join("guests").join(&key);
    let g = Guests { test: dir.join("testguest.elf"), bench: dir.join("benchguest.elf") };
    ctx.step("guest: build the test and benchmark guests (32-bit HVM firmware ELFs)", || {
        let built = ctx.cached(&dir, &key, |_| {
            for (elf, defs) in [(&g.test, &[][..]), (&g.bench, &["-DTG_BENCH"][..])] {
                cmd("gcc")
                    .args(["-m32", "-ffreestanding", "-fno-pic", "-fno-stack-protector", "-fno-asynchronous-unwind-tables"])
                    .args(["-O2", "-Wall", "-Wextra", "-Werror", "-nostdlib", "-static", "-no-pie"])
                    .args(["-Wl,-T,guest.ld", "-Wl,--build-id=none", "-Wl,--no-warn-rwx-segments"])
                    .args(defs)
                    .arg("-o")
                    .arg(elf)
                    .args(["start.S", "guest.c"])
                    .dir(&src)
                    .run_logged(&ctx.log("guest.log"), "compiling the test guests")?;
            }
            Ok(())
        })?;
        Ok(if built { "built".into() } else { "cached".into() })
    })?;
    Ok(g)
}
