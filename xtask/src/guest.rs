// SPDX-License-Identifier: MIT
//! The test guests: freestanding 32-bit ELFs that Xen loads as HVM
//! firmware (`firmware_override`), built with the host's gcc.

use std::path::PathBuf;

use crate::ctx::{Ctx, Key, Result};
use crate::sh::cmd;

/// Builds `tests/guests` into `testguest.elf`.
pub fn testguest(ctx: &Ctx) -> Result<PathBuf> {
    let src = ctx.root.join("tests/guests");
    let key = Key::new("testguest").dir(&src)?.str(&cmd("gcc").arg("--version").read()?).finish();
    let dir = ctx.cache.join("guests").join(&key);
    let elf = dir.join("testguest.elf");
    ctx.step("guest: build the test guest (32-bit HVM firmware ELF)", || {
        let built = ctx.cached(&dir, &key, |_| {
            cmd("gcc")
                .args(["-m32", "-ffreestanding", "-fno-pic", "-fno-stack-protector", "-fno-asynchronous-unwind-tables"])
                .args(["-O2", "-Wall", "-Wextra", "-Werror", "-nostdlib", "-static", "-no-pie"])
                .args(["-Wl,-T,guest.ld", "-Wl,--build-id=none", "-Wl,--no-warn-rwx-segments", "-o"])
                .arg(&elf)
                .args(["start.S", "guest.c"])
                .dir(&src)
                .run_logged(&ctx.log("guest.log"), "compiling the test guest")
        })?;
        Ok(if built { "built".into() } else { "cached".into() })
    })?;
    Ok(elf)
}
