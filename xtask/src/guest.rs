// SPDX-License-Identifier: MIT
//! The test guests: freestanding 32-bit ELFs that Xen loads as HVM
//! firmware (`firmware_override`), built with the host's gcc: the test
//! guest, and the same source with `-DTG_BENCH` as the benchmark guest.
//! Xen's numbers and layouts come from its public headers (libxen-dev),
//! `XS_ONE_TIME_RESTRICT` from dmop-abi, the test platform's addresses from
//! xen-thin-dm's `testplatform` module (written out as `testguest.h`).

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
    // The project's xenstore type, from dmop-abi; the rest from Xen's headers (libxen-dev).
    let otr = format!(
        "-DXDM_XS_ONE_TIME_RESTRICT={}",
        dmop_abi::xs_wire::XS_ONE_TIME_RESTRICT
    );
    // The platform's one definition is the device model's.
    let header = xen_thin_dm::testplatform::c_header();
    let key = Key::new("testguest")
        .dir(&src)?
        .str(&header)
        .str(&cmd("gcc").arg("--version").read()?)
        .str(&otr)
        .str(&crate::deps::version("libxen-dev")?)
        .finish();
    let dir = ctx.cache.join("guests").join(&key);
    let g = Guests {
        test: dir.join("testguest.elf"),
        bench: dir.join("benchguest.elf"),
    };
    ctx.step(
        "guest: build the test and benchmark guests (32-bit HVM firmware ELFs)",
        || {
            let built = ctx.cached(&dir, &key, |_| {
                let include = ctx.cache.join("guests/include");
                std::fs::create_dir_all(&include)?;
                std::fs::write(include.join("testguest.h"), &header)?;
                for (elf, defs) in [(&g.test, &[][..]), (&g.bench, &["-DTG_BENCH"][..])] {
                    cmd("gcc")
                        .args([
                            "-m32",
                            "-ffreestanding",
                            "-fno-pic",
                            "-fno-stack-protector",
                            "-fno-asynchronous-unwind-tables",
                        ])
                        .args([
                            "-O2",
                            "-Wall",
                            "-Wextra",
                            "-Werror",
                            "-nostdlib",
                            "-static",
                            "-no-pie",
                        ])
                        .args([
                            "-Wl,-T,guest.ld",
                            "-Wl,--build-id=none",
                            "-Wl,--no-warn-rwx-segments",
                        ])
                        .args(defs)
                        .arg(&otr)
                        .arg("-I")
                        .arg(&include)
                        .arg("-o")
                        .arg(elf)
                        .args(["start.S", "guest.c"])
                        .dir(&src)
                        .run_logged(&ctx.log("guest.log"), "compiling the test guests")?;
                }
                Ok(())
            })?;
            Ok(if built {
                "built".into()
            } else {
                "cached".into()
            })
        },
    )?;
    Ok(g)
}
