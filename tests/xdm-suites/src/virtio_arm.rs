// SPDX-License-Identifier: MIT
//! The `virtio` suite on Arm: a Linux guest mounts its root from a virtio
//! disk that xl configures (`specification=virtio,backendtype=standalone`)
//! and a deprivileged xen-thin-dm serves on virtio-mmio.
//!
//! libxl on Arm starts no device model: it puts the disk in the guest's
//! device tree (virtio-mmio at 0x2000000, SPI 33) and waits for a backend.
//! `xen-thin-dm-backend` is that backend: it starts one xen-thin-dm per
//! disk, which maps the guest's RAM through privcmd-restrict (an
//! auto-translated dom0's foreign mappings), confines itself (with the
//! escape self-test) and only then lets libxl go on. The guest is dom0's
//! own kernel (virtio-mmio, virtio-blk, ext4 built in) with the same `init`
//! as the x86 guest, told by `xdm.arm` to check the disk and power off;
//! its console is Xen's (hvc0), which xenconsoled logs. A second boot of
//! the same disk must find the first boot's file.

use std::process::{Command, Stdio};
use std::time::Instant;

use crate::devicemodel::{check_confined_fsize, thin_dm_path, wait_for};
use crate::tap::Tap;
use crate::virtio::{escapes_refused, run_to_end, tail};
use crate::xl::{self, Guest};

const NAME: &str = "virtio-guest";
const PRISTINE: &str = crate::contract::LINUX_DISK_ARM64;
const DISK: &str = "/tmp/xdm-virtio-disk.img";
const BACKEND: &str = crate::contract::THIN_DM_BACKEND;
/// Where the backend puts each device model's log (its default).
const LOGS: &str = "/var/log/xen";
/// The disk's device id: libxl's for `xvda`.
const DEVID: u32 = 51712;
/// How long a boot may take (TCG, an Arm guest on Xen on Arm).
const BOOT_SECS: u64 = 300;

/// The xl configuration: dom0's kernel, the disk as a standalone virtio
/// device, the kernel told to mount it and to run the Arm checks.
fn config() -> String {
    xl::guest_config(
        NAME,
        "",
        &format!(
            "extra = \"console=hvc0 root=/dev/vda rw rootwait init=/init xdm.arm\"\n\
             disk = [ \"format=raw,vdev=xvda,access=rw,specification=virtio,backendtype=standalone,target={DISK}\" ]\n\
             on_poweroff = \"destroy\"\non_reboot = \"destroy\"\non_crash = \"destroy\"\n"
        ),
    )
}

/// The device model's pid, from the backend's log line about the disk of
/// domain `d`.
fn dm_pid(backend_log: &str, d: u16) -> Option<u32> {
    backend_log
        .lines()
        .filter(|l| l.contains(&format!("virtio_disk/{d}/{DEVID}: device model (pid ")))
        .find_map(|l| l.split("(pid ").nth(1)?.split(')').next()?.parse().ok())
}

/// One boot of the disk; the guest's console and the device model's log.
fn boot(t: &mut Tap, n: u32, size: u64) -> Option<(String, String)> {
    let console_log = format!("/var/log/xen/console/guest-{NAME}.log");
    let _ = std::fs::remove_file(&console_log);
    let start = Instant::now();
    // Paused: xl create returns once the backend said InitWait, which it
    // says only once the device model is confined and serving.
    let g = match Guest::create_from(NAME, &config(), true) {
        Ok(g) => g,
        Err(e) => {
            t.check(
                &format!("boot {n}: xl create of the Arm guest with a standalone virtio disk"),
                false,
                e,
            );
            t.note(backend_log());
            return None;
        }
    };
    let d = g.domid.0;
    t.check(
        &format!(
            "boot {n}: xl create of the Arm guest with a standalone virtio disk returned: its backend answered ({:.1} s)",
            start.elapsed().as_secs_f64()
        ),
        true,
        "",
    );
    let pid = dm_pid(&backend_log(), d);
    t.check(
        &format!("boot {n}: xen-thin-dm-backend started a device model for d{d}'s disk"),
        pid.is_some(),
        backend_log(),
    );
    if let (Some(pid), 1) = (pid, n) {
        check_confined_fsize(
            t,
            pid,
            xen_thin_dm::cli::UID_BASE + u32::from(d),
            Some(xen_thin_dm::depriv::EMPTY_ROOT),
            size,
        );
    }
    run_to_end(t, n, NAME, start, BOOT_SECS);
    drop(g);
    let log_path = format!("{LOGS}/xen-thin-dm-{d}-{DEVID}.log");
    // The device model is stopped when libxl closes the device.
    let _ = wait_for(10, || {
        std::fs::read_to_string(&log_path)
            .ok()
            .filter(|l| l.contains("ioreq server"))
            .filter(|l| l.contains("signal") || l.contains("error"))
    });
    let console = std::fs::read_to_string(&console_log).unwrap_or_default();
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    Some((console, log))
}

/// Starts `xen-thin-dm-backend` with device model `dm` and `extra`
/// options for it, logging to [`backend_log`]'s file.
fn spawn_backend(dm: &str, extra: &[&str]) -> std::io::Result<std::process::Child> {
    let f = std::fs::File::create(format!("{LOGS}/xen-thin-dm-backend.log"))?;
    let e = f.try_clone()?;
    Command::new(BACKEND)
        .args(["--dm", dm, "--"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(f)
        .stderr(e)
        .spawn()
}

fn backend_log() -> String {
    std::fs::read_to_string(format!("{LOGS}/xen-thin-dm-backend.log")).unwrap_or_default()
}

/// The suite, on Arm.
pub fn run() -> i32 {
    let mut t = Tap::new("virtio");
    let size = match std::fs::copy(PRISTINE, DISK) {
        Ok(s) => s,
        Err(e) => {
            t.check("a fresh copy of the Arm guest's root disk", false, e);
            return t.finish();
        }
    };
    // Another guest, for the escape self-test's rows about other guests.
    let other = Guest::create("virtio-other", &xl::fake_dm_path(), true, "");
    t.check(
        "another guest (paused), for the escape self-test",
        other.is_ok(),
        format_args!("{:?}", other.as_ref().err()),
    );
    let mut backend = match spawn_backend(&thin_dm_path(), &["--escape-test"]) {
        Ok(c) => c,
        Err(e) => {
            t.check("xen-thin-dm-backend started", false, e);
            return t.finish();
        }
    };
    // On the patched bed (the device model keeps xenstore through
    // XS_ONE_TIME_RESTRICT and says `running` as its guest), one boot: the
    // second boot and the refusals test what does not differ.
    let patched = other
        .as_ref()
        .is_ok_and(|o| crate::devicemodel::xenstored_restricts(o.domid));
    let boots: u32 = if patched { 1 } else { 2 };
    for n in 1..=boots {
        let Some((console, log)) = boot(&mut t, n, size) else {
            break;
        };
        let pass = t.check(
            &format!("boot {n}: Linux on Arm mounted its root from xen-thin-dm's virtio disk and its checks passed"),
            console.contains("XDM-GUEST: PASS") && console.contains("XDM-GUEST: exit 0"),
            "no PASS on the guest's console",
        );
        t.check(
            &format!("boot {n}: the guest counts this boot as number {n} of the disk"),
            console.contains(&format!("XDM-GUEST: boot {n} of this disk")),
            "",
        );
        if n == 2 {
            t.check(
                "boot 2: the first boot's file was there, byte for byte",
                console.contains("XDM-GUEST: the previous boot's file read back"),
                "",
            );
        }
        t.check(
            &format!("boot {n}: the device model mapped the guest's RAM and served the disk in libxl's slot (virtio-mmio at 0x2000000, GIC SPI 33)"),
            log.contains("guest RAM: ")
                && log.contains("on virtio-mmio at 0x2000000, GIC SPI 33"),
            "",
        );
        t.check(
            &format!("boot {n}: the device model deprivileged before serving"),
            log.contains("deprivileged:") && log.contains("serving"),
            "",
        );
        let refused = escapes_refused(&log);
        t.check(
            &format!("boot {n}: every escape attempt of the device model was refused (another guest's memory and DM_OPs, its disk re-opened, past its end)"),
            matches!(refused, Some((a, b)) if a == b && b > 0)
                && log.contains("re-open its disk by path")
                && log.contains("write past the end of its disk"),
            format_args!("{refused:?}"),
        );
        if !pass || n == boots {
            t.note("--- the guest's console");
            t.note(tail(&console, 40));
            t.note("--- the device model's log");
            t.note(&log);
        }
        if !pass {
            break;
        }
    }
    let blog = backend_log();
    t.check(
        "xen-thin-dm-backend stopped each device model when libxl closed its disk or its guest went",
        blog.lines()
            .filter(|l| {
                l.ends_with("closed by the toolstack; device model stopped")
                    || l.ends_with("the domain is gone; device model stopped")
            })
            .count()
            >= boots as usize,
        &blog,
    );
    let _ = backend.kill();
    let _ = backend.wait();
    if !patched {
        refusals(&mut t);
    }
    drop(other);
    t.check(
        "the disk image kept its size",
        std::fs::metadata(DISK).map(|m| m.len()).unwrap_or(0) == size,
        "",
    );
    let _ = std::fs::remove_file(DISK);
    t.finish()
}

/// What the backend refuses: options that would weaken its device models,
/// and a device model that dies or says `running` unconfined; either way
/// `xl create` fails, and the guest never runs.
fn refusals(t: &mut Tap) {
    let out = Command::new(BACKEND).args(["--", "--no-depriv"]).output();
    t.check(
        "xen-thin-dm-backend refuses to pass --no-depriv to its device models (exit 2, one line)",
        out.as_ref().is_ok_and(|o| {
            let e = String::from_utf8_lossy(&o.stderr);
            o.status.code() == Some(2) && e.contains("cannot be passed") && e.lines().count() == 1
        }),
        format_args!("{out:?}"),
    );
    // A "device model" that says running without confining itself.
    let liar = "/tmp/xdm-liar-dm";
    let script = "#!/bin/sh\n\
        while [ $# -gt 0 ]; do [ \"$1\" = --state-key ] && key=$2; shift; done\n\
        xenstore-write \"$key\" running\n\
        exec sleep 60\n";
    let made = std::fs::write(liar, script).and_then(|()| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(liar, std::fs::Permissions::from_mode(0o755))
    });
    t.check(
        "a device model that lies, for the next case",
        made.is_ok(),
        format_args!("{made:?}"),
    );
    for (dm, what, why) in [
        ("/bin/false", "exits at once", "exited"),
        (liar, "says running but is not confined", "is not confined"),
    ] {
        let mut backend = match spawn_backend(dm, &[]) {
            Ok(b) => b,
            Err(e) => {
                t.check("xen-thin-dm-backend started", false, e);
                return;
            }
        };
        let start = Instant::now();
        let created = Guest::create_from(NAME, &config(), true);
        let took = start.elapsed().as_secs_f64();
        let log = backend_log();
        t.check(
            &format!(
                "a device model that {what}: xl create fails, the guest never runs ({took:.0} s)"
            ),
            created.is_err() && xl::list_state(NAME).is_none(),
            format_args!("{:?}", created.as_ref().map(|g| g.domid)),
        );
        t.check(
            &format!("... and the backend says why (\"{why}\")"),
            log.contains(why),
            &log,
        );
        drop(created);
        let _ = backend.kill();
        let _ = backend.wait();
    }
}
